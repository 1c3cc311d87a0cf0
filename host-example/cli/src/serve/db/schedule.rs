//! When each connection's scheduled operations next run: kept so that a
//! restart keeps the schedule.

use super::open::{from_sql_ms, to_sql_ms, Db, DbResult};
use crate::serve::model::Op;
use rusqlite::{params, OptionalExtension};

impl Db {
    pub fn next_due(&self, connection: &str, op: Op) -> DbResult<Option<u64>> {
        Ok(self
            .write()?
            .query_row(
                "SELECT next_ms FROM schedule WHERE connection = ?1 AND operation = ?2",
                params![connection, op],
                |r| r.get::<_, i64>(0),
            )
            .optional()?
            .map(from_sql_ms))
    }

    /// Sets (or, with none, clears) the next run of `op`.
    pub fn set_next_due(&self, connection: &str, op: Op, next_ms: Option<u64>) -> DbResult<()> {
        let conn = self.write()?;
        match next_ms {
            Some(ms) => conn.execute(
                "INSERT INTO schedule (connection, operation, next_ms) VALUES (?1, ?2, ?3)
                 ON CONFLICT (connection, operation) DO UPDATE SET next_ms = ?3",
                params![connection, op, to_sql_ms(ms)],
            )?,
            None => conn.execute(
                "DELETE FROM schedule WHERE connection = ?1 AND operation = ?2",
                params![connection, op],
            )?,
        };
        Ok(())
    }
}
