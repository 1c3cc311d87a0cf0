//! `POST /connections/{name}/run/{operation}`: an event, from an operator.
//! The body is an [`EventInput`]; the answer is `202 {"run_id": …}`. An
//! event id (or `Idempotency-Key`) seen in the last day is acknowledged with
//! its first run and not run again.

use crate::serve::config::Connection;
use crate::serve::model::{EventInput, Op};
use crate::serve::reply::Reply;
use crate::serve::state::AppState;
use ghl_rankr_host::clock::Clock;
use serde_json::{json, Value};

/// An unknown operation in an event's path.
pub fn unknown_operation(op: &str) -> Reply {
    let names: Vec<&str> = Op::ALL.iter().map(|o| o.as_str()).collect();
    Reply::problem(404, &format!("no operation {op:?}; use one of {}", names.join(", ")))
}

/// Queues the event's run.
pub fn accept(state: &AppState, connection: &Connection, op: Op, idempotency_key: Option<&str>, body: &[u8]) -> Reply {
    let name = connection.name.as_str();
    let input: EventInput = if body.iter().all(u8::is_ascii_whitespace) {
        EventInput::default()
    } else {
        match serde_json::from_slice(body) {
            Ok(i) => i,
            Err(e) => {
                return Reply::problem(
                    400,
                    &format!("the body is not an event ({e}); send {{\"event_id\", \"post_id\", \"tag_ids\", \"as_of\"}} as the operation needs"),
                )
            }
        }
    };
    if let Err(why) = check_input(op, &input, connection.dashboard.is_some()) {
        return Reply::problem(422, why);
    }
    let event_id = input.event_id.clone().or(idempotency_key.map(str::to_string));
    if event_id.as_ref().is_some_and(|id| id.is_empty() || id.len() > 200) {
        return Reply::problem(422, "event_id must be 1 to 200 characters");
    }
    let stored = serde_json::to_value(&input).unwrap_or(Value::Null);
    match state
        .db
        .queue_event(name, op, event_id.as_deref(), &stored, state.clock.now_ms())
    {
        Ok((run_id, duplicate)) => {
            tracing::info!(target: "ghl_rankr::serve", connection = name, operation = %op, run = run_id, duplicate, "event accepted");
            Reply::json(
                202,
                &json!({ "run_id": run_id, "duplicate": duplicate, "status_url": format!("/runs?connection={name}") }),
            )
        }
        Err(e) => Reply::problem(500, &format!("cannot queue the event: {e}")),
    }
}

/// What each operation needs from an event.
fn check_input(op: Op, input: &EventInput, has_dashboard: bool) -> Result<(), &'static str> {
    let some_ids = input.tag_ids.as_ref().is_some_and(|t| !t.is_empty());
    match op {
        Op::TagDetailsPush if !some_ids => Err("tag-details-push needs \"tag_ids\": the ids of the tags that changed"),
        Op::TagSync if input.tag_ids.is_some() && input.post_id.is_none() => {
            Err("\"tag_ids\" of tag-sync are the post's: give \"post_id\" too")
        }
        Op::StatsSync if !has_dashboard => Err("this connection has no dashboard for statistics"),
        Op::NewPosts | Op::PostsPublished | Op::Check
            if input.post_id.is_some() || input.tag_ids.is_some() || input.as_of.is_some() =>
        {
            Err("new-posts, posts-published and check take no input")
        }
        _ if op != Op::StatsSync && input.as_of.is_some() => Err("\"as_of\" goes with stats-sync only"),
        _ if !matches!(op, Op::TagSync) && input.post_id.is_some() => Err("\"post_id\" goes with tag-sync only"),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(json: &str) -> EventInput {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn each_operation_gets_only_the_input_it_takes() {
        assert!(check_input(Op::TagDetailsPush, &input(r#"{"tag_ids": ["t"]}"#), false).is_ok());
        assert!(check_input(Op::TagDetailsPush, &input("{}"), false)
            .unwrap_err()
            .contains("tag_ids"));
        assert!(check_input(Op::TagSync, &input(r#"{"tag_ids": ["t"]}"#), false)
            .unwrap_err()
            .contains("post_id"));
        assert!(check_input(Op::TagSync, &input(r#"{"post_id": "p", "tag_ids": ["t"]}"#), false).is_ok());
        assert!(check_input(Op::StatsSync, &input("{}"), false).is_err());
        assert!(check_input(Op::StatsSync, &input(r#"{"as_of": "2026-12-01"}"#), true).is_ok());
        assert!(check_input(Op::NewPosts, &input(r#"{"post_id": "p"}"#), false).is_err());
        assert!(check_input(Op::TagDetailsPush, &input(r#"{"tag_ids": ["t"], "as_of": "x"}"#), false).is_err());
    }
}
