//! The service's HTTP endpoints (loopback by default):
//!
//! - `GET /healthz`: the database answers.
//! - `GET /readyz`: and the scheduler went round in the last 5 s, and no
//!   stop is under way.
//! - `GET /metrics`: Prometheus text.
//! - `GET /runs?connection=&limit=`: run history, newest first, as JSON.
//! - `POST /connections/{name}/run/{operation}`: an event. Bearer token
//!   from the variable `event_token_env` names; optional JSON body
//!   ([`EventInput`]); `202 {"run_id": …}`; an event id seen in the last
//!   24 h is acknowledged with its first run and not run again.
//! - `GET /`: the status page.

use super::model::{EventInput, Op};
use super::Service;
use ghl_rankr_host::clock::Clock;
use serde_json::{json, Value};
use std::io::Read as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tiny_http::{Header, Method, Request, Response};

/// Largest event body read.
const MAX_BODY: u64 = 64 * 1024;
/// `/readyz` fails when the scheduler has not gone round for this long.
const READY_TICK_MS: u64 = 5_000;

/// Serves until `stop` is raised.
pub fn serve(svc: Arc<Service>, server: tiny_http::Server, stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::SeqCst) {
        match server.recv_timeout(Duration::from_millis(200)) {
            Ok(Some(request)) => handle(&svc, request),
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(target: "ghl_rankr::serve", error = %e, "HTTP accept failed");
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    }
}

struct Answer {
    status: u16,
    content_type: &'static str,
    body: String,
    extra: Option<(&'static str, &'static str)>,
}

fn text(status: u16, body: impl Into<String>) -> Answer {
    Answer {
        status,
        content_type: "text/plain; charset=utf-8",
        body: body.into(),
        extra: None,
    }
}

fn json_answer(status: u16, v: &Value) -> Answer {
    Answer {
        status,
        content_type: "application/json",
        body: serde_json::to_string_pretty(v).unwrap_or_default(),
        extra: None,
    }
}

fn problem(status: u16, message: &str) -> Answer {
    json_answer(status, &json!({ "error": message }))
}

fn handle(svc: &Arc<Service>, mut request: Request) {
    let url = request.url().to_string();
    let (path, query) = url.split_once('?').unwrap_or((&url, ""));
    let path = path.to_string();
    let method = request.method().clone();
    let answer = match (&method, path.as_str()) {
        (Method::Get, "/healthz") => {
            if svc.db.ping() {
                text(200, "ok\n")
            } else {
                text(503, "the database does not answer\n")
            }
        }
        (Method::Get, "/readyz") => ready(svc),
        (Method::Get, "/metrics") => Answer {
            status: 200,
            content_type: "application/openmetrics-text; version=1.0.0; charset=utf-8",
            body: svc.metrics.encode(),
            extra: None,
        },
        (Method::Get, "/runs") => runs(svc, query),
        (Method::Get, "/") => match super::page::render(svc) {
            Ok(html) => Answer {
                status: 200,
                content_type: "text/html; charset=utf-8",
                body: html,
                extra: None,
            },
            Err(e) => text(500, format!("cannot read the database: {e}\n")),
        },
        (Method::Post, p) if p.starts_with("/connections/") => event(svc, p, &mut request),
        (_, "/healthz" | "/readyz" | "/metrics" | "/runs" | "/") => problem(405, "use GET"),
        (_, p) if p.starts_with("/connections/") => problem(405, "use POST"),
        _ => problem(
            404,
            "no such endpoint; see /, /healthz, /readyz, /metrics, /runs and POST /connections/{name}/run/{operation}",
        ),
    };
    let mut response = Response::from_string(answer.body).with_status_code(answer.status);
    let headers = [("Content-Type", answer.content_type), ("Cache-Control", "no-store")]
        .into_iter()
        .chain(answer.extra);
    for (name, value) in headers {
        if let Ok(h) = Header::from_bytes(name.as_bytes(), value.as_bytes()) {
            response.add_header(h);
        }
    }
    if let Err(e) = request.respond(response) {
        tracing::debug!(target: "ghl_rankr::serve", error = %e, "the HTTP client went away");
    }
}

fn ready(svc: &Service) -> Answer {
    let now = svc.clock.now_ms();
    let tick = svc.last_tick_ms.load(Ordering::SeqCst);
    if svc.stopping.load(Ordering::SeqCst) {
        text(503, "stopping\n")
    } else if !svc.db.ping() {
        text(503, "the database does not answer\n")
    } else if now.saturating_sub(tick) > READY_TICK_MS {
        text(
            503,
            format!("the scheduler has not run for {} ms\n", now.saturating_sub(tick)),
        )
    } else {
        text(200, "ready\n")
    }
}

