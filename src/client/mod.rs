//! One place where requests are sent: retries, request counting, logging and
//! the mapping of error answers to [`SyncError`].

pub mod retry;

use crate::io::{Host, Level, Request, Response, TransportError};
use crate::report::{Service, SyncError, UpstreamError};
use retry::{is_retryable_status, parse_retry_after, Jitter, RetryPolicy};
use serde::de::DeserializeOwned;

/// Sends requests for one operation and counts them.
pub struct Exchange<'h, H: Host + ?Sized> {
    host: &'h mut H,
    policy: RetryPolicy,
    jitter: Jitter,
    /// Texts that must never leave in an error message (the secrets).
    scrub: Vec<String>,
    pub requests: u32,
    pub retries: u32,
}

impl<'h, H: Host + ?Sized> Exchange<'h, H> {
    pub fn new(host: &'h mut H, policy: RetryPolicy, scrub: Vec<String>) -> Self {
        let seed = host.now_ms();
        Exchange {
            host,
            policy,
            jitter: Jitter::new(seed),
            // A secret of a character or three would scrub ordinary words
            // out of every message; real tokens are far longer.
            scrub: scrub.into_iter().filter(|s| s.len() >= 4).collect(),
            requests: 0,
            retries: 0,
        }
    }

    /// The host, for time and logs.
    pub fn host(&mut self) -> &mut H {
        self.host
    }

    /// Logs without secrets (callers pass none; this is the one funnel).
    pub fn log(&mut self, level: Level, message: &str, fields: &[(&str, &str)]) {
        self.host.log(level, message, fields);
    }

    /// Sends `request`, retrying what may succeed later, and returns the 2xx
    /// answer or the typed error. `endpoint` is the templated path for
    /// messages, e.g. `GET /social-media-posting/{locationId}/tags`.
    pub fn send(&mut self, service: Service, endpoint: &str, request: &Request) -> Result<Response, SyncError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.requests += 1;
            if attempt > 1 {
                self.retries += 1;
            }
            let wait = match self.host.send(request) {
                Ok(resp) if resp.is_success() => {
                    self.log_exchange(Level::Debug, service, endpoint, attempt, &resp.status.to_string());
                    return Ok(resp);
                }
                Ok(resp) => {
                    self.log_exchange(Level::Warn, service, endpoint, attempt, &resp.status.to_string());
                    if !is_retryable_status(resp.status) || attempt >= self.policy.max_attempts {
                        return Err(self.error_for(service, endpoint, &resp));
                    }
                    let now = self.host.now_ms();
                    match resp.header("retry-after").and_then(|v| parse_retry_after(v, now)) {
                        Some(ms) if ms > self.policy.max_delay_ms as u64 => {
                            // Waiting that long is the caller's decision, not ours.
                            return Err(self.error_for(service, endpoint, &resp));
                        }
                        Some(ms) => ms,
                        None => self.jitter.upto(self.policy.ceiling_ms(attempt)),
                    }
                }
                Err(e) => {
                    self.log_exchange(Level::Warn, service, endpoint, attempt, &e.to_string());
                    if !e.is_transient() || attempt >= self.policy.max_attempts {
                        return Err(transport_error(service, endpoint, &e));
                    }
                    self.jitter.upto(self.policy.ceiling_ms(attempt))
                }
            };
            let wait_text = wait.to_string();
            self.host.log(
                Level::Info,
                "retrying",
                &[
                    ("service", service_name(service)),
                    ("endpoint", endpoint),
                    ("wait_ms", &wait_text),
                ],
            );
            self.host.sleep_ms(wait);
        }
    }

    /// Sends and parses the 2xx body as `T`; a body that is not `T` is
    /// `invalid-response` naming the JSON path of the first bad field.
    pub fn send_json<T: DeserializeOwned>(
        &mut self,
        service: Service,
        endpoint: &str,
        request: &Request,
    ) -> Result<T, SyncError> {
        let resp = self.send(service, endpoint, request)?;
        parse_json(service, endpoint, &resp.body)
    }

    fn log_exchange(&mut self, level: Level, service: Service, endpoint: &str, attempt: u32, outcome: &str) {
        let attempt = attempt.to_string();
        self.host.log(
            level,
            "http exchange",
            &[
                ("service", service_name(service)),
                ("endpoint", endpoint),
                ("attempt", &attempt),
                ("outcome", outcome),
            ],
        );
    }

    /// The typed error for a non-2xx answer, with the server's own message.
    fn error_for(&mut self, service: Service, endpoint: &str, resp: &Response) -> SyncError {
        let message = self.scrubbed(error_message(resp));
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
                SyncError::RateLimited {
                    service,
                    endpoint: upstream.endpoint,
                    retry_after_ms: resp.header("retry-after").and_then(|v| parse_retry_after(v, now)),
                    message: upstream.message,
                }
            }
            _ => SyncError::Upstream(upstream),
        }
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

fn transport_error(service: Service, endpoint: &str, e: &TransportError) -> SyncError {
    SyncError::Transport {
        service,
        endpoint: endpoint.to_string(),
        message: e.to_string(),
    }
}

pub fn service_name(s: Service) -> &'static str {
    match s {
        Service::Ghl => "ghl",
        Service::Rankr => "rankr",
    }
}

