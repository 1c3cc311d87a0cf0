//! Where every request is sent: authentication, pacing under GHL's rate
//! limits, the retry loop, the deadline, request counting and logging. The
//! OAuth refresh it runs is in `client::refresh`; the typing of error
//! answers and the scrubbing of secrets from them in `client::errors`.

use super::errors::{lost_answer, transport_error, Scrubber};
use super::pace::{Budget, Pacer};
use super::retry::{is_retryable_status, parse_retry_after, Jitter, RetryPolicy};
use crate::auth::Credential;
use crate::io::{Host, Level, Request, Response, TransportError, TransportKind};
use crate::json::{self, Unreadable};
use crate::report::{RateLimit, Service, SyncError};
use crate::secret::{OAuthTokens, Secret};
use crate::state::PaceRecord;
use serde::de::DeserializeOwned;
use std::collections::VecDeque;

/// Who the exchange speaks as, and where GHL's token endpoint is.
pub struct Auth {
    pub ghl_base: String,
    pub credential: Credential,
    pub rankr_key: Secret,
    pub timeout_ms: u32,
}

/// One request of [`Exchange::call_in_waves`]: the service it goes to, its
/// templated endpoint (for messages, e.g. `GET /social-media-posting/{locationId}/tags`)
/// and the request itself.
pub struct Outbound<'e> {
    pub service: Service,
    pub endpoint: &'e str,
    pub request: Request,
}

/// One request as it went: the answer's status or why there was none, and
/// how long the exchange took by the host's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sent {
    pub outcome: Result<u16, TransportKind>,
    pub latency_ms: u64,
}

/// Sends requests for one operation and counts them.
pub struct Exchange<'h, H: Host + ?Sized> {
    pub(super) host: &'h mut H,
    pub(super) policy: RetryPolicy,
    jitter: Jitter,
    /// The secrets, which must never leave in an error message.
    pub(super) scrub: Scrubber,
    pub(super) auth: Auth,
    pacer: Pacer,
    deadline_at: Option<u64>,
    pub requests: u32,
    pub retries: u32,
    /// Time spent waiting for GHL's rate budget, in milliseconds.
    pub paced_ms: u64,
    /// 429 answers met (each then waited out).
    pub rate_limited: u32,
    /// The pair in force after a refresh rotated it.
    pub rotated: Option<OAuthTokens>,
    /// The last request sent on its own (a refresh included; not the
    /// requests of a wave of several), for a caller that reports on each.
    pub last_sent: Option<Sent>,
    /// When set, a GHL 401 is answered with a refresh only while no refresh
    /// has happened in this exchange: a token just issued that is refused is
    /// the answer, not a sign that it expired.
    pub single_refresh: bool,
}

impl<'h, H: Host + ?Sized> Exchange<'h, H> {
    /// `deadline_ms` counts from now.
    pub fn new(host: &'h mut H, policy: RetryPolicy, auth: Auth, deadline_ms: Option<u64>) -> Self {
        let now = host.now_ms();
        let mut scrub = Scrubber::default();
        scrub.add(auth.credential.secrets().into_iter().chain([&auth.rankr_key]));
        Exchange {
            host,
            policy,
            jitter: Jitter::new(now),
            scrub,
            auth,
            pacer: Pacer::default(),
            deadline_at: deadline_ms.map(|ms| now.saturating_add(ms)),
            requests: 0,
            retries: 0,
            paced_ms: 0,
            rate_limited: 0,
            rotated: None,
            last_sent: None,
            single_refresh: false,
        }
    }

    /// The host, for time and logs.
    pub fn host(&mut self) -> &mut H {
        self.host
    }

    /// The pacing knowledge to hand to the next call.
    pub fn pace_record(&self) -> PaceRecord {
        self.pacer.record()
    }

    /// Starts pacing from what a previous call saw.
    pub fn restore_pace(&mut self, record: &PaceRecord) {
        self.pacer = Pacer::from_record(record);
    }

    /// The credential in force (after any refresh).
    pub fn credential(&self) -> &Credential {
        &self.auth.credential
    }

