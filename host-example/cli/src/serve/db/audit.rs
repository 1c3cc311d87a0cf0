//! The audit log's rows.

use super::open::{from_sql_ms, to_sql_ms, Db, DbResult};
use crate::serve::audit::{Action, Entry, Verdict};
use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};
use rusqlite::{params, Connection};

impl ToSql for Action {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

impl FromSql for Action {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let text = value.as_str()?;
        Action::parse(text).ok_or_else(|| FromSqlError::Other(format!("unknown action {text:?}").into()))
    }
}

impl ToSql for Verdict {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

impl FromSql for Verdict {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let text = value.as_str()?;
        Verdict::parse(text).ok_or_else(|| FromSqlError::Other(format!("unknown outcome {text:?}").into()))
    }
}

/// Adds `entry` on `conn` (inside a caller's transaction, or alone).
pub(super) fn insert(conn: &Connection, entry: &Entry) -> DbResult<()> {
    conn.execute(
        "INSERT INTO audit (at_ms, actor, address, action, target, outcome, detail)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            to_sql_ms(entry.at_ms),
            entry.actor,
            entry.address,
            entry.action,
            entry.target,
            entry.verdict,
            entry.detail
        ],
    )?;
    Ok(())
}

impl Db {
    /// Adds a row to the audit log.
    pub fn record(&self, entry: &Entry) -> DbResult<()> {
        insert(&*self.write()?, entry)
    }

    /// The newest rows first.
    pub fn audit(&self, limit: u32) -> DbResult<Vec<Entry>> {
        let conn = self.read();
        let mut stmt = conn.prepare(
            "SELECT id, at_ms, actor, address, action, target, outcome, detail FROM audit ORDER BY id DESC LIMIT ?1",
        )?;
        let rows = stmt.query_map(params![limit], |r| {
            Ok(Entry {
                id: r.get(0)?,
                at_ms: from_sql_ms(r.get(1)?),
                actor: r.get(2)?,
                address: r.get(3)?,
                action: r.get(4)?,
                target: r.get(5)?,
                verdict: r.get(6)?,
                detail: r.get(7)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

/// Forgets rows older than `cutoff_ms`.
pub(super) fn prune(conn: &Connection, cutoff_ms: u64) -> DbResult<usize> {
    Ok(conn.execute("DELETE FROM audit WHERE at_ms < ?1", params![to_sql_ms(cutoff_ms)])?)
}
