//! A fake Rankr that enforces `spec/rankr-api.yaml`: bearer auth, an
//! `Idempotency-Key` on every POST (same key + same body replays, same key +
//! another body is a 409), 100 tags / 500 points / 1 MiB per request,
//! per-item validation, problem+json errors, and a ledger of every write.

use super::openapi::{percent_decode, split_url};
use super::server::{FakeRequest, FakeResponse, FakeServer, Outcome};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

/// A fault played on one batch POST.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RankrFault {
    /// Answer this status before doing anything (e.g. 503 with `Retry-After`).
    Status { status: u16, retry_after_secs: Option<u64> },
    /// Apply the batch and keep its idempotent answer, then answer 500.
    ErrorAfterCommit,
    /// Apply the batch and keep its idempotent answer, then break the
    /// connection mid-body: the answer is lost.
    LostAfterCommit,
    /// Answer 409 as if the key had been used with another body.
    Conflict,
}

/// A fault and the batch POST (1-based, retries counted) it hits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduledRankrFault {
    pub at_write: u32,
    pub fault: RankrFault,
}

/// A stored tag (`Tag` = `TagInput` + `id`, `updatedAt`).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredTag {
    pub id: String,
    pub input: Value,
    pub updated_at: String,
}

/// One write request as received.
#[derive(Debug, Clone, PartialEq)]
pub struct LedgerEntry {
    pub method: String,
    pub path: String,
    pub idempotency_key: Option<String>,
    pub status: u16,
    pub replayed: bool,
    pub items: usize,
}

/// What the fake Rankr holds and has seen.
#[derive(Debug, Clone, Default)]
pub struct RankrState {
    pub api_key: String,
    /// (source, locationId, externalId) -> tag.
    pub tags: BTreeMap<(String, String, String), StoredTag>,
    /// External post id -> tag external ids.
    pub post_tags: BTreeMap<String, Vec<String>>,
    /// (dashboard, scope, metric, timestamp) -> value.
    pub points: BTreeMap<(String, String, String, String), f64>,
    /// Dashboards that exist; `None` accepts any id.
    pub dashboards: Option<BTreeSet<String>>,
    /// Tags whose name contains one of these are rejected (a test hook for
    /// per-item rejections).
    pub reject_names_containing: Vec<String>,
    /// Idempotency key -> (body, status, answer).
    pub idempotency: HashMap<String, (Vec<u8>, u16, Vec<u8>)>,
    pub ledger: Vec<LedgerEntry>,
    /// (locationId, externalId) -> times a write changed the tag (created or
    /// updated, replays not counted). A tag synced once shows 1.
    pub applied: BTreeMap<(String, String), u32>,
    /// Batch bodies (FNV hash) -> the idempotency keys they came with: more
    /// than one key for one body is a retry under a new key.
    pub keys_by_body: HashMap<u64, BTreeSet<String>>,
    /// Batch POSTs received (retries counted).
    pub batch_posts: u32,
    /// Every request received, reads and refusals included.
    pub requests: u32,
    pub faults: Vec<ScheduledRankrFault>,
    next_id: u64,
}

impl RankrState {
    pub fn new(api_key: &str) -> Self {
        RankrState {
            api_key: api_key.into(),
            ..Default::default()
        }
    }

    /// Plays `fault` on batch POST number `at_write` (1-based).
    pub fn fault_at(&mut self, at_write: u32, fault: RankrFault) {
        self.faults.push(ScheduledRankrFault { at_write, fault });
    }

    /// Tags changed more than once (should be none after one sync).
    pub fn applied_twice(&self) -> Vec<&(String, String)> {
        self.applied.iter().filter(|(_, n)| **n > 1).map(|(k, _)| k).collect()
    }

    /// Bodies that arrived under more than one idempotency key.
    pub fn bodies_with_several_keys(&self) -> usize {
        self.keys_by_body.values().filter(|k| k.len() > 1).count()
    }
}

/// A running fake Rankr.
pub struct RankrFake {
    pub state: Arc<Mutex<RankrState>>,
    pub server: FakeServer,
}

impl RankrFake {
    pub fn start(state: RankrState) -> std::io::Result<Self> {
        Self::start_with(state, None)
    }

