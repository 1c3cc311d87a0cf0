//! The catalog (`describe`) against the code.
//!
//! - Every schema is a valid JSON Schema (draft 2020-12, by its metaschema,
//!   with `boon`), and a control shows a broken one refused.
//! - Each operation's example, and the settings used with it, validate; the
//!   example runs against the fakes, and its output validates against the
//!   operation's output schema.
//! - The scopes listed are the ones the code asks for.
//! - Schema and code agree: inputs are mutated field by field, guided by
//!   the schema's own keywords (types, bounds, lengths, enums, patterns,
//!   `not`, required and dependent keys, unknown keys, item counts). Every
//!   mutation the schema refuses, the code must refuse with
//!   `invalid-config`; every numeric bound the schema accepts, the code must
//!   accept. `a_schema_that_drifts_from_the_code_is_caught` shows the check
//!   failing on a catalog edited to disagree.
//!
//! The code runs natively here (the core crate, through its JSON forms in
//! `wire`), against the in-process fakes; the component's own `describe`
//! is checked to return the same document.

use ghl_rankr_core::io::{self, Host, Level};
use ghl_rankr_core::wire::{self, Event, Operation};
use ghl_rankr_core::{OAuthTokens, SyncError, SyncFailure};
use ghl_rankr_host::clock::Clock;
use ghl_rankr_host::http;
use ghl_rankr_host::imports::Env;
use ghl_rankr_host::transport::HttpTransport;
use ghl_rankr_testkit::fakes::ghl::{DEMO_LOCATION, DEMO_POST};
use ghl_rankr_testkit::fakes::world::{FakeWorld, GHL_ORIGIN, RANKR_ORIGIN};
use ghl_rankr_testkit::fakes::{GhlState, RankrState};
use ghl_rankr_testkit::{ScriptedTransport, VirtualClock};
use serde_json::{json, Number, Value};
use std::sync::Arc;

const PIT: &str = "pit-secret-1";
const KEY: &str = "rk-secret-2";
const T0: u64 = 1_795_867_200_000;

/// The core's [`Host`] over the in-process fakes.
struct Native {
    transport: ScriptedTransport,
    clock: Arc<VirtualClock>,
}

impl Host for Native {
    fn send(&mut self, r: &io::Request) -> Result<io::Response, io::TransportError> {
        let request = http::Request {
            method: match r.method {
                io::Method::Get => http::Method::Get,
                io::Method::Post => http::Method::Post,
                io::Method::Put => http::Method::Put,
                io::Method::Patch => http::Method::Patch,
                io::Method::Delete => http::Method::Delete,
            },
            url: r.url.clone(),
            headers: r
                .headers
                .iter()
                .map(|(name, value)| http::Header {
                    name: name.clone(),
                    value: value.clone(),
                })
                .collect(),
            body: r.body.clone(),
            timeout_ms: r.timeout_ms,
        };
        match self.transport.send(&request) {
            Ok(resp) => Ok(io::Response {
                status: resp.status,
                headers: resp.headers.into_iter().map(|h| (h.name, h.value)).collect(),
                body: resp.body,
            }),
            Err(e) => Err(io::TransportError::Io(format!("{e:?}"))),
        }
    }
    fn now_ms(&mut self) -> u64 {
        self.clock.now_ms()
    }
    fn sleep_ms(&mut self, ms: u64) {
        self.clock.sleep_ms(ms)
    }
    fn log(&mut self, _level: Level, _message: &str, _fields: &[(&str, &str)]) {}
    fn store_tokens(&mut self, _tokens: &OAuthTokens) -> Result<(), String> {
        Ok(())
    }
}

fn world() -> FakeWorld {
    FakeWorld::new(
        GhlState::seeded(PIT, DEMO_LOCATION, 300),
        RankrState::new(KEY),
        Arc::new(VirtualClock::starting_at(T0)),
    )
}

