//! `check`: a connection test that writes nothing. For the operations
//! asked, it sends the smallest read that proves each access they need,
//! once each (no retries: a check reports what happens), and says for each
//! what came of it and what to do about it.
//!
//! - A scope the OAuth token says it lacks is reported without a request.
//! - Otherwise the answer decides: a 401 or 403 that speaks of scopes is a
//!   missing scope (GHL answers a Private Integration Token without it
//!   `401 The token is not authorized for this scope.`), another 401 a
//!   refused credential; a 403 or 404 naming the location, or a 400 or 422
//!   on it, an unknown location.
//! - An OAuth access token that is missing or expiring is refreshed first
//!   (its own item): that is how the refresh token is proved. The new pair
//!   goes to the host's store before it is used, as in every operation.
//!
//! Only reads are sent: GETs, and GHL's two POST reads (`posts/list`,
//! `statistics`). Nothing is ever written to Rankr.

use super::operation::Operation;
use super::poll::CLOCK_SKEW_MS;
use super::{id, Origin, Run};
use crate::auth::{refresh, Credential, Scope};
use crate::client::exchange::Sent;
use crate::ghl::model::{Account, StatisticsEnvelope};
use crate::ghl::{self, PostsOf, EP_ACCOUNTS, EP_POSTS, EP_STATISTICS, EP_TAGS};
use crate::instant;
use crate::io::{Host, Level, Request, Response, TransportKind};
use crate::json::{self, Unreadable};
use crate::rankr::model::DataList;
use crate::rankr::{EP_LIST_METRICS, EP_LIST_TAGS};
use crate::report::{Service, SyncError, SyncFailure};
use crate::secret::OAuthTokens;
use crate::settings::{check_id, SettingsInput};
use crate::stats::metric::Metric;

/// The operations a check proves access for, in the catalog's order.
pub const CHECKABLE: [Operation; 5] = [
    Operation::TagSync,
    Operation::TagDetailsPush,
    Operation::StatsSync,
    Operation::NewPosts,
    Operation::PostsPublished,
];

/// How far back the `posts/list` probe looks: a short window keeps its
/// answer small.
const POSTS_PROBE_MS: u64 = 60 * 60 * 1000;

/// What to prove access for.
#[derive(Debug, Clone, Default)]
pub struct CheckRequest {
    pub location_id: String,
    /// By catalog name; empty = every operation in [`CHECKABLE`].
    pub operations: Vec<String>,
    /// `stats-sync`'s dashboard, to prove Rankr has it.
    pub dashboard_id: Option<String>,
}

/// What one item proves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    /// The OAuth refresh token (refreshed because the access token was
    /// missing or expiring).
    GhlCredential,
    GhlTags,
    GhlPosts,
    GhlAccounts,
    GhlStatistics,
    RankrKey,
    RankrDashboard,
}

impl Probe {
    /// The item's `what`.
    pub fn name(self) -> &'static str {
        match self {
            Probe::GhlCredential => "ghl-credential",
            Probe::GhlTags => "ghl-tags",
            Probe::GhlPosts => "ghl-posts",
            Probe::GhlAccounts => "ghl-accounts",
            Probe::GhlStatistics => "ghl-statistics",
            Probe::RankrKey => "rankr-key",
            Probe::RankrDashboard => "rankr-dashboard",
        }
    }

    pub fn service(self) -> Service {
        match self {
            Probe::RankrKey | Probe::RankrDashboard => Service::Rankr,
            _ => Service::Ghl,
        }
    }

    /// The GHL scope the probe's endpoint needs.
    fn scope(self) -> Option<Scope> {
        match self {
            Probe::GhlTags => Some(Scope::TagRead),
            Probe::GhlPosts => Some(Scope::PostRead),
            Probe::GhlAccounts => Some(Scope::AccountRead),
            Probe::GhlStatistics => Some(Scope::StatisticsRead),
            Probe::GhlCredential | Probe::RankrKey | Probe::RankrDashboard => None,
        }
    }

    /// Whether `op` needs what the probe proves: the reads it makes, and
    /// the Rankr key for every operation (a trigger's posts go on to
    /// `tag-sync`).
    fn needed_by(self, op: Operation, dashboard: bool) -> bool {
        use Operation::*;
        match self {
            Probe::GhlCredential | Probe::RankrKey => true,
            Probe::GhlTags => matches!(op, TagSync | TagDetailsPush),
            Probe::GhlPosts => matches!(op, TagSync | NewPosts | PostsPublished),
            Probe::GhlAccounts => matches!(op, StatsSync | PostsPublished),
            Probe::GhlStatistics => op == StatsSync,
            Probe::RankrDashboard => op == StatsSync && dashboard,
        }
    }

    /// The base URL setting of the probe's service.
    fn base_url_setting(self) -> &'static str {
        match self.service() {
            Service::Ghl => "ghl-base-url",
            Service::Rankr => "rankr-base-url",
        }
    }
}

