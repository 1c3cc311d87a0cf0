//! `check` over the scripted host: a GHL and a Rankr that answer every
//! probe, unless a test answers first.

use super::*;
use crate::auth::{Credential, OAuthCredential};
use crate::io::{Method, Request, Response, TransportError};
use crate::report::Service;
use crate::secret::{OAuthTokens, Secret};
use crate::testing::{header, json, path, query, ScriptedHost};
use serde_json::{json as j, Value};

const PIT: &str = "pit-good-1234";
const RANKR_KEY: &str = "rk-good-1234";
const OLD_ACCESS: &str = "acc-old-1234";
const NEW_ACCESS: &str = "acc-new-1234";
const LATENCY_MS: u64 = 7;

fn settings() -> SettingsInput {
    SettingsInput {
        ghl_base_url: "https://ghl.test".into(),
        ghl_credential: Credential::ApiKey(Secret::new(PIT)),
        rankr_base_url: "https://rankr.test".into(),
        rankr_api_key: Secret::new(RANKR_KEY),
        ..Default::default()
    }
}

fn oauth(access: &str, expires_at_ms: Option<u64>, scopes: &[&str]) -> SettingsInput {
    SettingsInput {
        ghl_credential: Credential::OAuth(OAuthCredential {
            tokens: OAuthTokens {
                access_token: Secret::new(access),
                refresh_token: Secret::new("ref-old-1234"),
                expires_at_ms,
                scopes: scopes.iter().map(|s| s.to_string()).collect(),
            },
            client_id: "app".into(),
            client_secret: Secret::new("shh-1234"),
        }),
        ..settings()
    }
}

fn all_scopes() -> Vec<&'static str> {
    vec![
        "socialplanner/tag.readonly",
        "socialplanner/post.readonly",
        "socialplanner/account.readonly",
        "socialplanner/statistics.readonly",
    ]
}

fn rate_headers(remaining: u32) -> Vec<(String, String)> {
    vec![
        ("content-type".into(), "application/json".into()),
        ("X-RateLimit-Max".into(), "100".into()),
        ("X-RateLimit-Remaining".into(), remaining.to_string()),
        ("X-RateLimit-Interval-Milliseconds".into(), "10000".into()),
        ("X-RateLimit-Limit-Daily".into(), "200000".into()),
        ("X-RateLimit-Daily-Remaining".into(), "199990".into()),
    ]
}

fn ghl_json(status: u16, body: Value, remaining: u32) -> Result<Response, TransportError> {
    Ok(Response {
        status,
        headers: rate_headers(remaining),
        body: body.to_string().into_bytes(),
    })
}

fn ghl_error(status: u16, message: &str) -> Option<Result<Response, TransportError>> {
    Some(json(
        status,
        j!({"statusCode": status, "message": message, "error": "Unauthorized"}),
    ))
}