    /// The same, over HTTPS with `tls` when given.
    pub fn start_with(state: RankrState, tls: Option<Arc<rustls::ServerConfig>>) -> std::io::Result<Self> {
        let state = Arc::new(Mutex::new(state));
        let shared = state.clone();
        let server = FakeServer::start_with(tls, move |req| {
            let mut s = match shared.lock() {
                Ok(s) => s,
                Err(p) => p.into_inner(),
            };
            handle(&mut s, &req)
        })?;
        Ok(RankrFake { state, server })
    }

    pub fn base_url(&self) -> &str {
        &self.server.base_url
    }
}

fn problem(status: u16, title: &str, detail: &str, errors: Vec<Value>) -> FakeResponse {
    let mut p = json!({"type": "about:blank", "title": title, "status": status, "detail": detail});
    if !errors.is_empty() {
        p["errors"] = Value::Array(errors);
    }
    let mut r = FakeResponse::json(status, &p);
    r.headers = vec![("Content-Type".into(), "application/problem+json".into())];
    r
}

/// Handles one request, playing any fault scheduled for it.
pub fn handle(s: &mut RankrState, req: &FakeRequest) -> Outcome {
    s.requests += 1;
    let is_batch = req.method == "POST" && req.url.contains("/batch-upsert");
    if !is_batch {
        return answer(s, req).into();
    }
    s.batch_posts += 1;
    let n = s.batch_posts;
    let fault = s.faults.iter().find(|f| f.at_write == n).map(|f| f.fault.clone());
    match fault {
        None => answer(s, req).into(),
        Some(RankrFault::Status {
            status,
            retry_after_secs,
        }) => {
            let mut r = problem(status, "Service Unavailable", "fault", vec![]);
            if let Some(secs) = retry_after_secs {
                r = r.with_header("Retry-After", &secs.to_string());
            }
            r.into()
        }
        Some(RankrFault::Conflict) => problem(
            409,
            "Conflict",
            "this Idempotency-Key was used with another body",
            vec![],
        )
        .into(),
        Some(RankrFault::ErrorAfterCommit) => {
            let _committed = answer(s, req);
            problem(500, "Internal Server Error", "fault after commit", vec![]).into()
        }
        Some(RankrFault::LostAfterCommit) => Outcome::Reset(answer(s, req)),
    }
}

fn answer(s: &mut RankrState, req: &FakeRequest) -> FakeResponse {
    let (path, query) = split_url(&req.url);
    if req.header("authorization") != Some(&format!("Bearer {}", s.api_key)) {
        return problem(401, "Unauthorized", "missing or unknown API key", vec![]);
    }
    let segs: Vec<String> = path.trim_start_matches('/').split('/').map(percent_decode).collect();
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    match (req.method.as_str(), segs.as_slice()) {
        ("GET", ["v1", "tags"]) => list_tags(s, &query),
        ("GET", ["v1", "dashboards", dash, "metrics"]) => list_metrics(s, dash, &query),
        ("POST", ["v1", "tags", "batch-upsert"]) => write(s, req, &path, upsert_tags),
        ("POST", ["v1", "dashboards", dash, "metrics", "batch-upsert"]) => {
            let dash = dash.to_string();
            write(s, req, &path, move |s, body| upsert_metrics(s, &dash, body))
        }
        ("PUT", ["v1", "posts", post, "tags"]) => {
            let post = post.to_string();
            let resp = match json_body(req) {
                Ok(body) => set_post_tags(s, &post, &body),
                Err(e) => e,
            };
            s.ledger.push(LedgerEntry {
                method: "PUT".into(),
                path: path.clone(),
                idempotency_key: None,
                status: resp.status,
                replayed: false,
                items: 1,
            });
            resp
        }
        _ => problem(404, "Not Found", &format!("no route for {} {path}", req.method), vec![]),
    }
}

fn json_body(req: &FakeRequest) -> Result<Value, FakeResponse> {
    if req.body.len() > 1024 * 1024 {
        return Err(problem(
            413,
            "Payload Too Large",
            "request bodies are limited to 1 MiB",
            vec![],
        ));
    }
    let ct = req.header("content-type").unwrap_or("");
    if !ct.starts_with("application/json") {
        return Err(problem(415, "Unsupported Media Type", "send application/json", vec![]));
    }
    serde_json::from_slice(&req.body)
        .map_err(|e| problem(400, "Bad Request", &format!("body is not JSON: {e}"), vec![]))
}

