//! Writing reports and failures as JSON. The state travels as base64 (it is
//! opaque bytes to the host); rotated tokens are written in full, since the
//! host must keep them.

use crate::ops::{
    CheckItem, CheckOutcome, CheckReport, NewPostsReport, PublishedPost, PublishedPostsReport, RateHeadroom, SocialPost,
};
use crate::report::{Incomplete, ItemError, StopReason, SyncError, SyncFailure, SyncReport, TagChanges};
use crate::secret::OAuthTokens;
use base64::Engine as _;
use serde::Serialize;

/// A `sync-report` as JSON.
pub fn report_json(r: &SyncReport) -> serde_json::Value {
    let out = ReportOut {
        fetched: r.fetched,
        created: r.created,
        updated: r.updated,
        unchanged: r.unchanged,
        archived: r.archived,
        rejected: r.rejected,
        errors: r.errors.iter().map(item_error).collect(),
        post_tags_applied: r.post_tags_applied,
        requests: r.requests,
        retries: r.retries,
        dry_run: r.dry_run,
        writes: r
            .writes
            .iter()
            .map(|w| WriteOut {
                method: w.method.as_str(),
                path: &w.path,
                items: w.items,
                body: &w.body,
            })
            .collect(),
        skipped: r.skipped,
        incomplete: r.incomplete.as_ref().map(incomplete),
        state: base64(&r.state),
        rotated_tokens: r.rotated_tokens.as_ref().map(tokens),
        changed_tags: changes(&r.changed_tags),
    };
    serde_json::to_value(out).unwrap_or_default()
}

/// A `new-posts-report` as JSON.
pub fn new_posts_json(r: &NewPostsReport) -> serde_json::Value {
    let out = NewPostsOut {
        posts: r.posts.iter().map(post).collect(),
        baseline: r.baseline,
        more: r.more,
        fetched: r.fetched,
        evicted: r.evicted,
        errors: r.errors.iter().map(item_error).collect(),
        requests: r.requests,
        retries: r.retries,
        incomplete: r.incomplete.as_ref().map(incomplete),
        state: base64(&r.state),
        rotated_tokens: r.rotated_tokens.as_ref().map(tokens),
    };
    serde_json::to_value(out).unwrap_or_default()
}

/// A `published-posts-report` as JSON.
pub fn published_posts_json(r: &PublishedPostsReport) -> serde_json::Value {
    let out = PublishedOut {
        posts: r.posts.iter().map(published_post).collect(),
        baseline: r.baseline,
        more: r.more,
        fetched: r.fetched,
        evicted: r.evicted,
        errors: r.errors.iter().map(item_error).collect(),
        requests: r.requests,
        retries: r.retries,
        incomplete: r.incomplete.as_ref().map(incomplete),
        state: base64(&r.state),
        rotated_tokens: r.rotated_tokens.as_ref().map(tokens),
    };
    serde_json::to_value(out).unwrap_or_default()
}

/// A `check-report` as JSON.
pub fn check_json(r: &CheckReport) -> serde_json::Value {
    let out = CheckOut {
        items: r.items.iter().map(check_item).collect(),
        ok: r.ok,
        rate_limit: r.rate_limit.as_ref().map(headroom),
        requests: r.requests,
        rotated_tokens: r.rotated_tokens.as_ref().map(tokens),
    };
    serde_json::to_value(out).unwrap_or_default()
}

/// A `sync-failure` as JSON: `{"error": {"<kind>": ...}, "state", "rotated-tokens"}`.
pub fn failure_json(f: &SyncFailure) -> serde_json::Value {
    let error = match &f.error {
        SyncError::InvalidConfig(m) => ErrorOut::InvalidConfig(m),
        SyncError::MissingScope {
            operation,
            scope,
            granted,
        } => ErrorOut::MissingScope {
            operation,
            scope,
            granted,
        },
        SyncError::ReauthorizationRequired(u) => ErrorOut::ReauthorizationRequired(upstream(u)),
        SyncError::CredentialStore(m) => ErrorOut::CredentialStore(m),
        SyncError::DeadlineExceeded(m) => ErrorOut::DeadlineExceeded(m),
        SyncError::Unauthorized(u) => ErrorOut::Unauthorized(upstream(u)),
        SyncError::Forbidden(u) => ErrorOut::Forbidden(upstream(u)),
        SyncError::RateLimited(r) => ErrorOut::RateLimited(rate_limit(r)),
        SyncError::Upstream(u) => ErrorOut::Upstream(upstream(u)),
        SyncError::InvalidResponse {
            service,
            endpoint,
            field,
            message,
        } => ErrorOut::InvalidResponse {
            service: service.name(),
            endpoint,
            field,
            message,
        },
        SyncError::Transport {
            service,
            endpoint,
            message,
        } => ErrorOut::Transport {
            service: service.name(),
            endpoint,
            message,
        },
    };
    let out = FailureOut {
        error,
        state: f.state.as_deref().map(base64),
        rotated_tokens: f.rotated_tokens.as_deref().map(tokens),
    };
    serde_json::to_value(out).unwrap_or_default()
}