/// What `over` does not answer, GHL and Rankr answer as they should for
/// location `loc`, a PIT or the refreshed OAuth token, and dashboard `dash`.
fn world(
    mut over: impl FnMut(&Request) -> Option<Result<Response, TransportError>>,
) -> impl FnMut(&Request) -> Result<Response, TransportError> {
    let mut remaining = 100;
    move |r: &Request| {
        if let Some(answer) = over(r) {
            return answer;
        }
        let bearer = header(r, "authorization").unwrap_or("");
        let p = path(&r.url);
        if r.url.starts_with("https://rankr.test") {
            if bearer != format!("Bearer {RANKR_KEY}") {
                return json(
                    401,
                    j!({"title": "Unauthorized", "status": 401, "detail": "unknown API key"}),
                );
            }
            return match (r.method, p) {
                (Method::Get, "/v1/tags") => json(200, j!({"data": [], "nextCursor": null})),
                (Method::Get, "/v1/dashboards/dash/metrics") => json(200, j!({"data": []})),
                (Method::Get, _) => json(
                    404,
                    j!({"title": "Not Found", "status": 404, "detail": "no such dashboard"}),
                ),
                (m, p) => panic!("the check wrote to Rankr: {m} {p}"),
            };
        }
        if p == "/oauth/token" {
            return json(
                200,
                j!({"access_token": NEW_ACCESS, "refresh_token": "ref-new-1234", "expires_in": 86399,
                    "scope": all_scopes().join(" ")}),
            );
        }
        if ![PIT, OLD_ACCESS, NEW_ACCESS]
            .iter()
            .any(|t| bearer == format!("Bearer {t}"))
        {
            return ghl_error(401, "Invalid token: access token is invalid").unwrap();
        }
        remaining -= 1;
        match (r.method, p) {
            (Method::Get, "/social-media-posting/loc/tags") => ghl_json(
                200,
                j!({"success": true, "results": {"tags": [{"_id": "t1", "tag": "A"}], "count": 40}}),
                remaining,
            ),
            (Method::Post, "/social-media-posting/loc/posts/list") => ghl_json(
                201,
                j!({"success": true, "results": {"posts": [], "count": 0}}),
                remaining,
            ),
            (Method::Get, "/social-media-posting/loc/accounts") => ghl_json(
                200,
                j!({"results": {"accounts": [
                    {"id": "loc_a0", "profileId": "prof-old", "isExpired": true},
                    {"id": "loc_a1", "platform": "facebook"},
                    {"id": "loc_a2", "profileId": "prof-live", "isExpired": false, "expire": "2099-01-01T00:00:00Z"}
                ], "groups": []}}),
                remaining,
            ),
            (Method::Post, "/social-media-posting/statistics") => {
                ghl_json(201, j!({"success": true, "results": {}}), remaining)
            }
            (m, p) => panic!("unexpected {m} {p}"),
        }
    }
}

/// The scripted host whose exchanges each take [`LATENCY_MS`].
struct Timed<F: FnMut(&Request) -> Result<Response, TransportError>>(ScriptedHost<F>);

impl<F: FnMut(&Request) -> Result<Response, TransportError>> crate::io::Host for Timed<F> {
    fn send(&mut self, request: &Request) -> Result<Response, TransportError> {
        self.0.now_ms += LATENCY_MS;
        self.0.send(request)
    }
    fn now_ms(&mut self) -> u64 {
        self.0.now_ms
    }
    fn sleep_ms(&mut self, ms: u64) {
        self.0.sleep_ms(ms)
    }
    fn log(&mut self, level: crate::io::Level, message: &str, fields: &[(&str, &str)]) {
        self.0.log(level, message, fields)
    }
    fn store_tokens(&mut self, tokens: &OAuthTokens) -> Result<(), String> {
        self.0.store_tokens(tokens)
    }
}

fn request(operations: &[&str], dashboard: Option<&str>) -> CheckRequest {
    CheckRequest {
        location_id: "loc".into(),
        operations: operations.iter().map(|s| s.to_string()).collect(),
        dashboard_id: dashboard.map(str::to_string),
    }
}

fn run_check<F: FnMut(&Request) -> Result<Response, TransportError>>(
    handler: F,
    s: &SettingsInput,
    req: &CheckRequest,
) -> (CheckReport, ScriptedHost<F>) {
    let mut host = Timed(ScriptedHost::new(handler));
    let report = check(&mut host, s, req).unwrap();
    reads_only(&host.0.requests);
    for item in &report.items {
        let fix = &item.fix;
        assert!(!fix.contains("GHL_") && !fix.contains("--"), "{fix}");
        assert_eq!(fix.is_empty(), item.outcome.passes(), "{item:?}");
    }
    (report, host.0)
}

