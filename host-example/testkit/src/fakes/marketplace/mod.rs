//! A fake HighLevel marketplace for the agency install, on one loopback
//! server: the consent page (`GET /v2/oauth/chooselocation`), the OAuth
//! endpoints of `spec/oauth.json` (`POST /oauth/token` with the code and
//! refresh grants, `GET /oauth/installedLocations`, `POST
//! /oauth/locationToken`), the Social Planner of every sub-account, and a
//! signer of INSTALL / UNINSTALL webhooks ([`SignedWebhook`]).
//!
//! Invariants the tests lean on:
//! - every `/oauth/*` request is checked against the official OAuth spec
//!   first; one it would not accept is answered 422 and kept in
//!   [`MarketplaceState::refusals`], as is a malformed consent request;
//! - codes are single-use and expire; refresh tokens rotate, and a spent one
//!   sent again is kept in [`MarketplaceState::spent_reused`];
//! - a sub-account token admits Social Planner calls for its own location
//!   only, until it expires; each location's calls go through that
//!   location's [`GhlState`] (`ghl::handle`), so its spec checks, rate
//!   limits and faults apply per location.

mod client;
mod errors;
mod oauth;
mod route;
mod webhook;

#[cfg(test)]
mod tests;

pub use client::{consent_redirect, send_webhook, send_webhook_with, WebhookReply};
pub use errors::MarketplaceError;
pub use route::{handle, MarketplaceFake, MarketplaceSpecs};
pub use webhook::{SignedWebhook, WebhookKeys, GHL_SIGNATURE, TEST_KEYS_DIR, WH_SIGNATURE};

use super::ghl::{AdmittedToken, GhlState};
use super::server::FakeRequest;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};

/// The client id of the fake app, in GHL's form `<appId>-<suffix>`.
pub const DEMO_CLIENT_ID: &str = "6501f2c3a1b2c3d4e5f60718-lmn0opqr";
pub const DEMO_CLIENT_SECRET: &str = "fake-client-secret-4b1c";
pub const DEMO_COMPANY_ID: &str = "agencyCo7hQm2LXpyiqY";

/// A day less a second, as GHL answers `expires_in`.
pub const TOKEN_TTL_SECS: u64 = 86_399;

/// Who the admin consents as at the consent page, and so what the code is
/// worth at `POST /oauth/token`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Consent {
    /// The agency: the code is worth an agency (Company) token.
    #[default]
    Company,
    /// One sub-account: the code is worth that location's token, and the
    /// app is then installed there.
    Location(String),
    /// The admin refuses: the redirect carries `error=access_denied`.
    Deny,
}

/// GHL's `user_type` / `userType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum UserType {
    Company,
    Location,
}

/// What a token or a code stands for.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Subject {
    /// The agency, by company id.
    Company(String),
    /// A sub-account, by location id.
    Location(String),
}

impl Subject {
    pub fn user_type(&self) -> UserType {
        match self {
            Subject::Company(_) => UserType::Company,
            Subject::Location(_) => UserType::Location,
        }
    }
}

/// Whether `POST /oauth/locationToken` answers a refresh token too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LocationRefresh {
    /// As `oauth.json` has it: an access token only; a host exchanges again
    /// from the agency token when it expires.
    #[default]
    None,
    /// As `oauth-v3.json` names it: a `refresh_token` too, which rotates at
    /// `POST /oauth/token` with `user_type=Location`.
    Rotating,
}

/// A code the consent page issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthCode {
    /// The `redirect_uri` it was issued for: the exchange must send the same.
    pub redirect_uri: String,
    pub subject: Subject,
    pub scope: String,
    pub expires_at_ms: u64,
    /// Exchanged already: a code is worth one token.
    pub used: bool,
}

/// An access token the marketplace issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessGrant {
    pub subject: Subject,
    /// Space-separated, as answered.
    pub scope: String,
    pub expires_at_ms: u64,
}

/// A refresh token that works now (a spent one is in
/// [`MarketplaceState::spent`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshGrant {
    pub subject: Subject,
    pub scope: String,
}

/// A sub-account of the agency.
#[derive(Debug, Clone)]
pub struct AgencyLocation {
    pub name: String,
    pub address: String,
    /// Whether the app is installed there (`isInstalled`).
    pub installed: bool,
    /// `installedAt`, when installed.
    pub installed_at_ms: u64,
    /// Its Social Planner; `ghl.location_id` is the location's id.
    pub ghl: GhlState,
}

/// When the seeded locations were installed: 2024-01-15T10:30:00Z.
pub const SEEDED_INSTALL_MS: u64 = 1_705_314_600_000;

impl AgencyLocation {
    /// Location `id` with `tags` seeded tags ([`GhlState::seeded`]; its
    /// Private Integration Token is `pit-<id>`), installed or not.
    pub fn seeded(id: &str, name: &str, tags: usize, installed: bool) -> Self {
        AgencyLocation {
            name: name.into(),
            address: format!("{} Main St, Springfield", 10 + name.len()),
            installed,
            installed_at_ms: SEEDED_INSTALL_MS,
            ghl: GhlState::seeded(&format!("pit-{id}"), id, tags),
        }
    }
}

