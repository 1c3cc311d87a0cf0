//! A fake GHL Social Planner: tags (paged), tag details, posts (one, and the
//! list by date window), connected accounts, statistics,
//! with the official spec's shapes. Every request is checked against the
//! official OpenAPI file first; a request it would not accept gets a 422.
//!
//! It enforces a burst and a daily rate limit (sliding window, the five
//! `X-RateLimit-*` headers on every answer, 429 with `Retry-After` over the
//! limit), can speak OAuth with refresh-token rotation, and plays scheduled
//! faults ([`GhlFault`]) by API call number.

use super::oauth::OAuthServer;
use super::openapi::{split_url, OpenApi};
use super::server::{FakeRequest, FakeResponse, FakeServer, Outcome};
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The rate limits enforced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    pub max: u32,
    pub interval_ms: u64,
    pub daily: u64,
}

impl RateLimits {
    /// `max` requests per `interval_ms`, and GHL's daily 200,000.
    pub fn burst(max: u32, interval_ms: u64) -> Self {
        RateLimits {
            max,
            interval_ms,
            ..Self::default()
        }
    }
}

impl Default for RateLimits {
    /// GHL's documented defaults: 100 per 10 s, 200,000 a day.
    fn default() -> Self {
        RateLimits {
            max: 100,
            interval_ms: 10_000,
            daily: 200_000,
        }
    }
}

/// A fault played on one API call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GhlFault {
    /// Answer this status (e.g. 429 with `Retry-After`, 502, 503).
    Status { status: u16, retry_after_secs: Option<u64> },
    /// Answer normally, but say `X-RateLimit-Remaining: 0`.
    RemainingZero,
    /// Say nothing for [`GhlState::hang`], then answer.
    Hang,
    /// Break the connection in the middle of the body.
    Reset,
    /// Cut the JSON body in half (a complete HTTP answer).
    Truncate,
    /// Answer a body that is not JSON.
    MalformedJson,
    /// One tag of the page has the wrong types (`tag` a number).
    WrongTypes,
    /// One tag of the page has no `_id`.
    MissingId,
    /// Serve the previous page again instead of the one asked for.
    SamePageAgain,
    /// The access token dies before this call (OAuth, or a token in
    /// [`GhlState::admitted_tokens`]): 401.
    ExpireToken,
}

/// A fault and the API call (1-based, OAuth calls not counted) it hits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduledFault {
    pub at_call: u32,
    pub fault: GhlFault,
}

/// What the fake GHL holds and has seen.
#[derive(Debug, Clone)]
pub struct GhlState {
    /// The only token it accepts.
    pub token: String,
    /// The only location the token may read.
    pub location_id: String,
    /// `SocialMediaTagSchema` objects, in listing order.
    pub tags: Vec<Value>,
    /// Posts, in the order they were added.
    pub posts: Vec<FakePost>,
    /// `GetAccountSchema` objects: the connected social accounts.
    pub accounts: Vec<Value>,
    /// Most tags one page returns, whatever `limit` asks (real servers cap).
    pub max_page: usize,
    /// Every request received, in order.
    pub requests: Vec<FakeRequest>,
    /// Requests refused for not matching the spec, with the reasons.
    pub refusals: Vec<String>,
    /// The limits enforced, and our sliding window of API calls.
    pub limits: RateLimits,
    pub window: VecDeque<u64>,
    pub daily_used: u64,
    /// 429s the limiter answered.
    pub rate_limited: u32,
    /// API calls received (OAuth not counted).
    pub api_calls: u32,
    pub faults: Vec<ScheduledFault>,
    /// Faults played once, on the first API call whose path holds the
    /// text: a fault aimed at one request, whatever else is in flight.
    pub path_faults: Vec<(String, GhlFault)>,
    /// How long a [`GhlFault::Hang`] holds the answer.
    pub hang: Duration,
    /// OAuth: when set, access tokens come from here instead of `token`.
    pub oauth: Option<OAuthServer>,
    /// The scopes `token` was granted; none = all. A call that needs
    /// another gets GHL's 401 for a missing scope.
    pub scopes: Option<Vec<String>>,
    /// Tokens admitted besides `token` (or the OAuth server's), each until
    /// it expires: the sub-account tokens a fake marketplace issued.
    pub admitted_tokens: Vec<AdmittedToken>,
}

