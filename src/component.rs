//! The WIT glue of the `connector` world: the only module that sees
//! generated types. It converts WIT values to core types, runs the core over
//! a [`Host`] made of the imports, and converts the result back.

/// The generated bindings: the one place the crate allows `unsafe` (the
/// canonical ABI's lifting and lowering).
#[allow(unsafe_code, clippy::too_many_arguments)]
mod wit {
    wit_bindgen::generate!({
        path: "wit",
        world: "connector",
    });

    use super::Component;
    export!(Component with_types_in self);
}

use crate::auth::{Credential, OAuthCredential};
use crate::client::retry::RetryPolicy;
use crate::io::{self, Host, Level, Method, Phase};
use crate::mapping::{MappingRow, Transform};
use crate::report::{
    Incomplete, ItemError, RateLimit, Service, StopReason, SyncError, SyncFailure, SyncReport, UpstreamError,
};
use crate::secret::{OAuthTokens, Secret};
use crate::settings::SettingsInput;
use crate::{CheckItem, CheckOutcome, RateHeadroom};
use wit::exports::rankr::ghl_connector::sync::Guest;
use wit::rankr::ghl_connector::types as t;
use wit::rankr::ghl_connector::{host, http};

struct Component;

impl Guest for Component {
    fn tag_sync(
        settings: t::Settings,
        event: t::TagSyncEvent,
        state: Option<Vec<u8>>,
    ) -> Result<t::SyncReport, t::SyncFailure> {
        let event = crate::TagSyncEvent {
            location_id: event.location_id,
            post_id: event.post_id,
            tag_ids: event.tag_ids,
            full_pass: event.full_pass,
        };
        finish(crate::tag_sync(
            &mut Imports,
            &settings_in(settings),
            &event,
            state.as_deref(),
        ))
    }

    fn tag_details_push(
        settings: t::Settings,
        event: t::TagDetailsEvent,
        state: Option<Vec<u8>>,
    ) -> Result<t::SyncReport, t::SyncFailure> {
        let event = crate::TagDetailsEvent {
            location_id: event.location_id,
            tag_ids: event.tag_ids,
        };
        finish(crate::tag_details_push(
            &mut Imports,
            &settings_in(settings),
            &event,
            state.as_deref(),
        ))
    }

    fn stats_sync(
        settings: t::Settings,
        request: t::StatsRequest,
        state: Option<Vec<u8>>,
    ) -> Result<t::SyncReport, t::SyncFailure> {
        let request = crate::StatsRequest {
            location_id: request.location_id,
            profile_ids: request.profile_ids,
            platforms: request.platforms,
            dashboard_id: request.dashboard_id,
            as_of: request.as_of,
            per_profile: request.per_profile,
        };
        finish(crate::stats_sync(
            &mut Imports,
            &settings_in(settings),
            &request,
            state.as_deref(),
        ))
    }

    fn new_posts(
        settings: t::Settings,
        request: t::NewPostsRequest,
        state: Option<Vec<u8>>,
    ) -> Result<t::NewPostsReport, t::SyncFailure> {
        let request = crate::NewPostsRequest {
            location_id: request.location_id,
            overlap_ms: request.overlap_ms,
            backfill_since: request.backfill_since,
            max_posts: request.max_posts,
        };
        match crate::new_posts(&mut Imports, &settings_in(settings), &request, state.as_deref()) {
            Ok(r) => Ok(t::NewPostsReport {
                posts: r
                    .posts
                    .into_iter()
                    .map(|p| t::SocialPost {
                        id: p.id,
                        created_at: p.created_at,
                        updated_at: p.updated_at,
                        status: p.status,
                        platform: p.platform,
                        account_id: p.account_id,
                        tag_ids: p.tag_ids,
                    })
                    .collect(),
                baseline: r.baseline,
                more: r.more,
                fetched: r.fetched,
                evicted: r.evicted,
                errors: r.errors.into_iter().map(item_error_out).collect(),
                requests: r.requests,
                retries: r.retries,
                incomplete: r.incomplete.map(incomplete_out),
                state: r.state,
                rotated_tokens: r.rotated_tokens.as_ref().map(tokens_out),
            }),
            Err(f) => Err(failure_out(f)),
        }
    }