/// Parses a 2xx body, naming the path of the first field that does not fit.
pub fn parse_json<T: DeserializeOwned>(service: Service, endpoint: &str, body: &[u8]) -> Result<T, SyncError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let invalid = |field: String, message: String| SyncError::InvalidResponse {
        service,
        endpoint: endpoint.to_string(),
        field,
        message,
    };
    let value = serde_path_to_error::deserialize::<_, T>(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." || path.is_empty() {
            "(body)".to_string()
        } else {
            path
        };
        invalid(field, e.into_inner().to_string())
    })?;
    de.end().map_err(|e| invalid("(body)".into(), e.to_string()))?;
    Ok(value)
}

/// The server's own words from an error body: GHL's `message` (a string or a
/// list), Rankr's problem `title: detail` and item errors, or the start of
/// the text; the status when there is nothing else.
pub fn error_message(resp: &Response) -> String {
    if (300..400).contains(&resp.status) {
        let to = resp.header("location").unwrap_or("(no location)");
        return format!("redirect to {} not followed", clip(to, 200));
    }
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&resp.body) {
        if let Ok(p) = serde_json::from_value::<crate::rankr::model::Problem>(v.clone()) {
            if p.title.is_some() {
                let mut m = p.title.unwrap_or_default();
                if let Some(d) = p.detail {
                    m = format!("{m}: {d}");
                }
                let items: Vec<String> = p
                    .errors
                    .iter()
                    .take(10)
                    .map(|e| {
                        let at = match (e.index, &e.field) {
                            (Some(i), Some(f)) => format!("items[{i}].{f}"),
                            (None, Some(f)) => f.clone(),
                            (Some(i), None) => format!("items[{i}]"),
                            (None, None) => "?".into(),
                        };
                        format!("{at}: {}", e.message.as_deref().unwrap_or(""))
                    })
                    .collect();
                if !items.is_empty() {
                    m = format!("{m} ({})", items.join("; "));
                }
                return clip(&m, 1000);
            }
        }
        if let Ok(g) = serde_json::from_value::<crate::ghl::model::GhlErrorBody>(v) {
            let text = match g.message {
                Some(serde_json::Value::String(s)) => Some(s),
                Some(serde_json::Value::Array(a)) => Some(
                    a.iter()
                        .map(|x| x.as_str().map(str::to_string).unwrap_or_else(|| x.to_string()))
                        .collect::<Vec<_>>()
                        .join("; "),
                ),
                _ => g.error,
            };
            if let Some(t) = text {
                return clip(&t, 1000);
            }
        }
    }
    let text = String::from_utf8_lossy(&resp.body);
    let text = text.trim();
    if text.is_empty() {
        format!("HTTP {}", resp.status)
    } else {
        clip(text, 300)
    }
}

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
            error_message(&resp(
                401,
                r#"{"statusCode":401,"message":"Invalid token: access token is invalid","error":"Unauthorized"}"#
            )),
            "Invalid token: access token is invalid"
        );
        assert_eq!(
            error_message(&resp(
                422,
                r#"{"statusCode":422,"message":["limit must be a number","skip bad"]}"#
            )),
            "limit must be a number; skip bad"
        );
        assert_eq!(
            error_message(&resp(
                422,
                r#"{"title":"Invalid body","status":422,"detail":"2 items","errors":[{"index":3,"field":"name","message":"too long"}]}"#
            )),
            "Invalid body: 2 items (items[3].name: too long)"
        );
        assert_eq!(error_message(&resp(502, "")), "HTTP 502");
        assert_eq!(
            error_message(&resp(502, "<html>Bad gateway</html>")),
            "<html>Bad gateway</html>"
        );
        let mut r = resp(302, "");
        r.headers.push(("Location".into(), "https://evil.example/".into()));
        assert_eq!(error_message(&r), "redirect to https://evil.example/ not followed");
    }

    #[test]
    fn parse_errors_name_the_field() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Outer {
            results: Inner,
        }
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Inner {
            count: f64,
        }
        let e = parse_json::<Outer>(Service::Ghl, "GET /x", br#"{"results":{"count":"many"}}"#).unwrap_err();
        match e {
            SyncError::InvalidResponse { field, endpoint, .. } => {
                assert_eq!(field, "results.count");
                assert_eq!(endpoint, "GET /x");
            }
            other => panic!("{other:?}"),
        }
        let e = parse_json::<Outer>(Service::Ghl, "GET /x", br#"{"results":{"count":1}"#).unwrap_err();
        assert!(matches!(e, SyncError::InvalidResponse { .. }));
        let e = parse_json::<Outer>(Service::Ghl, "GET /x", b"{}").unwrap_err();
        assert!(e.to_string().contains("results"), "{e}");
    }
}

#[cfg(test)]
mod scrub_tests {
    use super::*;
    use crate::testing::ScriptedHost;

    #[test]
    fn echoed_secrets_are_scrubbed_from_error_messages() {
        let mut host = ScriptedHost::new(|_: &Request| {
            Ok(Response {
                status: 400,
                headers: vec![],
                body: br#"{"message": "bad header Authorization: Bearer pit-123456789"}"#.to_vec(),
            })
        });
        let mut ex = Exchange::new(
            &mut host,
            RetryPolicy::default(),
            vec!["pit-123456789".into(), "x".into()],
        );
        let req = Request {
            method: crate::io::Method::Get,
            url: "https://h/x".into(),
            headers: vec![],
            body: None,
            timeout_ms: 1000,
        };
        let e = ex.send(Service::Ghl, "GET /x", &req).unwrap_err();
        assert_eq!(
            e.to_string(),
            "GHL answered 400 at GET /x: bad header Authorization: Bearer [redacted]"
        );
    }
}