fn base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn item_error(e: &ItemError) -> ItemErrorOut<'_> {
    ItemErrorOut {
        item: &e.item,
        service: e.service.name(),
        message: &e.message,
    }
}

fn incomplete(i: &Incomplete) -> IncompleteOut<'_> {
    IncompleteOut {
        reason: match &i.reason {
            StopReason::Deadline => ReasonOut::Deadline,
            StopReason::RateLimited(r) => ReasonOut::RateLimited(rate_limit(r)),
        },
        resume_after_ms: i.resume_after_ms,
    }
}

fn rate_limit(r: &crate::report::RateLimit) -> RateLimitOut<'_> {
    RateLimitOut {
        service: r.service.name(),
        endpoint: &r.endpoint,
        retry_after_ms: r.retry_after_ms,
        message: &r.message,
    }
}

fn upstream(u: &crate::report::UpstreamError) -> UpstreamOut<'_> {
    UpstreamOut {
        service: u.service.name(),
        endpoint: &u.endpoint,
        status: u.status,
        message: &u.message,
    }
}

fn tokens(t: &OAuthTokens) -> TokensOut<'_> {
    TokensOut {
        access_token: t.access_token.expose(),
        refresh_token: t.refresh_token.expose(),
        expires_at_ms: t.expires_at_ms,
        scopes: &t.scopes,
    }
}

fn changes(c: &TagChanges) -> ChangesOut<'_> {
    ChangesOut {
        created: &c.created,
        updated: &c.updated,
        archived: &c.archived,
        more: c.more,
    }
}

fn post(p: &SocialPost) -> PostOut<'_> {
    PostOut {
        id: &p.id,
        created_at: &p.created_at,
        updated_at: p.updated_at.as_deref(),
        status: p.status.as_deref(),
        platform: p.platform.as_deref(),
        account_id: p.account_id.as_deref(),
        tag_ids: &p.tag_ids,
    }
}

fn published_post(p: &PublishedPost) -> PublishedPostOut<'_> {
    PublishedPostOut {
        id: &p.id,
        published_at: &p.published_at,
        platform: p.platform.as_deref(),
        account_ids: &p.account_ids,
        profile_ids: &p.profile_ids,
        tag_ids: &p.tag_ids,
    }
}

fn check_item(i: &CheckItem) -> CheckItemOut<'_> {
    CheckItemOut {
        service: i.service.name(),
        what: i.what.name(),
        endpoint: &i.endpoint,
        operations: i.operations.iter().map(|o| o.name()).collect(),
        outcome: match &i.outcome {
            CheckOutcome::Ok => OutcomeOut::Ok,
            CheckOutcome::NotChecked(m) => OutcomeOut::NotChecked(m),
            CheckOutcome::Unauthorized(m) => OutcomeOut::Unauthorized(m),
            CheckOutcome::MissingScope(m) => OutcomeOut::MissingScope(m),
            CheckOutcome::UnknownLocation(m) => OutcomeOut::UnknownLocation(m),
            CheckOutcome::UnknownDashboard(m) => OutcomeOut::UnknownDashboard(m),
            CheckOutcome::Unreachable(m) => OutcomeOut::Unreachable(m),
            CheckOutcome::Tls(m) => OutcomeOut::Tls(m),
            CheckOutcome::RateLimited(m) => OutcomeOut::RateLimited(m),
            CheckOutcome::Failed(m) => OutcomeOut::Failed(m),
        },
        fix: &i.fix,
        status: i.status,
        latency_ms: i.latency_ms,
    }
}