    fn posts_published(
        settings: t::Settings,
        request: t::PublishedPostsRequest,
        state: Option<Vec<u8>>,
    ) -> Result<t::PublishedPostsReport, t::SyncFailure> {
        let request = crate::PublishedPostsRequest {
            location_id: request.location_id,
            overlap_ms: request.overlap_ms,
            backfill_since: request.backfill_since,
            max_posts: request.max_posts,
        };
        match crate::posts_published(&mut Imports, &settings_in(settings), &request, state.as_deref()) {
            Ok(r) => Ok(t::PublishedPostsReport {
                posts: r
                    .posts
                    .into_iter()
                    .map(|p| t::PublishedPost {
                        id: p.id,
                        published_at: p.published_at,
                        platform: p.platform,
                        account_ids: p.account_ids,
                        profile_ids: p.profile_ids,
                        tag_ids: p.tag_ids,
                    })
                    .collect(),
                baseline: r.baseline,
                more: r.more,
                fetched: r.fetched,
                evicted: r.evicted,
                errors: r.errors.into_iter().map(item_error_out).collect(),
                requests: r.requests,
                retries: r.retries,
                incomplete: r.incomplete.map(incomplete_out),
                state: r.state,
                rotated_tokens: r.rotated_tokens.as_ref().map(tokens_out),
            }),
            Err(f) => Err(failure_out(f)),
        }
    }

    fn check(settings: t::Settings, request: t::CheckRequest) -> Result<t::CheckReport, t::SyncFailure> {
        let request = crate::CheckRequest {
            location_id: request.location_id,
            operations: request.operations,
            dashboard_id: request.dashboard_id,
        };
        match crate::check(&mut Imports, &settings_in(settings), &request) {
            Ok(r) => Ok(t::CheckReport {
                items: r.items.into_iter().map(check_item_out).collect(),
                ok: r.ok,
                rate_limit: r.rate_limit.map(headroom_out),
                requests: r.requests,
                rotated_tokens: r.rotated_tokens.as_ref().map(tokens_out),
            }),
            Err(f) => Err(failure_out(f)),
        }
    }

    fn describe() -> String {
        crate::catalog::describe()
    }
}

fn check_item_out(i: CheckItem) -> t::CheckItem {
    t::CheckItem {
        service: service_out(i.service),
        what: i.what.name().to_string(),
        endpoint: i.endpoint,
        operations: i.operations.iter().map(|o| o.name().to_string()).collect(),
        outcome: match i.outcome {
            CheckOutcome::Ok => t::CheckOutcome::Ok,
            CheckOutcome::NotChecked(m) => t::CheckOutcome::NotChecked(m),
            CheckOutcome::Unauthorized(m) => t::CheckOutcome::Unauthorized(m),
            CheckOutcome::MissingScope(m) => t::CheckOutcome::MissingScope(m),
            CheckOutcome::UnknownLocation(m) => t::CheckOutcome::UnknownLocation(m),
            CheckOutcome::UnknownDashboard(m) => t::CheckOutcome::UnknownDashboard(m),
            CheckOutcome::Unreachable(m) => t::CheckOutcome::Unreachable(m),
            CheckOutcome::Tls(m) => t::CheckOutcome::Tls(m),
            CheckOutcome::RateLimited(m) => t::CheckOutcome::RateLimited(m),
            CheckOutcome::Failed(m) => t::CheckOutcome::Failed(m),
        },
        fix: i.fix,
        status: i.status,
        latency_ms: i.latency_ms,
    }
}

fn headroom_out(h: RateHeadroom) -> t::RateHeadroom {
    t::RateHeadroom {
        max: h.max,
        remaining: h.remaining,
        interval_ms: h.interval_ms,
        daily_limit: h.daily_limit,
        daily_remaining: h.daily_remaining,
    }
}

fn to_request(r: &io::Request) -> http::Request {
    http::Request {
        method: match r.method {
            Method::Get => http::Method::Get,
            Method::Post => http::Method::Post,
            Method::Put => http::Method::Put,
            Method::Patch => http::Method::Patch,
            Method::Delete => http::Method::Delete,
        },
        url: r.url.clone(),
        headers: r
            .headers
            .iter()
            .map(|(name, value)| http::Header {
                name: name.clone(),
                value: value.clone(),
            })
            .collect(),
        body: r.body.clone(),
        timeout_ms: r.timeout_ms,
    }
}

fn from_outcome(outcome: Result<http::Response, http::TransportError>) -> Result<io::Response, io::TransportError> {
    match outcome {
        Ok(resp) => Ok(io::Response {
            status: resp.status,
            headers: resp.headers.into_iter().map(|h| (h.name, h.value)).collect(),
            body: resp.body,
        }),
        Err(e) => Err(match e {
            http::TransportError::Timeout => io::TransportError::Timeout,
            http::TransportError::Connect(m) => io::TransportError::Connect(m),
            http::TransportError::Io(m) => io::TransportError::Io(m),
            http::TransportError::Denied(m) => io::TransportError::Denied(m),
            http::TransportError::InvalidRequest(m) => io::TransportError::InvalidRequest(m),
            http::TransportError::TooLarge(n) => io::TransportError::TooLarge(n),
            http::TransportError::Tls(m) => io::TransportError::Tls(m),
        }),
    }
}

