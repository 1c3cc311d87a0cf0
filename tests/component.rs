//! Component tests: the real release `.wasm`, in wasmtime, with a scripted
//! in-memory host (HTTP answered by closures, time virtual). They assert the
//! exact requests the component makes and the typed results it returns.

use ghl_rankr_host::http::{Method, Request, Response, TransportError};
use ghl_rankr_host::imports::Env;
use ghl_rankr_host::types::{
    Service, Settings, StatsRequest, SyncError, SyncFailure, SyncReport, TagDetailsEvent, TagSyncEvent,
};
use ghl_rankr_tests::{body, engine, header, reply, scripted, scripted_in_order, settings, GHL, RANKR};
use serde_json::{json, Value};

fn tag(i: usize) -> Value {
    json!({"_id": format!("t{i:03}"), "tag": format!("Tag {i}"), "locationId": "loc/1", "createdBy": "u1",
           "deleted": i == 7, "createdAt": "2024-03-01T10:00:00.000Z", "updatedAt": "2024-03-02T10:00:00.000Z"})
}

/// GHL with 250 tags (pages of at most 100) and post p1 tagged t001, t249;
/// Rankr creating every tag but `Tag 13`.
fn happy(r: &Request) -> Result<Response, TransportError> {
    let url = r.url.as_str();
    if let Some(q) = url.strip_prefix(&format!("{GHL}/social-media-posting/loc%2F1/tags?")) {
        let skip: usize = q.split("skip=").nth(1).unwrap().parse().unwrap();
        let tags: Vec<Value> = (skip..(skip + 100).min(250)).map(tag).collect();
        return reply(
            200,
            json!({"success": true, "statusCode": 200, "message": "Fetched Tags by Location ID", "results": {"tags": tags, "count": 250}}),
        );
    }
    if url == format!("{GHL}/social-media-posting/loc%2F1/posts/p1") {
        return reply(
            200,
            json!({"success": true, "statusCode": 200, "message": "Fetched Post", "results": {"post": {"_id": "p1", "tags": ["t001", "t249"]}}}),
        );
    }
    if url == format!("{RANKR}/v1/tags/batch-upsert") {
        let results: Vec<Value> = body(r)["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                if t["name"] == "Tag 13" {
                    json!({"externalId": t["externalId"], "status": "rejected", "error": "name is reserved in this workspace"})
                } else {
                    json!({"externalId": t["externalId"], "id": "rk1", "status": "created"})
                }
            })
            .collect();
        return reply(200, json!({ "results": results }));
    }
    if url == format!("{RANKR}/v1/posts/p1/tags") {
        return reply(
            200,
            json!({"postExternalId": "p1", "tagCount": body(r)["tagExternalIds"].as_array().unwrap().len()}),
        );
    }
    reply(404, json!({"title": "Not Found", "status": 404}))
}

/// `tag-sync` of a whole location, no post, with the default settings.
fn tag_sync_location(env: &Env, location: &str) -> anyhow::Result<Result<SyncReport, SyncFailure>> {
    tag_sync_with(env, &settings(), location)
}

/// `tag-sync` of a whole location, no post.
fn tag_sync_with(env: &Env, settings: &Settings, location: &str) -> anyhow::Result<Result<SyncReport, SyncFailure>> {
    let event = TagSyncEvent {
        location_id: location.into(),
        post_id: None,
        tag_ids: None,
        full_pass: false,
    };
    engine().tag_sync(env, settings, &event, None)
}

