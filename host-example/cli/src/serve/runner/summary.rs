//! What a run's answer comes to: its outcome, the counters kept in the run
//! history, the error in words, the state to commit and the posts to
//! queue.

use super::error::RunError;
use crate::invoke::OpResult;
use crate::render;
use crate::serve::db::QueuedPost;
use crate::serve::model::Outcome;
use ghl_rankr_host::types::{CheckOutcome, CheckReport, PublishedPost};
use ghl_rankr_host::types::{Incomplete, SyncError, SyncReport};
use serde_json::Value;

/// What a run's answer comes to.
#[derive(Debug)]
pub struct Summary<'a> {
    pub outcome: Outcome,
    /// The report's JSON form, for the run history.
    pub counters: Option<Value>,
    pub error: Option<String>,
    /// The OAuth refresh was refused: the connection pauses.
    pub reauthorization_required: bool,
    /// GHL refused the access token (401).
    pub ghl_refused: bool,
    pub items: u64,
    pub retries: u32,
    /// The state to commit with the outcome.
    pub state: Option<&'a [u8]>,
    pub resume_after_ms: Option<u64>,
    /// The trigger has more posts right away.
    pub more: bool,
    /// Posts the trigger found, to queue.
    pub found: Vec<QueuedPost>,
    /// Posts that went live, for their follow-up statistics.
    pub published: Vec<PublishedPost>,
}

impl Summary<'_> {
    fn nothing(outcome: Outcome, error: Option<String>) -> Self {
        Summary {
            outcome,
            counters: None,
            error,
            reauthorization_required: false,
            ghl_refused: false,
            items: 0,
            retries: 0,
            state: None,
            resume_after_ms: None,
            more: false,
            found: Vec::new(),
            published: Vec::new(),
        }
    }
}

/// The summary of `answer`. `draining`: the stop's grace period is over,
/// so refused requests are the stop, not a failure.
pub fn summarize<'a>(answer: &'a Result<OpResult, RunError>, draining: bool, hints: &render::Hints) -> Summary<'a> {
    let ended = |incomplete: &Option<Incomplete>| match incomplete {
        Some(_) => Outcome::Incomplete,
        None => Outcome::Ok,
    };
    match answer {
        Err(e) => Summary {
            reauthorization_required: e.needs_consent(),
            ..Summary::nothing(Outcome::Failed, Some(e.to_string()))
        },
        Ok(OpResult::Sync(Ok(r))) => Summary {
            counters: Some(history_json(render::report_json(r))),
            items: written(r),
            retries: r.retries,
            state: Some(&r.state),
            resume_after_ms: r.incomplete.as_ref().and_then(|i| i.resume_after_ms),
            ..Summary::nothing(ended(&r.incomplete), None)
        },
        Ok(OpResult::Posts(Ok(r))) => Summary {
            counters: Some(history_json(render::posts_json(r))),
            retries: r.retries,
            state: Some(&r.state),
            resume_after_ms: r.incomplete.as_ref().and_then(|i| i.resume_after_ms),
            more: r.more,
            found: r
                .posts
                .iter()
                .map(|p| QueuedPost {
                    post_id: p.id.clone(),
                    tag_ids: p.tag_ids.clone(),
                    created_at: p.created_at.clone(),
                })
                .collect(),
            ..Summary::nothing(ended(&r.incomplete), None)
        },
        Ok(OpResult::Published(Ok(r))) => Summary {
            counters: Some(history_json(render::published::json(r))),
            retries: r.retries,
            state: Some(&r.state),
            resume_after_ms: r.incomplete.as_ref().and_then(|i| i.resume_after_ms),
            more: r.more,
            published: r.posts.clone(),
            ..Summary::nothing(ended(&r.incomplete), None)
        },
        Ok(OpResult::Check(Ok(r))) => Summary {
            counters: Some(render::check::json(r)),
            reauthorization_required: refresh_refused(r),
            ghl_refused: refresh_refused(r),
            ..Summary::nothing(
                if r.ok { Outcome::Ok } else { Outcome::Failed },
                (!r.ok).then(|| check_error(r, hints)),
            )
        },
        Ok(OpResult::Sync(Err(f)))
        | Ok(OpResult::Posts(Err(f)))
        | Ok(OpResult::Published(Err(f)))
        | Ok(OpResult::Check(Err(f))) => Summary {
            reauthorization_required: matches!(f.error, SyncError::ReauthorizationRequired(_)),
            ghl_refused: matches!(&f.error, SyncError::Unauthorized(u) if u.service == ghl_rankr_host::types::Service::Ghl),
            state: f.state.as_deref(),
            ..Summary::nothing(
                if draining {
                    Outcome::Interrupted
                } else {
                    Outcome::Failed
                },
                Some(render::error_message_for(&f.error, hints)),
            )
        },
    }
}

