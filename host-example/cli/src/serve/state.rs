//! What every part of the running service shares: the configuration, the
//! database, the network, the metrics, the alerter, the connections (those
//! of the file with their credentials as read at start, and those installs
//! made), the install flow, and the flags of a stop. The compiled component
//! is not here: only the scheduler and the runs use it.

use super::access::{Access, AccessToken, Role};
use super::alerts::Alerter;
use super::config::{GhlCredentialEnv, ServeConfig};
use super::connections::{ConnectionSecrets, Entry, GhlSecret, Origin, Registry};
use super::db::{Db, InstallState};
use super::error::ServeError;
use super::install::Installs;
use super::metrics::Metrics;
use crate::credentials::Tokens;
use crate::secret::Secret;
use ghl_rankr_host::clock::{Clock, SystemClock};
use ghl_rankr_host::net::Network;
use sha2::Digest as _;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{mpsc, Arc, Mutex};

/// What the HTTP surface and the installs ask of the scheduler, which owns
/// the connections' slots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Pause {
        connection: String,
        by: String,
    },
    Resume {
        connection: String,
        by: String,
    },
    /// An install's connection joined the registry: its first poll (the
    /// baseline) runs now.
    Added {
        connection: String,
    },
    /// It left (uninstalled, removed): nothing more runs for it.
    Removed {
        connection: String,
    },
}

impl Command {
    pub fn connection(&self) -> &str {
        match self {
            Command::Pause { connection, .. }
            | Command::Resume { connection, .. }
            | Command::Added { connection }
            | Command::Removed { connection } => connection,
        }
    }
}

/// What the scheduler and the install worker take from the state.
pub struct Channels {
    pub commands: mpsc::Receiver<Command>,
    /// Wakes the install worker (with `[app]`).
    pub installs: Option<mpsc::Receiver<()>>,
}

pub struct AppState {
    pub config: ServeConfig,
    pub db: Db,
    /// The trust store and proxies every run and alert goes through.
    pub network: Network,
    pub metrics: Metrics,
    pub alerter: Alerter,
    /// Every connection that runs: the file's and the installs'.
    pub registry: Registry,
    /// The marketplace app, with `[app]`.
    pub installs: Option<Installs>,
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
    /// Reads the credentials, seeds or keeps each OAuth pair, resumes
    /// connections whose credentials changed, and adds the installs'
    /// active connections. The channels take what the HTTP surface asks of
    /// the scheduler, and wake the install worker.
    pub fn new(
        config: ServeConfig,
        db: Db,
        network: Network,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<(AppState, Channels), ServeError> {
        config.check_variables(env)?;
        let var = |k: &str| env(k).map(|v| v.trim().to_string()).unwrap_or_default();
        let metrics = Metrics::new();
        let clock = SystemClock::default();
        let now = clock.now_ms();
        let registry = Registry::default();
        for c in &config.connections {
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
                GhlCredentialEnv::Installed => GhlSecret::Installed { company: None },
            };
            registry.insert(Entry {
                connection: c.clone(),
                secrets: ConnectionSecrets {
                    ghl,
                    rankr: Secret::new(var(&c.rankr_api_key_env)),
                },
                origin: Origin::File,
            });
        }
        let (installs, woken) = match &config.app {
            Some(app) => {
                let (installs, woken) = Installs::new(app.clone(), env, network.clone()).map_err(ServeError::App)?;
                for i in db.installs(InstallState::Active)? {
                    if registry.get(&i.name).is_some() {
                        return Err(ServeError::App(format!(
                            "connection {} of the file has the name the template gives sub-account {}: rename one",
                            i.name, i.location_id
                        )));
                    }
                    registry.insert(installs.entry(&i));
                }
                (Some(installs), Some(woken))
            }
            None => (None, None),
        };
        for entry in registry.all() {
            gauges(&db, &metrics, &entry.connection.name)?;
        }
        let access = access(&config, env);
        let (commands, receiver) = mpsc::channel();
        let state = AppState {
            alerter: Alerter::new(config.alert_webhook_url.clone(), network.clone()),
            config,
            db,
            network,
            metrics,
            registry,
            installs,
            access,
            refusals: Default::default(),
            commands: Mutex::new(commands),
            clock,
            stopping: AtomicBool::new(false),
            draining: Arc::new(AtomicBool::new(false)),
            last_tick_ms: AtomicU64::new(now),
        };
        Ok((
            state,
            Channels {
                commands: receiver,
                installs: woken,
            },
        ))
    }

    /// The connection of this name, from the file or an install.
    pub fn connection(&self, name: &str) -> Option<std::sync::Arc<Entry>> {
        self.registry.get(name)
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

/// A connection's gauges as its stored health, queue and follow-ups say.
pub fn gauges(db: &Db, metrics: &Metrics, name: &str) -> Result<(), super::db::DbError> {
    metrics.connection(name);
    let health = db.health(name)?;
    if let Some(why) = &health.paused {
        tracing::warn!(target: "ghl_rankr::serve", connection = %name, why, "paused until its credentials change or it is resumed");
        metrics.paused(name, true);
    }
    if let Some(ms) = health.last_success_ms {
        metrics.success(name, ms);
    }
    metrics.queue_depth(name, db.queue_depth(name)?);
    metrics.followups(name, db.pending_followups(name)?);
    Ok(())
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
