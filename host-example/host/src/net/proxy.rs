//! Which proxy a request goes through, by curl's rules: `https_proxy` for
//! `https://` targets, `http_proxy` for `http://` ones, `all_proxy` for
//! either, each in lower case first and then upper case; `no_proxy` names
//! the hosts reached directly. The settings' `proxy` and `no_proxy` keys win
//! over the variables, as curl's `--proxy` and `--noproxy` do.
//!
//! A proxy URL may carry credentials (`http://user:password@proxy:3128`).
//! They reach the proxy in `Proxy-Authorization` and nowhere else: a
//! [`ProxyUrl`] prints and debugs without them, and no error repeats them.

use std::fmt;
use std::net::IpAddr;

/// A proxy's URL. Its `Display` and `Debug` never show the credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct ProxyUrl {
    full: String,
    shown: String,
}

/// Why a proxy setting was refused; the text never holds its credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyError(pub String);

impl fmt::Display for ProxyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ProxyError {}

impl ProxyUrl {
    /// `http://[user:password@]host[:port]` (`https://` for TLS to the
    /// proxy); without a scheme, `http://` as curl assumes. `source` names
    /// where it came from, for the error.
    pub fn parse(text: &str, source: &str) -> Result<ProxyUrl, ProxyError> {
        let text = text.trim();
        let refuse = |why: &str| {
            ProxyError(format!(
                "{source} = `{}` is not a proxy URL: {why} (expected http://[user:password@]host:port)",
                redact(text)
            ))
        };
        let full = if text.contains("://") {
            text.to_string()
        } else {
            format!("http://{text}")
        };
        let uri: ureq::http::Uri = full.parse().map_err(|_| refuse("it does not parse"))?;
        let scheme = uri.scheme_str().unwrap_or("http").to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return Err(refuse(&format!(
                "`{scheme}` proxies are not supported, only HTTP(S) CONNECT proxies"
            )));
        }
        let authority = uri.authority().ok_or_else(|| refuse("it names no host"))?;
        if authority.host().is_empty() {
            return Err(refuse("it names no host"));
        }
        if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
            return Err(refuse("a proxy URL has no path"));
        }
        // curl's default port for an http proxy is 1080, not 80.
        let port = authority
            .port_u16()
            .unwrap_or(if scheme == "https" { 443 } else { 1080 });
        let credentials = if authority.as_str().contains('@') {
            "[redacted]@"
        } else {
            ""
        };
        let host = authority.host();
        let shown = format!("{scheme}://{credentials}{host}:{port}");
        let full = match authority.port_u16() {
            Some(_) => full,
            None => format!("{scheme}://{}:{port}", authority.as_str()),
        };
        Ok(ProxyUrl { full, shown })
    }

    /// The URL with its credentials, for the HTTP client alone.
    pub fn expose(&self) -> &str {
        &self.full
    }
}

impl fmt::Display for ProxyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown)
    }
}

impl fmt::Debug for ProxyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ProxyUrl({})", self.shown)
    }
}

/// Text with whatever precedes the last `@` of its authority replaced:
/// `http://user:pw@host` shows as `http://[redacted]@host`.
fn redact(text: &str) -> String {
    let (scheme, rest) = match text.split_once("://") {
        Some((s, r)) => (format!("{s}://"), r),
        None => (String::new(), text),
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}[redacted]{}", &rest[at..]),
        None => text.to_string(),
    }
}

/// The hosts reached without a proxy (`no_proxy`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NoProxy {
    all: bool,
    entries: Vec<Entry>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    /// A host name and every name under it (`example.com` matches
    /// `api.example.com`).
    Domain(String),
    Ip(IpAddr),
    /// `10.0.0.0/8`, `fd00::/8`.
    Network(IpAddr, u8),
}

impl NoProxy {
    /// Comma- or space-separated entries, as curl reads them: `*` for every
    /// host; a name (a leading `.` or `*.` is ignored) for itself and the
    /// names under it; an IP address; a CIDR network. A `:port` is ignored.
    pub fn parse(text: &str) -> NoProxy {
        let mut list = NoProxy::default();
        for raw in text
            .split([',', ' ', '\t', '\n'])
            .map(str::trim)
            .filter(|e| !e.is_empty())
        {
            if raw == "*" {
                list.all = true;
                continue;
            }
            if let Some((net, bits)) = raw.split_once('/') {
                if let (Ok(ip), Ok(bits)) = (net.trim_matches(['[', ']']).parse::<IpAddr>(), bits.parse::<u8>()) {
                    let max = if ip.is_ipv4() { 32 } else { 128 };
                    list.entries.push(Entry::Network(ip, bits.min(max)));
                }
                continue;
            }
            let host = strip_port(raw);
            if let Ok(ip) = host.trim_matches(['[', ']']).parse::<IpAddr>() {
                list.entries.push(Entry::Ip(ip));
                continue;
            }
            let name = host
                .trim_start_matches('*')
                .trim_start_matches('.')
                .to_ascii_lowercase();
            if !name.is_empty() {
                list.entries.push(Entry::Domain(name));
            }
        }
        list
    }

