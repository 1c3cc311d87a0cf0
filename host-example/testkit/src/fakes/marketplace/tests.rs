//! The fake marketplace against the behaviour the end-to-end tests rely on:
//! the consent and code flow, rotation, installed locations, sub-account
//! tokens, the spec's refusals, and signed webhooks.

use super::*;
use crate::fakes::ghl::GhlFault;
use crate::fakes::openapi::{split_url, FORM};
use crate::fakes::server::{FakeResponse, FakeServer, Outcome};
use ed25519_dalek::Verifier as _;
use rsa::pkcs8::DecodePublicKey as _;
use serde_json::{json, Value};

const NOW: u64 = 1_717_000_000_000;
const REDIRECT: &str = "https://app.example/oauth/callback";
const SCOPE: &str = "oauth.readonly oauth.write socialplanner/tag.readonly socialplanner/post.readonly \
                     socialplanner/statistics.readonly socialplanner/account.readonly";
const VERSION: (&str, &str) = ("Version", "2021-07-28");

/// The fake in process, on a clock the test sets.
struct Rig {
    specs: MarketplaceSpecs,
    s: MarketplaceState,
}

fn form_body(fields: &[(&str, &str)]) -> Vec<u8> {
    let pairs: Vec<String> = fields.iter().map(|(k, v)| format!("{k}={}", encode(v))).collect();
    pairs.join("&").into_bytes()
}

impl Rig {
    fn new(s: MarketplaceState) -> Self {
        Rig {
            specs: MarketplaceSpecs::official(),
            s,
        }
    }

    fn send(&mut self, method: &str, url: &str, headers: &[(&str, &str)], body: Vec<u8>, now: u64) -> FakeResponse {
        let req = FakeRequest {
            method: method.into(),
            url: url.into(),
            headers: headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            body,
        };
        match handle(&self.specs, &mut self.s, &req, now) {
            Outcome::Respond(r) => r,
            other => panic!("expected an answer, got {other:?}"),
        }
    }

    /// A JSON answer, checked against the spec's schema for its status
    /// when the path is one of the OAuth spec's.
    fn json(&mut self, method: &str, url: &str, headers: &[(&str, &str)], body: Vec<u8>, now: u64) -> (u16, Value) {
        let r = self.send(method, url, headers, body, now);
        let path = url.split('?').next().unwrap_or(url);
        if path.starts_with("/oauth/") && r.status != 404 {
            self.specs
                .oauth
                .check_response(method, path, r.status, &r.body)
                .unwrap_or_else(|e| panic!("{method} {path} answered {} outside the spec: {e:?}", r.status));
        }
        (r.status, serde_json::from_slice(&r.body).unwrap_or(Value::Null))
    }

    fn get(&mut self, url: &str, token: &str, now: u64) -> (u16, Value) {
        let auth = format!("Bearer {token}");
        self.json("GET", url, &[VERSION, ("Authorization", &auth)], Vec::new(), now)
    }

    fn post_form(&mut self, path: &str, token: Option<&str>, fields: &[(&str, &str)], now: u64) -> (u16, Value) {
        let auth = token.map(|t| format!("Bearer {t}"));
        let mut headers = vec![("Content-Type", FORM)];
        if let Some(auth) = &auth {
            headers.extend([VERSION, ("Authorization", auth.as_str())]);
        }
        self.json("POST", path, &headers, form_body(fields), now)
    }

    /// The consent page's redirect.
    fn consent(&mut self, state: Option<&str>, now: u64) -> FakeResponse {
        let url = self.s.authorize_url("", REDIRECT, SCOPE, state);
        self.send("GET", &url, &[], Vec::new(), now)
    }

    fn code(&mut self, now: u64) -> String {
        let r = self.consent(None, now);
        let location = r.headers.iter().find(|(k, _)| k == "Location").map(|(_, v)| v.clone());
        let (_, query) = split_url(&location.unwrap_or_default());
        query
            .into_iter()
            .find(|(k, _)| k == "code")
            .map(|(_, v)| v)
            .unwrap_or_default()
    }

    fn exchange(&mut self, code: &str, user_type: &str, now: u64) -> (u16, Value) {
        let (id, secret) = (self.s.client_id.clone(), self.s.client_secret.clone());
        self.post_form(
            "/oauth/token",
            None,
            &[
                ("client_id", &id),
                ("client_secret", &secret),
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", REDIRECT),
                ("user_type", user_type),
            ],
            now,
        )
    }

