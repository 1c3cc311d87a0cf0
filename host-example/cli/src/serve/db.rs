//! The service's SQLite file: each (connection, operation)'s state, each
//! connection's OAuth pair, the trigger's queue of posts, run history,
//! events seen, connection health and next runs.
//!
//! Invariants:
//! - One file, mode 0600 (SQLite gives its `-wal` and `-shm` files the same
//!   mode).
//! - A run's outcome, its new state and its queue changes commit in one
//!   transaction ([`Db::finish`]): a poll's state never moves past posts
//!   that are not queued, and a post leaves the queue only with the
//!   `tag-sync` that applied it.
//! - A file that is not this program's database (damaged, foreign, or from
//!   a newer version) is refused before anything is written to it.
//! - One service per file: a lock on `<file>.lock`, held until the process
//!   ends (a crash releases it).

use super::model::{Op, Outcome, Trigger};
use crate::credentials::Tokens;
use crate::secret::Secret;
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};
use serde_json::Value;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

/// `PRAGMA application_id`: "GHLR".
const APPLICATION_ID: i64 = 0x4748_4c52;

/// Migration `n` (1-based) brings the schema from version `n - 1` to `n`;
/// `PRAGMA user_version` records the version reached. Released migrations
/// are never edited, only appended.
const MIGRATIONS: &[&str] = &[r#"
CREATE TABLE state (
    connection TEXT NOT NULL,
    slot TEXT NOT NULL,
    blob BLOB NOT NULL,
    updated_ms INTEGER NOT NULL,
    PRIMARY KEY (connection, slot)
);
CREATE TABLE tokens (
    connection TEXT PRIMARY KEY,
    access_token TEXT NOT NULL,
    refresh_token TEXT NOT NULL,
    expires_at_ms INTEGER,
    scopes TEXT NOT NULL,
    seed TEXT NOT NULL,
    updated_ms INTEGER NOT NULL
);
CREATE TABLE queue (
    connection TEXT NOT NULL,
    post_id TEXT NOT NULL,
    tag_ids TEXT NOT NULL,
    created_at TEXT NOT NULL,
    queued_ms INTEGER NOT NULL,
    PRIMARY KEY (connection, post_id)
);
CREATE TABLE runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    connection TEXT NOT NULL,
    operation TEXT NOT NULL,
    trigger TEXT NOT NULL,
    input TEXT,
    queued_ms INTEGER NOT NULL,
    started_ms INTEGER,
    ended_ms INTEGER,
    outcome TEXT NOT NULL,
    counters TEXT,
    error TEXT
);
CREATE INDEX runs_by_connection ON runs (connection, id);
CREATE INDEX runs_by_outcome ON runs (outcome, connection, id);
CREATE TABLE events (
    connection TEXT NOT NULL,
    event_id TEXT NOT NULL,
    received_ms INTEGER NOT NULL,
    run_id INTEGER NOT NULL,
    PRIMARY KEY (connection, event_id)
);
CREATE TABLE health (
    connection TEXT PRIMARY KEY,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    first_failure_ms INTEGER,
    last_error TEXT,
    last_failed_operation TEXT,
    alerted INTEGER NOT NULL DEFAULT 0,
    paused TEXT,
    last_success_ms INTEGER,
    retry_at_ms INTEGER
);
CREATE TABLE schedule (
    connection TEXT NOT NULL,
    operation TEXT NOT NULL,
    next_ms INTEGER NOT NULL,
    PRIMARY KEY (connection, operation)
);
"#];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Why the database cannot be used. Nothing was written to it.
#[derive(Debug)]
pub enum DbError {
    /// Another `serve` holds the file.
    Locked(PathBuf),
    /// Not a database of this program, or damaged.
    NotOurs {
        path: PathBuf,
        why: String,
    },
    /// Written by a newer version.
    TooNew {
        path: PathBuf,
        version: i64,
    },
    Io(String),
    Sql(rusqlite::Error),
}