/// The host's imports as the core's [`Host`].
struct Imports;

impl Host for Imports {
    fn send(&mut self, r: &io::Request) -> Result<io::Response, io::TransportError> {
        from_outcome(http::send(&to_request(r)))
    }

    fn send_all(&mut self, requests: &[io::Request]) -> Vec<Result<io::Response, io::TransportError>> {
        let requests: Vec<http::Request> = requests.iter().map(to_request).collect();
        http::send_all(&requests).into_iter().map(from_outcome).collect()
    }

    fn now_ms(&mut self) -> u64 {
        host::now()
    }

    fn sleep_ms(&mut self, ms: u64) {
        host::sleep(ms)
    }

    fn log(&mut self, level: Level, message: &str, fields: &[(&str, &str)]) {
        let level = match level {
            Level::Trace => host::LogLevel::Trace,
            Level::Debug => host::LogLevel::Debug,
            Level::Info => host::LogLevel::Info,
            Level::Warn => host::LogLevel::Warn,
            Level::Error => host::LogLevel::Error,
        };
        let fields: Vec<host::Field> = fields
            .iter()
            .map(|(key, value)| host::Field {
                key: key.to_string(),
                value: value.to_string(),
            })
            .collect();
        host::log(level, message, &fields);
    }

    fn store_tokens(&mut self, tokens: &OAuthTokens) -> Result<(), String> {
        host::store_tokens(&tokens_out(tokens))
    }

    fn progress(&mut self, phase: Phase, done: u64, total: Option<u64>) {
        let phase = match phase {
            Phase::ReadingTags => t::Phase::ReadingTags,
            Phase::WritingTags => t::Phase::WritingTags,
            Phase::CheckingMissing => t::Phase::CheckingMissing,
            Phase::ReadingPosts => t::Phase::ReadingPosts,
            Phase::WritingMetrics => t::Phase::WritingMetrics,
        };
        host::progress(t::ProgressUpdate { phase, done, total });
    }
}

fn tokens_in(tokens: t::OauthTokens) -> OAuthTokens {
    OAuthTokens {
        access_token: Secret::new(tokens.access_token),
        refresh_token: Secret::new(tokens.refresh_token),
        expires_at_ms: tokens.expires_at_ms,
        scopes: tokens.scopes,
    }
}

fn tokens_out(tokens: &OAuthTokens) -> t::OauthTokens {
    t::OauthTokens {
        access_token: tokens.access_token.expose().to_string(),
        refresh_token: tokens.refresh_token.expose().to_string(),
        expires_at_ms: tokens.expires_at_ms,
        scopes: tokens.scopes.clone(),
    }
}

fn settings_in(settings: t::Settings) -> SettingsInput {
    SettingsInput {
        ghl_base_url: settings.ghl_base_url,
        ghl_credential: match settings.ghl_credential {
            t::Credential::ApiKey(key) => Credential::ApiKey(Secret::new(key)),
            t::Credential::Oauth(oauth) => Credential::OAuth(OAuthCredential {
                tokens: tokens_in(oauth.tokens),
                client_id: oauth.client_id,
                client_secret: Secret::new(oauth.client_secret),
            }),
        },
        rankr_base_url: settings.rankr_base_url,
        rankr_api_key: Secret::new(settings.rankr_api_key),
        page_size: settings.page_size,
        tag_mapping: settings
            .tag_mapping
            .into_iter()
            .map(|row| MappingRow {
                source: row.source,
                target: row.target,
                transforms: row.transforms.into_iter().map(transform_in).collect(),
            })
            .collect(),
        metric_mapping: settings
            .metric_mapping
            .into_iter()
            .map(|rename| (rename.source, rename.target))
            .collect(),
        dry_run: settings.dry_run,
        request_timeout_ms: settings.request_timeout_ms,
        retry: settings.retry.map(|retry| RetryPolicy {
            max_attempts: retry.max_attempts,
            base_delay_ms: retry.base_delay_ms,
            max_delay_ms: retry.max_delay_ms,
        }),
        deadline_ms: settings.deadline_ms,
        full_refresh: settings.full_refresh,
        full_pass: settings.full_pass,
        archive_missing: settings.archive_missing,
        max_in_flight: settings.max_in_flight,
    }
}