#[test]
fn the_release_wasm_is_a_component_exporting_the_operations_and_describe() {
    let wasm = ghl_rankr_artifact::COMPONENT;
    let engine = wasmtime::Engine::default();
    let component = wasmtime::component::Component::new(&engine, wasm).unwrap();
    let ty = component.component_type();
    let exports: Vec<&str> = ty.exports(&engine).map(|(n, _)| n).collect();
    assert_eq!(exports, vec!["rankr:ghl-connector/sync@0.7.0"]);
    let sync = ty.get_export(&engine, "rankr:ghl-connector/sync@0.7.0").unwrap();
    let wasmtime::component::types::ComponentItem::ComponentInstance(sync) = sync.ty else {
        panic!("sync is not an instance");
    };
    let mut funcs: Vec<&str> = sync
        .exports(&engine)
        .filter(|(_, e)| matches!(e.ty, wasmtime::component::types::ComponentItem::ComponentFunc(_)))
        .map(|(n, _)| n)
        .collect();
    funcs.sort();
    assert_eq!(
        funcs,
        vec![
            "check",
            "describe",
            "new-posts",
            "posts-published",
            "stats-sync",
            "tag-details-push",
            "tag-sync"
        ]
    );
    let imports: Vec<&str> = ty.imports(&engine).map(|(n, _)| n).collect();
    assert!(imports.contains(&"rankr:ghl-connector/http@0.7.0"), "{imports:?}");
    assert!(imports.contains(&"rankr:ghl-connector/host@0.7.0"), "{imports:?}");
    // No sockets, no HTTP, no clocks, no files of its own: everything goes
    // through the two connector imports. (std's HashMap seeds itself from
    // wasi:random/insecure-seed, which is kept: ids come from servers.)
    for forbidden in ["wasi:sockets", "wasi:http", "wasi:clocks", "wasi:filesystem"] {
        assert!(
            !imports.iter().any(|i| i.starts_with(forbidden)),
            "the component imports {forbidden}: {imports:?}"
        );
    }
}

/// A post `p1` in location `loc/1`, its tags to be read from GHL.
fn post_p1() -> TagSyncEvent {
    TagSyncEvent {
        location_id: "loc/1".into(),
        post_id: Some("p1".into()),
        tag_ids: None,
        full_pass: false,
    }
}

/// One at a time (`max-in-flight` 1): each wave is one page and one batch,
/// so pages and batches interleave: page, batch, page, batch...
#[test]
fn tag_sync_one_at_a_time_interleaves_pages_and_batches() {
    let (env, transport, _) = scripted_in_order(happy);
    let event = post_p1();
    let mut one = settings();
    one.max_in_flight = Some(1);
    let report = engine().tag_sync(&env, &one, &event, None).unwrap().unwrap();
    let seq: Vec<(Method, String)> = transport.requests().iter().map(|r| (r.method, r.url.clone())).collect();
    let tags_url = |skip: u32| format!("{GHL}/social-media-posting/loc%2F1/tags?limit=100&skip={skip}");
    let batch = (Method::Post, format!("{RANKR}/v1/tags/batch-upsert"));
    assert_eq!(
        seq,
        vec![
            (Method::Get, format!("{GHL}/social-media-posting/loc%2F1/posts/p1")),
            (Method::Get, tags_url(0)),
            batch.clone(),
            (Method::Get, tags_url(100)),
            batch.clone(),
            (Method::Get, tags_url(200)),
            batch.clone(),
            (Method::Put, format!("{RANKR}/v1/posts/p1/tags")),
        ]
    );
    // The same outcome as the concurrent run below.
    let (env2, _, _) = scripted(happy);
    let concurrent = engine().tag_sync(&env2, &settings(), &event, None).unwrap().unwrap();
    assert_eq!(
        (
            report.fetched,
            report.created,
            report.archived,
            report.post_tags_applied,
            report.requests
        ),
        (
            concurrent.fetched,
            concurrent.created,
            concurrent.archived,
            concurrent.post_tags_applied,
            concurrent.requests
        )
    );
}

