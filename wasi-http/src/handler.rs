//! One request, start to end: route, read the body (only for a route that
//! takes one), run the operation over a [`Host`], answer. The glue supplies
//! the body reader and the host; the unit tests supply their own.

use crate::answer::{HttpAnswer, RequestError};
use crate::call::{Call, CallError};
use crate::env::Env;
use crate::route::{self, Route};
use crate::MAX_BODY_BYTES;
use ghl_rankr_core::io::Host;
use ghl_rankr_core::wire::{self, Event};
use ghl_rankr_core::{catalog, SyncFailure};
use serde_json::json;

/// What a request says before its body.
pub struct Head<'a> {
    pub method: &'a str,
    pub path: &'a str,
    /// The `Authorization` header, if any.
    pub authorization: Option<&'a str>,
}

/// The answer to a request. `read_body(limit)` reads at most `limit` bytes
/// of the body, or says it is longer; `host` is made only when an operation
/// runs.
pub fn serve<H: Host>(
    head: &Head<'_>,
    read_body: impl FnOnce(u64) -> Result<Vec<u8>, RequestError>,
    host: impl FnOnce() -> H,
    env: &Env,
) -> HttpAnswer {
    if let Some(token) = env.token() {
        let presented = head.authorization.and_then(|h| h.strip_prefix("Bearer ")).unwrap_or("");
        if !constant_time_eq::constant_time_eq(presented.as_bytes(), token.as_bytes()) {
            return RequestError::Unauthorized.answer();
        }
    }
    match route::route(head.method, head.path) {
        Err(e) => RequestError::from(e).answer(),
        Ok(Route::Index) => HttpAnswer::json(200, &json!({ "name": "ghl-rankr-connector", "routes": route::all() })),
        Ok(Route::Describe) => HttpAnswer::json(200, &catalog::document()),
        Ok(Route::Run(operation)) => match read_body(MAX_BODY_BYTES) {
            Err(e) => e.answer(),
            Ok(body) => match Call::parse(operation, &body, env) {
                Err(CallError::Request(e)) => e.answer(),
                Err(CallError::Invalid(error)) => HttpAnswer::failure(&SyncFailure {
                    error,
                    state: None,
                    rotated_tokens: None,
                }),
                Ok(call) => run(&mut host(), call),
            },
        },
    }
}

