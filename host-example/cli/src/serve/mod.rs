//! `ghl-rankr serve`: keeps many GHL locations in step with Rankr with no
//! one at the keyboard. It polls each location for new posts and syncs
//! their tags, runs a full tag sync and the statistics on schedules, takes
//! events over HTTP, keeps everything in one SQLite file, and says how it
//! is doing (`/healthz`, `/readyz`, `/metrics`, `/runs`, a status page,
//! alerts).
//!
//! Its parts, each importing only those below it:
//! - [`scheduler`]: what runs when; one run at a time per connection.
//! - [`runner`]: one run, committed with its state.
//! - [`http`]: the endpoints; [`page`]: the status page; [`status`]: the
//!   `status` command; [`manage`]: the `connections` command.
//! - [`install`]: the marketplace app agencies connect (consent, webhooks,
//!   listings, sub-account tokens).
//! - [`health`]: failures, incidents, backoff and pause, as a state
//!   machine; [`alerts`]: the webhook; [`metrics`]: Prometheus.
//! - [`access`]: who may do what on the HTTP surface; [`audit`]: the
//!   audit log's vocabulary; [`seal`]: tokens sealed at rest.
//! - [`state`]: what they all share; [`connections`]: the connections
//!   that run, the file's and the installs'; [`config`]: `connections.toml`;
//!   [`db`]: the SQLite file; [`view`]: how rows are shown; [`reply`]: an
//!   HTTP answer; [`model`]: the service's vocabulary; [`error`]: why it
//!   cannot run.

pub mod access;
pub mod alerts;
pub mod audit;
pub mod config;
pub mod connections;
pub mod db;
pub mod error;
pub mod health;
pub mod http;
pub mod install;
pub mod manage;
pub mod metrics;
pub mod model;
pub mod page;
pub mod reply;
pub mod runner;
pub mod scheduler;
pub mod seal;
pub mod state;
pub mod status;
pub mod view;

use config::{GhlCredentialEnv, ServeConfig};
use db::Db;
use error::ServeError;
use ghl_rankr_host::engine::ConnectorEngine;
use ghl_rankr_host::net::Network;
use state::AppState;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Runs the service until SIGTERM or SIGINT (a second one exits at once).
pub fn run(config: ServeConfig, engine: ConnectorEngine, network: Network) -> Result<(), ServeError> {
    let env = |k: &str| std::env::var(k).ok();
    let key = seal::key::load(config.key_file.as_deref(), &env)?;
    let db = Db::open(&config.database, key.as_ref())?;
    if key.is_none() {
        if config.app.is_some() {
            return Err(ServeError::KeyRequired(
                "[app] makes agencies' and sub-accounts' tokens, which the database keeps".into(),
            ));
        }
        if let Some(c) = config
            .connections
            .iter()
            .find(|c| matches!(c.ghl, GhlCredentialEnv::OAuth { .. }))
        {
            return Err(ServeError::KeyRequired(format!(
                "connection {} uses OAuth, whose tokens the database keeps",
                c.name
            )));
        }
        if db.holds_secrets()? {
            return Err(ServeError::KeyRequired("the database holds OAuth tokens".into()));
        }
    }
    let listen = config.listen;
    let listener = std::net::TcpListener::bind(listen).map_err(|source| ServeError::Listen { addr: listen, source })?;
    let addr = listener
        .local_addr()
        .map_or_else(|_| listen.to_string(), |a| a.to_string());
    tracing::info!(target: "ghl_rankr::serve", network = %network.summary(), "network");
    let (state, channels) = AppState::new(config, db, network, &env)?;
    if !listen.ip().is_loopback() && !state.access.has_viewers() && !state.access.public_status() {
        return Err(ServeError::Exposed(listen));
    }
    let state = Arc::new(state);
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        // The first signal asks for a graceful stop; a second one, while
        // that is under way, exits at once (status 1).
        signal_hook::flag::register_conditional_shutdown(signal, 1, stop.clone())
            .and_then(|_| signal_hook::flag::register(signal, stop.clone()))
            .map_err(ServeError::Signals)?;
    }
    println!(
        "ghl-rankr serve: {} connections · database {} · listening on http://{addr}",
        state.registry.len(),
        state.db.path().display()
    );
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
    let http_stop = Arc::new(AtomicBool::new(false));
    let http = {
        let (state, http_stop) = (state.clone(), http_stop.clone());
        std::thread::Builder::new()
            .name("http".into())
            .spawn(move || {
                if let Err(e) = http::server::serve(state, listener, http_stop) {
                    tracing::error!(target: "ghl_rankr::serve", error = %e, "the HTTP server stopped");
                }
            })
            .map_err(|source| ServeError::Thread {
                what: "HTTP server",
                source,
            })?
    };
    let installs = match channels.installs {
        Some(woken) => {
            let (state, stop) = (state.clone(), stop.clone());
            Some(
                std::thread::Builder::new()
                    .name("installs".into())
                    .spawn(move || install::worker::run(state, woken, stop))
                    .map_err(|source| ServeError::Thread {
                        what: "install worker",
                        source,
                    })?,
            )
        }
        None => None,
    };
    let result = scheduler::run(state, Arc::new(engine), channels.commands, stop);
    http_stop.store(true, Ordering::SeqCst);
    let _ = http.join();
    if let Some(installs) = installs {
        let _ = installs.join();
    }
    result
}
