//! The GHL Social Planner API as the official spec describes it: the
//! requests the connector makes and the readers of their answers. Sending
//! them is the exchange's job (`client`).

pub mod error;
pub mod model;

use crate::io::url::{build, encode};
use crate::io::{Method, Request};
use crate::json::{self, Unreadable};
use crate::report::{Service, SyncError};
use model::{GhlTag, PostEnvelope, TagId, TagsEnvelope};
use serde::Serialize;

/// The API version every call names in its `Version` header.
pub const API_VERSION: &str = "2021-07-28";

pub const EP_TAGS: &str = "GET /social-media-posting/{locationId}/tags";
pub const EP_TAG_DETAILS: &str = "POST /social-media-posting/{locationId}/tags/details";
pub const EP_POST: &str = "GET /social-media-posting/{locationId}/posts/{id}";
pub const EP_STATISTICS: &str = "POST /social-media-posting/statistics";

/// Ids GHL takes per `tags/details` request.
pub const MAX_IDS_PER_DETAILS: usize = 100;

/// A tag that could not be read: the item (its `_id`, or its place on the
/// page) and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadTag {
    pub item: String,
    pub why: String,
}

/// A tag as read, or why it could not be read.
pub type ParsedTag = Result<GhlTag, BadTag>;

/// A page of `get-tags-location-id`, or the answer of `get-tags-by-ids`.
#[derive(Debug)]
pub struct TagPage {
    pub tags: Vec<ParsedTag>,
    /// `results.count`: all the location's tags, when the server says.
    pub count: Option<u64>,
}

/// GHL endpoints, bound to a base URL.
pub struct Ghl<'s> {
    pub base: &'s str,
    pub timeout_ms: u32,
}

impl Ghl<'_> {
    fn request(&self, method: Method, path: &str, query: &[(&str, &str)], body: Option<Vec<u8>>) -> Request {
        let mut headers = vec![
            ("Version".to_string(), API_VERSION.to_string()),
            ("Accept".to_string(), "application/json".to_string()),
        ];
        if body.is_some() {
            headers.push(("Content-Type".to_string(), "application/json".to_string()));
        }
        Request {
            method,
            url: build(self.base, path, query),
            headers,
            body,
            timeout_ms: self.timeout_ms,
        }
    }

    /// `GET /social-media-posting/{locationId}/tags?limit=&skip=`, read with
    /// [`read_tag_page`].
    pub fn tags(&self, location: &str, skip: u64, limit: u32) -> Request {
        let path = format!("/social-media-posting/{}/tags", encode(location));
        let (limit, skip) = (limit.to_string(), skip.to_string());
        self.request(Method::Get, &path, &[("limit", &limit), ("skip", &skip)], None)
    }

    /// `POST /social-media-posting/{locationId}/tags/details {tagIds}`, read
    /// with [`read_tag_page`].
    pub fn tag_details(&self, location: &str, ids: &[String]) -> Request {
        #[derive(Serialize)]
        struct Body<'a> {
            #[serde(rename = "tagIds")]
            tag_ids: &'a [String],
        }
        let path = format!("/social-media-posting/{}/tags/details", encode(location));
        let body = serde_json::to_vec(&Body { tag_ids: ids }).unwrap_or_default();
        self.request(Method::Post, &path, &[], Some(body))
    }

    /// `GET /social-media-posting/{locationId}/posts/{id}`, read with
    /// [`read_post_tags`].
    pub fn post(&self, location: &str, post: &str) -> Request {
        let path = format!("/social-media-posting/{}/posts/{}", encode(location), encode(post));
        self.request(Method::Get, &path, &[], None)
    }

    /// `POST /social-media-posting/statistics?locationId= {profileIds,
    /// platforms?}`, read as a [`model::StatisticsEnvelope`].
    pub fn statistics(&self, location: &str, profile_ids: &[String], platforms: &[String]) -> Request {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Body<'a> {
            profile_ids: &'a [String],
            #[serde(skip_serializing_if = "<[String]>::is_empty")]
            platforms: &'a [String],
        }
        let body = serde_json::to_vec(&Body { profile_ids, platforms }).unwrap_or_default();
        self.request(
            Method::Post,
            "/social-media-posting/statistics",
            &[("locationId", location)],
            Some(body),
        )
    }
}

/// Reads a tags page (either endpoint; `endpoint` names it in errors). A
/// page that is not JSON, or not the envelope, fails as a whole; a tag of
/// the wrong shape is one [`BadTag`], and the rest of the page reads on.
pub fn read_tag_page(endpoint: &str, body: &[u8]) -> Result<TagPage, Unreadable> {
    let envelope: TagsEnvelope = json::read(Service::Ghl, endpoint, body)?;
    let count = read_count(endpoint, envelope.results.count).map_err(|error| Unreadable {
        error,
        retryable: false,
    })?;
    let tags = envelope
        .results
        .tags
        .iter()
        .enumerate()
        .map(|(i, raw)| read_tag(i, raw.get()))
        .collect();
    Ok(TagPage { tags, count })
}