/// Nothing the check sent writes: GETs, and GHL's two POST reads (and the
/// OAuth refresh).
fn reads_only(requests: &[Request]) {
    for r in requests {
        let p = path(&r.url);
        let read = r.method == Method::Get
            || (r.method == Method::Post
                && r.url.starts_with("https://ghl.test")
                && (p.ends_with("/posts/list") || p == "/social-media-posting/statistics" || p == "/oauth/token"));
        assert!(read, "a write: {} {}", r.method, r.url);
    }
}

fn item(report: &CheckReport, what: Probe) -> &CheckItem {
    report
        .items
        .iter()
        .find(|i| i.what == what)
        .unwrap_or_else(|| panic!("no {} in {:#?}", what.name(), report.items))
}

fn whats(report: &CheckReport) -> Vec<&'static str> {
    report.items.iter().map(|i| i.what.name()).collect()
}

#[test]
fn every_access_proves_ok_with_one_small_read_each() {
    let (report, host) = run_check(world(|_| None), &settings(), &request(&[], Some("dash")));
    assert_eq!(
        whats(&report),
        [
            "ghl-tags",
            "ghl-posts",
            "ghl-accounts",
            "ghl-statistics",
            "rankr-key",
            "rankr-dashboard"
        ]
    );
    assert!(report.ok, "{:#?}", report.items);
    assert!(report.items.iter().all(|i| i.outcome == CheckOutcome::Ok));
    assert_eq!(report.requests, 6);
    assert_eq!(host.requests.len(), 6, "each probe once");
    let tags = item(&report, Probe::GhlTags);
    assert_eq!(
        (tags.service, tags.endpoint.as_str(), tags.status, tags.latency_ms),
        (
            Service::Ghl,
            "GET /social-media-posting/{locationId}/tags",
            Some(200),
            LATENCY_MS
        )
    );
    assert_eq!(tags.operations, [Operation::TagSync, Operation::TagDetailsPush]);
    assert_eq!(
        item(&report, Probe::GhlPosts).operations,
        [Operation::TagSync, Operation::NewPosts, Operation::PostsPublished]
    );
    assert_eq!(
        item(&report, Probe::GhlAccounts).operations,
        [Operation::StatsSync, Operation::PostsPublished]
    );
    assert_eq!(item(&report, Probe::RankrKey).operations, CHECKABLE);
    assert_eq!(item(&report, Probe::RankrDashboard).operations, [Operation::StatsSync]);
    assert_eq!(item(&report, Probe::GhlStatistics).status, Some(201));
    // The smallest reads: one tag, one post over a short window, the first
    // account that has not expired.
    let by_path = |p: &str| host.requests.iter().find(|r| path(&r.url) == p).unwrap();
    let t = by_path("/social-media-posting/loc/tags");
    assert_eq!((query(&t.url, "limit"), query(&t.url, "skip")), (Some("1"), Some("0")));
    let posts: Value =
        serde_json::from_slice(by_path("/social-media-posting/loc/posts/list").body.as_ref().unwrap()).unwrap();
    assert_eq!(posts["limit"], "1");
    let from = crate::instant::parse_ms(posts["fromDate"].as_str().unwrap()).unwrap();
    let to = crate::instant::parse_ms(posts["toDate"].as_str().unwrap()).unwrap();
    assert!(to - from <= 2 * 60 * 60 * 1000, "a short window");
    let stats: Value =
        serde_json::from_slice(by_path("/social-media-posting/statistics").body.as_ref().unwrap()).unwrap();
    assert_eq!(stats, j!({"profileIds": ["prof-live"]}));
    let key = by_path("/v1/tags");
    assert_eq!(
        (
            query(&key.url, "source"),
            query(&key.url, "locationId"),
            query(&key.url, "limit")
        ),
        (Some("ghl"), Some("loc"), Some("1"))
    );
    let dash = by_path("/v1/dashboards/dash/metrics");
    assert_eq!(query(&dash.url, "scope"), Some("location%3Aloc"));
    assert_eq!(query(&dash.url, "metric"), Some("totals.posts"));
    // The budget as GHL's last answer (the statistics) stated it.
    assert_eq!(
        report.rate_limit,
        Some(RateHeadroom {
            max: Some(100),
            remaining: Some(96),
            interval_ms: Some(10_000),
            daily_limit: Some(200_000),
            daily_remaining: Some(199_990),
        })
    );
    assert!(report.rotated_tokens.is_none());
}