/// The idempotency wrapper around a batch POST.
fn write(
    s: &mut RankrState,
    req: &FakeRequest,
    path: &str,
    apply: impl FnOnce(&mut RankrState, &Value) -> (FakeResponse, usize),
) -> FakeResponse {
    let key = req.header("idempotency-key").map(str::to_string);
    if let Some(k) = &key {
        s.keys_by_body
            .entry(body_hash(&req.body))
            .or_default()
            .insert(k.clone());
    }
    let mut entry = LedgerEntry {
        method: "POST".into(),
        path: path.into(),
        idempotency_key: key.clone(),
        status: 0,
        replayed: false,
        items: 0,
    };
    let resp = match key {
        None => problem(
            400,
            "Bad Request",
            "the Idempotency-Key header is required on every POST",
            vec![],
        ),
        Some(k) if k.is_empty() || k.len() > 255 => problem(
            400,
            "Bad Request",
            "Idempotency-Key must have 1 to 255 characters",
            vec![],
        ),
        Some(k) => match s.idempotency.get(&k) {
            Some((body, status, answer)) if *body == req.body => {
                entry.replayed = true;
                FakeResponse {
                    status: *status,
                    headers: vec![
                        ("Content-Type".into(), "application/json".into()),
                        ("Idempotent-Replayed".into(), "true".into()),
                    ],
                    body: answer.clone(),
                }
            }
            Some(_) => problem(
                409,
                "Conflict",
                "this Idempotency-Key was used with another body",
                vec![],
            ),
            None => match json_body(req) {
                Err(e) => e,
                Ok(body) => {
                    let (resp, items) = apply(s, &body);
                    entry.items = items;
                    if resp.status < 500 {
                        s.idempotency
                            .insert(k, (req.body.clone(), resp.status, resp.body.clone()));
                    }
                    resp
                }
            },
        },
    };
    entry.status = resp.status;
    s.ledger.push(entry);
    resp
}

