//! The marketplace calls, sent: the core builds each request and reads
//! each answer (`ghl_rankr_core::auth::marketplace`); this sends them over
//! the service's network and says what the outcome means.
//!
//! Retries: a refresh or a code goes again only when GHL surely did not
//! apply it (a 429, a connection never made: the core's
//! `refresh::judge`), since each spends what it sends. The listing and the
//! sub-account token exchange spend nothing, so a 5xx or a lost answer
//! goes again too. At most [`ATTEMPTS`] tries, backing off.

use super::error::InstallError;
use crate::credentials::Tokens;
use crate::secret::Secret;
use ghl_rankr_core::auth::marketplace::{self as mp, App, Grant, Installed, UserType};
use ghl_rankr_core::auth::refresh::{self, Attempt};
use ghl_rankr_core::io as core_io;
use ghl_rankr_host::clock::Clock;
use ghl_rankr_host::http as wit;
use ghl_rankr_host::transport::HttpTransport;

/// Tries of one call.
pub const ATTEMPTS: u32 = 3;
/// The first wait between tries; it doubles.
const BACKOFF_MS: u64 = 500;
/// The longest `Retry-After` waited for.
const MAX_WAIT_MS: u64 = 10_000;
/// Most pages of `installedLocations` read in one listing.
const MAX_PAGES: u32 = 1_000;

/// The app's marketplace calls over a transport.
pub struct Marketplace<'a> {
    pub app: App<'a>,
    pub transport: &'a dyn HttpTransport,
    pub clock: &'a dyn Clock,
}

/// What one try came to, for the retry loop.
enum Try<T> {
    Done(Result<T, InstallError>),
    /// May go again, after this wait (none: the backoff's).
    Again(InstallError, Option<u64>),
}

