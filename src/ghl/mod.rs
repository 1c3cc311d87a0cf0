//! The GHL Social Planner client: builds the requests the official spec
//! describes and reads their answers.

pub mod model;
mod page_scan;

use crate::client::{read_json, Exchange, Unreadable};
use crate::io::url::{build, encode};
use crate::io::{Host, Method, Request};
use crate::report::{Service, SyncError};
use model::{GhlTag, PostEnvelope, Statistics, StatisticsEnvelope, TagSlot, TagsEnvelope};

/// The API version every call names in its `Version` header.
pub const API_VERSION: &str = "2021-07-28";

pub const EP_TAGS: &str = "GET /social-media-posting/{locationId}/tags";
pub const EP_TAG_DETAILS: &str = "POST /social-media-posting/{locationId}/tags/details";
pub const EP_POST: &str = "GET /social-media-posting/{locationId}/posts/{id}";
pub const EP_STATISTICS: &str = "POST /social-media-posting/statistics";

/// A tag as read, or why it could not be read (item, message).
pub type ParsedTag = Result<GhlTag, (String, String)>;

/// One page of `get-tags-location-id`.
#[derive(Debug)]
pub struct TagPage {
    pub tags: Vec<ParsedTag>,
    /// `results.count`: all the location's tags, when the server says.
    pub count: Option<u64>,
}

impl TagPage {
    pub(crate) fn read(env: TagsEnvelope) -> Result<TagPage, SyncError> {
        Ok(TagPage {
            count: read_count(env.results.count)?,
            tags: read_tags(env.results.tags),
        })
    }
}

/// Reads a tags page: in one pass when it has the plain shape (nearly
/// always, see [`page_scan`]), else by serde, which also names what is wrong.
/// `endpoint` names the call in errors (the list or the details).
pub fn read_tags_page(endpoint: &str, body: &[u8]) -> Result<TagsEnvelope, Unreadable> {
    if let Some(env) = crate::json::text(body).and_then(page_scan::read) {
        return Ok(env);
    }
    read_json(Service::Ghl, endpoint, body)
}

/// GHL endpoints, bound to a base URL and token.
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

    /// `GET /social-media-posting/{locationId}/tags?limit=&skip=`; the
    /// answer is read with [`TagPage::read`].
    pub fn tags_request(&self, location: &str, skip: u64, limit: u32) -> Request {
        let path = format!("/social-media-posting/{}/tags", encode(location));
        let (limit, skip) = (limit.to_string(), skip.to_string());
        self.request(Method::Get, &path, &[("limit", &limit), ("skip", &skip)], None)
    }

    /// `POST /social-media-posting/{locationId}/tags/details {tagIds}`.
    pub fn tag_details<H: Host + ?Sized>(
        &self,
        ex: &mut Exchange<'_, H>,
        location: &str,
        ids: &[String],
    ) -> Result<Vec<ParsedTag>, SyncError> {
        let path = format!("/social-media-posting/{}/tags/details", encode(location));
        let body = crate::json::object_of_lists(&[("tagIds", ids)]);
        let req = self.request(Method::Post, &path, &[], Some(body));
        let env = ex.call(Service::Ghl, EP_TAG_DETAILS, req, |resp| {
            read_tags_page(EP_TAG_DETAILS, &resp.body)
        })?;
        Ok(read_tags(env.results.tags))
    }

    /// The tag ids of a post, from `GET /social-media-posting/{locationId}/posts/{id}`.
    pub fn post_tags<H: Host + ?Sized>(
        &self,
        ex: &mut Exchange<'_, H>,
        location: &str,
        post: &str,
    ) -> Result<Vec<String>, SyncError> {
        let path = format!("/social-media-posting/{}/posts/{}", encode(location), encode(post));
        let req = self.request(Method::Get, &path, &[], None);
        let env: PostEnvelope = ex.send_json(Service::Ghl, EP_POST, req)?;
        Ok(env.results.post.tags.unwrap_or_default())
    }

    /// `POST /social-media-posting/statistics?locationId= {profileIds, platforms?}`.
    pub fn statistics<H: Host + ?Sized>(
        &self,
        ex: &mut Exchange<'_, H>,
        location: &str,
        profile_ids: &[String],
        platforms: &[String],
    ) -> Result<Statistics, SyncError> {
        let body = match platforms {
            [] => crate::json::object_of_lists(&[("profileIds", profile_ids)]),
            _ => crate::json::object_of_lists(&[("profileIds", profile_ids), ("platforms", platforms)]),
        };
        let req = self.request(
            Method::Post,
            "/social-media-posting/statistics",
            &[("locationId", location)],
            Some(body),
        );
        let env: StatisticsEnvelope = ex.send_json(Service::Ghl, EP_STATISTICS, req)?;
        Ok(env.results)
    }
}