    /// GHL's rate budget as the last GHL answer that stated it said.
    pub fn rate_stated(&self) -> Option<Budget> {
        self.pacer.last_stated()
    }

    /// Refreshes an OAuth access token that is missing or about to expire,
    /// as the next GHL request would; true when it did.
    pub fn refresh_if_due(&mut self) -> Result<bool, SyncError> {
        let now = self.host.now_ms();
        if !self.auth.credential.needs_refresh(now) {
            return Ok(false);
        }
        self.refresh()?;
        Ok(true)
    }

    /// GHL requests that may go at once now without meeting a 429 (at
    /// least 1: the next one waits for the budget as usual).
    pub fn ghl_budget_now(&mut self) -> usize {
        let now = self.host.now_ms();
        self.pacer.room(now).max(1)
    }

    /// Milliseconds left before the deadline; `None` = no deadline.
    pub fn deadline_left(&mut self) -> Option<u64> {
        let at = self.deadline_at?;
        Some(at.saturating_sub(self.host.now_ms()))
    }

    /// Logs without secrets (callers pass none; this is the one funnel).
    pub fn log(&mut self, level: Level, message: &str, fields: &[(&str, &str)]) {
        self.host.log(level, message, fields);
    }

    /// Sends `request`, retrying what may succeed later, and returns the 2xx
    /// answer or the typed error. `endpoint` is the templated path for
    /// messages, e.g. `GET /social-media-posting/{locationId}/tags`.
    pub fn send(&mut self, service: Service, endpoint: &str, request: Request) -> Result<Response, SyncError> {
        self.call(service, endpoint, request, Ok)
    }

    /// Sends and parses the 2xx body as `T`; a body that is not `T` is
    /// `invalid-response` naming the JSON path of the first bad field. A
    /// body that is not complete JSON is retried like a 503.
    pub fn send_json<T: DeserializeOwned>(
        &mut self,
        service: Service,
        endpoint: &str,
        request: Request,
    ) -> Result<T, SyncError> {
        self.call(service, endpoint, request, |resp| {
            json::read(service, endpoint, &resp.body)
        })
    }

    /// The retry loop. `read` turns a 2xx answer into the result.
    pub fn call<T>(
        &mut self,
        service: Service,
        endpoint: &str,
        request: Request,
        mut read: impl FnMut(Response) -> Result<T, Unreadable>,
    ) -> Result<T, SyncError> {
        let mut out = None;
        self.send_with_retries(
            service,
            endpoint,
            request,
            &mut |resp| {
                out = Some(read(resp)?);
                Ok(())
            },
            None,
        )?;
        out.ok_or_else(|| lost_answer(service, endpoint))
    }

    /// Sends independent requests to one endpoint, as many at once as GHL's
    /// rate budget (learnt from its headers) and `max_in_flight` allow, through
    /// the host's `send_all`. Each answer then goes through the same retry
    /// loop as [`Exchange::call`], so the results are the ones sending them
    /// one by one would give. Results come in request order; after the first
    /// failure no new request is started, so the list may be shorter.
    pub fn call_all<T>(
        &mut self,
        service: Service,
        endpoint: &str,
        requests: Vec<Request>,
        max_in_flight: usize,
        mut read: impl FnMut(Response) -> Result<T, Unreadable>,
    ) -> Vec<Result<T, SyncError>> {
        let mut slots: Vec<Option<T>> = requests.iter().map(|_| None).collect();
        let outbound = requests
            .into_iter()
            .map(|request| Outbound {
                service,
                endpoint,
                request,
            })
            .collect();
        let done = self.call_in_waves(outbound, max_in_flight, &mut |index, resp| {
            let value = read(resp)?;
            if let Some(slot) = slots.get_mut(index) {
                *slot = Some(value);
            }
            Ok(())
        });
        done.into_iter()
            .zip(slots)
            .map(|(result, slot)| result.and_then(|()| slot.ok_or_else(|| lost_answer(service, endpoint))))
            .collect()
    }