#[test]
fn only_the_probes_the_operations_need_are_sent() {
    let (report, host) = run_check(
        world(|_| None),
        &settings(),
        &request(&["new-posts", "new-posts"], Some("dash")),
    );
    assert_eq!(whats(&report), ["ghl-posts", "rankr-key"]);
    assert_eq!(item(&report, Probe::GhlPosts).operations, [Operation::NewPosts]);
    assert_eq!(host.requests.len(), 2);
    // stats-sync without a dashboard: no dashboard probe.
    let (report, _) = run_check(world(|_| None), &settings(), &request(&["stats-sync"], None));
    assert_eq!(whats(&report), ["ghl-accounts", "ghl-statistics", "rankr-key"]);
}

#[test]
fn a_wrong_ghl_token_is_unauthorized_and_each_probe_goes_once() {
    let mut s = settings();
    s.ghl_credential = Credential::ApiKey(Secret::new("pit-wrong-1234"));
    let (report, host) = run_check(world(|_| None), &s, &request(&[], None));
    assert!(!report.ok);
    for what in [Probe::GhlTags, Probe::GhlPosts, Probe::GhlAccounts] {
        let i = item(&report, what);
        assert_eq!(
            i.outcome,
            CheckOutcome::Unauthorized("Invalid token: access token is invalid".into()),
            "{i:?}"
        );
        assert_eq!(i.status, Some(401));
        assert!(i.fix.contains("GHL credential was refused"), "{}", i.fix);
    }
    assert!(matches!(
        item(&report, Probe::GhlStatistics).outcome,
        CheckOutcome::NotChecked(_)
    ));
    assert_eq!(item(&report, Probe::RankrKey).outcome, CheckOutcome::Ok);
    assert_eq!(
        host.requests.len(),
        4,
        "three GHL probes and the Rankr key, none retried"
    );
}

#[test]
fn a_wrong_rankr_key_is_unauthorized_and_the_dashboard_is_not_asked() {
    let mut s = settings();
    s.rankr_api_key = Secret::new("rk-wrong-1234");
    let (report, host) = run_check(world(|_| None), &s, &request(&["stats-sync"], Some("dash")));
    let key = item(&report, Probe::RankrKey);
    assert_eq!(
        key.outcome,
        CheckOutcome::Unauthorized("Unauthorized: unknown API key".into())
    );
    assert_eq!(
        key.fix,
        "the Rankr API key was refused: give a valid key (rankr-api-key)"
    );
    assert!(matches!(
        item(&report, Probe::RankrDashboard).outcome,
        CheckOutcome::NotChecked(_)
    ));
    assert!(!report.ok);
    assert_eq!(
        host.requests
            .iter()
            .filter(|r| r.url.starts_with("https://rankr.test"))
            .count(),
        1
    );
}

#[test]
fn an_unknown_dashboard_is_named() {
    let (report, _) = run_check(world(|_| None), &settings(), &request(&["stats-sync"], Some("nope")));
    let d = item(&report, Probe::RankrDashboard);
    assert_eq!(
        d.outcome,
        CheckOutcome::UnknownDashboard("Not Found: no such dashboard".into())
    );
    assert_eq!(d.status, Some(404));
    assert!(
        d.fix.contains("dashboard nope") && d.fix.contains("dashboard-id"),
        "{}",
        d.fix
    );
}

