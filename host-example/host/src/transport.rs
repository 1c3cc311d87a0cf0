//! The HTTP seam. The component's `http.send` import calls an
//! [`HttpTransport`]; the CLI uses [`UreqTransport`], tests put a script or a
//! recorder in its place (the one place to intercept requests, as in Spin's
//! outbound HTTP).

use crate::http::{Header, Method, Request, Response, TransportError};
use crate::net::proxy::ProxyUrl;
use crate::net::refusal::tls_refusal;
use crate::net::Network;
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

/// Real HTTP(S) with `ureq` over a [`Network`]: TLS by rustls with the
/// network's trust, its proxies, no redirects followed, every status
/// returned as a response.
pub struct UreqTransport {
    network: Network,
    /// No exchange may take longer, whatever the component asks.
    max_timeout: Duration,
}

impl UreqTransport {
    /// A client over `network` whose exchanges never take longer than
    /// `max_timeout`.
    pub fn new(network: Network, max_timeout: Duration) -> Self {
        UreqTransport { network, max_timeout }
    }

    /// Straight to loopback servers (the demo, tests): no proxy.
    pub fn direct(max_timeout: Duration) -> Self {
        UreqTransport::new(Network::direct(), max_timeout)
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
            Some(body) => self.run(&r.url, builder.body(body.clone()), timeout),
            None => self.run(&r.url, builder.body(()), timeout),
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
        url: &str,
        request: Result<ureq::http::Request<B>, ureq::http::Error>,
        timeout: Option<Duration>,
    ) -> Result<ureq::http::Response<ureq::Body>, TransportError> {
        let request = request.map_err(|e| TransportError::InvalidRequest(e.to_string()))?;
        let (agent, proxy) = self.network.route(url);
        let request = agent.configure_request(request).timeout_global(timeout).build();
        agent.run(request).map_err(|e| map_error(e, url, proxy))
    }
}

/// The target's `host:port`, for messages.
fn target(url: &str) -> String {
    url.parse::<ureq::http::Uri>()
        .ok()
        .and_then(|u| {
            let host = u.host()?.to_string();
            let port = u.port_u16().or(match u.scheme_str()? {
                "https" => Some(443),
                "http" => Some(80),
                _ => None,
            })?;
            Some(format!("{host}:{port}"))
        })
        .unwrap_or_else(|| "the server".into())
}

/// The component's kind of error for a failed exchange with `url`, gone
/// through `proxy` if any.
fn map_error(e: ureq::Error, url: &str, proxy: Option<&ProxyUrl>) -> TransportError {
    if let Some(message) = tls_refusal(&e, &target(url)) {
        return TransportError::Tls(message);
    }
    let proxy_name = || proxy.map_or_else(|| "the proxy".to_string(), |p| format!("the proxy {p}"));
    // The proxy answered the CONNECT with an error status: 407 wants
    // (other) credentials, which no retry brings; the rest may pass.
    if let ureq::Error::ConnectProxyFailed(why) = &e {
        return if why.contains("407") {
            TransportError::InvalidRequest(format!(
                "{} refused the tunnel to {}: {why}; check the proxy's credentials",
                proxy_name(),
                target(url)
            ))
        } else {
            TransportError::Connect(format!("{}, tunnelling to {}: {why}", proxy_name(), target(url)))
        };
    }
    match (map_kind(e), proxy) {
        (TransportError::Connect(m), Some(_)) => TransportError::Connect(format!("through {}: {m}", proxy_name())),
        (other, _) => other,
    }
}

fn map_kind(e: ureq::Error) -> TransportError {
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
        ureq::Error::Tls(m) => TransportError::InvalidRequest(format!("TLS: {m}")),
        ureq::Error::Http(h) => TransportError::InvalidRequest(h.to_string()),
        other => TransportError::Io(other.to_string()),
    }
}