impl std::fmt::Display for DbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DbError::Locked(p) => write!(
                f,
                "another `ghl-rankr serve` is using {} (it holds {}.lock); stop it first, or give this one its own database",
                p.display(),
                p.display()
            ),
            DbError::NotOurs { path, why } => write!(
                f,
                "{} is not a usable ghl-rankr database ({why}); it was left as it is: restore a backup, or move it away to start afresh",
                path.display()
            ),
            DbError::TooNew { path, version } => write!(
                f,
                "{} was written by a newer ghl-rankr (schema {version}; this one knows up to {SCHEMA_VERSION}); it was left as it is: run the newer version",
                path.display()
            ),
            DbError::Io(m) => f.write_str(m),
            DbError::Sql(e) => write!(f, "database: {e}"),
        }
    }
}

impl std::error::Error for DbError {}

impl From<rusqlite::Error> for DbError {
    fn from(e: rusqlite::Error) -> Self {
        DbError::Sql(e)
    }
}

pub type DbResult<T> = Result<T, DbError>;

/// A post the trigger found, waiting for its `tag-sync`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedPost {
    pub post_id: String,
    pub tag_ids: Vec<String>,
    /// As GHL wrote it.
    pub created_at: String,
}

/// One row of run history.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRow {
    pub id: i64,
    pub connection: String,
    pub operation: String,
    pub trigger: String,
    pub input: Option<Value>,
    pub queued_ms: u64,
    pub started_ms: Option<u64>,
    pub ended_ms: Option<u64>,
    pub outcome: String,
    pub counters: Option<Value>,
    pub error: Option<String>,
}

impl RunRow {
    pub fn to_json(&self) -> Value {
        serde_json::json!({
            "id": self.id,
            "connection": self.connection,
            "operation": self.operation,
            "trigger": self.trigger,
            "input": self.input,
            "queued_at": iso(Some(self.queued_ms)),
            "started_at": iso(self.started_ms),
            "ended_at": iso(self.ended_ms),
            "outcome": self.outcome,
            "counters": self.counters,
            "error": self.error,
        })
    }
}

/// A connection's health, as the scheduler and the alerts keep it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Health {
    pub consecutive_failures: u32,
    pub first_failure_ms: Option<u64>,
    pub last_error: Option<String>,
    pub last_failed_operation: Option<String>,
    /// An alert was sent for the current incident.
    pub alerted: bool,
    /// Why the connection is paused (it runs nothing until resumed).
    pub paused: Option<String>,
    pub last_success_ms: Option<u64>,
    /// After a failure: nothing runs before then (the backoff).
    pub retry_at_ms: Option<u64>,
}

/// How a run ended, and what commits with it.
pub struct Finish<'a> {
    pub run_id: i64,
    pub outcome: Outcome,
    pub ended_ms: u64,
    pub counters: Option<Value>,
    pub error: Option<String>,
    /// The operation's new state blob (slot, blob).
    pub state: Option<(&'a str, &'a [u8])>,
    /// Posts the trigger found.
    pub enqueue: &'a [QueuedPost],
    /// The post this run applied.
    pub dequeue: Option<&'a str>,
}

pub struct Db {
    conn: Mutex<Connection>,
    path: PathBuf,
    /// Held for the life of the service.
    _lock: Option<File>,
}