/// A token the location admits until `expires_at_ms`, within its scopes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdmittedToken {
    pub token: String,
    pub expires_at_ms: u64,
    /// What it was granted; none = all. A call needs its scope both here
    /// and in [`GhlState::scopes`].
    pub scopes: Option<Vec<String>>,
}

/// A Social Planner post as the fake holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakePost {
    pub id: String,
    /// `createdAt`, ms since the epoch (what `fromDate`/`toDate` filter on).
    pub created_at_ms: u64,
    pub updated_at_ms: u64,
    pub status: String,
    /// `publishedAt`, ms since the epoch, once the post went live.
    pub published_at_ms: Option<u64>,
    pub platform: String,
    pub account_id: String,
    pub tags: Vec<String>,
}

impl FakePost {
    /// A facebook post created at `created_at_ms` and published then.
    pub fn new(id: impl Into<String>, created_at_ms: u64, tags: &[&str]) -> Self {
        FakePost {
            id: id.into(),
            created_at_ms,
            updated_at_ms: created_at_ms,
            status: "published".into(),
            published_at_ms: Some(created_at_ms),
            platform: "facebook".into(),
            account_id: "acc-facebook-1".into(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
        }
    }

    /// A facebook post created at `created_at_ms`, scheduled to go live
    /// later ([`FakePost::publish`]).
    pub fn scheduled(id: impl Into<String>, created_at_ms: u64, tags: &[&str]) -> Self {
        FakePost {
            status: "scheduled".into(),
            published_at_ms: None,
            ..FakePost::new(id, created_at_ms, tags)
        }
    }

    /// The post goes live (again, after an edit) at `at_ms`.
    pub fn publish(&mut self, at_ms: u64) {
        self.status = "published".into();
        self.published_at_ms = Some(at_ms);
        self.updated_at_ms = self.updated_at_ms.max(at_ms);
    }

    /// The post as `GetPostFormattedSchema`.
    pub fn to_json(&self, location: &str) -> Value {
        let mut post = json!({
            "_id": self.id, "locationId": location, "platform": self.platform, "status": self.status,
            "type": "post", "summary": "New product launch", "tags": self.tags, "error": "",
            "accountId": self.account_id, "accountIds": [self.account_id], "source": "composer",
            "createdAt": iso(self.created_at_ms), "updatedAt": iso(self.updated_at_ms),
        });
        if let Some(at) = self.published_at_ms {
            post["publishedAt"] = json!(iso(at));
        }
        post
    }
}

/// RFC 3339 in UTC, as GHL writes dates (a whole second has no fraction).
pub fn iso(ms: u64) -> String {
    let at = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn parse_iso(text: &str) -> Option<u64> {
    let at = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()?;
    u64::try_from(at.unix_timestamp_nanos() / 1_000_000).ok()
}

/// When the demo post was created: 2024-03-10T09:00:00Z.
pub const DEMO_POST_CREATED_MS: u64 = 1_710_061_200_000;

pub const DEMO_LOCATION: &str = "ve9EPM428h8vShlRW1KT";
pub const DEMO_POST: &str = "65fac446d599990d1313c1dd";

impl GhlState {
    /// `n` tags in `location`; tag 7 is deleted; post [`DEMO_POST`] carries
    /// three of them.
    pub fn seeded(token: &str, location: &str, n: usize) -> Self {
        let tags: Vec<Value> = (0..n)
            .map(|i| {
                json!({
                    "_id": format!("tag{i:05}"),
                    "tag": format!(" {} {i} ", ["Summer Sale", "Launch", "Evergreen", "Promo", "Webinar"][i % 5]),
                    "locationId": location,
                    "createdBy": format!("user{}", i % 3),
                    "deleted": i == 7,
                    "createdAt": "2024-03-01T10:00:00.000Z",
                    "updatedAt": format!("2024-03-{:02}T10:00:00.000Z", 1 + i % 28),
                })
            })
            .collect();
        let mut posts = Vec::new();
        if n >= 3 {
            let last = format!("tag{:05}", n - 1);
            posts.push(FakePost::new(
                DEMO_POST,
                DEMO_POST_CREATED_MS,
                &["tag00000", "tag00002", &last],
            ));
        }
        let accounts = vec![
            json!({"id": "acc-facebook-1", "oauthId": "oauth-1", "profileId": "prof-facebook-1",
                   "name": "Demo Page", "platform": "facebook", "type": "page", "expire": "2099-01-01T00:00:00.000Z",
                   "isExpired": false, "meta": {}}),
            json!({"id": "acc-instagram-1", "oauthId": "oauth-2", "profileId": "prof-instagram-1",
                   "name": "Demo Insta", "platform": "instagram", "type": "business", "expire": "2099-01-01T00:00:00.000Z",
                   "isExpired": false, "meta": {}}),
            json!({"id": "acc-linkedin-1", "oauthId": "oauth-3", "profileId": "prof-linkedin-1",
                   "name": "Old LinkedIn", "platform": "linkedin", "type": "page", "expire": "2024-03-11T19:29:59.785Z",
                   "isExpired": true, "meta": {}}),
        ];
        GhlState {
            token: token.into(),
            location_id: location.into(),
            tags,
            posts,
            accounts,
            max_page: 100,
            requests: Vec::new(),
            refusals: Vec::new(),
            limits: RateLimits::default(),
            window: VecDeque::new(),
            daily_used: 0,
            rate_limited: 0,
            api_calls: 0,
            faults: Vec::new(),
            path_faults: Vec::new(),
            hang: Duration::from_secs(3),
            oauth: None,
            scopes: None,
            admitted_tokens: Vec::new(),
        }
    }

    /// Plays `fault` on API call number `at_call` (1-based).
    pub fn fault_at(&mut self, at_call: u32, fault: GhlFault) {
        self.faults.push(ScheduledFault { at_call, fault });
    }

    /// Plays `fault` once, on the first API call whose path contains
    /// `text` (`"/tags/details"`: the first read of tags by id).
    pub fn fault_on_path(&mut self, text: &str, fault: GhlFault) {
        self.path_faults.push((text.to_string(), fault));
    }

    /// Adds a post (while a test runs, too).
    pub fn add_post(&mut self, post: FakePost) {
        self.posts.push(post);
    }

    /// `get-posts` (`posts/list`) calls received.
    pub fn post_list_calls(&self) -> usize {
        self.requests
            .iter()
            .filter(|r| r.method == "POST" && split_url(&r.url).0.ends_with("/posts/list"))
            .count()
    }

    /// `get-post` calls received (single posts read).
    pub fn single_post_reads(&self) -> usize {
        self.requests
            .iter()
            .filter(|r| {
                let path = split_url(&r.url).0;
                r.method == "GET" && path.contains("/posts/") && !path.ends_with("/posts/list")
            })
            .count()
    }
}

/// Handles one request at time `now_ms` (the fake's clock: wall time over
/// HTTP, virtual time in component tests).
pub fn handle(spec: &OpenApi, s: &mut GhlState, req: &FakeRequest, now_ms: u64) -> Outcome {
    s.requests.push(req.clone());
    let (path, _) = split_url(&req.url);
    if path == "/oauth/token" && req.method == "POST" {
        return match s.oauth.as_mut() {
            Some(o) => o.token(req, now_ms).into(),
            None => error(404, json!("OAuth is not enabled on this fake"), "Not Found").into(),
        };
    }
    s.api_calls += 1;
    let call = s.api_calls;
    let mut fault = s.faults.iter().find(|f| f.at_call == call).map(|f| f.fault.clone());
    if fault.is_none() {
        if let Some(i) = s.path_faults.iter().position(|(text, _)| path.contains(text.as_str())) {
            fault = Some(s.path_faults.remove(i).1);
        }
    }
    match &fault {
        Some(GhlFault::Status {
            status,
            retry_after_secs,
        }) => {
            let mut r = error(*status, json!(format!("fault: {status}")), "Fault");
            if let Some(secs) = retry_after_secs {
                r = r.with_header("Retry-After", &secs.to_string());
            }
            return r.into();
        }
        Some(GhlFault::ExpireToken) => {
            if let Some(o) = s.oauth.as_mut() {
                o.expire_all();
            }
            s.admitted_tokens.clear();
        }
        _ => {}
    }
    // The limiter counts every call that reaches it, as GHL does.
    while s.window.front().is_some_and(|&t| t + s.limits.interval_ms <= now_ms) {
        s.window.pop_front();
    }
    if s.window.len() >= s.limits.max as usize || s.daily_used >= s.limits.daily {
        s.rate_limited += 1;
        let wait_ms = s
            .window
            .front()
            .map_or(s.limits.interval_ms, |&t| t + s.limits.interval_ms - now_ms);
        let r = error(429, json!("Too many requests"), "Too Many Requests")
            .with_header("Retry-After", &wait_ms.div_ceil(1000).to_string());
        return with_limits(s, r).into();
    }
    s.window.push_back(now_ms);
    s.daily_used += 1;
    let resp = answer(spec, s, req, now_ms);
    let mut resp = with_limits(s, resp);
    match fault {
        Some(GhlFault::RemainingZero) => {
            resp.headers
                .retain(|(k, _)| !k.eq_ignore_ascii_case("x-ratelimit-remaining"));
            resp = resp.with_header("X-RateLimit-Remaining", "0");
            resp.into()
        }
        Some(GhlFault::Hang) => Outcome::Hang(s.hang, resp),
        Some(GhlFault::Reset) => Outcome::Reset(resp),
        Some(GhlFault::Truncate) => {
            let half = resp.body.len() / 2;
            resp.body.truncate(half);
            resp.into()
        }
        Some(GhlFault::MalformedJson) => {
            resp.body = b"<html><body>upstream returned garbage</body></html>".to_vec();
            resp.into()
        }
        Some(GhlFault::WrongTypes) => mutate_first_tag(resp, |t| {
            t["tag"] = json!(12345);
            t["deleted"] = json!("no");
        }),
        Some(GhlFault::MissingId) => mutate_first_tag(resp, |t| {
            if let Some(o) = t.as_object_mut() {
                o.remove("_id");
            }
        }),
        Some(GhlFault::SamePageAgain) => {
            let (_, query) = split_url(&req.url);
            let num = |k: &str| {
                query
                    .iter()
                    .find(|(n, _)| n == k)
                    .and_then(|(_, v)| v.parse::<usize>().ok())
                    .unwrap_or(0)
            };
            let take = num("limit").min(s.max_page).max(1);
            let previous = num("skip").saturating_sub(take);
            let page: Vec<Value> = s.tags.iter().skip(previous).take(take).cloned().collect();
            let body = json!({"success": true, "statusCode": 200, "message": "Fetched Tags by Location ID",
                              "results": {"tags": page, "count": s.tags.len()}});
            resp.body = body.to_string().into_bytes();
            resp.into()
        }
        _ => resp.into(),
    }
}

/// Applies `f` to the first tag of a tags answer.
fn mutate_first_tag(mut resp: FakeResponse, f: impl FnOnce(&mut Value)) -> Outcome {
    if let Ok(mut v) = serde_json::from_slice::<Value>(&resp.body) {
        if let Some(t) = v["results"]["tags"].get_mut(0) {
            f(t);
        }
        resp.body = v.to_string().into_bytes();
    }
    resp.into()
}

/// The five rate-limit headers, as GHL sends them on every answer.
fn with_limits(s: &GhlState, resp: FakeResponse) -> FakeResponse {
    let remaining = (s.limits.max as usize).saturating_sub(s.window.len());
    resp.with_header("X-RateLimit-Max", &s.limits.max.to_string())
        .with_header("X-RateLimit-Interval-Milliseconds", &s.limits.interval_ms.to_string())
        .with_header("X-RateLimit-Remaining", &remaining.to_string())
        .with_header("X-RateLimit-Limit-Daily", &s.limits.daily.to_string())
        .with_header(
            "X-RateLimit-Daily-Remaining",
            &s.limits.daily.saturating_sub(s.daily_used).to_string(),
        )
}

/// A running fake GHL.
pub struct GhlFake {
    pub state: Arc<Mutex<GhlState>>,
    pub server: FakeServer,
}

impl GhlFake {
    pub fn start(state: GhlState) -> std::io::Result<Self> {
        Self::start_with(state, None)
    }

    /// The same, over HTTPS with `tls` when given.
    pub fn start_with(state: GhlState, tls: Option<Arc<rustls::ServerConfig>>) -> std::io::Result<Self> {
        let state = Arc::new(Mutex::new(state));
        let shared = state.clone();
        let spec = OpenApi::ghl();
        let server = FakeServer::start_with(tls, move |req| {
            let mut s = match shared.lock() {
                Ok(s) => s,
                Err(p) => p.into_inner(),
            };
            handle(&spec, &mut s, &req, wall_ms())
        })?;
        Ok(GhlFake { state, server })
    }

    pub fn base_url(&self) -> &str {
        &self.server.base_url
    }
}

fn error(status: u16, message: Value, error: &str) -> FakeResponse {
    FakeResponse::json(
        status,
        &json!({ "statusCode": status, "message": message, "error": error }),
    )
}

/// Wall-clock milliseconds (the fakes' clock over HTTP).
pub fn wall_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The answer a healthy GHL gives.
fn answer(spec: &OpenApi, s: &mut GhlState, req: &FakeRequest, now_ms: u64) -> FakeResponse {
    let (path, query) = split_url(&req.url);
    let body = (!req.body.is_empty()).then_some(req.body.as_slice());
    let matched = match spec.check(&req.method, &path, &query, &req.headers, body) {
        Ok(m) => m,
        Err(problems) => {
            s.refusals
                .push(format!("{} {}: {}", req.method, path, problems.join("; ")));
            let status = if problems.iter().any(|p| p.starts_with("no operation")) {
                404
            } else {
                422
            };
            return error(status, json!(problems), "Unprocessable Entity");
        }
    };
    let presented = req
        .header("authorization")
        .and_then(|h| h.strip_prefix("Bearer "))
        .unwrap_or("");
    let listed = s
        .admitted_tokens
        .iter()
        .find(|t| t.token == presented && now_ms < t.expires_at_ms)
        .map(|t| t.scopes.clone());
    // A listed token is tried first: the OAuth server's `admit` spends one
    // of its token's calls.
    let admitted = listed.is_some()
        || match s.oauth.as_mut() {
            Some(o) => o.admit(presented, now_ms),
            None => presented == s.token,
        };
    if !admitted {
        return error(401, json!("Invalid token: access token is invalid"), "Unauthorized");
    }
    let needed = match matched.operation_id.as_str() {
        "get-tags-location-id" | "get-tags-by-ids" => "socialplanner/tag.readonly",
        "get-post" | "get-posts" => "socialplanner/post.readonly",
        "get-account" => "socialplanner/account.readonly",
        "get-social-media-statistics" => "socialplanner/statistics.readonly",
        _ => "",
    };
    let lacks = |granted: &Option<Vec<String>>| {
        granted
            .as_ref()
            .is_some_and(|granted| !granted.iter().any(|g| g == needed))
    };
    if lacks(&s.scopes) || listed.as_ref().is_some_and(lacks) {
        return error(
            401,
            json!("The token is not authorized for this scope."),
            "Unauthorized",
        );
    }
    let location = matched
        .params
        .iter()
        .find(|(k, _)| k == "locationId")
        .map(|(_, v)| v.clone())
        .or_else(|| query.iter().find(|(k, _)| k == "locationId").map(|(_, v)| v.clone()))
        .unwrap_or_default();
    if location != s.location_id {
        return error(
            403,
            json!("The token does not have access to this location."),
            "Forbidden",
        );
    }
    match matched.operation_id.as_str() {
        "get-tags-location-id" => list_tags(s, &query),
        "get-tags-by-ids" => tag_details(s, &req.body),
        "get-post" => {
            let id = matched
                .params
                .iter()
                .find(|(k, _)| k == "id")
                .map(|(_, v)| v.as_str())
                .unwrap_or("");
            match s.posts.iter().find(|p| p.id == id) {
                Some(post) => FakeResponse::json(
                    200,
                    &json!({"success": true, "statusCode": 200, "message": "Fetched Post",
                            "results": {"post": post.to_json(&s.location_id)}}),
                ),
                None => error(400, json!(format!("Post {id} not found")), "Bad Request"),
            }
        }
        "get-posts" => list_posts(s, &req.body),
        "get-account" => FakeResponse::json(
            200,
            &json!({"success": true, "statusCode": 200, "message": "Fetched Accounts",
                    "results": {"accounts": s.accounts, "groups": []}}),
        ),
        "get-social-media-statistics" => statistics(&req.body),
        other => error(404, json!(format!("{other} is not faked")), "Not Found"),
    }
}

fn list_tags(s: &GhlState, query: &[(String, String)]) -> FakeResponse {
    let num = |name: &str, default: usize| -> Result<usize, FakeResponse> {
        match query.iter().find(|(k, _)| k == name) {
            None => Ok(default),
            Some((_, v)) => v.parse::<usize>().map_err(|_| {
                error(
                    422,
                    json!([format!("{name} must be a number string")]),
                    "Unprocessable Entity",
                )
            }),
        }
    };
    let (limit, skip) = match (num("limit", 10), num("skip", 0)) {
        (Ok(l), Ok(s)) => (l, s),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    let take = limit.min(s.max_page);
    let page: Vec<Value> = s.tags.iter().skip(skip).take(take).cloned().collect();
    FakeResponse::json(
        200,
        &json!({"success": true, "statusCode": 200, "message": "Fetched Tags by Location ID",
                "results": {"tags": page, "count": s.tags.len()}}),
    )
}

/// `posts/list`: the posts whose `createdAt` (or, with `type: published`,
/// `publishedAt`) lies in `[fromDate, toDate]`, newest first (ties by id), paged by `skip` and `limit` (at most
/// [`GhlState::max_page`]). The spec types every field a string; a field
/// that does not read as its number or date is a 422, as a strict server
/// would answer.
fn list_posts(s: &GhlState, body: &[u8]) -> FakeResponse {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let text = |k: &str| v[k].as_str().unwrap_or("");
    let bad = |why: String| error(422, json!([why]), "Unprocessable Entity");
    let (Ok(skip), Ok(limit)) = (text("skip").parse::<usize>(), text("limit").parse::<usize>()) else {
        return bad("skip and limit must be number strings".into());
    };
    let (Some(from), Some(to)) = (parse_iso(text("fromDate")), parse_iso(text("toDate"))) else {
        return bad("fromDate and toDate must be ISO 8601 dates".into());
    };
    if !matches!(text("includeUsers"), "true" | "false") {
        return bad("includeUsers must be \"true\" or \"false\"".into());
    }
    // `type: published` lists the posts that went live in the window, by
    // `publishedAt`; otherwise the window is on `createdAt`.
    let published = text("type") == "published";
    let at = |p: &FakePost| {
        if published {
            p.published_at_ms
        } else {
            Some(p.created_at_ms)
        }
    };
    let mut window: Vec<&FakePost> = s
        .posts
        .iter()
        .filter(|p| !published || p.status == "published")
        .filter(|p| at(p).is_some_and(|ms| (from..=to).contains(&ms)))
        .collect();
    window.sort_by(|a, b| at(b).cmp(&at(a)).then(a.id.cmp(&b.id)));
    let page: Vec<Value> = window
        .iter()
        .skip(skip)
        .take(limit.min(s.max_page))
        .map(|p| p.to_json(&s.location_id))
        .collect();
    FakeResponse::json(
        201,
        &json!({"success": true, "statusCode": 201, "message": "Fetched Posts",
                "results": {"posts": page, "count": window.len()}}),
    )
}

fn tag_details(s: &GhlState, body: &[u8]) -> FakeResponse {
    let ids: Vec<String> = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| serde_json::from_value(v["tagIds"].clone()).ok())
        .unwrap_or_default();
    let tags: Vec<Value> = s
        .tags
        .iter()
        .filter(|t| t["_id"].as_str().is_some_and(|id| ids.iter().any(|i| i == id)))
        .cloned()
        .collect();
    FakeResponse::json(
        201,
        &json!({"success": true, "statusCode": 201, "message": "Fetched Tags by Tag IDs",
                "results": {"tags": tags, "count": tags.len()}}),
    )
}

/// Deterministic statistics in the spec's shape, for the platforms asked
/// (or facebook and instagram).
fn statistics(body: &[u8]) -> FakeResponse {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let profiles = v["profileIds"].as_array().map(|a| a.len()).unwrap_or(1) as f64;
    let platforms: Vec<String> = v["platforms"]
        .as_array()
        .map(|a| a.iter().filter_map(|p| p.as_str().map(str::to_string)).collect())
        .unwrap_or_else(|| vec!["facebook".into(), "instagram".into()]);
    let series = |base: f64| -> Vec<f64> { (0..7).map(|d| (base + d as f64 * 3.0) * profiles).collect() };
    let per_platform = |f: &dyn Fn(usize) -> Value| -> Value {
        Value::Object(platforms.iter().enumerate().map(|(i, p)| (p.clone(), f(i))).collect())
    };
    let results = json!({
        "dayRange": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
        "totals": {"posts": 12.0 * profiles, "likes": 340.0 * profiles, "followers": 1520.0 * profiles,
                   "impressions": 9800.0 * profiles, "comments": 41.0 * profiles},
        "postPerformance": {
            "posts": per_platform(&|i| json!(series(1.0 + i as f64))),
            "impressions": series(1200.0), "likes": series(40.0), "comments": series(5.0)
        },
        "breakdowns": {
            "posts": {"total": 12.0, "totalChange": 20.0, "platforms": per_platform(&|i| json!({"value": 6.0 + i as f64, "change": 10.0}))},
            "impressions": {"total": 9800.0, "totalChange": -4.5, "platforms": per_platform(&|i| json!({"value": 4900.0 + i as f64, "change": -4.5}))},
            "reach": {"total": 7100.0, "totalChange": 3.2, "platforms": per_platform(&|i| json!({"value": 3550.0 + i as f64, "change": 3.2}))},
            "engagement": per_platform(&|i| json!({"likes": 170.0 + i as f64, "comments": 20.0, "shares": 9.0, "change": 1.5}))
        },
        "platformTotals": {
            "impressions": per_platform(&|i| json!({"total": 4900.0 + i as f64, "series": series(600.0)})),
            "followers": per_platform(&|i| json!({"total": 760.0 + i as f64, "series": series(750.0)})),
            "likes": per_platform(&|i| json!({"total": 170.0 + i as f64, "series": series(20.0)}))
        },
        "demographics": {"gender": {"totals": {"male": {"total": 10, "percentage": 50}, "female": {"total": 10, "percentage": 50},
                          "unknown": {"total": 0, "percentage": 0}}}, "age": {"totals": {"18-24": 5, "25-34": 15}}}
    });
    FakeResponse::json(
        201,
        &json!({"results": results, "message": "Analytics Built Successfully", "traceId": "42fc8dd8-d55b-475f-944f-9efb90d77564"}),
    )
}
