//! Property tests over every parser that sees outside data, mirroring the
//! cargo-fuzz targets in `fuzz/`: GHL and Rankr answers (alone and through
//! the operations, the triggers and the check), `Retry-After` and
//! `X-RateLimit-*` headers, the mapping tables, and the state blob. None may
//! panic; the operations must end in a report or a typed error (the check
//! in a report); nothing allocates by a length a server claims.

use crate::client::error_message;
use crate::client::pace::{Budget, Pacer};
use crate::client::retry::parse_retry_after;
use crate::ghl::model::{GhlTag, PostEnvelope, StatisticsEnvelope, TagsEnvelope};
use crate::io::{Request, Response, TransportError};
use crate::json::parse;
use crate::mapping::{MappingRow, TagMapping, Transform};
use crate::rankr::model::{MetricBatchResponse, TagBatchResponse, TagListPage};
use crate::report::SyncError;
use crate::state;
use crate::testing::ScriptedHost;
use crate::{
    stats_sync, tag_details_push, tag_sync, Credential, Secret, Service, SettingsInput, StatsRequest, TagDetailsEvent,
    TagSyncEvent,
};
use proptest::prelude::*;
use serde_json::Value;

/// Keys the parsers look for, so generated JSON reaches deep code.
const KEYS: &[&str] = &[
    "_id",
    "tag",
    "locationId",
    "deleted",
    "createdAt",
    "updatedAt",
    "createdBy",
    "results",
    "tags",
    "count",
    "post",
    "totals",
    "postPerformance",
    "platformTotals",
    "breakdowns",
    "series",
    "total",
    "facebook",
    "likes",
    "title",
    "detail",
    "errors",
    "externalId",
    "status",
    "accepted",
    "created",
    "updated",
    "data",
    "nextCursor",
    "message",
];

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".{0,12}".prop_map(Value::String),
        prop::sample::select(KEYS).prop_map(|k| Value::String(k.to_string())),
    ];
    leaf.prop_recursive(5, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(KEYS), inner), 0..8)
                .prop_map(|kv| Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())),
        ]
    })
}

/// Raw bytes, or the JSON text of a generated value, or a cut of it.
fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..256),
        json_value().prop_map(|v| v.to_string().into_bytes()),
        (json_value(), any::<prop::sample::Index>()).prop_map(|(v, i)| {
            let t = v.to_string().into_bytes();
            let cut = i.index(t.len() + 1);
            t[..cut].to_vec()
        }),
    ]
}

