//! What an operation returns: a report on success, a typed error otherwise.
//! These mirror the WIT `types` interface one to one.

use crate::io::Method;
use crate::secret::OAuthTokens;
use std::fmt;

/// Which side of the connector something concerns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Ghl,
    Rankr,
}

impl Service {
    /// The name in logs and in the WIT: `ghl`, `rankr`.
    pub fn name(self) -> &'static str {
        match self {
            Service::Ghl => "ghl",
            Service::Rankr => "rankr",
        }
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Service::Ghl => "GHL",
            Service::Rankr => "Rankr",
        })
    }
}

/// One item that could not be synced; the others still were.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemError {
    pub item: String,
    pub service: Service,
    pub message: String,
}

/// A write made or, on a dry run, planned.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedWrite {
    pub method: Method,
    pub path: String,
    pub items: u32,
    /// The JSON body, kept on dry runs only.
    pub body: String,
}

/// What an operation did.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SyncReport {
    pub fetched: u32,
    pub created: u32,
    pub updated: u32,
    pub unchanged: u32,
    pub archived: u32,
    pub rejected: u32,
    pub errors: Vec<ItemError>,
    pub post_tags_applied: Option<u32>,
    pub requests: u32,
    pub retries: u32,
    pub dry_run: bool,
    pub writes: Vec<PlannedWrite>,
    /// Items not written because the state shows Rankr holds them already.
    pub skipped: u32,
    /// Set when the operation stopped early with a checkpoint in `state`.
    pub incomplete: Option<Incomplete>,
    /// The new state blob.
    pub state: Vec<u8>,
    /// The pair in force when a refresh rotated it.
    pub rotated_tokens: Option<OAuthTokens>,
    /// The tags changed in Rankr, by GHL id.
    pub changed_tags: TagChanges,
}

/// Ids listed in [`TagChanges`], all kinds together; the rest are counted.
pub const MAX_CHANGES_LISTED: usize = 1000;

/// How a tag changed in Rankr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Created,
    Updated,
    Archived,
}

/// The tags a call changed, by GHL id, at most [`MAX_CHANGES_LISTED`]
/// listed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TagChanges {
    pub created: Vec<String>,
    pub updated: Vec<String>,
    pub archived: Vec<String>,
    /// Changes beyond the cap.
    pub more: u32,
    /// Noted but not yet in the lists: the ids one after another in one
    /// buffer, with their kind and length. The first changes come from the
    /// first pages and live to the end of the call; a thousand small
    /// allocations among the large buffers of a long sync fragment the
    /// guest heap (BENCHMARKS.md), one buffer does not.
    noted: String,
    kinds: Vec<(Change, u32)>,
}

impl TagChanges {
    /// Records one change: listed while there is room, counted after.
    pub fn note(&mut self, change: Change, ghl_id: &str) {
        if self.kinds.len() + self.created.len() + self.updated.len() + self.archived.len() >= MAX_CHANGES_LISTED {
            self.more = self.more.saturating_add(1);
            return;
        }
        self.noted.push_str(ghl_id);
        self.kinds.push((change, ghl_id.len() as u32));
    }

    /// Moves what was noted into the lists (done once, as the call ends).
    pub fn settle(&mut self) {
        let mut at = 0usize;
        for (change, len) in std::mem::take(&mut self.kinds) {
            let end = at + len as usize;
            let id = self.noted.get(at..end).unwrap_or_default().to_string();
            at = end;
            match change {
                Change::Created => self.created.push(id),
                Change::Updated => self.updated.push(id),
                Change::Archived => self.archived.push(id),
            }
        }
        self.noted = String::new();
    }
}

/// Why an operation stopped early.
#[derive(Debug, Clone, PartialEq)]
pub enum StopReason {
    Deadline,
    RateLimited(RateLimit),
}

/// An operation that stopped early and can be resumed from its state.
#[derive(Debug, Clone, PartialEq)]
pub struct Incomplete {
    pub reason: StopReason,
    pub resume_after_ms: Option<u64>,
}

/// A failed operation, with what the host must keep.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncFailure {
    pub error: SyncError,
    /// Exactly what was written before the failure (none when the state
    /// was never read).
    pub state: Option<Vec<u8>>,
    /// Boxed: failures travel in `Result`s and should stay small.
    pub rotated_tokens: Option<Box<OAuthTokens>>,
}

impl From<SyncError> for SyncFailure {
    fn from(error: SyncError) -> Self {
        SyncFailure {
            error,
            state: None,
            rotated_tokens: None,
        }
    }
}

impl fmt::Display for SyncFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.error.fmt(f)
    }
}