fn run<H: Host>(host: &mut H, call: Call) -> HttpAnswer {
    let state = call.state.as_deref();
    let settings = &call.settings;
    let outcome = match &call.event {
        Event::TagSync(e) => ghl_rankr_core::tag_sync(host, settings, e, state).map(|r| wire::report_json(&r)),
        Event::TagDetailsPush(e) => {
            ghl_rankr_core::tag_details_push(host, settings, e, state).map(|r| wire::report_json(&r))
        }
        Event::StatsSync(e) => ghl_rankr_core::stats_sync(host, settings, e, state).map(|r| wire::report_json(&r)),
        Event::NewPosts(e) => ghl_rankr_core::new_posts(host, settings, e, state).map(|r| wire::new_posts_json(&r)),
        Event::PostsPublished(e) => {
            ghl_rankr_core::posts_published(host, settings, e, state).map(|r| wire::published_posts_json(&r))
        }
        Event::Check(e) => ghl_rankr_core::check(host, settings, e).map(|r| wire::check_json(&r)),
    };
    match outcome {
        Ok(report) => HttpAnswer::json(200, &report),
        Err(failure) => HttpAnswer::failure(&failure),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ghl_rankr_core::io::{Request, Response, TransportError};
    use ghl_rankr_core::testing::{self, ScriptedHost};
    use serde_json::{json, Value};

    type Handler = fn(&Request) -> Result<Response, TransportError>;

    fn unused_host() -> ScriptedHost<Handler> {
        ScriptedHost::new(|r: &Request| panic!("no request was expected, got {}", r.url))
    }

    fn head<'a>(method: &'a str, path: &'a str) -> Head<'a> {
        Head {
            method,
            path,
            authorization: None,
        }
    }

    fn answer(method: &str, path: &str, body: &[u8]) -> (u16, Value) {
        let body = body.to_vec();
        let a = serve(&head(method, path), move |_| Ok(body), unused_host, &Env::default());
        (a.status, serde_json::from_slice(&a.body).unwrap())
    }

    #[test]
    fn with_a_token_set_every_request_needs_it() {
        let env = Env::new(vec![("GHL_RANKR_TOKEN".into(), "s3cret".into())]);
        for authorization in [None, Some("Bearer nope"), Some("s3cret"), Some("Bearer s3cret ")] {
            let h = Head {
                authorization,
                ..head("GET", "/describe")
            };
            let a = serve(&h, |_| Ok(Vec::new()), unused_host, &env);
            assert_eq!(a.status, 401, "{authorization:?}");
            let v: Value = serde_json::from_slice(&a.body).unwrap();
            assert!(v["error"]["unauthorized"]["message"].is_string());
            assert!(!String::from_utf8_lossy(&a.body).contains("s3cret"));
        }
        let h = Head {
            authorization: Some("Bearer s3cret"),
            ..head("GET", "/describe")
        };
        assert_eq!(serve(&h, |_| Ok(Vec::new()), unused_host, &env).status, 200);
    }

    #[test]
    fn the_catalog_and_the_index_need_no_body_and_no_host() {
        let (status, doc) = answer("GET", "/describe", b"");
        assert_eq!(status, 200);
        assert_eq!(doc, catalog::document());
        let (status, index) = answer("GET", "/", b"");
        assert_eq!((status, index["routes"].as_array().unwrap().len()), (200, 8));
    }

    #[test]
    fn a_refused_route_never_reads_the_body() {
        let a = serve(
            &head("POST", "/nope"),
            |_| -> Result<Vec<u8>, RequestError> { panic!("the body was read") },
            unused_host,
            &Env::default(),
        );
        assert_eq!(a.status, 404);
    }

    #[test]
    fn bad_bodies_get_their_typed_4xx() {
        let (status, v) = answer("POST", "/tag-sync", b"not json");
        assert_eq!(status, 400);
        assert!(v["error"]["not-json"]["message"].is_string());
        let (status, v) = answer("POST", "/tag-sync", br#"{"settings": {}, "event": {}}"#);
        assert_eq!(status, 422);
        assert!(
            v["error"]["invalid-config"]
                .as_str()
                .unwrap()
                .contains("ghl-credential"),
            "{v}"
        );
        let a = serve(
            &head("POST", "/stats-sync"),
            |limit| Err(RequestError::TooLarge { limit }),
            unused_host,
            &Env::default(),
        );
        assert_eq!(a.status, 413);
    }

    #[test]
    fn an_operation_runs_over_the_host_and_answers_its_report() {
        let body = json!({
            "settings": {
                "ghl-base-url": "https://ghl.test",
                "ghl-credential": {"api-key": "pit"},
                "rankr-base-url": "https://rankr.test",
                "rankr-api-key": "rk"
            },
            "event": {"location-id": "L1", "tag-ids": ["t1"]}
        })
        .to_string()
        .into_bytes();
        let host = || {
            ScriptedHost::new(|r: &Request| match testing::path(&r.url) {
                "/social-media-posting/L1/tags/details" => testing::json(
                    201,
                    json!({"success": true, "statusCode": 201, "message": "ok", "results": {
                        "tags": [{"_id": "t1", "tag": "Launch", "locationId": "L1", "createdBy": "u", "deleted": false,
                                  "createdAt": "2024-01-01T00:00:00.000Z", "updatedAt": "2024-01-02T00:00:00.000Z"}],
                        "count": 1}}),
                ),
                _ => testing::json(
                    200,
                    json!({"results": [{"externalId": "t1", "id": "r1", "status": "created"}]}),
                ),
            })
        };
        let a = serve(
            &head("POST", "/tag-details-push"),
            move |_| Ok(body),
            host,
            &Env::default(),
        );
        let v: Value = serde_json::from_slice(&a.body).unwrap();
        assert_eq!(a.status, 200, "{v}");
        assert_eq!(
            (v["fetched"].as_u64(), v["created"].as_u64()),
            (Some(1), Some(1)),
            "{v}"
        );
        assert!(v["state"].is_string());
    }

    fn settings() -> Value {
        json!({
            "ghl-base-url": "https://ghl.test",
            "ghl-credential": {"api-key": "pit-1234"},
            "rankr-base-url": "https://rankr.test",
            "rankr-api-key": "rk-1234"
        })
    }

    fn ghl_posts(r: &Request) -> Result<Response, TransportError> {
        match testing::path(&r.url) {
            "/social-media-posting/L1/posts/list" => {
                let body: Value = serde_json::from_slice(r.body.as_ref().unwrap()).unwrap();
                assert_eq!(body["type"], "published");
                testing::json(
                    201,
                    json!({"success": true, "results": {"count": 1, "posts": [
                        {"_id": "p1", "locationId": "L1", "type": "post", "error": "", "status": "published",
                         "publishedAt": "2026-11-28T11:55:00.000Z", "platform": "facebook",
                         "accountIds": ["L1_acc-1"], "tags": ["t1"]}]}}),
                )
            }
            "/social-media-posting/L1/accounts" => testing::json(
                200,
                json!({"results": {"accounts": [{"id": "L1_acc-1", "profileId": "prof-1", "isExpired": false}]}}),
            ),
            other => panic!("unexpected {other}"),
        }
    }

    #[test]
    fn posts_published_answers_its_report_and_state() {
        let body = json!({"settings": settings(), "event": {"location-id": "L1", "backfill-since": "2026-11-28"}})
            .to_string()
            .into_bytes();
        let a = serve(
            &head("POST", "/posts-published"),
            move |_| Ok(body),
            || ScriptedHost::new(ghl_posts as Handler),
            &Env::default(),
        );
        let v: Value = serde_json::from_slice(&a.body).unwrap();
        assert_eq!(a.status, 200, "{v}");
        assert_eq!(
            v["posts"],
            json!([{"id": "p1", "published-at": "2026-11-28T11:55:00.000Z", "platform": "facebook",
                    "account-ids": ["L1_acc-1"], "profile-ids": ["prof-1"], "tag-ids": ["t1"]}])
        );
        assert_eq!(
            (v["baseline"].as_bool(), v["requests"].as_u64()),
            (Some(false), Some(2))
        );
        // The state comes back, and is its own kind: new-posts refuses it.
        let state = v["state"].as_str().unwrap().to_string();
        let body = json!({"settings": settings(), "event": {"location-id": "L1"}, "state": state})
            .to_string()
            .into_bytes();
        let a = serve(
            &head("POST", "/new-posts"),
            move |_| Ok(body),
            unused_host,
            &Env::default(),
        );
        let v: Value = serde_json::from_slice(&a.body).unwrap();
        assert_eq!(a.status, 422, "{v}");
        assert!(
            v["error"]["invalid-config"]
                .as_str()
                .unwrap()
                .contains("a posts-published state"),
            "{v}"
        );
    }

    #[test]
    fn check_answers_its_items_and_writes_nothing() {
        let body = json!({"settings": settings(), "event": {"location-id": "L1", "operations": ["posts-published"]}})
            .to_string()
            .into_bytes();
        let host = || {
            ScriptedHost::new(|r: &Request| {
                assert_eq!(
                    r.method == ghl_rankr_core::io::Method::Get,
                    !r.url.ends_with("/posts/list")
                );
                match testing::path(&r.url) {
                    "/social-media-posting/L1/posts/list" => testing::json(
                        401,
                        json!({"statusCode": 401, "message": "The token is not authorized for this scope."}),
                    ),
                    "/v1/tags" => testing::json(200, json!({"data": [], "nextCursor": null})),
                    _ => ghl_posts(r),
                }
            })
        };
        let a = serve(&head("POST", "/check"), move |_| Ok(body), host, &Env::default());
        let v: Value = serde_json::from_slice(&a.body).unwrap();
        assert_eq!(a.status, 200, "{v}");
        assert_eq!(v["ok"], false);
        let items = v["items"].as_array().unwrap();
        let whats: Vec<&str> = items.iter().map(|i| i["what"].as_str().unwrap()).collect();
        assert_eq!(whats, ["ghl-posts", "ghl-accounts", "rankr-key"]);
        assert_eq!(
            items[0]["outcome"],
            json!({"missing-scope": "socialplanner/post.readonly"})
        );
        assert_eq!(items[0]["status"], 401);
        assert_eq!(items[0]["operations"], json!(["posts-published"]));
        assert_eq!(
            (items[1]["outcome"].as_str(), items[1]["fix"].as_str()),
            (Some("ok"), Some(""))
        );
        assert_eq!(v["requests"], 3);
        assert!(v.get("state").is_none());
    }

    #[test]
    fn check_refuses_a_state_and_unknown_operations() {
        for (event, state, needle) in [
            (json!({"location-id": "L1"}), json!("AAE="), "takes no state"),
            (
                json!({"location-id": "L1", "operations": ["tag-synch"]}),
                Value::Null,
                "`tag-synch`",
            ),
            (
                json!({"location-id": "L1", "dash": "d"}),
                Value::Null,
                "unknown field `dash`",
            ),
        ] {
            let body = json!({"settings": settings(), "event": event, "state": state})
                .to_string()
                .into_bytes();
            let a = serve(&head("POST", "/check"), move |_| Ok(body), unused_host, &Env::default());
            let v: Value = serde_json::from_slice(&a.body).unwrap();
            assert_eq!(a.status, 422, "{v}");
            let m = v["error"]["invalid-config"].as_str().unwrap();
            assert!(m.contains(needle), "{m}");
        }
    }
}
