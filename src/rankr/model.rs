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
        crate::json::write_str(out, &self.external_id);
        out.extend_from_slice(b",\"source\":");
        crate::json::write_str(out, self.source);
        out.extend_from_slice(b",\"locationId\":");
        crate::json::write_str(out, &self.location_id);
        out.extend_from_slice(b",\"name\":");
        crate::json::write_str(out, &self.name);
        out.extend_from_slice(if self.archived {
            b",\"archived\":true"
        } else {
            b",\"archived\":false"
        });
        if let Some(t) = &self.source_created_at {
            out.extend_from_slice(b",\"sourceCreatedAt\":");
            crate::json::write_str(out, t);
        }
        if let Some(t) = &self.source_updated_at {
            out.extend_from_slice(b",\"sourceUpdatedAt\":");
            crate::json::write_str(out, t);
        }
        if !self.attributes.is_empty() {
            out.extend_from_slice(b",\"attributes\":{");
            for (i, (k, v)) in self.attributes.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                crate::json::write_str(out, k);
                out.push(b':');
                match v {
                    AttrValue::Text(t) => crate::json::write_str(out, t),
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

/// The batch body, serialized whole (tests: the reference for the body
/// assembled from items serialized one by one).
#[cfg(test)]
#[derive(Debug, Serialize)]
pub struct TagBatch<'a> {
    pub items: &'a [TagInput],
}

/// One result of `batch-upsert-tags`, in request order.
#[derive(Debug, PartialEq, Deserialize)]
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

#[derive(Debug, PartialEq, Deserialize)]
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
        // Inserted one by one: collecting into a `BTreeMap` compiles a stable
        // sort for it (8 KB of component), and these keys come sorted anyway.
        let mut attributes = BTreeMap::new();
        for (k, v) in self.attributes {
            let v = match v {
                serde_json::Value::String(s) => AttrValue::Text(s),
                serde_json::Value::Bool(b) => AttrValue::Bool(b),
                serde_json::Value::Number(n) => match n.as_f64() {
                    Some(f) => AttrValue::Number(f),
                    None => continue,
                },
                _ => continue,
            };
            attributes.insert(k, v);
        }
        TagInput {
            external_id: self.external_id,
            source: SOURCE,
            location_id: self.location_id,
            name: self.name,
            archived: true,
            source_created_at: self.source_created_at,
            source_updated_at: self.source_updated_at,
            attributes,
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