/// A rate limit that outlasted the retry policy, or a spent daily budget.
#[derive(Debug, Clone, PartialEq)]
pub struct RateLimit {
    pub service: Service,
    pub endpoint: String,
    /// When the server says to come back, in milliseconds from now.
    pub retry_after_ms: Option<u64>,
    pub message: String,
}

impl SyncReport {
    /// Records an item refused locally or by a server.
    pub fn reject(&mut self, item: impl Into<String>, service: Service, message: impl Into<String>) {
        self.rejected += 1;
        self.errors.push(ItemError {
            item: item.into(),
            service,
            message: message.into(),
        });
    }
}

/// An error answer from a server.
#[derive(Debug, Clone, PartialEq)]
pub struct UpstreamError {
    pub service: Service,
    pub endpoint: String,
    pub status: u16,
    pub message: String,
}

/// Why an operation failed as a whole.
#[derive(Debug, Clone, PartialEq)]
pub enum SyncError {
    InvalidConfig(String),
    MissingScope {
        operation: String,
        scope: String,
        granted: Vec<String>,
    },
    ReauthorizationRequired(UpstreamError),
    CredentialStore(String),
    DeadlineExceeded(String),
    Unauthorized(UpstreamError),
    Forbidden(UpstreamError),
    RateLimited(RateLimit),
    Upstream(UpstreamError),
    InvalidResponse {
        service: Service,
        endpoint: String,
        field: String,
        message: String,
    },
    Transport {
        service: Service,
        endpoint: String,
        message: String,
    },
}

impl fmt::Display for SyncError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SyncError::InvalidConfig(m) => write!(f, "invalid configuration: {m}"),
            SyncError::MissingScope {
                operation,
                scope,
                granted,
            } => write!(
                f,
                "{operation} needs the GHL scope `{scope}`, which the credential was not granted (granted: {}); add it to the app and authorize again",
                if granted.is_empty() { "none".to_string() } else { granted.join(" ") }
            ),
            SyncError::ReauthorizationRequired(e) => write!(
                f,
                "GHL refused the token refresh ({}): {}; the connection must be authorized again",
                e.status, e.message
            ),
            SyncError::CredentialStore(m) => write!(
                f,
                "the host could not store the rotated GHL tokens: {m}; the new pair is in the failure, keep it (the old refresh token is spent)"
            ),
            SyncError::DeadlineExceeded(m) => write!(f, "the deadline ran out: {m}"),
            SyncError::Unauthorized(e) => write!(
                f,
                "{} refused the credential (401) at {}: {}; check the token or key",
                e.service, e.endpoint, e.message
            ),
            SyncError::Forbidden(e) => write!(
                f,
                "{} forbade {} (403): {}; check the credential's scopes and location",
                e.service, e.endpoint, e.message
            ),
            SyncError::RateLimited(r) => r.fmt(f),
            SyncError::Upstream(e) => {
                write!(
                    f,
                    "{} answered {} at {}: {}",
                    e.service, e.status, e.endpoint, e.message
                )
            }
            SyncError::InvalidResponse {
                service,
                endpoint,
                field,
                message,
            } => write!(
                f,
                "{service} sent an unexpected answer at {endpoint}, field `{field}`: {message}"
            ),
            SyncError::Transport {
                service,
                endpoint,
                message,
            } => write!(f, "no answer from {service} at {endpoint}: {message}"),
        }
    }
}

impl std::error::Error for SyncError {}

impl fmt::Display for RateLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} rate-limited {}: {}", self.service, self.endpoint, self.message)?;
        if let Some(ms) = self.retry_after_ms {
            write!(f, " (retry after {} s)", ms.div_ceil(1000))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod change_tests {
    use super::*;

    #[test]
    fn changes_are_listed_in_order_up_to_the_cap_then_counted() {
        let mut c = TagChanges::default();
        c.note(Change::Created, "a");
        c.note(Change::Updated, "bé");
        c.note(Change::Archived, "c");
        c.note(Change::Created, "d");
        for i in 0..MAX_CHANGES_LISTED {
            c.note(Change::Updated, &format!("u{i}"));
        }
        c.settle();
        assert_eq!(c.created, ["a", "d"]);
        assert_eq!(c.updated.len(), MAX_CHANGES_LISTED - 3);
        assert_eq!(&c.updated[..2], ["bé", "u0"]);
        assert_eq!(c.archived, ["c"]);
        assert_eq!(c.more, 4);
        // Settling again changes nothing; noting after settling still counts.
        let before = c.clone();
        c.settle();
        assert_eq!(c, before);
        c.note(Change::Created, "late");
        assert_eq!(c.more, 5);
    }
}
