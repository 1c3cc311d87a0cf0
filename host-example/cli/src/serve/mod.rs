//! `ghl-rankr serve`: keeps many GHL locations in step with Rankr with no
//! one at the keyboard. It polls each location for new posts and syncs
//! their tags, runs a full tag sync and the statistics on schedules, takes
//! events over HTTP, keeps everything in one SQLite file, and says how it
//! is doing (`/healthz`, `/readyz`, `/metrics`, `/runs`, a status page,
//! alerts).
//!
//! - [`config`]: the `connections.toml` file.
//! - [`db`]: the SQLite file (state, OAuth pairs, queue, history).
//! - [`scheduler`]: what runs when; one run at a time per connection.
//! - [`runner`]: one run, committed with its state.
//! - [`http`] and [`page`]: the HTTP endpoints and the status page.
//! - [`alerts`], [`metrics`]: the webhook and Prometheus.

pub mod alerts;
pub mod config;
pub mod db;
pub mod http;
pub mod metrics;
pub mod model;
pub mod page;
pub mod runner;
pub mod scheduler;

use crate::credentials::Tokens;
use crate::secret::Secret;
use alerts::Alerter;
use config::{GhlCredentialEnv, ServeConfig};
use db::Db;
use ghl_rankr_host::clock::SystemClock;
use ghl_rankr_host::engine::ConnectorEngine;
use ghl_rankr_host::net::Network;
use metrics::Metrics;
use sha2::Digest as _;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::Arc;

/// A connection's GHL credential, read from the environment at start.
pub enum GhlSecret {
    Token(Secret),
    /// The pair itself lives in the database; `seed` fingerprints the
    /// operator's refresh token it was first taken from.
    OAuth {
        client_id: String,
        client_secret: Secret,
        seed: String,
    },
}

pub struct ConnectionSecrets {
    pub ghl: GhlSecret,
    pub rankr: Secret,
}

/// What every part of the running service shares.
pub struct Service {
    pub config: ServeConfig,
    pub db: Db,
    pub engine: ConnectorEngine,
    /// The trust store and proxies every run and alert goes through.
    pub network: Network,
    pub metrics: Metrics,
    pub alerter: Alerter,
    pub secrets: HashMap<String, ConnectionSecrets>,
    /// The bearer token of the event intake; none turns the intake off.
    pub event_token: Option<Secret>,
    pub clock: SystemClock,
    /// A stop was asked for: no new runs.
    pub stopping: AtomicBool,
    /// The stop's grace period is over: running operations' requests are
    /// refused and their waits cut, so they end with their checkpoint.
    pub draining: Arc<AtomicBool>,
    /// When the scheduler last went round (for `/readyz`).
    pub last_tick_ms: AtomicU64,
}

impl Service {
    /// Reads the credentials, seeds or keeps each OAuth pair, and unpauses
    /// connections whose credentials changed.
    pub fn new(
        config: ServeConfig,
        db: Db,
        engine: ConnectorEngine,
        network: Network,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Service, String> {
        config.check_variables(env)?;
        let var = |k: &str| env(k).map(|v| v.trim().to_string()).unwrap_or_default();
        let metrics = Metrics::new();
        let clock = SystemClock::default();
        let now = ghl_rankr_host::clock::Clock::now_ms(&clock);
        let mut secrets = HashMap::new();
        for c in &config.connections {
            metrics.connection(&c.name);
            let ghl = match &c.ghl {
                GhlCredentialEnv::Token(t) => GhlSecret::Token(Secret::new(var(t))),
                GhlCredentialEnv::OAuth {
                    refresh_token,
                    client_id,
                    client_secret,
                    access_token,
                    scopes,
                } => {
                    let refresh = var(refresh_token);
                    let seed = fingerprint(&[&var(client_id), &refresh]);
                    let stored = db.tokens(&c.name).map_err(|e| e.to_string())?;
                    // The stored pair wins while it comes from the same
                    // refresh token: the one in the environment is spent
                    // after the first rotation.
                    if stored.as_ref().is_none_or(|(_, s)| *s != seed) {
                        let tokens = Tokens {
                            access_token: Secret::new(access_token.as_deref().map(&var).unwrap_or_default()),
                            refresh_token: Secret::new(refresh),
                            expires_at_ms: None,
                            scopes: scopes
                                .as_deref()
                                .map(|s| var(s).split_whitespace().map(str::to_string).collect())
                                .unwrap_or_default(),
                        };
                        db.put_tokens(&c.name, &tokens, &seed, now).map_err(|e| e.to_string())?;
                        let mut health = db.health(&c.name).map_err(|e| e.to_string())?;
                        if health.paused.take().is_some() {
                            tracing::info!(target: "ghl_rankr::serve", connection = %c.name, "new credentials: the connection is resumed");
                            health.consecutive_failures = 0;
                            db.put_health(&c.name, &health).map_err(|e| e.to_string())?;
                        }
                    }
                    GhlSecret::OAuth {
                        client_id: var(client_id),
                        client_secret: Secret::new(var(client_secret)),
                        seed,
                    }
                }
            };
            let health = db.health(&c.name).map_err(|e| e.to_string())?;
            if let Some(why) = &health.paused {
                tracing::warn!(target: "ghl_rankr::serve", connection = %c.name, why, "paused until its credentials change");
                metrics.paused(&c.name, true);
            }
            if let Some(ms) = health.last_success_ms {
                metrics.success(&c.name, ms);
            }
            metrics.queue_depth(&c.name, db.queue_depth(&c.name).map_err(|e| e.to_string())?);
            secrets.insert(
                c.name.clone(),
                ConnectionSecrets {
                    ghl,
                    rankr: Secret::new(var(&c.rankr_api_key_env)),
                },
            );
        }
        let event_token = env(&config.event_token_env)
            .filter(|t| !t.trim().is_empty())
            .map(|t| Secret::new(t.trim()));
        Ok(Service {
            alerter: Alerter::new(config.alert_webhook_url.clone(), network.clone()),
            config,
            db,
            engine,
            network,
            metrics,
            secrets,
            event_token,
            clock,
            stopping: AtomicBool::new(false),
            draining: Arc::new(AtomicBool::new(false)),
            last_tick_ms: AtomicU64::new(now),
        })
    }
}

/// A stable fingerprint of credential parts (SHA-256, hex): it tells a new
/// refresh token from the one a stored pair came from, without keeping it.
fn fingerprint(parts: &[&str]) -> String {
    let mut h = sha2::Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0u8]);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Runs the service until SIGTERM or SIGINT (a second one exits at once).
