//! The Rankr client, per `spec/rankr-api.yaml`: idempotent batch upserts with
//! an `Idempotency-Key`, problem+json errors, 100 tags / 500 points / 1 MiB
//! per request.

pub mod model;
mod scan;

use crate::client::{read_json, Exchange, Unreadable};
use crate::io::url::{build, encode};
use crate::io::{Host, Method, Request};
use crate::report::{Service, SyncError};
use model::{
    MetricBatch, MetricBatchResponse, MetricPoint, PostTags, PostTagsResponse, TagBatchResponse, TagListPage, TagResult,
};

/// Tags per `batch-upsert-tags`.
pub const MAX_TAGS_PER_BATCH: usize = 100;
/// Points per `batch-upsert-metrics`.
pub const MAX_POINTS_PER_BATCH: usize = 500;
/// Bytes per request body.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

pub const EP_TAGS: &str = "POST /v1/tags/batch-upsert";
pub const EP_LIST_TAGS: &str = "GET /v1/tags";
/// Tags per `list-tags` page.
pub const LIST_PAGE: u32 = 500;
pub const EP_POST_TAGS: &str = "PUT /v1/posts/{externalPostId}/tags";
pub const EP_METRICS: &str = "POST /v1/dashboards/{dashboardId}/metrics/batch-upsert";

/// Reads a `batch-upsert-tags` answer: in one pass when it has the plain
/// shape (nearly always, see [`scan`]), else by serde, which also names what
/// is wrong.
pub fn read_tag_results(body: &[u8]) -> Result<TagBatchResponse, Unreadable> {
    if let Some(answer) = crate::json::text(body).and_then(scan::read) {
        return Ok(answer);
    }
    read_json(Service::Rankr, EP_TAGS, body)
}

/// Rankr endpoints, bound to a base URL and key.
pub struct Rankr<'s> {
    pub base: &'s str,
    pub timeout_ms: u32,
}

impl Rankr<'_> {
    /// A write request; `idempotency_key` for batch POSTs.
    pub fn request(&self, method: Method, path: &str, body: Vec<u8>, idempotency_key: Option<&str>) -> Request {
        let mut headers = vec![
            (
                "Accept".to_string(),
                "application/json, application/problem+json".to_string(),
            ),
            ("Content-Type".to_string(), "application/json".to_string()),
        ];
        if let Some(k) = idempotency_key {
            headers.push(("Idempotency-Key".to_string(), k.to_string()));
        }
        Request {
            method,
            url: build(self.base, path, &[]),
            headers,
            body: Some(body),
            timeout_ms: self.timeout_ms,
        }
    }

    /// `POST /v1/tags/batch-upsert` with a body from [`TagBatchBody`].
    pub fn upsert_tags_request(&self, body: Vec<u8>, key: &str) -> Request {
        self.request(Method::Post, "/v1/tags/batch-upsert", body, Some(key))
    }

    /// `GET /v1/tags?source=ghl&locationId=&limit=500[&cursor=]`: the
    /// location's live (not archived) tags in Rankr, a page at a time.
    pub fn list_tags<H: Host + ?Sized>(
        &self,
        ex: &mut Exchange<'_, H>,
        location: &str,
        cursor: Option<&str>,
    ) -> Result<TagListPage, SyncError> {
        let limit = LIST_PAGE.to_string();
        let mut query = vec![
            ("source", model::SOURCE),
            ("locationId", location),
            ("limit", limit.as_str()),
        ];
        if let Some(c) = cursor {
            query.push(("cursor", c));
        }
        let req = Request {
            method: Method::Get,
            url: build(self.base, "/v1/tags", &query),
            headers: vec![(
                "Accept".to_string(),
                "application/json, application/problem+json".to_string(),
            )],
            body: None,
            timeout_ms: self.timeout_ms,
        };
        ex.send_json(Service::Rankr, EP_LIST_TAGS, req)
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

    pub fn post_tags_path(post_id: &str) -> String {
        format!("/v1/posts/{}/tags", encode(post_id))
    }

    /// `PUT /v1/posts/{externalPostId}/tags`; returns Rankr's `tagCount`.
    pub fn set_post_tags<H: Host + ?Sized>(
        &self,
        ex: &mut Exchange<'_, H>,
        post_id: &str,
        body: Vec<u8>,
    ) -> Result<u32, SyncError> {
        let req = self.request(Method::Put, &Self::post_tags_path(post_id), body, None);
        let resp: PostTagsResponse = ex.send_json(Service::Rankr, EP_POST_TAGS, req)?;
        Ok(resp.tag_count.clamp(0.0, u32::MAX as f64) as u32)
    }

    pub fn metrics_path(dashboard: &str) -> String {
        format!("/v1/dashboards/{}/metrics/batch-upsert", encode(dashboard))
    }

    /// `POST /v1/dashboards/{dashboardId}/metrics/batch-upsert`.
    pub fn upsert_metrics<H: Host + ?Sized>(
        &self,
        ex: &mut Exchange<'_, H>,
        dashboard: &str,
        body: Vec<u8>,
        key: &str,
    ) -> Result<MetricBatchResponse, SyncError> {
        let req = self.request(Method::Post, &Self::metrics_path(dashboard), body, Some(key));
        ex.send_json(Service::Rankr, EP_METRICS, req)
    }
}

