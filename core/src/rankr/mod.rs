//! The Rankr API, per `spec/rankr-api.yaml`: idempotent batch upserts with an
//! `Idempotency-Key`, problem+json errors, 100 tags / 500 points / 1 MiB a
//! request. The requests and the readers of their answers; sending them is
//! the exchange's job (`client`).

pub mod error;
pub mod model;

use crate::io::url::{build, encode};
use crate::io::{Method, Request};
use crate::json::{self, Unreadable};
use crate::report::{Service, SyncError};
use model::{MetricBatch, MetricPoint, PostTags, TagBatch, TagBatchResponse, TagResult};
use serde_json::value::RawValue;

/// Tags per `batch-upsert-tags`.
pub const MAX_TAGS_PER_BATCH: usize = 100;
/// Points per `batch-upsert-metrics`.
pub const MAX_POINTS_PER_BATCH: usize = 500;
/// Bytes per request body.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// Tags per `list-tags` page.
pub const LIST_PAGE: u32 = 500;

pub const EP_TAGS: &str = "POST /v1/tags/batch-upsert";
pub const EP_LIST_TAGS: &str = "GET /v1/tags";
pub const EP_POST_TAGS: &str = "PUT /v1/posts/{externalPostId}/tags";
pub const EP_METRICS: &str = "POST /v1/dashboards/{dashboardId}/metrics/batch-upsert";
pub const EP_LIST_METRICS: &str = "GET /v1/dashboards/{dashboardId}/metrics";

const ACCEPT: &str = "application/json, application/problem+json";

/// Rankr endpoints, bound to a base URL.
pub struct Rankr<'s> {
    pub base: &'s str,
    pub timeout_ms: u32,
}

impl Rankr<'_> {
    /// A JSON write; `idempotency_key` for the batch POSTs.
    fn write(&self, method: Method, path: &str, body: Vec<u8>, idempotency_key: Option<&str>) -> Request {
        let mut headers = vec![
            ("Accept".to_string(), ACCEPT.to_string()),
            ("Content-Type".to_string(), "application/json".to_string()),
        ];
        if let Some(key) = idempotency_key {
            headers.push(("Idempotency-Key".to_string(), key.to_string()));
        }
        Request {
            method,
            url: build(self.base, path, &[]),
            headers,
            body: Some(body),
            timeout_ms: self.timeout_ms,
        }
    }

    /// `POST /v1/tags/batch-upsert`, with a body from [`tag_batch_body`];
    /// read with [`read_tag_results`].
    pub fn upsert_tags(&self, body: Vec<u8>, key: &str) -> Request {
        self.write(Method::Post, "/v1/tags/batch-upsert", body, Some(key))
    }

    /// `GET /v1/tags?source=ghl&locationId=&limit=500[&cursor=]`: the
    /// location's live (not archived) tags in Rankr, a page at a time; read
    /// as a [`model::TagListPage`].
    pub fn list_tags(&self, location: &str, cursor: Option<&str>) -> Request {
        self.tags_page(location, LIST_PAGE, cursor)
    }

    /// `GET /v1/tags?source=ghl&locationId=&limit=`: the first `limit` of
    /// the location's tags, read as a [`model::DataList`] (`check`'s proof
    /// that the key reads).
    pub fn first_tags(&self, location: &str, limit: u32) -> Request {
        self.tags_page(location, limit, None)
    }

    fn tags_page(&self, location: &str, limit: u32, cursor: Option<&str>) -> Request {
        let limit = limit.to_string();
        let mut query = vec![
            ("source", model::SOURCE),
            ("locationId", location),
            ("limit", limit.as_str()),
        ];
        if let Some(c) = cursor {
            query.push(("cursor", c));
        }
        self.read(build(self.base, "/v1/tags", &query))
    }

    /// `GET /v1/dashboards/{dashboardId}/metrics?scope=&metric=`: one
    /// series of a dashboard, read as a [`model::DataList`].
    pub fn metrics(&self, dashboard: &str, scope: &str, metric: &str) -> Request {
        let path = format!("/v1/dashboards/{}/metrics", encode(dashboard));
        self.read(build(self.base, &path, &[("scope", scope), ("metric", metric)]))
    }

    fn read(&self, url: String) -> Request {
        Request {
            method: Method::Get,
            url,
            headers: vec![("Accept".to_string(), ACCEPT.to_string())],
            body: None,
            timeout_ms: self.timeout_ms,
        }
    }

    /// `PUT /v1/posts/{externalPostId}/tags`, with a body from
    /// [`post_tags_body`]; read as a [`model::PostTagsResponse`].
    pub fn set_post_tags(&self, post_id: &str, body: Vec<u8>) -> Request {
        self.write(Method::Put, &post_tags_path(post_id), body, None)
    }

    /// `POST /v1/dashboards/{dashboardId}/metrics/batch-upsert`, with a body
    /// from [`metric_batch_body`]; read as a [`model::MetricBatchResponse`].
    pub fn upsert_metrics(&self, dashboard: &str, body: Vec<u8>, key: &str) -> Request {
        self.write(Method::Post, &metrics_path(dashboard), body, Some(key))
    }
}

