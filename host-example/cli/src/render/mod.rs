//! Printing reports and errors for people (`--json` prints them as JSON):
//! the syncs' and `new-posts`' here, `posts-published`'s in [`published`],
//! the check's in [`check`].

pub mod check;
pub mod published;

use ghl_rankr_host::types::{
    Incomplete, NewPostsReport, Service, StopReason, SyncError, SyncReport, TagChanges, UpstreamError,
};
use serde_json::{json, Value};
use std::fmt::Write as _;

pub(crate) fn service(s: Service) -> &'static str {
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
    let c = &r.changed_tags;
    for (what, ids) in [
        ("created", &c.created),
        ("updated", &c.updated),
        ("archived", &c.archived),
    ] {
        if !ids.is_empty() {
            // Ten ids read at a glance; `--json` lists them all.
            let shown: Vec<&str> = ids.iter().take(10).map(String::as_str).collect();
            let rest = if ids.len() > shown.len() {
                format!(" … and {} more (--json lists them)", ids.len() - shown.len())
            } else {
                String::new()
            };
            let _ = writeln!(out, "  tags {what}: {}{rest}", shown.join(" "));
        }
    }
    if c.more > 0 {
        let _ = writeln!(out, "  and {} more tag changes (not listed)", c.more);
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
    error_message_for(e, &Hints::cli())
}

/// Where the credentials come from, for the hints in error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hints {
    /// Where the GHL credential is set (variables, or a file).
    pub ghl_credential: String,
    /// Where the OAuth refresh token is set.
    pub ghl_refresh: String,
    /// Where the Rankr API key is set.
    pub rankr_key: String,
    /// How to give a run more time.
    pub more_time: String,
}

impl Hints {
    /// The CLI's flags and variables.
    pub fn cli() -> Self {
        Hints {
            ghl_credential: "GHL_ACCESS_TOKEN".into(),
            ghl_refresh: "GHL_REFRESH_TOKEN / the token file".into(),
            rankr_key: "RANKR_API_KEY".into(),
            more_time: "raise --deadline or run again".into(),
        }
    }
}

/// A readable error, its hints naming where `hints` says the credentials are.
pub fn error_message_for(e: &SyncError, hints: &Hints) -> String {
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
            &format!(
                "; the refresh token was refused: authorize the connection again and update {}",
                hints.ghl_refresh
            ),
        ),
        SyncError::CredentialStore(m) => format!(
            "could not store the rotated GHL tokens: {m}; the old refresh token is spent, so fix where the tokens are kept before the next run"
        ),
        SyncError::DeadlineExceeded(m) => format!("deadline exceeded: {m}; {}", hints.more_time),
        SyncError::Unauthorized(u) => {
            let hint = match u.service {
                Service::Ghl => &hints.ghl_credential,
                Service::Rankr => &hints.rankr_key,
            };
            upstream("unauthorized", u, &format!("; check {hint}"))
        }
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
        "changed_tags": changes_json(&r.changed_tags),
        "writes": r.writes.iter().map(|w| {
            let mut v = json!({"method": w.method, "path": w.path, "items": w.items});
            if !w.body.is_empty() {
                v["body"] = json!(w.body);
            }
            v
        }).collect::<Vec<_>>(),
    })
}

fn changes_json(c: &TagChanges) -> Value {
    json!({"created": c.created, "updated": c.updated, "archived": c.archived, "more": c.more})
}

/// A readable summary of a `new-posts` poll.
pub fn posts_summary(r: &NewPostsReport) -> String {
    let mut out = String::new();
    let head = if r.baseline {
        format!(
            "new-posts: baseline recorded ({} posts exist in the window; none emitted, the next call emits what is new)",
            r.fetched
        )
    } else {
        format!("new-posts: {} new", r.posts.len())
    };
    let _ = match &r.incomplete {
        None => writeln!(out, "{head}"),
        Some(i) => writeln!(out, "{head}; incomplete: {}", incomplete_message(i)),
    };
    for p in &r.posts {
        let _ = writeln!(
            out,
            "  {} {} {} {} tags: {}",
            p.created_at,
            p.id,
            p.platform.as_deref().unwrap_or("-"),
            p.status.as_deref().unwrap_or("-"),
            if p.tag_ids.is_empty() {
                "none".to_string()
            } else {
                p.tag_ids.join(" ")
            }
        );
    }
    if r.more {
        let _ = writeln!(out, "  more new posts wait: run again now");
    }
    if r.evicted > 0 {
        let _ = writeln!(
            out,
            "  {} remembered ids were forgotten (the state's cap): those posts could come again",
            r.evicted
        );
    }
    let _ = writeln!(
        out,
        "  read {} posts in {} requests ({} retries)",
        r.fetched, r.requests, r.retries
    );
    if !r.errors.is_empty() {
        let _ = writeln!(out, "  item errors:");
        for e in &r.errors {
            let _ = writeln!(out, "    {} [{}]: {}", e.item, service(e.service), e.message);
        }
    }
    out
}

/// A `new-posts` report as JSON.
pub fn posts_json(r: &NewPostsReport) -> Value {
    json!({
        "posts": r.posts.iter().map(|p| json!({
            "id": p.id, "created_at": p.created_at, "updated_at": p.updated_at, "status": p.status,
            "platform": p.platform, "account_id": p.account_id, "tag_ids": p.tag_ids,
        })).collect::<Vec<_>>(),
        "baseline": r.baseline,
        "more": r.more,
        "fetched": r.fetched,
        "evicted": r.evicted,
        "errors": r.errors.iter().map(|e| json!({
            "item": e.item, "service": service_name(e.service), "message": e.message,
        })).collect::<Vec<_>>(),
        "requests": r.requests,
        "retries": r.retries,
        "complete": r.incomplete.is_none(),
        "incomplete": r.incomplete.as_ref().map(|i| json!({"resume_after_ms": i.resume_after_ms, "message": incomplete_message(i)})),
        "state_bytes": r.state.len(),
        "tokens_rotated": r.rotated_tokens.is_some(),
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

/// The catalog for people: each operation and trigger, its kind, delivery
/// and scopes (`--json` prints the document with its schemas).
pub fn catalog_summary(catalog: &Value) -> String {
    let mut out = String::new();
    let text = |v: &Value| v.as_str().unwrap_or("").to_string();
    let _ = writeln!(out, "{} {}", text(&catalog["catalog"]), text(&catalog["version"]));
    for op in catalog["operations"].as_array().into_iter().flatten() {
        let scopes: Vec<String> = op["scopes"].as_array().into_iter().flatten().map(text).collect();
        let _ = writeln!(
            out,
            "\n{} ({}, {}): {}\n  scopes: {}",
            text(&op["name"]),
            text(&op["kind"]),
            text(&op["delivery"]),
            text(&op["title"]),
            scopes.join(" ")
        );
        for c in op["conditional-scopes"].as_array().into_iter().flatten() {
            let _ = writeln!(out, "  and {} when {}", text(&c["scope"]), text(&c["when"]));
        }
        let _ = writeln!(out, "  {}", text(&op["description"]));
    }
    let _ = writeln!(
        out,
        "\nghl-rankr describe --json prints the JSON Schemas of inputs, outputs and settings."
    );
    out
}
