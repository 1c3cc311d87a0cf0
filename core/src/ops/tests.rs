//! Unit tests of the operations over the scripted host.

use super::*;
use crate::io::{Method, Request, Response, TransportError};
use crate::report::Service;
use crate::secret::Secret;
use crate::testing::{header, json, path, query, ScriptedHost};
use serde_json::{json as j, Value};

fn settings() -> SettingsInput {
    SettingsInput {
        ghl_base_url: "https://ghl.test".into(),
        ghl_credential: crate::auth::Credential::ApiKey(Secret::new("ghl-token-xyz")),
        rankr_base_url: "https://rankr.test".into(),
        rankr_api_key: Secret::new("rankr-key-xyz"),
        ..Default::default()
    }
}

fn tag(i: usize) -> Value {
    j!({"_id": format!("t{i}"), "tag": format!(" Tag {i} "), "locationId": "loc", "createdBy": "u",
        "deleted": i == 3, "createdAt": "2024-01-01T00:00:00.000Z", "updatedAt": "2024-01-02T00:00:00.000Z"})
}

/// GHL with `n` tags serving at most `cap` a page, and a Rankr that
/// creates everything; post `p1` has tags t0 and t5.
fn world(n: usize, cap: usize) -> impl FnMut(&Request) -> Result<Response, TransportError> {
    move |r: &Request| {
        let p = path(&r.url);
        match (r.method, p) {
            (Method::Get, "/social-media-posting/loc/tags") => {
                let limit: usize = query(&r.url, "limit").unwrap().parse().unwrap();
                let skip: usize = query(&r.url, "skip").unwrap().parse().unwrap();
                let tags: Vec<Value> = (skip..n.min(skip + limit.min(cap))).map(tag).collect();
                json(
                    200,
                    j!({"success": true, "statusCode": 200, "message": "ok", "results": {"tags": tags, "count": n}}),
                )
            }
            (Method::Post, "/social-media-posting/loc/tags/details") => {
                let body: Value = serde_json::from_slice(r.body.as_ref().unwrap()).unwrap();
                let tags: Vec<Value> = body["tagIds"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter_map(|id| id.as_str()?.strip_prefix('t')?.parse::<usize>().ok())
                    .filter(|i| *i < n)
                    .map(tag)
                    .collect();
                let count = tags.len();
                json(
                    200,
                    j!({"success": true, "statusCode": 200, "message": "ok", "results": {"tags": tags, "count": count}}),
                )
            }
            (Method::Get, "/social-media-posting/loc/posts/p1") => json(
                200,
                j!({"success": true, "statusCode": 200, "message": "ok", "results": {"post": {"tags": ["t0", "t5"]}}}),
            ),
            (Method::Post, "/v1/tags/batch-upsert") => {
                let body: Value = serde_json::from_slice(r.body.as_ref().unwrap()).unwrap();
                let results: Vec<Value> = body["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|t| {
                        if t["name"] == "Tag 2" {
                            j!({"externalId": t["externalId"], "status": "rejected", "error": "name is reserved"})
                        } else {
                            j!({"externalId": t["externalId"], "id": "x", "status": "created"})
                        }
                    })
                    .collect();
                json(200, j!({"results": results}))
            }
            (Method::Put, "/v1/posts/p1/tags") => {
                let body: Value = serde_json::from_slice(r.body.as_ref().unwrap()).unwrap();
                json(
                    200,
                    j!({"postExternalId": "p1", "tagCount": body["tagExternalIds"].as_array().unwrap().len()}),
                )
            }
            _ => json(404, j!({"title": "Not Found", "status": 404})),
        }
    }
}