impl Db {
    /// Opens (or creates) the service's database: locked for this process,
    /// checked, migrated.
    pub fn open(path: &Path) -> DbResult<Db> {
        let lock = lock(path)?;
        create_private(path)?;
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| not_ours(path, e))?;
        check(&conn, path)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        // WAL: `status` and the HTTP handlers read while a run commits.
        // FULL: a rotated refresh token survives a power cut, not only a crash.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        migrate(&conn)?;
        Ok(Db {
            conn: Mutex::new(conn),
            path: path.to_path_buf(),
            _lock: Some(lock),
        })
    }

    /// Opens for reading only (`ghl-rankr status`), beside a running service.
    pub fn open_read_only(path: &Path) -> DbResult<Db> {
        if !path.exists() {
            return Err(DbError::Io(format!(
                "{} does not exist; `ghl-rankr serve` creates it on its first start",
                path.display()
            )));
        }
        let conn =
            Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(|e| not_ours(path, e))?;
        check(&conn, path)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        Ok(Db {
            conn: Mutex::new(conn),
            path: path.to_path_buf(),
            _lock: None,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The database answers a query.
    pub fn ping(&self) -> bool {
        self.conn()
            .query_row("SELECT count(*) FROM health", [], |r| r.get::<_, i64>(0))
            .is_ok()
    }

    // --- state ---

    pub fn state(&self, connection: &str, slot: &str) -> DbResult<Option<Vec<u8>>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT blob FROM state WHERE connection = ?1 AND slot = ?2",
                params![connection, slot],
                |r| r.get(0),
            )
            .optional()?)
    }

    // --- OAuth pairs ---

    /// The stored pair and the seed it came from.
    pub fn tokens(&self, connection: &str) -> DbResult<Option<(Tokens, String)>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT access_token, refresh_token, expires_at_ms, scopes, seed FROM tokens WHERE connection = ?1",
                params![connection],
                |r| {
                    let scopes: String = r.get(3)?;
                    Ok((
                        Tokens {
                            access_token: Secret::new(r.get::<_, String>(0)?),
                            refresh_token: Secret::new(r.get::<_, String>(1)?),
                            expires_at_ms: r.get::<_, Option<i64>>(2)?.map(|v| v.max(0) as u64),
                            scopes: scopes.split_whitespace().map(str::to_string).collect(),
                        },
                        r.get::<_, String>(4)?,
                    ))
                },
            )
            .optional()?)
    }

    /// Stores a pair (a rotation, or a seed from the environment), durably,
    /// before returning.
    pub fn put_tokens(&self, connection: &str, t: &Tokens, seed: &str, now_ms: u64) -> DbResult<()> {
        self.conn().execute(
            "INSERT INTO tokens (connection, access_token, refresh_token, expires_at_ms, scopes, seed, updated_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (connection) DO UPDATE SET access_token = ?2, refresh_token = ?3, expires_at_ms = ?4,
                 scopes = ?5, seed = ?6, updated_ms = ?7",
            params![
                connection,
                t.access_token.expose(),
                t.refresh_token.expose(),
                t.expires_at_ms.map(|v| v as i64),
                t.scopes.join(" "),
                seed,
                now_ms as i64
            ],
        )?;
        Ok(())
    }

    // --- runs ---

    /// Records a run that starts now.
    pub fn start_run(
        &self,
        connection: &str,
        op: Op,
        trigger: Trigger,
        input: Option<&Value>,
        now_ms: u64,
    ) -> DbResult<i64> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO runs (connection, operation, trigger, input, queued_ms, started_ms, outcome)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5, 'running')",
            params![
                connection,
                op.as_str(),
                trigger.as_str(),
                input.map(Value::to_string),
                now_ms as i64
            ],
        )?;
        Ok(conn.last_insert_rowid())
    }

    /// Queues an event's run; a known event id (within the 24 h the ids
    /// are kept) returns its first run, and `true`.
    pub fn queue_event(
        &self,
        connection: &str,
        op: Op,
        event_id: Option<&str>,
        input: &Value,
        now_ms: u64,
    ) -> DbResult<(i64, bool)> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        if let Some(id) = event_id {
            let seen: Option<i64> = tx
                .query_row(
                    "SELECT run_id FROM events WHERE connection = ?1 AND event_id = ?2 AND received_ms > ?3",
                    params![connection, id, now_ms.saturating_sub(EVENT_MEMORY_MS) as i64],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(run) = seen {
                return Ok((run, true));
            }
        }
        tx.execute(
            "INSERT INTO runs (connection, operation, trigger, input, queued_ms, outcome)
             VALUES (?1, ?2, 'event', ?3, ?4, 'queued')",
            params![connection, op.as_str(), input.to_string(), now_ms as i64],
        )?;
        let run = tx.last_insert_rowid();
        if let Some(id) = event_id {
            tx.execute(
                "INSERT INTO events (connection, event_id, received_ms, run_id) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (connection, event_id) DO UPDATE SET received_ms = ?3, run_id = ?4",
                params![connection, id, now_ms as i64, run],
            )?;
        }
        tx.commit()?;
        Ok((run, false))
    }

    /// The oldest queued event run of a connection: (run id, operation, input).
    pub fn next_event(&self, connection: &str) -> DbResult<Option<(i64, String, Value)>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT id, operation, input FROM runs WHERE outcome = 'queued' AND connection = ?1 ORDER BY id LIMIT 1",
                params![connection],
                |r| {
                    let input: Option<String> = r.get(2)?;
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        input.and_then(|i| serde_json::from_str(&i).ok()).unwrap_or(Value::Null),
                    ))
                },
            )
            .optional()?)
    }

    /// Marks a queued run as started.
    pub fn mark_running(&self, run_id: i64, now_ms: u64) -> DbResult<()> {
        self.conn().execute(
            "UPDATE runs SET outcome = 'running', started_ms = ?2 WHERE id = ?1",
            params![run_id, now_ms as i64],
        )?;
        Ok(())
    }

    /// Ends a run: its outcome, its state and its queue changes, in one
    /// transaction.
    pub fn finish(&self, f: &Finish<'_>) -> DbResult<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let connection: String = tx.query_row("SELECT connection FROM runs WHERE id = ?1", params![f.run_id], |r| {
            r.get(0)
        })?;
        tx.execute(
            "UPDATE runs SET outcome = ?2, ended_ms = ?3, counters = ?4, error = ?5 WHERE id = ?1",
            params![
                f.run_id,
                f.outcome.as_str(),
                f.ended_ms as i64,
                f.counters.as_ref().map(Value::to_string),
                f.error
            ],
        )?;
        if let Some((slot, blob)) = f.state {
            tx.execute(
                "INSERT INTO state (connection, slot, blob, updated_ms) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (connection, slot) DO UPDATE SET blob = ?3, updated_ms = ?4",
                params![connection, slot, blob, f.ended_ms as i64],
            )?;
        }
        for p in f.enqueue {
            tx.execute(
                "INSERT OR IGNORE INTO queue (connection, post_id, tag_ids, created_at, queued_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    connection,
                    p.post_id,
                    serde_json::to_string(&p.tag_ids).unwrap_or_else(|_| "[]".into()),
                    p.created_at,
                    f.ended_ms as i64
                ],
            )?;
        }
        if let Some(post) = f.dequeue {
            tx.execute(
                "DELETE FROM queue WHERE connection = ?1 AND post_id = ?2",
                params![connection, post],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Runs left `running` by a process that died: interrupted. Their last
    /// committed checkpoint stands.
    pub fn interrupt_stale_runs(&self, now_ms: u64) -> DbResult<usize> {
        Ok(self.conn().execute(
            "UPDATE runs SET outcome = 'interrupted', ended_ms = ?1,
                 error = 'the service stopped while this ran; the next run resumes from the last checkpoint'
             WHERE outcome = 'running'",
            params![now_ms as i64],
        )?)
    }

    /// Drops run history older than `days`, and event ids older than 24 h.
    pub fn prune(&self, now_ms: u64, days: u32) -> DbResult<usize> {
        let conn = self.conn();
        let cutoff = now_ms.saturating_sub(days as u64 * 86_400_000) as i64;
        let runs = conn.execute(
            "DELETE FROM runs WHERE outcome NOT IN ('queued', 'running') AND queued_ms < ?1",
            params![cutoff],
        )?;
        conn.execute(
            "DELETE FROM events WHERE received_ms < ?1",
            params![now_ms.saturating_sub(EVENT_MEMORY_MS) as i64],
        )?;
        Ok(runs)
    }

    /// The newest runs first, of one connection or all.
    pub fn runs(&self, connection: Option<&str>, limit: u32) -> DbResult<Vec<RunRow>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE (?1 IS NULL OR connection = ?1) ORDER BY id DESC LIMIT ?2"
        ))?;
        let rows = stmt.query_map(params![connection, limit], run_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The last failed runs of a connection, newest first.
    pub fn failures(&self, connection: &str, limit: u32) -> DbResult<Vec<RunRow>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE connection = ?1 AND outcome = 'failed' ORDER BY id DESC LIMIT ?2"
        ))?;
        let rows = stmt.query_map(params![connection, limit], run_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    // --- queue ---

    /// The oldest queued post of a connection.
    pub fn queue_head(&self, connection: &str) -> DbResult<Option<QueuedPost>> {
        Ok(self
            .conn()
            .query_row(
                // The trigger hands posts over oldest first: queue order.
                "SELECT post_id, tag_ids, created_at FROM queue WHERE connection = ?1 ORDER BY rowid LIMIT 1",
                params![connection],
                |r| {
                    let tags: String = r.get(1)?;
                    Ok(QueuedPost {
                        post_id: r.get(0)?,
                        tag_ids: serde_json::from_str(&tags).unwrap_or_default(),
                        created_at: r.get(2)?,
                    })
                },
            )
            .optional()?)
    }

    pub fn queue_depth(&self, connection: &str) -> DbResult<u64> {
        Ok(self.conn().query_row(
            "SELECT count(*) FROM queue WHERE connection = ?1",
            params![connection],
            |r| r.get::<_, i64>(0),
        )? as u64)
    }

    // --- health ---

    pub fn health(&self, connection: &str) -> DbResult<Health> {
        Ok(self
            .conn()
            .query_row(
                "SELECT consecutive_failures, first_failure_ms, last_error, last_failed_operation, alerted, paused, last_success_ms, retry_at_ms
                 FROM health WHERE connection = ?1",
                params![connection],
                |r| {
                    Ok(Health {
                        consecutive_failures: r.get::<_, i64>(0)?.max(0) as u32,
                        first_failure_ms: r.get::<_, Option<i64>>(1)?.map(|v| v.max(0) as u64),
                        last_error: r.get(2)?,
                        last_failed_operation: r.get(3)?,
                        alerted: r.get::<_, i64>(4)? != 0,
                        paused: r.get(5)?,
                        last_success_ms: r.get::<_, Option<i64>>(6)?.map(|v| v.max(0) as u64),
                        retry_at_ms: r.get::<_, Option<i64>>(7)?.map(|v| v.max(0) as u64),
                    })
                },
            )
            .optional()?
            .unwrap_or_default())
    }

    pub fn put_health(&self, connection: &str, h: &Health) -> DbResult<()> {
        self.conn().execute(
            "INSERT INTO health (connection, consecutive_failures, first_failure_ms, last_error, last_failed_operation, alerted, paused, last_success_ms, retry_at_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
             ON CONFLICT (connection) DO UPDATE SET consecutive_failures = ?2, first_failure_ms = ?3, last_error = ?4,
                 last_failed_operation = ?5, alerted = ?6, paused = ?7, last_success_ms = ?8, retry_at_ms = ?9",
            params![
                connection,
                h.consecutive_failures,
                h.first_failure_ms.map(|v| v as i64),
                h.last_error,
                h.last_failed_operation,
                h.alerted as i64,
                h.paused,
                h.last_success_ms.map(|v| v as i64),
                h.retry_at_ms.map(|v| v as i64)
            ],
        )?;
        Ok(())
    }

    // --- schedule ---

    pub fn next_due(&self, connection: &str, op: Op) -> DbResult<Option<u64>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT next_ms FROM schedule WHERE connection = ?1 AND operation = ?2",
                params![connection, op.as_str()],
                |r| r.get::<_, i64>(0),
            )
            .optional()?
            .map(|v| v.max(0) as u64))
    }

    pub fn set_next_due(&self, connection: &str, op: Op, next_ms: Option<u64>) -> DbResult<()> {
        let conn = self.conn();
        match next_ms {
            Some(ms) => conn.execute(
                "INSERT INTO schedule (connection, operation, next_ms) VALUES (?1, ?2, ?3)
                 ON CONFLICT (connection, operation) DO UPDATE SET next_ms = ?3",
                params![connection, op.as_str(), ms as i64],
            )?,
            None => conn.execute(
                "DELETE FROM schedule WHERE connection = ?1 AND operation = ?2",
                params![connection, op.as_str()],
            )?,
        };
        Ok(())
    }

    /// Every connection the database knows, with what `status` shows.
    pub fn overview(&self) -> DbResult<Vec<Overview>> {
        let names: Vec<String> = {
            let conn = self.conn();
            let mut stmt = conn.prepare(
                "SELECT connection FROM health UNION SELECT connection FROM schedule
                 UNION SELECT connection FROM runs ORDER BY 1",
            )?;
            let rows = stmt.query_map([], |r| r.get(0))?;
            rows.collect::<Result<_, _>>()?
        };
        let mut out = Vec::new();
        for name in names {
            let last_run = self.runs(Some(&name), 1)?.into_iter().next();
            let next: Vec<(String, u64)> = {
                let conn = self.conn();
                let mut stmt =
                    conn.prepare("SELECT operation, next_ms FROM schedule WHERE connection = ?1 ORDER BY next_ms")?;
                let rows = stmt.query_map(params![name], |r| Ok((r.get(0)?, r.get::<_, i64>(1)?.max(0) as u64)))?;
                rows.collect::<Result<_, _>>()?
            };
            let last_errors = self.failures(&name, 3)?;
            out.push(Overview {
                health: self.health(&name)?,
                queue: self.queue_depth(&name)?,
                last_run,
                next,
                last_errors,
                name,
            });
        }
        Ok(out)
    }

    /// One run by id.
    pub fn run(&self, id: i64) -> DbResult<Option<RunRow>> {
        Ok(self
            .conn()
            .query_row(
                &format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ?1"),
                params![id],
                run_row,
            )
            .optional()?)
    }
}

