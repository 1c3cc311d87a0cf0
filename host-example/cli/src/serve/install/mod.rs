//! Agency installs: the marketplace app an agency connects once.
//!
//! - [`flow`]: `GET /install` sends the admin to HighLevel's consent page
//!   with a single-use `state`; `GET /oauth/callback` exchanges the code
//!   and keeps an agency's pair, or makes a sub-account a connection.
//! - [`webhook`]: `POST /webhooks/ghl`, INSTALL and UNINSTALL, verified
//!   over the raw body.
//! - [`worker`]: the installs' own thread: each pending sub-account's
//!   first token, each agency's listing (at start, after a consent, and
//!   every `list_installs`), and the commands `ghl-rankr connections`
//!   leaves.
//! - [`tokens`]: the agency's token, refreshed with rotation (committed
//!   before use, a spent refresh token never sent again), and each
//!   sub-account's, renewed before it expires.
//! - [`client`]: the calls, sent; [`error`]: why a step failed.
//!
//! The database is the truth ([`crate::serve::db::Install`]): a webhook or a
//! consent commits what it asks for before it is answered, and the worker
//! carries it out, so a crash in between loses nothing.

pub mod client;
pub mod error;
pub mod flow;
pub mod tokens;
pub mod webhook;
pub mod worker;

use super::config::AppConfig;
use super::connections::{ConnectionSecrets, Entry, GhlSecret, Origin};
use super::db::Install;
use crate::secret::Secret;
use client::Marketplace;
use ghl_rankr_core::auth::marketplace::App;
use ghl_rankr_host::clock::Clock;
use ghl_rankr_host::transport::UreqTransport;
use std::sync::{mpsc, Mutex};
use std::time::Duration;
use webhook::Verifier;

/// How long a consent's `state` is good for.
pub const STATE_TTL_MS: u64 = 10 * 60 * 1000;
/// Each marketplace call's timeout.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// What the install flow runs with, read at start.
pub struct Installs {
    pub app: AppConfig,
    pub client_id: String,
    client_secret: ghl_rankr_core::Secret,
    /// The Rankr key of every connection an install makes.
    pub rankr_key: Secret,
    pub verifier: Verifier,
    /// Held while an agency's pair is read, refreshed and stored: two
    /// threads never send one refresh token.
    agency_pair: Mutex<()>,
    transport: UreqTransport,
    wake: Mutex<mpsc::Sender<()>>,
}

impl Installs {
    /// The app from `[app]` and its variables; the receiver wakes the
    /// worker.
    pub fn new(
        app: AppConfig,
        env: &dyn Fn(&str) -> Option<String>,
        network: ghl_rankr_host::net::Network,
    ) -> Result<(Installs, mpsc::Receiver<()>), String> {
        let var = |k: &str| env(k).map(|v| v.trim().to_string()).unwrap_or_default();
        let verifier = Verifier::new(&app)?;
        let (wake, woken) = mpsc::channel();
        Ok((
            Installs {
                client_id: var(&app.client_id_env),
                client_secret: ghl_rankr_core::Secret::new(var(&app.client_secret_env)),
                rankr_key: Secret::new(var(&app.template.rankr_api_key_env)),
                verifier,
                agency_pair: Mutex::new(()),
                transport: UreqTransport::new(network, CALL_TIMEOUT),
                wake: Mutex::new(wake),
                app,
            },
            woken,
        ))
    }

    /// The redirect URI registered with the app.
    pub fn redirect_uri(&self) -> String {
        format!("{}/oauth/callback", self.app.public_url)
    }

    /// The calls, on `clock`.
    pub fn marketplace<'a>(&'a self, clock: &'a dyn Clock) -> Marketplace<'a> {
        Marketplace {
            app: App {
                ghl_base: &self.app.ghl_base_url,
                client_id: &self.client_id,
                client_secret: &self.client_secret,
                timeout_ms: CALL_TIMEOUT.as_millis() as u32,
            },
            transport: &self.transport,
            clock,
        }
    }

    /// The app id webhooks must carry.
    pub fn app_id(&self) -> &str {
        ghl_rankr_core::auth::marketplace::app_id(&self.client_id)
    }

    /// Has the worker look at the database now.
    pub fn wake(&self) {
        let _ = self.wake.lock().unwrap_or_else(|p| p.into_inner()).send(());
    }

    /// The app's secret, for a sub-account pair the component may rotate.
    pub fn client_secret(&self) -> Secret {
        Secret::new(self.client_secret.expose())
    }

    /// The connection an active install runs as.
    pub fn entry(&self, install: &Install) -> Entry {
        Entry {
            connection: self.app.template.connection(&install.name, &install.location_id),
            secrets: ConnectionSecrets {
                ghl: GhlSecret::Installed {
                    company: install.company_id.clone(),
                },
                rankr: self.rankr_key.clone(),
            },
            origin: Origin::Installed {
                company: install.company_id.clone(),
            },
        }
    }

    /// A new install of `location` as the template names it.
    pub fn install_of(&self, location: &str, company: Option<&str>, name: Option<&str>, now_ms: u64) -> Install {
        Install {
            location_id: location.to_string(),
            name: self.app.template.name_for(location),
            company_id: company.map(str::to_string),
            location_name: name.map(str::to_string),
            state: super::db::InstallState::Pending,
            note: None,
            installed_ms: now_ms,
        }
    }
}

/// A location id as GHL writes them: letters and digits (the template
/// puts it in a connection name, a URL segment).
pub fn valid_location(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}
