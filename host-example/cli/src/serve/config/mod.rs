//! `connections.toml`: the service, its schedules, and one `[[connection]]`
//! per GHL location. Credentials are the *names* of environment variables;
//! the file holds no secret. Every mistake is refused at start with its line
//! and the fix.
//!
//! ```toml
//! [service]
//! database = "ghl-rankr.db"          # relative to this file
//! listen = "127.0.0.1:8787"
//! max_concurrent = 4
//! alert_webhook_url = "https://hooks.example.com/ghl-rankr"
//!
//! [schedule]                          # defaults for every connection
//! poll_posts = "5m"
//! tag_sync = "1h"
//! stats_daily_at = "06:00"            # UTC, or "off"
//!
//! [settings]                          # the keys of `--config`, for all
//! page_size = 100
//! ca_cert = "corp-ca.pem"             # relative to this file; proxy, no_proxy too
//!
//! [[connection]]
//! name = "acme"
//! location = "ve9EPM428h8vShlRW1KT"
//! dashboard = "dash-acme"
//! ghl_token_env = "ACME_GHL_TOKEN"    # a Private Integration Token, or:
//! # ghl_refresh_token_env / ghl_client_id_env / ghl_client_secret_env
//! rankr_api_key_env = "ACME_RANKR_KEY"
//! ```

mod access;
mod app;
mod connection;
mod file;
mod schedule;
mod source;

pub use app::{AppConfig, Template};
pub use connection::{Connection, GhlCredentialEnv};
pub use schedule::Schedule;
pub use source::ConfigError;

use super::access::AccessConfig;
use connection::env_name;
use file::{ScheduleTable, ServeFile};
use ghl_rankr_host::net::NetworkConfig;
use schedule::{parse_duration, schedule};
use source::{line_of, Source};
use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use toml::Spanned;

/// The service, resolved: defaults applied, schedules parsed.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub database: PathBuf,
    pub listen: SocketAddr,
    pub max_concurrent: usize,
    pub history_days: u32,
    pub alert_webhook_url: Option<String>,
    pub alert_after_failures: u32,
    /// The variable holding the bearer token of `POST /connections/…`.
    pub event_token_env: String,
    /// Each run's deadline: it stops there with a checkpoint.
    pub run_deadline: Duration,
    /// How long a stop waits for running operations.
    pub shutdown_grace: Duration,
    pub backoff_initial: Duration,
    pub backoff_max: Duration,
    pub connections: Vec<Connection>,
    /// `[settings]`' `ca_cert`, `proxy` and `no_proxy`: one network for
    /// the whole service.
    pub network: NetworkConfig,
    /// The status page, `/runs` and `/metrics` answer without a token.
    pub public_status: bool,
    /// The file holding the encryption key (else `GHL_RANKR_ENCRYPTION_KEY`).
    pub key_file: Option<PathBuf>,
    /// HTTP connections served at once; more are closed at once.
    pub max_connections: usize,
    /// How long a request's head and body may take to arrive.
    pub request_timeout: Duration,
    /// The `[[access]]` tokens.
    pub access: Vec<AccessConfig>,
    /// Each connection is checked before its first run.
    pub check_at_start: bool,
    /// The marketplace app agencies install, if any.
    pub app: Option<AppConfig>,
}

/// Why the connections file cannot be used.
#[derive(Debug)]
pub enum ConfigFileError {
    Unreadable { path: PathBuf, source: std::io::Error },
    Invalid { path: PathBuf, error: ConfigError },
}

impl std::fmt::Display for ConfigFileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConfigFileError::Unreadable { path, source } => write!(f, "cannot read {}: {source}", path.display()),
            ConfigFileError::Invalid { path, error } => write!(f, "{}: {error}", path.display()),
        }
    }
}

impl std::error::Error for ConfigFileError {}

/// Variables the connections name that are not set, as `connection:
/// VARIABLE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingVariables(pub Vec<String>);

impl std::fmt::Display for MissingVariables {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "these environment variables named in the configuration are not set (connection: VARIABLE):\n  {}",
            self.0.join("\n  ")
        )
    }
}

impl std::error::Error for MissingVariables {}