/// Page 1 alone (it tells the count), then the rest together with page
/// 1's batch, then the last batches together.
#[test]
fn tag_sync_makes_exactly_the_expected_requests() {
    let (env, transport, _) = scripted(happy);
    let event = post_p1();
    let report = engine().tag_sync(&env, &settings(), &event, None).unwrap().unwrap();
    let requests = transport.requests();
    let mut seq: Vec<(Method, String)> = requests.iter().map(|r| (r.method, r.url.clone())).collect();
    let tags_url = |skip: u32| format!("{GHL}/social-media-posting/loc%2F1/tags?limit=100&skip={skip}");
    let batch = (Method::Post, format!("{RANKR}/v1/tags/batch-upsert"));
    // Page 1's batch, pages 2 and 3 go at once: the host may perform them
    // in any order.
    seq[2..5].sort_by(|a, b| a.1.cmp(&b.1));
    assert_eq!(
        seq,
        vec![
            (Method::Get, format!("{GHL}/social-media-posting/loc%2F1/posts/p1")),
            (Method::Get, tags_url(0)),
            (Method::Get, tags_url(100)),
            (Method::Get, tags_url(200)),
            batch.clone(),
            batch.clone(),
            batch.clone(),
            (Method::Put, format!("{RANKR}/v1/posts/p1/tags")),
        ]
    );
    for r in &requests {
        if r.url.starts_with(GHL) {
            assert_eq!(header(r, "Authorization"), Some("Bearer pit-secret-1"));
            assert_eq!(header(r, "Version"), Some("2021-07-28"));
            assert_eq!(header(r, "Accept"), Some("application/json"));
            assert!(r.body.is_none());
        } else {
            assert_eq!(header(r, "Authorization"), Some("Bearer rk-secret-2"));
            assert_eq!(header(r, "Content-Type"), Some("application/json"));
        }
        assert_eq!(r.timeout_ms, 30_000);
    }
    // Page 1's batch (sent with pages 2 and 3, in any order).
    let first = requests
        .iter()
        .filter(|r| r.url.ends_with("/batch-upsert"))
        .map(body)
        .find(|b| b["items"][0]["externalId"] == "t000")
        .expect("page 1's batch");
    assert_eq!(first["items"].as_array().unwrap().len(), 100);
    assert_eq!(
        first["items"][7],
        json!({"externalId": "t007", "source": "ghl", "locationId": "loc/1", "name": "Tag 7", "archived": true,
               "sourceCreatedAt": "2024-03-01T10:00:00.000Z", "sourceUpdatedAt": "2024-03-02T10:00:00.000Z",
               "attributes": {"createdBy": "u1"}})
    );
    let batches: Vec<&Request> = requests.iter().filter(|r| r.url.ends_with("/batch-upsert")).collect();
    let mut sizes: Vec<usize> = batches
        .iter()
        .map(|r| body(r)["items"].as_array().unwrap().len())
        .collect();
    sizes.sort();
    assert_eq!(sizes, vec![50, 100, 100]);
    let keys: Vec<&str> = batches.iter().map(|r| header(r, "Idempotency-Key").unwrap()).collect();
    assert!(
        keys[0] != keys[1] && keys[1] != keys[2] && keys[0] != keys[2],
        "{keys:?}"
    );
    assert!(keys.iter().all(|k| !k.is_empty() && k.len() <= 255));
    assert_eq!(
        body(&requests[7]),
        json!({"source": "ghl", "locationId": "loc/1", "tagExternalIds": ["t001", "t249"]})
    );

    assert_eq!(
        (report.fetched, report.created, report.rejected, report.archived),
        (250, 249, 1, 1)
    );
    assert_eq!(report.errors.len(), 1);
    assert_eq!(report.errors[0].item, "t013");
    assert_eq!(report.errors[0].service, Service::Rankr);
    assert_eq!(report.errors[0].message, "name is reserved in this workspace");
    assert_eq!(report.post_tags_applied, Some(2));
    assert_eq!((report.requests, report.retries), (8, 0));
}

#[test]
fn unauthorized_is_typed_and_not_retried() {
    let (env, transport, _) = scripted(|_| {
        reply(
            401,
            json!({"statusCode": 401, "message": "Invalid token: access token is invalid", "error": "Unauthorized"}),
        )
    });
    let e = tag_sync_location(&env, "loc").unwrap().unwrap_err().error;
    match e {
        SyncError::Unauthorized(u) => {
            assert_eq!(u.service, Service::Ghl);
            assert_eq!(u.status, 401);
            assert_eq!(u.endpoint, "GET /social-media-posting/{locationId}/tags");
            assert_eq!(u.message, "Invalid token: access token is invalid");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(transport.requests().len(), 1);
}

#[test]
fn unprocessable_carries_the_servers_messages() {
    let (env, transport, _) = scripted(|_| {
        reply(
            422,
            json!({"statusCode": 422, "message": ["tagIds must be an array", "tagIds should not be empty"], "error": "Unprocessable Entity"}),
        )
    });
    let e = engine()
        .tag_details_push(
            &env,
            &settings(),
            &TagDetailsEvent {
                location_id: "loc".into(),
                tag_ids: vec!["a".into(), "b".into()],
            },
            None,
        )
        .unwrap()
        .unwrap_err()
        .error;
    let SyncError::Upstream(u) = e else { panic!("{e:?}") };
    assert_eq!(u.status, 422);
    assert_eq!(u.message, "tagIds must be an array; tagIds should not be empty");
    let requests = transport.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].method, Method::Post);
    assert_eq!(requests[0].url, format!("{GHL}/social-media-posting/loc/tags/details"));
    assert_eq!(body(&requests[0]), json!({"tagIds": ["a", "b"]}));
    assert_eq!(header(&requests[0], "Content-Type"), Some("application/json"));
}

