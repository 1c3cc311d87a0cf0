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

use crate::config::{ConfigFile, MappingRowConfig, MetricRenameConfig};
use ghl_rankr_host::net::NetworkConfig;
use serde::Deserialize;
use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use toml::Spanned;

/// The file as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServeFile {
    #[serde(default)]
    service: ServiceTable,
    #[serde(default)]
    schedule: ScheduleTable,
    #[serde(default)]
    settings: ConfigFile,
    #[serde(default)]
    connection: Vec<Spanned<ConnectionTable>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServiceTable {
    database: Option<Spanned<String>>,
    listen: Option<Spanned<String>>,
    max_concurrent: Option<Spanned<u32>>,
    history_days: Option<Spanned<u32>>,
    alert_webhook_url: Option<Spanned<String>>,
    alert_after_failures: Option<Spanned<u32>>,
    event_token_env: Option<Spanned<String>>,
    run_deadline: Option<Spanned<String>>,
    shutdown_grace: Option<Spanned<String>>,
    backoff_initial: Option<Spanned<String>>,
    backoff_max: Option<Spanned<String>>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScheduleTable {
    poll_posts: Option<Spanned<String>>,
    tag_sync: Option<Spanned<String>>,
    stats_daily_at: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConnectionTable {
    name: Spanned<String>,
    location: Spanned<String>,
    dashboard: Option<String>,
    ghl_base_url: Option<String>,
    rankr_base_url: Option<String>,
    ghl_token_env: Option<Spanned<String>>,
    ghl_refresh_token_env: Option<Spanned<String>>,
    ghl_client_id_env: Option<Spanned<String>>,
    ghl_client_secret_env: Option<Spanned<String>>,
    ghl_scopes_env: Option<Spanned<String>>,
    rankr_api_key_env: Spanned<String>,
    schedule: Option<ScheduleTable>,
    tag_mapping: Option<Vec<MappingRowConfig>>,
    metric_mapping: Option<Vec<MetricRenameConfig>>,
}

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
}

/// One GHL location kept in step with Rankr.
#[derive(Debug, Clone)]
pub struct Connection {
    pub name: String,
    pub location: String,
    pub dashboard: Option<String>,
    pub ghl: GhlCredentialEnv,
    pub rankr_api_key_env: String,
    pub schedule: Schedule,
    /// The component's settings (the `--config` keys): shared `[settings]`
    /// with this connection's base URLs and mapping tables.
    pub settings: ConfigFile,
}

/// Where a connection's GHL credential is, by variable name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GhlCredentialEnv {
    /// A Private Integration Token.
    Token(String),
    OAuth {
        refresh_token: String,
        client_id: String,
        client_secret: String,
        /// The first access token, if one is given with the refresh token.
        access_token: Option<String>,
        scopes: Option<String>,
    },
}

impl Connection {
    /// Error hints that name this connection's variables.
    pub fn hints(&self) -> crate::render::Hints {
        let (ghl_credential, ghl_refresh) = match &self.ghl {
            GhlCredentialEnv::Token(t) => (t.clone(), t.clone()),
            GhlCredentialEnv::OAuth { refresh_token, .. } => (
                format!("the OAuth pair (first from {refresh_token})"),
                format!("{refresh_token}, then restart the service"),
            ),
        };
        crate::render::Hints {
            ghl_credential,
            ghl_refresh,
            rankr_key: self.rankr_api_key_env.clone(),
            more_time: "raise service.run_deadline; the next run goes on".into(),
        }
    }
}

/// When a connection's operations run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    /// `new-posts`; none = off.
    pub poll_posts: Option<Duration>,
    /// A full `tag-sync`; none = off.
    pub tag_sync: Option<Duration>,
    /// `stats-sync` daily at this UTC (hour, minute); none = off.
    pub stats_daily_at: Option<(u8, u8)>,
}

const DEFAULT_POLL: &str = "5m";
const DEFAULT_TAG_SYNC: &str = "1h";
const DEFAULT_STATS_AT: &str = "06:00";
/// Shortest interval: the tests use seconds; production uses minutes.
const MIN_INTERVAL: Duration = Duration::from_secs(1);
const MAX_INTERVAL: Duration = Duration::from_secs(7 * 24 * 3600);