fn transform_in(step: t::Transform) -> Transform {
    match step {
        t::Transform::Trim => Transform::Trim,
        t::Transform::Lowercase => Transform::Lowercase,
        t::Transform::Uppercase => Transform::Uppercase,
        t::Transform::Slugify => Transform::Slugify,
        t::Transform::Prefix(p) => Transform::Prefix(p),
        t::Transform::Suffix(s) => Transform::Suffix(s),
        t::Transform::Replace(r) => Transform::Replace { from: r.from, to: r.to },
        t::Transform::Truncate(n) => Transform::Truncate(n),
        t::Transform::Default(d) => Transform::Default(d),
    }
}

fn service_out(s: Service) -> t::Service {
    match s {
        Service::Ghl => t::Service::Ghl,
        Service::Rankr => t::Service::Rankr,
    }
}

fn upstream_out(e: UpstreamError) -> t::UpstreamError {
    t::UpstreamError {
        service: service_out(e.service),
        endpoint: e.endpoint,
        status: e.status,
        message: e.message,
    }
}

fn rate_limit_out(r: RateLimit) -> t::RateLimitError {
    t::RateLimitError {
        service: service_out(r.service),
        endpoint: r.endpoint,
        retry_after_ms: r.retry_after_ms,
        message: r.message,
    }
}

fn incomplete_out(i: Incomplete) -> t::Incomplete {
    t::Incomplete {
        reason: match i.reason {
            StopReason::Deadline => t::StopReason::Deadline,
            StopReason::RateLimited(r) => t::StopReason::RateLimited(rate_limit_out(r)),
        },
        resume_after_ms: i.resume_after_ms,
    }
}

fn finish(result: Result<SyncReport, SyncFailure>) -> Result<t::SyncReport, t::SyncFailure> {
    match result {
        Ok(r) => Ok(t::SyncReport {
            fetched: r.fetched,
            created: r.created,
            updated: r.updated,
            unchanged: r.unchanged,
            archived: r.archived,
            rejected: r.rejected,
            errors: r.errors.into_iter().map(item_error_out).collect(),
            post_tags_applied: r.post_tags_applied,
            requests: r.requests,
            retries: r.retries,
            dry_run: r.dry_run,
            writes: r
                .writes
                .into_iter()
                .map(|w| t::PlannedWrite {
                    method: w.method.as_str().to_string(),
                    path: w.path,
                    items: w.items,
                    body: w.body,
                })
                .collect(),
            skipped: r.skipped,
            incomplete: r.incomplete.map(incomplete_out),
            state: r.state,
            rotated_tokens: r.rotated_tokens.as_ref().map(tokens_out),
            changed_tags: t::TagChanges {
                created: r.changed_tags.created,
                updated: r.changed_tags.updated,
                archived: r.changed_tags.archived,
                more: r.changed_tags.more,
            },
        }),
        Err(f) => Err(failure_out(f)),
    }
}

fn failure_out(f: SyncFailure) -> t::SyncFailure {
    t::SyncFailure {
        error: error_out(f.error),
        state: f.state,
        rotated_tokens: f.rotated_tokens.as_deref().map(tokens_out),
    }
}

fn item_error_out(e: ItemError) -> t::ItemError {
    t::ItemError {
        item: e.item,
        service: service_out(e.service),
        message: e.message,
    }
}

fn error_out(e: SyncError) -> t::SyncError {
    match e {
        SyncError::InvalidConfig(m) => t::SyncError::InvalidConfig(m),
        SyncError::MissingScope {
            operation,
            scope,
            granted,
        } => t::SyncError::MissingScope(t::MissingScopeError {
            operation,
            scope,
            granted,
        }),
        SyncError::ReauthorizationRequired(u) => t::SyncError::ReauthorizationRequired(upstream_out(u)),
        SyncError::CredentialStore(m) => t::SyncError::CredentialStore(m),
        SyncError::DeadlineExceeded(m) => t::SyncError::DeadlineExceeded(m),
        SyncError::Unauthorized(u) => t::SyncError::Unauthorized(upstream_out(u)),
        SyncError::Forbidden(u) => t::SyncError::Forbidden(upstream_out(u)),
        SyncError::Upstream(u) => t::SyncError::Upstream(upstream_out(u)),
        SyncError::RateLimited(r) => t::SyncError::RateLimited(rate_limit_out(r)),
        SyncError::InvalidResponse {
            service,
            endpoint,
            field,
            message,
        } => t::SyncError::InvalidResponse(t::InvalidResponseError {
            service: service_out(service),
            endpoint,
            field,
            message,
        }),
        SyncError::Transport {
            service,
            endpoint,
            message,
        } => t::SyncError::Transport(t::TransportFailure {
            service: service_out(service),
            endpoint,
            message,
        }),
    }
}