impl Marketplace<'_> {
    /// Exchanges the consent's code: an agency's pair or a sub-account's.
    pub fn exchange_code(&self, code: &str, redirect_uri: &str) -> Result<Grant, InstallError> {
        let request = mp::code_request(&self.app, code, redirect_uri);
        self.retrying(&request, mp::TOKEN, |outcome, now| {
            match spent_outcome(outcome, mp::TOKEN) {
                Ok(resp) => Try::Done(mp::read_grant(mp::TOKEN, &resp.body, now).map_err(invalid)),
                Err(t) => t,
            }
        })
    }

    /// Rotates a pair of `user_type`: the new pair, to be stored before it
    /// is used. A refusal is [`InstallError::Refused`].
    pub fn refresh(
        &self,
        refresh_token: &Secret,
        user_type: UserType,
        scopes: &[String],
    ) -> Result<Tokens, InstallError> {
        let token = ghl_rankr_core::Secret::new(refresh_token.expose());
        let request = mp::refresh_request(&self.app, &token, user_type);
        self.retrying(&request, mp::TOKEN, |outcome, now| {
            match refresh::judge(outcome.map_err(|e| e.clone()).cloned(), now, scopes) {
                Attempt::Rotated(t) => Try::Done(Ok(Tokens {
                    access_token: Secret::new(t.access_token.expose()),
                    refresh_token: Secret::new(t.refresh_token.expose()),
                    expires_at_ms: t.expires_at_ms,
                    scopes: t.scopes,
                })),
                Attempt::NotApplied(Ok(resp)) => Try::Again(upstream(mp::TOKEN, &resp), retry_after(&resp, now)),
                Attempt::NotApplied(Err(e)) => Try::Again(transport(mp::TOKEN, &e), None),
                Attempt::Final(Ok(resp)) if refresh::is_refusal(resp.status) => Try::Done(Err(InstallError::Refused {
                    endpoint: mp::TOKEN,
                    status: resp.status,
                    message: mp::error_message(resp.status, &resp.body),
                })),
                Attempt::Final(Ok(resp)) => Try::Done(Err(upstream(mp::TOKEN, &resp))),
                Attempt::Final(Err(e)) => Try::Done(Err(InstallError::Transport {
                    endpoint: mp::TOKEN,
                    message: e.to_string(),
                })),
            }
        })
    }

    /// Every sub-account of `company` where the app is installed, page by
    /// page until `count` is reached or a page comes back empty.
    pub fn installed(&self, company: &str, agency: &Secret) -> Result<Vec<Installed>, InstallError> {
        let token = ghl_rankr_core::Secret::new(agency.expose());
        let mut all = Vec::new();
        let mut skip = 0u32;
        for _ in 0..MAX_PAGES {
            let request = mp::installed_request(&self.app, company, &token, skip);
            let page = self.retrying(&request, mp::INSTALLED, |outcome, _| {
                match free_outcome(outcome, mp::INSTALLED) {
                    Ok(resp) => Try::Done(mp::read_installed(&resp.body).map_err(invalid)),
                    Err(t) => t,
                }
            })?;
            let n = page.locations.len() as u32;
            all.extend(page.locations);
            skip += n.max(mp::PAGE);
            if n == 0 || u64::from(skip) >= page.count {
                break;
            }
        }
        all.sort_by(|a, b| a.location_id.cmp(&b.location_id));
        all.dedup_by(|a, b| a.location_id == b.location_id);
        Ok(all)
    }

    /// A sub-account's token from the agency's.
    pub fn location_token(&self, company: &str, location: &str, agency: &Secret) -> Result<Grant, InstallError> {
        let token = ghl_rankr_core::Secret::new(agency.expose());
        let request = mp::location_token_request(&self.app, company, location, &token);
        self.retrying(&request, mp::LOCATION_TOKEN, |outcome, now| {
            match free_outcome(outcome, mp::LOCATION_TOKEN) {
                Ok(resp) => Try::Done(mp::read_grant(mp::LOCATION_TOKEN, &resp.body, now).map_err(invalid)),
                Err(t) => t,
            }
        })
    }

    /// Sends `request` up to [`ATTEMPTS`] times, as `judge` says.
    fn retrying<T>(
        &self,
        request: &core_io::Request,
        endpoint: &'static str,
        judge: impl Fn(Result<&core_io::Response, &core_io::TransportError>, u64) -> Try<T>,
    ) -> Result<T, InstallError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let outcome = self.send(request);
            let now = self.clock.now_ms();
            match judge(outcome.as_ref(), now) {
                Try::Done(result) => return result,
                Try::Again(e, _) if attempt >= ATTEMPTS => return Err(e),
                Try::Again(e, wait) => {
                    let wait = wait.unwrap_or(BACKOFF_MS << (attempt - 1)).min(MAX_WAIT_MS);
                    tracing::warn!(target: "ghl_rankr::serve", endpoint, attempt, wait_ms = wait, error = %e, "marketplace call goes again");
                    self.clock.sleep_ms(wait);
                }
            }
        }
    }

    /// One exchange, through the host's transport.
    fn send(&self, r: &core_io::Request) -> Result<core_io::Response, core_io::TransportError> {
        let method = match r.method {
            core_io::Method::Get => wit::Method::Get,
            core_io::Method::Post => wit::Method::Post,
            core_io::Method::Put => wit::Method::Put,
            core_io::Method::Patch => wit::Method::Patch,
            core_io::Method::Delete => wit::Method::Delete,
        };
        let request = wit::Request {
            method,
            url: r.url.clone(),
            headers: r
                .headers
                .iter()
                .map(|(name, value)| wit::Header {
                    name: name.clone(),
                    value: value.clone(),
                })
                .collect(),
            body: r.body.clone(),
            timeout_ms: r.timeout_ms,
        };
        match self.transport.send(&request) {
            Ok(resp) => Ok(core_io::Response {
                status: resp.status,
                headers: resp.headers.into_iter().map(|h| (h.name, h.value)).collect(),
                body: resp.body,
            }),
            Err(e) => Err(match e {
                wit::TransportError::Timeout => core_io::TransportError::Timeout,
                wit::TransportError::Connect(m) => core_io::TransportError::Connect(m),
                wit::TransportError::Io(m) => core_io::TransportError::Io(m),
                wit::TransportError::Denied(m) => core_io::TransportError::Denied(m),
                wit::TransportError::InvalidRequest(m) => core_io::TransportError::InvalidRequest(m),
                wit::TransportError::TooLarge(n) => core_io::TransportError::TooLarge(n),
                wit::TransportError::Tls(m) => core_io::TransportError::Tls(m),
            }),
        }
    }
}

