//! The one place that prepares and runs a call of the component, for every
//! command of the CLI and for `serve`: the base URLs, the component's
//! settings (flags over the settings file), the egress allowlist of those
//! two origins around the transport, the imports' environment, and the
//! dispatch to the operation.

use crate::config::{ConfigFile, TransformConfig};
use crate::credentials::Credential;
use crate::secret::Secret;
use ghl_rankr_host::clock::Clock;
use ghl_rankr_host::egress::Allowlist;
use ghl_rankr_host::engine::ConnectorEngine;
use ghl_rankr_host::imports::{Env, ProgressSink, TokenStore};
use ghl_rankr_host::transport::HttpTransport;
use ghl_rankr_host::types::{
    self, CheckReport, CheckRequest, NewPostsReport, NewPostsRequest, PublishedPostsReport, PublishedPostsRequest,
    StatsRequest, SyncFailure, SyncReport, TagDetailsEvent, TagSyncEvent,
};
use std::sync::Arc;

/// Where GHL's API is, unless configured otherwise.
pub const DEFAULT_GHL: &str = "https://services.leadconnectorhq.com";
/// Where Rankr's API is, unless configured otherwise.
pub const DEFAULT_RANKR: &str = "https://api.rankr.io";

/// The two APIs' base URLs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    pub ghl: String,
    pub rankr: String,
}

impl Endpoints {
    /// For each API: the flag, then the variable (`GHL_BASE_URL`,
    /// `RANKR_BASE_URL`; `env` may see none), then the settings file, then
    /// the default.
    pub fn resolve(
        ghl_flag: Option<String>,
        rankr_flag: Option<String>,
        env: &dyn Fn(&str) -> Option<String>,
        file: &ConfigFile,
    ) -> Endpoints {
        let pick = |flag: Option<String>, var: &str, from_file: &Option<String>, default: &str| {
            flag.or_else(|| env(var).filter(|v| !v.is_empty()))
                .or_else(|| from_file.clone())
                .unwrap_or_else(|| default.to_string())
        };
        Endpoints {
            ghl: pick(ghl_flag, "GHL_BASE_URL", &file.ghl_base_url, DEFAULT_GHL),
            rankr: pick(rankr_flag, "RANKR_BASE_URL", &file.rankr_base_url, DEFAULT_RANKR),
        }
    }

    /// The settings file's URLs, else the defaults (no flags, no variables:
    /// `serve`'s connections say where they go in their own file).
    pub fn from_file(file: &ConfigFile) -> Endpoints {
        Endpoints::resolve(None, None, &|_| None, file)
    }
}

/// A run's own choices; each wins over the settings file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunFlags {
    pub page_size: Option<u32>,
    pub dry_run: bool,
    pub deadline_secs: Option<u64>,
    /// Write every item again, whatever the state's hashes say.
    pub full_refresh: bool,
    /// `tag-sync` reads every page even with the post's tag ids.
    pub full_pass: bool,
    pub no_archive: bool,
    pub max_in_flight: Option<u32>,
}

/// The credentials a call speaks with.
pub struct Credentials<'a> {
    pub ghl: Credential,
    pub rankr_key: &'a Secret,
}

/// The component's `settings`: the run's flags over the settings file.
pub fn settings(
    endpoints: &Endpoints,
    credentials: &Credentials<'_>,
    flags: &RunFlags,
    file: &ConfigFile,
) -> types::Settings {
    types::Settings {
        ghl_base_url: endpoints.ghl.clone(),
        ghl_credential: credentials.ghl.to_wit(),
        rankr_base_url: endpoints.rankr.clone(),
        rankr_api_key: credentials.rankr_key.expose().to_string(),
        page_size: flags.page_size.or(file.page_size),
        tag_mapping: file
            .tag_mapping
            .iter()
            .map(|r| types::MappingRow {
                source: r.source.clone(),
                target: r.target.clone(),
                transforms: r.transforms.iter().map(transform).collect(),
            })
            .collect(),
        metric_mapping: file
            .metric_mapping
            .iter()
            .map(|m| types::MetricRename {
                source: m.source.clone(),
                target: m.target.clone(),
            })
            .collect(),
        dry_run: flags.dry_run || file.dry_run.unwrap_or(false),
        request_timeout_ms: file.request_timeout_secs.map(|s| s.saturating_mul(1000)),
        retry: file.retry.as_ref().map(|r| types::RetryPolicy {
            max_attempts: r.max_attempts,
            base_delay_ms: r.base_delay_ms,
            max_delay_ms: r.max_delay_ms,
        }),
        deadline_ms: flags
            .deadline_secs
            .or(file.deadline_secs)
            .map(|s| s.saturating_mul(1000)),
        full_refresh: flags.full_refresh,
        full_pass: flags.full_pass || file.full_pass.unwrap_or(false),
        // Archiving tags gone from GHL is on unless turned off.
        archive_missing: !flags.no_archive && file.archive_missing.unwrap_or(true),
        max_in_flight: flags.max_in_flight.or(file.max_in_flight),
    }
}

