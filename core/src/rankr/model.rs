//! Rankr request and response shapes, from `spec/rankr-api.yaml`.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
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

/// The body of `batch-upsert-tags`: each item already serialized (its
/// bytes are also its content hash), written as it is.
#[derive(Debug, Serialize)]
pub struct TagBatch<'a> {
    pub items: &'a [Box<RawValue>],
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
        // Attributes of another type than a TagInput takes are left out.
        let mut attributes = BTreeMap::new();
        for (key, value) in self.attributes {
            let value = match value {
                serde_json::Value::String(s) => AttrValue::Text(s),
                serde_json::Value::Bool(b) => AttrValue::Bool(b),
                serde_json::Value::Number(n) => match n.as_f64() {
                    Some(f) => AttrValue::Number(f),
                    None => continue,
                },
                _ => continue,
            };
            attributes.insert(key, value);
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

/// An answer of a list endpoint (`list-tags`, `list-metrics`) read for its
/// shape alone: `data` is an array.
#[derive(Debug, Deserialize)]
pub struct DataList {
    pub data: Vec<serde::de::IgnoredAny>,
}