    /// Whether `host` (a name or an IP, brackets allowed) bypasses the proxy.
    pub fn matches(&self, host: &str) -> bool {
        if self.all {
            return true;
        }
        let host = host.trim_matches(['[', ']']).trim_end_matches('.').to_ascii_lowercase();
        let ip = host.parse::<IpAddr>().ok();
        self.entries.iter().any(|entry| match (entry, ip) {
            (Entry::Ip(want), Some(ip)) => *want == ip,
            (Entry::Network(net, bits), Some(ip)) => in_network(ip, *net, *bits),
            (Entry::Domain(name), None) => {
                host == *name || (host.ends_with(name.as_str()) && host[..host.len() - name.len()].ends_with('.'))
            }
            _ => false,
        })
    }

    pub fn is_empty(&self) -> bool {
        !self.all && self.entries.is_empty()
    }
}

/// `host:port` → `host`; a bare IPv6 address stays whole.
fn strip_port(entry: &str) -> &str {
    if let Some(rest) = entry.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match entry.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') && port.chars().all(|c| c.is_ascii_digit()) => host,
        _ => entry,
    }
}

fn in_network(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(ip), IpAddr::V4(net)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            u32::from(ip) & mask == u32::from(net) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            u128::from(ip) & mask == u128::from(net) & mask
        }
        _ => false,
    }
}

/// The proxy for each kind of target, and the bypass list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxyRules {
    https: Option<ProxyUrl>,
    http: Option<ProxyUrl>,
    no_proxy: NoProxy,
}

impl ProxyRules {
    /// No proxy at all.
    pub fn direct() -> ProxyRules {
        ProxyRules::default()
    }

    /// From the variables (`var` reads one; an empty one is unset) and the
    /// settings' `proxy` and `no_proxy`, which win.
    pub fn new(
        var: &dyn Fn(&str) -> Option<String>,
        proxy: Option<&ProxyUrl>,
        no_proxy: Option<&str>,
    ) -> Result<ProxyRules, ProxyError> {
        let first = |names: &[&'static str]| -> Option<(&'static str, String)> {
            names
                .iter()
                .find_map(|n| var(n).filter(|v| !v.trim().is_empty()).map(|v| (*n, v)))
        };
        let pick = |names: &[&'static str]| -> Result<Option<ProxyUrl>, ProxyError> {
            first(names)
                .map(|(name, value)| ProxyUrl::parse(&value, name))
                .transpose()
        };
        let (https, http) = match proxy {
            Some(url) => (Some(url.clone()), Some(url.clone())),
            None => (
                pick(&["https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"])?,
                pick(&["http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"])?,
            ),
        };
        let no_proxy = match no_proxy {
            Some(list) => NoProxy::parse(list),
            None => first(&["no_proxy", "NO_PROXY"])
                .map(|(_, v)| NoProxy::parse(&v))
                .unwrap_or_default(),
        };
        Ok(ProxyRules { https, http, no_proxy })
    }

    /// The proxy a request to `url` goes through, if any.
    pub fn for_url(&self, url: &str) -> Option<&ProxyUrl> {
        let uri: ureq::http::Uri = url.parse().ok()?;
        let proxy = match uri.scheme_str()? {
            s if s.eq_ignore_ascii_case("https") => self.https.as_ref()?,
            s if s.eq_ignore_ascii_case("http") => self.http.as_ref()?,
            _ => return None,
        };
        (!self.no_proxy.matches(uri.host()?)).then_some(proxy)
    }

    /// The distinct proxies in use.
    pub fn proxies(&self) -> Vec<&ProxyUrl> {
        let mut all: Vec<&ProxyUrl> = self.https.iter().chain(self.http.iter()).collect();
        all.dedup();
        all
    }
}

impl fmt::Display for ProxyRules {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let show = |p: &Option<ProxyUrl>| p.as_ref().map_or_else(|| "direct".to_string(), |p| p.to_string());
        write!(f, "https via {}, http via {}", show(&self.https), show(&self.http))?;
        if !self.no_proxy.is_empty() {
            f.write_str(", some hosts direct (no_proxy)")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k: &str| map.get(k).cloned()
    }