/// A call that spends what it sends (a code): a success, or why not, going
/// again only when it was surely not applied.
fn spent_outcome<'r, T>(
    outcome: Result<&'r core_io::Response, &core_io::TransportError>,
    endpoint: &'static str,
) -> Result<&'r core_io::Response, Try<T>> {
    match outcome {
        Ok(resp) if (200..300).contains(&resp.status) => Ok(resp),
        Ok(resp) if resp.status == 429 => Err(Try::Again(upstream(endpoint, resp), None)),
        Ok(resp) if refresh::is_refusal(resp.status) => Err(Try::Done(Err(InstallError::Refused {
            endpoint,
            status: resp.status,
            message: mp::error_message(resp.status, &resp.body),
        }))),
        Ok(resp) => Err(Try::Done(Err(upstream(endpoint, resp)))),
        Err(e @ core_io::TransportError::Connect(_)) => Err(Try::Again(transport(endpoint, e), None)),
        Err(e) => Err(Try::Done(Err(transport(endpoint, e)))),
    }
}

/// A call that spends nothing: a 429, a 5xx or a lost answer goes again.
fn free_outcome<'r, T>(
    outcome: Result<&'r core_io::Response, &core_io::TransportError>,
    endpoint: &'static str,
) -> Result<&'r core_io::Response, Try<T>> {
    match outcome {
        Ok(resp) if (200..300).contains(&resp.status) => Ok(resp),
        Ok(resp) if resp.status == 429 || resp.status >= 500 => Err(Try::Again(upstream(endpoint, resp), None)),
        Ok(resp) if resp.status == 401 => Err(Try::Done(Err(InstallError::Refused {
            endpoint,
            status: resp.status,
            message: mp::error_message(resp.status, &resp.body),
        }))),
        Ok(resp) => Err(Try::Done(Err(upstream(endpoint, resp)))),
        Err(e @ core_io::TransportError::Tls(_)) => Err(Try::Done(Err(transport(endpoint, e)))),
        Err(e) => Err(Try::Again(transport(endpoint, e), None)),
    }
}

fn upstream(endpoint: &'static str, resp: &core_io::Response) -> InstallError {
    InstallError::Upstream {
        endpoint,
        status: resp.status,
        message: mp::error_message(resp.status, &resp.body),
    }
}

fn transport(endpoint: &'static str, e: &core_io::TransportError) -> InstallError {
    InstallError::Transport {
        endpoint,
        message: e.to_string(),
    }
}

fn invalid(e: ghl_rankr_core::SyncError) -> InstallError {
    InstallError::Invalid(e.to_string())
}

/// A `Retry-After` in ms, if the answer has one (seconds or a date, read
/// as the core reads it).
fn retry_after(resp: &core_io::Response, now: u64) -> Option<u64> {
    resp.header("retry-after")
        .and_then(|v| ghl_rankr_core::client::retry::parse_retry_after(v, now))
}

/// The pair a grant gives (a sub-account's from `locationToken` may have
/// no refresh token: an empty one).
pub fn tokens_of(g: &Grant) -> Tokens {
    Tokens {
        access_token: Secret::new(g.access_token.expose()),
        refresh_token: Secret::new(g.refresh_token.as_ref().map_or("", |r| r.expose())),
        expires_at_ms: g.expires_at_ms,
        scopes: g.scopes.clone(),
    }
}