/// What the fake marketplace holds and has seen.
#[derive(Debug, Clone)]
pub struct MarketplaceState {
    /// `<appId>-<suffix>`.
    pub client_id: String,
    pub client_secret: String,
    /// The agency.
    pub company_id: String,
    pub company_name: String,
    /// The admin who installs (`userId`).
    pub user_id: String,
    pub locations: BTreeMap<String, AgencyLocation>,
    /// What the next consent is given as.
    pub consent_as: Consent,
    /// `installToFutureLocations`, as the admin chose it.
    pub install_to_future_locations: bool,
    /// `expires_in` of the agency's access tokens.
    pub access_ttl_secs: u64,
    /// `expires_in` of every sub-account access token: from
    /// `POST /oauth/locationToken`, a location's consent, or a refresh.
    pub location_token_ttl_secs: u64,
    /// How long a code may wait for its exchange.
    pub code_ttl_secs: u64,
    pub location_refresh: LocationRefresh,
    /// Most locations one page of `installedLocations` returns.
    pub max_page: usize,
    pub codes: BTreeMap<String, AuthCode>,
    /// Every access token issued that has not been revoked (expired ones
    /// too: the grant says when).
    pub access: BTreeMap<String, AccessGrant>,
    /// The refresh tokens that work now.
    pub refresh: BTreeMap<String, RefreshGrant>,
    /// Refresh tokens already exchanged.
    pub spent: BTreeSet<String>,
    /// Spent refresh tokens sent again: must stay empty.
    pub spent_reused: Vec<String>,
    /// Codes sent again after their exchange.
    pub codes_reused: Vec<String>,
    /// `POST /oauth/locationToken` calls by location, refused ones too.
    pub location_token_calls: BTreeMap<String, u32>,
    /// Codes exchanged and refresh tokens rotated.
    pub code_exchanges: u32,
    pub refreshes: u32,
    /// Requests refused for not matching the spec (or, at the consent
    /// page, the documented query), with why: must stay empty.
    pub refusals: Vec<String>,
    /// Requests to the consent page and `/oauth/*`, and Social Planner
    /// requests refused before their location saw them (each location's
    /// own are in its `ghl.requests`).
    pub requests: Vec<FakeRequest>,
    /// The keys webhooks are signed with.
    pub webhook_keys: WebhookKeys,
}

impl MarketplaceState {
    /// An agency with no sub-accounts yet, and the fixed test keys.
    pub fn new(client_id: &str, client_secret: &str, company_id: &str) -> Self {
        MarketplaceState {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            company_id: company_id.into(),
            company_name: "Example Agency".into(),
            user_id: "agencyAdmin00000001".into(),
            locations: BTreeMap::new(),
            consent_as: Consent::Company,
            install_to_future_locations: false,
            access_ttl_secs: TOKEN_TTL_SECS,
            location_token_ttl_secs: TOKEN_TTL_SECS,
            code_ttl_secs: 600,
            location_refresh: LocationRefresh::None,
            max_page: 100,
            codes: BTreeMap::new(),
            access: BTreeMap::new(),
            refresh: BTreeMap::new(),
            spent: BTreeSet::new(),
            spent_reused: Vec::new(),
            codes_reused: Vec::new(),
            location_token_calls: BTreeMap::new(),
            code_exchanges: 0,
            refreshes: 0,
            refusals: Vec::new(),
            requests: Vec::new(),
            webhook_keys: WebhookKeys::test(),
        }
    }

    /// The demo app and agency with `locations` sub-accounts
    /// (`loc00`, `loc01`, …, named "Sub-account 0", …), each with `tags`
    /// tags; the first `installed` of them have the app installed.
    pub fn seeded(locations: usize, tags: usize, installed: usize) -> Self {
        let mut s = Self::new(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_COMPANY_ID);
        for i in 0..locations {
            s.add_location(AgencyLocation::seeded(
                &format!("loc{i:02}"),
                &format!("Sub-account {i}"),
                tags,
                i < installed,
            ));
        }
        s
    }

    /// The app id: the client id's part before `-`, as GHL's SDK takes it.
    pub fn app_id(&self) -> &str {
        self.client_id.split('-').next().unwrap_or("")
    }

    /// Adds (or replaces) a sub-account, keyed by `location.ghl.location_id`.
    pub fn add_location(&mut self, location: AgencyLocation) {
        self.locations.insert(location.ghl.location_id.clone(), location);
    }

    /// The app is installed on `location` at `now_ms`; false when there is
    /// no such location.
    pub fn install(&mut self, location: &str, now_ms: u64) -> bool {
        match self.locations.get_mut(location) {
            Some(l) => {
                if !l.installed {
                    l.installed = true;
                    l.installed_at_ms = now_ms;
                }
                true
            }
            None => false,
        }
    }

