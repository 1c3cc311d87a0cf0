//! A `posts-published` report, for people and as JSON.

use super::{incomplete_message, service, service_name};
use ghl_rankr_host::types::PublishedPostsReport;
use serde_json::{json, Value};
use std::fmt::Write as _;

/// A readable summary.
pub fn summary(r: &PublishedPostsReport) -> String {
    let mut out = String::new();
    let head = if r.baseline {
        format!(
            "posts-published: baseline recorded ({} published posts in the window; none emitted, the next call emits those that go live)",
            r.fetched
        )
    } else {
        format!("posts-published: {} went live", r.posts.len())
    };
    let _ = match &r.incomplete {
        None => writeln!(out, "{head}"),
        Some(i) => writeln!(out, "{head}; incomplete: {}", incomplete_message(i)),
    };
    for p in &r.posts {
        let _ = writeln!(
            out,
            "  {} {} {} profiles: {} tags: {}",
            p.published_at,
            p.id,
            p.platform.as_deref().unwrap_or("-"),
            if p.profile_ids.is_empty() {
                "none".into()
            } else {
                p.profile_ids.join(" ")
            },
            if p.tag_ids.is_empty() {
                "none".into()
            } else {
                p.tag_ids.join(" ")
            },
        );
    }
    if r.more {
        let _ = writeln!(out, "  more posts went live: run again now");
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
    for e in &r.errors {
        let _ = writeln!(out, "  item error {} [{}]: {}", e.item, service(e.service), e.message);
    }
    out
}

/// As JSON, with the WIT's field names.
pub fn json(r: &PublishedPostsReport) -> Value {
    json!({
        "posts": r.posts.iter().map(|p| json!({
            "id": p.id, "published_at": p.published_at, "platform": p.platform,
            "account_ids": p.account_ids, "profile_ids": p.profile_ids, "tag_ids": p.tag_ids,
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
