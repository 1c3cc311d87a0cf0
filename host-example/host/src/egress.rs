//! The egress policy: the component may reach only the origins it was
//! configured with (scheme + host + port). Everything else is answered with a
//! typed `denied` transport error before any socket is opened. It wraps any
//! [`HttpTransport`], so it holds for the real client and for test doubles.

use crate::http::{Request, Response, TransportError};
use crate::transport::HttpTransport;
use std::fmt;

/// `scheme://host:port`, lower-cased, with the default port filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub scheme: String,
    pub host: String,
    pub port: u16,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}:{}", self.scheme, self.host, self.port)
    }
}

impl Origin {
    /// The origin of an absolute URL. Refuses URLs without a host, with user
    /// info, with a scheme other than http(s), and plain http to a host that
    /// is not loopback.
    pub fn of(url: &str) -> Result<Origin, String> {
        let uri: ureq::http::Uri = url.parse().map_err(|e| format!("`{url}` is not a URL ({e})"))?;
        let scheme = uri
            .scheme_str()
            .ok_or_else(|| format!("`{url}` has no scheme"))?
            .to_ascii_lowercase();
        let authority = uri.authority().ok_or_else(|| format!("`{url}` has no host"))?;
        if authority.as_str().contains('@') {
            return Err(format!("`{url}` carries user info"));
        }
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        if host.is_empty() {
            return Err(format!("`{url}` has no host"));
        }
        let port = match (scheme.as_str(), authority.port_u16()) {
            (_, Some(p)) => p,
            ("https", None) => 443,
            ("http", None) => 80,
            (other, None) => return Err(format!("scheme `{other}` is not allowed")),
        };
        match scheme.as_str() {
            "https" => {}
            "http" if is_loopback(&host) => {}
            "http" => return Err(format!("plain http to `{host}` is not allowed (loopback only)")),
            other => return Err(format!("scheme `{other}` is not allowed")),
        }
        Ok(Origin { scheme, host, port })
    }
}

