//! The network as the user has it: the CAs this machine trusts ([`trust`]),
//! the proxies its variables or settings name ([`proxy`]), and TLS refusals
//! told apart from broken connections ([`refusal`]). A [`Network`] is built
//! once (a CLI run, a service) and shared: it holds one HTTP client per
//! route, each with its own connection pool.

pub mod proxy;
pub mod refusal;
pub mod trust;

use proxy::{ProxyError, ProxyRules, ProxyUrl};
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use trust::{Trust, TrustError};
use ureq::tls::{RootCerts, TlsConfig};

/// What the user asked of the network: `--ca-cert` / `ca_cert`, and the
/// settings' `proxy` and `no_proxy` (the variables are read as well).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkConfig {
    pub ca_cert: Option<PathBuf>,
    pub proxy: Option<ProxyUrl>,
    pub no_proxy: Option<String>,
}

impl NetworkConfig {
    /// A `--ca-cert` flag, when given, wins over the `ca_cert` setting.
    pub fn with_ca_cert(mut self, flag: Option<&std::path::Path>) -> Self {
        if let Some(file) = flag {
            self.ca_cert = Some(file.to_path_buf());
        }
        self
    }
}

/// Why the network could not be set up; each says what to fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetworkError {
    Trust(TrustError),
    Proxy(ProxyError),
}

impl fmt::Display for NetworkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NetworkError::Trust(e) => e.fmt(f),
            NetworkError::Proxy(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for NetworkError {}

/// HTTP clients for each route (direct, and through each proxy), sharing
/// one trust store. Cheap to clone.
#[derive(Clone)]
pub struct Network {
    inner: Arc<Routes>,
}

struct Routes {
    direct: ureq::Agent,
    proxied: Vec<(ProxyUrl, ureq::Agent)>,
    rules: ProxyRules,
    trust: String,
}

impl Network {
    /// The user's network: the system's CAs (or `SSL_CERT_FILE` /
    /// `SSL_CERT_DIR`) and `ca_cert`; the proxy variables and settings.
    pub fn from_env(config: &NetworkConfig) -> Result<Network, NetworkError> {
        let trust = Trust::load(config.ca_cert.as_deref()).map_err(NetworkError::Trust)?;
        let var = |name: &str| std::env::var(name).ok();
        let rules =
            ProxyRules::new(&var, config.proxy.as_ref(), config.no_proxy.as_deref()).map_err(NetworkError::Proxy)?;
        let network = Network::new(&trust, rules)?;
        tracing::debug!(target: "ghl_rankr::net", trust = %trust, proxies = %network.inner.rules, "network ready");
        Ok(network)
    }

    /// Straight to every host, trusting the bundled Mozilla roots: for
    /// servers on loopback (the demo, tests), whatever the variables say.
    pub fn direct() -> Network {
        let trust = Trust::bundled();
        Network {
            inner: Arc::new(Routes {
                direct: agent(&trust, None),
                proxied: Vec::new(),
                rules: ProxyRules::direct(),
                trust: trust.to_string(),
            }),
        }
    }

    /// Routes for `trust` and `rules`.
    pub fn new(trust: &Trust, rules: ProxyRules) -> Result<Network, NetworkError> {
        let mut proxied = Vec::new();
        for url in rules.proxies() {
            // `ProxyUrl` parsed it already; ureq's parser agrees on http(s).
            let proxy = ureq::Proxy::new(url.expose())
                .map_err(|_| NetworkError::Proxy(ProxyError(format!("the proxy {url} is not a URL ureq accepts"))))?;
            proxied.push((url.clone(), agent(trust, Some(proxy))));
        }
        Ok(Network {
            inner: Arc::new(Routes {
                direct: agent(trust, None),
                proxied,
                rules,
                trust: trust.to_string(),
            }),
        })
    }

    /// The client for `url`, and the proxy it goes through, if any.
    pub fn route(&self, url: &str) -> (&ureq::Agent, Option<&ProxyUrl>) {
        match self.inner.rules.for_url(url) {
            Some(want) => match self.inner.proxied.iter().find(|(p, _)| p == want) {
                Some((p, agent)) => (agent, Some(p)),
                None => (&self.inner.direct, None),
            },
            None => (&self.inner.direct, None),
        }
    }

    /// One line for logs and status pages, without credentials.
    pub fn summary(&self) -> String {
        format!("trust {}; {}", self.inner.trust, self.inner.rules)
    }
}

/// A client that returns every status as a response and follows no
/// redirect; proxies only where told (ureq would read the variables
/// itself, by rules other than curl's).
fn agent(trust: &Trust, proxy: Option<ureq::Proxy>) -> ureq::Agent {
    let tls = TlsConfig::builder()
        .root_certs(RootCerts::Specific(trust.roots().clone()))
        .build();
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .save_redirect_history(false)
        .user_agent(concat!("ghl-rankr/", env!("CARGO_PKG_VERSION")))
        .tls_config(tls)
        .proxy(proxy)
        .build()
        .new_agent()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_target_takes_its_route() {
        let var = |name: &str| match name {
            "HTTPS_PROXY" => Some("http://user:pw@127.0.0.1:3128".to_string()),
            "NO_PROXY" => Some("rankr.internal".to_string()),
            _ => None,
        };
        let rules = ProxyRules::new(&var, None, None).unwrap();
        let network = Network::new(&Trust::bundled(), rules).unwrap();
        let (_, via) = network.route("https://services.leadconnectorhq.com/social-media-posting/x");
        assert_eq!(
            via.map(|p| p.to_string()).as_deref(),
            Some("http://[redacted]@127.0.0.1:3128")
        );
        assert!(network.route("https://api.rankr.internal/v1").1.is_none());
        assert!(network.route("http://127.0.0.1:8080/").1.is_none(), "no http_proxy");
        let summary = network.summary();
        assert!(
            summary.contains("bundled Mozilla roots") && !summary.contains("pw"),
            "{summary}"
        );
    }
}