    /// The app is uninstalled from `location`: its tokens, access and
    /// refresh, stop working. False when there is no such location.
    pub fn uninstall(&mut self, location: &str) -> bool {
        let Some(l) = self.locations.get_mut(location) else {
            return false;
        };
        l.installed = false;
        l.ghl.admitted_tokens.clear();
        let gone = Subject::Location(location.to_string());
        self.access.retain(|_, g| g.subject != gone);
        self.refresh.retain(|_, g| g.subject != gone);
        true
    }

    /// The app is uninstalled from the agency: from every location, and the
    /// agency's own tokens stop working.
    pub fn uninstall_agency(&mut self) {
        let ids: Vec<String> = self.locations.keys().cloned().collect();
        for id in ids {
            self.uninstall(&id);
        }
        self.access.clear();
        self.refresh.clear();
    }

    /// Every sub-account access token dies now (refresh tokens keep
    /// working): the next Social Planner call with one is a 401.
    pub fn expire_location_tokens(&mut self) {
        self.access.retain(|_, g| g.subject.user_type() != UserType::Location);
        for l in self.locations.values_mut() {
            l.ghl.admitted_tokens.clear();
        }
    }

    /// Every agency access token dies now (its refresh token keeps working).
    pub fn expire_agency_tokens(&mut self) {
        self.access.retain(|_, g| g.subject.user_type() != UserType::Company);
    }

    /// The sub-account access tokens issued for `location` that work at
    /// `now_ms`.
    pub fn location_tokens(&self, location: &str, now_ms: u64) -> Vec<&str> {
        self.locations
            .get(location)
            .map(|l| {
                l.ghl
                    .admitted_tokens
                    .iter()
                    .filter(|t| now_ms < t.expires_at_ms)
                    .map(|t| t.token.as_str())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The consent page's URL at `origin` for this app, as the docs'
    /// template writes it, with `state` when given.
    pub fn authorize_url(&self, origin: &str, redirect_uri: &str, scope: &str, state: Option<&str>) -> String {
        let mut url = format!(
            "{origin}/v2/oauth/chooselocation?response_type=code&redirect_uri={}&client_id={}&scope={}",
            encode(redirect_uri),
            encode(&self.client_id),
            encode(scope)
        );
        if let Some(state) = state {
            url.push_str(&format!("&state={}", encode(state)));
        }
        url
    }

    /// Issues an access token for `subject`; a sub-account's is admitted by
    /// its location's Social Planner until it expires, within its scope.
    fn issue_access(&mut self, subject: &Subject, scope: &str, ttl_secs: u64, now_ms: u64) -> String {
        let kind = match subject {
            Subject::Company(_) => "agency-access",
            Subject::Location(_) => "location-access",
        };
        let token = mint(kind, now_ms);
        let expires_at_ms = expiry(now_ms, ttl_secs);
        if let Subject::Location(id) = subject {
            if let Some(l) = self.locations.get_mut(id) {
                l.ghl.admitted_tokens.retain(|t| now_ms < t.expires_at_ms);
                l.ghl.admitted_tokens.push(AdmittedToken {
                    token: token.clone(),
                    expires_at_ms,
                    scopes: Some(scope.split_whitespace().map(str::to_string).collect()),
                });
            }
        }
        self.access.insert(
            token.clone(),
            AccessGrant {
                subject: subject.clone(),
                scope: scope.to_string(),
                expires_at_ms,
            },
        );
        token
    }

    /// Issues a refresh token for `subject`.
    fn issue_refresh(&mut self, subject: &Subject, scope: &str, now_ms: u64) -> String {
        let kind = match subject {
            Subject::Company(_) => "agency-refresh",
            Subject::Location(_) => "location-refresh",
        };
        let token = mint(kind, now_ms);
        self.refresh.insert(
            token.clone(),
            RefreshGrant {
                subject: subject.clone(),
                scope: scope.to_string(),
            },
        );
        token
    }

    /// The grant of a Bearer token that works at `now_ms`.
    fn bearer(&self, req: &FakeRequest, now_ms: u64) -> Option<&AccessGrant> {
        let presented = req.header("authorization")?.strip_prefix("Bearer ")?;
        self.access.get(presented).filter(|g| now_ms < g.expires_at_ms)
    }
}

/// A new opaque value (`<kind>-<n>-<time>`) for a token or a code: the
/// count is the process's, so no two fakes of one test binary mint the same
/// one, and the time tells processes apart.
fn mint(kind: &str, now_ms: u64) -> String {
    static MINTED: AtomicU64 = AtomicU64::new(0);
    let n = MINTED.fetch_add(1, Ordering::Relaxed) + 1;
    format!("{kind}-{n:04}-{now_ms:x}")
}

/// When something living `ttl_secs` from `now_ms` expires (a huge TTL is
/// "never", not an overflow).
fn expiry(now_ms: u64, ttl_secs: u64) -> u64 {
    now_ms.saturating_add(ttl_secs.saturating_mul(1000))
}

/// Percent-encodes a query value (everything but RFC 3986's unreserved).
fn encode(value: &str) -> String {
    const QUERY_VALUE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(value, QUERY_VALUE).to_string()
}
