//! Settings as given (mirroring WIT `settings`) and as checked. Everything is
//! checked before the first request, and each error says what to fix.

use crate::auth::Credential;
use crate::client::retry::RetryPolicy;
use crate::client::Auth;
use crate::ghl::Ghl;
use crate::mapping::{MappingRow, TagMapping};
use crate::rankr::Rankr;
use crate::secret::Secret;
use crate::stats::MetricRenames;

/// Settings as the host gives them.
#[derive(Debug, Clone, Default)]
pub struct SettingsInput {
    pub ghl_base_url: String,
    pub ghl_credential: Credential,
    pub rankr_base_url: String,
    pub rankr_api_key: Secret,
    pub page_size: Option<u32>,
    pub tag_mapping: Vec<MappingRow>,
    pub metric_mapping: Vec<(String, String)>,
    pub dry_run: bool,
    pub request_timeout_ms: Option<u32>,
    pub retry: Option<RetryPolicy>,
    pub deadline_ms: Option<u64>,
    pub full_refresh: bool,
    /// `tag-sync` reads every page even when the post's tag ids are known.
    pub full_pass: bool,
    pub archive_missing: bool,
    pub max_in_flight: Option<u32>,
}

/// Checked settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub ghl_base_url: String,
    pub ghl_credential: Credential,
    pub rankr_base_url: String,
    pub rankr_api_key: Secret,
    pub page_size: u32,
    pub tag_mapping: TagMapping,
    pub metric_renames: MetricRenames,
    pub dry_run: bool,
    pub request_timeout_ms: u32,
    pub retry: RetryPolicy,
    pub deadline_ms: u64,
    pub full_refresh: bool,
    pub full_pass: bool,
    pub archive_missing: bool,
    /// Requests sent at once (GHL pages within the rate budget, Rankr batches).
    pub max_in_flight: usize,
}

/// Default tags per GHL page.
pub const DEFAULT_PAGE_SIZE: u32 = 100;
/// Largest page the connector asks for.
pub const MAX_PAGE_SIZE: u32 = 1000;
/// Default per-request timeout.
pub const DEFAULT_TIMEOUT_MS: u32 = 30_000;
/// Default requests in flight at once.
pub const DEFAULT_MAX_IN_FLIGHT: u32 = 16;
/// Most requests in flight at once.
pub const MAX_IN_FLIGHT: u32 = 64;
/// Time budget of a whole operation when the settings give none: 15
/// minutes (the WIT says so too).
pub const DEFAULT_DEADLINE_MS: u64 = 15 * 60 * 1000;

impl Settings {
    /// The GHL client these settings describe.
    pub fn ghl(&self) -> Ghl<'_> {
        Ghl {
            base: &self.ghl_base_url,
            timeout_ms: self.request_timeout_ms,
        }
    }

    /// The Rankr client these settings describe.
    pub fn rankr(&self) -> Rankr<'_> {
        Rankr {
            base: &self.rankr_base_url,
            timeout_ms: self.request_timeout_ms,
        }
    }

    /// The credentials the exchange sends with.
    pub fn auth(&self) -> Auth {
        Auth {
            ghl_base: self.ghl_base_url.clone(),
            credential: self.ghl_credential.clone(),
            rankr_key: self.rankr_api_key.clone(),
            timeout_ms: self.request_timeout_ms,
        }
    }
}

impl SettingsInput {
    /// Checks everything; the error is the `invalid-config` message.
    pub fn check(&self) -> Result<Settings, String> {
        let ghl_base_url = check_base_url("ghl-base-url", &self.ghl_base_url)?;
        let rankr_base_url = check_base_url("rankr-base-url", &self.rankr_base_url)?;
        self.ghl_credential.check()?;
        crate::auth::check_secret("the rankr-api-key", &self.rankr_api_key)?;
        let page_size = self.page_size.unwrap_or(DEFAULT_PAGE_SIZE);
        if !(1..=MAX_PAGE_SIZE).contains(&page_size) {
            return Err(format!("page-size is {page_size}; use 1 to {MAX_PAGE_SIZE}"));
        }
        let request_timeout_ms = self.request_timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS);
        if request_timeout_ms < 100 {
            return Err(format!("request-timeout-ms is {request_timeout_ms}; use at least 100"));
        }
        let retry = self.retry.unwrap_or_default();
        retry.check()?;
        let deadline_ms = self.deadline_ms.unwrap_or(DEFAULT_DEADLINE_MS);
        if deadline_ms < 1000 {
            return Err(format!("deadline-ms is {deadline_ms}; use at least 1000"));
        }
        let max_in_flight = self.max_in_flight.unwrap_or(DEFAULT_MAX_IN_FLIGHT);
        if !(1..=MAX_IN_FLIGHT).contains(&max_in_flight) {
            return Err(format!(
                "max-in-flight is {max_in_flight}; use 1 (one request at a time) to {MAX_IN_FLIGHT}"
            ));
        }
        Ok(Settings {
            ghl_base_url,
            ghl_credential: self.ghl_credential.clone(),
            rankr_base_url,
            rankr_api_key: self.rankr_api_key.clone(),
            page_size,
            tag_mapping: TagMapping::compile(&self.tag_mapping)?,
            metric_renames: MetricRenames::compile(&self.metric_mapping)?,
            dry_run: self.dry_run,
            request_timeout_ms,
            retry,
            deadline_ms,
            full_refresh: self.full_refresh,
            full_pass: self.full_pass,
            archive_missing: self.archive_missing,
            max_in_flight: max_in_flight as usize,
        })
    }
}

