//! What every part of the running service shares: the configuration, the
//! database, the network, the metrics, the alerter, each connection's
//! credentials as read at start, and the flags of a stop. The compiled
//! component is not here: only the scheduler and the runs use it.

use super::access::{Access, AccessToken, Role};
use super::alerts::Alerter;
use super::config::{GhlCredentialEnv, ServeConfig};
use super::db::Db;
use super::error::ServeError;
use super::metrics::Metrics;
use crate::credentials::Tokens;
use crate::secret::Secret;
use ghl_rankr_host::clock::{Clock, SystemClock};
use ghl_rankr_host::net::Network;
use sha2::Digest as _;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{mpsc, Arc, Mutex};

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

/// What the HTTP surface asks of the scheduler, which owns the
/// connections' slots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Pause { connection: String, by: String },
    Resume { connection: String, by: String },
}

pub struct AppState {
    pub config: ServeConfig,
    pub db: Db,
    /// The trust store and proxies every run and alert goes through.
    pub network: Network,
    pub metrics: Metrics,
    pub alerter: Alerter,
    pub secrets: HashMap<String, ConnectionSecrets>,
    /// The tokens of the HTTP surface and their roles.
    pub access: Access,
    /// Refused credentials recorded per address, to bound the audit log.
    pub refusals: super::audit::RefusalBudget,
    commands: Mutex<mpsc::Sender<Command>>,
    pub clock: SystemClock,
    /// A stop was asked for: no new runs.
    pub stopping: AtomicBool,
    /// The stop's grace period is over: running operations' requests are
    /// refused and their waits cut, so they end with their checkpoint.
    pub draining: Arc<AtomicBool>,
    /// When the scheduler last went round (for `/readyz`).
    pub last_tick_ms: AtomicU64,
}

impl AppState {
    /// Reads the credentials, seeds or keeps each OAuth pair, and resumes
    /// connections whose credentials changed. The receiver takes what the
    /// HTTP surface asks of the scheduler.
    pub fn new(
        config: ServeConfig,
        db: Db,
        network: Network,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<(AppState, mpsc::Receiver<Command>), ServeError> {
        config.check_variables(env)?;
        let var = |k: &str| env(k).map(|v| v.trim().to_string()).unwrap_or_default();
        let metrics = Metrics::new();
        let clock = SystemClock::default();
        let now = clock.now_ms();
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
                    let stored = db.token_seed(&c.name)?;
                    // The stored pair wins while it comes from the same
                    // refresh token: the one in the environment is spent
                    // after the first rotation.
                    if stored.as_deref() != Some(seed.as_str()) {
                        let tokens = Tokens {
                            access_token: Secret::new(access_token.as_deref().map(&var).unwrap_or_default()),
                            refresh_token: Secret::new(refresh),
                            expires_at_ms: None,
                            scopes: scopes
                                .as_deref()
                                .map(|s| var(s).split_whitespace().map(str::to_string).collect())
                                .unwrap_or_default(),
                        };
                        db.put_tokens(&c.name, &tokens, &seed, now)?;
                        let mut health = db.health(&c.name)?;
                        if health.resume() {
                            tracing::info!(target: "ghl_rankr::serve", connection = %c.name, "new credentials: the connection is resumed");
                            db.put_health(&c.name, &health)?;
                        }
                    }
                    GhlSecret::OAuth {
                        client_id: var(client_id),
                        client_secret: Secret::new(var(client_secret)),
                        seed,
                    }
                }
            };
            let health = db.health(&c.name)?;
            if let Some(why) = &health.paused {
                tracing::warn!(target: "ghl_rankr::serve", connection = %c.name, why, "paused until its credentials change");
                metrics.paused(&c.name, true);
            }
            if let Some(ms) = health.last_success_ms {
                metrics.success(&c.name, ms);
            }
            metrics.queue_depth(&c.name, db.queue_depth(&c.name)?);
            metrics.followups(&c.name, db.pending_followups(&c.name)?);
            secrets.insert(
                c.name.clone(),
                ConnectionSecrets {
                    ghl,
                    rankr: Secret::new(var(&c.rankr_api_key_env)),
                },
            );
        }
        let access = access(&config, env);
        let (commands, receiver) = mpsc::channel();
        let state = AppState {
            alerter: Alerter::new(config.alert_webhook_url.clone(), network.clone()),
            config,
            db,
            network,
            metrics,
            secrets,
            access,
            refusals: Default::default(),
            commands: Mutex::new(commands),
            clock,
            stopping: AtomicBool::new(false),
            draining: Arc::new(AtomicBool::new(false)),
            last_tick_ms: AtomicU64::new(now),
        };
        Ok((state, receiver))
    }

    /// Hands `command` to the scheduler; false once it has stopped.
    pub fn send(&self, command: Command) -> bool {
        self.commands
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .send(command)
            .is_ok()
    }
}

/// The `[[access]]` tokens, and the event intake's variable as an operator
/// token named `events`.
fn access(config: &ServeConfig, env: &dyn Fn(&str) -> Option<String>) -> Access {
    let value = |var: &str| env(var).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    let mut tokens: Vec<AccessToken> = config
        .access
        .iter()
        .filter_map(|a| {
            value(&a.token_env).map(|t| AccessToken {
                name: a.name.clone(),
                role: a.role,
                secret: Secret::new(t),
            })
        })
        .collect();
    if let Some(t) = value(&config.event_token_env) {
        tokens.push(AccessToken {
            name: "events".into(),
            role: Role::Operator,
            secret: Secret::new(t),
        });
    }
    Access::new(tokens, config.public_status)
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