/// Runs `op` on JSON settings and input, natively, as the component would.
fn run(w: &FakeWorld, op: Operation, settings: &Value, input: &Value) -> Result<Value, SyncFailure> {
    let settings = wire::parse_settings(settings.to_string().as_bytes())?;
    let event = wire::parse_event(op, input.to_string().as_bytes())?;
    let mut host = Native {
        transport: w.transport(),
        clock: w.clock.clone(),
    };
    match event {
        Event::TagSync(e) => ghl_rankr_core::tag_sync(&mut host, &settings, &e, None).map(|r| wire::report_json(&r)),
        Event::TagDetailsPush(e) => {
            ghl_rankr_core::tag_details_push(&mut host, &settings, &e, None).map(|r| wire::report_json(&r))
        }
        Event::StatsSync(e) => {
            ghl_rankr_core::stats_sync(&mut host, &settings, &e, None).map(|r| wire::report_json(&r))
        }
        Event::NewPosts(e) => {
            ghl_rankr_core::new_posts(&mut host, &settings, &e, None).map(|r| wire::new_posts_json(&r))
        }
        Event::PostsPublished(e) => {
            ghl_rankr_core::posts_published(&mut host, &settings, &e, None).map(|r| wire::published_posts_json(&r))
        }
        Event::Check(e) => ghl_rankr_core::check(&mut host, &settings, &e).map(|r| wire::check_json(&r)),
    }
}

/// Settings for the fakes with every optional field present (so each can
/// be mutated), OAuth granted `scopes`.
fn settings(scopes: &[&str]) -> Value {
    json!({
        "ghl-base-url": GHL_ORIGIN,
        "ghl-credential": {"oauth": {
            "tokens": {"access-token": PIT, "refresh-token": "refresh-1", "expires-at-ms": T0 + 3_600_000, "scopes": scopes},
            "client-id": "client-1", "client-secret": "secret-1"}},
        "rankr-base-url": RANKR_ORIGIN,
        "rankr-api-key": KEY,
        "page-size": 100,
        "tag-mapping": [
            {"source": "_id", "target": "externalId"},
            {"source": "tag", "target": "name", "transforms": ["trim", {"truncate": 100}, {"default": "untitled"},
                {"replace": {"from": "_", "to": " "}}, {"prefix": ""}, {"suffix": ""}]},
            {"source": "deleted", "target": "archived"},
            {"source": "createdBy", "target": "attributes.author"}
        ],
        "metric-mapping": [{"source": "totals.likes", "target": "likes_7d"}],
        "dry-run": false,
        "request-timeout-ms": 5000,
        "retry": {"max-attempts": 3, "base-delay-ms": 100, "max-delay-ms": 1000},
        "deadline-ms": 600000,
        "full-refresh": false,
        "archive-missing": true,
        "max-in-flight": 8
    })
}

fn catalog() -> Value {
    serde_json::from_str(&ghl_rankr_core::catalog::describe()).unwrap()
}

/// A compiled schema (boon: draft 2020-12; `format` is an annotation, as
/// the draft says by default).
struct Validator {
    schemas: boon::Schemas,
    index: boon::SchemaIndex,
}

impl Validator {
    /// Compiles `schema`, which must be valid against its metaschema.
    fn compile(schema: &Value) -> Result<Self, String> {
        let mut compiler = boon::Compiler::new();
        let mut schemas = boon::Schemas::new();
        let url = "urn:ghl-rankr:catalog";
        compiler
            .add_resource(url, schema.clone())
            .map_err(|e| format!("{e:#}"))?;
        let index = compiler.compile(url, &mut schemas).map_err(|e| format!("{e:#}"))?;
        Ok(Validator { schemas, index })
    }

    fn is_valid(&self, instance: &Value) -> bool {
        self.schemas.validate(instance, self.index).is_ok()
    }

    /// Why `instance` does not fit, if it does not.
    fn error(&self, instance: &Value) -> Option<String> {
        self.schemas
            .validate(instance, self.index)
            .err()
            .map(|e| format!("{e:#}"))
    }
}

fn validator(schema: &Value) -> Validator {
    Validator::compile(schema).unwrap_or_else(|e| panic!("not a schema: {e}\n{schema}"))
}

