//! Event ids seen at the intake: an event with an id seen in the last day
//! is acknowledged with its first run and not run again.

use super::open::{to_sql_ms, Db, DbResult};
use crate::serve::model::{Op, Outcome, Trigger};
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::Value;

/// Event ids are remembered this long.
pub const EVENT_MEMORY_MS: u64 = 24 * 3600 * 1000;

impl Db {
    /// Queues an event's run; a known event id (within the day the ids are
    /// kept) returns its first run, and `true`.
    pub fn queue_event(
        &self,
        connection: &str,
        op: Op,
        event_id: Option<&str>,
        input: &Value,
        now_ms: u64,
    ) -> DbResult<(i64, bool)> {
        let mut conn = self.write()?;
        let tx = conn.transaction()?;
        if let Some(id) = event_id {
            let seen: Option<i64> = tx
                .query_row(
                    "SELECT run_id FROM events WHERE connection = ?1 AND event_id = ?2 AND received_ms > ?3",
                    params![connection, id, to_sql_ms(now_ms.saturating_sub(EVENT_MEMORY_MS))],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(run) = seen {
                return Ok((run, true));
            }
        }
        tx.execute(
            "INSERT INTO runs (connection, operation, trigger, input, queued_ms, outcome)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                connection,
                op,
                Trigger::Event,
                input.to_string(),
                to_sql_ms(now_ms),
                Outcome::Queued
            ],
        )?;
        let run = tx.last_insert_rowid();
        if let Some(id) = event_id {
            tx.execute(
                "INSERT INTO events (connection, event_id, received_ms, run_id) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (connection, event_id) DO UPDATE SET received_ms = ?3, run_id = ?4",
                params![connection, id, to_sql_ms(now_ms), run],
            )?;
        }
        tx.commit()?;
        Ok((run, false))
    }
}

/// Forgets event ids older than a day.
pub(super) fn prune(conn: &Connection, now_ms: u64) -> DbResult<usize> {
    Ok(conn.execute(
        "DELETE FROM events WHERE received_ms < ?1",
        params![to_sql_ms(now_ms.saturating_sub(EVENT_MEMORY_MS))],
    )?)
}
