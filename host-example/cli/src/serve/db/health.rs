//! Each connection's health as [`crate::serve::health`] keeps it.

use super::open::{from_sql_ms, to_sql_ms, Db, DbResult};
use crate::serve::health::Health;
use rusqlite::{params, Connection, OptionalExtension};

/// The connection's health, on either of the two connections.
pub(super) fn read(conn: &Connection, connection: &str) -> DbResult<Health> {
    Ok(conn
            .query_row(
                "SELECT consecutive_failures, first_failure_ms, last_error, last_failed_operation, alerted, paused, last_success_ms, retry_at_ms
                 FROM health WHERE connection = ?1",
                params![connection],
                |r| {
                    Ok(Health {
                        consecutive_failures: r.get::<_, i64>(0)?.clamp(0, i64::from(u32::MAX)) as u32,
                        first_failure_ms: r.get::<_, Option<i64>>(1)?.map(from_sql_ms),
                        last_error: r.get(2)?,
                        last_failed_operation: r.get(3)?,
                        alerted: r.get::<_, i64>(4)? != 0,
                        paused: r.get(5)?,
                        last_success_ms: r.get::<_, Option<i64>>(6)?.map(from_sql_ms),
                        retry_at_ms: r.get::<_, Option<i64>>(7)?.map(from_sql_ms),
                    })
                },
            )
            .optional()?
            .unwrap_or_default())
}

impl Db {
    /// The connection's health; a connection never seen is healthy.
    pub fn health(&self, connection: &str) -> DbResult<Health> {
        read(&*self.write()?, connection)
    }

    pub fn put_health(&self, connection: &str, h: &Health) -> DbResult<()> {
        self.write()?.execute(
            "INSERT INTO health (connection, consecutive_failures, first_failure_ms, last_error, last_failed_operation, alerted, paused, last_success_ms, retry_at_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
             ON CONFLICT (connection) DO UPDATE SET consecutive_failures = ?2, first_failure_ms = ?3, last_error = ?4,
                 last_failed_operation = ?5, alerted = ?6, paused = ?7, last_success_ms = ?8, retry_at_ms = ?9",
            params![
                connection,
                h.consecutive_failures,
                h.first_failure_ms.map(to_sql_ms),
                h.last_error,
                h.last_failed_operation,
                i64::from(h.alerted),
                h.paused,
                h.last_success_ms.map(to_sql_ms),
                h.retry_at_ms.map(to_sql_ms)
            ],
        )?;
        Ok(())
    }
}
