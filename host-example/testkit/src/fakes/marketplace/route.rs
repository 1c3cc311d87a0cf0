//! Routing: the consent page and `/oauth/*` to the marketplace's own
//! handlers, each Social Planner request to its location's
//! [`GhlState`](crate::fakes::ghl::GhlState);
//! and the running fake on loopback.

use super::errors::MarketplaceError;
use super::{oauth, MarketplaceState, SignedWebhook, Subject};
use crate::fakes::ghl::{self, wall_ms};
use crate::fakes::openapi::{split_url, OpenApi};
use crate::fakes::server::{FakeRequest, FakeServer, Outcome};
use std::sync::{Arc, Mutex, MutexGuard};

/// The specs the marketplace checks requests against.
pub struct MarketplaceSpecs {
    /// `spec/oauth.json`: every `/oauth/*` request.
    pub oauth: OpenApi,
    /// The Social Planner spec, for each location's `ghl::handle`.
    pub ghl: OpenApi,
}

impl MarketplaceSpecs {
    /// The official files bundled in the testkit.
    pub fn official() -> Self {
        MarketplaceSpecs {
            oauth: OpenApi::oauth(),
            ghl: OpenApi::ghl(),
        }
    }
}

/// Handles one request at `now_ms` (wall time over HTTP, any time in unit
/// tests).
pub fn handle(specs: &MarketplaceSpecs, s: &mut MarketplaceState, req: &FakeRequest, now_ms: u64) -> Outcome {
    let (path, query) = split_url(&req.url);
    if path.starts_with("/social-media-posting/") {
        return social_planner(specs, s, req, &path, &query, now_ms);
    }
    s.requests.push(req.clone());
    let answer = if path == "/v2/oauth/chooselocation" && req.method == "GET" {
        oauth::choose_location(s, &query, now_ms)
    } else if path.starts_with("/oauth/") {
        oauth::handle(&specs.oauth, s, req, &path, &query, now_ms)
    } else {
        Err(MarketplaceError::NoRoute(format!("{} {path}", req.method)))
    };
    match answer {
        Ok(resp) => resp.into(),
        Err(e) => {
            if let Some(why) = e.refusal() {
                s.refusals.push(format!("{} {path}: {why}", req.method));
            }
            e.response().into()
        }
    }
}

/// A Social Planner request: to its location's `GhlState`, unless the
/// token belongs elsewhere (another location's: 403, the agency's: 401), as
/// GHL answers a token used where it has no access.
fn social_planner(
    specs: &MarketplaceSpecs,
    s: &mut MarketplaceState,
    req: &FakeRequest,
    path: &str,
    query: &[(String, String)],
    now_ms: u64,
) -> Outcome {
    let owner = s.bearer(req, now_ms).map(|g| g.subject.clone());
    let routed = match (path_location(path, query), owner) {
        (_, Some(Subject::Company(_))) => Err(MarketplaceError::WrongTokenType),
        (Some(target), Some(Subject::Location(own))) if target != own => Err(MarketplaceError::WrongLocation),
        (Some(target), _) if s.locations.contains_key(&target) => Ok(target),
        // No location named (`statistics` without `locationId`): the
        // token's own location answers, and its spec check says what is
        // missing.
        (None, Some(Subject::Location(own))) => Ok(own),
        (_, Some(_)) => Err(MarketplaceError::WrongLocation),
        (_, None) => Err(MarketplaceError::InvalidToken),
    };
    match routed.and_then(|id| s.locations.get_mut(&id).ok_or(MarketplaceError::WrongLocation)) {
        Ok(l) => ghl::handle(&specs.ghl, &mut l.ghl, req, now_ms),
        Err(e) => {
            s.requests.push(req.clone());
            e.response().into()
        }
    }
}

/// The location a Social Planner path names: its third segment, or the
/// `locationId` query parameter for `statistics`.
fn path_location(path: &str, query: &[(String, String)]) -> Option<String> {
    let segment = path.trim_start_matches('/').split('/').nth(1)?;
    if segment == "statistics" {
        return query.iter().find(|(k, _)| k == "locationId").map(|(_, v)| v.clone());
    }
    Some(crate::fakes::openapi::percent_decode(segment)).filter(|s| !s.is_empty())
}

/// A running fake marketplace: the consent page, the OAuth API and the
/// Social Planner of every location, at one origin.
pub struct MarketplaceFake {
    pub state: Arc<Mutex<MarketplaceState>>,
    pub server: FakeServer,
}

impl MarketplaceFake {
    /// Serves plain HTTP on 127.0.0.1 (an ephemeral port), on wall time.
    pub fn start(state: MarketplaceState) -> std::io::Result<Self> {
        Self::start_with(state, None)
    }

    /// The same, over HTTPS with `tls` when given.
    pub fn start_with(state: MarketplaceState, tls: Option<Arc<rustls::ServerConfig>>) -> std::io::Result<Self> {
        let state = Arc::new(Mutex::new(state));
        let shared = state.clone();
        let specs = MarketplaceSpecs::official();
        let server = FakeServer::start_with(tls, move |req| {
            let mut s = shared.lock().unwrap_or_else(|p| p.into_inner());
            handle(&specs, &mut s, &req, wall_ms())
        })?;
        Ok(MarketplaceFake { state, server })
    }

    /// The API origin (`http://127.0.0.1:PORT`), GHL's
    /// `services.leadconnectorhq.com`.
    pub fn base_url(&self) -> &str {
        &self.server.base_url
    }

    /// The consent page's origin, GHL's `marketplace.gohighlevel.com`: the
    /// same server.
    pub fn marketplace_url(&self) -> &str {
        &self.server.base_url
    }

    /// The consent page's URL for this app ([`MarketplaceState::authorize_url`]).
    pub fn authorize_url(&self, redirect_uri: &str, scope: &str, state: Option<&str>) -> String {
        self.lock()
            .authorize_url(self.marketplace_url(), redirect_uri, scope, state)
    }

    /// The state, for a test to read or change (a poisoned lock is taken
    /// over: the fake's state stays readable after a test thread panicked).
    /// Every request waits for it: release it before the service under test
    /// is to call the fake.
    pub fn lock(&self) -> MutexGuard<'_, MarketplaceState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A webhook signed now, its payload made from the state (`|s|
    /// s.install_event("loc00")`); the lock is released on return, so the
    /// receiver may call the fake while it handles the webhook.
    pub fn signed(&self, event: impl FnOnce(&MarketplaceState) -> serde_json::Value) -> SignedWebhook {
        let s = self.lock();
        s.webhook(event(&s))
    }
}
