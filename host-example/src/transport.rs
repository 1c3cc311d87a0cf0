//! The HTTP seam. The component's `http.send` import calls an
//! [`HttpTransport`]; the CLI uses [`UreqTransport`], tests put a script or a
//! recorder in its place (an interceptor, as in Spin's outbound HTTP).

use crate::http::{Header, Method, Request, Response, TransportError};
use std::io::Read;
use std::time::Duration;

pub trait HttpTransport: Send + Sync {
    /// One exchange: no redirects, no retries.
    fn send(&self, request: &Request) -> Result<Response, TransportError>;
}

/// Bodies larger than this are refused while reading.
pub const MAX_RESPONSE_BYTES: u64 = 10 * 1024 * 1024;

/// Real HTTP(S) with `ureq`: TLS by rustls, plain HTTP, no redirects
/// followed, every status returned as a response.
pub struct UreqTransport {
    agent: ureq::Agent,
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
        UreqTransport { agent }
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
        let request = builder
            .body(r.body.clone().unwrap_or_default())
            .map_err(|e| TransportError::InvalidRequest(e.to_string()))?;
        let timeout = Duration::from_millis(r.timeout_ms.max(1) as u64);
        let request = self
            .agent
            .configure_request(request)
            .timeout_global(Some(timeout))
            .build();
        let result = self.agent.run(request);
        let mut resp = match result {
            Ok(resp) => resp,
            Err(e) => return Err(map_error(e)),
        };
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
            return Err(TransportError::Io(format!(
                "response body is larger than {MAX_RESPONSE_BYTES} bytes"
            )));
        }
        Ok(Response { status, headers, body })
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
        ureq::Error::Io(io) => TransportError::Io(io.to_string()),
        ureq::Error::BadUri(m) => TransportError::InvalidRequest(m),
        ureq::Error::Http(h) => TransportError::InvalidRequest(h.to_string()),
        other => TransportError::Io(other.to_string()),
    }
}
