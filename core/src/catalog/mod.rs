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
    }
}