/// The JSON body of a tag batch, serialized whole (the reference for
/// [`TagBatchBody`]).
#[cfg(test)]
pub fn tag_batch_body(items: &[model::TagInput]) -> Vec<u8> {
    serde_json::to_vec(&model::TagBatch { items }).unwrap_or_default()
}

/// The bytes a batch body adds around its items: `{"items":[` `]}`.
pub const BATCH_ENVELOPE_BYTES: usize = 12;

/// A tag batch body built in place: each item is serialized once, straight
/// into the body (its bytes also give its content hash), and the result is
/// byte for byte [`tag_batch_body`] of the same items. No item is copied.
pub struct TagBatchBody {
    buf: Vec<u8>,
    items: usize,
}

/// Where [`TagBatchBody::push`] put an item: `mark` undoes the push.
#[derive(Debug, Clone, Copy)]
pub struct Pushed {
    mark: usize,
    start: usize,
}

impl TagBatchBody {
    pub fn with_capacity(bytes: usize) -> Self {
        let mut buf = Vec::with_capacity(bytes.max(BATCH_ENVELOPE_BYTES));
        buf.extend_from_slice(b"{\"items\":[");
        TagBatchBody { buf, items: 0 }
    }

    /// Appends one item.
    pub fn push(&mut self, item: &model::TagInput) -> Pushed {
        self.append(|buf| item.write_json(buf))
    }

    /// Appends one item already serialized (an item moved from a body that
    /// it did not fit).
    pub fn push_json(&mut self, json: &[u8]) -> Pushed {
        self.append(|buf| buf.extend_from_slice(json))
    }

    /// The separator, then the item `write` puts down.
    fn append(&mut self, write: impl FnOnce(&mut Vec<u8>)) -> Pushed {
        let mark = self.buf.len();
        if self.items > 0 {
            self.buf.push(b',');
        }
        let start = self.buf.len();
        write(&mut self.buf);
        self.items += 1;
        Pushed { mark, start }
    }

    /// The JSON of the item `at` names (the last one pushed).
    pub fn item(&self, at: Pushed) -> &[u8] {
        &self.buf[at.start..]
    }

    /// Takes the last item back out.
    pub fn undo(&mut self, at: Pushed) {
        self.buf.truncate(at.mark);
        self.items -= 1;
    }

    /// Items in the body.
    pub fn len(&self) -> usize {
        self.items
    }

    pub fn is_empty(&self) -> bool {
        self.items == 0
    }

    /// The finished body's size.
    pub fn finished_bytes(&self) -> usize {
        self.buf.len() + 2
    }

    /// Closes the body.
    pub fn finish(mut self) -> Vec<u8> {
        self.buf.extend_from_slice(b"]}");
        self.buf
    }
}

/// Rankr's answer to a tag batch: one result per item, in request order.
pub fn check_tag_results<'a>(
    resp: TagBatchResponse,
    external_ids: impl ExactSizeIterator<Item = &'a str>,
) -> Result<Vec<TagResult>, SyncError> {
    let sent = external_ids.len();
    if resp.results.len() != sent {
        return Err(SyncError::InvalidResponse {
            service: Service::Rankr,
            endpoint: EP_TAGS.into(),
            field: "results".into(),
            message: format!("{} results for {} items", resp.results.len(), sent),
        });
    }
    if let Some((i, (r, id))) = resp
        .results
        .iter()
        .zip(external_ids)
        .enumerate()
        .find(|(_, (r, id))| !crate::bytes::same(r.external_id.as_bytes(), id.as_bytes()))
    {
        return Err(SyncError::InvalidResponse {
            service: Service::Rankr,
            endpoint: EP_TAGS.into(),
            field: format!("results[{i}].externalId"),
            message: format!("`{}` answers item `{id}`", r.external_id),
        });
    }
    Ok(resp.results)
}

/// The JSON body of a metric batch.
pub fn metric_batch_body(points: &[MetricPoint]) -> Vec<u8> {
    serde_json::to_vec(&MetricBatch { points }).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use model::{AttrValue, TagInput, SOURCE};

    /// The body assembled from items serialized one by one is byte for byte
    /// the batch serialized whole (the idempotency key and the content hashes
    /// rely on it).
    #[test]
    fn assembled_body_is_the_serialized_batch() {
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
            let mut body = TagBatchBody::with_capacity(0);
            for i in &items {
                let at = body.push(i);
                assert_eq!(body.item(at), serde_json::to_vec(i).unwrap());
            }
            // An item pushed and taken back leaves no trace.
            let at = body.push(&item(9, "undone"));
            body.undo(at);
            assert_eq!(body.len(), items.len());
            let size = body.finished_bytes();
            let assembled = body.finish();
            assert_eq!(assembled.len(), size);
            assert_eq!(
                String::from_utf8(assembled).unwrap(),
                String::from_utf8(tag_batch_body(&items)).unwrap()
            );
        }
    }
}
