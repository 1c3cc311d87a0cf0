//! Follow-up statistics: a row per post that went live and per offset
//! after it, queued with the poll that found the post and removed with the
//! `stats-sync` that read them.

use super::open::{from_sql_ms, to_sql_ms, Db, DbResult};
use rusqlite::{params, Transaction};

/// A post's statistics due at a time after it went live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowUp {
    pub post_id: String,
    /// How long after `publishedAt`.
    pub offset_ms: u64,
    pub due_ms: u64,
    /// As GHL wrote it.
    pub published_at: String,
    pub profile_ids: Vec<String>,
}

impl Db {
    /// The follow-ups of `connection` due by `until_ms`, soonest first.
    pub fn due_followups(&self, connection: &str, until_ms: u64) -> DbResult<Vec<FollowUp>> {
        let conn = self.write()?;
        let mut stmt = conn.prepare(
            "SELECT post_id, offset_ms, due_ms, published_at, profile_ids FROM followups
             WHERE connection = ?1 AND due_ms <= ?2 ORDER BY due_ms, post_id",
        )?;
        let rows = stmt.query_map(params![connection, to_sql_ms(until_ms)], |r| {
            let ids: String = r.get(4)?;
            Ok(FollowUp {
                post_id: r.get(0)?,
                offset_ms: from_sql_ms(r.get(1)?),
                due_ms: from_sql_ms(r.get(2)?),
                published_at: r.get(3)?,
                profile_ids: serde_json::from_str(&ids).unwrap_or_default(),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// When the next follow-up of `connection` is due, if any is queued.
    pub fn next_followup(&self, connection: &str) -> DbResult<Option<u64>> {
        let next: Option<i64> = self.read().query_row(
            "SELECT min(due_ms) FROM followups WHERE connection = ?1",
            params![connection],
            |r| r.get(0),
        )?;
        Ok(next.map(from_sql_ms))
    }

    /// Follow-ups queued for `connection`.
    pub fn pending_followups(&self, connection: &str) -> DbResult<u64> {
        let n: i64 = self.read().query_row(
            "SELECT count(*) FROM followups WHERE connection = ?1",
            params![connection],
            |r| r.get(0),
        )?;
        Ok(n.max(0) as u64)
    }
}

/// Queues `f` (a post and offset queued twice is queued once).
pub(super) fn enqueue(tx: &Transaction<'_>, connection: &str, f: &FollowUp) -> DbResult<()> {
    tx.execute(
        "INSERT OR IGNORE INTO followups (connection, post_id, offset_ms, due_ms, published_at, profile_ids)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            connection,
            f.post_id,
            to_sql_ms(f.offset_ms),
            to_sql_ms(f.due_ms),
            f.published_at,
            serde_json::Value::from(f.profile_ids.clone()).to_string()
        ],
    )?;
    Ok(())
}

/// Takes the follow-up of `post_id` at `offset_ms` off the queue.
pub(super) fn remove(tx: &Transaction<'_>, connection: &str, post_id: &str, offset_ms: u64) -> DbResult<()> {
    tx.execute(
        "DELETE FROM followups WHERE connection = ?1 AND post_id = ?2 AND offset_ms = ?3",
        params![connection, post_id, to_sql_ms(offset_ms)],
    )?;
    Ok(())
}