fn all_scopes(op: &Value) -> Vec<String> {
    let mut scopes: Vec<String> = op["scopes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect();
    for c in op["conditional-scopes"].as_array().unwrap() {
        scopes.push(c["scope"].as_str().unwrap().to_string());
    }
    scopes
}

fn refs(scopes: &[String]) -> Vec<&str> {
    scopes.iter().map(String::as_str).collect()
}

#[test]
fn the_component_describes_itself_with_the_same_catalog() {
    let env = Env {
        transport: Arc::new(ScriptedTransport::new(|_| {
            Err(http::TransportError::Denied("describe makes no request".into()))
        })),
        clock: Arc::new(VirtualClock::starting_at(T0)),
        tokens: None,
        captured_logs: None,
        progress: None,
    };
    let from_component: Value = serde_json::from_str(&ghl_rankr_tests::engine().describe(&env).unwrap()).unwrap();
    assert_eq!(from_component, catalog());
}

#[test]
fn every_schema_is_a_2020_12_json_schema() {
    let doc = catalog();
    let mut schemas = vec![("settings", &doc["settings"]), ("failure", &doc["failure"])];
    for op in doc["operations"].as_array().unwrap() {
        schemas.push(("input", &op["input"]));
        schemas.push(("output", &op["output"]));
        assert!(matches!(op["kind"].as_str(), Some("action" | "trigger" | "check")));
        assert!(matches!(op["delivery"].as_str(), Some("idempotent" | "at-least-once")));
        assert!(op["description"].as_str().unwrap().len() > 80, "one paragraph");
    }
    for (what, schema) in schemas {
        assert_eq!(schema["$schema"], "https://json-schema.org/draft/2020-12/schema");
        if let Err(e) = Validator::compile(schema) {
            panic!("{what} is not a valid 2020-12 schema: {e}");
        }
    }
    // The control: the metaschema check refuses a broken schema.
    let mut broken = doc["settings"].clone();
    broken["properties"]["page-size"]["minimum"] = json!("one");
    let e = Validator::compile(&broken).err().expect("refused");
    assert!(e.contains("metaschema"), "{e}");
}

#[test]
fn each_example_runs_with_the_listed_scopes_and_its_output_fits_the_schema() {
    let doc = catalog();
    let failure = validator(&doc["failure"]);
    let settings_schema = validator(&doc["settings"]);
    for op_doc in doc["operations"].as_array().unwrap() {
        let name = op_doc["name"].as_str().unwrap();
        let op = Operation::from_name(name).unwrap();
        let example = &op_doc["example"];
        assert!(validator(&op_doc["input"]).is_valid(example), "{name}'s example");
        let scopes = all_scopes(op_doc);
        let s = settings(&refs(&scopes));
        assert!(settings_schema.is_valid(&s));
        let w = world();
        let out = run(&w, op, &s, example).unwrap_or_else(|f| panic!("{name}'s example failed: {:?}", f.error));
        let output = validator(&op_doc["output"]);
        if let Some(e) = output.error(&out) {
            panic!("{name}'s output does not fit its schema: {e}");
        }
        assert!(w.ghl.lock().unwrap().refusals.is_empty());
        // Each unconditional scope is needed: without it, nothing is sent.
        for missing in op_doc["scopes"].as_array().unwrap() {
            // (An empty list means "unknown" and is not checked: keep one
            // scope of another product in it.)
            let mut fewer: Vec<String> = scopes.iter().filter(|s| *s != missing).cloned().collect();
            fewer.push("locations.readonly".into());
            let w = world();
            let f = run(&w, op, &settings(&refs(&fewer)), example).unwrap_err();
            assert!(
                matches!(&f.error, SyncError::MissingScope { scope, .. } if scope == missing),
                "{name} without {missing}: {:?}",
                f.error
            );
            assert!(failure.is_valid(&wire::failure_json(&f)));
            assert!(w.ghl.lock().unwrap().requests.is_empty());
        }
    }
    // The examples show the operations' outcomes the fakes should give.
    let w = world();
    let tag_sync = &doc["operations"][0];
    let out = run(
        &w,
        Operation::TagSync,
        &settings(&refs(&all_scopes(tag_sync))),
        &tag_sync["example"],
    )
    .unwrap();
    assert_eq!(out["post-tags-applied"], 2);
    // The example names the post's tags: the post path reads and writes
    // those two, not the location's 300.
    assert_eq!(out["fetched"], 2);
    assert_eq!(out["created"], 2);
    assert_eq!(w.ghl.lock().unwrap().requests.len(), 1, "one tags/details read");
    let _ = DEMO_POST;
}

/// One path step into an instance.
#[derive(Clone, Debug)]
enum Seg {
    Key(String),
    Index(usize),
}

fn path_text(path: &[Seg]) -> String {
    path.iter()
        .map(|s| match s {
            Seg::Key(k) => format!("/{k}"),
            Seg::Index(i) => format!("/{i}"),
        })
        .collect()
}

fn child(path: &[Seg], seg: Seg) -> Vec<Seg> {
    let mut p = path.to_vec();
    p.push(seg);
    p
}

/// A changed input and what it changed.
struct Mutation {
    what: String,
    value: Value,
}

/// `doc` with the value at `path` set to `new`, or removed from its object
/// when `new` is none (a key that is absent is added).
fn set(doc: &Value, path: &[Seg], new: Option<Value>) -> Value {
    let mut out = doc.clone();
    let Some((last, parent)) = path.split_last() else {
        return new.unwrap_or(Value::Null);
    };
    let mut cur = &mut out;
    for seg in parent {
        let next = match seg {
            Seg::Key(k) => cur.get_mut(k.as_str()),
            Seg::Index(i) => cur.get_mut(*i),
        };
        match next {
            Some(v) => cur = v,
            None => return out,
        }
    }
    match (last, cur, new) {
        (Seg::Key(k), Value::Object(map), Some(v)) => {
            map.insert(k.clone(), v);
        }
        (Seg::Key(k), Value::Object(map), None) => {
            map.remove(k);
        }
        (Seg::Index(i), Value::Array(list), Some(v)) if *i < list.len() => list[*i] = v,
        _ => {}
    }
    out
}

/// `schema` with `$ref`s to `#/$defs/…` of `root` resolved, `allOf`
/// flattened, and every branch of `anyOf`/`oneOf`: the schemas that may
/// apply at one place.
fn expand<'a>(root: &'a Value, schema: &'a Value) -> Vec<&'a Value> {
    let mut out = vec![schema];
    let mut i = 0;
    while i < out.len() {
        let s = out[i];
        if let Some(name) = s
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix("#/$defs/"))
        {
            out.push(&root["$defs"][name]);
        }
        for key in ["allOf", "anyOf", "oneOf"] {
            if let Some(branches) = s.get(key).and_then(Value::as_array) {
                out.extend(branches.iter());
            }
        }
        i += 1;
    }
    out
}

