//! The catalog (`describe`): every operation and trigger with its kind,
//! delivery, scopes, JSON Schemas (draft 2020-12) of its input and output,
//! an example input, and the schema of the settings, as a visual builder
//! renders them.
//!
//! The source, `catalog.json`, keeps the shared definitions once under
//! `$defs`. [`describe`] makes every schema stand alone: each gets the
//! `$schema` keyword and the definitions it refers to, so a builder can take
//! one schema out of the document. The schemas describe the JSON forms that
//! [`crate::wire`] reads and writes; tests hold the two to each other.

use serde_json::{Map, Value};

const SOURCE: &str = include_str!("catalog.json");

/// The JSON Schema dialect of every schema in the catalog.
pub const DIALECT: &str = "https://json-schema.org/draft/2020-12/schema";

/// The catalog as a JSON document.
pub fn describe() -> String {
    document().to_string()
}

/// The catalog as a JSON value.
pub fn document() -> Value {
    let Ok(Value::Object(mut doc)) = serde_json::from_str::<Value>(SOURCE) else {
        return Value::Null;
    };
    let defs = match doc.remove("$defs") {
        Some(Value::Object(defs)) => defs,
        _ => Map::new(),
    };
    for key in ["settings", "failure"] {
        if let Some(schema) = doc.get_mut(key) {
            stand_alone(schema, &defs);
        }
    }
    if let Some(Value::Array(ops)) = doc.get_mut("operations") {
        for op in ops {
            for key in ["input", "output"] {
                if let Some(schema) = op.get_mut(key) {
                    stand_alone(schema, &defs);
                }
            }
        }
    }
    Value::Object(doc)
}

/// Adds `$schema` and the definitions `schema` refers to, directly or
/// through other definitions.
fn stand_alone(schema: &mut Value, defs: &Map<String, Value>) {
    let mut wanted: Vec<String> = Vec::new();
    refs(schema, &mut wanted);
    let mut i = 0;
    while let Some(name) = wanted.get(i).cloned() {
        if let Some(def) = defs.get(&name) {
            refs(def, &mut wanted);
        }
        i += 1;
    }
    wanted.sort_unstable();
    let own: Map<String, Value> = wanted
        .into_iter()
        .filter_map(|name| defs.get(&name).map(|d| (name, d.clone())))
        .collect();
    if let Value::Object(map) = schema {
        map.insert("$schema".into(), Value::String(DIALECT.into()));
        if !own.is_empty() {
            map.insert("$defs".into(), Value::Object(own));
        }
    }
}

