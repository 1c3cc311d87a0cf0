//! An in-memory [`Host`] for unit tests and benchmarks: a handler answers
//! each request, every request is recorded, time is virtual.

use crate::io::{Host, Level, Request, Response, TransportError};
use crate::secret::OAuthTokens;

/// A log line: level, message, fields.
pub type LogLine = (Level, String, Vec<(String, String)>);

/// Answers requests with a closure; records them; sleeps in virtual time.
pub struct ScriptedHost<F: FnMut(&Request) -> Result<Response, TransportError>> {
    pub handler: F,
    pub requests: Vec<Request>,
    pub now_ms: u64,
    pub slept_ms: Vec<u64>,
    pub logs: Vec<LogLine>,
    /// Every pair given to `store_tokens`, in order.
    pub stored_tokens: Vec<OAuthTokens>,
    /// When set, `store_tokens` fails with this message.
    pub store_fails: Option<String>,
}

impl<F: FnMut(&Request) -> Result<Response, TransportError>> ScriptedHost<F> {
    /// Starts at 2026-11-28T12:00:00Z.
    pub fn new(handler: F) -> Self {
        ScriptedHost {
            handler,
            requests: Vec::new(),
            now_ms: 1_795_867_200_000,
            slept_ms: Vec::new(),
            logs: Vec::new(),
            stored_tokens: Vec::new(),
            store_fails: None,
        }
    }
}

impl<F: FnMut(&Request) -> Result<Response, TransportError>> Host for ScriptedHost<F> {
    fn send(&mut self, request: &Request) -> Result<Response, TransportError> {
        self.requests.push(request.clone());
        (self.handler)(request)
    }

    fn now_ms(&mut self) -> u64 {
        self.now_ms
    }

    fn sleep_ms(&mut self, ms: u64) {
        self.now_ms += ms;
        self.slept_ms.push(ms);
    }

    fn log(&mut self, level: Level, message: &str, fields: &[(&str, &str)]) {
        self.logs.push((
            level,
            message.to_string(),
            fields.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        ));
    }

    fn store_tokens(&mut self, tokens: &OAuthTokens) -> Result<(), String> {
        match &self.store_fails {
            Some(m) => Err(m.clone()),
            None => {
                self.stored_tokens.push(tokens.clone());
                Ok(())
            }
        }
    }
}

/// A JSON response.
pub fn json(status: u16, body: serde_json::Value) -> Result<Response, TransportError> {
    Ok(Response {
        status,
        headers: vec![("content-type".into(), "application/json".into())],
        body: body.to_string().into_bytes(),
    })
}

/// The path of a request URL (no scheme, host or query).
pub fn path(url: &str) -> &str {
    let after_scheme = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let path = after_scheme.find('/').map(|i| &after_scheme[i..]).unwrap_or("/");
    path.split('?').next().unwrap_or(path)
}

/// A query parameter of a request URL (raw).
pub fn query<'a>(url: &'a str, name: &str) -> Option<&'a str> {
    url.split_once('?')?
        .1
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A request header (case-insensitive).
pub fn header<'a>(r: &'a Request, name: &str) -> Option<&'a str> {
    r.headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}