/// A refused file: where and what to fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub line: Option<usize>,
    pub message: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(l) => write!(f, "line {l}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl ServeConfig {
    /// Reads and checks `path`; relative paths in it are relative to it.
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let dir = path.parent().unwrap_or(Path::new("."));
        Self::parse(&text, dir).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Checks `text`; `dir` anchors a relative database path.
    pub fn parse(text: &str, dir: &Path) -> Result<Self, ConfigError> {
        let file: ServeFile = toml::from_str(text).map_err(|e| ConfigError {
            line: e.span().map(|s| line_of(text, s.start)),
            message: e.message().trim().to_string(),
        })?;
        let at = |span: std::ops::Range<usize>, message: String| ConfigError {
            line: Some(line_of(text, span.start)),
            message,
        };
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
        if file.connection.is_empty() {
            return Err(ConfigError {
                line: None,
                message: "no [[connection]]: add one per GHL location, with name, location, ghl_token_env (or the OAuth *_env keys) and rankr_api_key_env".into(),
            });
        }
        let mut names = HashSet::new();
        // `[settings]`, its relative paths made relative to this file.
        let shared = file.settings.clone().anchored(dir);
        let mut connections = Vec::new();
        for c in &file.connection {
            let span = c.span();
            let c = c.get_ref();
            let name = c.name.get_ref().trim().to_string();
            let name_ok = !name.is_empty()
                && name.len() <= 64
                && name
                    .chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_');
            if !name_ok {
                return Err(at(
                    c.name.span(),
                    format!(
                        "connection name {:?} must be 1 to 64 letters, digits, '-' or '_' (it is used in URLs)",
                        c.name.get_ref()
                    ),
                ));
            }
            if !names.insert(name.clone()) {
                return Err(at(
                    c.name.span(),
                    format!("a second connection is named {name:?}; names must be unique"),
                ));
            }
            if c.location.get_ref().trim().is_empty() {
                return Err(at(c.location.span(), format!("connection {name}: location is empty")));
            }
            let ghl = ghl_credential(c, &name).map_err(|(span, m)| at(span.unwrap_or_else(|| c.name.span()), m))?;
            let rankr_api_key_env = env_name(&c.rankr_api_key_env, "rankr_api_key_env")
                .map_err(|m| at(c.rankr_api_key_env.span(), format!("connection {name}: {m}")))?;
            let schedule = schedule(
                &file.schedule,
                c.schedule.as_ref().unwrap_or(&ScheduleTable::default()),
                text,
            )?;
            if schedule.stats_daily_at.is_some() && c.dashboard.as_deref().is_none_or(|d| d.trim().is_empty()) {
                return Err(at(
                    span,
                    format!(
                        "connection {name}: statistics run daily but it has no dashboard; set dashboard = \"…\" (the Rankr dashboard id), or [connection.schedule] stats_daily_at = \"off\""
                    ),
                ));
            }
            let mut settings = shared.clone();
            if c.ghl_base_url.is_some() {
                settings.ghl_base_url = c.ghl_base_url.clone();
            }
            if c.rankr_base_url.is_some() {
                settings.rankr_base_url = c.rankr_base_url.clone();
            }
            if let Some(m) = &c.tag_mapping {
                settings.tag_mapping = m.clone();
            }
            if let Some(m) = &c.metric_mapping {
                settings.metric_mapping = m.clone();
            }
            connections.push(Connection {
                name,
                location: c.location.get_ref().trim().to_string(),
                dashboard: c.dashboard.clone(),
                ghl,
                rankr_api_key_env,
                schedule,
                settings,
            });
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
            }
            for var in required {
                if !set(var) {
                    missing.push(format!("{}: {var}", c.name));
                }
            }
        }
        missing
    }

    /// Refuses a start with variables missing, listing them all.
    pub fn check_variables(&self, env: &dyn Fn(&str) -> Option<String>) -> Result<(), String> {
        let missing = self.missing_variables(env);
        if missing.is_empty() {
            return Ok(());
        }
        Err(format!(
            "these environment variables named in the configuration are not set (connection: VARIABLE):\n  {}",
            missing.join("\n  ")
        ))
    }

    pub fn connection(&self, name: &str) -> Option<&Connection> {
        self.connections.iter().find(|c| c.name == name)
    }
}

type Refusal = (Option<std::ops::Range<usize>>, String);