    /// [`Exchange::call_all`] over requests to both services, each with its
    /// endpoint: Rankr writes can go out with the next GHL pages (pipelining).
    /// A wave holds at most `max_in_flight` requests of each service, the
    /// GHL ones further bounded by the rate budget; it is a prefix of the
    /// list, so put the requests that may go first first. `read` gets each
    /// 2xx answer with its request's index.
    pub fn call_in_waves(
        &mut self,
        requests: Vec<Outbound<'_>>,
        max_in_flight: usize,
        read: &mut dyn FnMut(usize, Response) -> Result<(), Unreadable>,
    ) -> Vec<Result<(), SyncError>> {
        let mut out = Vec::with_capacity(requests.len());
        let mut rest = VecDeque::from(requests);
        let max_in_flight = max_in_flight.max(1);
        // Runs while requests remain; `first_ghl`, the endpoint a pacing
        // error names, is the first GHL request's (else the first one's).
        while let Some(first_ghl) = rest
            .iter()
            .find(|o| o.service == Service::Ghl)
            .or(rest.front())
            .map(|o| o.endpoint)
        {
            // GHL may not be asked now (budget spent, deadline): the Rankr
            // writes at the front still go, then the GHL requests fail.
            let mut ghl_error = None;
            let rankr_first = rest.front().is_some_and(|o| o.service == Service::Rankr);
            let now = self.host.now_ms();
            let ghl_slots = if rankr_first && self.pacer.wait_ms(now).is_ok_and(|wait| wait > 0) {
                // GHL's budget is spent for now: the writes go at once, and
                // the pages after the wait (which the next wave does).
                0
            } else if rest.iter().any(|o| o.service == Service::Ghl) {
                match self.before_ghl(first_ghl) {
                    Ok(()) => {
                        let now = self.host.now_ms();
                        self.pacer.room(now).clamp(1, max_in_flight)
                    }
                    Err(e) if rankr_first => {
                        ghl_error = Some(e);
                        0
                    }
                    Err(e) => {
                        out.push(Err(e));
                        break;
                    }
                }
            } else {
                0
            };
            let (mut ghl_taken, mut rankr_taken) = (0usize, 0usize);
            let wave_len = rest
                .iter()
                .take_while(|o| match o.service {
                    Service::Ghl if ghl_taken < ghl_slots => {
                        ghl_taken += 1;
                        true
                    }
                    Service::Rankr if rankr_taken < max_in_flight => {
                        rankr_taken += 1;
                        true
                    }
                    _ => false,
                })
                .count()
                .max(1);
            // The requests apart from where they go: the host sends a slice.
            let (targets, mut wave): (Vec<(Service, &str)>, Vec<Request>) = rest
                .drain(..wave_len)
                .map(|o| ((o.service, o.endpoint), o.request))
                .unzip();
            for (&(service, _), request) in targets.iter().zip(&mut wave) {
                self.authorize(service, request);
            }
            self.requests += wave_len as u32;
            let mut outcomes = if wave_len == 1 {
                vec![self.host.send(&wave[0])]
            } else {
                self.host.send_all(&wave)
            };
            // A host that answers fewer than it was given: the rest broke.
            outcomes.truncate(wave_len);
            while outcomes.len() < wave_len {
                outcomes.push(Err(TransportError::Io(
                    "the host gave no answer for this request".into(),
                )));
            }
            let now = self.host.now_ms();
            let ghl_outcomes = targets
                .iter()
                .zip(&outcomes)
                .filter_map(|(&(service, _), outcome)| (service == Service::Ghl).then_some(outcome));
            for _ in ghl_outcomes.clone() {
                self.pacer.on_exchange(now);
            }
            self.pacer
                .observe_all(ghl_outcomes.filter_map(|outcome| outcome.as_ref().ok()));
            let mut failed = false;
            for (((service, endpoint), request), outcome) in targets.into_iter().zip(wave).zip(outcomes) {
                let index = out.len();
                if failed {
                    // After a failure, only answers already good are kept:
                    // nothing more is sent or waited for.
                    let result = match outcome {
                        Ok(resp) if resp.is_success() => read(index, resp).map_err(|u| u.error),
                        _ => Err(SyncError::Transport {
                            service,
                            endpoint: endpoint.to_string(),
                            message: "not retried: an earlier request sent with it failed".into(),
                        }),
                    };
                    out.push(result);
                    continue;
                }
                let result =
                    self.send_with_retries(service, endpoint, request, &mut |resp| read(index, resp), Some(outcome));
                failed |= result.is_err();
                out.push(result);
            }
            if failed {
                break;
            }
            if let Some(e) = ghl_error {
                out.push(Err(e));
                break;
            }
        }
        out
    }