fn settings() -> SettingsInput {
    SettingsInput {
        ghl_base_url: "https://ghl.test".into(),
        ghl_credential: Credential::ApiKey(Secret::new("pit-secret-1234")),
        rankr_base_url: "https://rankr.test".into(),
        rankr_api_key: Secret::new("rk-secret-1234"),
        archive_missing: true,
        ..Default::default()
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn answers_parse_or_fail_typed(b in body()) {
        for r in [
            parse::<TagsEnvelope>(Service::Ghl, "x", &b).err(),
            parse::<PostEnvelope>(Service::Ghl, "x", &b).err(),
            parse::<StatisticsEnvelope>(Service::Ghl, "x", &b).err(),
            parse::<GhlTag>(Service::Ghl, "x", &b).err(),
            parse::<TagBatchResponse>(Service::Rankr, "x", &b).err(),
            parse::<MetricBatchResponse>(Service::Rankr, "x", &b).err(),
            parse::<TagListPage>(Service::Rankr, "x", &b).err(),
            crate::ghl::read_tag_page("x", &b).err().map(|u| u.error),
            crate::ghl::read_post_page(&b).err().map(|u| u.error),
            crate::ghl::read_accounts(&b).err().map(|u| u.error),
        ].into_iter().flatten() {
            prop_assert!(!r.to_string().is_empty());
        }
        if let Ok(page) = crate::ghl::read_tag_page("x", &b) {
            for bad in page.tags.iter().filter_map(|t| t.as_ref().err()) {
                prop_assert!(!bad.item.is_empty() && !bad.why.is_empty());
            }
        }
        if let Ok(page) = crate::ghl::read_post_page(&b) {
            for bad in page.posts.iter().filter_map(|t| t.as_ref().err()) {
                prop_assert!(!bad.item.is_empty() && !bad.why.is_empty());
            }
        }
        // The JSON forms: read, or `invalid-config` saying why.
        for r in [
            crate::wire::parse_settings(&b).err(),
            crate::wire::parse_event(crate::wire::Operation::NewPosts, &b).err(),
            crate::wire::parse_event(crate::wire::Operation::StatsSync, &b).err(),
            crate::wire::parse_event(crate::wire::Operation::PostsPublished, &b).err(),
            crate::wire::parse_event(crate::wire::Operation::Check, &b).err(),
        ].into_iter().flatten() {
            prop_assert!(matches!(&r, SyncError::InvalidConfig(m) if !m.is_empty()), "{:?}", r);
        }
        let resp = Response { status: 422, headers: vec![], body: b };
        for service in [Service::Ghl, Service::Rankr] {
            let m = error_message(service, &resp);
            prop_assert!(!m.is_empty() && m.chars().count() <= 1001);
        }
    }

    #[test]
    fn retry_after_never_panics(v in ".{0,40}", now in any::<u64>()) {
        let _ = parse_retry_after(&v, now);
    }

    #[test]
    fn retry_after_seconds_are_exact(secs in 0u64..10_000_000) {
        prop_assert_eq!(parse_retry_after(&secs.to_string(), 0), Some(secs * 1000));
    }

    #[test]
    fn rate_limit_headers_and_pacing_stay_bounded(
        headers in prop::collection::vec((prop::sample::select(&[
            "X-RateLimit-Max", "X-RateLimit-Remaining", "X-RateLimit-Interval-Milliseconds",
            "X-RateLimit-Limit-Daily", "X-RateLimit-Daily-Remaining", "Retry-After"][..]),
            prop_oneof![any::<u64>().prop_map(|n| n.to_string()), ".{0,8}"]), 0..10),
        steps in prop::collection::vec(0u64..100_000, 1..40),
    ) {
        let resp = Response {
            status: 200,
            headers: headers.iter().map(|(k, v)| (k.to_string(), v.clone())).collect(),
            body: vec![],
        };
        let budget = Budget::from_response(&resp);
        let mut p = Pacer::default();
        let mut now = 1_000_000u64;
        for s in steps {
            now += s;
            if let Ok(w) = p.wait_ms(now) {
                // Never longer than one window (plus the margin) after now.
                let cap = budget.interval_ms.unwrap_or(0).saturating_add(1000);
                prop_assert!(w <= cap, "waited {} with {:?}", w, budget);
            }
            p.on_exchange(now);
            p.observe(&resp);
        }
    }

    #[test]
    fn mapping_tables_compile_or_say_why(
        rows in prop::collection::vec((
            prop_oneof![prop::sample::select(&["_id", "tag", "locationId", "createdBy", "deleted", "createdAt", "updatedAt"][..]).prop_map(String::from), ".{0,10}"],
            prop_oneof![prop::sample::select(&["externalId", "name", "locationId", "archived", "sourceCreatedAt", "attributes.x", "source"][..]).prop_map(String::from), ".{0,10}"],
            prop::collection::vec(prop_oneof![
                Just(Transform::Trim), Just(Transform::Lowercase), Just(Transform::Slugify),
                ".{0,5}".prop_map(Transform::Prefix), any::<u32>().prop_map(Transform::Truncate),
                (".{0,3}", ".{0,3}").prop_map(|(from, to)| Transform::Replace { from, to }),
                ".{0,5}".prop_map(Transform::Default),
            ], 0..4),
        ), 0..8),
        tag in json_value(),
    ) {
        let rows: Vec<MappingRow> = rows.into_iter().map(|(s, t, tr)| MappingRow { source: s, target: t, transforms: tr }).collect();
        match TagMapping::compile(&rows) {
            Err(why) => prop_assert!(!why.is_empty()),
            Ok(m) => {
                if let Ok(mut t) = serde_json::from_value::<GhlTag>(tag) {
                    if let Err(why) = m.apply(&mut t, "loc") {
                        prop_assert!(!why.is_empty());
                    }
                }
            }
        }
    }

    #[test]
    fn state_blobs_decode_or_say_why(b in body(), loc in ".{0,8}") {
        if let Err(why) = state::decode_tags(Some(&b), &loc) {
            prop_assert!(!why.is_empty());
        }
        if let Err(why) = state::decode_stats(Some(&b), &loc, "d") {
            prop_assert!(!why.is_empty());
        }
        if let Err(why) = state::decode_posts(Some(&b), &loc) {
            prop_assert!(!why.is_empty());
        }
        if let Err(why) = state::decode_published(Some(&b), &loc) {
            prop_assert!(!why.is_empty());
        }
    }

    #[test]
    fn state_round_trips(
        tags in prop::collection::btree_map(".{1,12}", (any::<u64>(), 0u32..5, prop::option::of(".{1,8}")), 0..50),
        pass in 0u32..5,
        skip in prop::option::of(any::<u64>()),
    ) {
        let mut s = state::decode_tags(None, "loc").unwrap();
        s.pass = pass;
        s.tags = tags
            .into_iter()
            .map(|(id, (content_hash, seen_in_pass, external_id))| {
                (id, state::TagEntry { content_hash, seen_in_pass, external_id })
            })
            .collect();
        s.checkpoint = skip.map(|skip| state::Checkpoint { skip, posts: vec![] });
        let back = state::decode_tags(Some(&state::encode_tags(&s)), "loc").unwrap();
        prop_assert_eq!(back, s);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// Whatever the servers answer, each operation ends in a report or a
    /// typed error, in bounded requests (a server claiming a huge `count`
    /// while serving nothing new cannot make it loop).
    #[test]
    fn operations_end_typed_whatever_servers_send(
        answers in prop::collection::vec((prop::sample::select(&[200u16, 201, 400, 401, 404, 409, 422, 429, 500, 503][..]), body()), 1..6),
        state_blob in prop::option::of(body()),
    ) {
        let mut i = 0usize;
        let script = answers.clone();
        let handler = move |_: &Request| -> Result<Response, TransportError> {
            let (status, b) = &script[i % script.len()];
            i += 1;
            Ok(Response { status: *status, headers: vec![("Retry-After".into(), "1".into())], body: b.clone() })
        };
        let mut host = ScriptedHost::new(handler);
        let blob = state_blob.as_deref();
        let event = TagSyncEvent { location_id: "loc".into(), post_id: Some("p".into()), tag_ids: None, full_pass: false };
        let _ = tag_sync(&mut host, &settings(), &event, blob);
        let ev = TagDetailsEvent { location_id: "loc".into(), tag_ids: vec!["a".into(), "b".into()] };
        let _ = tag_details_push(&mut host, &settings(), &ev, blob);
        let req = StatsRequest { location_id: "loc".into(), profile_ids: vec!["p".into()], platforms: vec![], dashboard_id: "d".into(), as_of: Some("2026-11-28".into()), per_profile: false };
        let _ = stats_sync(&mut host, &settings(), &req, blob);
        let discover = StatsRequest { profile_ids: vec![], ..req };
        let _ = stats_sync(&mut host, &settings(), &discover, blob);
        let poll = crate::NewPostsRequest { location_id: "loc".into(), ..Default::default() };
        let _ = crate::new_posts(&mut host, &settings(), &poll, blob);
        let backfill = crate::NewPostsRequest { backfill_since: Some("2026-01-01".into()), ..poll };
        let _ = crate::new_posts(&mut host, &settings(), &backfill, None);
        let published = crate::PublishedPostsRequest { location_id: "loc".into(), backfill_since: Some("2026-01-01".into()), ..Default::default() };
        let _ = crate::posts_published(&mut host, &settings(), &published, None);
        let _ = crate::posts_published(&mut host, &settings(), &crate::PublishedPostsRequest { backfill_since: None, ..published }, blob);
        // The check turns every answer into an item: it never fails on one.
        let probe = crate::CheckRequest { location_id: "loc".into(), operations: vec![], dashboard_id: Some("d".into()) };
        let report = crate::check(&mut host, &settings(), &probe);
        prop_assert!(report.is_ok(), "{:?}", report.err().map(|f| f.error));
        prop_assert!(host.requests.len() < 5_000, "{} requests", host.requests.len());
    }
}
