//! Every connection as `status` and the status page show it, read in one
//! go from the reader.

use super::open::{from_sql_ms, Db, DbResult};
use super::runs::RunRow;
use crate::serve::health::Health;
use crate::serve::model::Op;
use rusqlite::params;

/// A connection as `status` and the status page show it.
#[derive(Debug, Clone)]
pub struct Overview {
    pub name: String,
    pub health: Health,
    pub queue: u64,
    pub last_run: Option<RunRow>,
    /// (operation, next run) soonest first.
    pub next: Vec<(Op, u64)>,
    /// The last failed runs, newest first.
    pub last_errors: Vec<RunRow>,
    /// The last connection check, and the statistics due after posts went
    /// live.
    pub last_check: Option<RunRow>,
    pub followups: u64,
}

impl Db {
    /// Every connection the database knows, by name.
    pub fn overview(&self) -> DbResult<Vec<Overview>> {
        let names: Vec<String> = {
            let conn = self.read();
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
            let next: Vec<(Op, u64)> = {
                let conn = self.read();
                let mut stmt =
                    conn.prepare("SELECT operation, next_ms FROM schedule WHERE connection = ?1 ORDER BY next_ms")?;
                let rows = stmt.query_map(params![name], |r| Ok((r.get(0)?, from_sql_ms(r.get(1)?))))?;
                rows.collect::<Result<_, _>>()?
            };
            let health = {
                let conn = self.read();
                super::health::read(&conn, &name)?
            };
            out.push(Overview {
                health,
                queue: self.queue_depth(&name)?,
                last_run,
                next,
                last_errors: self.failures(&name, 3)?,
                last_check: self.last_of(&name, Op::Check)?,
                followups: self.pending_followups(&name)?,
                name,
            });
        }
        Ok(out)
    }
}