#[test]
fn tag_sync_reads_every_page_even_when_pages_are_short() {
    let mut host = ScriptedHost::new(world(250, 40));
    let event = TagSyncEvent {
        location_id: "loc".into(),
        post_id: Some("p1".into()),
        tag_ids: None,
        full_pass: false,
    };
    let report = tag_sync(&mut host, &settings(), &event, None).unwrap();
    let pages: Vec<(String, String)> = host
        .requests
        .iter()
        .filter(|r| path(&r.url) == "/social-media-posting/loc/tags")
        .map(|r| {
            (
                query(&r.url, "limit").unwrap().to_string(),
                query(&r.url, "skip").unwrap().to_string(),
            )
        })
        .collect();
    // The server caps pages at 40 although 100 was asked: skip follows what came.
    let expected: Vec<(String, String)> = (0..7).map(|i| ("100".to_string(), (i * 40).to_string())).collect();
    assert_eq!(pages, expected);
    assert_eq!(report.fetched, 250);
    assert_eq!(report.created, 249);
    assert_eq!(report.rejected, 1);
    assert_eq!(report.errors[0].item, "t2");
    assert_eq!(report.errors[0].service, Service::Rankr);
    assert_eq!(report.archived, 1);
    assert_eq!(report.post_tags_applied, Some(2));
    // post, 7 pages, 3 batches (100, 100, 50), put.
    assert_eq!(report.requests, 1 + 7 + 3 + 1);
    let batches: Vec<&Request> = host
        .requests
        .iter()
        .filter(|r| path(&r.url) == "/v1/tags/batch-upsert")
        .collect();
    let keys: std::collections::HashSet<&str> = batches.iter().map(|r| header(r, "idempotency-key").unwrap()).collect();
    assert_eq!(keys.len(), 3, "a fresh key per batch");
    let put = host.requests.last().unwrap();
    let body: Value = serde_json::from_slice(put.body.as_ref().unwrap()).unwrap();
    assert_eq!(
        body,
        j!({"source": "ghl", "locationId": "loc", "tagExternalIds": ["t0", "t5"]})
    );
}

#[test]
fn every_ghl_request_carries_the_required_headers() {
    let mut host = ScriptedHost::new(world(5, 100));
    sync_loc(&mut host).unwrap();
    for r in &host.requests {
        if r.url.starts_with("https://ghl.test") {
            assert_eq!(header(r, "authorization"), Some("Bearer ghl-token-xyz"));
            assert_eq!(header(r, "version"), Some("2021-07-28"));
            assert_eq!(header(r, "accept"), Some("application/json"));
        } else {
            assert_eq!(header(r, "authorization"), Some("Bearer rankr-key-xyz"));
        }
    }
}

#[test]
fn dry_run_reads_everything_and_writes_nothing() {
    let mut host = ScriptedHost::new(world(120, 100));
    let mut s = settings();
    s.dry_run = true;
    let event = TagSyncEvent {
        location_id: "loc".into(),
        post_id: Some("p1".into()),
        tag_ids: Some(vec!["t1".into()]),
        full_pass: true,
    };
    let report = tag_sync(&mut host, &s, &event, None).unwrap();
    assert!(host.requests.iter().all(|r| r.url.starts_with("https://ghl.test")));
    assert!(report.dry_run);
    assert_eq!(report.fetched, 120);
    assert_eq!(report.writes.len(), 3);
    let first: Value = serde_json::from_str(&report.writes[0].body).unwrap();
    assert_eq!(first["items"].as_array().unwrap().len(), 100);
    assert_eq!(first["items"][1]["name"], "Tag 1");
    assert_eq!(report.writes[2].method, Method::Put);
    assert_eq!(report.post_tags_applied, Some(1));
}

fn post_event(tag_ids: &[&str]) -> TagSyncEvent {
    TagSyncEvent {
        location_id: "loc".into(),
        post_id: Some("p1".into()),
        tag_ids: Some(tag_ids.iter().map(|t| t.to_string()).collect()),
        full_pass: false,
    }
}

/// (GHL requests, Rankr tag batches, post tag sets) a call made.
fn counts(host: &ScriptedHost<impl FnMut(&Request) -> Result<Response, TransportError>>) -> (usize, usize, usize) {
    let ghl = host
        .requests
        .iter()
        .filter(|r| r.url.starts_with("https://ghl.test"))
        .count();
    let batches = host
        .requests
        .iter()
        .filter(|r| path(&r.url) == "/v1/tags/batch-upsert")
        .count();
    let puts = host.requests.iter().filter(|r| r.method == Method::Put).count();
    (ghl, batches, puts)
}