const RUN_COLUMNS: &str =
    "id, connection, operation, trigger, input, queued_ms, started_ms, ended_ms, outcome, counters, error";

fn run_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RunRow> {
    let json = |i: usize| -> rusqlite::Result<Option<Value>> {
        Ok(r.get::<_, Option<String>>(i)?
            .and_then(|s| serde_json::from_str(&s).ok()))
    };
    let ms = |i: usize| -> rusqlite::Result<Option<u64>> { Ok(r.get::<_, Option<i64>>(i)?.map(|v| v.max(0) as u64)) };
    Ok(RunRow {
        id: r.get(0)?,
        connection: r.get(1)?,
        operation: r.get(2)?,
        trigger: r.get(3)?,
        input: json(4)?,
        queued_ms: ms(5)?.unwrap_or(0),
        started_ms: ms(6)?,
        ended_ms: ms(7)?,
        outcome: r.get(8)?,
        counters: json(9)?,
        error: r.get(10)?,
    })
}

/// A connection as `status` and the status page show it.
#[derive(Debug, Clone)]
pub struct Overview {
    pub name: String,
    pub health: Health,
    pub queue: u64,
    pub last_run: Option<RunRow>,
    /// (operation, next run) soonest first.
    pub next: Vec<(String, u64)>,
    /// The last failed runs, newest first.
    pub last_errors: Vec<RunRow>,
}

