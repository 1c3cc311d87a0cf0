//! The `--config FILE` settings file (TOML). The component's `settings`
//! are assembled from it in [`crate::invoke`].
//!
//! ```toml
//! page_size = 100
//! dry_run = false
//! request_timeout_secs = 30
//! deadline_secs = 900
//! archive_missing = true
//! full_pass = false
//! ca_cert = "corp-ca.pem"             # one more CA bundle, relative to this file
//! proxy = "http://proxy.corp:3128"    # else HTTPS_PROXY / HTTP_PROXY / ALL_PROXY
//! no_proxy = "localhost,.corp"        # else NO_PROXY
//!
//! [retry]
//! max_attempts = 5
//! base_delay_ms = 500
//! max_delay_ms = 30000
//!
//! [[tag_mapping]]
//! source = "_id"
//! target = "externalId"
//!
//! [[tag_mapping]]
//! source = "tag"
//! target = "name"
//! transforms = ["trim", { truncate = 100 }, { default = "untitled" }]
//!
//! [[metric_mapping]]
//! source = "totals.likes"
//! target = "likes_7d"
//! ```

use ghl_rankr_host::net::proxy::ProxyUrl;
use ghl_rankr_host::net::NetworkConfig;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The settings file.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    pub ghl_base_url: Option<String>,
    pub rankr_base_url: Option<String>,
    pub page_size: Option<u32>,
    pub dry_run: Option<bool>,
    pub request_timeout_secs: Option<u32>,
    pub deadline_secs: Option<u64>,
    pub archive_missing: Option<bool>,
    /// `tag-sync` always reads every page, even with the post's tag ids.
    pub full_pass: Option<bool>,
    /// Requests sent at once (1..=64, default 16).
    pub max_in_flight: Option<u32>,
    pub retry: Option<RetryConfig>,
    /// One more CA bundle (PEM) to trust, on top of the system's; a
    /// relative path is relative to the settings file.
    pub ca_cert: Option<PathBuf>,
    /// The proxy for every request (wins over the proxy variables).
    pub proxy: Option<ProxySetting>,
    /// Hosts reached without the proxy (wins over `NO_PROXY`).
    pub no_proxy: Option<String>,
    #[serde(default)]
    pub tag_mapping: Vec<MappingRowConfig>,
    #[serde(default)]
    pub metric_mapping: Vec<MetricRenameConfig>,
}

/// The `proxy` key: checked when the file is read; its credentials never
/// print (`Debug` shows `http://[redacted]@host:port`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct ProxySetting(pub ProxyUrl);

impl TryFrom<String> for ProxySetting {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        ProxyUrl::parse(&text, "proxy").map(ProxySetting).map_err(|e| e.0)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryConfig {
    pub max_attempts: u32,
    pub base_delay_ms: u32,
    pub max_delay_ms: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MappingRowConfig {
    pub source: String,
    pub target: String,
    #[serde(default)]
    pub transforms: Vec<TransformConfig>,
}

/// `"trim"`, or `{ prefix = "ghl-" }`, `{ replace = { from = "_", to = " " } }`...
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum TransformConfig {
    Trim,
    Lowercase,
    Uppercase,
    Slugify,
    Prefix(String),
    Suffix(String),
    Replace { from: String, to: String },
    Truncate(u32),
    Default(String),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricRenameConfig {
    pub source: String,
    pub target: String,
}

impl ConfigFile {
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let file = Self::parse(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(file.anchored(path.parent().unwrap_or(Path::new("."))))
    }

    /// The file, or where and why it is wrong. The message quotes no line
    /// of the file: a `proxy` URL may hold credentials.
    pub fn parse(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e: toml::de::Error| {
            let message = e.message().trim();
            match e.span() {
                Some(span) => format!(
                    "line {}: {message}",
                    text.as_bytes()[..span.start.min(text.len())]
                        .iter()
                        .filter(|b| **b == b'\n')
                        .count()
                        + 1
                ),
                None => message.to_string(),
            }
        })
    }

    /// Relative paths in the file (`ca_cert`) made relative to `dir`, the
    /// file's folder.
    pub fn anchored(mut self, dir: &Path) -> Self {
        self.ca_cert = self.ca_cert.map(|p| if p.is_relative() { dir.join(p) } else { p });
        self
    }

    /// The network settings; `--ca-cert` wins over `ca_cert`.
    pub fn network(&self, ca_cert_flag: Option<&Path>) -> NetworkConfig {
        NetworkConfig {
            ca_cert: self.ca_cert.clone(),
            proxy: self.proxy.as_ref().map(|p| p.0.clone()),
            no_proxy: self.no_proxy.clone(),
        }
        .with_ca_cert(ca_cert_flag)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_file() {
        let c = ConfigFile::parse(
            r#"
            page_size = 50
            [retry]
            max_attempts = 3
            base_delay_ms = 100
            max_delay_ms = 1000
            [[tag_mapping]]
            source = "tag"
            target = "name"
            transforms = ["trim", { truncate = 100 }, { replace = { from = "_", to = " " } }, { default = "untitled" }]
            [[metric_mapping]]
            source = "totals.likes"
            target = "likes_7d"
            "#,
        )
        .unwrap();
        assert_eq!(c.page_size, Some(50));
        assert_eq!(c.tag_mapping[0].transforms.len(), 4);
        assert!(matches!(c.tag_mapping[0].transforms[1], TransformConfig::Truncate(100)));
        assert_eq!(c.metric_mapping[0].target, "likes_7d");
    }

    #[test]
    fn network_keys_are_checked_anchored_and_redacted() {
        let c = ConfigFile::parse(
            "ca_cert = \"certs/corp.pem\"\nproxy = \"http://alice:pw-123@proxy.corp:3128\"\nno_proxy = \".corp\"",
        )
        .unwrap()
        .anchored(Path::new("/etc/ghl-rankr"));
        let n = c.network(None);
        assert_eq!(n.ca_cert.as_deref(), Some(Path::new("/etc/ghl-rankr/certs/corp.pem")));
        assert_eq!(n.no_proxy.as_deref(), Some(".corp"));
        assert!(!format!("{c:?} {n:?}").contains("pw-123"), "{c:?}");
        let n = c.network(Some(Path::new("flag.pem")));
        assert_eq!(n.ca_cert.as_deref(), Some(Path::new("flag.pem")), "the flag wins");
        let e = ConfigFile::parse("proxy = \"socks5://bob:pw-456@p:1080\"").unwrap_err();
        assert!(e.contains("socks5") && !e.contains("pw-456"), "{e}");
    }

    #[test]
    fn typos_are_refused() {
        let e = ConfigFile::parse("page_sise = 5").unwrap_err();
        assert!(e.contains("page_sise"), "{e}");
        let e = ConfigFile::parse("[[tag_mapping]]\nsource='tag'\ntarget='name'\ntransforms=['trimm']").unwrap_err();
        assert!(e.contains("trimm"), "{e}");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

        /// Any text is a settings file or a message saying what is wrong
        /// (mirrors the `config_file` fuzz target).
        #[test]
        fn any_text_parses_or_says_why(text in "(page_size|dry_run|retry|tag_mapping|source|target|transforms|trim|\\[|\\]|=|\"|\n| |[a-z0-9_.{}]){0,80}") {
            if let Err(e) = ConfigFile::parse(&text) {
                proptest::prop_assert!(!e.is_empty());
            }
        }

        #[test]
        fn any_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
            let _ = ConfigFile::parse(&String::from_utf8_lossy(&bytes));
        }
    }
}
