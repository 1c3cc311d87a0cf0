//! The trigger's queue: posts found and waiting for their `tag-sync`, in
//! the order the trigger handed them over (oldest first). A post enters
//! with the poll that found it and leaves with the run that applied it.

use super::open::{to_sql_ms, Db, DbResult};
use rusqlite::{params, OptionalExtension, Transaction};

/// A post the trigger found, waiting for its `tag-sync`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedPost {
    pub post_id: String,
    pub tag_ids: Vec<String>,
    /// As GHL wrote it.
    pub created_at: String,
}

impl Db {
    /// The oldest queued post of a connection.
    pub fn queue_head(&self, connection: &str) -> DbResult<Option<QueuedPost>> {
        Ok(self
            .write()?
            .query_row(
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

    /// Posts waiting for their `tag-sync`.
    pub fn queue_depth(&self, connection: &str) -> DbResult<u64> {
        let n: i64 = self.read().query_row(
            "SELECT count(*) FROM queue WHERE connection = ?1",
            params![connection],
            |r| r.get(0),
        )?;
        Ok(n.max(0) as u64)
    }
}

/// Queues `post` (a post found twice is queued once).
pub(super) fn enqueue(tx: &Transaction<'_>, connection: &str, post: &QueuedPost, now_ms: u64) -> DbResult<()> {
    tx.execute(
        "INSERT OR IGNORE INTO queue (connection, post_id, tag_ids, created_at, queued_ms)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            connection,
            post.post_id,
            serde_json::Value::from(post.tag_ids.clone()).to_string(),
            post.created_at,
            to_sql_ms(now_ms)
        ],
    )?;
    Ok(())
}

/// Takes `post_id` off the queue.
pub(super) fn dequeue(tx: &Transaction<'_>, connection: &str, post_id: &str) -> DbResult<()> {
    tx.execute(
        "DELETE FROM queue WHERE connection = ?1 AND post_id = ?2",
        params![connection, post_id],
    )?;
    Ok(())
}
