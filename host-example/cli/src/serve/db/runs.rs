//! Run history: a row per run, from queued (an event's) or started to its
//! outcome; the end of a run commits with its state and its queue changes.

use super::followups::FollowUp;
use super::open::{from_sql_ms, to_sql_ms, Db, DbResult};
use super::queue::QueuedPost;
use crate::serve::model::{Op, Outcome, Trigger};
use rusqlite::{params, OptionalExtension};
use serde_json::Value;

/// One row of run history.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRow {
    pub id: i64,
    pub connection: String,
    pub operation: Op,
    pub trigger: Trigger,
    pub input: Option<Value>,
    pub queued_ms: u64,
    pub started_ms: Option<u64>,
    pub ended_ms: Option<u64>,
    pub outcome: Outcome,
    pub counters: Option<Value>,
    pub error: Option<String>,
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
    /// Follow-up statistics the trigger queued.
    pub followups: &'a [FollowUp],
    /// Follow-ups this run read: (post, offset).
    pub followups_done: &'a [(String, u64)],
}

/// An event's run waiting for its connection.
#[derive(Debug, Clone, PartialEq)]
pub struct QueuedEvent {
    pub run_id: i64,
    pub op: Op,
    /// The event's body as accepted (null when unreadable).
    pub input: Value,
}

const RUN_COLUMNS: &str =
    "id, connection, operation, trigger, input, queued_ms, started_ms, ended_ms, outcome, counters, error";

