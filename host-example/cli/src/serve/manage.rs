//! `ghl-rankr connections list|pause|resume|remove`: the connections of
//! the file and of installs, alike, beside a running service or without
//! one.
//!
//! Beside a running service (it holds the database's lock), a command is
//! left in the `control` table, which the service takes within a second;
//! the CLI waits for it to be taken. Without one, it is applied to the
//! database directly. Either way it is in the audit log, by `cli`.

use super::audit::{Action, Entry, Verdict};
use super::config::ServeConfig;
use super::db::{Db, DbError, InstallState};
use super::view::{iso, state as words};
use ghl_rankr_host::clock::{Clock, SystemClock};
use serde_json::{json, Value};
use std::fmt::Write as _;
use std::time::{Duration, Instant};

/// How long a command waits for the running service to take it.
const TAKEN_WITHIN: Duration = Duration::from_secs(10);

/// What `connections` is asked to do to one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Pause,
    Resume,
    Remove,
}

impl Change {
    fn as_str(self) -> &'static str {
        match self {
            Change::Pause => "pause",
            Change::Resume => "resume",
            Change::Remove => "remove",
        }
    }

    fn action(self) -> Action {
        match self {
            Change::Pause => Action::Pause,
            Change::Resume => Action::Resume,
            Change::Remove => Action::Remove,
        }
    }
}

/// Why a `connections` command did nothing.
#[derive(Debug)]
pub enum ManageError {
    Db(DbError),
    /// No connection of that name, in the file or among installs.
    Unknown(String),
    /// A connection of the file is removed by editing the file.
    InFile(String),
    /// A stopped install cannot be paused or resumed.
    Stopped(String),
    /// The running service did not take the command in time.
    NotTaken(String),
}

impl std::fmt::Display for ManageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ManageError::Db(e) => e.fmt(f),
            ManageError::Unknown(n) => write!(f, "no connection named {n:?}; `ghl-rankr connections list` shows them"),
            ManageError::InFile(n) => write!(
                f,
                "{n} is a [[connection]] of connections.toml: delete its block and restart the service to remove it"
            ),
            ManageError::Stopped(n) => write!(f, "{n} is stopped (uninstalled or removed): nothing runs for it"),
            ManageError::NotTaken(n) => write!(
                f,
                "the running service has not taken the command for {n} within {} s; it is left for it: see `ghl-rankr audit`",
                TAKEN_WITHIN.as_secs()
            ),
        }
    }
}

impl std::error::Error for ManageError {}

impl From<DbError> for ManageError {
    fn from(e: DbError) -> Self {
        ManageError::Db(e)
    }
}

/// `connections list`: every connection, the file's and the installs',
/// and the agencies.
pub fn list(config: &ServeConfig, as_json: bool) -> Result<String, ManageError> {
    let db = Db::open_read_only(&config.database)?;
    let overview = db.overview()?;
    let installs = db.all_installs()?;
    let agencies = db.agencies()?;
    let mut rows: Vec<Value> = Vec::new();
    for c in &config.connections {
        let o = overview.iter().find(|o| o.name == c.name);
        rows.push(json!({
            "name": c.name,
            "location": c.location,
            "origin": "file",
            "company": null,
            "state": words(o).class,
            "detail": words(o).text,
            "last_run_at": iso(o.and_then(|o| o.last_run.as_ref()).and_then(|r| r.ended_ms.or(r.started_ms))),
        }));
    }
    for i in &installs {
        let o = overview.iter().find(|o| o.name == i.name);
        let (state, detail) = match i.state {
            InstallState::Active => (words(o).class.to_string(), words(o).text),
            other => (other.as_str().to_string(), i.note.clone().unwrap_or_default()),
        };
        rows.push(json!({
            "name": i.name,
            "location": i.location_id,
            "origin": "install",
            "company": i.company_id,
            "location_name": i.location_name,
            "state": state,
            "detail": detail,
            "installed_at": iso(Some(i.installed_ms)),
            "last_run_at": iso(o.and_then(|o| o.last_run.as_ref()).and_then(|r| r.ended_ms.or(r.started_ms))),
        }));
    }
    if as_json {
        let agencies: Vec<Value> = agencies
            .iter()
            .map(|(company, state, note)| json!({"company": company, "state": state, "note": note}))
            .collect();
        return Ok(
            serde_json::to_string_pretty(&json!({"connections": rows, "agencies": agencies})).unwrap_or_default()
                + "\n",
        );
    }
    let mut out = String::new();
    if rows.is_empty() {
        out.push_str("no connections: add a [[connection]] to connections.toml, or connect an agency at /install\n");
    }
    for r in &rows {
        let text = |k: &str| r[k].as_str().unwrap_or("").to_string();
        let origin = match r["company"].as_str() {
            Some(c) => format!("install, agency {c}"),
            None => text("origin"),
        };
        let _ = writeln!(
            out,
            "{} ({}) · location {} · {}{}",
            text("name"),
            origin,
            text("location"),
            text("state"),
            Some(text("detail"))
                .filter(|d| !d.is_empty() && *d != text("state"))
                .map(|d| format!(": {d}"))
                .unwrap_or_default()
        );
    }
    for (company, state, note) in &agencies {
        let _ = writeln!(
            out,
            "agency {company}: {state}{}",
            note.as_deref().map(|n| format!(" ({n})")).unwrap_or_default()
        );
    }
    Ok(out)
}

/// `connections pause|resume|remove NAME`: what was done, in words.
pub fn change(config: &ServeConfig, name: &str, change: Change) -> Result<String, ManageError> {
    let probe = Db::open_read_only(&config.database)?;
    let install = probe.install_named(name)?;
    let in_file = config.connection(name).is_some();
    match (&install, in_file, change) {
        (None, false, _) => return Err(ManageError::Unknown(name.into())),
        (None, true, Change::Remove) => return Err(ManageError::InFile(name.into())),
        (Some(i), false, Change::Pause | Change::Resume)
            if matches!(i.state, InstallState::Stopped | InstallState::Removed) =>
        {
            return Err(ManageError::Stopped(name.into()))
        }
        _ => {}
    }
    drop(probe);
    let db = Db::open_beside(&config.database)?;
    let clock = SystemClock::default();
    if Db::in_use(&config.database) {
        let id = db.push_control(name, change.as_str(), "cli", clock.now_ms())?;
        let started = Instant::now();
        while started.elapsed() < TAKEN_WITHIN {
            if !db.control_pending(id)? {
                return Ok(format!("{name}: {} done by the running service", change.as_str()));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        return Err(ManageError::NotTaken(name.into()));
    }
    let now = clock.now_ms();
    let done = match change {
        Change::Pause | Change::Resume => {
            let mut health = db.health(name)?;
            match change {
                Change::Pause => health.paused = Some("paused by cli".into()),
                _ => {
                    health.resume();
                }
            }
            db.put_health(name, &health)?;
            true
        }
        Change::Remove => db.remove_install(name, "removed by cli", now)?,
    };
    db.record(
        &Entry::new(
            now,
            "cli",
            change.action(),
            if done { Verdict::Ok } else { Verdict::Failed },
        )
        .on(name)
        .saying("from `ghl-rankr connections`, with no service running"),
    )?;
    Ok(format!(
        "{name}: {} done (no service is running; it takes effect at its start){}",
        change.as_str(),
        if change == Change::Remove {
            "; its history is kept and its tokens are deleted"
        } else {
            ""
        }
    ))
}
