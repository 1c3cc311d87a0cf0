//! Rankr request and response shapes, from `spec/rankr-api.yaml`.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The only `source` Rankr knows for this connector.
pub const SOURCE: &str = "ghl";

/// A free-form attribute value (`string | number | boolean`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum AttrValue {
    Text(String),
    Bool(bool),
    Number(f64),
}

/// `TagInput`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TagInput {
    pub external_id: String,
    pub source: &'static str,
    pub location_id: String,
    pub name: String,
    pub archived: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_created_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_updated_at: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, AttrValue>,
}

impl TagInput {
    /// Appends this item's JSON to `out`: byte for byte what serializing it
    /// with serde_json gives (tests hold the two equal), written with the
    /// keys as literals and strings copied eight bytes at a time when they
    /// need no escaping. Items are the connector's hottest output, and a
    /// byte-at-a-time loop is what costs most inside wasm.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"externalId\":");
        json_str(out, &self.external_id);
        out.extend_from_slice(b",\"source\":");
        json_str(out, self.source);
        out.extend_from_slice(b",\"locationId\":");
        json_str(out, &self.location_id);
        out.extend_from_slice(b",\"name\":");
        json_str(out, &self.name);
        out.extend_from_slice(if self.archived {
            b",\"archived\":true"
        } else {
            b",\"archived\":false"
        });
        if let Some(t) = &self.source_created_at {
            out.extend_from_slice(b",\"sourceCreatedAt\":");
            json_str(out, t);
        }
        if let Some(t) = &self.source_updated_at {
            out.extend_from_slice(b",\"sourceUpdatedAt\":");
            json_str(out, t);
        }
        if !self.attributes.is_empty() {
            out.extend_from_slice(b",\"attributes\":{");
            for (i, (k, v)) in self.attributes.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                json_str(out, k);
                out.push(b':');
                match v {
                    AttrValue::Text(t) => json_str(out, t),
                    AttrValue::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
                    // serde_json's number writing (non-finite numbers are null).
                    AttrValue::Number(n) => {
                        if serde_json::to_writer(&mut *out, n).is_err() {
                            out.extend_from_slice(b"null");
                        }
                    }
                }
            }
            out.push(b'}');
        }
        out.push(b'}');
    }
}

/// A JSON string. When nothing in `s` needs escaping (the usual case) its
/// bytes are copied as they are; otherwise serde_json escapes it.
fn json_str(out: &mut Vec<u8>, s: &str) {
    if needs_escape(s.as_bytes()) {
        if serde_json::to_writer(&mut *out, s).is_err() {
            out.extend_from_slice(b"\"\"");
        }
        return;
    }
    out.reserve(s.len() + 2);
    out.push(b'"');
    out.extend_from_slice(s.as_bytes());
    out.push(b'"');
}

/// Whether any byte is one JSON escapes: a control byte, `"` or `\`. Eight
/// bytes a step: a byte-wise zero test on the word, with the quote and the
/// backslash turned into zeros by an xor.
fn needs_escape(b: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero_byte = |v: u64| v.wrapping_sub(ONES) & !v & HIGH != 0;
    let mut words = b.chunks_exact(8);
    for w in &mut words {
        let mut x = [0u8; 8];
        x.copy_from_slice(w);
        let x = u64::from_le_bytes(x);
        // A byte below 0x20 borrows in `x - 0x20..`; the high bit of `!x`
        // keeps bytes >= 0x80 (UTF-8) out.
        let control = x.wrapping_sub(ONES * 0x20) & !x & HIGH != 0;
        if control || zero_byte(x ^ (ONES * u64::from(b'"'))) || zero_byte(x ^ (ONES * u64::from(b'\\'))) {
            return true;
        }
    }
    words.remainder().iter().any(|&c| c < 0x20 || c == b'"' || c == b'\\')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn needs_escape_finds_every_escaped_byte_anywhere() {
        for len in 0..20 {
            for at in 0..len {
                for bad in (0u8..0x20).chain([b'"', b'\\']) {
                    let mut v = vec![b'a'; len];
                    v[at] = bad;
                    assert!(needs_escape(&v), "{bad:#x} at {at} of {len}");
                }
                for good in [0x20u8, b'!', b'#', b'[', b']', 0x7f, 0x80, 0xc3, 0xff] {
                    let mut v = vec![b'a'; len];
                    v[at] = good;
                    assert!(!needs_escape(&v), "{good:#x} at {at} of {len}");
                }
            }
        }
    }
}

/// The batch body, serialized whole (tests: the reference for the body
/// assembled from items serialized one by one).
#[cfg(test)]
#[derive(Debug, Serialize)]
pub struct TagBatch<'a> {
    pub items: &'a [TagInput],
}

/// One result of `batch-upsert-tags`, in request order.
#[derive(Debug, Deserialize)]
pub struct TagResult {
    #[serde(rename = "externalId")]
    pub external_id: String,
    pub status: TagStatus,
    #[serde(default)]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TagStatus {
    Created,
    Updated,
    Unchanged,
    Rejected,
}

#[derive(Debug, Deserialize)]
pub struct TagBatchResponse {
    pub results: Vec<TagResult>,
}

/// Body of `set-post-tags`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PostTags<'a> {
    pub source: &'static str,
    pub location_id: &'a str,
    pub tag_external_ids: &'a [String],
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PostTagsResponse {
    pub tag_count: f64,
}

/// `MetricPoint`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricPoint {
    pub scope: String,
    pub metric: String,
    pub timestamp: String,
    pub value: f64,
}

#[derive(Debug, Serialize)]
pub struct MetricBatch<'a> {
    pub points: &'a [MetricPoint],
}

#[derive(Debug, Deserialize)]
pub struct MetricBatchResponse {
    pub accepted: f64,
    pub created: f64,
    pub updated: f64,
}

/// `Tag` as `list-tags` returns it (the parts a `TagInput` needs).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredTag {
    pub external_id: String,
    pub location_id: String,
    pub name: String,
    #[serde(default)]
    pub archived: bool,
    #[serde(default)]
    pub source_created_at: Option<String>,
    #[serde(default)]
    pub source_updated_at: Option<String>,
    #[serde(default)]
    pub attributes: BTreeMap<String, serde_json::Value>,
}

impl StoredTag {
    /// The same tag, archived.
    pub fn archived_input(self) -> TagInput {
        TagInput {
            external_id: self.external_id,
            source: SOURCE,
            location_id: self.location_id,
            name: self.name,
            archived: true,
            source_created_at: self.source_created_at,
            source_updated_at: self.source_updated_at,
            attributes: self
                .attributes
                .into_iter()
                .filter_map(|(k, v)| match v {
                    serde_json::Value::String(s) => Some((k, AttrValue::Text(s))),
                    serde_json::Value::Bool(b) => Some((k, AttrValue::Bool(b))),
                    serde_json::Value::Number(n) => n.as_f64().map(|f| (k, AttrValue::Number(f))),
                    _ => None,
                })
                .collect(),
        }
    }
}

/// One page of `list-tags`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TagListPage {
    pub data: Vec<StoredTag>,
    #[serde(default)]
    pub next_cursor: Option<String>,
}

/// `Problem` (application/problem+json).
#[derive(Debug, Deserialize)]
pub struct Problem {
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub detail: Option<String>,
    #[serde(default)]
    pub errors: Vec<ProblemItem>,
}

#[derive(Debug, Deserialize)]
pub struct ProblemItem {
    #[serde(default)]
    pub index: Option<i64>,
    #[serde(default)]
    pub field: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
}
