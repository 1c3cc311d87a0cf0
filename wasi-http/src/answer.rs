//! What the component answers: a status, headers and a JSON body. Every
//! answer is JSON, a refusal included, so a caller can always read the kind
//! of what happened.
//!
//! - 200: the operation's report (the catalog's output schema).
//! - 4xx with `{"error": {"<kind>": {"message": …}}}`: the request was
//!   refused before anything ran (route, method, size, JSON).
//! - 422, 429 or 500 with the typed `sync-failure`: the operation ran and
//!   failed; its `state` and `rotated-tokens` are in the body, as in a
//!   report, and must be kept. 500 rather than 502: gateways replace the
//!   bodies of 502s, and this body carries the rotated tokens.

use crate::route::{self, RouteError};
use ghl_rankr_core::wire;
use ghl_rankr_core::{SyncError, SyncFailure};
use serde_json::{json, Value};
use std::fmt;

/// An HTTP answer: what the glue writes as the response.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpAnswer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpAnswer {
    /// `value` as a JSON answer with `status`.
    pub fn json(status: u16, value: &Value) -> HttpAnswer {
        let body = value.to_string().into_bytes();
        HttpAnswer {
            status,
            headers: vec![
                ("content-type".into(), "application/json".into()),
                ("content-length".into(), body.len().to_string()),
            ],
            body,
        }
    }

    fn with_header(mut self, name: &str, value: String) -> HttpAnswer {
        self.headers.push((name.to_string(), value));
        self
    }

    /// The answer to a failed operation: its typed failure, with its state
    /// and rotated tokens.
    pub fn failure(failure: &SyncFailure) -> HttpAnswer {
        let status = match &failure.error {
            SyncError::InvalidConfig(_) => 422,
            SyncError::RateLimited(_) => 429,
            _ => 500,
        };
        let answer = HttpAnswer::json(status, &wire::failure_json(failure));
        match &failure.error {
            SyncError::RateLimited(r) => match r.retry_after_ms {
                Some(ms) => answer.with_header("retry-after", ms.div_ceil(1000).to_string()),
                None => answer,
            },
            _ => answer,
        }
    }
}

/// Why a request was refused before anything ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestError {
    /// The deployment requires a bearer token and the request's is missing
    /// or wrong.
    Unauthorized,
    /// No route has the path, or it takes another method.
    Route(RouteError),
    /// The body is longer than the limit (bytes).
    TooLarge { limit: u64 },
    /// The body is not JSON at all.
    NotJson(String),
    /// The body could not be read from the connection.
    Unreadable(String),
}

impl RequestError {
    /// The error's kind, as the JSON names it.
    pub fn kind(&self) -> &'static str {
        match self {
            RequestError::Unauthorized => "unauthorized",
            RequestError::Route(RouteError::UnknownRoute { .. }) => "unknown-route",
            RequestError::Route(RouteError::MethodNotAllowed { .. }) => "method-not-allowed",
            RequestError::TooLarge { .. } => "body-too-large",
            RequestError::NotJson(_) => "not-json",
            RequestError::Unreadable(_) => "unreadable-body",
        }
    }

    pub fn status(&self) -> u16 {
        match self {
            RequestError::Unauthorized => 401,
            RequestError::Route(RouteError::UnknownRoute { .. }) => 404,
            RequestError::Route(RouteError::MethodNotAllowed { .. }) => 405,
            RequestError::TooLarge { .. } => 413,
            RequestError::NotJson(_) | RequestError::Unreadable(_) => 400,
        }
    }

    pub fn answer(&self) -> HttpAnswer {
        let mut detail = json!({ "message": self.to_string() });
        if let RequestError::Route(RouteError::UnknownRoute { .. }) = self {
            detail["routes"] = json!(route::all());
        }
        let answer = HttpAnswer::json(self.status(), &json!({ "error": { self.kind(): detail } }));
        match self {
            RequestError::Route(RouteError::MethodNotAllowed { allow, .. }) => {
                answer.with_header("allow", allow.to_string())
            }
            RequestError::Unauthorized => answer.with_header("www-authenticate", "Bearer".to_string()),
            _ => answer,
        }
    }
}

impl From<RouteError> for RequestError {
    fn from(e: RouteError) -> Self {
        RequestError::Route(e)
    }
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestError::Unauthorized => f.write_str(
                "this deployment requires `Authorization: Bearer <token>`, the token it was given in GHL_RANKR_TOKEN",
            ),
            RequestError::Route(e) => fmt::Display::fmt(e, f),
            RequestError::TooLarge { limit } => write!(
                f,
                "the request body is larger than {limit} bytes; send one operation's settings, event and state"
            ),
            RequestError::NotJson(m) => write!(
                f,
                "the request body is not JSON ({m}); send {{\"settings\": …, \"event\": …, \"state\": …}}"
            ),
            RequestError::Unreadable(m) => write!(f, "the request body could not be read: {m}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ghl_rankr_core::{RateLimit, Service};

    fn body(a: &HttpAnswer) -> Value {
        serde_json::from_slice(&a.body).unwrap()
    }

    #[test]
    fn refusals_are_typed_json_with_their_status() {
        let a = RequestError::from(RouteError::UnknownRoute { path: "/x".into() }).answer();
        assert_eq!(a.status, 404);
        let v = body(&a);
        assert!(v["error"]["unknown-route"]["message"]
            .as_str()
            .unwrap()
            .contains("POST /tag-sync"));
        assert_eq!(v["error"]["unknown-route"]["routes"][1], "GET /describe");

        let a = RequestError::from(RouteError::MethodNotAllowed {
            method: "GET".into(),
            path: "/stats-sync".into(),
            allow: "POST",
        })
        .answer();
        assert_eq!(
            (a.status, a.headers.last().unwrap()),
            (405, &("allow".into(), "POST".into()))
        );

        let a = RequestError::TooLarge { limit: 10 }.answer();
        assert_eq!(a.status, 413);
        assert!(body(&a)["error"]["body-too-large"]["message"].is_string());
        assert_eq!(a.headers[1], ("content-length".into(), a.body.len().to_string()));
    }

    #[test]
    fn a_rate_limited_failure_is_a_429_with_retry_after_in_whole_seconds() {
        let failure = SyncFailure {
            error: SyncError::RateLimited(RateLimit {
                service: Service::Ghl,
                endpoint: "GET /social-media-posting/{locationId}/tags".into(),
                retry_after_ms: Some(1_500),
                message: "slow down".into(),
            }),
            state: Some(b"s".to_vec()),
            rotated_tokens: None,
        };
        let a = HttpAnswer::failure(&failure);
        assert_eq!(a.status, 429);
        assert!(a.headers.contains(&("retry-after".into(), "2".into())));
        assert_eq!(body(&a)["state"], "cw==");
    }
}
