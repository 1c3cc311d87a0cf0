//! Error answers typed as [`SyncError`]s, with the server's own words, and
//! the secrets cut from every message: a server may echo what it was sent,
//! and an error message leaves the connector (logs, reports, alerts).

use super::exchange::Exchange;
use super::retry::parse_retry_after;
use crate::io::{Host, Response, TransportError};
use crate::report::{RateLimit, Service, SyncError, UpstreamError};
use crate::secret::Secret;

/// The secrets' texts, which must never leave in an error message.
#[derive(Default)]
pub(super) struct Scrubber {
    texts: Vec<String>,
}

impl Scrubber {
    /// Adds secrets to cut from messages (see [`scrubbable`]).
    pub(super) fn add<'s>(&mut self, secrets: impl IntoIterator<Item = &'s Secret>) {
        self.texts.extend(secrets.into_iter().filter_map(scrubbable));
    }

    /// `text` with each secret replaced by `[redacted]`.
    pub(super) fn scrubbed(&self, mut text: String) -> String {
        for secret in &self.texts {
            if text.contains(secret.as_str()) {
                text = text.replace(secret.as_str(), "[redacted]");
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

impl<H: Host + ?Sized> Exchange<'_, H> {
    /// The typed error for a non-2xx answer, with the server's own message.
    pub(super) fn error_for(&mut self, service: Service, endpoint: &str, resp: &Response) -> SyncError {
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
    pub(super) fn error_text(&self, service: Service, resp: &Response) -> String {
        self.scrub.scrubbed(error_message(service, resp))
    }
}

/// An answer read but not handed back: cannot happen, but is an error, not a panic.
pub(super) fn lost_answer(service: Service, endpoint: &str) -> SyncError {
    SyncError::Transport {
        service,
        endpoint: endpoint.to_string(),
        message: "the answer was lost inside the connector".into(),
    }
}

/// A failure to exchange a request (no answer, or a broken one), typed.
pub(super) fn transport_error(service: Service, endpoint: &str, e: &TransportError) -> SyncError {
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
    use crate::auth::Credential;
    use crate::client::retry::RetryPolicy;
    use crate::client::Auth;
    use crate::io::Request;
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
