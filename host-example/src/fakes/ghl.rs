//! A fake GHL Social Planner: tags (paged), tag details, posts, statistics,
//! with the official spec's shapes. Every request is checked against the
//! official OpenAPI file first; a request it would not accept gets a 422.

use super::openapi::{split_url, OpenApi};
use super::server::{FakeRequest, FakeResponse, FakeServer};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// What the fake GHL holds and has seen.
#[derive(Debug, Clone)]
pub struct GhlState {
    /// The only token it accepts.
    pub token: String,
    /// The only location the token may read.
    pub location_id: String,
    /// `SocialMediaTagSchema` objects, in listing order.
    pub tags: Vec<Value>,
    /// Post id -> tag ids.
    pub posts: BTreeMap<String, Vec<String>>,
    /// Most tags one page returns, whatever `limit` asks (real servers cap).
    pub max_page: usize,
    /// Every request received, in order.
    pub requests: Vec<FakeRequest>,
    /// Requests refused for not matching the spec, with the reasons.
    pub refusals: Vec<String>,
}

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
        let mut posts = BTreeMap::new();
        if n >= 3 {
            posts.insert(
                DEMO_POST.to_string(),
                vec![
                    "tag00000".to_string(),
                    "tag00002".to_string(),
                    format!("tag{:05}", n - 1),
                ],
            );
        }
        GhlState {
            token: token.into(),
            location_id: location.into(),
            tags,
            posts,
            max_page: 100,
            requests: Vec::new(),
            refusals: Vec::new(),
        }
    }
}

/// A running fake GHL.
pub struct GhlFake {
    pub state: Arc<Mutex<GhlState>>,
    pub server: FakeServer,
}

impl GhlFake {
    pub fn start(state: GhlState) -> std::io::Result<Self> {
        let state = Arc::new(Mutex::new(state));
        let shared = state.clone();
        let spec = OpenApi::ghl();
        let server = FakeServer::start(move |req| {
            let mut s = match shared.lock() {
                Ok(s) => s,
                Err(p) => p.into_inner(),
            };
            s.requests.push(req.clone());
            handle(&spec, &mut s, &req)
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

fn handle(spec: &OpenApi, s: &mut GhlState, req: &FakeRequest) -> FakeResponse {
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
    if req.header("authorization") != Some(&format!("Bearer {}", s.token)) {
        return error(401, json!("Invalid token: access token is invalid"), "Unauthorized");
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
    let resp = match matched.operation_id.as_str() {
        "get-tags-location-id" => list_tags(s, &query),
        "get-tags-by-ids" => tag_details(s, &req.body),
        "get-post" => {
            let id = matched
                .params
                .iter()
                .find(|(k, _)| k == "id")
                .map(|(_, v)| v.as_str())
                .unwrap_or("");
            match s.posts.get(id) {
                Some(tags) => FakeResponse::json(
                    200,
                    &json!({"success": true, "statusCode": 200, "message": "Fetched Post", "results": {"post": {
                        "_id": id, "locationId": s.location_id, "platform": "facebook", "status": "published",
                        "type": "post", "summary": "New product launch", "tags": tags, "error": ""}}}),
                ),
                None => error(400, json!(format!("Post {id} not found")), "Bad Request"),
            }
        }
        "get-social-media-statistics" => statistics(&req.body),
        other => error(404, json!(format!("{other} is not faked")), "Not Found"),
    };
    let used = s.requests.len();
    resp.with_header("X-RateLimit-Max", "100")
        .with_header("X-RateLimit-Interval-Milliseconds", "10000")
        .with_header(
            "X-RateLimit-Remaining",
            &100usize.saturating_sub(used % 100).to_string(),
        )
        .with_header("X-RateLimit-Limit-Daily", "200000")
        .with_header(
            "X-RateLimit-Daily-Remaining",
            &200_000usize.saturating_sub(used).to_string(),
        )
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
