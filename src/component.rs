//! The WIT glue: the only module that sees generated types. It converts WIT
//! values to core types, runs the core over a [`Host`] made of the imports,
//! and converts the result back.

#![allow(clippy::too_many_arguments)]

pub(crate) mod wit {
    wit_bindgen::generate!({
        path: "wit",
        world: "connector",
    });
}

use crate::auth::{Credential, OAuthCredential, OAuthTokens};
use crate::client::retry::RetryPolicy;
use crate::io::{self, Host, Level, Method};
use crate::mapping::{MappingRow, Transform};
use crate::report::{Incomplete, RateLimit, Service, StopReason, SyncError, SyncFailure, SyncReport, UpstreamError};
use crate::secret::Secret;
use crate::settings::SettingsInput;
use wit::exports::rankr::ghl_connector::sync::Guest;
use wit::rankr::ghl_connector::types as t;
use wit::rankr::ghl_connector::{host as h, http};

struct Component;

wit::export!(Component with_types_in wit);

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
        };
        finish(crate::stats_sync(
            &mut Imports,
            &settings_in(settings),
            &request,
            state.as_deref(),
        ))
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
        h::now()
    }

    fn sleep_ms(&mut self, ms: u64) {
        h::sleep(ms)
    }

    fn log(&mut self, level: Level, message: &str, fields: &[(&str, &str)]) {
        let level = match level {
            Level::Trace => h::LogLevel::Trace,
            Level::Debug => h::LogLevel::Debug,
            Level::Info => h::LogLevel::Info,
            Level::Warn => h::LogLevel::Warn,
            Level::Error => h::LogLevel::Error,
        };
        let fields: Vec<h::Field> = fields
            .iter()
            .map(|(k, v)| h::Field {
                key: k.to_string(),
                value: v.to_string(),
            })
            .collect();
        h::log(level, message, &fields);
    }

    fn store_tokens(&mut self, tokens: &OAuthTokens) -> Result<(), String> {
        h::store_tokens(&tokens_out(tokens))
    }
}

fn tokens_in(t: t::OauthTokens) -> OAuthTokens {
    OAuthTokens {
        access_token: Secret::new(t.access_token),
        refresh_token: Secret::new(t.refresh_token),
        expires_at_ms: t.expires_at_ms,
        scopes: t.scopes,
    }
}

fn tokens_out(t: &OAuthTokens) -> t::OauthTokens {
    t::OauthTokens {
        access_token: t.access_token.expose().to_string(),
        refresh_token: t.refresh_token.expose().to_string(),
        expires_at_ms: t.expires_at_ms,
        scopes: t.scopes.clone(),
    }
}

fn settings_in(s: t::Settings) -> SettingsInput {
    SettingsInput {
        ghl_base_url: s.ghl_base_url,
        ghl_credential: match s.ghl_credential {
            t::Credential::ApiKey(k) => Credential::ApiKey(Secret::new(k)),
            t::Credential::Oauth(c) => Credential::OAuth(OAuthCredential {
                tokens: tokens_in(c.tokens),
                client_id: c.client_id,
                client_secret: Secret::new(c.client_secret),
            }),
        },
        rankr_base_url: s.rankr_base_url,
        rankr_api_key: Secret::new(s.rankr_api_key),
        page_size: s.page_size,
        tag_mapping: s
            .tag_mapping
            .into_iter()
            .map(|row| MappingRow {
                source: row.source,
                target: row.target,
                transforms: row.transforms.into_iter().map(transform_in).collect(),
            })
            .collect(),
        metric_mapping: s.metric_mapping.into_iter().map(|m| (m.source, m.target)).collect(),
        dry_run: s.dry_run,
        request_timeout_ms: s.request_timeout_ms,
        retry: s.retry.map(|r| RetryPolicy {
            max_attempts: r.max_attempts,
            base_delay_ms: r.base_delay_ms,
            max_delay_ms: r.max_delay_ms,
        }),
        deadline_ms: s.deadline_ms,
        full_refresh: s.full_refresh,
        archive_missing: s.archive_missing,
        max_in_flight: s.max_in_flight,
    }
}

fn transform_in(t: t::Transform) -> Transform {
    match t {
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
            errors: r
                .errors
                .into_iter()
                .map(|e| t::ItemError {
                    item: e.item,
                    service: service_out(e.service),
                    message: e.message,
                })
                .collect(),
            post_tags_applied: r.post_tags_applied,
            requests: r.requests,
            retries: r.retries,
            dry_run: r.dry_run,
            writes: r
                .writes
                .into_iter()
                .map(|w| t::PlannedWrite {
                    method: w.method.to_string(),
                    path: w.path,
                    items: w.items,
                    body: w.body,
                })
                .collect(),
            skipped: r.skipped,
            incomplete: r.incomplete.map(incomplete_out),
            state: r.state,
            rotated_tokens: r.rotated_tokens.as_ref().map(tokens_out),
        }),
        Err(f) => Err(t::SyncFailure {
            error: error_out(f.error),
            state: f.state,
            rotated_tokens: f.rotated_tokens.as_deref().map(tokens_out),
        }),
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
