//! Printing reports and errors for people (`--json` prints them as JSON).

use ghl_rankr_host::types::{Incomplete, Service, StopReason, SyncError, SyncReport, UpstreamError};
use serde_json::{json, Value};
use std::fmt::Write as _;

fn service(s: Service) -> &'static str {
    match s {
        Service::Ghl => "GHL",
        Service::Rankr => "Rankr",
    }
}

/// A readable summary of a report.
pub fn summary(operation: &str, r: &SyncReport) -> String {
    let mut out = String::new();
    let mode = if r.dry_run { " (dry run: nothing written)" } else { "" };
    match &r.incomplete {
        None => {
            let _ = writeln!(out, "{operation}: ok{mode}");
        }
        Some(i) => {
            let _ = writeln!(out, "{operation}: incomplete{mode}: {}", incomplete_message(i));
        }
    }
    let _ = writeln!(
        out,
        "  fetched {} · created {} · updated {} · unchanged {} · archived {} · rejected {} · skipped (unchanged since last run) {}",
        r.fetched, r.created, r.updated, r.unchanged, r.archived, r.rejected, r.skipped
    );
    if let Some(n) = r.post_tags_applied {
        let _ = writeln!(out, "  post tags applied: {n}");
    }
    let _ = writeln!(out, "  requests: {} ({} retries)", r.requests, r.retries);
    if !r.writes.is_empty() {
        let verb = if r.dry_run { "would write" } else { "wrote" };
        let _ = writeln!(out, "  {verb}:");
        for w in &r.writes {
            let _ = writeln!(out, "    {} {} ({} items)", w.method, w.path, w.items);
        }
    }
    if !r.errors.is_empty() {
        let _ = writeln!(out, "  item errors:");
        for e in &r.errors {
            let _ = writeln!(out, "    {} [{}]: {}", e.item, service(e.service), e.message);
        }
    }
    out
}

fn upstream(kind: &str, e: &UpstreamError, hint: &str) -> String {
    format!(
        "{kind}: {} answered {} at {}: {}{hint}",
        service(e.service),
        e.status,
        e.endpoint,
        e.message
    )
}

/// The error's message, with what to do about it.
pub fn error_message(e: &SyncError) -> String {
    match e {
        SyncError::InvalidConfig(m) => format!("invalid configuration: {m}"),
        SyncError::MissingScope(m) => format!(
            "missing scope: {} needs `{}`, which the GHL credential was not granted (granted: {}); add it to the app and authorize again",
            m.operation,
            m.scope,
            if m.granted.is_empty() { "none".to_string() } else { m.granted.join(" ") }
        ),
        SyncError::ReauthorizationRequired(u) => upstream(
            "reauthorization required",
            u,
            "; the refresh token was refused: authorize the connection again and update GHL_REFRESH_TOKEN / the token file",
        ),
        SyncError::CredentialStore(m) => format!(
            "could not store the rotated GHL tokens: {m}; the old refresh token is spent, so fix the token file's location before the next run"
        ),
        SyncError::DeadlineExceeded(m) => format!("deadline exceeded: {m}; raise --deadline or run again"),
        SyncError::Unauthorized(u) => upstream("unauthorized", u, "; check GHL_ACCESS_TOKEN / RANKR_API_KEY"),
        SyncError::Forbidden(u) => upstream("forbidden", u, "; check the token's scopes and location"),
        SyncError::RateLimited(r) => {
            let after = r
                .retry_after_ms
                .map(|ms| format!("; retry after {} s", ms.div_ceil(1000)))
                .unwrap_or_default();
            format!(
                "rate limited by {} at {}: {}{after}",
                service(r.service),
                r.endpoint,
                r.message
            )
        }
        SyncError::Upstream(u) => upstream("upstream error", u, ""),
        SyncError::InvalidResponse(i) => format!(
            "invalid response from {} at {}: field `{}`: {}",
            service(i.service),
            i.endpoint,
            i.field,
            i.message
        ),
        SyncError::Transport(t) => format!("no answer from {} at {}: {}", service(t.service), t.endpoint, t.message),
    }
}