fn runs(svc: &Service, query: &str) -> Answer {
    let mut connection = None;
    let mut limit = 50u32;
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        match k.as_ref() {
            "connection" if !v.is_empty() => connection = Some(v.into_owned()),
            "connection" => {}
            "limit" => match v.parse::<u32>() {
                Ok(n) if (1..=1000).contains(&n) => limit = n,
                _ => return problem(400, "limit must be a number from 1 to 1000"),
            },
            other => return problem(400, &format!("unknown parameter {other:?}; use connection and limit")),
        }
    }
    if let Some(c) = &connection {
        if svc.config.connection(c).is_none() {
            return problem(404, &format!("no connection named {c:?}"));
        }
    }
    match svc.db.runs(connection.as_deref(), limit) {
        Ok(rows) => json_answer(
            200,
            &json!({ "runs": rows.iter().map(|r| r.to_json()).collect::<Vec<_>>() }),
        ),
        Err(e) => problem(500, &format!("cannot read the run history: {e}")),
    }
}

/// `POST /connections/{name}/run/{operation}`.
fn event(svc: &Service, path: &str, request: &mut Request) -> Answer {
    let Some(expected) = &svc.event_token else {
        return problem(
            403,
            &format!(
                "event intake is off: set {} to a long random token and restart",
                svc.config.event_token_env
            ),
        );
    };
    let header = |request: &Request, name: &'static str| {
        request
            .headers()
            .iter()
            .find(|h| h.field.equiv(name))
            .map(|h| h.value.as_str().to_string())
    };
    let presented = header(request, "Authorization")
        .and_then(|v| v.strip_prefix("Bearer ").map(|t| t.trim().to_string()))
        .unwrap_or_default();
    if !constant_time_eq::constant_time_eq(presented.as_bytes(), expected.expose().as_bytes()) {
        let mut a = problem(401, "a valid bearer token is required");
        a.extra = Some(("WWW-Authenticate", "Bearer"));
        return a;
    }
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let (name, op) = match parts.as_slice() {
        ["connections", name, "run", op] => (*name, *op),
        _ => return problem(404, "use POST /connections/{name}/run/{operation}"),
    };
    let Some(connection) = svc.config.connection(name) else {
        return problem(404, &format!("no connection named {name:?}"));
    };
    let Some(op) = Op::parse(op) else {
        let names: Vec<&str> = Op::ALL.iter().map(|o| o.as_str()).collect();
        return problem(404, &format!("no operation {op:?}; use one of {}", names.join(", ")));
    };
    let idempotency_key = header(request, "Idempotency-Key");
    let mut body = Vec::new();
    if let Err(e) = request.as_reader().take(MAX_BODY + 1).read_to_end(&mut body) {
        return problem(400, &format!("cannot read the body: {e}"));
    }
    if body.len() as u64 > MAX_BODY {
        return problem(413, "the body is over 64 KiB");
    }
    let input: EventInput = if body.iter().all(u8::is_ascii_whitespace) {
        EventInput::default()
    } else {
        match serde_json::from_slice(&body) {
            Ok(i) => i,
            Err(e) => {
                return problem(
                    400,
                    &format!("the body is not an event ({e}); send {{\"event_id\", \"post_id\", \"tag_ids\", \"as_of\"}} as the operation needs"),
                )
            }
        }
    };
    if let Err(why) = check_input(op, &input, connection.dashboard.is_some()) {
        return problem(422, &why);
    }
    let event_id = input.event_id.clone().or(idempotency_key);
    if event_id.as_ref().is_some_and(|id| id.is_empty() || id.len() > 200) {
        return problem(422, "event_id must be 1 to 200 characters");
    }
    let stored = serde_json::to_value(&input).unwrap_or(Value::Null);
    match svc
        .db
        .queue_event(name, op, event_id.as_deref(), &stored, svc.clock.now_ms())
    {
        Ok((run_id, duplicate)) => {
            tracing::info!(target: "ghl_rankr::serve", connection = name, operation = %op, run = run_id, duplicate, "event accepted");
            json_answer(
                202,
                &json!({ "run_id": run_id, "duplicate": duplicate, "status_url": format!("/runs?connection={name}") }),
            )
        }
        Err(e) => problem(500, &format!("cannot queue the event: {e}")),
    }
}

/// What each operation needs from an event.
fn check_input(op: Op, input: &EventInput, has_dashboard: bool) -> Result<(), String> {
    let some_ids = input.tag_ids.as_ref().is_some_and(|t| !t.is_empty());
    match op {
        Op::TagDetailsPush if !some_ids => {
            Err("tag-details-push needs \"tag_ids\": the ids of the tags that changed".into())
        }
        Op::TagSync if input.tag_ids.is_some() && input.post_id.is_none() => {
            Err("\"tag_ids\" of tag-sync are the post's: give \"post_id\" too".into())
        }
        Op::StatsSync if !has_dashboard => Err("this connection has no dashboard for statistics".into()),
        Op::NewPosts if input.post_id.is_some() || input.tag_ids.is_some() || input.as_of.is_some() => {
            Err("new-posts takes no input".into())
        }
        _ if op != Op::StatsSync && input.as_of.is_some() => Err("\"as_of\" goes with stats-sync only".into()),
        _ if !matches!(op, Op::TagSync) && input.post_id.is_some() => Err("\"post_id\" goes with tag-sync only".into()),
        _ => Ok(()),
    }
}