/// One element of `results.tags`, named by its `_id` when it has a readable
/// one, else by its place.
fn read_tag(index: usize, text: &str) -> ParsedTag {
    json::parse_at::<GhlTag>(text.as_bytes()).map_err(|(field, e)| {
        let id = serde_json::from_str::<TagId>(text).ok().and_then(|t| match t.id {
            Some(serde_json::Value::String(id)) => Some(id),
            _ => None,
        });
        let at = if field == "(body)" {
            String::new()
        } else {
            format!("`{field}`: ")
        };
        BadTag {
            item: id.unwrap_or_else(|| format!("results.tags[{index}]")),
            why: format!(
                "GHL sent a tag that is not a SocialMediaTagSchema: {at}{}",
                json::message_of(&e)
            ),
        }
    })
}

fn read_count(endpoint: &str, count: Option<f64>) -> Result<Option<u64>, SyncError> {
    match count {
        None => Ok(None),
        Some(c) if c.is_finite() && c >= 0.0 && c.fract() == 0.0 && c < 9.0e15 => Ok(Some(c as u64)),
        Some(c) => Err(SyncError::InvalidResponse {
            service: Service::Ghl,
            endpoint: endpoint.to_string(),
            field: "results.count".into(),
            message: format!("{} is not a count", serde_json::Value::from(c)),
        }),
    }
}

/// The tag ids of a post (`GetPostSuccessfulResponseDTO`).
pub fn read_post_tags(body: &[u8]) -> Result<Vec<String>, Unreadable> {
    let envelope: PostEnvelope = json::read(Service::Ghl, EP_POST, body)?;
    Ok(envelope.results.post.tags.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_tags_are_alone() {
        let page = br#"{"results":{"tags":[
            {"_id":"a","tag":"A","deleted":false,"extra":{"x":[1,2]}},
            {"tag":"no id"},
            {"_id":"c","tag":5},
            "just text",
            {"_id":"e","deleted":"yes"},
            {"_id":"f","tag":"F","tag":"again"},
            {"_id":"g","tag":null,"createdBy":"u\u00e9"},
            {"_id":7}
        ],"count":8}}"#;
        let tags = read_tag_page(EP_TAGS, page).unwrap().tags;
        assert_eq!(
            tags[0].as_ref().unwrap(),
            &GhlTag {
                id: "a".into(),
                tag: Some("A".into()),
                deleted: Some(false),
                ..GhlTag::default()
            }
        );
        let err = |i: usize| tags[i].as_ref().unwrap_err().clone();
        assert_eq!(err(1).item, "results.tags[1]");
        assert!(err(1).why.contains("missing field `_id`"), "{}", err(1).why);
        assert_eq!(err(2).item, "c");
        assert!(
            err(2)
                .why
                .contains("`tag`: invalid type: integer `5`, expected a string"),
            "{}",
            err(2).why
        );
        assert_eq!(err(3).item, "results.tags[3]");
        assert!(
            err(3).why.contains("invalid type: string \"just text\""),
            "{}",
            err(3).why
        );
        assert_eq!(err(4).item, "e");
        assert!(
            err(4)
                .why
                .contains("`deleted`: invalid type: string \"yes\", expected a boolean"),
            "{}",
            err(4).why
        );
        assert!(err(5).why.contains("duplicate field `tag`"), "{}", err(5).why);
        let g = tags[6].as_ref().unwrap();
        assert_eq!((g.tag.as_deref(), g.created_by.as_deref()), (None, Some("ué")));
        assert_eq!(err(7).item, "results.tags[7]");
        assert!(
            err(7).why.contains("`_id`: invalid type: integer `7`"),
            "{}",
            err(7).why
        );
        // Broken JSON still fails the page, and may be whole next time.
        let broken = read_tag_page(EP_TAGS, br#"{"results":{"tags":[{"_id":"a",]}}"#).unwrap_err();
        assert!(broken.retryable);
        assert!(read_count(EP_TAGS, Some(-1.0)).is_err());
        assert!(read_count(EP_TAGS, Some(2.5)).is_err());
        assert_eq!(read_count(EP_TAGS, Some(250.0)).unwrap(), Some(250));
        let bad_count = read_tag_page(EP_TAGS, br#"{"results":{"tags":[],"count":-3}}"#).unwrap_err();
        assert!(!bad_count.retryable);
    }

    #[test]
    fn request_bodies_are_the_spec_shapes() {
        let ghl = Ghl {
            base: "https://ghl.test",
            timeout_ms: 1000,
        };
        let ids = vec!["a".to_string(), "q\"uote".to_string()];
        let r = ghl.tag_details("loc/1", &ids);
        assert_eq!(r.url, "https://ghl.test/social-media-posting/loc%2F1/tags/details");
        assert_eq!(r.body.unwrap(), br#"{"tagIds":["a","q\"uote"]}"#);
        let r = ghl.statistics("loc", &ids[..1], &[]);
        assert_eq!(r.url, "https://ghl.test/social-media-posting/statistics?locationId=loc");
        assert_eq!(r.body.unwrap(), br#"{"profileIds":["a"]}"#);
        let r = ghl.statistics("loc", &ids[..1], &["facebook".to_string()]);
        assert_eq!(r.body.unwrap(), br#"{"profileIds":["a"],"platforms":["facebook"]}"#);
    }
}