#[test]
fn server_errors_are_retried_with_backoff_in_virtual_time() {
    let (env, transport, clock) = scripted(|r| {
        if r.url.starts_with(RANKR) {
            reply(
                500,
                json!({"title": "Internal Server Error", "status": 500, "detail": "database unavailable"}),
            )
        } else {
            happy(r)
        }
    });
    let e = engine()
        .tag_sync(
            &env,
            &settings(),
            &TagSyncEvent {
                location_id: "loc/1".into(),
                post_id: None,
                tag_ids: None,
                full_pass: false,
            },
            None,
        )
        .unwrap()
        .unwrap_err()
        .error;
    let SyncError::Upstream(u) = e else { panic!("{e:?}") };
    assert_eq!((u.service, u.status), (Service::Rankr, 500));
    assert_eq!(u.message, "Internal Server Error: database unavailable");
    let writes: Vec<Request> = transport
        .requests()
        .into_iter()
        .filter(|r| r.url.starts_with(RANKR))
        .collect();
    assert_eq!(writes.len(), 5, "5 attempts by default");
    let key = header(&writes[0], "Idempotency-Key").unwrap().to_string();
    assert!(
        writes
            .iter()
            .all(|w| header(w, "Idempotency-Key") == Some(key.as_str())),
        "retries reuse the key"
    );
    assert!(
        clock.slept_ms() <= 500 + 1000 + 2000 + 4000,
        "full jitter stays under the ceilings: {}",
        clock.slept_ms()
    );
}

#[test]
fn malformed_json_is_an_invalid_response_naming_the_field() {
    let (env, _, _) = scripted(|_| reply(200, json!({"success": true, "results": {"tags": [], "count": "lots"}})));
    let e = tag_sync_location(&env, "loc").unwrap().unwrap_err().error;
    let SyncError::InvalidResponse(i) = e else {
        panic!("{e:?}")
    };
    assert_eq!(i.service, Service::Ghl);
    assert_eq!(i.endpoint, "GET /social-media-posting/{locationId}/tags");
    assert_eq!(i.field, "results.count");

    let (env, _, _) = scripted(|_| {
        Ok(Response {
            status: 200,
            headers: vec![],
            body: b"{\"results\": {\"tags\": [{\"_id\": \"a\"".to_vec(),
        })
    });
    let e = tag_sync_location(&env, "loc").unwrap().unwrap_err().error;
    assert!(matches!(e, SyncError::InvalidResponse(_)), "{e:?}");
}

#[test]
fn stats_sync_requests_and_points() {
    let (env, transport, _) = scripted(|r| {
        if r.url.starts_with(&format!("{GHL}/social-media-posting/statistics")) {
            let spec: Value = serde_json::from_str(include_str!("../spec/social-media-posting.json")).unwrap();
            let example = spec["paths"]["/social-media-posting/statistics"]["post"]["responses"]["201"]["content"]
                ["application/json"]["schema"]["example"]
                .clone();
            return reply(201, example);
        }
        let n = body(r)["points"].as_array().unwrap().len();
        reply(200, json!({"accepted": n, "created": n, "updated": 0}))
    });
    let request = StatsRequest {
        location_id: "loc".into(),
        profile_ids: vec!["67a5a9aa776c837de4aa5b12".into()],
        platforms: vec!["google".into()],
        dashboard_id: "dash/1".into(),
        as_of: Some("2026-03-01".into()),
        per_profile: false,
    };
    let report = engine().stats_sync(&env, &settings(), &request, None).unwrap().unwrap();
    let requests = transport.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(
        requests[0].url,
        format!("{GHL}/social-media-posting/statistics?locationId=loc")
    );
    assert_eq!(
        body(&requests[0]),
        json!({"profileIds": ["67a5a9aa776c837de4aa5b12"], "platforms": ["google"]})
    );
    assert_eq!(
        requests[1].url,
        format!("{RANKR}/v1/dashboards/dash%2F1/metrics/batch-upsert")
    );
    assert!(header(&requests[1], "Idempotency-Key").is_some());
    let points = body(&requests[1])["points"].as_array().unwrap().clone();
    assert_eq!(report.fetched as usize, points.len());
    assert_eq!(report.created as usize, points.len());
    let mut days: Vec<&str> = points
        .iter()
        .filter(|p| p["metric"] == "platform_totals.followers")
        .map(|p| {
            assert_eq!(p["scope"], "location:loc/platform:google");
            p["timestamp"].as_str().unwrap()
        })
        .collect();
    days.sort();
    // 2026 is not a leap year: the window is Feb 23 .. Mar 1.
    assert_eq!(
        days,
        vec![
            "2026-02-23T00:00:00Z",
            "2026-02-24T00:00:00Z",
            "2026-02-25T00:00:00Z",
            "2026-02-26T00:00:00Z",
            "2026-02-27T00:00:00Z",
            "2026-02-28T00:00:00Z",
            "2026-03-01T00:00:00Z"
        ]
    );
    let total = points.iter().find(|p| p["metric"] == "totals.followers").unwrap();
    assert_eq!(
        total,
        &json!({"scope": "location:loc", "metric": "totals.followers", "timestamp": "2026-03-02T00:00:00Z", "value": 0.0})
    );
}

