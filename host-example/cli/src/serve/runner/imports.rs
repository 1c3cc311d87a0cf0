//! What a run's component call is given besides its settings: a transport
//! that counts each request by API and refuses new ones once a stop's grace
//! period is over, a clock whose waits a stop cuts short, and a token store
//! that commits a rotated pair to the database before it is used.

use crate::credentials::Tokens;
use crate::serve::connections::GhlSecret;
use crate::serve::metrics::Api;
use crate::serve::state::AppState;
use ghl_rankr_host::clock::Clock;
use ghl_rankr_host::http::{Request, Response, TransportError};
use ghl_rankr_host::imports::TokenStore;
use ghl_rankr_host::transport::{HttpTransport, UreqTransport};
use ghl_rankr_host::types::OauthTokens;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Counts each request sent, by API, and each 429; refuses new requests
/// once a stop's grace period is over, so the run ends with its checkpoint.
pub struct Metered {
    pub inner: UreqTransport,
    pub state: Arc<AppState>,
    pub connection: String,
    pub ghl: String,
    pub rankr: String,
}

impl HttpTransport for Metered {
    fn send(&self, request: &Request) -> Result<Response, TransportError> {
        if self.state.draining.load(Ordering::SeqCst) {
            return Err(TransportError::Denied("the service is stopping".into()));
        }
        let api = if request.url.starts_with(&self.rankr) {
            Some(Api::Rankr)
        } else if request.url.starts_with(&self.ghl) {
            Some(Api::Ghl)
        } else {
            None
        };
        let answer = self.inner.send(request);
        if let Some(api) = api {
            self.state
                .metrics
                .request(&self.connection, api, answer.as_ref().ok().map(|r| r.status));
        }
        answer
    }

    fn max_concurrency(&self) -> usize {
        self.inner.max_concurrency()
    }
}

/// The wall clock; once a stop's grace period is over, waits end at once.
pub struct StoppableClock {
    pub state: Arc<AppState>,
}

impl Clock for StoppableClock {
    fn now_ms(&self) -> u64 {
        self.state.clock.now_ms()
    }

    fn sleep_ms(&self, ms: u64) {
        // In slices, so a stop cuts a long wait (a rate-limit pause) short.
        let until = Instant::now() + Duration::from_millis(ms);
        while !self.state.draining.load(Ordering::SeqCst) {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            std::thread::sleep(left.min(Duration::from_millis(100)));
        }
    }
}

/// Rotated pairs go to the database, committed before the component uses
/// the new access token.
pub struct DbTokens {
    pub state: Arc<AppState>,
    pub connection: String,
}

impl TokenStore for DbTokens {
    fn store(&self, tokens: &OauthTokens) -> Result<(), String> {
        let entry = self.state.connection(&self.connection);
        let now = self.state.clock.now_ms();
        let pair = Tokens::from_wit(tokens);
        match entry.as_ref().map(|e| &e.secrets.ghl) {
            Some(GhlSecret::OAuth { seed, .. }) => self
                .state
                .db
                .put_tokens(&self.connection, &pair, seed, now)
                .map_err(|e| e.to_string())?,
            // Stored only while the install is active: a run that outlives
            // an UNINSTALL does not bring its tokens back.
            Some(GhlSecret::Installed { .. }) => {
                let kept = self
                    .state
                    .db
                    .put_install_tokens(&self.connection, &pair, now)
                    .map_err(|e| e.to_string())?;
                if !kept {
                    return Err(format!("{} was uninstalled: its tokens are not kept", self.connection));
                }
            }
            _ => return Err(format!("{} keeps no OAuth pair", self.connection)),
        }
        tracing::info!(target: "ghl_rankr::serve", connection = %self.connection, "rotated GHL tokens stored");
        Ok(())
    }
}