/// `https://host[:port][/prefix]`, or `http://` for loopback hosts only (the
/// demo and tests); no user info, query or fragment. Returned without a
/// trailing slash.
pub fn check_base_url(name: &str, url: &str) -> Result<String, String> {
    let url = url.trim();
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| format!("{name} `{url}` is not an absolute URL; write e.g. https://api.example.com"))?;
    let authority = rest.split('/').next().unwrap_or("");
    if authority.is_empty() {
        return Err(format!("{name} `{url}` has no host"));
    }
    if authority.contains('@') {
        return Err(format!(
            "{name} must not carry user info (`user@`); credentials go in the environment"
        ));
    }
    if rest.contains('?') || rest.contains('#') {
        return Err(format!("{name} `{url}` must not have a query or fragment"));
    }
    let host = host_of(authority);
    match scheme.to_ascii_lowercase().as_str() {
        "https" => {}
        "http" if is_loopback(host) => {}
        "http" => {
            return Err(format!(
                "{name} `{url}` must use https (plain http is for loopback hosts only)"
            ))
        }
        other => return Err(format!("{name} `{url}` has scheme `{other}`; use https")),
    }
    Ok(url.trim_end_matches('/').to_string())
}

fn host_of(authority: &str) -> &str {
    if let Some(rest) = authority.strip_prefix('[') {
        return rest.split(']').next().unwrap_or("");
    }
    authority.rsplit_once(':').map(|(h, _)| h).unwrap_or(authority)
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host == "::1"
        || host.parse::<std::net::Ipv4Addr>().is_ok_and(|ip| ip.is_loopback())
}

/// An id that goes into a path or query: not empty, not `.`/`..`, no control
/// characters, at most 256 characters.
pub fn check_id(what: &str, id: &str) -> Result<(), String> {
    if id.is_empty() {
        return Err(format!("{what} is empty"));
    }
    if id == "." || id == ".." {
        return Err(format!("{what} `{id}` is not an id"));
    }
    if id.chars().count() > 256 || id.chars().any(char::is_control) {
        return Err(format!(
            "{what} must be at most 256 characters without control characters"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> SettingsInput {
        SettingsInput {
            ghl_base_url: "https://services.leadconnectorhq.com/".into(),
            ghl_credential: Credential::ApiKey(Secret::new("tok")),
            rankr_base_url: "http://127.0.0.1:8080".into(),
            rankr_api_key: Secret::new("key"),
            ..Default::default()
        }
    }

    #[test]
    fn defaults() {
        let s = input().check().unwrap();
        assert_eq!(s.ghl_base_url, "https://services.leadconnectorhq.com");
        assert_eq!(s.page_size, 100);
        assert_eq!(s.request_timeout_ms, 30_000);
        assert_eq!(
            s.deadline_ms,
            15 * 60 * 1000,
            "no deadline given: 15 minutes, as the WIT says"
        );
    }

    #[test]
    fn refusals_say_what_to_fix() {
        let mut i = input();
        i.ghl_base_url = "http://example.com".into();
        assert!(i.check().unwrap_err().contains("must use https"));
        i.ghl_base_url = "ftp://x".into();
        assert!(i.check().unwrap_err().contains("scheme `ftp`"));
        i.ghl_base_url = "https://u:p@x".into();
        assert!(i.check().unwrap_err().contains("user info"));
        i.ghl_base_url = "services.leadconnectorhq.com".into();
        assert!(i.check().unwrap_err().contains("not an absolute URL"));
        let mut i = input();
        i.ghl_credential = Credential::ApiKey(Secret::new(""));
        let e = i.check().unwrap_err();
        assert!(e.contains("GHL api-key is empty") && !e.contains("GHL_"), "{e}");
        let mut i = input();
        i.rankr_api_key = Secret::new(" ");
        let e = i.check().unwrap_err();
        assert!(e.contains("rankr-api-key is empty") && !e.contains("RANKR_"), "{e}");
        let mut i = input();
        i.page_size = Some(0);
        assert!(i.check().unwrap_err().contains("page-size"));
        assert!(check_id("location-id", "..").is_err());
        assert!(check_id("location-id", "x/../../v1").is_ok());
        assert!(check_base_url("x", "http://[::1]:80").is_ok());
        assert!(check_base_url("x", "http://localhost:80/").is_ok());
    }
}