/// Why a report is incomplete and what to do.
pub fn incomplete_message(i: &Incomplete) -> String {
    let why = match &i.reason {
        StopReason::Deadline => "the deadline ran out".to_string(),
        StopReason::RateLimited(r) => format!("{} rate budget ran out: {}", service(r.service), r.message),
    };
    let when = match i.resume_after_ms {
        Some(ms) => format!("run again after {} s", ms.div_ceil(1000)),
        None => "run again".to_string(),
    };
    format!("{why}; {when} with the same state to resume where it stopped")
}

/// Exit status for an error: 2 for configuration (settings, event, state,
/// scopes), 4 when a user must authorize the connection again, 1 otherwise.
/// (3 is an incomplete, resumable run.)
pub fn exit_code(e: &SyncError) -> i32 {
    match e {
        SyncError::InvalidConfig(_) | SyncError::MissingScope(_) => 2,
        SyncError::ReauthorizationRequired(_) => 4,
        _ => 1,
    }
}

/// The WIT name of a service: `ghl`, `rankr`.
pub fn service_name(s: Service) -> &'static str {
    match s {
        Service::Ghl => "ghl",
        Service::Rankr => "rankr",
    }
}

/// A report as JSON, with the WIT's field and case names.
pub fn report_json(r: &SyncReport) -> Value {
    json!({
        "fetched": r.fetched,
        "created": r.created,
        "updated": r.updated,
        "unchanged": r.unchanged,
        "archived": r.archived,
        "rejected": r.rejected,
        "errors": r.errors.iter().map(|e| json!({
            "item": e.item,
            "service": service_name(e.service),
            "message": e.message,
        })).collect::<Vec<_>>(),
        "post_tags_applied": r.post_tags_applied,
        "requests": r.requests,
        "retries": r.retries,
        "dry_run": r.dry_run,
        "skipped": r.skipped,
        "complete": r.incomplete.is_none(),
        "incomplete": r.incomplete.as_ref().map(|i| json!({
            "reason": match &i.reason { StopReason::Deadline => "deadline", StopReason::RateLimited(_) => "rate-limited" },
            "resume_after_ms": i.resume_after_ms,
            "message": incomplete_message(i),
        })),
        "state_bytes": r.state.len(),
        "tokens_rotated": r.rotated_tokens.is_some(),
        "writes": r.writes.iter().map(|w| {
            let mut v = json!({"method": w.method, "path": w.path, "items": w.items});
            if !w.body.is_empty() {
                v["body"] = json!(w.body);
            }
            v
        }).collect::<Vec<_>>(),
    })
}

/// An error as JSON: `kind` is the WIT case name; `message` is
/// [`error_message`].
pub fn error_json(e: &SyncError) -> Value {
    let upstream = |kind: &str, u: &UpstreamError| json!({"kind": kind, "service": service_name(u.service), "endpoint": u.endpoint, "status": u.status, "server_message": u.message});
    let mut v = match e {
        SyncError::InvalidConfig(_) => json!({"kind": "invalid-config"}),
        SyncError::MissingScope(m) => {
            json!({"kind": "missing-scope", "operation": m.operation, "scope": m.scope, "granted": m.granted})
        }
        SyncError::ReauthorizationRequired(u) => upstream("reauthorization-required", u),
        SyncError::CredentialStore(_) => json!({"kind": "credential-store"}),
        SyncError::DeadlineExceeded(_) => json!({"kind": "deadline-exceeded"}),
        SyncError::Unauthorized(u) => upstream("unauthorized", u),
        SyncError::Forbidden(u) => upstream("forbidden", u),
        SyncError::Upstream(u) => upstream("upstream", u),
        SyncError::RateLimited(r) => json!({"kind": "rate-limited", "service": service_name(r.service),
            "endpoint": r.endpoint, "retry_after_ms": r.retry_after_ms, "server_message": r.message}),
        SyncError::InvalidResponse(i) => json!({"kind": "invalid-response", "service": service_name(i.service),
            "endpoint": i.endpoint, "field": i.field}),
        SyncError::Transport(t) => {
            json!({"kind": "transport", "service": service_name(t.service), "endpoint": t.endpoint})
        }
    };
    v["message"] = json!(error_message(e));
    v
}
