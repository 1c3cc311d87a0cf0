//! The read-only endpoints: probes, metrics, run history and the page.

use crate::serve::page;
use crate::serve::reply::Reply;
use crate::serve::state::AppState;
use crate::serve::view::{audit_json, run_json};
use ghl_rankr_host::clock::Clock;
use serde_json::json;
use std::sync::atomic::Ordering;

/// `/readyz` fails when the scheduler has not gone round for this long.
const READY_TICK_MS: u64 = 5_000;

/// `GET /healthz`: the database answers.
pub fn healthz(state: &AppState) -> Reply {
    if state.db.ping() {
        Reply::text(200, "ok\n")
    } else {
        Reply::text(503, "the database does not answer\n")
    }
}

/// `GET /readyz`: and the scheduler went round lately, and no stop is
/// under way.
pub fn readyz(state: &AppState) -> Reply {
    let now = state.clock.now_ms();
    let tick = state.last_tick_ms.load(Ordering::SeqCst);
    if state.stopping.load(Ordering::SeqCst) {
        Reply::text(503, "stopping\n")
    } else if !state.db.ping() {
        Reply::text(503, "the database does not answer\n")
    } else if now.saturating_sub(tick) > READY_TICK_MS {
        Reply::text(
            503,
            format!("the scheduler has not run for {} ms\n", now.saturating_sub(tick)),
        )
    } else {
        Reply::text(200, "ready\n")
    }
}

/// `GET /metrics`: Prometheus text.
pub fn metrics(state: &AppState) -> Reply {
    Reply {
        content_type: "application/openmetrics-text; version=1.0.0; charset=utf-8",
        ..Reply::text(200, state.metrics.encode())
    }
}

/// `GET /runs?connection=&limit=`: run history, newest first.
pub fn runs(state: &AppState, query: &str) -> Reply {
    let mut connection = None;
    let mut limit = 50u32;
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        match k.as_ref() {
            "connection" if !v.is_empty() => connection = Some(v.into_owned()),
            "connection" => {}
            "limit" => match v.parse::<u32>() {
                Ok(n) if (1..=1000).contains(&n) => limit = n,
                _ => return Reply::problem(400, "limit must be a number from 1 to 1000"),
            },
            other => return Reply::problem(400, &format!("unknown parameter {other:?}; use connection and limit")),
        }
    }
    if let Some(c) = &connection {
        if state.connection(c).is_none() && !state.db.knows(c).unwrap_or(false) {
            return Reply::problem(404, &format!("no connection named {c:?}"));
        }
    }
    match state.db.runs(connection.as_deref(), limit) {
        Ok(rows) => Reply::json(200, &json!({ "runs": rows.iter().map(run_json).collect::<Vec<_>>() })),
        Err(e) => Reply::problem(500, &format!("cannot read the run history: {e}")),
    }
}

/// `GET /`: the status page.
pub fn page(state: &AppState) -> Reply {
    match page::render(state) {
        // The page runs no script and is framed by no one.
        Ok(html) => Reply::html(html)
            .with_header(
                "Content-Security-Policy",
                "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
            )
            .with_header("X-Frame-Options", "DENY")
            .with_header("Referrer-Policy", "no-referrer"),
        Err(e) => Reply::text(500, format!("cannot read the database: {e}\n")),
    }
}

/// `GET /audit?limit=`: the audit log, newest first.
pub fn audit(state: &AppState, query: &str) -> Reply {
    let mut limit = 100u32;
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        match (k.as_ref(), v.parse::<u32>()) {
            ("limit", Ok(n)) if (1..=1000).contains(&n) => limit = n,
            ("limit", _) => return Reply::problem(400, "limit must be a number from 1 to 1000"),
            (other, _) => return Reply::problem(400, &format!("unknown parameter {other:?}; use limit")),
        }
    }
    match state.db.audit(limit) {
        Ok(rows) => Reply::json(
            200,
            &json!({ "audit": rows.iter().map(audit_json).collect::<Vec<_>>() }),
        ),
        Err(e) => Reply::problem(500, &format!("cannot read the audit log: {e}")),
    }
}
