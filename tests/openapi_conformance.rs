//! The GHL requests the component makes, checked against HighLevel's official
//! OpenAPI file (`spec/social-media-posting.json`): the component runs over
//! real HTTP against the fake GHL, which refuses anything the spec would not
//! accept, and every recorded request is checked again here.

use ghl_rankr_host::clock::SystemClock;
use ghl_rankr_host::engine::ConnectorEngine;
use ghl_rankr_host::imports::Env;
use ghl_rankr_host::transport::UreqTransport;
use ghl_rankr_host::types::{Settings, StatsRequest, TagDetailsEvent, TagSyncEvent};
use ghl_rankr_testkit::fakes::ghl::{DEMO_LOCATION, DEMO_POST};
use ghl_rankr_testkit::fakes::openapi::{split_url, OpenApi};
use ghl_rankr_testkit::fakes::{GhlFake, GhlState, RankrFake, RankrState};
use std::sync::Arc;

/// The fakes on loopback, the embedded component, real HTTP.
fn setup(tags: usize) -> (GhlFake, RankrFake, &'static ConnectorEngine, Env, Settings) {
    let ghl = GhlFake::start(GhlState::seeded("tok", DEMO_LOCATION, tags)).unwrap();
    let rankr = RankrFake::start(RankrState::new("key")).unwrap();
    let engine = ghl_rankr_tests::engine();
    let env = Env {
        transport: Arc::new(UreqTransport::direct(std::time::Duration::from_secs(30))),
        clock: Arc::new(SystemClock::default()),
        tokens: None,
        captured_logs: None,
        progress: None,
    };
    let settings = ghl_rankr_testkit::settings(ghl.base_url(), "tok", rankr.base_url(), "key");
    (ghl, rankr, engine, env, settings)
}

#[test]
fn every_ghl_request_matches_the_official_spec() {
    let (ghl, _rankr, engine, env, settings) = setup(230);
    engine
        .tag_sync(
            &env,
            &settings,
            &TagSyncEvent {
                location_id: DEMO_LOCATION.into(),
                post_id: Some(DEMO_POST.into()),
                tag_ids: None,
                full_pass: false,
            },
            None,
        )
        .unwrap()
        .unwrap();
    engine
        .tag_details_push(
            &env,
            &settings,
            &TagDetailsEvent {
                location_id: DEMO_LOCATION.into(),
                tag_ids: vec!["tag00001".into(), "tag00009".into()],
            },
            None,
        )
        .unwrap()
        .unwrap();
    for platforms in [vec![], vec!["facebook".to_string(), "tiktok".to_string()]] {
        let request = StatsRequest {
            location_id: DEMO_LOCATION.into(),
            profile_ids: vec!["67a5a9aa776c837de4aa5b12".into()],
            platforms,
            dashboard_id: "d1".into(),
            as_of: Some("2026-11-28".into()),
            per_profile: false,
        };
        engine.stats_sync(&env, &settings, &request, None).unwrap().unwrap();
    }

    let state = ghl.state.lock().unwrap();
    assert!(state.refusals.is_empty(), "the fake GHL refused: {:#?}", state.refusals);
    let spec = OpenApi::ghl();
    let mut operations = std::collections::BTreeSet::new();
    for r in &state.requests {
        let (path, query) = split_url(&r.url);
        let body = (!r.body.is_empty()).then_some(r.body.as_slice());
        let matched = spec
            .check(&r.method, &path, &query, &r.headers, body)
            .unwrap_or_else(|p| panic!("{} {} does not match the spec: {p:?}", r.method, r.url));
        operations.insert(matched.operation_id);
        assert_eq!(r.header("authorization"), Some("Bearer tok"));
    }
    assert_eq!(
        operations.into_iter().collect::<Vec<_>>(),
        vec![
            "get-post",
            "get-social-media-statistics",
            "get-tags-by-ids",
            "get-tags-location-id"
        ]
    );
}

#[test]
fn the_spec_check_does_refuse_what_the_spec_forbids() {
    // A control: the same check must fail on requests the spec does not allow.
    let spec = OpenApi::ghl();
    let h = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
    };
    let version = ("Version", "2021-07-28");
    let json = ("Content-Type", "application/json");
    type Case<'a> = (
        &'a str,
        &'a str,
        &'a str,
        Vec<(&'a str, &'a str)>,
        Vec<(&'a str, &'a str)>,
        Option<&'a [u8]>,
    );
    let cases: Vec<Case> = vec![
        (
            "no version",
            "GET",
            "/social-media-posting/l/tags",
            vec![("limit", "1")],
            vec![],
            None,
        ),
        (
            "wrong version",
            "GET",
            "/social-media-posting/l/tags",
            vec![],
            vec![("Version", "2021-04-15")],
            None,
        ),
        (
            "wrong method",
            "GET",
            "/social-media-posting/statistics",
            vec![("locationId", "l")],
            vec![version],
            None,
        ),
        (
            "no location",
            "POST",
            "/social-media-posting/statistics",
            vec![],
            vec![version, json],
            Some(br#"{"profileIds":["p"]}"#),
        ),
    ];
    for (name, method, path, query, headers, body) in cases {
        assert!(
            spec.check(method, path, &h(&query), &h(&headers), body).is_err(),
            "{name} was accepted"
        );
    }
}

#[test]
fn ghl_requests_carry_exactly_one_accept_and_no_empty_body() {
    let (ghl, _rankr, engine, env, settings) = setup(5);
    engine
        .tag_sync(
            &env,
            &settings,
            &TagSyncEvent {
                location_id: DEMO_LOCATION.into(),
                post_id: None,
                tag_ids: None,
                full_pass: false,
            },
            None,
        )
        .unwrap()
        .unwrap();
    let state = ghl.state.lock().unwrap();
    let (headers, body) = (&state.requests[0].headers, &state.requests[0].body);
    let accepts: Vec<&str> = headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("accept"))
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(accepts, vec!["application/json"], "{headers:?}");
    assert!(body.is_empty());
    assert!(
        !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("content-length")),
        "{headers:?}"
    );
}