fn is_loopback(host: &str) -> bool {
    host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Lets through only requests to the allowed origins.
pub struct Allowlist<T> {
    inner: T,
    allowed: Vec<Origin>,
}

impl<T: HttpTransport> Allowlist<T> {
    /// `base_urls` that are not valid origins allow nothing (the component
    /// refuses such settings itself, with a message that says why).
    pub fn new(inner: T, base_urls: &[&str]) -> Self {
        let allowed = base_urls.iter().filter_map(|u| Origin::of(u).ok()).collect();
        Allowlist { inner, allowed }
    }

    /// The origins let through.
    pub fn allowed(&self) -> &[Origin] {
        &self.allowed
    }
}

/// Headers the host owns. A component that set `Host` could steer an
/// allowed connection to another virtual host (as in Spin's
/// CVE-2024-32980); framing and proxy headers could smuggle requests.
const HOST_OWNED_HEADERS: [&str; 8] = [
    "host",
    "connection",
    "content-length",
    "transfer-encoding",
    "te",
    "upgrade",
    "proxy-authorization",
    "proxy-connection",
];

impl<T: HttpTransport> HttpTransport for Allowlist<T> {
    fn max_concurrency(&self) -> usize {
        self.inner.max_concurrency()
    }

    fn send(&self, request: &Request) -> Result<Response, TransportError> {
        if let Some(h) = request
            .headers
            .iter()
            .find(|h| HOST_OWNED_HEADERS.contains(&h.name.to_ascii_lowercase().as_str()))
        {
            tracing::warn!(target: "ghl_rankr::egress", header = %h.name, "request denied: host-owned header");
            return Err(TransportError::Denied(format!(
                "the `{}` header is set by the host, not the component",
                h.name
            )));
        }
        let origin = Origin::of(&request.url).map_err(TransportError::Denied)?;
        if !self.allowed.contains(&origin) {
            tracing::warn!(target: "ghl_rankr::egress", %origin, "request denied: origin not allowed");
            return Err(TransportError::Denied(format!("{origin} is not an allowed origin")));
        }
        self.inner.send(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Method;

    /// Answers 200 to whatever reaches it.
    struct Answers;

    impl HttpTransport for Answers {
        fn send(&self, _: &Request) -> Result<Response, TransportError> {
            Ok(Response {
                status: 200,
                headers: vec![],
                body: vec![],
            })
        }
    }

    fn req(url: &str) -> Request {
        Request {
            method: Method::Get,
            url: url.into(),
            headers: vec![],
            body: None,
            timeout_ms: 1000,
        }
    }

    #[test]
    fn only_configured_origins_pass() {
        let a = Allowlist::new(
            Answers,
            &["https://services.leadconnectorhq.com", "http://127.0.0.1:8080/api"],
        );
        assert!(a
            .send(&req("https://services.leadconnectorhq.com/social-media-posting/x/tags"))
            .is_ok());
        assert!(a.send(&req("https://SERVICES.leadconnectorhq.com:443/x")).is_ok());
        assert!(a.send(&req("http://127.0.0.1:8080/v1/tags/batch-upsert")).is_ok());
        for denied in [
            "https://evil.example/x",
            "https://services.leadconnectorhq.com:8443/x",
            "http://services.leadconnectorhq.com/x",
            "http://127.0.0.1:8081/x",
            "https://user:pw@services.leadconnectorhq.com/x",
            "/social-media-posting/x/tags",
            "ftp://services.leadconnectorhq.com/x",
            "file:///etc/passwd",
            "http://10.0.0.1/x",
            "http:///x",
            "https://:443/x",
            "https://services.leadconnectorhq.com@evil.example/x",
        ] {
            assert!(
                matches!(a.send(&req(denied)), Err(TransportError::Denied(_))),
                "{denied} was let through"
            );
        }
    }

    #[test]
    fn host_owned_headers_are_refused() {
        let a = Allowlist::new(Answers, &["https://services.leadconnectorhq.com"]);
        for name in ["Host", "host", "Transfer-Encoding", "Content-Length", "Connection"] {
            let mut r = req("https://services.leadconnectorhq.com/x");
            r.headers.push(crate::http::Header {
                name: name.into(),
                value: "evil.example".into(),
            });
            assert!(
                matches!(a.send(&r), Err(TransportError::Denied(m)) if m.contains(name)),
                "{name} was let through"
            );
        }
    }

    #[test]
    fn behind_a_proxy_the_target_is_checked_and_the_proxy_is_never_reached_for_a_denied_one() {
        use crate::net::proxy::{ProxyRules, ProxyUrl};
        use crate::net::trust::Trust;
        use crate::net::Network;
        use crate::transport::UreqTransport;
        // A "proxy" that only counts the connections it is offered.
        let proxy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        proxy.set_nonblocking(true).unwrap();
        let url = ProxyUrl::parse(
            &format!("http://127.0.0.1:{}", proxy.local_addr().unwrap().port()),
            "test",
        )
        .unwrap();
        let rules = ProxyRules::new(&|_: &str| None, Some(&url), None).unwrap();
        let network = Network::new(&Trust::bundled(), rules).unwrap();
        assert_eq!(
            network.route("https://evil.example/x").1,
            Some(&url),
            "it would go through the proxy"
        );
        let a = Allowlist::new(
            UreqTransport::new(network, std::time::Duration::from_secs(1)),
            &["https://services.leadconnectorhq.com"],
        );
        assert!(matches!(
            a.send(&req("https://evil.example/x")),
            Err(TransportError::Denied(_))
        ));
        assert!(proxy.accept().is_err(), "the proxy was contacted for a denied target");
    }

    #[test]
    fn bad_base_urls_allow_nothing() {
        let a = Allowlist::new(Answers, &["http://example.com", "not a url"]);
        assert!(a.allowed().is_empty());
    }
}