/// How one check came out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckOutcome {
    Ok,
    /// Not tried, and why.
    NotChecked(String),
    /// The credential was refused (401); the server's words.
    Unauthorized(String),
    /// A scope the operations need is not granted: its name.
    MissingScope(String),
    /// The credential cannot read this location; the server's words.
    UnknownLocation(String),
    /// Rankr has no such dashboard (404); the server's words.
    UnknownDashboard(String),
    /// No connection (connect, timeout, broken connection); the transport's
    /// words.
    Unreachable(String),
    /// TLS refused the connection; the transport's words, which name the
    /// certificate problem.
    Tls(String),
    /// 429.
    RateLimited(String),
    /// Any other answer or failure.
    Failed(String),
}

impl CheckOutcome {
    /// `ok` and `not-checked` pass; everything else is a failure.
    pub fn passes(&self) -> bool {
        matches!(self, CheckOutcome::Ok | CheckOutcome::NotChecked(_))
    }

    /// The variant's name, for logs.
    pub fn name(&self) -> &'static str {
        match self {
            CheckOutcome::Ok => "ok",
            CheckOutcome::NotChecked(_) => "not-checked",
            CheckOutcome::Unauthorized(_) => "unauthorized",
            CheckOutcome::MissingScope(_) => "missing-scope",
            CheckOutcome::UnknownLocation(_) => "unknown-location",
            CheckOutcome::UnknownDashboard(_) => "unknown-dashboard",
            CheckOutcome::Unreachable(_) => "unreachable",
            CheckOutcome::Tls(_) => "tls",
            CheckOutcome::RateLimited(_) => "rate-limited",
            CheckOutcome::Failed(_) => "failed",
        }
    }
}

/// One check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckItem {
    pub service: Service,
    pub what: Probe,
    /// The endpoint called; empty when decided without a request.
    pub endpoint: String,
    /// The operations it concerns, in the catalog's order.
    pub operations: Vec<Operation>,
    pub outcome: CheckOutcome,
    /// What to do about it; empty when it passed.
    pub fix: String,
    /// The status of the answer, when there was one.
    pub status: Option<u16>,
    /// How long its request took by the host's clock (0 without one).
    pub latency_ms: u64,
}

/// GHL's rate budget as its last answer stated it (`X-RateLimit-*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RateHeadroom {
    pub max: Option<u32>,
    pub remaining: Option<u32>,
    pub interval_ms: Option<u64>,
    pub daily_limit: Option<u32>,
    pub daily_remaining: Option<u32>,
}

/// What a check found.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CheckReport {
    pub items: Vec<CheckItem>,
    /// No item failed.
    pub ok: bool,
    pub rate_limit: Option<RateHeadroom>,
    pub requests: u32,
    pub rotated_tokens: Option<OAuthTokens>,
}