/// The number one past `v` upwards or downwards, exactly for integers.
fn step(v: &Value, up: bool) -> Value {
    if let Some(u) = v.as_u64() {
        return match (up, u.checked_add(1), u.checked_sub(1)) {
            (true, Some(n), _) => json!(n),
            (true, None, _) => Value::Number(Number::from_f64(u as f64 * 2.0).unwrap()),
            (false, _, Some(n)) => json!(n),
            (false, _, None) => json!(-1),
        };
    }
    let f = v.as_f64().unwrap_or(0.0);
    json!(if up { f + 1.0 } else { f - 1.0 })
}

/// Values for one place: those that break one keyword of its schema, and
/// those on its numeric bounds.
#[derive(Default)]
struct Values {
    bad: Vec<(&'static str, Value)>,
    good: Vec<(&'static str, Value)>,
}

fn values_for(s: &Value) -> Values {
    let mut v = Values::default();
    for wrong_type in [
        json!(null),
        json!(true),
        json!(-1),
        json!(0),
        json!(1.5),
        json!(""),
        json!("x"),
        json!([]),
        json!({}),
    ] {
        v.bad.push(("type", wrong_type));
    }
    if let Some(min) = s.get("minimum") {
        v.bad.push(("minimum", step(min, false)));
        v.good.push(("minimum", min.clone()));
    }
    if let Some(max) = s.get("maximum") {
        v.bad.push(("maximum", step(max, true)));
        v.good.push(("maximum", max.clone()));
    }
    if let Some(n) = s.get("minLength").and_then(Value::as_u64).filter(|n| *n > 0) {
        v.bad.push(("minLength", json!("a".repeat(n as usize - 1))));
    }
    if let Some(n) = s.get("maxLength").and_then(Value::as_u64) {
        v.bad.push(("maxLength", json!("é".repeat(n as usize + 1))));
    }
    if s.get("enum").is_some() || s.get("const").is_some() {
        v.bad.push(("enum", json!("not-a-member")));
    }
    if s.get("pattern").is_some() {
        for text in ["", " ", "a b", "\u{1}x", "x\u{7f}", "\u{85}", "2026-1-1", "tab\there"] {
            v.bad.push(("pattern", json!(text)));
        }
    }
    if let Some(not) = s.get("not").and_then(|n| n.get("enum")).and_then(Value::as_array) {
        v.bad.extend(not.iter().map(|x| ("not", x.clone())));
    }
    if let Some(n) = s.get("maxItems").and_then(Value::as_u64) {
        let items: Vec<Value> = (0..=n).map(|i| json!(format!("item-{i}"))).collect();
        v.bad.push(("maxItems", Value::Array(items)));
    }
    if s.get("properties").is_some() {
        v.bad.push(("additionalProperties", json!({"not-a-field": 1})));
    }
    v
}

/// The mutations of one document, guided by its schema.
struct Mutator<'a> {
    root: &'a Value,
    doc: &'a Value,
    bad: Vec<Mutation>,
    good: Vec<Mutation>,
}

impl<'a> Mutator<'a> {
    fn of(schema: &'a Value, doc: &'a Value) -> Self {
        let mut m = Mutator {
            root: schema,
            doc,
            bad: Vec::new(),
            good: Vec::new(),
        };
        m.walk(schema, &[], Some(doc));
        m
    }