fn transform(t: &TransformConfig) -> types::Transform {
    match t {
        TransformConfig::Trim => types::Transform::Trim,
        TransformConfig::Lowercase => types::Transform::Lowercase,
        TransformConfig::Uppercase => types::Transform::Uppercase,
        TransformConfig::Slugify => types::Transform::Slugify,
        TransformConfig::Prefix(s) => types::Transform::Prefix(s.clone()),
        TransformConfig::Suffix(s) => types::Transform::Suffix(s.clone()),
        TransformConfig::Replace { from, to } => types::Transform::Replace(types::Replacement {
            from: from.clone(),
            to: to.clone(),
        }),
        TransformConfig::Truncate(n) => types::Transform::Truncate(*n),
        TransformConfig::Default(s) => types::Transform::Default(s.clone()),
    }
}

/// Where a call's imports go besides HTTP: the clock, rotated tokens and
/// progress.
pub struct Imports {
    pub clock: Arc<dyn Clock>,
    pub tokens: Option<Arc<dyn TokenStore>>,
    pub progress: Option<Arc<dyn ProgressSink>>,
}

/// A call ready to run: its settings, and the imports' environment whose
/// transport may reach the two configured origins and nothing else.
pub struct Prepared {
    pub settings: types::Settings,
    pub env: Env,
}

impl Prepared {
    pub fn new(settings: types::Settings, transport: impl HttpTransport + 'static, imports: Imports) -> Prepared {
        let transport = Allowlist::new(transport, &[&settings.ghl_base_url, &settings.rankr_base_url]);
        Prepared {
            env: Env {
                transport: Arc::new(transport),
                clock: imports.clock,
                tokens: imports.tokens,
                captured_logs: None,
                progress: imports.progress,
            },
            settings,
        }
    }

    /// Runs `invocation` with `state` (the blob the previous call of its
    /// kind returned). The outer error is the host's (a trap, a limit).
    pub fn run(
        &self,
        engine: &ConnectorEngine,
        invocation: &Invocation,
        state: Option<&[u8]>,
    ) -> anyhow::Result<OpResult> {
        let (env, settings) = (&self.env, &self.settings);
        Ok(match invocation {
            Invocation::TagSync(event) => OpResult::Sync(engine.tag_sync(env, settings, event, state)?),
            Invocation::TagDetailsPush(event) => OpResult::Sync(engine.tag_details_push(env, settings, event, state)?),
            Invocation::StatsSync(request) => OpResult::Sync(engine.stats_sync(env, settings, request, state)?),
            Invocation::NewPosts(request) => OpResult::Posts(engine.new_posts(env, settings, request, state)?),
            Invocation::PostsPublished(request) => {
                OpResult::Published(engine.posts_published(env, settings, request, state)?)
            }
            Invocation::Check(request) => OpResult::Check(engine.check(env, settings, request)?),
        })
    }
}

/// An operation of the component, with its input.
#[derive(Debug, Clone)]
pub enum Invocation {
    TagSync(TagSyncEvent),
    TagDetailsPush(TagDetailsEvent),
    StatsSync(StatsRequest),
    NewPosts(NewPostsRequest),
    PostsPublished(PublishedPostsRequest),
    /// Takes no state and writes nothing.
    Check(CheckRequest),
}