/// Proves access for the operations asked. Fails only on settings or a
/// request that are wrong (`invalid-config`) and on a rotated pair the host
/// could not store (`credential-store`); every other outcome is an item.
pub fn check(host: &mut dyn Host, settings: &SettingsInput, req: &CheckRequest) -> Result<CheckReport, SyncFailure> {
    let asked = operations(req)?;
    let location = req.location_id.as_str();
    let mut checked = settings.check().map_err(SyncError::InvalidConfig)?;
    // One attempt each: a check reports what happens, it does not retry
    // its way past it.
    checked.retry.max_attempts = 1;
    let origin = Origin {
        scope: &[location],
        state: None,
    };
    let mut run = Run::begin(host, checked, "check", origin);
    run.exchange.single_refresh = true;
    let mut checker = Checker {
        run,
        location,
        dashboard: req.dashboard_id.as_deref(),
        asked,
        items: Vec::new(),
        ghl_blocked: None,
        rankr_blocked: None,
    };
    if let Err(e) = checker.all() {
        return Err(checker.run.fail(e, None));
    }
    let Checker { mut run, items, .. } = checker;
    let ok = items.iter().all(|i| i.outcome.passes());
    let rate_limit = run.exchange.rate_stated().map(|b| RateHeadroom {
        max: b.max,
        remaining: b.remaining,
        interval_ms: b.interval_ms,
        daily_limit: b.daily_limit.map(saturate),
        daily_remaining: b.daily_remaining.map(saturate),
    });
    let failed = items.iter().filter(|i| !i.outcome.passes()).count().to_string();
    run.exchange.log(
        Level::Info,
        "check finished",
        &[("ok", if ok { "true" } else { "false" }), ("failed", &failed)],
    );
    let report = run.finish(Vec::new());
    Ok(CheckReport {
        items,
        ok,
        rate_limit,
        requests: report.requests,
        rotated_tokens: report.rotated_tokens,
    })
}