/// The names of the `#/$defs/<name>` references in `v`, added once each.
fn refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                match (k.as_str(), child) {
                    ("$ref", Value::String(r)) => {
                        if let Some(name) = r.strip_prefix("#/$defs/") {
                            if !out.iter().any(|n| n == name) {
                                out.push(name.to_string());
                            }
                        }
                    }
                    _ => refs(child, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|c| refs(c, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Operation;

    /// Whether `v` fits `schema`, for the keywords the catalog's output
    /// schemas use (the full validator is the catalog test's, in `tests/`).
    fn fits(v: &Value, schema: &Value, defs: &Value) -> Result<(), String> {
        let fail = |why: &str| Err(format!("{v} does not fit {schema}: {why}"));
        if let Some(r) = schema["$ref"].as_str() {
            let name = r.strip_prefix("#/$defs/").unwrap_or(r);
            return fits(v, &defs[name], defs);
        }
        for (key, all) in [("oneOf", false), ("anyOf", false), ("allOf", true)] {
            if let Some(options) = schema[key].as_array() {
                let passed = options.iter().filter(|o| fits(v, o, defs).is_ok()).count();
                let ok = match (key, all) {
                    ("oneOf", _) => passed == 1,
                    (_, true) => passed == options.len(),
                    _ => passed > 0,
                };
                if !ok {
                    return fail(key);
                }
            }
        }
        if let Some(c) = schema.get("const") {
            if v != c {
                return fail("const");
            }
        }
        if let Some(e) = schema["enum"].as_array() {
            if !e.contains(v) {
                return fail("enum");
            }
        }
        let types: Vec<&str> = match &schema["type"] {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        let type_of = match v {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(n) if n.is_u64() || n.is_i64() => "integer",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        };
        if !types.is_empty() && !types.contains(&type_of) {
            return fail("type");
        }
        if let (Some(min), Some(n)) = (schema["minimum"].as_f64(), v.as_f64()) {
            if n < min {
                return fail("minimum");
            }
        }
        if let Value::Object(map) = v {
            let props = schema["properties"].as_object();
            for required in schema["required"].as_array().into_iter().flatten() {
                if !map.contains_key(required.as_str().unwrap_or_default()) {
                    return fail(&format!("no {required}"));
                }
            }
            for (k, child) in map {
                match props.and_then(|p| p.get(k)) {
                    Some(s) => fits(child, s, defs)?,
                    None if schema["additionalProperties"] == Value::Bool(false) => {
                        return fail(&format!("unknown key {k}"))
                    }
                    None => {}
                }
            }
        }
        if let (Value::Array(items), Some(s)) = (v, schema.get("items")) {
            for item in items {
                fits(item, s, defs)?;
            }
        }
        Ok(())
    }

    /// The two new reports, every outcome among them, as the wire writes
    /// them, fit their output schemas.
    #[test]
    fn the_check_and_published_reports_fit_their_schemas() {
        use crate::ops::{
            CheckItem, CheckOutcome, CheckReport, Probe, PublishedPost, PublishedPostsReport, RateHeadroom,
        };
        use crate::report::{Incomplete, ItemError, RateLimit, Service, StopReason};
        let doc = document();
        let schema = |i: usize| {
            let output = &doc["operations"][i]["output"];
            (output.clone(), output["$defs"].clone())
        };
        let text = || "words".to_string();
        let outcomes = [
            CheckOutcome::Ok,
            CheckOutcome::NotChecked(text()),
            CheckOutcome::Unauthorized(text()),
            CheckOutcome::MissingScope(text()),
            CheckOutcome::UnknownLocation(text()),
            CheckOutcome::UnknownDashboard(text()),
            CheckOutcome::Unreachable(text()),
            CheckOutcome::Tls(text()),
            CheckOutcome::RateLimited(text()),
            CheckOutcome::Failed(text()),
        ];
        let items = outcomes
            .into_iter()
            .map(|outcome| CheckItem {
                service: Service::Rankr,
                what: Probe::RankrDashboard,
                endpoint: String::new(),
                operations: vec![Operation::StatsSync],
                outcome,
                fix: text(),
                status: Some(404),
                latency_ms: 3,
            })
            .collect();
        let mut report = CheckReport {
            items,
            ok: false,
            rate_limit: Some(RateHeadroom {
                max: Some(100),
                daily_remaining: None,
                ..RateHeadroom::default()
            }),
            requests: 2,
            rotated_tokens: Some(crate::OAuthTokens::default()),
        };
        let (output, defs) = schema(5);
        fits(&crate::wire::check_json(&report), &output, &defs).unwrap();
        report.rate_limit = None;
        report.rotated_tokens = None;
        fits(&crate::wire::check_json(&report), &output, &defs).unwrap();
        let written = crate::wire::check_json(&report);
        assert_eq!(written["items"][0]["outcome"], "ok");
        assert_eq!(
            written["items"][1]["outcome"],
            serde_json::json!({"not-checked": "words"})
        );

        let published = PublishedPostsReport {
            posts: vec![PublishedPost {
                id: "p".into(),
                published_at: "2026-11-28T11:55:00.000Z".into(),
                platform: None,
                account_ids: vec!["a".into()],
                profile_ids: vec![],
                tag_ids: vec!["t".into()],
            }],
            errors: vec![ItemError {
                item: "p".into(),
                service: Service::Ghl,
                message: text(),
            }],
            incomplete: Some(Incomplete {
                reason: StopReason::RateLimited(RateLimit {
                    service: Service::Ghl,
                    endpoint: "e".into(),
                    retry_after_ms: Some(5),
                    message: text(),
                }),
                resume_after_ms: Some(5),
            }),
            state: vec![1, 2],
            ..PublishedPostsReport::default()
        };
        let (output, defs) = schema(4);
        fits(&crate::wire::published_posts_json(&published), &output, &defs).unwrap();
        // The control: a key the schema does not have is caught.
        let mut extra = crate::wire::published_posts_json(&published);
        extra["posts"][0]["created-at"] = Value::String(text());
        assert!(fits(&extra, &output, &defs).is_err());
    }

    #[test]
    fn every_schema_stands_alone_and_names_the_operations() {
        let doc = document();
        let names: Vec<&str> = doc["operations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["name"].as_str().unwrap())
            .collect();
        let code: Vec<&str> = Operation::ALL.iter().map(|o| o.name()).collect();
        assert_eq!(names, code);
        let mut schemas = vec![&doc["settings"], &doc["failure"]];
        for op in doc["operations"].as_array().unwrap() {
            schemas.push(&op["input"]);
            schemas.push(&op["output"]);
        }
        for s in schemas {
            assert_eq!(s["$schema"], DIALECT);
            let mut wanted = Vec::new();
            refs(s, &mut wanted);
            for name in wanted {
                assert!(s["$defs"].get(&name).is_some(), "{name} missing in {s}");
            }
        }
        // The metric names the settings accept are the code's.
        let metrics: Vec<&str> = doc["settings"]["$defs"]["metric-rename"]["properties"]["source"]["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m.as_str().unwrap())
            .collect();
        let code: Vec<&str> = crate::stats::metric::Metric::ALL.iter().map(|m| m.as_str()).collect();
        assert_eq!(metrics, code);
        let platforms = &doc["operations"][2]["input"]["properties"]["platforms"]["items"]["enum"];
        assert_eq!(platforms, &serde_json::json!(crate::ops::PLATFORMS));
        // Each entry's kind is the code's; the check names the operations
        // it can prove access for, and the version is the WIT package's.
        for (entry, op) in doc["operations"].as_array().unwrap().iter().zip(Operation::ALL) {
            assert_eq!(entry["kind"], op.kind().name(), "{}", op.name());
        }
        let checkable: Vec<&str> = crate::ops::CHECKABLE.iter().map(|o| o.name()).collect();
        let check = &doc["operations"][5];
        assert_eq!(
            check["input"]["properties"]["operations"]["items"]["enum"],
            serde_json::json!(checkable)
        );
        assert_eq!(
            check["output"]["$defs"]["check-item"]["properties"]["operations"]["items"]["enum"],
            serde_json::json!(checkable)
        );
        let wit = include_str!("../../../wit/connector.wit");
        let version = doc["version"].as_str().unwrap();
        assert!(
            wit.contains(&format!("package rankr:ghl-connector@{version};")),
            "{version}"
        );
    }
}