pub fn run(config: ServeConfig, engine: ConnectorEngine, network: Network) -> Result<(), String> {
    let db = Db::open(&config.database).map_err(|e| e.to_string())?;
    let server = tiny_http::Server::http(config.listen).map_err(|e| {
        format!(
            "cannot listen on {}: {e}; set service.listen to a free address",
            config.listen
        )
    })?;
    let addr = server
        .server_addr()
        .to_ip()
        .map_or_else(|| config.listen.to_string(), |a| a.to_string());
    tracing::info!(target: "ghl_rankr::serve", network = %network.summary(), "network");
    let svc = Arc::new(Service::new(config, db, engine, network, &|k| std::env::var(k).ok())?);
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        // The first signal asks for a graceful stop; a second one, while
        // that is under way, exits at once (status 1).
        signal_hook::flag::register_conditional_shutdown(signal, 1, stop.clone())
            .and_then(|_| signal_hook::flag::register(signal, stop.clone()))
            .map_err(|e| format!("cannot handle signals: {e}"))?;
    }
    println!(
        "ghl-rankr serve: {} connections · database {} · listening on http://{addr}",
        svc.config.connections.len(),
        svc.db.path().display()
    );
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
    let http_stop = Arc::new(AtomicBool::new(false));
    let http = {
        let (svc, http_stop) = (svc.clone(), http_stop.clone());
        std::thread::Builder::new()
            .name("http".into())
            .spawn(move || http::serve(svc, server, http_stop))
            .map_err(|e| format!("cannot start the HTTP server: {e}"))?
    };
    let result = scheduler::run(svc.clone(), stop).map_err(|e| e.to_string());
    http_stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let _ = http.join();
    result
}

/// `ghl-rankr status`: the database's view of every connection.
pub fn status(database: &std::path::Path, json: bool) -> Result<String, String> {
    let db = Db::open_read_only(database).map_err(|e| e.to_string())?;
    let overview = db.overview().map_err(|e| e.to_string())?;
    if json {
        let connections: Vec<serde_json::Value> = overview
            .iter()
            .map(|o| {
                serde_json::json!({
                    "name": o.name,
                    "state": page::state(Some(o)).1,
                    "paused": o.health.paused,
                    "consecutive_failures": o.health.consecutive_failures,
                    "last_error": o.health.last_error,
                    "last_success_at": db::iso(o.health.last_success_ms),
                    "queue": o.queue,
                    "last_run": o.last_run.as_ref().map(|r| r.to_json()),
                    "next_runs": o.next.iter().map(|(op, at)| serde_json::json!({"operation": op, "at": db::iso(Some(*at))})).collect::<Vec<_>>(),
                })
            })
            .collect();
        return serde_json::to_string_pretty(&serde_json::json!({ "connections": connections }))
            .map_err(|e| e.to_string());
    }
    use std::fmt::Write as _;
    let mut out = String::new();
    if overview.is_empty() {
        out.push_str("no connections have run yet\n");
    }
    for o in &overview {
        let _ = writeln!(out, "{}: {}", o.name, page::state(Some(o)).0);
        match &o.last_run {
            Some(r) => {
                let _ = writeln!(
                    out,
                    "  last run: {} {} at {}{}",
                    r.operation,
                    r.outcome,
                    page::when(r.ended_ms.or(r.started_ms)),
                    r.error.as_deref().map(|e| format!(": {e}")).unwrap_or_default()
                );
            }
            None => out.push_str("  last run: never\n"),
        }
        for (op, at) in &o.next {
            let _ = writeln!(out, "  next {op}: {}", page::when(Some(*at)));
        }
        if let (Some(retry), true) = (o.health.retry_at_ms, o.health.consecutive_failures > 0) {
            let _ = writeln!(out, "  backing off: nothing runs before {}", page::when(Some(retry)));
        }
        let _ = writeln!(out, "  queued posts: {}", o.queue);
    }
    Ok(out)
}