fn headroom(h: &RateHeadroom) -> HeadroomOut {
    HeadroomOut {
        max: h.max,
        remaining: h.remaining,
        interval_ms: h.interval_ms,
        daily_limit: h.daily_limit,
        daily_remaining: h.daily_remaining,
    }
}

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct ReportOut<'a> {
    fetched: u32,
    created: u32,
    updated: u32,
    unchanged: u32,
    archived: u32,
    rejected: u32,
    errors: Vec<ItemErrorOut<'a>>,
    post_tags_applied: Option<u32>,
    requests: u32,
    retries: u32,
    dry_run: bool,
    writes: Vec<WriteOut<'a>>,
    skipped: u32,
    incomplete: Option<IncompleteOut<'a>>,
    state: String,
    rotated_tokens: Option<TokensOut<'a>>,
    changed_tags: ChangesOut<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct NewPostsOut<'a> {
    posts: Vec<PostOut<'a>>,
    baseline: bool,
    more: bool,
    fetched: u32,
    evicted: u32,
    errors: Vec<ItemErrorOut<'a>>,
    requests: u32,
    retries: u32,
    incomplete: Option<IncompleteOut<'a>>,
    state: String,
    rotated_tokens: Option<TokensOut<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct PostOut<'a> {
    id: &'a str,
    created_at: &'a str,
    updated_at: Option<&'a str>,
    status: Option<&'a str>,
    platform: Option<&'a str>,
    account_id: Option<&'a str>,
    tag_ids: &'a [String],
}

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct PublishedOut<'a> {
    posts: Vec<PublishedPostOut<'a>>,
    baseline: bool,
    more: bool,
    fetched: u32,
    evicted: u32,
    errors: Vec<ItemErrorOut<'a>>,
    requests: u32,
    retries: u32,
    incomplete: Option<IncompleteOut<'a>>,
    state: String,
    rotated_tokens: Option<TokensOut<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct PublishedPostOut<'a> {
    id: &'a str,
    published_at: &'a str,
    platform: Option<&'a str>,
    account_ids: &'a [String],
    profile_ids: &'a [String],
    tag_ids: &'a [String],
}

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct CheckOut<'a> {
    items: Vec<CheckItemOut<'a>>,
    ok: bool,
    rate_limit: Option<HeadroomOut>,
    requests: u32,
    rotated_tokens: Option<TokensOut<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct CheckItemOut<'a> {
    service: &'static str,
    what: &'static str,
    endpoint: &'a str,
    operations: Vec<&'static str>,
    outcome: OutcomeOut<'a>,
    fix: &'a str,
    status: Option<u16>,
    latency_ms: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
enum OutcomeOut<'a> {
    Ok,
    NotChecked(&'a str),
    Unauthorized(&'a str),
    MissingScope(&'a str),
    UnknownLocation(&'a str),
    UnknownDashboard(&'a str),
    Unreachable(&'a str),
    Tls(&'a str),
    RateLimited(&'a str),
    Failed(&'a str),
}

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct HeadroomOut {
    max: Option<u32>,
    remaining: Option<u32>,
    interval_ms: Option<u64>,
    daily_limit: Option<u32>,
    daily_remaining: Option<u32>,
}

#[derive(Serialize)]
struct ItemErrorOut<'a> {
    item: &'a str,
    service: &'static str,
    message: &'a str,
}

#[derive(Serialize)]
struct WriteOut<'a> {
    method: &'static str,
    path: &'a str,
    items: u32,
    body: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct IncompleteOut<'a> {
    reason: ReasonOut<'a>,
    resume_after_ms: Option<u64>,
}

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
enum ReasonOut<'a> {
    Deadline,
    RateLimited(RateLimitOut<'a>),
}

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct RateLimitOut<'a> {
    service: &'static str,
    endpoint: &'a str,
    retry_after_ms: Option<u64>,
    message: &'a str,
}

#[derive(Serialize)]
struct UpstreamOut<'a> {
    service: &'static str,
    endpoint: &'a str,
    status: u16,
    message: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct TokensOut<'a> {
    access_token: &'a str,
    refresh_token: &'a str,
    expires_at_ms: Option<u64>,
    scopes: &'a [String],
}

#[derive(Serialize)]
struct ChangesOut<'a> {
    created: &'a [String],
    updated: &'a [String],
    archived: &'a [String],
    more: u32,
}

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
enum ErrorOut<'a> {
    InvalidConfig(&'a str),
    MissingScope {
        operation: &'a str,
        scope: &'a str,
        granted: &'a [String],
    },
    ReauthorizationRequired(UpstreamOut<'a>),
    CredentialStore(&'a str),
    DeadlineExceeded(&'a str),
    Unauthorized(UpstreamOut<'a>),
    Forbidden(UpstreamOut<'a>),
    RateLimited(RateLimitOut<'a>),
    Upstream(UpstreamOut<'a>),
    InvalidResponse {
        service: &'static str,
        endpoint: &'a str,
        field: &'a str,
        message: &'a str,
    },
    Transport {
        service: &'static str,
        endpoint: &'a str,
        message: &'a str,
    },
}

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct FailureOut<'a> {
    error: ErrorOut<'a>,
    state: Option<String>,
    rotated_tokens: Option<TokensOut<'a>>,
}