    fn bad(&mut self, what: String, path: &[Seg], new: Option<Value>) {
        let value = set(self.doc, path, new);
        self.bad.push(Mutation { what, value });
    }

    /// The place at `path` (holding `value`, or absent), under `schema`.
    fn walk(&mut self, schema: &'a Value, path: &[Seg], value: Option<&'a Value>) {
        let at = path_text(path);
        for s in expand(self.root, schema) {
            if !path.is_empty() {
                let values = values_for(s);
                for (keyword, v) in values.bad {
                    self.bad(format!("{at} {keyword} {v}"), path, Some(v));
                }
                for (keyword, v) in values.good {
                    let value = set(self.doc, path, Some(v.clone()));
                    let what = format!("{at} {keyword} {v}");
                    self.good.push(Mutation { what, value });
                }
            }
            match (value, s.get("properties"), s.get("items")) {
                (Some(Value::Object(obj)), Some(Value::Object(props)), _) => {
                    for (k, sub) in props {
                        self.walk(sub, &child(path, Seg::Key(k.clone())), obj.get(k));
                    }
                    let unknown = child(path, Seg::Key("not-a-field".into()));
                    self.bad(format!("{at} unknown key"), &unknown, Some(json!(1)));
                    for k in s.get("required").and_then(Value::as_array).into_iter().flatten() {
                        let k = k.as_str().unwrap_or("");
                        self.bad(format!("{at} without `{k}`"), &child(path, Seg::Key(k.into())), None);
                    }
                    for (k, needs) in s
                        .get("dependentRequired")
                        .and_then(Value::as_object)
                        .into_iter()
                        .flatten()
                    {
                        for n in needs.as_array().into_iter().flatten().filter(|_| obj.contains_key(k)) {
                            let n = n.as_str().unwrap_or("");
                            self.bad(
                                format!("{at} `{k}` without `{n}`"),
                                &child(path, Seg::Key(n.into())),
                                None,
                            );
                        }
                    }
                }
                (Some(Value::Array(list)), _, Some(items)) => {
                    for (i, item) in list.iter().enumerate() {
                        self.walk(items, &child(path, Seg::Index(i)), Some(item));
                    }
                    if s.get("minItems").and_then(Value::as_u64) == Some(1) {
                        self.bad(format!("{at} minItems []"), path, Some(json!([])));
                    }
                }
                _ => {}
            }
        }
    }
}

/// Bounds the schema accepts that the code refuses for a reason JSON
/// Schema cannot state (a rule across two fields). Listed, with the rule.
const CROSS_FIELD: &[(&str, &str)] = &[
    (
        "/retry/base-delay-ms maximum",
        "base-delay-ms must be at most max-delay-ms",
    ),
    (
        "/retry/max-delay-ms minimum",
        "max-delay-ms must be at least base-delay-ms",
    ),
];

/// What [`disagreements`] checked.
#[derive(Debug, Default)]
struct Checked {
    /// Mutations the schema refuses (each run through the code).
    refused: usize,
    /// Bounds the schema accepts (each run through the code).
    accepted: usize,
}

/// Where schema and code disagree, for the settings and every operation's
/// input of `doc` (a catalog, maybe edited).
fn disagreements(doc: &Value) -> Vec<String> {
    disagreements_counted(doc).0
}

fn disagreements_counted(doc: &Value) -> (Vec<String>, Checked) {
    let mut checked = Checked::default();
    let mut found = Vec::new();
    let settings_schema = &doc["settings"];
    let settings_validator = validator(settings_schema);
    for op_doc in doc["operations"].as_array().unwrap() {
        let name = op_doc["name"].as_str().unwrap();
        let op = Operation::from_name(name).unwrap();
        let input_schema = &op_doc["input"];
        let input_validator = validator(input_schema);
        let example = &op_doc["example"];
        let scopes = all_scopes(op_doc);
        let base = settings(&refs(&scopes));
        let input = Mutator::of(input_schema, example);
        let mut cases: Vec<(bool, String, Value, Value)> = Vec::new();
        for m in input.bad {
            cases.push((false, format!("{name} input {}", m.what), base.clone(), m.value));
        }
        for m in input.good {
            cases.push((true, format!("{name} input {}", m.what), base.clone(), m.value));
        }
        if op == Operation::TagSync {
            // The settings once, with the tag-sync example.
            let settings = Mutator::of(settings_schema, &base);
            for m in settings.bad {
                cases.push((false, format!("settings {}", m.what), m.value, example.clone()));
            }
            for m in settings.good {
                if CROSS_FIELD.iter().any(|(what, _)| m.what.starts_with(what)) {
                    continue;
                }
                cases.push((true, format!("settings {}", m.what), m.value, example.clone()));
            }
        }
        for (should_accept, what, s, input) in cases {
            let schema_accepts = settings_validator.is_valid(&s) && input_validator.is_valid(&input);
            if !should_accept && schema_accepts {
                continue; // this mutation did not break anything
            }
            if should_accept && !schema_accepts {
                continue; // a bound that another keyword refuses
            }
            if should_accept {
                checked.accepted += 1;
            } else {
                checked.refused += 1;
            }
            let w = FakeWorld::new(
                GhlState::seeded(PIT, DEMO_LOCATION, 5),
                RankrState::new(KEY),
                Arc::new(VirtualClock::starting_at(T0)),
            );
            let code = run(&w, op, &s, &input);
            let refused = matches!(&code, Err(f) if matches!(f.error, SyncError::InvalidConfig(_)));
            match (schema_accepts, refused) {
                (false, false) => found.push(format!("{what}: the schema refuses it, the code accepts it")),
                (true, true) => found.push(format!(
                    "{what}: the schema accepts it, the code refuses it ({:?})",
                    code.err().map(|f| f.error)
                )),
                _ => {}
            }
        }
    }
    (found, checked)
}

#[test]
fn what_the_schema_refuses_the_code_refuses_and_its_bounds_the_code_accepts() {
    let (problems, checked) = disagreements_counted(&catalog());
    assert!(
        problems.is_empty(),
        "schema and code disagree:\n{}",
        problems.join("\n")
    );
    println!("{checked:?}");
    // Not vacuous: hundreds of refusals, and the 24 numeric bounds (less
    // the two cross-field ones) were run: posts-published repeats
    // new-posts' four.
    assert!(checked.refused > 1000, "{checked:?}");
    assert_eq!(checked.accepted, 24, "{checked:?}");
}

#[test]
fn a_schema_that_drifts_from_the_code_is_caught() {
    // Looser than the code: the schema would let page-size 2000 through.
    let mut loose = catalog();
    loose["settings"]["properties"]["page-size"]["maximum"] = json!(2000);
    let problems = disagreements(&loose);
    assert!(
        problems
            .iter()
            .any(|p| p.contains("/page-size maximum 2000") && p.contains("the code refuses it")),
        "{problems:#?}"
    );
    // Stricter than the code: the schema would refuse an overlap of 2 hours.
    let mut strict = catalog();
    strict["operations"][3]["input"]["properties"]["overlap-ms"]["maximum"] = json!(3_600_000);
    let problems = disagreements(&strict);
    assert!(
        problems
            .iter()
            .any(|p| p.contains("/overlap-ms maximum 3600001") && p.contains("the code accepts it")),
        "{problems:#?}"
    );
}
