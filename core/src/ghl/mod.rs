//! The GHL Social Planner API as the official spec describes it: the
//! requests the connector makes and the readers of their answers. Sending
//! them is the exchange's job (`client`).

pub mod error;
pub mod model;

use crate::io::url::{build, encode};
use crate::io::{Method, Request};
use crate::json::{self, Unreadable};
use crate::report::{Service, SyncError};
use model::{Account, AccountsEnvelope, GhlTag, ListedPost, PostEnvelope, PostsEnvelope, TagId, TagsEnvelope};
use serde::Serialize;

/// The API version every call names in its `Version` header.
pub const API_VERSION: &str = "2021-07-28";

pub const EP_TAGS: &str = "GET /social-media-posting/{locationId}/tags";
pub const EP_TAG_DETAILS: &str = "POST /social-media-posting/{locationId}/tags/details";
pub const EP_POST: &str = "GET /social-media-posting/{locationId}/posts/{id}";
pub const EP_STATISTICS: &str = "POST /social-media-posting/statistics";
pub const EP_POSTS: &str = "POST /social-media-posting/{locationId}/posts/list";
pub const EP_ACCOUNTS: &str = "GET /social-media-posting/{locationId}/accounts";

/// Posts asked for per `posts/list` page.
pub const POSTS_PAGE: u32 = 100;

/// Ids GHL takes per `tags/details` request.
pub const MAX_IDS_PER_DETAILS: usize = 100;

/// Which posts a `posts/list` request asks for: SearchPostDTO's `type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PostsOf {
    /// No `type`: the spec's default, `all`.
    Any,
    /// `type: "published"`.
    Published,
}

impl PostsOf {
    fn type_field(self) -> Option<&'static str> {
        match self {
            PostsOf::Any => None,
            PostsOf::Published => Some("published"),
        }
    }
}

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

    /// `POST /social-media-posting/{locationId}/posts/list` with the
    /// `SearchPostDTO` fields the spec requires (all strings) and, for
    /// [`PostsOf::Published`], its `type`; read with [`read_post_page`].
    /// `fromDate` and `toDate` are RFC 3339 instants.
    pub fn posts(&self, location: &str, of: PostsOf, skip: u64, limit: u32, from: &str, to: &str) -> Request {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Body<'a> {
            #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
            kind: Option<&'a str>,
            skip: String,
            limit: String,
            from_date: &'a str,
            to_date: &'a str,
            include_users: &'a str,
        }
        let path = format!("/social-media-posting/{}/posts/list", encode(location));
        let body = Body {
            kind: of.type_field(),
            skip: skip.to_string(),
            limit: limit.to_string(),
            from_date: from,
            to_date: to,
            include_users: "false",
        };
        let body = serde_json::to_vec(&body).unwrap_or_default();
        self.request(Method::Post, &path, &[], Some(body))
    }

    /// `GET /social-media-posting/{locationId}/accounts`, read with
    /// [`read_accounts`].
    pub fn accounts(&self, location: &str) -> Request {
        let path = format!("/social-media-posting/{}/accounts", encode(location));
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

/// A post that could not be read: its id or place, and why.
pub type ParsedPost = Result<ListedPost, BadTag>;

/// A page of `posts/list`.
#[derive(Debug)]
pub struct PostPage {
    pub posts: Vec<ParsedPost>,
    /// `results.count`, when the server says (the spec does not say whether
    /// it counts the page or the window).
    pub count: Option<u64>,
}

/// Reads a `posts/list` page: one bad post is one item error, the rest of
/// the page reads on.
pub fn read_post_page(body: &[u8]) -> Result<PostPage, Unreadable> {
    let envelope: PostsEnvelope = json::read(Service::Ghl, EP_POSTS, body)?;
    let results = envelope.results.unwrap_or(model::PostsResults {
        posts: Vec::new(),
        count: None,
    });
    let count = read_count(EP_POSTS, results.count).map_err(|error| Unreadable {
        error,
        retryable: false,
    })?;
    let posts = results
        .posts
        .iter()
        .enumerate()
        .map(|(i, raw)| {
            json::parse_at::<ListedPost>(raw.get().as_bytes()).map_err(|(field, e)| {
                bad_item(
                    raw.get(),
                    &format!("results.posts[{i}]"),
                    "a post",
                    "GetPostFormattedSchema",
                    &field,
                    &e,
                )
            })
        })
        .collect();
    Ok(PostPage { posts, count })
}

/// Reads the connected accounts (`results.accounts`).
pub fn read_accounts(body: &[u8]) -> Result<Vec<Account>, Unreadable> {
    let envelope: AccountsEnvelope = json::read(Service::Ghl, EP_ACCOUNTS, body)?;
    Ok(envelope.results.unwrap_or_default().accounts)
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
        bad_item(
            text,
            &format!("results.tags[{index}]"),
            "a tag",
            "SocialMediaTagSchema",
            &field,
            &e,
        )
    })
}