fn run_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RunRow> {
    let json = |i: usize| -> rusqlite::Result<Option<Value>> {
        Ok(r.get::<_, Option<String>>(i)?
            .and_then(|s| serde_json::from_str(&s).ok()))
    };
    let ms = |i: usize| -> rusqlite::Result<Option<u64>> { Ok(r.get::<_, Option<i64>>(i)?.map(from_sql_ms)) };
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

impl Db {
    /// Records a run that starts now.
    pub fn start_run(
        &self,
        connection: &str,
        op: Op,
        trigger: Trigger,
        input: Option<&Value>,
        now_ms: u64,
    ) -> DbResult<i64> {
        let conn = self.write()?;
        conn.execute(
            "INSERT INTO runs (connection, operation, trigger, input, queued_ms, started_ms, outcome)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6)",
            params![
                connection,
                op,
                trigger,
                input.map(Value::to_string),
                to_sql_ms(now_ms),
                Outcome::Running
            ],
        )?;
        Ok(conn.last_insert_rowid())
    }

    /// The oldest queued event run of a connection.
    pub fn next_event(&self, connection: &str) -> DbResult<Option<QueuedEvent>> {
        Ok(self
            .write()?
            .query_row(
                "SELECT id, operation, input FROM runs WHERE outcome = ?2 AND connection = ?1 ORDER BY id LIMIT 1",
                params![connection, Outcome::Queued],
                |r| {
                    let input: Option<String> = r.get(2)?;
                    Ok(QueuedEvent {
                        run_id: r.get(0)?,
                        op: r.get(1)?,
                        input: input.and_then(|i| serde_json::from_str(&i).ok()).unwrap_or(Value::Null),
                    })
                },
            )
            .optional()?)
    }

    /// Marks a queued run as started.
    pub fn mark_running(&self, run_id: i64, now_ms: u64) -> DbResult<()> {
        self.write()?.execute(
            "UPDATE runs SET outcome = ?3, started_ms = ?2 WHERE id = ?1",
            params![run_id, to_sql_ms(now_ms), Outcome::Running],
        )?;
        Ok(())
    }

    /// Ends a run: its outcome, its state and its queue changes, in one
    /// transaction.
    pub fn finish(&self, f: &Finish<'_>) -> DbResult<()> {
        let mut conn = self.write()?;
        let tx = conn.transaction()?;
        let connection: String = tx.query_row("SELECT connection FROM runs WHERE id = ?1", params![f.run_id], |r| {
            r.get(0)
        })?;
        tx.execute(
            "UPDATE runs SET outcome = ?2, ended_ms = ?3, counters = ?4, error = ?5 WHERE id = ?1",
            params![
                f.run_id,
                f.outcome,
                to_sql_ms(f.ended_ms),
                f.counters.as_ref().map(Value::to_string),
                f.error
            ],
        )?;
        if let Some((slot, blob)) = f.state {
            tx.execute(
                "INSERT INTO state (connection, slot, blob, updated_ms) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (connection, slot) DO UPDATE SET blob = ?3, updated_ms = ?4",
                params![connection, slot, blob, to_sql_ms(f.ended_ms)],
            )?;
        }
        for p in f.enqueue {
            super::queue::enqueue(&tx, &connection, p, f.ended_ms)?;
        }
        if let Some(post) = f.dequeue {
            super::queue::dequeue(&tx, &connection, post)?;
        }
        for follow in f.followups {
            super::followups::enqueue(&tx, &connection, follow)?;
        }
        for (post, offset) in f.followups_done {
            super::followups::remove(&tx, &connection, post, *offset)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Runs left `running` by a process that died: interrupted. Their last
    /// committed checkpoint stands.
    pub fn interrupt_stale_runs(&self, now_ms: u64) -> DbResult<usize> {
        Ok(self.write()?.execute(
            "UPDATE runs SET outcome = ?3, ended_ms = ?1,
                 error = 'the service stopped while this ran; the next run resumes from the last checkpoint'
             WHERE outcome = ?2",
            params![to_sql_ms(now_ms), Outcome::Running, Outcome::Interrupted],
        )?)
    }

    /// Drops run history and audit rows older than `days`, and event ids
    /// older than a day.
    pub fn prune(&self, now_ms: u64, days: u32) -> DbResult<usize> {
        let conn = self.write()?;
        let cutoff = now_ms.saturating_sub(u64::from(days) * 86_400_000);
        let runs = conn.execute(
            "DELETE FROM runs WHERE outcome NOT IN (?2, ?3) AND queued_ms < ?1",
            params![to_sql_ms(cutoff), Outcome::Queued, Outcome::Running],
        )?;
        super::events::prune(&conn, now_ms)?;
        super::audit::prune(&conn, cutoff)?;
        Ok(runs)
    }

    /// The newest runs first, of one connection or all.
    pub fn runs(&self, connection: Option<&str>, limit: u32) -> DbResult<Vec<RunRow>> {
        let conn = self.read();
        let mut stmt = conn.prepare(&format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE (?1 IS NULL OR connection = ?1) ORDER BY id DESC LIMIT ?2"
        ))?;
        let rows = stmt.query_map(params![connection, limit], run_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The last failed runs of a connection, newest first.
    pub fn failures(&self, connection: &str, limit: u32) -> DbResult<Vec<RunRow>> {
        let conn = self.read();
        let mut stmt = conn.prepare(&format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE connection = ?1 AND outcome = ?3 ORDER BY id DESC LIMIT ?2"
        ))?;
        let rows = stmt.query_map(params![connection, limit, Outcome::Failed], run_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The newest run of `op` of a connection.
    pub fn last_of(&self, connection: &str, op: Op) -> DbResult<Option<RunRow>> {
        Ok(self
            .read()
            .query_row(
                &format!(
                    "SELECT {RUN_COLUMNS} FROM runs WHERE connection = ?1 AND operation = ?2 ORDER BY id DESC LIMIT 1"
                ),
                params![connection, op],
                run_row,
            )
            .optional()?)
    }

    /// One run by id.
    pub fn run(&self, id: i64) -> DbResult<Option<RunRow>> {
        Ok(self
            .read()
            .query_row(
                &format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ?1"),
                params![id],
                run_row,
            )
            .optional()?)
    }
}

#[cfg(test)]
mod tests {
    use super::super::open::tests::temp;
    use super::*;

    fn post(id: &str) -> QueuedPost {
        QueuedPost {
            post_id: id.into(),
            tag_ids: vec!["t1".into()],
            created_at: "2026-12-01T10:00:00Z".into(),
        }
    }

    #[test]
    fn a_poll_commits_its_state_with_its_posts_and_a_post_leaves_only_when_applied() {
        let db = Db::open(&temp("queue"), None).unwrap();
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
            followups: &[],
            followups_done: &[],
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
            followups: &[],
            followups_done: &[],
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
            followups: &[],
            followups_done: &[],
        })
        .unwrap();
        assert_eq!(db.queue_head("c").unwrap(), Some(post("p2")));
        assert_eq!(db.state("c", "tags").unwrap().as_deref(), Some(&b"tags-2"[..]));
        let runs = db.runs(Some("c"), 10).unwrap();
        assert_eq!(runs.len(), 3);
        assert_eq!(runs[0].outcome, Outcome::Ok);
        assert_eq!(runs[1].error.as_deref(), Some("Rankr answered 503"));
    }

    #[test]
    fn an_event_id_runs_once_a_day_and_stale_runs_are_interrupted() {
        let db = Db::open(&temp("events"), None).unwrap();
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
            .queue_event(
                "c",
                Op::TagDetailsPush,
                Some("e1"),
                &input,
                1_000 + super::super::events::EVENT_MEMORY_MS + 1,
            )
            .unwrap();
        assert!(!dup && next_day != first);
        let queued = db.next_event("c").unwrap().unwrap();
        assert_eq!(
            queued,
            QueuedEvent {
                run_id: first,
                op: Op::TagDetailsPush,
                input
            }
        );
        db.mark_running(first, 3_000).unwrap();
        assert_eq!(db.interrupt_stale_runs(4_000).unwrap(), 1);
        assert_eq!(db.run(first).unwrap().unwrap().outcome, Outcome::Interrupted);
    }

    #[test]
    fn an_unknown_name_in_a_row_is_a_read_error_not_a_guess() {
        let db = Db::open(&temp("unknown-name"), None).unwrap();
        let run = db.start_run("c", Op::NewPosts, Trigger::Schedule, None, 1).unwrap();
        db.write()
            .unwrap()
            .execute("UPDATE runs SET operation = 'teleport' WHERE id = ?1", params![run])
            .unwrap();
        let e = db.run(run).unwrap_err();
        assert!(e.to_string().contains("teleport"), "{e}");
    }
}
