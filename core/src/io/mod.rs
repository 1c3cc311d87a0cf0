//! The seam between the core and the world: one trait, [`Host`], gives the
//! core HTTP, time, logging and a place to keep rotated tokens. The component
//! implements it over its WIT imports; unit tests implement it in memory.

pub mod url;

use crate::secret::OAuthTokens;
use std::fmt;

/// HTTP methods the connector uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl Method {
    /// The method's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A fully formed request.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub method: Method,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
    pub timeout_ms: u32,
}

/// An answer, whatever its status.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The first header of that name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// True for 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// Why no answer could be had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransportError {
    Timeout,
    Connect(String),
    Io(String),
    Denied(String),
    InvalidRequest(String),
    /// The body passed the host's limit (bytes).
    TooLarge(u64),
    /// TLS refused the connection for a reason a retry cannot fix: a
    /// certificate not trusted, expired or for another name, or a peer
    /// refusing the handshake. The message names the problem and the host.
    Tls(String),
}

/// What kind of failure a [`TransportError`] is, without its message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportKind {
    Timeout,
    Connect,
    Io,
    Denied,
    InvalidRequest,
    TooLarge,
    Tls,
}

impl TransportError {
    /// Its kind.
    pub fn kind(&self) -> TransportKind {
        match self {
            TransportError::Timeout => TransportKind::Timeout,
            TransportError::Connect(_) => TransportKind::Connect,
            TransportError::Io(_) => TransportKind::Io,
            TransportError::Denied(_) => TransportKind::Denied,
            TransportError::InvalidRequest(_) => TransportKind::InvalidRequest,
            TransportError::TooLarge(_) => TransportKind::TooLarge,
            TransportError::Tls(_) => TransportKind::Tls,
        }
    }

    /// Whether trying again may help.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            TransportError::Timeout | TransportError::Connect(_) | TransportError::Io(_)
        )
    }
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TransportError::Timeout => f.write_str("timed out"),
            TransportError::Connect(m) => write!(f, "could not connect: {m}"),
            TransportError::Io(m) => write!(f, "connection broke: {m}"),
            TransportError::Denied(m) => write!(f, "denied by the host: {m}"),
            TransportError::InvalidRequest(m) => write!(f, "invalid request: {m}"),
            TransportError::TooLarge(n) => write!(
                f,
                "the answer is larger than the host's limit of {n} bytes (not retried)"
            ),
            TransportError::Tls(m) => write!(f, "TLS failed (not retried): {m}"),
        }
    }
}

/// Log severities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

/// Phases of long work, for progress reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    ReadingTags,
    WritingTags,
    CheckingMissing,
    ReadingPosts,
    WritingMetrics,
}

/// Everything the core needs from outside.
pub trait Host {
    /// One HTTP exchange; no retries, no redirects.
    fn send(&mut self, request: &Request) -> Result<Response, TransportError>;
    /// Several independent exchanges, which the host may run concurrently;
    /// one outcome per request, in order. Hosts that cannot run them at
    /// once keep this default, which sends them one after another.
    fn send_all(&mut self, requests: &[Request]) -> Vec<Result<Response, TransportError>> {
        requests.iter().map(|r| self.send(r)).collect()
    }
    /// Milliseconds since the Unix epoch.
    fn now_ms(&mut self) -> u64;
    /// Wait (or advance virtual time).
    fn sleep_ms(&mut self, ms: u64);
    /// One structured log line; never given a secret.
    fn log(&mut self, level: Level, message: &str, fields: &[(&str, &str)]);
    /// Persist a rotated OAuth pair before it is used.
    fn store_tokens(&mut self, tokens: &OAuthTokens) -> Result<(), String>;
    /// How far long work has come; hosts that draw nothing keep this
    /// default.
    fn progress(&mut self, _phase: Phase, _done: u64, _total: Option<u64>) {}
}