/// A failed check in one line: each failed item, its outcome and its fix.
fn check_error(r: &CheckReport, hints: &render::Hints) -> String {
    let failed: Vec<String> = r
        .items
        .iter()
        .filter(|i| !render::check::passed(i))
        .map(|i| {
            let fix = if i.fix.is_empty() {
                String::new()
            } else {
                format!(" (fix: {})", i.fix)
            };
            let hint = render::check::hint(i, hints)
                .map(|h| format!("; {h}"))
                .unwrap_or_default();
            format!("{}: {}{fix}{hint}", i.what, check_outcome_words(&i.outcome))
        })
        .collect();
    format!("check failed: {}", failed.join("; "))
}

fn check_outcome_words(o: &CheckOutcome) -> String {
    match o {
        CheckOutcome::Ok => "ok".into(),
        CheckOutcome::NotChecked(m) => format!("not checked: {m}"),
        CheckOutcome::Unauthorized(m) => format!("unauthorized: {m}"),
        CheckOutcome::MissingScope(m) => format!("missing scope {m}"),
        CheckOutcome::UnknownLocation(m) => format!("unknown location: {m}"),
        CheckOutcome::UnknownDashboard(m) => format!("unknown dashboard: {m}"),
        CheckOutcome::Unreachable(m) => format!("unreachable: {m}"),
        CheckOutcome::Tls(m) => format!("TLS: {m}"),
        CheckOutcome::RateLimited(m) => format!("rate limited: {m}"),
        CheckOutcome::Failed(m) => m.clone(),
    }
}

/// The check's refresh of the OAuth pair was refused: as with any run, the
/// connection pauses and the refresh token is not sent again.
fn refresh_refused(r: &CheckReport) -> bool {
    r.items
        .iter()
        .any(|i| i.what == "ghl-credential" && matches!(i.outcome, CheckOutcome::Unauthorized(_)))
}

/// Lists in a report kept to their first 20 entries, so that one run with
/// thousands of item errors does not bloat the history; the planned
/// writes (bodies, on a dry run) are left out.
fn history_json(mut report: Value) -> Value {
    const KEPT: usize = 20;
    if let Some(o) = report.as_object_mut() {
        o.remove("writes");
        for key in ["errors", "posts"] {
            if let Some(Value::Array(items)) = o.get_mut(key) {
                let total = items.len();
                items.truncate(KEPT);
                o.insert(format!("{key}_total"), Value::from(total));
            }
        }
    }
    report
}

/// Items Rankr created or updated (tags, archived ones included, and
/// points), and the post's tag set.
fn written(r: &SyncReport) -> u64 {
    u64::from(r.created) + u64::from(r.updated) + r.post_tags_applied.map_or(0, |_| 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ghl_rankr_host::types::{Service, SyncFailure, UpstreamError};

    #[test]
    fn a_refused_refresh_fails_and_asks_for_reauthorization_unless_the_stop_refused_it() {
        let failure = SyncFailure {
            error: SyncError::ReauthorizationRequired(UpstreamError {
                service: Service::Ghl,
                endpoint: "POST /oauth/token".into(),
                status: 401,
                message: "invalid_grant".into(),
            }),
            state: Some(b"s".to_vec()),
            rotated_tokens: None,
        };
        let answer = Ok(OpResult::Sync(Err(failure)));
        let s = summarize(&answer, false, &render::Hints::cli());
        assert_eq!(s.outcome, Outcome::Failed);
        assert!(s.reauthorization_required);
        assert_eq!(s.state, Some(&b"s"[..]), "a failure's state is committed");
        assert!(s.error.unwrap().contains("invalid_grant"));
        assert_eq!(
            summarize(&answer, true, &render::Hints::cli()).outcome,
            Outcome::Interrupted
        );
    }

    #[test]
    fn the_history_keeps_twenty_of_a_list_and_its_total() {
        let kept = history_json(serde_json::json!({"errors": (0..50).collect::<Vec<_>>(), "writes": [1]}));
        assert_eq!(kept["errors"].as_array().unwrap().len(), 20);
        assert_eq!(kept["errors_total"], 50);
        assert!(kept.get("writes").is_none());
    }
}