fn ghl_credential(c: &ConnectionTable, name: &str) -> Result<GhlCredentialEnv, Refusal> {
    let var = |v: &Spanned<String>, key: &str| {
        env_name(v, key).map_err(|m| (Some(v.span()), format!("connection {name}: {m}")))
    };
    let oauth_keys = [&c.ghl_refresh_token_env, &c.ghl_client_id_env, &c.ghl_client_secret_env];
    match (&c.ghl_token_env, oauth_keys) {
        (Some(t), [None, None, None]) => {
            if let Some(s) = &c.ghl_scopes_env {
                return Err((
                    Some(s.span()),
                    format!("connection {name}: ghl_scopes_env goes with OAuth (ghl_refresh_token_env), not with a token"),
                ));
            }
            Ok(GhlCredentialEnv::Token(var(t, "ghl_token_env")?))
        }
        (access, [Some(r), Some(id), Some(secret)]) => Ok(GhlCredentialEnv::OAuth {
            refresh_token: var(r, "ghl_refresh_token_env")?,
            client_id: var(id, "ghl_client_id_env")?,
            client_secret: var(secret, "ghl_client_secret_env")?,
            access_token: access.as_ref().map(|a| var(a, "ghl_token_env")).transpose()?,
            scopes: c.ghl_scopes_env.as_ref().map(|s| var(s, "ghl_scopes_env")).transpose()?,
        }),
        (None, [None, None, None]) => Err((
            None,
            format!(
                "connection {name}: no GHL credential; set ghl_token_env (the variable holding a Private Integration Token), or ghl_refresh_token_env, ghl_client_id_env and ghl_client_secret_env for OAuth"
            ),
        )),
        _ => Err((
            None,
            format!(
                "connection {name}: OAuth needs all three of ghl_refresh_token_env, ghl_client_id_env and ghl_client_secret_env"
            ),
        )),
    }
}

/// A variable name, not a secret pasted in its place.
fn env_name(v: &Spanned<String>, key: &str) -> Result<String, String> {
    let name = v.get_ref().trim();
    let mut chars = name.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= 128;
    if ok {
        Ok(name.to_string())
    } else {
        // The value may be a secret: it is not echoed.
        Err(format!(
            "{key} must name an environment variable (letters, digits and '_', e.g. ACME_GHL_TOKEN), not hold the secret itself"
        ))
    }
}

/// A connection's schedule: its own keys over the `[schedule]` defaults.
fn schedule(defaults: &ScheduleTable, own: &ScheduleTable, text: &str) -> Result<Schedule, ConfigError> {
    let pick =
        |own: &Option<Spanned<String>>, default: &Option<Spanned<String>>| own.clone().or_else(|| default.clone());
    let interval = |v: Option<Spanned<String>>, key: &str, fallback: &str| -> Result<Option<Duration>, ConfigError> {
        let (text_value, line) = match &v {
            Some(v) => (v.get_ref().trim().to_string(), Some(line_of(text, v.span().start))),
            None => (fallback.to_string(), None),
        };
        if text_value == "off" {
            return Ok(None);
        }
        match parse_duration(&text_value) {
            Some(d) if (MIN_INTERVAL..=MAX_INTERVAL).contains(&d) => Ok(Some(d)),
            _ => Err(ConfigError {
                line,
                message: format!(
                    "{key} = {text_value:?} is not a possible schedule; give an interval from 1s to 7d like \"5m\" or \"1h\", or \"off\""
                ),
            }),
        }
    };
    let poll_posts = interval(pick(&own.poll_posts, &defaults.poll_posts), "poll_posts", DEFAULT_POLL)?;
    let tag_sync = interval(pick(&own.tag_sync, &defaults.tag_sync), "tag_sync", DEFAULT_TAG_SYNC)?;
    let stats = pick(&own.stats_daily_at, &defaults.stats_daily_at);
    let (value, line) = match &stats {
        Some(v) => (v.get_ref().trim().to_string(), Some(line_of(text, v.span().start))),
        None => (DEFAULT_STATS_AT.to_string(), None),
    };
    let stats_daily_at = if value == "off" {
        None
    } else {
        Some(parse_hh_mm(&value).ok_or_else(|| ConfigError {
            line,
            message: format!(
                "stats_daily_at = {value:?} is not a time of day; write it as HH:MM in UTC, from \"00:00\" to \"23:59\", or \"off\""
            ),
        })?)
    };
    Ok(Schedule {
        poll_posts,
        tag_sync,
        stats_daily_at,
    })
}

fn parse_duration(text: &str) -> Option<Duration> {
    humantime::parse_duration(text.trim()).ok()
}

fn parse_hh_mm(text: &str) -> Option<(u8, u8)> {
    let (h, m) = text.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u8, u8) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some((h, m))
}