/// FNV-1a 64 of a body.
fn body_hash(b: &[u8]) -> u64 {
    b.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, x| {
        (h ^ *x as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

fn is_date_time(v: &str) -> bool {
    time::OffsetDateTime::parse(v, &time::format_description::well_known::Rfc3339).is_ok()
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Why a `TagInput` is invalid, if it is.
fn check_tag(t: &Value) -> Option<String> {
    let o = t.as_object()?;
    let allowed = [
        "externalId",
        "source",
        "locationId",
        "name",
        "archived",
        "sourceCreatedAt",
        "sourceUpdatedAt",
        "attributes",
    ];
    if let Some(k) = o.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Some(format!("unknown property `{k}`"));
    }
    let text = |k: &str, min: usize, max: usize| -> Option<String> {
        match o.get(k).and_then(Value::as_str) {
            None => Some(format!("`{k}` is required and must be a string")),
            Some(v) if v.chars().count() < min || v.chars().count() > max => {
                Some(format!("`{k}` must have {min} to {max} characters"))
            }
            _ => None,
        }
    };
    text("externalId", 1, 128)
        .or_else(|| text("locationId", 1, usize::MAX))
        .or_else(|| text("name", 1, 100))
        .or_else(|| (o.get("source") != Some(&json!("ghl"))).then(|| "`source` must be `ghl`".to_string()))
        .or_else(|| {
            o.get("archived")
                .filter(|v| !v.is_boolean())
                .map(|_| "`archived` must be a boolean".to_string())
        })
        .or_else(|| {
            ["sourceCreatedAt", "sourceUpdatedAt"]
                .iter()
                .find_map(|k| match o.get(*k) {
                    Some(Value::String(v)) if is_date_time(v) => None,
                    Some(_) => Some(format!("`{k}` must be an RFC 3339 date-time")),
                    None => None,
                })
        })
        .or_else(|| match o.get("attributes") {
            None => None,
            Some(Value::Object(a)) => a
                .iter()
                .find(|(_, v)| !(v.is_string() || v.is_number() || v.is_boolean()))
                .map(|(k, _)| format!("attribute `{k}` must be a string, number or boolean")),
            Some(_) => Some("`attributes` must be an object".into()),
        })
}

fn upsert_tags(s: &mut RankrState, body: &Value) -> (FakeResponse, usize) {
    let Some(items) = body.get("items").and_then(Value::as_array) else {
        return (
            problem(422, "Invalid body", "`items` is required and must be an array", vec![]),
            0,
        );
    };
    if items.is_empty() || items.len() > 100 {
        return (
            problem(422, "Invalid body", "`items` must have 1 to 100 tags", vec![]),
            items.len(),
        );
    }
    if body.as_object().is_some_and(|o| o.len() != 1) {
        return (
            problem(422, "Invalid body", "only `items` is allowed", vec![]),
            items.len(),
        );
    }
    let mut results = Vec::with_capacity(items.len());
    for item in items {
        let external = item.get("externalId").and_then(Value::as_str).unwrap_or("").to_string();
        let rejected_name = item
            .get("name")
            .and_then(Value::as_str)
            .filter(|n| s.reject_names_containing.iter().any(|r| n.contains(r.as_str())));
        let why =
            check_tag(item).or_else(|| rejected_name.map(|n| format!("name `{n}` is not allowed by this workspace")));
        if let Some(why) = why {
            results.push(json!({"externalId": external, "status": "rejected", "error": why}));
            continue;
        }
        let mut input = item.clone();
        if let Some(o) = input.as_object_mut() {
            o.entry("archived").or_insert(json!(false));
        }
        let key = (
            "ghl".to_string(),
            item["locationId"].as_str().unwrap_or("").to_string(),
            external.clone(),
        );
        let applied_key = (key.1.clone(), key.2.clone());
        let (status, id) = match s.tags.get_mut(&key) {
            Some(t) if t.input == input => ("unchanged", t.id.clone()),
            Some(t) => {
                t.input = input;
                t.updated_at = now_rfc3339();
                ("updated", t.id.clone())
            }
            None => {
                s.next_id += 1;
                let id = format!("rk_tag_{}", s.next_id);
                s.tags.insert(
                    key,
                    StoredTag {
                        id: id.clone(),
                        input,
                        updated_at: now_rfc3339(),
                    },
                );
                ("created", id)
            }
        };
        if status != "unchanged" {
            *s.applied.entry(applied_key).or_default() += 1;
        }
        results.push(json!({"externalId": external, "id": id, "status": status}));
    }
    (FakeResponse::json(200, &json!({ "results": results })), items.len())
}

fn set_post_tags(s: &mut RankrState, post: &str, body: &Value) -> FakeResponse {
    let (Some(source), Some(location), Some(ids)) = (
        body.get("source").and_then(Value::as_str),
        body.get("locationId").and_then(Value::as_str),
        body.get("tagExternalIds").and_then(Value::as_array),
    ) else {
        return problem(
            422,
            "Invalid body",
            "`source`, `locationId` and `tagExternalIds` are required",
            vec![],
        );
    };
    let ids: Vec<String> = ids.iter().filter_map(|v| v.as_str().map(str::to_string)).collect();
    let unknown: Vec<Value> = ids
        .iter()
        .enumerate()
        .filter(|(_, id)| {
            !s.tags
                .contains_key(&(source.to_string(), location.to_string(), (*id).clone()))
        })
        .map(|(i, id)| json!({"index": i, "field": "tagExternalIds", "message": format!("unknown tag `{id}`")}))
        .collect();
    if !unknown.is_empty() {
        return problem(422, "Unknown tags", "upsert the tags first", unknown);
    }
    s.post_tags.insert(post.to_string(), ids.clone());
    FakeResponse::json(200, &json!({"postExternalId": post, "tagCount": ids.len()}))
}

fn upsert_metrics(s: &mut RankrState, dashboard: &str, body: &Value) -> (FakeResponse, usize) {
    if let Some(known) = &s.dashboards {
        if !known.contains(dashboard) {
            return (
                problem(404, "Not Found", &format!("no dashboard `{dashboard}`"), vec![]),
                0,
            );
        }
    }
    let Some(points) = body.get("points").and_then(Value::as_array) else {
        return (
            problem(422, "Invalid body", "`points` is required and must be an array", vec![]),
            0,
        );
    };
    if points.is_empty() || points.len() > 500 {
        return (
            problem(422, "Invalid body", "`points` must have 1 to 500 items", vec![]),
            points.len(),
        );
    }
    let mut errors = Vec::new();
    for (i, p) in points.iter().enumerate() {
        let empty = Map::new();
        let o = p.as_object().unwrap_or(&empty);
        let mut bad = |field: &str, message: &str| errors.push(json!({"index": i, "field": field, "message": message}));
        if let Some(k) = o
            .keys()
            .find(|k| !["scope", "metric", "timestamp", "value"].contains(&k.as_str()))
        {
            bad(k, "unknown property");
        }
        match o.get("scope").and_then(Value::as_str) {
            Some(v) if (1..=256).contains(&v.chars().count()) => {}
            _ => bad("scope", "must be a string of 1 to 256 characters"),
        }
        match o.get("metric").and_then(Value::as_str) {
            Some(v) if (1..=128).contains(&v.chars().count()) => {}
            _ => bad("metric", "must be a string of 1 to 128 characters"),
        }
        match o.get("timestamp").and_then(Value::as_str) {
            Some(v) if is_date_time(v) => {}
            _ => bad("timestamp", "must be an RFC 3339 date-time"),
        }
        if !o.get("value").is_some_and(Value::is_number) {
            bad("value", "must be a number");
        }
    }
    if !errors.is_empty() {
        return (
            problem(422, "Invalid points", &format!("{} problems", errors.len()), errors),
            points.len(),
        );
    }
    let (mut created, mut updated) = (0, 0);
    for p in points {
        let key = (
            dashboard.to_string(),
            p["scope"].as_str().unwrap_or("").to_string(),
            p["metric"].as_str().unwrap_or("").to_string(),
            p["timestamp"].as_str().unwrap_or("").to_string(),
        );
        let value = p["value"].as_f64().unwrap_or(0.0);
        match s.points.insert(key, value) {
            None => created += 1,
            Some(old) if old != value => updated += 1,
            Some(_) => {}
        }
    }
    (
        FakeResponse::json(
            200,
            &json!({"accepted": points.len(), "created": created, "updated": updated}),
        ),
        points.len(),
    )
}

fn list_tags(s: &RankrState, query: &[(String, String)]) -> FakeResponse {
    let q = |k: &str| query.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let (Some(source), Some(location)) = (q("source"), q("locationId")) else {
        return problem(400, "Bad Request", "`source` and `locationId` are required", vec![]);
    };
    let include_archived = q("includeArchived") == Some("true");
    let limit = q("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(100)
        .clamp(1, 500);
    let offset = q("cursor").and_then(|c| c.parse::<usize>().ok()).unwrap_or(0);
    let all: Vec<Value> = s
        .tags
        .iter()
        .filter(|((src, loc, _), t)| {
            src == source && loc == location && (include_archived || t.input["archived"] != json!(true))
        })
        .map(|(_, t)| {
            let mut v = t.input.clone();
            v["id"] = json!(t.id);
            v["updatedAt"] = json!(t.updated_at);
            v
        })
        .collect();
    let page: Vec<Value> = all.iter().skip(offset).take(limit).cloned().collect();
    let next = (offset + limit < all.len()).then(|| (offset + limit).to_string());
    FakeResponse::json(200, &json!({"data": page, "nextCursor": next}))
}

fn list_metrics(s: &RankrState, dashboard: &str, query: &[(String, String)]) -> FakeResponse {
    let q = |k: &str| query.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let data: Vec<Value> = s
        .points
        .iter()
        .filter(|((d, scope, metric, _), _)| {
            d == dashboard && q("scope").is_none_or(|x| x == scope) && q("metric").is_none_or(|x| x == metric)
        })
        .map(|((_, scope, metric, ts), v)| json!({"scope": scope, "metric": metric, "timestamp": ts, "value": v}))
        .collect();
    FakeResponse::json(200, &json!({ "data": data }))
}