#[test]
fn dry_run_writes_nothing() {
    let (env, transport, _) = scripted(happy);
    let mut s = settings();
    s.dry_run = true;
    let report = engine()
        .tag_sync(
            &env,
            &s,
            &TagSyncEvent {
                location_id: "loc/1".into(),
                post_id: Some("p1".into()),
                tag_ids: Some(vec!["t003".into()]),
                // Every page, so that the dry run plans every batch.
                full_pass: true,
            },
            None,
        )
        .unwrap()
        .unwrap();
    assert!(transport.requests().iter().all(|r| r.url.starts_with(GHL)));
    assert_eq!(report.writes.len(), 4);
    assert!(report.writes.iter().all(|w| !w.body.is_empty()));
    assert_eq!(report.post_tags_applied, Some(1));
}

#[test]
fn bad_settings_are_refused_before_any_request() {
    let (env, transport, _) = scripted(happy);
    let mut s = settings();
    s.tag_mapping = vec![ghl_rankr_host::types::MappingRow {
        source: "title".into(),
        target: "name".into(),
        transforms: vec![],
    }];
    let e = tag_sync_with(&env, &s, "loc").unwrap().unwrap_err().error;
    let SyncError::InvalidConfig(m) = e else {
        panic!("{e:?}")
    };
    assert!(m.contains("row 1") && m.contains("`title`"), "{m}");
    let mut s = settings();
    s.ghl_base_url = "http://services.leadconnectorhq.com".into();
    let e = tag_sync_with(&env, &s, "loc").unwrap().unwrap_err().error;
    assert!(
        matches!(&e, SyncError::InvalidConfig(m) if m.contains("https")),
        "{e:?}"
    );
    assert!(transport.requests().is_empty());
}

#[test]
fn hostile_answers_never_trap_the_component() {
    let bodies: Vec<Vec<u8>> = vec![
        vec![],
        b"null".to_vec(),
        b"{\"results\": {\"tags\": [1, null, {\"_id\": []}], \"count\": 1e308}}".to_vec(),
        b"{\"results\": {\"tags\": [{\"_id\": \"a\", \"tag\": \"x\"}], \"count\": 99999999999}}".to_vec(),
        vec![0xff; 4096],
        "{\"results\":".repeat(2000).into_bytes(),
    ];
    for b in bodies {
        for status in [200, 201, 302, 401, 429, 503] {
            let b = b.clone();
            let (env, _, _) = scripted(move |_| {
                Ok(Response {
                    status,
                    headers: vec![],
                    body: b.clone(),
                })
            });
            let r = engine().tag_sync(
                &env,
                &settings(),
                &TagSyncEvent {
                    location_id: "l".into(),
                    post_id: Some("p".into()),
                    tag_ids: None,
                    full_pass: false,
                },
                None,
            );
            assert!(r.is_ok(), "the component trapped: {r:?}");
            let req = StatsRequest {
                location_id: "l".into(),
                profile_ids: vec!["p".into()],
                platforms: vec![],
                dashboard_id: "d".into(),
                as_of: None,
                per_profile: false,
            };
            assert!(engine().stats_sync(&env, &settings(), &req, None).is_ok());
        }
    }
}
