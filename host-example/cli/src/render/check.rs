//! A check's report: a table (✔ or ✘ a line, the fix beside each ✘), JSON,
//! and the exit status it calls for.

use super::service;
use ghl_rankr_host::types::{CheckItem, CheckOutcome, CheckReport};
use serde_json::{json, Value};
use std::fmt::Write as _;

/// The outcome's WIT case name and its words.
fn outcome(o: &CheckOutcome) -> (&'static str, &str) {
    match o {
        CheckOutcome::Ok => ("ok", ""),
        CheckOutcome::NotChecked(m) => ("not-checked", m),
        CheckOutcome::Unauthorized(m) => ("unauthorized", m),
        CheckOutcome::MissingScope(m) => ("missing-scope", m),
        CheckOutcome::UnknownLocation(m) => ("unknown-location", m),
        CheckOutcome::UnknownDashboard(m) => ("unknown-dashboard", m),
        CheckOutcome::Unreachable(m) => ("unreachable", m),
        CheckOutcome::Tls(m) => ("tls", m),
        CheckOutcome::RateLimited(m) => ("rate-limited", m),
        CheckOutcome::Failed(m) => ("failed", m),
    }
}

/// Where to look for a refused credential, as this host keeps it.
pub fn hint(item: &CheckItem, hints: &super::Hints) -> Option<String> {
    if !matches!(item.outcome, CheckOutcome::Unauthorized(_)) {
        return None;
    }
    Some(match (item.service, item.what.as_str()) {
        (ghl_rankr_host::types::Service::Rankr, _) => format!("check {}", hints.rankr_key),
        (_, "ghl-credential") => format!("authorize again and update {}", hints.ghl_refresh),
        _ => format!("check {}", hints.ghl_credential),
    })
}

/// Whether the item passed (`ok`, or not tried for a reason of its own).
pub fn passed(item: &CheckItem) -> bool {
    matches!(item.outcome, CheckOutcome::Ok | CheckOutcome::NotChecked(_))
}

/// The exit status: 0 all passed, 2 a configuration or credential problem
/// (a credential refused, a scope missing, a location or dashboard
/// unknown), 1 otherwise (unreachable, TLS, rate limited, another answer).
pub fn exit_code(r: &CheckReport) -> u8 {
    let credential = |o: &CheckOutcome| {
        matches!(
            o,
            CheckOutcome::Unauthorized(_)
                | CheckOutcome::MissingScope(_)
                | CheckOutcome::UnknownLocation(_)
                | CheckOutcome::UnknownDashboard(_)
        )
    };
    if r.items.iter().all(passed) {
        0
    } else if r.items.iter().any(|i| credential(&i.outcome)) {
        2
    } else {
        1
    }
}

/// The table.
pub fn table(r: &CheckReport, hints: &super::Hints) -> String {
    let mut out = String::new();
    let width = r.items.iter().map(|i| i.what.len()).max().unwrap_or(0);
    for item in &r.items {
        let (kind, words) = outcome(&item.outcome);
        let mark = if passed(item) { "✔" } else { "✘" };
        let latency = if item.endpoint.is_empty() {
            String::new()
        } else {
            format!(" {} ms", item.latency_ms)
        };
        let _ = write!(
            out,
            "{mark} {:width$}  {:5}  {}{latency}",
            item.what,
            service(item.service),
            item.operations.join(", "),
        );
        match &item.outcome {
            CheckOutcome::Ok => out.push('\n'),
            CheckOutcome::NotChecked(_) => {
                let _ = writeln!(out, "  (not checked: {words})");
            }
            _ => {
                let status = item.status.map(|s| format!(" {s}")).unwrap_or_default();
                let _ = writeln!(out, "\n    {kind}{status}: {words}");
                if !item.fix.is_empty() {
                    let _ = writeln!(out, "    fix: {}", item.fix);
                }
                if let Some(h) = hint(item, hints) {
                    let _ = writeln!(out, "    ({h})");
                }
            }
        }
    }
    if let Some(h) = &r.rate_limit {
        let n = |v: Option<u32>| v.map_or("?".to_string(), |v| v.to_string());
        let _ = writeln!(
            out,
            "GHL's rate budget: {} of {} left per {} ms; {} of {} left today",
            n(h.remaining),
            n(h.max),
            h.interval_ms.map_or("?".into(), |v| v.to_string()),
            n(h.daily_remaining),
            n(h.daily_limit)
        );
    }
    let failed = r.items.iter().filter(|i| !passed(i)).count();
    let _ = writeln!(
        out,
        "{} ({} requests, nothing written)",
        if failed == 0 {
            "all checks passed".to_string()
        } else {
            format!("{failed} of {} checks failed", r.items.len())
        },
        r.requests
    );
    out
}

/// As JSON, with the WIT's case names.
pub fn json(r: &CheckReport) -> Value {
    json!({
        "ok": r.ok,
        "items": r.items.iter().map(|i| {
            let (kind, words) = outcome(&i.outcome);
            json!({
                "what": i.what, "service": super::service_name(i.service), "endpoint": i.endpoint,
                "operations": i.operations, "outcome": kind, "message": words, "fix": i.fix,
                "status": i.status, "latency_ms": i.latency_ms,
            })
        }).collect::<Vec<_>>(),
        "rate_limit": r.rate_limit.as_ref().map(|h| json!({
            "max": h.max, "remaining": h.remaining, "interval_ms": h.interval_ms,
            "daily_limit": h.daily_limit, "daily_remaining": h.daily_remaining,
        })),
        "requests": r.requests,
        "tokens_rotated": r.rotated_tokens.is_some(),
    })
}