fn saturate(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The operations asked, checked, without repeats, in the catalog's order.
fn operations(req: &CheckRequest) -> Result<Vec<Operation>, SyncError> {
    id("location-id", &req.location_id)?;
    if let Some(d) = &req.dashboard_id {
        id("dashboard-id", d)?;
    }
    let mut asked = Vec::new();
    for name in &req.operations {
        match Operation::from_name(name).filter(|op| CHECKABLE.contains(op)) {
            Some(op) => asked.push(op),
            None => {
                let names: Vec<&str> = CHECKABLE.iter().map(|o| o.name()).collect();
                return Err(SyncError::InvalidConfig(format!(
                    "operations names `{name}`, which check cannot prove access for; use {} (or none for all)",
                    names.join(", ")
                )));
            }
        }
    }
    if asked.is_empty() {
        asked = CHECKABLE.to_vec();
    }
    asked.sort_unstable();
    asked.dedup();
    Ok(asked)
}

/// A check under way.
struct Checker<'h, 'r, H: Host + ?Sized> {
    run: Run<'h, H>,
    location: &'r str,
    dashboard: Option<&'r str>,
    asked: Vec<Operation>,
    items: Vec<CheckItem>,
    /// Why the GHL probes still to run are not tried, once that is known
    /// (the credential cannot be refreshed, GHL cannot be reached).
    ghl_blocked: Option<String>,
    /// The same for Rankr.
    rankr_blocked: Option<String>,
}

impl<H: Host + ?Sized> Checker<'_, '_, H> {
    /// Every probe the operations need, in order. The error is a rotated
    /// pair the host could not store, which ends the check.
    fn all(&mut self) -> Result<(), SyncError> {
        self.credential()?;
        let location = self.location;
        let ghl = self.run.settings.ghl();
        let now = self.run.exchange.host().now_ms();
        let (from, to) = (
            instant::format_ms(now.saturating_sub(POSTS_PROBE_MS)),
            instant::format_ms(now.saturating_add(CLOCK_SKEW_MS)),
        );
        let tags = ghl.tags(location, 0, 1);
        let posts = ghl.posts(location, PostsOf::Any, 0, 1, &from, &to);
        let accounts = ghl.accounts(location);
        self.probe(Probe::GhlTags, EP_TAGS, tags, &mut |r| {
            ghl::read_tag_page(EP_TAGS, &r.body).map(drop)
        })?;
        self.probe(Probe::GhlPosts, EP_POSTS, posts, &mut |r| {
            ghl::read_post_page(&r.body).map(drop)
        })?;
        let mut read = None;
        self.probe(Probe::GhlAccounts, EP_ACCOUNTS, accounts, &mut |r| {
            read = Some(ghl::read_accounts(&r.body)?);
            Ok(())
        })?;
        self.statistics(read)?;
        let rankr = self.run.settings.rankr();
        let key = rankr.first_tags(location, 1);
        self.probe(Probe::RankrKey, EP_LIST_TAGS, key, &mut |r| {
            json::read::<DataList>(Service::Rankr, EP_LIST_TAGS, &r.body).map(drop)
        })?;
        if let Some(dashboard) = self.dashboard {
            // One series of this location: a small answer, and an empty one
            // proves the dashboard as well as a full one.
            let metric = self.run.settings.metric_renames.name(Metric::TotalsPosts).to_string();
            let scope = format!("location:{location}");
            let request = self.run.settings.rankr().metrics(dashboard, &scope, &metric);
            self.probe(Probe::RankrDashboard, EP_LIST_METRICS, request, &mut |r| {
                json::read::<DataList>(Service::Rankr, EP_LIST_METRICS, &r.body).map(drop)
            })?;
        }
        Ok(())
    }

    /// The operations asked that need `probe`.
    fn concerned(&self, probe: Probe) -> Vec<Operation> {
        let dashboard = self.dashboard.is_some();
        self.asked
            .iter()
            .copied()
            .filter(|op| probe.needed_by(*op, dashboard))
            .collect()
    }

    /// Refreshes an OAuth access token that is missing or expiring: the
    /// `ghl-credential` item. Nothing to do otherwise.
    fn credential(&mut self) -> Result<(), SyncError> {
        self.run.exchange.last_sent = None;
        match self.run.exchange.refresh_if_due() {
            Ok(false) => Ok(()),
            Ok(true) => {
                let sent = self.run.exchange.last_sent.take();
                self.push(
                    Probe::GhlCredential,
                    refresh::ENDPOINT,
                    CheckOutcome::Ok,
                    String::new(),
                    sent,
                );
                Ok(())
            }
            Err(SyncError::CredentialStore(m)) => Err(SyncError::CredentialStore(m)),
            Err(e) => {
                let sent = self.run.exchange.last_sent.take();
                let (outcome, fix) = self.judge(Probe::GhlCredential, &e, sent);
                self.ghl_blocked = Some(
                    "the GHL access token could not be refreshed (see ghl-credential), so GHL was not asked".into(),
                );
                self.push(Probe::GhlCredential, refresh::ENDPOINT, outcome, fix, sent);
                Ok(())
            }
        }
    }

    /// `ghl-statistics`, with the first connected account that has not
    /// expired.
    fn statistics(&mut self, accounts: Option<Vec<Account>>) -> Result<(), SyncError> {
        let probe = Probe::GhlStatistics;
        if self.concerned(probe).is_empty() || self.decided_without_request(probe) {
            return Ok(());
        }
        let now = self.run.exchange.host().now_ms();
        let Some(accounts) = accounts else {
            let why = "the connected accounts could not be read (see ghl-accounts), so there is no profile to ask statistics for";
            self.push(probe, "", CheckOutcome::NotChecked(why.into()), String::new(), None);
            return Ok(());
        };
        let live = accounts.iter().find_map(|a| {
            let profile = a.profile_id.as_deref().filter(|p| check_id("profileId", p).is_ok())?;
            (!a.expired(now)).then(|| profile.to_string())
        });
        let Some(profile) = live else {
            let why = "the location has no connected social account that has not expired: connect one in GHL's Social Planner, then check again";
            self.push(probe, "", CheckOutcome::NotChecked(why.into()), String::new(), None);
            return Ok(());
        };
        let request = self
            .run
            .settings
            .ghl()
            .statistics(self.location, std::slice::from_ref(&profile), &[]);
        self.probe(probe, EP_STATISTICS, request, &mut |r| {
            json::read::<StatisticsEnvelope>(Service::Ghl, EP_STATISTICS, &r.body).map(drop)
        })?;
        Ok(())
    }

    /// True when the item is decided without a request (and pushed): its
    /// service is blocked, or the token says it lacks the scope.
    fn decided_without_request(&mut self, probe: Probe) -> bool {
        let blocked = match probe.service() {
            Service::Ghl => self.ghl_blocked.clone(),
            Service::Rankr => self.rankr_blocked.clone(),
        };
        if let Some(why) = blocked {
            self.push(probe, "", CheckOutcome::NotChecked(why), String::new(), None);
            return true;
        }
        let Some(scope) = probe.scope() else {
            return false;
        };
        let granted = match self.run.exchange.credential() {
            Credential::OAuth(oauth) if !oauth.tokens.scopes.is_empty() => &oauth.tokens.scopes,
            _ => return false,
        };
        if granted.iter().any(|g| g == scope.as_str()) {
            return false;
        }
        let fix = scope_fix(scope);
        self.push(probe, "", CheckOutcome::MissingScope(scope.as_str().into()), fix, None);
        true
    }

    /// Sends one probe's request, once, when the operations need it and it
    /// is not decided without a request, and reads a 2xx answer with
    /// `read`; pushes its item. The error ends the check.
    fn probe(
        &mut self,
        probe: Probe,
        endpoint: &str,
        request: Request,
        read: &mut dyn FnMut(Response) -> Result<(), Unreadable>,
    ) -> Result<(), SyncError> {
        if self.concerned(probe).is_empty() || self.decided_without_request(probe) {
            return Ok(());
        }
        self.run.exchange.last_sent = None;
        let result = self.run.exchange.call(probe.service(), endpoint, request, read);
        let sent = self.run.exchange.last_sent.take();
        match result {
            Ok(()) => {
                self.push(probe, endpoint, CheckOutcome::Ok, String::new(), sent);
                Ok(())
            }
            Err(SyncError::CredentialStore(m)) => Err(SyncError::CredentialStore(m)),
            Err(e) => {
                let (outcome, fix) = self.judge(probe, &e, sent);
                let unusable = matches!(outcome, CheckOutcome::Unreachable(_) | CheckOutcome::Tls(_));
                let why = match probe.service() {
                    Service::Ghl if matches!(e, SyncError::ReauthorizationRequired(_)) => Some(format!(
                        "the GHL refresh token was refused (see {}), so GHL was not asked again",
                        probe.name()
                    )),
                    service if unusable => Some(format!(
                        "{service} could not be reached (see {}), so it was not asked again",
                        probe.name()
                    )),
                    Service::Rankr if matches!(outcome, CheckOutcome::Unauthorized(_)) => Some(format!(
                        "the Rankr API key was refused (see {}), so Rankr was not asked again",
                        probe.name()
                    )),
                    _ => None,
                };
                if let Some(why) = why {
                    match probe.service() {
                        Service::Ghl => self.ghl_blocked = Some(why),
                        Service::Rankr => self.rankr_blocked = Some(why),
                    }
                }
                self.push(probe, endpoint, outcome, fix, sent);
                Ok(())
            }
        }
    }

    fn push(&mut self, probe: Probe, endpoint: &str, outcome: CheckOutcome, fix: String, sent: Option<Sent>) {
        let (status, latency_ms) = match sent {
            Some(s) => (s.outcome.ok(), s.latency_ms),
            None => (None, 0),
        };
        self.run.exchange.log(
            if outcome.passes() { Level::Info } else { Level::Warn },
            "checked",
            &[("what", probe.name()), ("outcome", outcome.name())],
        );
        self.items.push(CheckItem {
            service: probe.service(),
            what: probe,
            endpoint: endpoint.to_string(),
            operations: self.concerned(probe),
            outcome,
            fix,
            status,
            latency_ms,
        });
    }

    /// The outcome of a probe that failed with `e`, and what to do about it.
    fn judge(&self, probe: Probe, e: &SyncError, sent: Option<Sent>) -> (CheckOutcome, String) {
        let service = probe.service();
        let setting = probe.base_url_setting();
        let location = self.location;
        let scope_named = match e {
            SyncError::Unauthorized(u) | SyncError::Forbidden(u) => {
                probe.scope().filter(|_| speaks_of_scope(&u.message))
            }
            _ => None,
        };
        if let Some(scope) = scope_named {
            return (CheckOutcome::MissingScope(scope.as_str().into()), scope_fix(scope));
        }
        let unknown_location = |m: &str| {
            (
                CheckOutcome::UnknownLocation(m.to_string()),
                format!("this credential cannot read location {location}: check location-id, and that the token is the location's (or the app is installed there)"),
            )
        };
        match e {
            SyncError::Unauthorized(u) => (
                CheckOutcome::Unauthorized(u.message.clone()),
                match service {
                    Service::Ghl => "the GHL credential was refused: give a valid token, or authorize the connection again".into(),
                    Service::Rankr => "the Rankr API key was refused: give a valid key (rankr-api-key)".into(),
                },
            ),
            SyncError::ReauthorizationRequired(u) => (
                CheckOutcome::Unauthorized(format!("GHL refused the refresh token ({}): {}", u.status, u.message)),
                "the refresh token is spent, revoked or of another app: authorize the connection again".into(),
            ),
            SyncError::Forbidden(u) if service == Service::Ghl && names_location(&u.message, location) => {
                unknown_location(&u.message)
            }
            SyncError::Forbidden(u) => (
                CheckOutcome::Failed(u.message.clone()),
                match service {
                    Service::Ghl => format!("GHL forbade the request: check that the credential is the one of location {location} and has the operation's scopes"),
                    Service::Rankr => "Rankr forbade the request: give a Rankr API key that may read this location's tags and the dashboard".into(),
                },
            ),
            SyncError::Upstream(u)
                if service == Service::Ghl
                    && matches!(u.status, 400 | 404 | 422)
                    && names_location(&u.message, location) =>
            {
                unknown_location(&u.message)
            }
            SyncError::Upstream(u) if probe == Probe::RankrDashboard && u.status == 404 => (
                CheckOutcome::UnknownDashboard(u.message.clone()),
                format!(
                    "Rankr has no dashboard {}: check stats-sync's dashboard-id, or create the dashboard in Rankr",
                    self.dashboard.unwrap_or_default()
                ),
            ),
            SyncError::Upstream(u) if u.status >= 500 => (
                CheckOutcome::Failed(u.message.clone()),
                format!("{service} failed ({}); check again later", u.status),
            ),
            SyncError::Upstream(u) => (
                CheckOutcome::Failed(u.message.clone()),
                format!(
                    "{service} refused the request ({}): check that {setting} points at {service}'s API",
                    u.status
                ),
            ),
            SyncError::RateLimited(r) => (
                CheckOutcome::RateLimited(r.message.clone()),
                match r.retry_after_ms {
                    Some(ms) => format!("{service} is rate limiting: check again in {} s", ms.div_ceil(1000)),
                    None => format!("{service}'s rate budget is spent for now: check again later"),
                },
            ),
            SyncError::Transport { message, .. } => match sent.map(|s| s.outcome) {
                Some(Err(TransportKind::Tls)) => (
                    CheckOutcome::Tls(message.clone()),
                    format!("trust the server's CA on the host that runs the connector, or check that {setting} names the right server"),
                ),
                Some(Err(TransportKind::Connect | TransportKind::Timeout | TransportKind::Io)) => (
                    CheckOutcome::Unreachable(message.clone()),
                    format!("check {setting} and the network between the host and {service} (DNS, proxy, firewall), then check again"),
                ),
                Some(Err(TransportKind::Denied)) => (
                    CheckOutcome::Failed(message.clone()),
                    format!("the host refused to send the request: allow {setting}'s origin in the host's egress policy"),
                ),
                _ => (
                    CheckOutcome::Failed(message.clone()),
                    format!("no usable answer from {service}: check {setting}, then check again"),
                ),
            },
            SyncError::InvalidResponse { .. } => (
                CheckOutcome::Failed(e.to_string()),
                format!("{service} answered in a shape the connector does not read: check that {setting} points at {service}'s API"),
            ),
            SyncError::DeadlineExceeded(m) => (
                CheckOutcome::Failed(m.clone()),
                "the check ran out of time: give it more (deadline-ms)".into(),
            ),
            SyncError::MissingScope { scope, .. } => (
                CheckOutcome::MissingScope(scope.clone()),
                format!("grant {scope} to the app (or the Private Integration Token) and authorize again"),
            ),
            SyncError::InvalidConfig(m) | SyncError::CredentialStore(m) => (CheckOutcome::Failed(m.clone()), m.clone()),
        }
    }
}

fn scope_fix(scope: Scope) -> String {
    format!("grant {scope} to the app (or the Private Integration Token) and authorize again")
}

/// Whether a 401 or 403 message speaks of scopes or the token's
/// authorization class rather than of a token that is wrong.
fn speaks_of_scope(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    ["scope", "authclass", "auth class", "not authorized"]
        .iter()
        .any(|w| m.contains(w))
}

/// Whether an error message is about the location.
fn names_location(message: &str, location: &str) -> bool {
    message.to_ascii_lowercase().contains("location") || message.contains(location)
}