fn line_of(text: &str, byte: usize) -> usize {
    text.get(..byte.min(text.len()))
        .map_or(1, |before| before.bytes().filter(|b| *b == b'\n').count() + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ServeConfig, ConfigError> {
        ServeConfig::parse(text, Path::new("/srv"))
    }

    const ONE: &str = "[[connection]]\nname = \"acme\"\nlocation = \"loc1\"\ndashboard = \"d1\"\nghl_token_env = \"ACME_GHL\"\nrankr_api_key_env = \"ACME_RANKR\"\n";

    #[test]
    fn the_documented_example_parses_with_its_defaults() {
        let doc: String = include_str!("config.rs")
            .lines()
            .skip_while(|l| !l.starts_with("//! ```toml"))
            .skip(1)
            .take_while(|l| !l.starts_with("//! ```"))
            .map(|l| l.trim_start_matches("//!").trim_start())
            .collect::<Vec<_>>()
            .join("\n");
        let c = parse(&doc).unwrap();
        assert_eq!(c.database, Path::new("/srv/ghl-rankr.db"));
        assert_eq!(c.listen.to_string(), "127.0.0.1:8787");
        assert_eq!(c.connections.len(), 1);
        let s = c.connections[0].schedule;
        assert_eq!(s.poll_posts, Some(Duration::from_secs(300)));
        assert_eq!(s.tag_sync, Some(Duration::from_secs(3600)));
        assert_eq!(s.stats_daily_at, Some((6, 0)));
        assert_eq!(c.connections[0].settings.page_size, Some(100));
        assert_eq!(c.connections[0].ghl, GhlCredentialEnv::Token("ACME_GHL_TOKEN".into()));
        assert_eq!(c.alert_after_failures, 3);
        assert_eq!(c.event_token_env, "GHL_RANKR_EVENT_TOKEN");
    }

    #[test]
    fn the_deploy_example_parses() {
        let c = parse(include_str!("../../../deploy/connections.example.toml")).unwrap();
        assert_eq!(c.connections.len(), 2);
        assert!(matches!(c.connections[1].ghl, GhlCredentialEnv::OAuth { .. }));
        assert_eq!(c.connections[1].schedule.poll_posts, Some(Duration::from_secs(120)));
        assert_eq!(c.connections[1].settings.tag_mapping.len(), 1);
        assert_eq!(c.connections[0].settings.tag_mapping.len(), 0);
        assert_eq!(c.shutdown_grace, Duration::from_secs(30));
    }

    #[test]
    fn a_connection_overrides_the_schedule_and_can_turn_parts_off() {
        let text = format!(
            "[schedule]\npoll_posts = \"2m\"\n{ONE}[connection.schedule]\ntag_sync = \"off\"\nstats_daily_at = \"23:59\"\n"
        );
        let c = parse(&text).unwrap();
        let s = c.connections[0].schedule;
        assert_eq!(s.poll_posts, Some(Duration::from_secs(120)));
        assert_eq!(s.tag_sync, None);
        assert_eq!(s.stats_daily_at, Some((23, 59)));
    }

    #[test]
    fn mistakes_are_refused_with_their_line_and_fix() {
        let cases = [
            (format!("{ONE}colour = \"red\""), 7, "unknown field `colour`"),
            (format!("{ONE}[[connection]]\nname = \"acme\"\nlocation = \"l\"\nghl_token_env = \"A\"\nrankr_api_key_env = \"B\"\n[connection.schedule]\nstats_daily_at = \"off\"\n"), 8, "a second connection is named \"acme\""),
            (ONE.replace("dashboard = \"d1\"\n", ""), 1, "has no dashboard"),
            (format!("[service]\nmax_concurrent = 0\n{ONE}"), 2, "max_concurrent = 0 is out of range"),
            (format!("[service]\nlisten = \"localhost\"\n{ONE}"), 2, "not an address and port"),
            (format!("[schedule]\ntag_sync = \"every hour\"\n{ONE}"), 2, "not a possible schedule"),
            (ONE.replace("\"ACME_GHL\"", "\"eyJhbGciOi.secret\""), 5, "must name an environment variable"),
            (ONE.replace("ghl_token_env = \"ACME_GHL\"", "ghl_refresh_token_env = \"R\""), 2, "OAuth needs all three"),
            (ONE.replace("name = \"acme\"", "name = \"a b\""), 2, "letters, digits"),
        ];
        for (text, line, message) in cases {
            let e = parse(&text).unwrap_err();
            assert!(e.message.contains(message), "{e} / {text}");
            assert_eq!(e.line, Some(line), "{e} / {text}");
            assert!(!e.to_string().contains("eyJhbGciOi"), "a pasted secret is not echoed");
        }
        assert!(parse("").unwrap_err().message.contains("no [[connection]]"));
    }

    #[test]
    fn oauth_reads_five_variables_and_missing_ones_are_listed() {
        let text = ONE.replace(
            "ghl_token_env = \"ACME_GHL\"",
            "ghl_refresh_token_env = \"R\"\nghl_client_id_env = \"I\"\nghl_client_secret_env = \"S\"\nghl_scopes_env = \"SC\"",
        );
        let c = parse(&text).unwrap();
        assert_eq!(
            c.connections[0].ghl,
            GhlCredentialEnv::OAuth {
                refresh_token: "R".into(),
                client_id: "I".into(),
                client_secret: "S".into(),
                access_token: None,
                scopes: Some("SC".into()),
            }
        );
        let env = |k: &str| (k == "R").then(|| "r".to_string());
        assert_eq!(c.missing_variables(&env), ["acme: ACME_RANKR", "acme: I", "acme: S"]);
    }
}