pub fn post_tags_path(post_id: &str) -> String {
    format!("/v1/posts/{}/tags", encode(post_id))
}

pub fn metrics_path(dashboard: &str) -> String {
    format!("/v1/dashboards/{}/metrics/batch-upsert", encode(dashboard))
}

/// One tag item serialized: its bytes go into the batch as they are, and
/// hash its content.
pub fn tag_item(item: &model::TagInput) -> Box<RawValue> {
    // Serializing a `TagInput` cannot fail: its keys are strings.
    serde_json::value::to_raw_value(item).unwrap_or_default()
}

/// The body of a tag batch.
pub fn tag_batch_body(items: &[Box<RawValue>]) -> Vec<u8> {
    serde_json::to_vec(&TagBatch { items }).unwrap_or_default()
}

/// The size of [`tag_batch_body`] for `items` items of `item_bytes` bytes in
/// all: the envelope, the items, and a comma between two.
pub fn tag_batch_bytes(items: usize, item_bytes: usize) -> usize {
    const EMPTY: &str = r#"{"items":[]}"#;
    EMPTY.len() + item_bytes + items.saturating_sub(1)
}

/// The body of `PUT /v1/posts/{externalPostId}/tags`.
pub fn post_tags_body(location: &str, tag_external_ids: &[String]) -> Vec<u8> {
    serde_json::to_vec(&PostTags {
        source: model::SOURCE,
        location_id: location,
        tag_external_ids,
    })
    .unwrap_or_default()
}

/// The body of a metric batch.
pub fn metric_batch_body(points: &[MetricPoint]) -> Vec<u8> {
    serde_json::to_vec(&MetricBatch { points }).unwrap_or_default()
}

/// Reads a `batch-upsert-tags` answer.
pub fn read_tag_results(body: &[u8]) -> Result<TagBatchResponse, Unreadable> {
    json::read(Service::Rankr, EP_TAGS, body)
}

/// Rankr's answer to a tag batch: one result per item, in request order.
pub fn check_tag_results<'a>(
    answer: TagBatchResponse,
    external_ids: impl ExactSizeIterator<Item = &'a str>,
) -> Result<Vec<TagResult>, SyncError> {
    let sent = external_ids.len();
    if answer.results.len() != sent {
        return Err(SyncError::InvalidResponse {
            service: Service::Rankr,
            endpoint: EP_TAGS.into(),
            field: "results".into(),
            message: format!("{} results for {} items", answer.results.len(), sent),
        });
    }
    if let Some((i, (result, id))) = answer
        .results
        .iter()
        .zip(external_ids)
        .enumerate()
        .find(|(_, (result, id))| result.external_id != *id)
    {
        return Err(SyncError::InvalidResponse {
            service: Service::Rankr,
            endpoint: EP_TAGS.into(),
            field: format!("results[{i}].externalId"),
            message: format!("`{}` answers item `{id}`", result.external_id),
        });
    }
    Ok(answer.results)
}

#[cfg(test)]
mod tests {
    use super::*;
    use model::{AttrValue, TagInput, SOURCE};

    /// The body is the items as serialized one by one, and its size is
    /// known before it is written (the writer keeps bodies under 1 MiB).
    #[test]
    fn a_batch_is_its_items_and_its_size_is_known() {
        let item = |i: usize, name: &str| TagInput {
            external_id: format!("t{i}"),
            source: SOURCE,
            location_id: "loc/\"1\"".into(),
            name: name.into(),
            archived: i % 2 == 0,
            source_created_at: (i % 3 == 0).then(|| "2024-03-01T10:00:00.000Z".into()),
            source_updated_at: None,
            attributes: [("createdBy".to_string(), AttrValue::Text("u\u{1F600}\n".into()))]
                .into_iter()
                .filter(|_| i % 2 == 1)
                .collect(),
        };
        for items in [
            vec![],
            vec![item(0, "plain")],
            vec![item(1, "é \\ \" \t ctrl\u{1}"), item(2, "two"), item(3, "")],
        ] {
            let raws: Vec<Box<RawValue>> = items.iter().map(tag_item).collect();
            for (raw, input) in raws.iter().zip(&items) {
                assert_eq!(raw.get(), serde_json::to_string(input).unwrap());
            }
            let body = tag_batch_body(&raws);
            let bytes: usize = raws.iter().map(|r| r.get().len()).sum();
            assert_eq!(body.len(), tag_batch_bytes(raws.len(), bytes));
            let back: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(back, serde_json::json!({ "items": items }));
        }
    }
}
