//! Where every request is sent: authentication (and the OAuth refresh with
//! rotation), pacing under GHL's rate limits, retries, the deadline, request
//! counting, logging, and the typing of error answers as [`SyncError`]s.

use super::pace::Pacer;
use super::retry::{is_retryable_status, parse_retry_after, Jitter, RetryPolicy};
use crate::auth::refresh::{self, Attempt};
use crate::auth::Credential;
use crate::io::{Host, Level, Request, Response, TransportError};
use crate::json::{self, Unreadable};
use crate::report::{RateLimit, Service, SyncError, UpstreamError};
use crate::secret::{OAuthTokens, Secret};
use crate::state::PaceRecord;
use serde::de::DeserializeOwned;

/// Who the exchange speaks as, and where GHL's token endpoint is.
pub struct Auth {
    pub ghl_base: String,
    pub credential: Credential,
    pub rankr_key: Secret,
    pub timeout_ms: u32,
}

/// Sends requests for one operation and counts them.
pub struct Exchange<'h, H: Host + ?Sized> {
    host: &'h mut H,
    policy: RetryPolicy,
    jitter: Jitter,
    /// Texts that must never leave in an error message (the secrets).
    scrub: Vec<String>,
    auth: Auth,
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
}

impl<'h, H: Host + ?Sized> Exchange<'h, H> {
    /// `deadline_ms` counts from now.
    pub fn new(host: &'h mut H, policy: RetryPolicy, auth: Auth, deadline_ms: Option<u64>) -> Self {
        let now = host.now_ms();
        let scrub = auth
            .credential
            .secrets()
            .into_iter()
            .chain([&auth.rankr_key])
            .filter_map(scrubbable)
            .collect();
        Exchange {
            host,
            policy,
            jitter: Jitter::new(now),
            scrub,
            auth,
            pacer: Pacer::default(),
            deadline_at: deadline_ms.map(|d| now.saturating_add(d)),
            requests: 0,
            retries: 0,
            paced_ms: 0,
            rate_limited: 0,
            rotated: None,
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

    /// GHL requests that may go at once now without meeting a 429 (at
    /// least 1: the next one waits for the budget as usual).
    pub fn ghl_room(&mut self) -> usize {
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
        self.call_from(
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
        let tagged = requests.into_iter().map(|r| (service, endpoint, r)).collect();
        let done = self.call_mixed(tagged, max_in_flight, &mut |i, resp| {
            let value = read(resp)?;
            if let Some(slot) = slots.get_mut(i) {
                *slot = Some(value);
            }
            Ok(())
        });
        done.into_iter()
            .zip(slots)
            .map(|(r, slot)| r.and_then(|()| slot.ok_or_else(|| lost_answer(service, endpoint))))
            .collect()
    }

    /// [`Exchange::call_all`] over requests to both services, each with its
    /// endpoint: Rankr writes can go out with the next GHL pages (pipelining).
    /// A wave holds at most `max_in_flight` requests of each service, the
    /// GHL ones further bounded by the rate budget; it is a prefix of the
    /// list, so put the requests that may go first first. `read` gets each
    /// 2xx answer with its request's index.
    pub fn call_mixed(
        &mut self,
        requests: Vec<(Service, &str, Request)>,
        max_in_flight: usize,
        read: &mut dyn FnMut(usize, Response) -> Result<(), Unreadable>,
    ) -> Vec<Result<(), SyncError>> {
        let mut out = Vec::with_capacity(requests.len());
        let mut rest = std::collections::VecDeque::from(requests);
        let max_in_flight = max_in_flight.max(1);
        while let Some(&(_, first_ghl, _)) = rest.iter().find(|(s, _, _)| *s == Service::Ghl).or(rest.front()) {
            // GHL may not be asked now (budget spent, deadline): the Rankr
            // writes at the front still go, then the GHL requests fail.
            let mut ghl_error = None;
            let rankr_first = rest.front().is_some_and(|(s, _, _)| *s == Service::Rankr);
            let now = self.host.now_ms();
            let ghl_room = if rankr_first && self.pacer.wait_ms(now).is_ok_and(|w| w > 0) {
                // GHL's budget is spent for now: the writes go at once, and
                // the pages after the wait (which the next wave does).
                0
            } else if rest.iter().any(|(s, _, _)| *s == Service::Ghl) {
                match self.before_ghl(first_ghl) {
                    Ok(()) => {
                        let now = self.host.now_ms();
                        self.pacer.room(now).clamp(1, max_in_flight)
                    }
                    Err(e) if rest.front().is_some_and(|(s, _, _)| *s == Service::Rankr) => {
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
            let (mut ghl, mut rankr) = (0usize, 0usize);
            let n = rest
                .iter()
                .take_while(|(s, _, _)| match s {
                    Service::Ghl if ghl < ghl_room => {
                        ghl += 1;
                        true
                    }
                    Service::Rankr if rankr < max_in_flight => {
                        rankr += 1;
                        true
                    }
                    _ => false,
                })
                .count()
                .max(1);
            let (targets, mut wave): (Vec<(Service, &str)>, Vec<Request>) =
                rest.drain(..n).map(|(s, e, r)| ((s, e), r)).unzip();
            for ((service, _), r) in targets.iter().zip(&mut wave) {
                self.authorize(*service, r);
            }
            self.requests += n as u32;
            let mut outcomes = if n == 1 {
                vec![self.host.send(&wave[0])]
            } else {
                self.host.send_all(&wave)
            };
            // A host that answers fewer than it was given: the rest broke.
            outcomes.truncate(n);
            while outcomes.len() < n {
                outcomes.push(Err(TransportError::Io(
                    "the host gave no answer for this request".into(),
                )));
            }
            let now = self.host.now_ms();
            let ghl_answers = targets.iter().zip(&outcomes).filter(|((s, _), _)| *s == Service::Ghl);
            for _ in ghl_answers.clone() {
                self.pacer.on_exchange(now);
            }
            self.pacer.observe_all(ghl_answers.filter_map(|(_, o)| o.as_ref().ok()));
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
                let result = self.call_from(service, endpoint, request, &mut |resp| read(index, resp), Some(outcome));
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
    /// was sent, counted and paced by [`Exchange::call_all`]) or from scratch.
    fn call_from(
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
                    let outcome = self.host.send(&request);
                    if service == Service::Ghl {
                        let now = self.host.now_ms();
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
                            Ok(v) => return Ok(v),
                            Err(u) if !u.retryable || attempt >= self.policy.max_attempts => return Err(u.error),
                            Err(u) => (self.backoff(attempt), u.error.to_string()),
                        }
                    } else if resp.status == 401 && service == Service::Ghl && self.stale_token(&request) {
                        // Sent with it at once, another request already
                        // refreshed the token this one carried: replay (with
                        // the current token, so this happens once at most).
                        self.log_exchange(Level::Info, service, endpoint, attempt, &status);
                        attempt -= 1;
                        continue;
                    } else if resp.status == 401 && service == Service::Ghl && !refreshed && self.can_refresh() {
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

    fn backoff(&mut self, attempt: u32) -> u64 {
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
                    Some(l) => format!("the daily budget of {l} requests is spent (X-RateLimit-Daily-Remaining: 0); resume after GHL resets it"),
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
                let w = wait.to_string();
                self.host.log(Level::Debug, "pacing under the GHL rate limit", &[("wait_ms", &w)]);
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

    /// `POST /oauth/token` with the refresh token, once. The new pair goes
    /// to the host's store before it is used. An attempt is sent again only
    /// when GHL surely did not apply it (see [`refresh::judge`]).
    fn refresh(&mut self) -> Result<(), SyncError> {
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
            let outcome = self.host.send(&request);
            let status = match &outcome {
                Ok(resp) => resp.status.to_string(),
                Err(e) => e.to_string(),
            };
            let now = self.host.now_ms();
            let wait = match refresh::judge(outcome, now, &previous_scopes) {
                Attempt::Rotated(tokens) => {
                    self.log_exchange(Level::Info, Service::Ghl, endpoint, attempt, &status);
                    let new_secrets = [&tokens.access_token, &tokens.refresh_token];
                    self.scrub.extend(new_secrets.into_iter().filter_map(scrubbable));
                    self.rotated = Some(tokens.clone());
                    if let Err(message) = self.host.store_tokens(&tokens) {
                        return Err(SyncError::CredentialStore(self.scrubbed(message)));
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

    fn log_exchange(&mut self, level: Level, service: Service, endpoint: &str, attempt: u32, outcome: &str) {
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

    /// The typed error for a non-2xx answer, with the server's own message.
    fn error_for(&mut self, service: Service, endpoint: &str, resp: &Response) -> SyncError {
        let message = self.error_text(service, resp);
        let upstream = UpstreamError {
            service,
            endpoint: endpoint.to_string(),
            status: resp.status,
            message,
        };
        match resp.status {
            401 => SyncError::Unauthorized(upstream),
            403 => SyncError::Forbidden(upstream),
            429 => {
                let now = self.host.now_ms();
                SyncError::RateLimited(RateLimit {
                    service,
                    endpoint: upstream.endpoint,
                    retry_after_ms: resp.header("retry-after").and_then(|v| parse_retry_after(v, now)),
                    message: upstream.message,
                })
            }
            _ => SyncError::Upstream(upstream),
        }
    }

    /// The server's own words from an error answer, without our secrets.
    fn error_text(&self, service: Service, resp: &Response) -> String {
        self.scrubbed(error_message(service, resp))
    }

    fn scrubbed(&self, mut text: String) -> String {
        for s in &self.scrub {
            if text.contains(s.as_str()) {
                text = text.replace(s.as_str(), "[redacted]");
            }
        }
        text
    }
}

/// A secret's text to scrub from messages. A secret of a character or three
/// would scrub ordinary words out of every message; real tokens are far
/// longer.
fn scrubbable(secret: &Secret) -> Option<String> {
    (secret.expose().len() >= 4).then(|| secret.expose().to_string())
}

/// An answer read but not handed back: cannot happen, but is an error, not a panic.
fn lost_answer(service: Service, endpoint: &str) -> SyncError {
    SyncError::Transport {
        service,
        endpoint: endpoint.to_string(),
        message: "the answer was lost inside the connector".into(),
    }
}

fn transport_error(service: Service, endpoint: &str, e: &TransportError) -> SyncError {
    SyncError::Transport {
        service,
        endpoint: endpoint.to_string(),
        message: e.to_string(),
    }
}

/// The server's own words from an error answer: GHL's `message` or Rankr's
/// problem, else the start of the text, else the status. A redirect is
/// named with where it pointed (redirects are never followed).
pub fn error_message(service: Service, resp: &Response) -> String {
    if (300..400).contains(&resp.status) {
        let to = resp.header("location").unwrap_or("(no location)");
        return format!("redirect to {} not followed", clip(to, 200));
    }
    let said = match service {
        Service::Ghl => crate::ghl::error::message(&resp.body),
        Service::Rankr => crate::rankr::error::message(&resp.body),
    };
    if let Some(text) = said.filter(|t| !t.trim().is_empty()) {
        return clip(&text, 1000);
    }
    // Cleaned before the emptiness check: a body of control characters
    // alone says nothing.
    let text = clip(String::from_utf8_lossy(&resp.body).trim(), 300);
    if text.trim().is_empty() {
        format!("HTTP {}", resp.status)
    } else {
        text
    }
}

/// At most `max` characters, without control characters.
fn clip(s: &str, max: usize) -> String {
    let clean: String = s.chars().filter(|c| !c.is_control() || *c == ' ').take(max).collect();
    if s.chars().count() > max {
        format!("{clean}…")
    } else {
        clean
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::ScriptedHost;

    fn resp(status: u16, body: &str) -> Response {
        Response {
            status,
            headers: vec![],
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn error_messages_from_each_shape() {
        assert_eq!(
            error_message(
                Service::Ghl,
                &resp(
                    401,
                    r#"{"statusCode":401,"message":"Invalid token: access token is invalid","error":"Unauthorized"}"#
                )
            ),
            "Invalid token: access token is invalid"
        );
        assert_eq!(
            error_message(
                Service::Ghl,
                &resp(
                    422,
                    r#"{"statusCode":422,"message":["limit must be a number","skip bad"]}"#
                )
            ),
            "limit must be a number; skip bad"
        );
        assert_eq!(
            error_message(
                Service::Rankr,
                &resp(
                    422,
                    r#"{"title":"Invalid body","status":422,"detail":"2 items","errors":[{"index":3,"field":"name","message":"too long"}]}"#
                )
            ),
            "Invalid body: 2 items (items[3].name: too long)"
        );
        assert_eq!(error_message(Service::Ghl, &resp(502, "")), "HTTP 502");
        assert_eq!(
            error_message(Service::Rankr, &resp(502, "<html>Bad gateway</html>")),
            "<html>Bad gateway</html>"
        );
        let mut r = resp(302, "");
        r.headers.push(("Location".into(), "https://evil.example/".into()));
        assert_eq!(
            error_message(Service::Ghl, &r),
            "redirect to https://evil.example/ not followed"
        );
        let long = "x".repeat(400);
        assert_eq!(error_message(Service::Ghl, &resp(500, &long)).chars().count(), 301);
    }

    #[test]
    fn echoed_secrets_are_scrubbed_from_error_messages() {
        let mut host = ScriptedHost::new(|_: &Request| {
            Ok(Response {
                status: 400,
                headers: vec![],
                body: br#"{"message": "bad header Authorization: Bearer pit-123456789"}"#.to_vec(),
            })
        });
        let auth = Auth {
            ghl_base: "https://h".into(),
            credential: Credential::ApiKey(Secret::new("pit-123456789")),
            rankr_key: Secret::new("x"),
            timeout_ms: 1000,
        };
        let mut exchange = Exchange::new(&mut host, RetryPolicy::default(), auth, None);
        let request = Request {
            method: crate::io::Method::Get,
            url: "https://h/x".into(),
            headers: vec![],
            body: None,
            timeout_ms: 1000,
        };
        let e = exchange.send(Service::Ghl, "GET /x", request).unwrap_err();
        assert_eq!(
            e.to_string(),
            "GHL answered 400 at GET /x: bad header Authorization: Bearer [redacted]"
        );
    }
}