/// Each bad tag is one item error, named by its `_id` or its place.
fn read_tags(slots: Vec<TagSlot>) -> Vec<ParsedTag> {
    slots
        .into_iter()
        .enumerate()
        .map(|(i, slot)| match slot {
            TagSlot::Tag(t) => Ok(t),
            TagSlot::Bad { id, why } => Err((
                id.unwrap_or_else(|| format!("results.tags[{i}]")),
                format!("GHL sent a tag that is not a SocialMediaTagSchema: {why}"),
            )),
        })
        .collect()
}

fn read_count(count: Option<f64>) -> Result<Option<u64>, SyncError> {
    match count {
        None => Ok(None),
        Some(c) if c.is_finite() && c >= 0.0 && c.fract() == 0.0 && c < 9.0e15 => Ok(Some(c as u64)),
        Some(c) => Err(SyncError::InvalidResponse {
            service: Service::Ghl,
            endpoint: EP_TAGS.to_string(),
            field: "results.count".into(),
            message: format!("{c} is not a count"),
        }),
    }
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
        let env: TagsEnvelope = serde_json::from_slice(page).unwrap();
        let tags = read_tags(env.results.tags);
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
        assert_eq!(err(1).0, "results.tags[1]");
        assert!(err(1).1.contains("has no `_id`"), "{}", err(1).1);
        assert_eq!(err(2).0, "c");
        assert!(err(2).1.contains("`tag` is a number, not a string"), "{}", err(2).1);
        assert_eq!(err(3).0, "results.tags[3]");
        assert!(err(3).1.contains("is a string, not a tag object"), "{}", err(3).1);
        assert_eq!(err(4).0, "e");
        assert!(
            err(4).1.contains("`deleted` is a string, not true/false"),
            "{}",
            err(4).1
        );
        assert!(err(5).1.contains("`tag` appears twice"), "{}", err(5).1);
        let g = tags[6].as_ref().unwrap();
        assert_eq!((g.tag.as_deref(), g.created_by.as_deref()), (None, Some("ué")));
        assert_eq!(err(7).0, "results.tags[7]");
        assert!(err(7).1.contains("`_id` is a number"), "{}", err(7).1);
        // Broken JSON still fails the page.
        assert!(serde_json::from_slice::<TagsEnvelope>(br#"{"results":{"tags":[{"_id":"a",]}}"#).is_err());
        assert!(read_count(Some(-1.0)).is_err());
        assert!(read_count(Some(2.5)).is_err());
        assert_eq!(read_count(Some(250.0)).unwrap(), Some(250));
    }

    /// The lenient reader agrees with the schema's derived reader on every
    /// tag the derived reader accepts.
    #[test]
    fn lenient_reader_matches_the_derived_one() {
        for json in [
            r#"{"_id":"x"}"#,
            r#"{"_id":"x","tag":"T","locationId":"l","createdBy":"u","deleted":true,"createdAt":"c","updatedAt":"u2"}"#,
            r#"{"_id":"x\"q\\","tag":"\ud83d\ude00","other":null}"#,
        ] {
            let derived: GhlTag = serde_json::from_str(json).unwrap();
            let slot: TagSlot = serde_json::from_str(json).unwrap();
            assert_eq!(slot, TagSlot::Tag(derived), "{json}");
        }
    }
}
