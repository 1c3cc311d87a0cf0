//! The HTTP seam. The component's `http.send` import calls an
//! [`HttpTransport`]; the CLI uses [`UreqTransport`], tests put a script or a
//! recorder in its place (the one place to intercept requests, as in Spin's
//! outbound HTTP).

use crate::http::{Header, Method, Request, Response, TransportError};
use std::io::Read;
use std::time::Duration;

pub trait HttpTransport: Send + Sync {
    /// One exchange: no redirects, no retries.
    fn send(&self, request: &Request) -> Result<Response, TransportError>;
    /// Exchanges this transport can take at once (`send-all` runs at most
    /// this many in parallel).
    fn max_concurrency(&self) -> usize {
        usize::MAX
    }
}

/// Bodies larger than this are refused while reading.
pub const MAX_RESPONSE_BYTES: u64 = 10 * 1024 * 1024;

/// Real HTTP(S) with `ureq`: TLS by rustls, plain HTTP, no redirects
/// followed, every status returned as a response.
pub struct UreqTransport {
    agent: ureq::Agent,
    /// No exchange may take longer, whatever the component asks.
    max_timeout: Duration,
}

impl Default for UreqTransport {
    fn default() -> Self {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .save_redirect_history(false)
            .user_agent(concat!("ghl-rankr/", env!("CARGO_PKG_VERSION")))
            .build()
            .new_agent();
        UreqTransport {
            agent,
            max_timeout: Duration::from_secs(30),
        }
    }
}

impl UreqTransport {
    /// A client whose exchanges never take longer than `max_timeout`.
    pub fn with_max_timeout(max_timeout: Duration) -> Self {
        UreqTransport {
            max_timeout,
            ..Self::default()
        }
    }
}

impl HttpTransport for UreqTransport {
    fn send(&self, r: &Request) -> Result<Response, TransportError> {
        let method = match r.method {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        };
        let mut builder = ureq::http::Request::builder().method(method).uri(&r.url);
        for h in &r.headers {
            builder = builder.header(h.name.as_str(), h.value.as_str());
        }
        let timeout = Some(Duration::from_millis(r.timeout_ms.max(1) as u64).min(self.max_timeout));
        // No body means no body: a GET goes out without `Content-Length: 0`.
        let result = match &r.body {
            Some(body) => self.run(builder.body(body.clone()), timeout),
            None => self.run(builder.body(()), timeout),
        };
        let mut resp = result?;
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| Header {
                name: k.as_str().to_string(),
                value: String::from_utf8_lossy(v.as_bytes()).into_owned(),
            })
            .collect();
        let mut body = Vec::new();
        resp.body_mut()
            .as_reader()
            .take(MAX_RESPONSE_BYTES + 1)
            .read_to_end(&mut body)
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::TimedOut => TransportError::Timeout,
                _ => TransportError::Io(e.to_string()),
            })?;
        if body.len() as u64 > MAX_RESPONSE_BYTES {
            return Err(TransportError::TooLarge(MAX_RESPONSE_BYTES));
        }
        Ok(Response { status, headers, body })
    }
}

impl UreqTransport {
    fn run<B: ureq::AsSendBody>(
        &self,
        request: Result<ureq::http::Request<B>, ureq::http::Error>,
        timeout: Option<Duration>,
    ) -> Result<ureq::http::Response<ureq::Body>, TransportError> {
        let request = request.map_err(|e| TransportError::InvalidRequest(e.to_string()))?;
        let request = self.agent.configure_request(request).timeout_global(timeout).build();
        self.agent.run(request).map_err(map_error)
    }
}

fn map_error(e: ureq::Error) -> TransportError {
    match e {
        ureq::Error::Timeout(_) => TransportError::Timeout,
        ureq::Error::HostNotFound | ureq::Error::ConnectionFailed => TransportError::Connect(e.to_string()),
        ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            TransportError::Connect(io.to_string())
        }
        ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => TransportError::Timeout,
        // A timeout met while reading the body arrives wrapped in an io error.
        ureq::Error::Io(io)
            if io
                .get_ref()
                .and_then(|e| e.downcast_ref::<ureq::Error>())
                .is_some_and(|e| matches!(e, ureq::Error::Timeout(_))) =>
        {
            TransportError::Timeout
        }
        ureq::Error::Io(io) => TransportError::Io(io.to_string()),
        ureq::Error::BadUri(m) => TransportError::InvalidRequest(m),
        ureq::Error::Http(h) => TransportError::InvalidRequest(h.to_string()),
        other => TransportError::Io(other.to_string()),
    }
}
