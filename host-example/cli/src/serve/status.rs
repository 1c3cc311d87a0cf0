//! `ghl-rankr status`: the database's view of every connection, read beside
//! a running service, as text or JSON.

use super::db::{Db, DbError, InstallState};
use super::view::{check_cell, iso, run_json, state, when};
use serde_json::{json, Value};
use std::fmt::Write as _;
use std::path::Path;

/// What `status` prints.
pub fn status(database: &Path, as_json: bool) -> Result<String, DbError> {
    let db = Db::open_read_only(database)?;
    let overview = db.overview()?;
    let installs = db.all_installs()?;
    let ended = |name: &str| {
        installs
            .iter()
            .find(|i| i.name == name && matches!(i.state, InstallState::Stopped | InstallState::Removed))
    };
    if as_json {
        let connections: Vec<Value> = overview
            .iter()
            .map(|o| {
                json!({
                    "name": o.name,
                    "state": ended(&o.name).map_or(state(Some(o)).class, |i| i.state.as_str()),
                    "paused": o.health.paused,
                    "consecutive_failures": o.health.consecutive_failures,
                    "last_error": o.health.last_error,
                    "last_success_at": iso(o.health.last_success_ms),
                    "queue": o.queue,
                    "followups": o.followups,
                    "last_check": o.last_check.as_ref().map(run_json),
                    "last_run": o.last_run.as_ref().map(run_json),
                    "next_runs": o.next.iter().map(|(op, at)| json!({"operation": op.as_str(), "at": iso(Some(*at))})).collect::<Vec<_>>(),
                })
            })
            .collect();
        return Ok(serde_json::to_string_pretty(&json!({ "connections": connections })).unwrap_or_default());
    }
    let mut out = String::new();
    if overview.is_empty() {
        out.push_str("no connections have run yet\n");
    }
    for o in &overview {
        if let Some(i) = ended(&o.name) {
            let _ = writeln!(
                out,
                "{}: {} ({}); its history is kept",
                o.name,
                i.state.as_str(),
                i.note.as_deref().unwrap_or("")
            );
            continue;
        }
        let _ = writeln!(out, "{}: {}", o.name, state(Some(o)).text);
        match &o.last_run {
            Some(r) => {
                let _ = writeln!(
                    out,
                    "  last run: {} {} at {}{}",
                    r.operation,
                    r.outcome,
                    when(r.ended_ms.or(r.started_ms)),
                    r.error.as_deref().map(|e| format!(": {e}")).unwrap_or_default()
                );
            }
            None => out.push_str("  last run: never\n"),
        }
        for (op, at) in &o.next {
            let _ = writeln!(out, "  next {op}: {}", when(Some(*at)));
        }
        if let (Some(retry), true) = (o.health.retry_at_ms, o.health.consecutive_failures > 0) {
            let _ = writeln!(out, "  backing off: nothing runs before {}", when(Some(retry)));
        }
        let _ = writeln!(out, "  queued posts: {}", o.queue);
        let _ = writeln!(out, "  check: {}", check_cell(o.last_check.as_ref()).text);
        if o.followups > 0 {
            let _ = writeln!(out, "  follow-up statistics pending: {}", o.followups);
        }
    }
    Ok(out)
}