#[test]
fn a_token_without_the_statistics_scope_is_a_missing_scope() {
    // What GHL answers a Private Integration Token without the scope.
    let over = |r: &Request| {
        (path(&r.url) == "/social-media-posting/statistics")
            .then(|| ghl_error(401, "The token is not authorized for this scope.").unwrap())
    };
    let (report, _) = run_check(world(over), &settings(), &request(&["stats-sync"], None));
    let s = item(&report, Probe::GhlStatistics);
    assert_eq!(
        s.outcome,
        CheckOutcome::MissingScope("socialplanner/statistics.readonly".into())
    );
    assert_eq!(
        s.fix,
        "grant socialplanner/statistics.readonly to the app (or the Private Integration Token) and authorize again"
    );
    assert_eq!(
        (s.status, s.endpoint.as_str()),
        (Some(401), "POST /social-media-posting/statistics")
    );
    assert_eq!(item(&report, Probe::GhlAccounts).outcome, CheckOutcome::Ok);
    assert!(!report.ok);
}

#[test]
fn scopes_the_token_lists_as_missing_are_reported_without_a_request() {
    let s = oauth(
        OLD_ACCESS,
        None,
        &["socialplanner/tag.readonly", "socialplanner/post.readonly"],
    );
    let (report, host) = run_check(world(|_| None), &s, &request(&[], None));
    for (what, scope) in [
        (Probe::GhlAccounts, "socialplanner/account.readonly"),
        (Probe::GhlStatistics, "socialplanner/statistics.readonly"),
    ] {
        let i = item(&report, what);
        assert_eq!(i.outcome, CheckOutcome::MissingScope(scope.into()));
        assert_eq!((i.endpoint.as_str(), i.status, i.latency_ms), ("", None, 0));
    }
    assert!(host
        .requests
        .iter()
        .all(|r| !path(&r.url).ends_with("/accounts") && !path(&r.url).ends_with("/statistics")));
    assert_eq!(host.requests.len(), 3, "tags, posts, the Rankr key");
}

#[test]
fn a_location_the_credential_cannot_read_is_unknown() {
    let over = |r: &Request| {
        r.url
            .starts_with("https://ghl.test")
            .then(|| ghl_error(403, "The token does not have access to this location.").unwrap())
    };
    let (report, _) = run_check(world(over), &settings(), &request(&["tag-sync"], None));
    for what in [Probe::GhlTags, Probe::GhlPosts] {
        let i = item(&report, what);
        assert_eq!(
            i.outcome,
            CheckOutcome::UnknownLocation("The token does not have access to this location.".into())
        );
        assert!(
            i.fix.contains("cannot read location loc") && i.fix.contains("location-id"),
            "{}",
            i.fix
        );
    }
    // A 422 on the location id is the same.
    let over = |r: &Request| {
        (path(&r.url) == "/social-media-posting/loc/tags").then(|| {
            json(
                422,
                j!({"statusCode": 422, "message": ["locationId must be a valid id"]}),
            )
        })
    };
    let (report, _) = run_check(world(over), &settings(), &request(&["tag-details-push"], None));
    assert!(matches!(
        item(&report, Probe::GhlTags).outcome,
        CheckOutcome::UnknownLocation(_)
    ));
}

