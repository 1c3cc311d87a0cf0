//! How the service's rows are shown: times, a run's JSON form, a
//! connection's state in words. One place for the status page, `/runs`,
//! `status` and the alerts.

use super::audit::Entry;
use super::db::{Overview, RunRow};
use super::model::Outcome;
use serde_json::{json, Value};

/// RFC 3339 in UTC, or null.
pub fn iso(ms: Option<u64>) -> Value {
    match ms.and_then(|ms| time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok()) {
        Some(t) => t
            .format(&time::format_description::well_known::Rfc3339)
            .map(Value::String)
            .unwrap_or(Value::Null),
        None => Value::Null,
    }
}

/// An instant as `2026-12-01 10:30:00` (UTC, to the second), or "—".
pub fn when(ms: Option<u64>) -> String {
    match iso(ms.map(|ms| ms - ms % 1000)) {
        Value::String(s) => s.replace('T', " ").trim_end_matches('Z').to_string(),
        _ => "—".into(),
    }
}

/// A run as `/runs` and `status --json` give it.
pub fn run_json(run: &RunRow) -> Value {
    json!({
        "id": run.id,
        "connection": run.connection,
        "operation": run.operation.as_str(),
        "trigger": run.trigger.as_str(),
        "input": run.input,
        "queued_at": iso(Some(run.queued_ms)),
        "started_at": iso(run.started_ms),
        "ended_at": iso(run.ended_ms),
        "outcome": run.outcome.as_str(),
        "counters": run.counters,
        "error": run.error,
    })
}

/// An audit row as `/audit` and `ghl-rankr audit --json` give it.
pub fn audit_json(entry: &Entry) -> Value {
    json!({
        "id": entry.id,
        "at": iso(Some(entry.at_ms)),
        "actor": entry.actor,
        "address": entry.address,
        "action": entry.action.as_str(),
        "target": entry.target,
        "outcome": entry.verdict.as_str(),
        "detail": entry.detail,
    })
}

/// How a connection is doing, as a word and the page's CSS class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateWords {
    pub text: String,
    pub class: &'static str,
}

/// A connection's state in words.
pub fn state(o: Option<&Overview>) -> StateWords {
    let (text, class) = match o {
        Some(o) if o.health.paused.is_some() => (
            format!("paused: {}", o.health.paused.as_deref().unwrap_or("")),
            "paused",
        ),
        Some(o) if o.health.consecutive_failures > 0 => (
            format!("failing ({} in a row)", o.health.consecutive_failures),
            "failing",
        ),
        Some(o) if o.last_run.is_some() => ("ok".into(), "ok"),
        _ => ("waiting for its first run".into(), "ok"),
    };
    StateWords { text, class }
}

/// The last check in words: passed, or what failed, and when.
pub fn check_cell(run: Option<&RunRow>) -> StateWords {
    match run {
        None => StateWords {
            text: "not checked".into(),
            class: "ok",
        },
        Some(r) if r.outcome == Outcome::Ok => StateWords {
            text: format!("✔ {}", when(r.ended_ms)),
            class: "ok",
        },
        Some(r) if matches!(r.outcome, Outcome::Queued | Outcome::Running) => StateWords {
            text: "checking".into(),
            class: "ok",
        },
        Some(r) => StateWords {
            text: format!(
                "✘ {}: {}",
                when(r.ended_ms),
                r.error.as_deref().unwrap_or("interrupted")
            ),
            class: "failing",
        },
    }
}

/// A run in one line: operation, outcome, when.
pub fn run_line(run: &RunRow) -> String {
    format!(
        "{} · {} · {}",
        run.operation,
        run.outcome,
        when(run.ended_ms.or(run.started_ms))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_are_shown_in_utc_to_the_second() {
        assert_eq!(iso(Some(1_796_121_000_123)), json!("2026-12-01T10:30:00.123Z"));
        assert_eq!(when(Some(1_796_121_000_123)), "2026-12-01 10:30:00");
        assert_eq!((iso(None), when(None)), (Value::Null, "—".to_string()));
    }
}
