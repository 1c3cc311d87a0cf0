//! Printing reports and errors for people (`--json` prints them as JSON).

use crate::types::{Service, SyncError, SyncReport, UpstreamError};
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
    let _ = writeln!(out, "{operation}: ok{mode}");
    let _ = writeln!(
        out,
        "  fetched {} · created {} · updated {} · unchanged {} · archived {} · rejected {}",
        r.fetched, r.created, r.updated, r.unchanged, r.archived, r.rejected
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

/// Exit status for an error: 2 for configuration, 1 otherwise.
pub fn exit_code(e: &SyncError) -> i32 {
    match e {
        SyncError::InvalidConfig(_) => 2,
        _ => 1,
    }
}