#[test]
fn a_refused_certificate_is_tls_with_the_transports_words() {
    let message = "ghl.test:443: its certificate is signed by an issuer this machine does not trust (unknown issuer)";
    let over = move |r: &Request| {
        r.url
            .starts_with("https://ghl.test")
            .then(|| Err(TransportError::Tls(message.into())))
    };
    let (report, host) = run_check(world(over), &settings(), &request(&[], None));
    let tags = item(&report, Probe::GhlTags);
    match &tags.outcome {
        CheckOutcome::Tls(m) => assert!(m.contains(message), "{m}"),
        other => panic!("{other:?}"),
    }
    assert!(
        tags.fix.contains("trust the server's CA") && tags.fix.contains("ghl-base-url"),
        "{}",
        tags.fix
    );
    assert_eq!((tags.status, tags.latency_ms), (None, LATENCY_MS));
    // GHL is not asked again; Rankr still is.
    for what in [Probe::GhlPosts, Probe::GhlAccounts, Probe::GhlStatistics] {
        assert!(matches!(item(&report, what).outcome, CheckOutcome::NotChecked(_)));
    }
    assert_eq!(item(&report, Probe::RankrKey).outcome, CheckOutcome::Ok);
    assert_eq!(host.requests.len(), 2);
    assert!(!report.ok);
    // No connection at all is `unreachable`.
    let over = |r: &Request| {
        r.url
            .starts_with("https://rankr.test")
            .then(|| Err(TransportError::Connect("connection refused".into())))
    };
    let (report, host) = run_check(world(over), &settings(), &request(&["tag-sync"], None));
    let key = item(&report, Probe::RankrKey);
    assert!(matches!(&key.outcome, CheckOutcome::Unreachable(m) if m.contains("connection refused")));
    assert!(key.fix.contains("rankr-base-url"), "{}", key.fix);
    assert_eq!(host.slept_ms, Vec::<u64>::new(), "not retried");
}

#[test]
fn a_429_is_rate_limited_and_not_retried() {
    let over = |r: &Request| {
        (path(&r.url) == "/social-media-posting/loc/tags").then(|| {
            Ok(Response {
                status: 429,
                headers: vec![("Retry-After".into(), "3".into())],
                body: br#"{"statusCode":429,"message":"Too many requests"}"#.to_vec(),
            })
        })
    };
    let (report, host) = run_check(world(over), &settings(), &request(&["tag-details-push"], None));
    let tags = item(&report, Probe::GhlTags);
    assert_eq!(tags.outcome, CheckOutcome::RateLimited("Too many requests".into()));
    assert_eq!(tags.status, Some(429));
    assert!(tags.fix.contains("check again in 3 s"), "{}", tags.fix);
    assert_eq!(host.requests.len(), 2, "the tags once, the Rankr key");
    assert!(host.slept_ms.is_empty());
}

#[test]
fn an_expiring_oauth_token_is_refreshed_first_and_stored_before_use() {
    let now = ScriptedHost::new(|_: &Request| json(200, j!({}))).now_ms;
    let s = oauth(OLD_ACCESS, Some(now + 1_000), &all_scopes());
    let mut host = Timed(ScriptedHost::new(world(|_| None)));
    let report = check(&mut host, &s, &request(&["tag-details-push"], None)).unwrap();
    let host = host.0;
    reads_only(&host.requests);
    assert_eq!(whats(&report), ["ghl-credential", "ghl-tags", "rankr-key"]);
    let c = item(&report, Probe::GhlCredential);
    assert_eq!(
        (&c.outcome, c.endpoint.as_str(), c.status, c.latency_ms),
        (&CheckOutcome::Ok, "POST /oauth/token", Some(200), LATENCY_MS)
    );
    assert_eq!(host.stored_tokens.len(), 1);
    assert_eq!(host.stored_tokens[0].access_token.expose(), NEW_ACCESS);
    let tags = host.requests.iter().find(|r| path(&r.url).ends_with("/tags")).unwrap();
    assert_eq!(
        header(tags, "authorization"),
        Some(format!("Bearer {NEW_ACCESS}").as_str())
    );
    assert_eq!(
        report.rotated_tokens.as_ref().map(|t| t.refresh_token.expose()),
        Some("ref-new-1234")
    );
    assert!(report.ok);
}

