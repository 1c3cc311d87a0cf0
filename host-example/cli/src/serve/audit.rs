//! The audit log's vocabulary: who did what, from where, and how it went.
//! A row per operator action, install, uninstall, key rotation and refused
//! credential; kept like the run history. No secret is ever in a row: an
//! actor is a token's name, never its value.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::sync::Mutex;

/// What was done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// An event queued a run.
    Event,
    Pause,
    Resume,
    /// A connection check was asked for.
    Check,
    /// A connection was removed.
    Remove,
    /// A credential was missing, wrong, or of too little role.
    RefusedCredential,
    /// The database's secrets were sealed under a key for the first time.
    Sealed,
    KeyRotated,
    Install,
    Uninstall,
}

impl Action {
    pub const ALL: [Action; 10] = [
        Action::Event,
        Action::Pause,
        Action::Resume,
        Action::Check,
        Action::Remove,
        Action::RefusedCredential,
        Action::Sealed,
        Action::KeyRotated,
        Action::Install,
        Action::Uninstall,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Event => "event",
            Action::Pause => "pause",
            Action::Resume => "resume",
            Action::Check => "check",
            Action::Remove => "remove",
            Action::RefusedCredential => "refused-credential",
            Action::Sealed => "sealed",
            Action::KeyRotated => "key-rotated",
            Action::Install => "install",
            Action::Uninstall => "uninstall",
        }
    }

    pub fn parse(name: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.as_str() == name)
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How it went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Ok,
    Refused,
    Failed,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Refused => "refused",
            Verdict::Failed => "failed",
        }
    }

    pub fn parse(name: &str) -> Option<Verdict> {
        [Verdict::Ok, Verdict::Refused, Verdict::Failed]
            .into_iter()
            .find(|v| v.as_str() == name)
    }
}

/// One row of the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub id: i64,
    pub at_ms: u64,
    /// A token's name, `anonymous`, `webhook`, or `cli`.
    pub actor: String,
    /// The client's address, for HTTP.
    pub address: Option<String>,
    pub action: Action,
    /// What it was done to: a connection, a route.
    pub target: Option<String>,
    pub verdict: Verdict,
    pub detail: Option<String>,
}

impl Entry {
    /// A new row (its id comes from the database).
    pub fn new(at_ms: u64, actor: impl Into<String>, action: Action, verdict: Verdict) -> Entry {
        Entry {
            id: 0,
            at_ms,
            actor: actor.into(),
            address: None,
            action,
            target: None,
            verdict,
            detail: None,
        }
    }

    pub fn from_address(mut self, address: Option<String>) -> Entry {
        self.address = address;
        self
    }

    pub fn on(mut self, target: impl Into<String>) -> Entry {
        self.target = Some(target.into());
        self
    }

    pub fn saying(mut self, detail: impl Into<String>) -> Entry {
        self.detail = Some(detail.into());
        self
    }
}

/// Rows per address per minute.
const PER_MINUTE: u32 = 20;
const MINUTE_MS: u64 = 60_000;

/// Refused credentials are recorded at most a few a minute from one
/// address: a client that keeps knocking cannot fill the database.
#[derive(Debug, Default)]
pub struct RefusalBudget {
    by_address: Mutex<HashMap<Option<IpAddr>, (u64, u32)>>,
}

impl RefusalBudget {
    /// Whether a refusal from `address` at `now_ms` is recorded.
    pub fn admit(&self, address: Option<IpAddr>, now_ms: u64) -> bool {
        let mut map = self.by_address.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > 10_000 {
            map.retain(|_, (start, _)| now_ms.saturating_sub(*start) < MINUTE_MS);
        }
        let (start, count) = map.entry(address).or_insert((now_ms, 0));
        if now_ms.saturating_sub(*start) >= MINUTE_MS {
            *start = now_ms;
            *count = 0;
        }
        *count += 1;
        *count <= PER_MINUTE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_address_gets_twenty_rows_a_minute() {
        let c = RefusalBudget::default();
        let a = Some(IpAddr::from([10, 0, 0, 1]));
        let recorded = (0..50).filter(|i| c.admit(a, 1_000 + i)).count();
        assert_eq!(recorded, 20);
        assert!(
            c.admit(Some(IpAddr::from([10, 0, 0, 2])), 1_100),
            "another address has its own share"
        );
        assert!(c.admit(a, 1_000 + MINUTE_MS), "a new minute, a new share");
    }
}