    fn refresh(&mut self, token: &str, user_type: &str, now: u64) -> (u16, Value) {
        let (id, secret) = (self.s.client_id.clone(), self.s.client_secret.clone());
        self.post_form(
            "/oauth/token",
            None,
            &[
                ("client_id", &id),
                ("client_secret", &secret),
                ("grant_type", "refresh_token"),
                ("refresh_token", token),
                ("user_type", user_type),
            ],
            now,
        )
    }

    /// The agency's (access, refresh) pair, by the code flow.
    fn agency(&mut self, now: u64) -> (String, String) {
        let code = self.code(now);
        let (status, t) = self.exchange(&code, "Company", now);
        assert_eq!(status, 200, "{t}");
        (text(&t["access_token"]), text(&t["refresh_token"]))
    }

    fn location_token(&mut self, agency: &str, location: &str, now: u64) -> (u16, Value) {
        let company = self.s.company_id.clone();
        self.post_form(
            "/oauth/locationToken",
            Some(agency),
            &[("companyId", &company), ("locationId", location)],
            now,
        )
    }

    fn installed(&mut self, agency: &str, extra: &str, now: u64) -> (u16, Value) {
        let url = format!(
            "/oauth/installedLocations?companyId={}&appId={}{extra}",
            self.s.company_id,
            self.s.app_id()
        );
        self.get(&url, agency, now)
    }
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

fn ids(v: &Value) -> Vec<String> {
    v["locations"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|l| text(&l["_id"]))
        .collect()
}

#[test]
fn the_code_flow_end_to_end_over_loopback() {
    let fake = MarketplaceFake::start(MarketplaceState::seeded(3, 5, 2)).unwrap();
    let url = fake.authorize_url(REDIRECT, SCOPE, Some("xyz 1"));
    assert!(url.starts_with(&format!(
        "{}/v2/oauth/chooselocation?response_type=code&",
        fake.marketplace_url()
    )));
    let back = consent_redirect(&url).unwrap();
    assert!(back.starts_with(&format!("{REDIRECT}?code=")), "{back}");
    assert!(back.ends_with("&state=xyz%201"), "state comes back: {back}");
    let (_, query) = split_url(&back);
    let code = query.iter().find(|(k, _)| k == "code").map(|(_, v)| v.clone()).unwrap();

    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .proxy(None)
        .build()
        .into();
    let base = fake.base_url().to_string();
    let call = |method: &str, path: &str, token: Option<&str>, form: Option<Vec<u8>>| -> (u16, Value) {
        let url = format!("{base}{path}");
        let mut resp = match form {
            Some(body) => {
                let mut req = agent.post(&url).header("Content-Type", FORM);
                if let Some(t) = token {
                    req = req
                        .header("Authorization", format!("Bearer {t}"))
                        .header(VERSION.0, VERSION.1);
                }
                req.send(body.as_slice()).unwrap()
            }
            None => {
                assert_eq!(method, "GET");
                let mut req = agent.get(&url).header(VERSION.0, VERSION.1);
                if let Some(t) = token {
                    req = req.header("Authorization", format!("Bearer {t}"));
                }
                req.call().unwrap()
            }
        };
        let status = resp.status().as_u16();
        let body = resp.body_mut().read_to_vec().unwrap_or_default();
        (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
    };
    let (id, secret) = {
        let s = fake.lock();
        (s.client_id.clone(), s.client_secret.clone())
    };
    let (status, t) = call(
        "POST",
        "/oauth/token",
        None,
        Some(form_body(&[
            ("client_id", &id),
            ("client_secret", &secret),
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("user_type", "Company"),
        ])),
    );
    assert_eq!(status, 200, "{t}");
    assert_eq!(t["userType"], "Company");
    assert_eq!(t["companyId"], DEMO_COMPANY_ID);
    assert_eq!(t["expires_in"], TOKEN_TTL_SECS);
    assert_eq!(t["approvedLocations"], json!(["loc00", "loc01"]));
    assert!(t.get("locationId").is_none());
    let agency = text(&t["access_token"]);
    assert!(!text(&t["refresh_token"]).is_empty());

    let path = format!(
        "/oauth/installedLocations?companyId={DEMO_COMPANY_ID}&appId=6501f2c3a1b2c3d4e5f60718&isInstalled=true"
    );
    let (status, listed) = call("GET", &path, Some(&agency), None);
    assert_eq!(
        (status, ids(&listed)),
        (200, vec!["loc00".to_string(), "loc01".to_string()])
    );

    let (status, sub) = call(
        "POST",
        "/oauth/locationToken",
        Some(&agency),
        Some(form_body(&[("companyId", DEMO_COMPANY_ID), ("locationId", "loc01")])),
    );
    assert_eq!(
        (status, &sub["userType"], &sub["locationId"]),
        (200, &json!("Location"), &json!("loc01"))
    );
    let sub = text(&sub["access_token"]);
    let (status, tags) = call(
        "GET",
        "/social-media-posting/loc01/tags?limit=10&skip=0",
        Some(&sub),
        None,
    );
    assert_eq!((status, tags["results"]["count"].clone()), (200, json!(5)));
    let (status, _) = call(
        "GET",
        "/social-media-posting/loc00/tags?limit=10&skip=0",
        Some(&sub),
        None,
    );
    assert_eq!(status, 403, "another location's token");
    let (status, _) = call(
        "GET",
        "/social-media-posting/loc01/tags?limit=10&skip=0",
        Some(&agency),
        None,
    );
    assert_eq!(status, 401, "the agency's token is not a sub-account's");

    let s = fake.lock();
    assert_eq!(s.location_token_calls, BTreeMap::from([("loc01".to_string(), 1)]));
    assert!(s.refusals.is_empty(), "{:?}", s.refusals);
    assert!(s.locations.values().all(|l| l.ghl.refusals.is_empty()));
    assert!(s.spent_reused.is_empty());
}

#[test]
fn a_code_is_single_use_bound_to_its_redirect_uri_and_expires() {
    let mut rig = Rig::new(MarketplaceState::seeded(1, 0, 1));
    let code = rig.code(NOW);
    assert_eq!(rig.exchange(&code, "Company", NOW).0, 200);
    let (status, e) = rig.exchange(&code, "Company", NOW + 1);
    assert_eq!((status, &e["error"]), (400, &json!("invalid_grant")), "{e}");
    assert_eq!(rig.s.codes_reused, vec![code]);

    // Another redirect_uri, then the right one: the code is not spent by
    // the refusal.
    let code = rig.code(NOW);
    let (id, secret) = (rig.s.client_id.clone(), rig.s.client_secret.clone());
    let elsewhere = [
        ("client_id", id.as_str()),
        ("client_secret", &secret),
        ("grant_type", "authorization_code"),
        ("code", &code),
        ("redirect_uri", "https://evil.example/cb"),
    ];
    assert_eq!(rig.post_form("/oauth/token", None, &elsewhere, NOW).0, 400);
    assert_eq!(
        rig.exchange(&code, "Location", NOW).0,
        400,
        "a Company consent is no Location token"
    );
    assert_eq!(rig.exchange(&code, "Company", NOW).0, 200);

    let code = rig.code(NOW);
    let late = NOW + rig.s.code_ttl_secs * 1000;
    assert_eq!(rig.exchange(&code, "Company", late).0, 400, "expired");
    assert_eq!(rig.exchange("never-issued", "Company", NOW).0, 400);

    let wrong_secret = [
        ("client_id", id.as_str()),
        ("client_secret", "guess"),
        ("grant_type", "authorization_code"),
        ("code", &code),
        ("redirect_uri", REDIRECT),
    ];
    let (status, e) = rig.post_form("/oauth/token", None, &wrong_secret, NOW);
    assert_eq!((status, &e["error"]), (401, &json!("invalid_client")));
    assert_eq!(rig.s.code_exchanges, 2);
    assert!(rig.s.refusals.is_empty(), "{:?}", rig.s.refusals);
}

#[test]
fn refresh_rotates_and_a_spent_refresh_token_is_refused_and_recorded() {
    let mut rig = Rig::new(MarketplaceState::seeded(1, 0, 1));
    let (first_access, first) = rig.agency(NOW);
    let (status, t) = rig.refresh(&first, "Company", NOW + 1000);
    assert_eq!((status, &t["userType"]), (200, &json!("Company")), "{t}");
    let second = text(&t["refresh_token"]);
    assert_ne!(second, first);
    assert_ne!(text(&t["access_token"]), first_access);

    let (status, e) = rig.refresh(&first, "Company", NOW + 2000);
    assert_eq!((status, &e["error"]), (400, &json!("invalid_grant")));
    assert_eq!(rig.s.spent_reused, vec![first.clone()]);

    // A user_type of the other kind is refused and spends nothing.
    assert_eq!(rig.refresh(&second, "Location", NOW + 3000).0, 400);
    let (status, t) = rig.refresh(&second, "Company", NOW + 3000);
    assert_eq!(status, 200, "{t}");
    assert_eq!(rig.s.refreshes, 2);
    assert_eq!(rig.s.spent_reused.len(), 1);

    // The new access token works where the agency's does.
    let (status, _) = rig.installed(&text(&t["access_token"]), "", NOW + 3000);
    assert_eq!(status, 200);
    assert!(rig.s.refusals.is_empty(), "{:?}", rig.s.refusals);
}

#[test]
fn installed_locations_page_and_filter() {
    let mut rig = Rig::new(MarketplaceState::seeded(7, 0, 5));
    let (agency, _) = rig.agency(NOW);
    let mut seen = Vec::new();
    for skip in [0, 2, 4, 6] {
        let (status, page) = rig.installed(&agency, &format!("&isInstalled=true&skip={skip}&limit=2"), NOW);
        assert_eq!((status, &page["count"]), (200, &json!(5)), "{page}");
        assert_eq!(page["installToFutureLocations"], false);
        seen.extend(ids(&page));
    }
    assert_eq!(seen, ["loc00", "loc01", "loc02", "loc03", "loc04"]);

    let (_, page) = rig.installed(&agency, "", NOW);
    assert_eq!(
        (ids(&page).len(), &page["count"]),
        (7, &json!(7)),
        "no filter: every location"
    );
    let first = &page["locations"][0];
    assert_eq!(
        (&first["isInstalled"], &first["installedAt"]),
        (&json!(true), &json!("2024-01-15T10:30:00Z"))
    );
    assert!(page["locations"][6].get("installedAt").is_none());
    let (_, page) = rig.installed(&agency, "&isInstalled=false", NOW);
    assert_eq!(ids(&page), ["loc05", "loc06"]);
    let (_, page) = rig.installed(&agency, "&query=SUB-ACCOUNT%203", NOW);
    assert_eq!(ids(&page), ["loc03"]);

    rig.s.install("loc06", NOW);
    assert!(rig.s.uninstall("loc00"));
    let (_, page) = rig.installed(&agency, "&isInstalled=true", NOW);
    assert_eq!(ids(&page), ["loc01", "loc02", "loc03", "loc04", "loc06"]);

    // Another company, the client id for the app id, a sub-account token,
    // an agency token without oauth.readonly.
    let url = format!("/oauth/installedLocations?companyId=other&appId={}", rig.s.app_id());
    assert_eq!(rig.get(&url, &agency, NOW).0, 401);
    let url = format!(
        "/oauth/installedLocations?companyId={}&appId={}",
        rig.s.company_id, rig.s.client_id
    );
    assert_eq!(rig.get(&url, &agency, NOW).0, 400);
    let (_, sub) = rig.location_token(&agency, "loc01", NOW);
    assert_eq!(rig.installed(&text(&sub["access_token"]), "", NOW).0, 401);
    let narrow = rig
        .s
        .issue_access(&Subject::Company(rig.s.company_id.clone()), "oauth.write", 60, NOW);
    assert_eq!(rig.installed(&narrow, "", NOW).0, 401);
    assert_eq!(rig.installed("nonsense", "", NOW).0, 401);
    assert!(rig.s.refusals.is_empty(), "{:?}", rig.s.refusals);
}

#[test]
fn location_tokens_for_installed_locations_only() {
    let mut rig = Rig::new(MarketplaceState::seeded(5, 2, 3));
    let (agency, _) = rig.agency(NOW);
    let (status, t) = rig.location_token(&agency, "loc02", NOW);
    assert_eq!(status, 200, "{t}");
    assert_eq!(
        (&t["userType"], &t["locationId"], &t["companyId"]),
        (&json!("Location"), &json!("loc02"), &json!(DEMO_COMPANY_ID))
    );
    assert_eq!(t["appId"], "6501f2c3a1b2c3d4e5f60718");
    assert_eq!(t["expires_in"], TOKEN_TTL_SECS);
    assert!(
        t.get("refresh_token").is_none(),
        "oauth.json names no refresh token: {t}"
    );
    assert!(
        !text(&t["scope"]).contains("oauth."),
        "the agency's scopes stay the agency's: {t}"
    );

    let (status, e) = rig.location_token(&agency, "loc04", NOW);
    assert_eq!((status, &e["statusCode"]), (400, &json!(400)), "not installed: {e}");
    assert_eq!(rig.location_token(&agency, "nowhere", NOW).0, 400);
    let other = [("companyId", "otherCo"), ("locationId", "loc02")];
    let (status, e) = rig.post_form("/oauth/locationToken", Some(&agency), &other, NOW);
    assert_eq!(
        (status, &e["message"]),
        (401, &json!("The token does not have access to this company."))
    );
    let sub = text(&t["access_token"]);
    assert_eq!(
        rig.location_token(&sub, "loc02", NOW).0,
        401,
        "a sub-account token cannot exchange"
    );
    let narrow = rig
        .s
        .issue_access(&Subject::Company(rig.s.company_id.clone()), "oauth.readonly", 60, NOW);
    assert_eq!(
        rig.location_token(&narrow, "loc02", NOW).0,
        401,
        "oauth.write is needed"
    );
    assert_eq!(
        rig.s.location_token_calls,
        BTreeMap::from([("loc02".into(), 4), ("loc04".into(), 1), ("nowhere".into(), 1)])
    );
    assert!(rig.s.refusals.is_empty(), "{:?}", rig.s.refusals);
}

#[test]
fn a_sub_account_token_reads_only_its_own_location_until_it_expires() {
    let mut rig = Rig::new(MarketplaceState::seeded(2, 3, 2));
    rig.s.location_token_ttl_secs = 60;
    let (agency, _) = rig.agency(NOW);
    let (_, t) = rig.location_token(&agency, "loc00", NOW);
    assert_eq!(t["expires_in"], 60);
    let sub = text(&t["access_token"]);
    let tags = "/social-media-posting/loc00/tags?limit=10&skip=0";
    assert_eq!(rig.get(tags, &sub, NOW).0, 200);
    assert_eq!(
        rig.get("/social-media-posting/loc01/tags?limit=10&skip=0", &sub, NOW).0,
        403
    );
    let stats_elsewhere = rig.json(
        "POST",
        "/social-media-posting/statistics?locationId=loc01",
        &[
            VERSION,
            ("Authorization", &format!("Bearer {sub}")),
            ("Content-Type", "application/json"),
        ],
        br#"{"profileIds":["p"]}"#.to_vec(),
        NOW,
    );
    assert_eq!(stats_elsewhere.0, 403);
    assert_eq!(rig.get("/social-media-posting/nowhere/tags", &sub, NOW).0, 403);
    assert_eq!(
        rig.get(tags, "pit-loc00", NOW).0,
        200,
        "the location's own token still works"
    );
    assert_eq!(rig.get(tags, &sub, NOW + 60_000).0, 401, "expired");
    assert_eq!(rig.s.location_tokens("loc00", NOW), vec![sub.as_str()]);

    let (_, t) = rig.location_token(&agency, "loc00", NOW);
    let sub = text(&t["access_token"]);
    rig.s.expire_location_tokens();
    assert_eq!(rig.get(tags, &sub, NOW).0, 401);
    assert_eq!(
        rig.installed(&agency, "", NOW).0,
        200,
        "the agency's token is not a sub-account's"
    );

    // A fault of the location's own Social Planner ends its token too.
    let (_, t) = rig.location_token(&agency, "loc00", NOW);
    let sub = text(&t["access_token"]);
    let next = rig.s.locations["loc00"].ghl.api_calls + 1;
    rig.s
        .locations
        .get_mut("loc00")
        .unwrap()
        .ghl
        .fault_at(next, GhlFault::ExpireToken);
    assert_eq!(rig.get(tags, &sub, NOW).0, 401);

    let (_, t) = rig.location_token(&agency, "loc00", NOW);
    let sub = text(&t["access_token"]);
    assert!(rig.s.uninstall("loc00"));
    assert_eq!(rig.get(tags, &sub, NOW).0, 401, "an uninstall revokes");
    assert_eq!(rig.location_token(&agency, "loc00", NOW).0, 400);
    assert!(rig.s.refusals.is_empty(), "{:?}", rig.s.refusals);
    assert!(rig.s.locations.values().all(|l| l.ghl.refusals.is_empty()));
}

#[test]
fn sub_account_refresh_tokens_rotate_when_the_v3_answer_is_chosen() {
    let mut state = MarketplaceState::seeded(1, 1, 1);
    state.location_refresh = LocationRefresh::Rotating;
    let mut rig = Rig::new(state);
    let (agency, _) = rig.agency(NOW);
    let (status, t) = rig.location_token(&agency, "loc00", NOW);
    assert_eq!(status, 200);
    let first = text(&t["refresh_token"]);
    assert!(!first.is_empty(), "{t}");

    assert_eq!(
        rig.refresh(&first, "Company", NOW).0,
        400,
        "a sub-account's token is no Company grant"
    );
    let (status, t) = rig.refresh(&first, "Location", NOW);
    assert_eq!(
        (status, &t["userType"], &t["locationId"]),
        (200, &json!("Location"), &json!("loc00")),
        "{t}"
    );
    assert_ne!(text(&t["refresh_token"]), first);
    assert_eq!(
        rig.get("/social-media-posting/loc00/accounts", &text(&t["access_token"]), NOW)
            .0,
        200
    );
    assert_eq!(rig.refresh(&first, "Location", NOW).0, 400);
    assert_eq!(rig.s.spent_reused, vec![first]);
}

#[test]
fn the_consent_page_checks_its_query_and_consents_as_configured() {
    let mut rig = Rig::new(MarketplaceState::seeded(4, 2, 1));
    let bad = [
        format!("/v2/oauth/chooselocation?response_type=code&redirect_uri={REDIRECT}&client_id=nobody&scope=x"),
        format!("/v2/oauth/chooselocation?response_type=code&client_id={DEMO_CLIENT_ID}&scope=x"),
        format!(
            "/v2/oauth/chooselocation?response_type=token&redirect_uri={REDIRECT}&client_id={DEMO_CLIENT_ID}&scope=x"
        ),
        format!("/v2/oauth/chooselocation?response_type=code&redirect_uri={REDIRECT}&client_id={DEMO_CLIENT_ID}"),
    ];
    for url in &bad {
        let r = rig.send("GET", url, &[], Vec::new(), NOW);
        assert_eq!(r.status, 400, "{url}");
        assert!(r.headers.iter().any(|(_, v)| v.starts_with("text/html")));
    }
    assert_eq!(rig.s.refusals.len(), bad.len());
    assert!(
        rig.s.refusals[0].contains("No integration found with the ID: nobody"),
        "{:?}",
        rig.s.refusals
    );
    rig.s.refusals.clear();

    rig.s.consent_as = Consent::Deny;
    let r = rig.consent(Some("s1"), NOW);
    let location = r.headers.iter().find(|(k, _)| k == "Location").map(|(_, v)| v.as_str());
    assert_eq!(
        (r.status, location),
        (302, Some(&*format!("{REDIRECT}?error=access_denied&state=s1")))
    );
    assert!(rig.s.codes.is_empty());

    rig.s.consent_as = Consent::Location("loc03".into());
    let code = rig.code(NOW);
    assert!(
        rig.s.locations["loc03"].installed,
        "consenting as a location installs the app there"
    );
    assert_eq!(rig.exchange(&code, "Company", NOW).0, 400);
    let (status, t) = rig.exchange(&code, "Location", NOW);
    assert_eq!(
        (status, &t["userType"], &t["locationId"]),
        (200, &json!("Location"), &json!("loc03")),
        "{t}"
    );
    let token = text(&t["access_token"]);
    assert_eq!(rig.get("/social-media-posting/loc03/tags", &token, NOW).0, 200);
    assert_eq!(rig.get("/social-media-posting/loc00/tags", &token, NOW).0, 403);
    assert_eq!(rig.installed(&token, "", NOW).0, 401, "a Location token lists nothing");

    rig.s.consent_as = Consent::Location("nowhere".into());
    assert_eq!(rig.consent(None, NOW).status, 400);
    assert!(rig.s.refusals.iter().all(|r| r.contains("nowhere")));
}

#[test]
fn requests_the_spec_would_not_accept_are_refused_and_recorded() {
    let mut rig = Rig::new(MarketplaceState::seeded(1, 0, 1));
    let (agency, _) = rig.agency(NOW);
    let json_body = rig.send(
        "POST",
        "/oauth/token",
        &[("Content-Type", "application/json")],
        br#"{"client_id":"a","client_secret":"b","grant_type":"refresh_token"}"#.to_vec(),
        NOW,
    );
    assert_eq!(json_body.status, 422);
    let fields = [
        ("client_id", "a"),
        ("client_secret", "b"),
        ("grant_type", "refresh_token"),
        ("scope", "x"),
    ];
    assert_eq!(rig.post_form("/oauth/token", None, &fields, NOW).0, 422);
    let no_version = rig.send(
        "POST",
        "/oauth/locationToken",
        &[("Content-Type", FORM), ("Authorization", &format!("Bearer {agency}"))],
        form_body(&[("companyId", DEMO_COMPANY_ID), ("locationId", "loc00")]),
        NOW,
    );
    assert_eq!(no_version.status, 422);
    let (status, e) = rig.get(
        &format!("/oauth/installedLocations?appId={}", rig.s.app_id()),
        &agency,
        NOW,
    );
    assert_eq!((status, &e["error"]), (422, &json!("Unprocessable Entity")));
    assert_eq!(rig.get("/oauth/nothing", &agency, NOW).0, 404);
    assert_eq!(rig.s.refusals.len(), 5, "{:?}", rig.s.refusals);
    assert!(
        rig.s.refusals[2].contains("`Version` is required"),
        "{:?}",
        rig.s.refusals
    );
    assert!(
        rig.s.location_token_calls.is_empty(),
        "a refused request reaches no operation"
    );
}

fn verify_ed25519(key: &ed25519_dalek::VerifyingKey, body: &[u8], sig: &str) -> bool {
    let Ok(bytes) = BASE64.decode(sig) else { return false };
    let Ok(sig) = ed25519_dalek::Signature::from_slice(&bytes) else {
        return false;
    };
    key.verify(body, &sig).is_ok()
}

fn verify_rsa(key: &rsa::RsaPublicKey, body: &[u8], sig: &str) -> bool {
    use rsa::signature::Verifier as _;
    let Ok(bytes) = BASE64.decode(sig) else { return false };
    let Ok(sig) = rsa::pkcs1v15::Signature::try_from(bytes.as_slice()) else {
        return false;
    };
    rsa::pkcs1v15::VerifyingKey::<sha2::Sha256>::new(key.clone())
        .verify(body, &sig)
        .is_ok()
}

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;

#[test]
fn webhooks_are_signed_over_their_exact_bytes() {
    let s = MarketplaceState::seeded(2, 0, 2);
    // The verifiers read the public keys as a service's configuration would.
    let ed = ed25519_dalek::VerifyingKey::from_public_key_pem(s.webhook_keys.ed25519_public_key_pem()).unwrap();
    let raw = BASE64.decode(s.webhook_keys.ed25519_public_key_base64()).unwrap();
    assert_eq!(raw.as_slice(), ed.as_bytes());
    assert!(s
        .webhook_keys
        .ed25519_public_key_spki_base64()
        .starts_with("MCowBQYDK2VwAyEA"));
    let rsa_key = rsa::RsaPublicKey::from_public_key_pem(s.webhook_keys.rsa_public_key_pem()).unwrap();

    let w = s.webhook(s.install_event("loc01"));
    assert_eq!(w.header("content-type"), Some("application/json"));
    let (ghl, wh) = (
        w.header("x-ghl-signature").unwrap(),
        w.header("x-wh-signature").unwrap(),
    );
    assert!(verify_ed25519(&ed, &w.body, ghl));
    assert!(verify_rsa(&rsa_key, &w.body, wh));
    let payload = w.payload().unwrap();
    assert!(
        payload["timestamp"].as_str().is_some_and(|t| t.starts_with("20")),
        "{payload}"
    );
    assert!(w.webhook_id().is_some());
    assert_ne!(s.webhook(s.install_event("loc01")).webhook_id(), w.webhook_id());

    // Sign one body, send another.
    let tampered = w
        .clone()
        .with_body(String::from_utf8(w.body.clone()).unwrap().replace("loc01", "loc00"));
    assert!(!verify_ed25519(&ed, &tampered.body, ghl));
    assert!(!verify_rsa(&rsa_key, &tampered.body, wh));
    // One byte of whitespace is another body.
    let mut spaced = w.body.clone();
    spaced.push(b' ');
    assert!(!verify_ed25519(&ed, &spaced, ghl));
    let forged = w.clone().with_forged_ed25519().with_forged_rsa();
    assert!(!verify_ed25519(
        &ed,
        &forged.body,
        forged.header("x-ghl-signature").unwrap()
    ));
    assert!(!verify_rsa(
        &rsa_key,
        &forged.body,
        forged.header("x-wh-signature").unwrap()
    ));
    assert!(w
        .clone()
        .without_header("x-ghl-signature")
        .header("x-ghl-signature")
        .is_none());

    // Given `timestamp` and `webhookId` are kept; an old time makes a stale
    // webhook that is still validly signed.
    let given = s.webhook(json!({"type": "UNINSTALL", "timestamp": "2025-01-28T14:35:00Z", "webhookId": "abc123xyz"}));
    assert_eq!(given.webhook_id().as_deref(), Some("abc123xyz"));
    assert_eq!(given.payload().unwrap()["timestamp"], "2025-01-28T14:35:00Z");
    let stale = s.webhook_at(s.uninstall_event("loc00"), NOW);
    assert_eq!(stale.payload().unwrap()["timestamp"], crate::fakes::ghl::iso(NOW));
    assert!(verify_ed25519(
        &ed,
        &stale.body,
        stale.header("x-ghl-signature").unwrap()
    ));

    // After a rotation the old keys no longer verify.
    let mut rotated = s.clone();
    rotated.webhook_keys = WebhookKeys::test_rotated();
    let r = rotated.webhook(rotated.agency_install_event());
    assert!(!verify_ed25519(&ed, &r.body, r.header("x-ghl-signature").unwrap()));
    assert!(!verify_rsa(&rsa_key, &r.body, r.header("x-wh-signature").unwrap()));
    assert!(verify_ed25519(
        &rotated.webhook_keys.ed25519_verifying_key(),
        &r.body,
        r.header("x-ghl-signature").unwrap()
    ));
    assert!(verify_rsa(
        &rotated.webhook_keys.rsa_public_key(),
        &r.body,
        r.header("x-wh-signature").unwrap()
    ));
}

#[test]
fn the_committed_public_keys_are_those_of_the_private_keys() {
    for (keys, pair) in [
        (WebhookKeys::test(), "primary"),
        (WebhookKeys::test_rotated(), "rotated"),
    ] {
        let file =
            |name: &str| std::fs::read_to_string(format!("{TEST_KEYS_DIR}/webhook-{name}-{pair}.pub.pem")).unwrap();
        assert_eq!(file("rsa").trim(), keys.rsa_public_key_pem().trim());
        assert_eq!(file("ed25519").trim(), keys.ed25519_public_key_pem().trim());
    }
    assert_ne!(
        WebhookKeys::test().ed25519_public_key_base64(),
        WebhookKeys::test_rotated().ed25519_public_key_base64()
    );
}

#[test]
fn app_event_payloads_follow_the_docs() {
    let s = MarketplaceState::seeded(3, 0, 3);
    let app = "6501f2c3a1b2c3d4e5f60718";
    let e = s.install_event("loc01");
    assert_eq!(
        (&e["type"], &e["appId"], &e["locationId"]),
        (&json!("INSTALL"), &json!(app), &json!("loc01"))
    );
    assert_eq!(
        (&e["companyId"], &e["userId"]),
        (&json!(DEMO_COMPANY_ID), &json!(s.user_id))
    );
    let e = s.agency_install_event();
    assert_eq!(
        e,
        json!({"type": "INSTALL", "appId": app, "companyId": DEMO_COMPANY_ID})
    );
    let e = s.bulk_install_event(&["loc00", "loc02"]);
    assert_eq!(e["locationIds"], json!(["loc00", "loc02"]));
    assert!(e.get("locationId").is_none());
    let e = s.future_location_install_event("loc02");
    assert!(e.get("companyId").is_none() && e.get("userId").is_none());
    assert_eq!(
        s.uninstall_event("loc00"),
        json!({"type": "UNINSTALL", "appId": app, "locationId": "loc00"})
    );
    assert_eq!(
        s.agency_uninstall_event(),
        json!({"type": "UNINSTALL", "appId": app, "companyId": DEMO_COMPANY_ID})
    );
}

#[test]
fn send_webhook_posts_the_exact_bytes_and_headers() {
    use std::sync::{Arc, Mutex};
    let seen: Arc<Mutex<Vec<FakeRequest>>> = Arc::default();
    let keep = seen.clone();
    let receiver = FakeServer::start(move |req| {
        keep.lock().unwrap().push(req);
        FakeResponse::json(200, &json!({"ok": true})).into()
    })
    .unwrap();
    let fake = MarketplaceFake::start(MarketplaceState::seeded(1, 0, 1)).unwrap();
    let w = fake.signed(|s| s.install_event("loc00"));
    let reply = send_webhook(&format!("{}/webhooks/ghl", receiver.base_url), &w).unwrap();
    assert_eq!(reply.status, 200);
    let got = seen.lock().unwrap().pop().unwrap();
    assert_eq!((got.method.as_str(), got.url.as_str()), ("POST", "/webhooks/ghl"));
    assert_eq!(got.body, w.body);
    for name in ["x-ghl-signature", "x-wh-signature", "content-type"] {
        assert_eq!(got.header(name), w.header(name), "{name}");
    }
}