#[test]
fn a_refused_refresh_token_is_unauthorized_and_ghl_is_not_asked() {
    let refusals = std::cell::Cell::new(0);
    let over = |r: &Request| {
        (path(&r.url) == "/oauth/token").then(|| {
            refusals.set(refusals.get() + 1);
            json(400, j!({"error": "invalid_grant", "message": "Invalid refresh token"}))
        })
    };
    let s = oauth("", None, &all_scopes());
    let (report, host) = run_check(world(over), &s, &request(&["tag-sync"], None));
    let c = item(&report, Probe::GhlCredential);
    assert!(
        matches!(&c.outcome, CheckOutcome::Unauthorized(m) if m.contains("Invalid refresh token")),
        "{c:?}"
    );
    assert!(c.fix.contains("authorize the connection again"), "{}", c.fix);
    assert_eq!(refusals.get(), 1, "the refresh token is sent once");
    for what in [Probe::GhlTags, Probe::GhlPosts] {
        assert!(matches!(item(&report, what).outcome, CheckOutcome::NotChecked(_)));
    }
    assert!(!report.ok);
    assert!(host
        .requests
        .iter()
        .all(|r| !path(&r.url).starts_with("/social-media-posting")));
}

#[test]
fn an_oauth_401_gets_one_refresh_for_the_whole_check() {
    // A token that GHL refuses although it has not expired: the first 401
    // refreshes and replays; the fresh token refused too is the answer.
    let refreshes = std::cell::Cell::new(0);
    let over = |r: &Request| {
        if path(&r.url) == "/oauth/token" {
            refreshes.set(refreshes.get() + 1);
            return None;
        }
        r.url
            .starts_with("https://ghl.test")
            .then(|| ghl_error(401, "Invalid token: access token is invalid").unwrap())
    };
    let s = oauth(OLD_ACCESS, None, &[]);
    let (report, _) = run_check(world(over), &s, &request(&["tag-sync"], None));
    assert_eq!(refreshes.get(), 1);
    for what in [Probe::GhlTags, Probe::GhlPosts] {
        assert!(matches!(item(&report, what).outcome, CheckOutcome::Unauthorized(_)));
    }
    assert!(report.rotated_tokens.is_some());
}

#[test]
fn failures_are_only_bad_input_and_an_unstorable_pair() {
    let mut host = ScriptedHost::new(world(|_| None));
    for (req, needle) in [
        (request(&["tag-sync", "describe"], None), "`describe`"),
        (request(&["check"], None), "`check`"),
        (
            CheckRequest {
                location_id: "..".into(),
                ..request(&[], None)
            },
            "location-id",
        ),
        (request(&[], Some("")), "dashboard-id"),
    ] {
        let f = check(&mut host, &settings(), &req).unwrap_err();
        assert!(
            matches!(&f.error, SyncError::InvalidConfig(m) if m.contains(needle)),
            "{:?}",
            f.error
        );
    }
    let mut s = settings();
    s.ghl_base_url = "http://example.com".into();
    assert!(matches!(
        check(&mut host, &s, &request(&[], None)).unwrap_err().error,
        SyncError::InvalidConfig(_)
    ));
    assert!(host.requests.is_empty());
    // The host cannot keep the rotated pair: the check fails with it.
    let mut host = ScriptedHost::new(world(|_| None));
    host.store_fails = Some("disk full".into());
    let f = check(&mut host, &oauth("", None, &all_scopes()), &request(&[], None)).unwrap_err();
    assert!(matches!(&f.error, SyncError::CredentialStore(m) if m.contains("disk full")));
    assert!(f.rotated_tokens.is_some());
    assert_eq!(
        host.requests.len(),
        1,
        "nothing sent with a pair the host does not hold"
    );
}

#[test]
fn the_probe_names_are_the_catalogs() {
    let doc = crate::catalog::document();
    let names: Vec<&str> = doc["operations"][5]["output"]["$defs"]["check-item"]["properties"]["what"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let probes = [
        Probe::GhlCredential,
        Probe::GhlTags,
        Probe::GhlPosts,
        Probe::GhlAccounts,
        Probe::GhlStatistics,
        Probe::RankrKey,
        Probe::RankrDashboard,
    ];
    assert_eq!(names, probes.map(Probe::name));
}