/// Event ids are remembered this long.
pub const EVENT_MEMORY_MS: u64 = 24 * 3600 * 1000;

/// RFC 3339 in UTC, or null.
pub fn iso(ms: Option<u64>) -> Value {
    match ms.and_then(|ms| time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000).ok()) {
        Some(t) => t
            .format(&time::format_description::well_known::Rfc3339)
            .map(Value::String)
            .unwrap_or(Value::Null),
        None => Value::Null,
    }
}

fn not_ours(path: &Path, e: rusqlite::Error) -> DbError {
    DbError::NotOurs {
        path: path.to_path_buf(),
        why: e.to_string(),
    }
}

/// `<file>.lock`, locked for this process's life.
fn lock(path: &Path) -> DbResult<File> {
    let mut name = path.as_os_str().to_os_string();
    name.push(".lock");
    let lock_path = PathBuf::from(name);
    let mut options = std::fs::OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let file = options
        .open(&lock_path)
        .map_err(|e| DbError::Io(format!("cannot open {}: {e}", lock_path.display())))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(DbError::Locked(path.to_path_buf())),
        Err(std::fs::TryLockError::Error(e)) => Err(DbError::Io(format!("cannot lock {}: {e}", lock_path.display()))),
    }
}

/// Creates the file with mode 0600 if it does not exist; narrows a wider
/// mode on an existing one.
fn create_private(path: &Path) -> DbResult<()> {
    let io = |e: std::io::Error| DbError::Io(format!("cannot create {}: {e}", path.display()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(io(e)),
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(path).map_err(io)?.permissions().mode() & 0o777;
        if mode != 0o600 {
            tracing::warn!(target: "ghl_rankr::serve", file = %path.display(), mode = format!("{mode:o}"), "the database was readable by others; its mode is now 0600");
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
        }
    }
    Ok(())
}

/// Refuses anything but an empty file or this program's database at a
/// version this build knows, before any write.
fn check(conn: &Connection, path: &Path) -> DbResult<()> {
    let not_ours = |why: String| DbError::NotOurs {
        path: path.to_path_buf(),
        why,
    };
    let len = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    if len == 0 {
        return Ok(());
    }
    let quick: String = conn
        .query_row("PRAGMA quick_check", [], |r| r.get(0))
        .map_err(|e| not_ours(e.to_string()))?;
    if quick != "ok" {
        return Err(not_ours(format!("integrity check: {quick}")));
    }
    let app: i64 = conn.query_row("PRAGMA application_id", [], |r| r.get(0))?;
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let tables: i64 = conn.query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))?;
    if app != APPLICATION_ID && !(app == 0 && version == 0 && tables == 0) {
        return Err(not_ours("another program's SQLite database".into()));
    }
    if version > SCHEMA_VERSION {
        return Err(DbError::TooNew {
            path: path.to_path_buf(),
            version,
        });
    }
    Ok(())
}

