//! Any JSON as the mapping tables (rows of source, target, transforms),
//! then applied to a tag.
#![no_main]

use ghl_rankr_core::ghl::model::GhlTag;
use ghl_rankr_core::mapping::{MappingRow, TagMapping, Transform};
use ghl_rankr_core::stats::MetricRenames;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fn transform(v: &Value) -> Option<Transform> {
    Some(match v {
        Value::String(s) => match s.as_str() {
            "trim" => Transform::Trim,
            "lowercase" => Transform::Lowercase,
            "uppercase" => Transform::Uppercase,
            "slugify" => Transform::Slugify,
            other => Transform::Prefix(other.to_string()),
        },
        Value::Number(n) => Transform::Truncate(n.as_u64().unwrap_or(0) as u32),
        Value::Array(a) if a.len() == 2 => Transform::Replace {
            from: a[0].as_str()?.to_string(),
            to: a[1].as_str()?.to_string(),
        },
        Value::Object(o) => Transform::Default(o.keys().next()?.clone()),
        _ => return None,
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(Value::Array(rows)) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let rows: Vec<MappingRow> = rows
        .iter()
        .filter_map(|r| {
            let a = r.as_array()?;
            Some(MappingRow {
                source: a.first()?.as_str()?.to_string(),
                target: a.get(1)?.as_str()?.to_string(),
                transforms: a
                    .get(2)
                    .and_then(Value::as_array)
                    .map(|t| t.iter().filter_map(transform).collect())
                    .unwrap_or_default(),
            })
        })
        .collect();
    if let Ok(m) = TagMapping::compile(&rows) {
        if let Ok(mut tag) = serde_json::from_str::<GhlTag>(
            r#"{"_id":"a b","tag":"  Summer Sale ","deleted":true,"createdAt":"2024-01-01T00:00:00Z"}"#,
        ) {
            let _ = m.apply(&mut tag, "loc");
        }
    }
    let renames: Vec<(String, String)> = rows.into_iter().map(|r| (r.source, r.target)).collect();
    let _ = MetricRenames::compile(&renames);
});