    #[test]
    fn credentials_never_show() {
        let p = ProxyUrl::parse("http://alice:s3cret-pw@proxy.corp:3128", "HTTPS_PROXY").unwrap();
        assert_eq!(p.to_string(), "http://[redacted]@proxy.corp:3128");
        assert_eq!(format!("{p:?}"), "ProxyUrl(http://[redacted]@proxy.corp:3128)");
        assert!(p.expose().contains("s3cret-pw"));
        let rules = ProxyRules::new(
            &vars(&[("HTTPS_PROXY", "http://alice:s3cret-pw@proxy.corp:3128")]),
            None,
            None,
        )
        .unwrap();
        assert!(!format!("{rules} {rules:?}").contains("s3cret"), "{rules:?}");
        let e = ProxyUrl::parse("socks5://alice:s3cret-pw@proxy.corp:1080", "HTTPS_PROXY").unwrap_err();
        assert!(e.0.contains("socks5") && e.0.contains("HTTPS_PROXY"), "{e}");
        assert!(!e.0.contains("s3cret") && !e.0.contains("alice"), "{e}");
        let e = ProxyUrl::parse("http://alice:s3cret-pw@", "the `proxy` setting").unwrap_err();
        assert!(!e.0.contains("s3cret"), "{e}");
    }

    #[test]
    fn a_url_without_scheme_or_port_is_read_as_curl_does() {
        let p = ProxyUrl::parse("proxy.corp:3128", "http_proxy").unwrap();
        assert_eq!(p.expose(), "http://proxy.corp:3128");
        let p = ProxyUrl::parse("http://proxy.corp", "http_proxy").unwrap();
        assert_eq!(p.expose(), "http://proxy.corp:1080");
        let p = ProxyUrl::parse("https://u:p@proxy.corp", "http_proxy").unwrap();
        assert_eq!(p.expose(), "https://u:p@proxy.corp:443");
        assert_eq!(p.to_string(), "https://[redacted]@proxy.corp:443");
        assert!(ProxyUrl::parse("http://proxy.corp:3128/path", "x").is_err());
    }

    #[test]
    fn the_target_scheme_picks_the_variable_lower_case_first() {
        let rules = ProxyRules::new(
            &vars(&[
                ("https_proxy", "http://lower:1"),
                ("HTTPS_PROXY", "http://upper:2"),
                ("HTTP_PROXY", "http://plain:3"),
            ]),
            None,
            None,
        )
        .unwrap();
        assert_eq!(
            rules.for_url("https://api.rankr.io/v1").unwrap().expose(),
            "http://lower:1"
        );
        assert_eq!(
            rules.for_url("http://127.0.0.1:80/").unwrap().expose(),
            "http://plain:3"
        );

        let rules = ProxyRules::new(&vars(&[("ALL_PROXY", "http://all:4"), ("https_proxy", "")]), None, None).unwrap();
        assert_eq!(rules.for_url("https://a.b/").unwrap().expose(), "http://all:4");
        assert_eq!(rules.for_url("http://a.b/").unwrap().expose(), "http://all:4");

        let rules = ProxyRules::new(&vars(&[]), None, None).unwrap();
        assert!(rules.for_url("https://a.b/").is_none());
    }

    #[test]
    fn the_settings_win_over_the_variables() {
        let env = vars(&[("HTTPS_PROXY", "http://env:1"), ("NO_PROXY", "api.rankr.io")]);
        let setting = ProxyUrl::parse("http://setting:2", "proxy").unwrap();
        let rules = ProxyRules::new(&env, Some(&setting), None).unwrap();
        assert_eq!(rules.for_url("https://x.y/").unwrap().expose(), "http://setting:2");
        assert_eq!(rules.for_url("http://x.y/").unwrap().expose(), "http://setting:2");
        assert!(rules.for_url("https://api.rankr.io/").is_none(), "NO_PROXY still holds");
        let rules = ProxyRules::new(&env, Some(&setting), Some("")).unwrap();
        assert!(
            rules.for_url("https://api.rankr.io/").is_some(),
            "no_proxy = \"\" clears it"
        );
        let e = ProxyRules::new(&vars(&[("https_proxy", "ftp://x")]), None, None).unwrap_err();
        assert!(e.0.contains("https_proxy"), "{e}");
    }

    #[test]
    fn no_proxy_matches_names_their_subdomains_ips_and_networks() {
        let list = NoProxy::parse(".corp.example, localhost:8080 ,10.0.0.0/8, ::1,*.internal");
        assert!(list.matches("corp.example"));
        assert!(list.matches("api.corp.example"));
        assert!(list.matches("API.Corp.Example."));
        assert!(!list.matches("notcorp.example"));
        assert!(list.matches("localhost"));
        assert!(list.matches("10.20.30.40"));
        assert!(!list.matches("11.0.0.1"));
        assert!(list.matches("[::1]"));
        assert!(list.matches("db.internal"));
        assert!(!list.matches("127.0.0.1"));
        assert!(NoProxy::parse("*").matches("anything"));
        assert!(NoProxy::parse("127.0.0.1").matches("127.0.0.1"));
        assert!(NoProxy::parse("0.0.0.0/0").matches("8.8.8.8"));
        assert!(NoProxy::parse("").is_empty());
    }
}