#[test]
fn the_post_path_reads_only_the_posts_tags_and_shares_the_state_with_the_full_pass() {
    let mut host = ScriptedHost::new(world(250, 100));
    let report = tag_sync(&mut host, &settings(), &post_event(&["t0", "t5", "t0"]), None).unwrap();
    assert_eq!(counts(&host), (1, 1, 1), "one read, one batch, one tag set");
    assert_eq!((report.fetched, report.created), (2, 2));
    assert_eq!(report.post_tags_applied, Some(2));
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    // The full pass skips the two tags the post path wrote.
    let mut full = ScriptedHost::new(world(250, 100));
    let event = TagSyncEvent {
        location_id: "loc".into(),
        ..Default::default()
    };
    let report = tag_sync(&mut full, &settings(), &event, Some(&report.state)).unwrap();
    assert_eq!(report.fetched, 250);
    assert_eq!(report.skipped, 2);
    let written: Vec<String> = full
        .requests
        .iter()
        .filter(|r| path(&r.url) == "/v1/tags/batch-upsert")
        .flat_map(|r| {
            let body: Value = serde_json::from_slice(r.body.as_ref().unwrap()).unwrap();
            body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["externalId"].to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(
        !written.iter().any(|id| id == "\"t0\"" || id == "\"t5\""),
        "{written:?}"
    );
    // And the reverse: the post path after the full pass writes no tag.
    let mut again = ScriptedHost::new(world(250, 100));
    let report = tag_sync(&mut again, &settings(), &post_event(&["t0", "t6"]), Some(&report.state)).unwrap();
    assert_eq!(counts(&again), (1, 0, 1));
    assert_eq!(report.skipped, 2);
}

#[test]
fn a_missing_or_deleted_tag_is_an_item_error_and_the_rest_are_applied() {
    let mut host = ScriptedHost::new(world(10, 100));
    // t3 is deleted in GHL; t99 is not returned at all.
    let report = tag_sync(&mut host, &settings(), &post_event(&["t1", "t3", "t99"]), None).unwrap();
    let errors: Vec<(&str, &str)> = report
        .errors
        .iter()
        .map(|e| (e.item.as_str(), e.message.as_str()))
        .collect();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(
        errors[0].0 == "t99" && errors[0].1.contains("GHL returned no tag with this id"),
        "{errors:?}"
    );
    assert!(
        errors[1].0 == "t3" && errors[1].1.contains("deleted in GHL"),
        "{errors:?}"
    );
    let put = host.requests.iter().find(|r| r.method == Method::Put).unwrap();
    let body: Value = serde_json::from_slice(put.body.as_ref().unwrap()).unwrap();
    assert_eq!(body["tagExternalIds"], j!(["t1"]));
    assert_eq!(report.post_tags_applied, Some(1));
}

#[test]
fn full_pass_reads_every_page_even_with_the_posts_tags() {
    for (event_flag, settings_flag) in [(true, false), (false, true)] {
        let mut host = ScriptedHost::new(world(250, 100));
        let mut s = settings();
        s.full_pass = settings_flag;
        let mut event = post_event(&["t0"]);
        event.full_pass = event_flag;
        let report = tag_sync(&mut host, &s, &event, None).unwrap();
        assert_eq!(report.fetched, 250);
        assert_eq!(counts(&host).0, 3, "three pages");
    }
}

#[test]
fn retries_server_errors_in_virtual_time_and_keeps_the_key() {
    let mut calls = 0;
    let mut inner = world(3, 100);
    let mut host = ScriptedHost::new(move |r: &Request| {
        if path(&r.url) == "/v1/tags/batch-upsert" {
            calls += 1;
            if calls <= 2 {
                return Ok(Response {
                    status: 503,
                    headers: vec![("Retry-After".into(), "2".into())],
                    body: vec![],
                });
            }
        }
        inner(r)
    });
    let report = sync_loc(&mut host).unwrap();
    assert_eq!(report.retries, 2);
    assert_eq!(host.slept_ms, vec![2000, 2000]);
    let keys: Vec<&str> = host
        .requests
        .iter()
        .filter(|r| path(&r.url) == "/v1/tags/batch-upsert")
        .map(|r| header(r, "idempotency-key").unwrap())
        .collect();
    assert_eq!(keys.len(), 3);
    assert!(keys.iter().all(|k| *k == keys[0]), "a retry reuses its key");
}

#[test]
fn errors_are_typed_with_the_servers_message() {
    let mut host = ScriptedHost::new(|_: &Request| {
        json(
            401,
            j!({"statusCode": 401, "message": "Invalid token: access token is invalid", "error": "Unauthorized"}),
        )
    });
    let e = sync_loc(&mut host).unwrap_err();
    match e {
        SyncError::Unauthorized(u) => {
            assert_eq!(u.status, 401);
            assert_eq!(u.message, "Invalid token: access token is invalid");
            assert_eq!(u.endpoint, "GET /social-media-posting/{locationId}/tags");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(host.requests.len(), 1, "401 is not retried");

    let mut host =
        ScriptedHost::new(|_: &Request| json(422, j!({"statusCode": 422, "message": ["limit must be a number"]})));
    let e = sync_loc(&mut host).unwrap_err();
    assert!(
        matches!(&e, SyncError::Upstream(u) if u.status == 422 && u.message == "limit must be a number"),
        "{e:?}"
    );

    let mut host = ScriptedHost::new(|_: &Request| {
        Ok(Response {
            status: 200,
            headers: vec![],
            body: b"{\"results\": {\"tags\": [".to_vec(),
        })
    });
    let e = sync_loc(&mut host).unwrap_err();
    assert!(
        matches!(
            &e,
            SyncError::InvalidResponse {
                service: Service::Ghl,
                ..
            }
        ),
        "{e:?}"
    );

    let mut host = ScriptedHost::new(|_: &Request| Err(TransportError::Timeout));
    let e = sync_loc(&mut host).unwrap_err();
    assert!(matches!(&e, SyncError::Transport { .. }), "{e:?}");
    assert_eq!(host.requests.len(), 5, "timeouts are retried up to max-attempts");
}

#[test]
fn a_refused_certificate_fails_at_once_without_backoff() {
    let message = "the certificate of ghl.example:443 is signed by an unknown issuer";
    let mut host = ScriptedHost::new(|_: &Request| Err(TransportError::Tls(message.into())));
    let e = sync_loc(&mut host).unwrap_err();
    match &e {
        SyncError::Transport {
            service: Service::Ghl,
            message: m,
            ..
        } => assert!(m.contains(message) && m.contains("not retried"), "{m}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(host.requests.len(), 1, "one attempt");
    assert!(host.slept_ms.is_empty(), "no backoff: {:?}", host.slept_ms);
}

#[test]
fn bad_input_is_refused_before_any_request() {
    let mut host = ScriptedHost::new(world(3, 100));
    let mut s = settings();
    s.tag_mapping = vec![crate::mapping::MappingRow::new("tag", "name", vec![])];
    let e = tag_sync(
        &mut host,
        &s,
        &TagSyncEvent {
            location_id: "loc".into(),
            ..Default::default()
        },
        None,
    )
    .unwrap_err()
    .error;
    assert!(
        matches!(&e, SyncError::InvalidConfig(m) if m.contains("externalId")),
        "{e:?}"
    );
    let e = tag_sync(
        &mut host,
        &settings(),
        &TagSyncEvent {
            location_id: "..".into(),
            ..Default::default()
        },
        None,
    )
    .unwrap_err()
    .error;
    assert!(matches!(e, SyncError::InvalidConfig(_)));
    let e = tag_details_push(
        &mut host,
        &settings(),
        &TagDetailsEvent {
            location_id: "loc".into(),
            tag_ids: vec![],
        },
        None,
    )
    .unwrap_err()
    .error;
    assert!(matches!(e, SyncError::InvalidConfig(_)));
    let req = StatsRequest {
        location_id: "loc".into(),
        profile_ids: vec!["p".into()],
        platforms: vec!["myspace".into()],
        dashboard_id: "d".into(),
        as_of: None,
        per_profile: false,
    };
    let e = stats_sync(&mut host, &settings(), &req, None).unwrap_err().error;
    assert!(
        matches!(&e, SyncError::InvalidConfig(m) if m.contains("myspace")),
        "{e:?}"
    );
    assert!(host.requests.is_empty());
}

#[test]
fn tag_details_push_chunks_ids_and_reports_missing_ones() {
    let mut host = ScriptedHost::new(|r: &Request| match path(&r.url) {
        "/social-media-posting/loc/tags/details" => {
            let body: Value = serde_json::from_slice(r.body.as_ref().unwrap()).unwrap();
            let ids = body["tagIds"].as_array().unwrap();
            assert!(ids.len() <= 100);
            let tags: Vec<Value> = ids
                .iter()
                .filter(|id| id.as_str() != Some("t150"))
                .map(|id| tag(id.as_str().unwrap()[1..].parse().unwrap()))
                .collect();
            json(
                201,
                j!({"success": true, "statusCode": 201, "message": "ok", "results": {"tags": tags, "count": tags.len()}}),
            )
        }
        _ => {
            let body: Value = serde_json::from_slice(r.body.as_ref().unwrap()).unwrap();
            let results: Vec<Value> = body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| j!({"externalId": t["externalId"], "status": if t["archived"] == true { "updated" } else { "unchanged" }}))
                .collect();
            json(200, j!({"results": results}))
        }
    });
    let ids: Vec<String> = (0..250).map(|i| format!("t{i}")).chain(["t0".to_string()]).collect();
    let report = tag_details_push(
        &mut host,
        &settings(),
        &TagDetailsEvent {
            location_id: "loc".into(),
            tag_ids: ids,
        },
        None,
    )
    .unwrap();
    let detail_calls = host
        .requests
        .iter()
        .filter(|r| path(&r.url).ends_with("/details"))
        .count();
    assert_eq!(detail_calls, 3);
    assert_eq!(report.fetched, 249);
    assert_eq!(report.updated, 1);
    assert_eq!(report.archived, 1);
    assert_eq!(report.unchanged, 248);
    assert_eq!(report.rejected, 1);
    assert_eq!(report.errors[0].item, "t150");
}

#[test]
fn stats_sync_posts_points_for_the_seven_days_ending_as_of() {
    let spec: Value = serde_json::from_str(include_str!("../../../spec/social-media-posting.json")).unwrap();
    let example = spec["paths"]["/social-media-posting/statistics"]["post"]["responses"]["201"]["content"]
        ["application/json"]["schema"]["example"]
        .clone();
    let mut host = ScriptedHost::new(move |r: &Request| match path(&r.url) {
        "/social-media-posting/statistics" => {
            assert_eq!(query(&r.url, "locationId"), Some("loc"));
            let body: Value = serde_json::from_slice(r.body.as_ref().unwrap()).unwrap();
            assert_eq!(body, j!({"profileIds": ["p1"], "platforms": ["google"]}));
            json(201, example.clone())
        }
        "/v1/dashboards/dash%201/metrics/batch-upsert" => {
            let body: Value = serde_json::from_slice(r.body.as_ref().unwrap()).unwrap();
            let n = body["points"].as_array().unwrap().len();
            json(200, j!({"accepted": n, "created": n - 1, "updated": 1}))
        }
        other => panic!("unexpected {other}"),
    });
    let req = StatsRequest {
        location_id: "loc".into(),
        profile_ids: vec!["p1".into(), "p1".into()],
        platforms: vec!["google".into()],
        dashboard_id: "dash 1".into(),
        as_of: None,
        per_profile: false,
    };
    let report = stats_sync(&mut host, &settings(), &req, None).unwrap();
    assert_eq!(report.fetched, 73);
    assert_eq!(report.created, 72);
    assert_eq!(report.updated, 1);
    let body: Value = serde_json::from_slice(host.requests[1].body.as_ref().unwrap()).unwrap();
    let days: std::collections::BTreeSet<&str> = body["points"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["metric"] == "post_performance.impressions")
        .map(|p| p["timestamp"].as_str().unwrap())
        .collect();
    // The scripted clock reads 2026-11-28.
    assert_eq!(days.iter().next(), Some(&"2026-11-22T00:00:00Z"));
    assert_eq!(days.iter().last(), Some(&"2026-11-28T00:00:00Z"));
    assert_eq!(days.len(), 7);
}

#[test]
fn nothing_a_server_sends_panics() {
    let bodies: Vec<&[u8]> = vec![
        b"",
        b"null",
        b"[]",
        b"{\"results\": null}",
        b"{\"results\": {\"tags\": {}, \"count\": 1}}",
        b"{\"results\": {\"tags\": [1, \"x\", null, {\"_id\": 5}], \"count\": 1e300}}",
        b"{\"results\": {\"tags\": [], \"count\": -1}}",
        b"{\"results\": {\"post\": {\"tags\": [1]}}}",
        b"{\"results\": {\"postPerformance\": {\"likes\": [1,2,3,4,5,6,7,8,9,10]}}}",
        b"{\"results\": {\"platformTotals\": {\"likes\": {\"a/b\": {\"series\": [1]}}}}}",
        b"\xff\xfe",
    ];
    for body in bodies {
        for status in [200, 201, 400, 401, 403, 404, 409, 422, 429, 500, 302] {
            let body = body.to_vec();
            let mut host = ScriptedHost::new(move |_: &Request| {
                Ok(Response {
                    status,
                    headers: vec![],
                    body: body.clone(),
                })
            });
            let _ = tag_sync(
                &mut host,
                &settings(),
                &TagSyncEvent {
                    location_id: "loc".into(),
                    post_id: Some("p".into()),
                    tag_ids: None,
                    full_pass: false,
                },
                None,
            );
            let _ = tag_details_push(
                &mut host,
                &settings(),
                &TagDetailsEvent {
                    location_id: "loc".into(),
                    tag_ids: vec!["a".into()],
                },
                None,
            );
            let req = StatsRequest {
                location_id: "l".into(),
                profile_ids: vec!["p".into()],
                platforms: vec![],
                dashboard_id: "d".into(),
                as_of: Some("2026-01-01".into()),
                per_profile: false,
            };
            let _ = stats_sync(&mut host, &settings(), &req, None);
        }
    }
}

/// A Rankr tag batch answered `created` for every item.
fn rankr_creates_all(r: &Request) -> Result<Response, TransportError> {
    let body: Value = serde_json::from_slice(r.body.as_ref().unwrap()).unwrap();
    let results: Vec<Value> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| j!({"externalId": t["externalId"], "status": "created"}))
        .collect();
    json(200, j!({"results": results}))
}

fn sync_loc(host: &mut impl crate::io::Host) -> Result<SyncReport, SyncError> {
    let event = TagSyncEvent {
        location_id: "loc".into(),
        ..Default::default()
    };
    tag_sync(host, &settings(), &event, None).map_err(|f| f.error)
}

#[test]
fn a_server_that_ignores_skip_cannot_make_the_sync_loop() {
    let mut host = ScriptedHost::new(|r: &Request| {
        if path(&r.url) == "/social-media-posting/loc/tags" {
            let tags: Vec<Value> = (0..100).map(tag).collect();
            return json(200, j!({"results": {"tags": tags}}));
        }
        rankr_creates_all(r)
    });
    let e = sync_loc(&mut host).unwrap_err();
    assert!(
        matches!(&e, SyncError::InvalidResponse { field, .. } if field == "results.tags"),
        "{e:?}"
    );
    assert_eq!(
        host.requests
            .iter()
            .filter(|r| path(&r.url) == "/social-media-posting/loc/tags")
            .count(),
        6,
        "the first page, then the stale page read max-attempts times"
    );
}

#[test]
fn without_a_count_paging_stops_on_a_short_page() {
    let mut host = ScriptedHost::new(|r: &Request| {
        if path(&r.url) == "/social-media-posting/loc/tags" {
            let skip: usize = query(&r.url, "skip").unwrap().parse().unwrap();
            let tags: Vec<Value> = (skip..(skip + 100).min(230)).map(tag).collect();
            return json(200, j!({"results": {"tags": tags}}));
        }
        rankr_creates_all(r)
    });
    let report = sync_loc(&mut host).unwrap();
    assert_eq!(report.fetched, 230);
    assert_eq!(
        host.requests
            .iter()
            .filter(|r| path(&r.url) == "/social-media-posting/loc/tags")
            .count(),
        3
    );
}

/// The `(Idempotency-Key, body)` of each Rankr batch a host received, in
/// order.
fn batches_sent(requests: &[Request]) -> Vec<(String, Vec<u8>)> {
    requests
        .iter()
        .filter(|r| path(&r.url).ends_with("/batch-upsert"))
        .map(|r| {
            (
                header(r, "idempotency-key").unwrap().to_string(),
                r.body.clone().unwrap(),
            )
        })
        .collect()
}

/// GHL with 250 tags, tag 0 renamed `name0`: the first batch's content
/// changes, the others' do not.
fn world_renamed(name0: &'static str) -> impl FnMut(&Request) -> Result<Response, TransportError> {
    let mut inner = world(250, 100);
    move |r: &Request| {
        let mut resp = inner(r)?;
        if path(&r.url) == "/social-media-posting/loc/tags" {
            let mut v: Value = serde_json::from_slice(&resp.body).unwrap();
            for t in v["results"]["tags"].as_array_mut().unwrap() {
                if t["_id"] == "t0" {
                    t["tag"] = j!(name0);
                }
            }
            resp.body = v.to_string().into_bytes();
        }
        Ok(resp)
    }
}

#[test]
fn a_call_sent_again_from_the_same_state_sends_the_same_batches_under_the_same_keys() {
    let event = TagSyncEvent {
        location_id: "loc".into(),
        ..Default::default()
    };
    // The same call with no state, twice (a crash before the host kept the
    // state the first returned): the same keys and bodies, so Rankr replays.
    let mut first = ScriptedHost::new(world(250, 100));
    let report = tag_sync(&mut first, &settings(), &event, None).unwrap();
    let mut again = ScriptedHost::new(world(250, 100));
    tag_sync(&mut again, &settings(), &event, None).unwrap();
    let sent = batches_sent(&first.requests);
    assert_eq!(sent.len(), 3);
    assert_eq!(sent, batches_sent(&again.requests));
    for (key, _) in &sent {
        assert!(
            !key.is_empty() && key.len() <= 255 && key.bytes().all(|b| b.is_ascii_graphic()),
            "{key}"
        );
    }
    // Keys within a call differ (each batch has its place).
    let keys: std::collections::HashSet<&String> = sent.iter().map(|(k, _)| k).collect();
    assert_eq!(keys.len(), 3);

    // A full refresh asks for every item to be written again: its writes
    // are new by intent, so two full refreshes from one state share no key.
    let state = report.state;
    let mut s = settings();
    s.full_refresh = true;
    let mut refresh = ScriptedHost::new(world(250, 100));
    tag_sync(&mut refresh, &s, &event, Some(&state)).unwrap();
    let mut refresh_again = ScriptedHost::new(world(250, 100));
    tag_sync(&mut refresh_again, &s, &event, Some(&state)).unwrap();
    let (refreshed, refreshed_again) = (batches_sent(&refresh.requests), batches_sent(&refresh_again.requests));
    assert_eq!(refreshed.len(), 3);
    for ((k1, b1), (k2, b2)) in refreshed.iter().zip(&refreshed_again) {
        assert_eq!(b1, b2, "the same content");
        assert_ne!(k1, k2, "a full refresh writes again under a new key");
    }
    assert!(refreshed.iter().all(|(k, _)| !keys.contains(k)));
    // An empty blob is a state as given too: not the same as none.
    let mut empty = ScriptedHost::new(world(250, 100));
    tag_sync(&mut empty, &settings(), &event, Some(b"")).unwrap();
    assert!(batches_sent(&empty.requests)
        .iter()
        .zip(&sent)
        .all(|(a, b)| a.0 != b.0 && a.1 == b.1));
}

#[test]
fn other_content_at_the_same_place_gets_another_key() {
    let event = TagSyncEvent {
        location_id: "loc".into(),
        ..Default::default()
    };
    let mut a = ScriptedHost::new(world_renamed("First"));
    tag_sync(&mut a, &settings(), &event, None).unwrap();
    let mut b = ScriptedHost::new(world_renamed("Second"));
    tag_sync(&mut b, &settings(), &event, None).unwrap();
    let (a, b) = (batches_sent(&a.requests), batches_sent(&b.requests));
    assert_eq!(a.len(), 3);
    assert_ne!(a[0].1, b[0].1);
    assert_ne!(a[0].0, b[0].0, "the first batch's content differs: a new key");
    assert_eq!(a[1..], b[1..], "the others are the same batches at the same places");
}

#[test]
fn metric_batches_keep_their_keys_across_a_resend_and_differ_by_dashboard_and_state() {
    let spec: Value = serde_json::from_str(include_str!("../../../spec/social-media-posting.json")).unwrap();
    let example = spec["paths"]["/social-media-posting/statistics"]["post"]["responses"]["201"]["content"]
        ["application/json"]["schema"]["example"]
        .clone();
    let run = |dashboard: &str, state: Option<&[u8]>| {
        let example = example.clone();
        let mut host = ScriptedHost::new(move |r: &Request| {
            if path(&r.url) == "/social-media-posting/statistics" {
                return json(201, example.clone());
            }
            let body: Value = serde_json::from_slice(r.body.as_ref().unwrap()).unwrap();
            let n = body["points"].as_array().unwrap().len();
            json(200, j!({"accepted": n, "created": n, "updated": 0}))
        });
        let req = StatsRequest {
            location_id: "loc".into(),
            profile_ids: vec!["p1".into()],
            platforms: vec![],
            dashboard_id: dashboard.into(),
            as_of: Some("2026-11-28".into()),
            per_profile: false,
        };
        let report = stats_sync(&mut host, &settings(), &req, state).unwrap();
        (batches_sent(&host.requests), report.state)
    };
    let (first, state) = run("dash", None);
    assert_eq!(first.len(), 1);
    assert_eq!(run("dash", None).0, first, "the same call again: the same key and body");
    let (other_dashboard, _) = run("dash-2", None);
    assert_ne!(other_dashboard[0].0, first[0].0);
    // From the state the first call returned, nothing changed: no write.
    assert!(run("dash", Some(&state)).0.is_empty());
}

#[test]
fn per_profile_statistics_read_each_profile_alone_and_write_under_its_own_scope() {
    let spec: Value = serde_json::from_str(include_str!("../../../spec/social-media-posting.json")).unwrap();
    let example = spec["paths"]["/social-media-posting/statistics"]["post"]["responses"]["201"]["content"]
        ["application/json"]["schema"]["example"]
        .clone();
    let mut host = ScriptedHost::new(move |r: &Request| {
        if path(&r.url) == "/social-media-posting/statistics" {
            return json(201, example.clone());
        }
        let body: Value = serde_json::from_slice(r.body.as_ref().unwrap()).unwrap();
        let n = body["points"].as_array().unwrap().len();
        json(200, j!({"accepted": n, "created": n, "updated": 0}))
    });
    let req = StatsRequest {
        location_id: "loc".into(),
        profile_ids: vec!["p1".into(), "p2".into()],
        platforms: vec![],
        dashboard_id: "d".into(),
        as_of: Some("2026-11-28".into()),
        per_profile: true,
    };
    stats_sync(&mut host, &settings(), &req, None).unwrap();
    let reads: Vec<Value> = host
        .requests
        .iter()
        .filter(|r| path(&r.url) == "/social-media-posting/statistics")
        .map(|r| serde_json::from_slice::<Value>(r.body.as_ref().unwrap()).unwrap()["profileIds"].clone())
        .collect();
    assert_eq!(reads, [j!(["p1"]), j!(["p2"])]);
    let scopes: std::collections::BTreeSet<String> = host
        .requests
        .iter()
        .filter(|r| path(&r.url).starts_with("/v1/dashboards/"))
        .flat_map(|r| {
            let body: Value = serde_json::from_slice(r.body.as_ref().unwrap()).unwrap();
            body["points"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["scope"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(
        scopes.iter().all(|s| s.starts_with("location:loc/profile:p")),
        "{scopes:?}"
    );
    assert!(scopes.contains("location:loc/profile:p1") && scopes.contains("location:loc/profile:p2"));
}
