//! `POST /connections/{name}/check`, `/pause` and `/resume`, from an
//! operator. A check is queued as a run; the scheduler applies a pause or a
//! resume (it owns the connections' slots). Each is kept in the audit log
//! with who asked.

use super::{Head, Reply};
use crate::serve::access::Caller;
use crate::serve::audit::{Action, Entry, Verdict};
use crate::serve::model::Op;
use crate::serve::state::{AppState, Command};
use ghl_rankr_host::clock::Clock;
use serde_json::json;

/// Queues a check of the connection; its result is a run in `/runs` and
/// on the page.
pub fn check(state: &AppState, caller: &Caller, head: &Head<'_>, connection: &str) -> Reply {
    if state.connection(connection).is_none() {
        return Reply::problem(404, &format!("no connection named {connection:?}"));
    }
    let now = state.clock.now_ms();
    let queued = state.db.queue_event(connection, Op::Check, None, &json!({}), now);
    let entry = Entry::new(
        now,
        caller.name(),
        Action::Check,
        if queued.is_ok() { Verdict::Ok } else { Verdict::Failed },
    )
    .from_address(head.peer.map(|a| a.ip().to_string()))
    .on(connection);
    if let Err(e) = state.db.record(&entry) {
        tracing::error!(target: "ghl_rankr::serve", error = %e, "cannot record the check in the audit log");
    }
    match queued {
        Ok((run_id, _)) => Reply::json(
            202,
            &json!({"run_id": run_id, "status_url": format!("/runs?connection={connection}")}),
        ),
        Err(e) => Reply::problem(500, &format!("cannot queue the check: {e}")),
    }
}

pub fn pause(state: &AppState, caller: &Caller, head: &Head<'_>, connection: &str) -> Reply {
    command(state, caller, head, connection, Action::Pause)
}

pub fn resume(state: &AppState, caller: &Caller, head: &Head<'_>, connection: &str) -> Reply {
    command(state, caller, head, connection, Action::Resume)
}

fn command(state: &AppState, caller: &Caller, head: &Head<'_>, connection: &str, action: Action) -> Reply {
    if state.connection(connection).is_none() {
        return Reply::problem(404, &format!("no connection named {connection:?}"));
    }
    let by = caller.name().to_string();
    let command = match action {
        Action::Pause => Command::Pause {
            connection: connection.to_string(),
            by: by.clone(),
        },
        _ => Command::Resume {
            connection: connection.to_string(),
            by: by.clone(),
        },
    };
    let sent = state.send(command);
    let entry = Entry::new(
        state.clock.now_ms(),
        by,
        action,
        if sent { Verdict::Ok } else { Verdict::Failed },
    )
    .from_address(head.peer.map(|a| a.ip().to_string()))
    .on(connection);
    if let Err(e) = state.db.record(&entry) {
        tracing::error!(target: "ghl_rankr::serve", error = %e, "cannot record the command in the audit log");
    }
    if !sent {
        return Reply::problem(503, "the scheduler is stopping; try again after the restart");
    }
    Reply::json(
        202,
        &json!({"connection": connection, "paused": action == Action::Pause, "status_url": "/"}),
    )
}