impl Invocation {
    /// The operation's name, as the component's catalog gives it.
    pub fn name(&self) -> &'static str {
        match self {
            Invocation::TagSync(_) => "tag-sync",
            Invocation::TagDetailsPush(_) => "tag-details-push",
            Invocation::StatsSync(_) => "stats-sync",
            Invocation::NewPosts(_) => "new-posts",
            Invocation::PostsPublished(_) => "posts-published",
            Invocation::Check(_) => "check",
        }
    }
}

/// What the component answered.
#[derive(Debug, Clone)]
pub enum OpResult {
    /// A sync's report or failure.
    Sync(Result<SyncReport, SyncFailure>),
    /// The `new-posts` trigger's report or failure.
    Posts(Result<NewPostsReport, SyncFailure>),
    /// The `posts-published` trigger's report or failure.
    Published(Result<PublishedPostsReport, SyncFailure>),
    /// The check's report, or a failure of its settings.
    Check(Result<CheckReport, SyncFailure>),
}

impl OpResult {
    /// The state to keep: a report's, or what a failure hands back (it
    /// describes what was written before it).
    pub fn state(&self) -> Option<&[u8]> {
        match self {
            OpResult::Sync(Ok(r)) => Some(&r.state),
            OpResult::Posts(Ok(r)) => Some(&r.state),
            OpResult::Published(Ok(r)) => Some(&r.state),
            OpResult::Check(Ok(_)) => None,
            OpResult::Sync(Err(f))
            | OpResult::Posts(Err(f))
            | OpResult::Published(Err(f))
            | OpResult::Check(Err(f)) => f.state.as_deref(),
        }
    }

    /// The failure, if the operation failed.
    pub fn failure(&self) -> Option<&SyncFailure> {
        match self {
            OpResult::Sync(Err(f))
            | OpResult::Posts(Err(f))
            | OpResult::Published(Err(f))
            | OpResult::Check(Err(f)) => Some(f),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_come_from_the_flag_then_the_variable_then_the_file() {
        let file = ConfigFile {
            ghl_base_url: Some("https://ghl.file".into()),
            ..ConfigFile::default()
        };
        let env = |k: &str| (k == "GHL_BASE_URL").then(|| "https://ghl.env".to_string());
        let e = Endpoints::resolve(Some("https://ghl.flag".into()), None, &env, &file);
        assert_eq!((e.ghl.as_str(), e.rankr.as_str()), ("https://ghl.flag", DEFAULT_RANKR));
        assert_eq!(Endpoints::resolve(None, None, &env, &file).ghl, "https://ghl.env");
        assert_eq!(Endpoints::from_file(&file).ghl, "https://ghl.file");
        assert_eq!(Endpoints::from_file(&ConfigFile::default()).ghl, DEFAULT_GHL);
    }

    #[test]
    fn the_settings_take_the_flags_over_the_file() {
        let file = ConfigFile::parse(
            r#"
            page_size = 50
            dry_run = false
            full_pass = true
            archive_missing = true
            [retry]
            max_attempts = 3
            base_delay_ms = 100
            max_delay_ms = 1000
            [[tag_mapping]]
            source = "tag"
            target = "name"
            transforms = ["trim", { truncate = 100 }, { replace = { from = "_", to = " " } }, { default = "untitled" }]
            [[metric_mapping]]
            source = "totals.likes"
            target = "likes_7d"
            "#,
        )
        .unwrap();
        let key = Secret::new("k");
        let credentials = Credentials {
            ghl: Credential::ApiKey(key.clone()),
            rankr_key: &key,
        };
        let endpoints = Endpoints::from_file(&file);
        let s = settings(&endpoints, &credentials, &RunFlags::default(), &file);
        assert_eq!(s.page_size, Some(50));
        assert!(s.full_pass && s.archive_missing && !s.dry_run);
        assert!(matches!(
            s.tag_mapping[0].transforms[1],
            types::Transform::Truncate(100)
        ));
        assert_eq!(s.metric_mapping[0].target, "likes_7d");
        let flags = RunFlags {
            page_size: Some(10),
            dry_run: true,
            no_archive: true,
            deadline_secs: Some(60),
            ..RunFlags::default()
        };
        let s = settings(&endpoints, &credentials, &flags, &file);
        assert_eq!((s.page_size, s.deadline_ms), (Some(10), Some(60_000)));
        assert!(s.dry_run && !s.archive_missing);
    }
}
