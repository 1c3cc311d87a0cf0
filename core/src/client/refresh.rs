//! The exchange's OAuth refresh with rotation: sending `POST /oauth/token`,
//! storing the new pair before it is used, and retrying only an attempt GHL
//! surely did not apply. The request, the reading of the answer and what
//! each outcome means are `auth::refresh`'s.

use super::errors::transport_error;
use super::exchange::{Exchange, Sent};
use super::retry::parse_retry_after;
use crate::auth::refresh::{self, Attempt};
use crate::auth::Credential;
use crate::io::{Host, Level, TransportError};
use crate::report::{Service, SyncError, UpstreamError};

impl<H: Host + ?Sized> Exchange<'_, H> {
    /// `POST /oauth/token` with the refresh token, once. The new pair goes
    /// to the host's store before it is used. An attempt is sent again only
    /// when GHL surely did not apply it (see [`refresh::judge`]).
    pub(super) fn refresh(&mut self) -> Result<(), SyncError> {
        let Credential::OAuth(oauth) = &self.auth.credential else {
            return Ok(());
        };
        let request = refresh::request(&self.auth.ghl_base, oauth, self.auth.timeout_ms);
        let previous_scopes = oauth.tokens.scopes.clone();
        let endpoint = refresh::ENDPOINT;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            self.requests += 1;
            if attempt > 1 {
                self.retries += 1;
            }
            let started = self.host.now_ms();
            let outcome = self.host.send(&request);
            let ended = self.host.now_ms();
            self.last_sent = Some(Sent {
                outcome: outcome.as_ref().map(|r| r.status).map_err(TransportError::kind),
                latency_ms: ended.saturating_sub(started),
            });
            let status = match &outcome {
                Ok(resp) => resp.status.to_string(),
                Err(e) => e.to_string(),
            };
            let now = self.host.now_ms();
            let wait = match refresh::judge(outcome, now, &previous_scopes) {
                Attempt::Rotated(tokens) => {
                    self.log_exchange(Level::Info, Service::Ghl, endpoint, attempt, &status);
                    self.scrub.add([&tokens.access_token, &tokens.refresh_token]);
                    self.rotated = Some(tokens.clone());
                    if let Err(message) = self.host.store_tokens(&tokens) {
                        return Err(SyncError::CredentialStore(self.scrub.scrubbed(message)));
                    }
                    if let Credential::OAuth(oauth) = &mut self.auth.credential {
                        oauth.tokens = tokens;
                    }
                    self.host.log(Level::Info, "GHL tokens refreshed and stored", &[]);
                    return Ok(());
                }
                Attempt::Final(Ok(resp)) if refresh::is_refusal(resp.status) => {
                    self.log_exchange(Level::Warn, Service::Ghl, endpoint, attempt, &status);
                    let message = self.error_text(Service::Ghl, &resp);
                    return Err(SyncError::ReauthorizationRequired(UpstreamError {
                        service: Service::Ghl,
                        endpoint: endpoint.into(),
                        status: resp.status,
                        message,
                    }));
                }
                Attempt::Final(Ok(resp)) => {
                    self.log_exchange(Level::Warn, Service::Ghl, endpoint, attempt, &status);
                    return Err(self.error_for(Service::Ghl, endpoint, &resp));
                }
                Attempt::Final(Err(error)) => {
                    self.log_exchange(Level::Warn, Service::Ghl, endpoint, attempt, &status);
                    return Err(error);
                }
                Attempt::NotApplied(outcome) => {
                    self.log_exchange(Level::Warn, Service::Ghl, endpoint, attempt, &status);
                    let last = attempt >= self.policy.max_attempts;
                    match outcome {
                        Ok(resp) => match resp.header("retry-after").and_then(|v| parse_retry_after(v, now)) {
                            Some(ms) if ms <= self.policy.max_delay_ms as u64 && !last => ms,
                            None if !last => self.backoff(attempt),
                            _ => return Err(self.error_for(Service::Ghl, endpoint, &resp)),
                        },
                        Err(_) if !last => self.backoff(attempt),
                        Err(e) => return Err(transport_error(Service::Ghl, endpoint, &e)),
                    }
                }
            };
            if self.deadline_left().is_some_and(|left| wait >= left) {
                return Err(SyncError::DeadlineExceeded(
                    "the token refresh was rate limited past the deadline".into(),
                ));
            }
            self.host.sleep_ms(wait);
        }
    }
}