/// An item of a list that could not be read: named by its `_id` when it
/// has a readable one, else by its place.
fn bad_item(text: &str, place: &str, what: &str, schema: &str, field: &str, e: &serde_json::Error) -> BadTag {
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
        item: id.unwrap_or_else(|| place.to_string()),
        why: format!("GHL sent {what} that is not a {schema}: {at}{}", json::message_of(e)),
    }
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
        // SearchPostDTO: every required field, each a string.
        let r = ghl.posts(
            "loc",
            PostsOf::Any,
            200,
            100,
            "2026-11-28T11:45:00Z",
            "2026-11-28T12:02:00Z",
        );
        assert_eq!(r.url, "https://ghl.test/social-media-posting/loc/posts/list");
        assert_eq!(
            r.body.unwrap(),
            br#"{"skip":"200","limit":"100","fromDate":"2026-11-28T11:45:00Z","toDate":"2026-11-28T12:02:00Z","includeUsers":"false"}"#
        );
        // SearchPostDTO's `type`, one of the values its description lists.
        let r = ghl.posts("loc", PostsOf::Published, 0, 1, "a", "b");
        assert_eq!(
            r.body.unwrap(),
            br#"{"type":"published","skip":"0","limit":"1","fromDate":"a","toDate":"b","includeUsers":"false"}"#
        );
        assert_eq!(
            ghl.accounts("loc").url,
            "https://ghl.test/social-media-posting/loc/accounts"
        );
    }

    #[test]
    fn bad_posts_are_alone_and_accounts_read() {
        let page = br#"{"success":true,"statusCode":201,"message":"Fetched Posts","results":{"posts":[
            {"_id":"p1","createdAt":"2026-11-28T11:50:00.000Z","status":"published","tags":["t1"],"locationId":"l","error":"","type":"post"},
            {"createdAt":"2026-11-28T11:50:00.000Z"},
            {"_id":"p3","tags":"t1"},
            {"_id":"p4","status":{"state":"published"}}
        ],"count":4}}"#;
        let page = read_post_page(page).unwrap();
        assert_eq!(page.count, Some(4));
        let p1 = page.posts[0].as_ref().unwrap();
        assert_eq!(
            (p1.id.as_str(), p1.tags.as_deref()),
            ("p1", Some(&["t1".to_string()][..]))
        );
        let e1 = page.posts[1].as_ref().unwrap_err();
        assert_eq!(e1.item, "results.posts[1]");
        assert!(e1.why.contains("missing field `_id`"), "{}", e1.why);
        let e2 = page.posts[2].as_ref().unwrap_err();
        assert_eq!(e2.item, "p3");
        assert!(e2.why.contains("`tags`"), "{}", e2.why);
        // `status` is typed `object` in the spec, a string in its example.
        assert!(page.posts[3].is_ok());
        // No results at all: an empty page.
        assert!(
            read_post_page(br#"{"success":true,"statusCode":201,"message":"Fetched Posts"}"#)
                .unwrap()
                .posts
                .is_empty()
        );
        let accounts =
            read_accounts(br#"{"results":{"accounts":[{"profileId":"a","isExpired":true},{"id":"x"}],"groups":[]}}"#)
                .unwrap();
        assert_eq!(accounts.len(), 2);
        assert_eq!(accounts[0].is_expired, Some(true));
        assert!(read_accounts(br#"{"results":{"accounts":[{"profileId":5}]}}"#).is_err());
    }
}