    /// The retry loop, from an outcome already had (`first`: the request
    /// was sent, counted and paced by [`Exchange::call_in_waves`]) or from
    /// scratch.
    fn send_with_retries(
        &mut self,
        service: Service,
        endpoint: &str,
        mut request: Request,
        read: &mut dyn FnMut(Response) -> Result<(), Unreadable>,
        mut first: Option<Result<Response, TransportError>>,
    ) -> Result<(), SyncError> {
        let mut attempt = 0u32;
        let mut sent = u32::from(first.is_some());
        let mut refreshed = false;
        loop {
            attempt += 1;
            let outcome = match first.take() {
                Some(outcome) => outcome,
                None => {
                    if service == Service::Ghl {
                        self.before_ghl(endpoint)?;
                    }
                    self.authorize(service, &mut request);
                    sent += 1;
                    self.requests += 1;
                    if sent > 1 {
                        self.retries += 1;
                    }
                    let started = self.host.now_ms();
                    let outcome = self.host.send(&request);
                    let now = self.host.now_ms();
                    self.last_sent = Some(Sent {
                        outcome: outcome.as_ref().map(|r| r.status).map_err(TransportError::kind),
                        latency_ms: now.saturating_sub(started),
                    });
                    if service == Service::Ghl {
                        self.pacer.on_exchange(now);
                        if let Ok(resp) = &outcome {
                            self.pacer.observe(resp);
                        }
                    }
                    outcome
                }
            };
            let (wait, what) = match outcome {
                Ok(resp) => {
                    let status = resp.status.to_string();
                    if resp.is_success() {
                        self.log_exchange(Level::Debug, service, endpoint, attempt, &status);
                        match read(resp) {
                            Ok(()) => return Ok(()),
                            Err(bad) if !bad.retryable || attempt >= self.policy.max_attempts => return Err(bad.error),
                            Err(bad) => (self.backoff(attempt), bad.error.to_string()),
                        }
                    } else if resp.status == 401 && service == Service::Ghl && self.stale_token(&request) {
                        // Sent with it at once, another request already
                        // refreshed the token this one carried: replay (with
                        // the current token, so this happens once at most).
                        self.log_exchange(Level::Info, service, endpoint, attempt, &status);
                        attempt -= 1;
                        continue;
                    } else if resp.status == 401
                        && service == Service::Ghl
                        && !refreshed
                        && self.can_refresh()
                        && !(self.single_refresh && self.rotated.is_some())
                    {
                        // An access token that died early: refresh once and
                        // replay; a second 401 is the answer.
                        self.log_exchange(Level::Info, service, endpoint, attempt, &status);
                        refreshed = true;
                        self.refresh()?;
                        attempt -= 1;
                        continue;
                    } else {
                        self.log_exchange(Level::Warn, service, endpoint, attempt, &status);
                        if resp.status == 429 {
                            self.rate_limited += 1;
                        }
                        if !is_retryable_status(resp.status) || attempt >= self.policy.max_attempts {
                            return Err(self.error_for(service, endpoint, &resp));
                        }
                        let now = self.host.now_ms();
                        let wait = match resp.header("retry-after").and_then(|v| parse_retry_after(v, now)) {
                            // Waiting that long is the caller's decision, not ours.
                            Some(ms) if ms > self.policy.max_delay_ms as u64 => {
                                return Err(self.error_for(service, endpoint, &resp))
                            }
                            Some(ms) => ms,
                            None if resp.status == 429 && service == Service::Ghl => {
                                // No Retry-After: the window tells how long.
                                let pace = self.pacer.wait_ms(now).unwrap_or(0);
                                self.backoff(attempt).max(pace)
                            }
                            None => self.backoff(attempt),
                        };
                        (wait, format!("HTTP {status}"))
                    }
                }
                Err(e) => {
                    self.log_exchange(Level::Warn, service, endpoint, attempt, &e.to_string());
                    if !e.is_transient() || attempt >= self.policy.max_attempts {
                        return Err(transport_error(service, endpoint, &e));
                    }
                    (self.backoff(attempt), e.to_string())
                }
            };
            if self.deadline_left().is_some_and(|left| wait >= left) {
                return Err(SyncError::DeadlineExceeded(format!(
                    "{service} {endpoint} failed ({what}) and the next attempt would start after the deadline"
                )));
            }
            let wait_text = wait.to_string();
            self.host.log(
                Level::Info,
                "retrying",
                &[
                    ("service", service.name()),
                    ("endpoint", endpoint),
                    ("wait_ms", &wait_text),
                ],
            );
            self.host.sleep_ms(wait);
        }
    }