/// Applies the migrations this file lacks, each in its own transaction.
fn migrate(conn: &Connection) -> DbResult<()> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version.max(0) as usize) {
        let to = i as i64 + 1;
        conn.execute_batch(&format!(
            "BEGIN IMMEDIATE; {sql} PRAGMA application_id = {APPLICATION_ID}; PRAGMA user_version = {to}; COMMIT;"
        ))?;
        tracing::info!(target: "ghl_rankr::serve", version = to, "database migrated");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("ghl-rankr-db-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d.join("service.db")
    }

    fn post(id: &str) -> QueuedPost {
        QueuedPost {
            post_id: id.into(),
            tag_ids: vec!["t1".into()],
            created_at: "2026-12-01T10:00:00Z".into(),
        }
    }

    #[test]
    fn a_new_file_is_private_versioned_and_held_by_one_service() {
        let path = temp("new");
        let db = Db::open(&path).unwrap();
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        let v: i64 = db.conn().query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
        assert_eq!(v, SCHEMA_VERSION);
        assert!(matches!(Db::open(&path), Err(DbError::Locked(_))));
        // Readers are welcome beside it.
        assert!(Db::open_read_only(&path).unwrap().ping());
        drop(db);
        Db::open(&path).expect("the lock goes with the process that held it");
    }

    #[test]
    fn newer_foreign_and_damaged_files_are_refused_untouched() {
        let path = temp("refused");
        drop(Db::open(&path).unwrap());
        Connection::open(&path)
            .unwrap()
            .pragma_update(None, "user_version", 99)
            .unwrap();
        let before = std::fs::read(&path).unwrap();
        let e = Db::open(&path).err().unwrap();
        assert!(matches!(e, DbError::TooNew { version: 99, .. }), "{e}");
        assert!(e.to_string().contains("newer ghl-rankr"));
        assert_eq!(std::fs::read(&path).unwrap(), before);

        let foreign = temp("foreign");
        Connection::open(&foreign)
            .unwrap()
            .execute_batch("CREATE TABLE notes (x)")
            .unwrap();
        let e = Db::open(&foreign).err().unwrap();
        assert!(e.to_string().contains("another program's SQLite database"), "{e}");

        let damaged = temp("damaged");
        std::fs::write(&damaged, vec![0x5a; 8192]).unwrap();
        assert!(matches!(Db::open(&damaged), Err(DbError::NotOurs { .. })));
        assert_eq!(std::fs::read(&damaged).unwrap(), vec![0x5a; 8192]);
    }

    #[test]
    fn a_poll_commits_its_state_with_its_posts_and_a_post_leaves_only_when_applied() {
        let db = Db::open(&temp("queue")).unwrap();
        let run = db.start_run("c", Op::NewPosts, Trigger::Schedule, None, 1).unwrap();
        let posts = [post("p1"), post("p2"), post("p1")];
        db.finish(&Finish {
            run_id: run,
            outcome: Outcome::Ok,
            ended_ms: 2,
            counters: None,
            error: None,
            state: Some(("new-posts", b"state-1")),
            enqueue: &posts,
            dequeue: None,
        })
        .unwrap();
        assert_eq!(db.state("c", "new-posts").unwrap().as_deref(), Some(&b"state-1"[..]));
        assert_eq!(db.queue_depth("c").unwrap(), 2, "a post found twice is queued once");
        assert_eq!(db.queue_head("c").unwrap(), Some(post("p1")));
        // A failed tag-sync keeps the post; a successful one removes it.
        let run = db.start_run("c", Op::TagSync, Trigger::Queue, None, 3).unwrap();
        db.finish(&Finish {
            run_id: run,
            outcome: Outcome::Failed,
            ended_ms: 4,
            counters: None,
            error: Some("Rankr answered 503".into()),
            state: Some(("tags", b"tags-1")),
            enqueue: &[],
            dequeue: None,
        })
        .unwrap();
        assert_eq!(db.queue_head("c").unwrap(), Some(post("p1")));
        let run = db.start_run("c", Op::TagSync, Trigger::Queue, None, 5).unwrap();
        db.finish(&Finish {
            run_id: run,
            outcome: Outcome::Ok,
            ended_ms: 6,
            counters: Some(serde_json::json!({"created": 1})),
            error: None,
            state: Some(("tags", b"tags-2")),
            enqueue: &[],
            dequeue: Some("p1"),
        })
        .unwrap();
        assert_eq!(db.queue_head("c").unwrap(), Some(post("p2")));
        assert_eq!(db.state("c", "tags").unwrap().as_deref(), Some(&b"tags-2"[..]));
        let runs = db.runs(Some("c"), 10).unwrap();
        assert_eq!(runs.len(), 3);
        assert_eq!(runs[0].outcome, "ok");
        assert_eq!(runs[1].error.as_deref(), Some("Rankr answered 503"));
    }

    #[test]
    fn an_event_id_runs_once_a_day_and_stale_runs_are_interrupted() {
        let db = Db::open(&temp("events")).unwrap();
        let input = serde_json::json!({"tag_ids": ["t1"]});
        let (first, dup) = db
            .queue_event("c", Op::TagDetailsPush, Some("e1"), &input, 1_000)
            .unwrap();
        assert!(!dup);
        assert_eq!(
            db.queue_event("c", Op::TagDetailsPush, Some("e1"), &input, 2_000)
                .unwrap(),
            (first, true)
        );
        let (next_day, dup) = db
            .queue_event("c", Op::TagDetailsPush, Some("e1"), &input, 1_000 + EVENT_MEMORY_MS + 1)
            .unwrap();
        assert!(!dup && next_day != first);
        let (run, op, got) = db.next_event("c").unwrap().unwrap();
        assert_eq!((run, op.as_str(), got), (first, "tag-details-push", input));
        db.mark_running(first, 3_000).unwrap();
        assert_eq!(db.interrupt_stale_runs(4_000).unwrap(), 1);
        assert_eq!(db.run(first).unwrap().unwrap().outcome, "interrupted");
    }
}