impl ServeConfig {
    /// Reads and checks `path`; relative paths in it are relative to it.
    pub fn load(path: &Path) -> Result<Self, ConfigFileError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigFileError::Unreadable {
            path: path.to_path_buf(),
            source,
        })?;
        let dir = path.parent().unwrap_or(Path::new("."));
        Self::parse(&text, dir).map_err(|error| ConfigFileError::Invalid {
            path: path.to_path_buf(),
            error,
        })
    }

    /// Checks `text`; `dir` anchors a relative database path.
    pub fn parse(text: &str, dir: &Path) -> Result<Self, ConfigError> {
        let file: ServeFile = toml::from_str(text).map_err(|e| ConfigError {
            line: e.span().map(|s| line_of(text, s.start)),
            message: e.message().trim().to_string(),
        })?;
        let source = Source { text };
        let at = |span: std::ops::Range<usize>, message: String| source.at(span, message);
        let s = &file.service;
        let duration = |v: &Option<Spanned<String>>, key: &str, default: &str| -> Result<Duration, ConfigError> {
            match v {
                None => Ok(parse_duration(default).unwrap_or_default()),
                Some(v) => parse_duration(v.get_ref()).ok_or_else(|| {
                    at(
                        v.span(),
                        format!(
                            "service.{key} = {:?} is not a duration; write it like \"30s\", \"5m\" or \"1h\"",
                            v.get_ref()
                        ),
                    )
                }),
            }
        };
        let database = match &s.database {
            Some(d) if d.get_ref().trim().is_empty() => {
                return Err(at(d.span(), "service.database is empty; give a file path".into()))
            }
            Some(d) => dir.join(d.get_ref()),
            None => dir.join("ghl-rankr.db"),
        };
        let listen = match &s.listen {
            None => SocketAddr::from(([127, 0, 0, 1], 8787)),
            Some(l) => l.get_ref().parse().map_err(|_| {
                at(
                    l.span(),
                    format!(
                        "service.listen = {:?} is not an address and port; write it like \"127.0.0.1:8787\"",
                        l.get_ref()
                    ),
                )
            })?,
        };
        let bounded = |v: &Option<Spanned<u32>>, key: &str, default: u32, lo: u32, hi: u32| match v {
            None => Ok(default),
            Some(n) if (lo..=hi).contains(n.get_ref()) => Ok(*n.get_ref()),
            Some(n) => Err(at(
                n.span(),
                format!("service.{key} = {} is out of range; use {lo} to {hi}", n.get_ref()),
            )),
        };
        let max_concurrent = bounded(&s.max_concurrent, "max_concurrent", 4, 1, 256)? as usize;
        let history_days = bounded(&s.history_days, "history_days", 30, 1, 3650)?;
        let alert_after_failures = bounded(&s.alert_after_failures, "alert_after_failures", 3, 1, 1000)?;
        let alert_webhook_url = match &s.alert_webhook_url {
            None => None,
            Some(u) if u.get_ref().starts_with("https://") || u.get_ref().starts_with("http://") => {
                Some(u.get_ref().clone())
            }
            Some(u) => {
                return Err(at(
                    u.span(),
                    "service.alert_webhook_url must be an http:// or https:// URL".into(),
                ))
            }
        };
        let event_token_env = match &s.event_token_env {
            None => "GHL_RANKR_EVENT_TOKEN".to_string(),
            Some(v) => env_name(v, "service.event_token_env").map_err(|m| at(v.span(), m))?,
        };
        let run_deadline = duration(&s.run_deadline, "run_deadline", "5m")?;
        let request_timeout = duration(&s.request_timeout, "request_timeout", "10s")?;
        if request_timeout < Duration::from_millis(100) || request_timeout > Duration::from_secs(300) {
            let span = s.request_timeout.as_ref().map(Spanned::span).unwrap_or(0..0);
            return Err(at(span, "service.request_timeout must be from 100ms to 5m".into()));
        }
        let max_connections = bounded(&s.max_connections, "max_connections", 256, 8, 65_536)? as usize;
        let key_file = match &s.key_file {
            Some(k) if k.get_ref().trim().is_empty() => {
                return Err(at(
                    k.span(),
                    "service.key_file is empty; give the key file's path".into(),
                ))
            }
            Some(k) => Some(dir.join(k.get_ref())),
            None => None,
        };
        let access = access::parse(&source, &file.access)?;
        let shutdown_grace = duration(&s.shutdown_grace, "shutdown_grace", "30s")?;
        let backoff_initial = duration(&s.backoff_initial, "backoff_initial", "30s")?;
        let backoff_max = duration(&s.backoff_max, "backoff_max", "30m")?;
        if run_deadline < Duration::from_secs(5) {
            let span = s.run_deadline.as_ref().map(Spanned::span).unwrap_or(0..0);
            return Err(at(span, "service.run_deadline must be at least 5s".into()));
        }
        if backoff_max < backoff_initial || backoff_initial.is_zero() {
            let span = s
                .backoff_max
                .as_ref()
                .or(s.backoff_initial.as_ref())
                .map(Spanned::span)
                .unwrap_or(0..0);
            return Err(at(
                span,
                "service.backoff_initial must be above 0 and at most service.backoff_max".into(),
            ));
        }
        // The defaults are checked even where every connection overrides them.
        schedule(&file.schedule, &ScheduleTable::default(), text)?;
        let mut names = HashSet::new();
        // `[settings]`, its relative paths made relative to this file.
        let shared = file.settings.clone().anchored(dir);
        let app = match &file.app {
            Some(a) => Some(app::parse(&source, a, file.template.as_ref(), &file.schedule, &shared)?),
            None => None,
        };
        if file.connection.is_empty() && app.is_none() {
            return Err(ConfigError {
                line: None,
                message: "no [[connection]] and no [app]: add one [[connection]] per GHL location (name, location, ghl_token_env or the OAuth *_env keys, rankr_api_key_env), or an [app] and [template] for agencies to install".into(),
            });
        }
        let mut connections = Vec::new();
        for c in &file.connection {
            let c = connection::parse(&source, c, &file.schedule, &shared)?;
            if !names.insert(c.name.clone()) {
                return Err(source.at(
                    file.connection[connections.len()].get_ref().name.span(),
                    format!("a second connection is named {:?}; names must be unique", c.name),
                ));
            }
            connections.push(c);
        }
        Ok(ServeConfig {
            database,
            listen,
            max_concurrent,
            history_days,
            alert_webhook_url,
            alert_after_failures,
            event_token_env,
            run_deadline,
            shutdown_grace,
            backoff_initial,
            backoff_max,
            connections,
            network: shared.network(None),
            public_status: s.public_status.unwrap_or(false),
            key_file,
            max_connections,
            request_timeout,
            access,
            check_at_start: s.check_at_start.unwrap_or(true),
            app,
        })
    }

    /// Every variable the connections read that is not set (or empty), as
    /// `connection: VARIABLE` lines; checked at start.
    pub fn missing_variables(&self, env: &dyn Fn(&str) -> Option<String>) -> Vec<String> {
        let set = |k: &str| env(k).is_some_and(|v| !v.trim().is_empty());
        let mut missing = Vec::new();
        for c in &self.connections {
            let mut required: Vec<&str> = vec![&c.rankr_api_key_env];
            match &c.ghl {
                GhlCredentialEnv::Token(t) => required.push(t),
                GhlCredentialEnv::OAuth {
                    refresh_token,
                    client_id,
                    client_secret,
                    ..
                } => required.extend([refresh_token.as_str(), client_id, client_secret]),
                GhlCredentialEnv::Installed => {}
            }
            for var in required {
                if !set(var) {
                    missing.push(format!("{}: {var}", c.name));
                }
            }
        }
        for a in &self.access {
            if !set(&a.token_env) {
                missing.push(format!("access {}: {}", a.name, a.token_env));
            }
        }
        if let Some(app) = &self.app {
            for var in [
                &app.client_id_env,
                &app.client_secret_env,
                &app.template.rankr_api_key_env,
            ] {
                if !set(var) {
                    missing.push(format!("app: {var}"));
                }
            }
        }
        missing
    }

    /// Refuses a start with variables missing, listing them all.
    pub fn check_variables(&self, env: &dyn Fn(&str) -> Option<String>) -> Result<(), MissingVariables> {
        let missing = self.missing_variables(env);
        if missing.is_empty() {
            return Ok(());
        }
        Err(MissingVariables(missing))
    }

    pub fn connection(&self, name: &str) -> Option<&Connection> {
        self.connections.iter().find(|c| c.name == name)
    }
}

#[cfg(test)]
mod tests;