    /// The wait before attempt `attempt + 1`: jittered, under the policy's
    /// ceiling for `attempt`.
    pub(super) fn backoff(&mut self, attempt: u32) -> u64 {
        self.jitter.upto(self.policy.ceiling_ms(attempt))
    }

    /// Sets the service's `Authorization` header (replacing an old one, so a
    /// replay after a refresh carries the new token).
    fn authorize(&self, service: Service, request: &mut Request) {
        let token = match service {
            Service::Ghl => self.auth.credential.access_token(),
            Service::Rankr => &self.auth.rankr_key,
        };
        request
            .headers
            .retain(|(k, _)| !k.eq_ignore_ascii_case("authorization"));
        request
            .headers
            .insert(0, ("Authorization".into(), format!("Bearer {}", token.expose())));
    }

    /// Before a GHL request: refresh ahead of expiry, then wait for the
    /// rate budget (or stop when the daily one is spent or the wait would
    /// outlast the deadline).
    fn before_ghl(&mut self, endpoint: &str) -> Result<(), SyncError> {
        let now = self.host.now_ms();
        if self.auth.credential.needs_refresh(now) {
            self.refresh()?;
        }
        let now = self.host.now_ms();
        match self.pacer.wait_ms(now) {
            Err(spent) => Err(SyncError::RateLimited(RateLimit {
                service: Service::Ghl,
                endpoint: endpoint.to_string(),
                retry_after_ms: None,
                message: match spent.daily_limit {
                    Some(limit) => format!("the daily budget of {limit} requests is spent (X-RateLimit-Daily-Remaining: 0); resume after GHL resets it"),
                    None => "the daily request budget is spent (X-RateLimit-Daily-Remaining: 0); resume after GHL resets it".into(),
                },
            })),
            Ok(0) => Ok(()),
            Ok(wait) => {
                if self.deadline_left().is_some_and(|left| wait >= left) {
                    return Err(SyncError::DeadlineExceeded(format!(
                        "the next GHL request must wait {wait} ms for the rate budget, past the deadline"
                    )));
                }
                let wait_text = wait.to_string();
                self.host.log(Level::Debug, "pacing under the GHL rate limit", &[("wait_ms", &wait_text)]);
                self.host.sleep_ms(wait);
                self.paced_ms += wait;
                Ok(())
            }
        }
    }

    /// True when `request` carries a GHL token other than the current one.
    fn stale_token(&self, request: &Request) -> bool {
        let current = self.auth.credential.access_token().expose();
        request.headers.iter().any(|(k, v)| {
            k.eq_ignore_ascii_case("authorization") && v.strip_prefix("Bearer ").is_some_and(|t| t != current)
        })
    }

    fn can_refresh(&self) -> bool {
        matches!(self.auth.credential, Credential::OAuth(_))
    }

    pub(super) fn log_exchange(&mut self, level: Level, service: Service, endpoint: &str, attempt: u32, outcome: &str) {
        let attempt = attempt.to_string();
        self.host.log(
            level,
            "http exchange",
            &[
                ("service", service.name()),
                ("endpoint", endpoint),
                ("attempt", &attempt),
                ("outcome", outcome),
            ],
        );
    }
}
