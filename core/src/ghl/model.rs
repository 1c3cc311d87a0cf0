//! GHL response shapes, from the official OpenAPI file
//! (`spec/social-media-posting.json`). Only what the connector reads.

use serde::Deserialize;
use serde_json::value::RawValue;
use std::collections::BTreeMap;

/// `SocialMediaTagSchema`. The spec marks no field required; the connector
/// needs `_id` and treats every other field as optional.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct GhlTag {
    #[serde(rename = "_id")]
    pub id: String,
    #[serde(default)]
    pub tag: Option<String>,
    #[serde(default, rename = "locationId")]
    pub location_id: Option<String>,
    #[serde(default, rename = "createdBy")]
    pub created_by: Option<String>,
    #[serde(default)]
    pub deleted: Option<bool>,
    #[serde(default, rename = "createdAt")]
    pub created_at: Option<String>,
    #[serde(default, rename = "updatedAt")]
    pub updated_at: Option<String>,
}

/// The fields of `SocialMediaTagSchema`, by their JSON names (the mapping
/// table names its sources through this).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagField {
    Id,
    Tag,
    LocationId,
    CreatedBy,
    Deleted,
    CreatedAt,
    UpdatedAt,
}

impl TagField {
    pub const ALL: [TagField; 7] = [
        TagField::Id,
        TagField::Tag,
        TagField::LocationId,
        TagField::CreatedBy,
        TagField::Deleted,
        TagField::CreatedAt,
        TagField::UpdatedAt,
    ];

    pub fn name(self) -> &'static str {
        match self {
            TagField::Id => "_id",
            TagField::Tag => "tag",
            TagField::LocationId => "locationId",
            TagField::CreatedBy => "createdBy",
            TagField::Deleted => "deleted",
            TagField::CreatedAt => "createdAt",
            TagField::UpdatedAt => "updatedAt",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        TagField::ALL.into_iter().find(|f| f.name() == name)
    }
}

/// `GetTagsByLocationIdResponseDTO` / `GetTagsByIdResponseDTO`. Each tag is
/// kept as its JSON text (borrowed from the body) and read on its own, so
/// one bad tag is reported alone, not the whole page.
#[derive(Debug, Deserialize)]
pub struct TagsEnvelope<'a> {
    #[serde(borrow)]
    pub results: TagsResults<'a>,
}

#[derive(Debug, Deserialize)]
pub struct TagsResults<'a> {
    #[serde(default, borrow)]
    pub tags: Vec<&'a RawValue>,
    #[serde(default)]
    pub count: Option<f64>,
}

/// Just the `_id` of a tag that could not be read, to name it.
#[derive(Deserialize)]
pub(crate) struct TagId {
    #[serde(rename = "_id")]
    pub id: Option<serde_json::Value>,
}

/// `GetPostSuccessfulResponseDTO`, reduced to the post's tag ids.
#[derive(Debug, Deserialize)]
pub struct PostEnvelope {
    pub results: PostResults,
}

#[derive(Debug, Deserialize)]
pub struct PostResults {
    pub post: Post,
}

#[derive(Debug, Deserialize)]
pub struct Post {
    #[serde(default)]
    pub tags: Option<Vec<String>>,
}

/// `PostSuccessfulResponseDTO`, the 201 answer of `get-posts`
/// (`posts/list`). Each post is kept as its JSON text and read on its own,
/// as tags are.
#[derive(Debug, Deserialize)]
pub struct PostsEnvelope<'a> {
    #[serde(default, borrow)]
    pub results: Option<PostsResults<'a>>,
}

#[derive(Debug, Deserialize)]
pub struct PostsResults<'a> {
    #[serde(default, borrow)]
    pub posts: Vec<&'a RawValue>,
    #[serde(default)]
    pub count: Option<f64>,
}

/// `GetPostFormattedSchema`, what the triggers read of it. The spec marks
/// only `locationId`, `error` and `type` required; the triggers need `_id`
/// and a date, and read the rest when given.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListedPost {
    #[serde(rename = "_id")]
    pub id: String,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub updated_at: Option<String>,
    /// Typed `string` without a format in the spec; RFC 3339 in its example.
    #[serde(default)]
    pub published_at: Option<String>,
    /// Typed `object` in the spec, a string in its example: kept as JSON.
    #[serde(default)]
    pub status: Option<serde_json::Value>,
    #[serde(default)]
    pub platform: Option<String>,
    #[serde(default)]
    pub account_id: Option<String>,
    #[serde(default)]
    pub account_ids: Option<Vec<String>>,
    #[serde(default)]
    pub tags: Option<Vec<String>>,
}

/// `AccountsListResponseDTO`, the answer of `get-account`.
#[derive(Debug, Deserialize)]
pub struct AccountsEnvelope {
    #[serde(default)]
    pub results: Option<AccountsResults>,
}

#[derive(Debug, Default, Deserialize)]
pub struct AccountsResults {
    #[serde(default)]
    pub accounts: Vec<Account>,
}

/// `GetAccountSchema`: a connected social account.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub profile_id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub platform: Option<String>,
    #[serde(default)]
    pub is_expired: Option<bool>,
    #[serde(default)]
    pub expire: Option<String>,
}

impl Account {
    /// Whether the account's connection has expired by `now_ms`: GHL says
    /// so (`isExpired`), or its `expire` instant has passed.
    pub fn expired(&self, now_ms: u64) -> bool {
        let expires_at = self.expire.as_deref().and_then(|e| crate::instant::parse_ms(e).ok());
        self.is_expired == Some(true) || expires_at.is_some_and(|at| at <= now_ms)
    }
}

/// The 201 answer of `get-social-media-statistics`.
#[derive(Debug, Deserialize)]
pub struct StatisticsEnvelope {
    pub results: Statistics,
}

/// `results` of the statistics answer: last 7 days.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Statistics {
    #[serde(default)]
    pub day_range: Option<Vec<String>>,
    #[serde(default)]
    pub totals: Option<Totals>,
    #[serde(default)]
    pub post_performance: Option<PostPerformance>,
    #[serde(default)]
    pub breakdowns: Option<Breakdowns>,
    #[serde(default)]
    pub platform_totals: Option<PlatformTotals>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Totals {
    pub posts: Option<f64>,
    pub likes: Option<f64>,
    pub followers: Option<f64>,
    pub impressions: Option<f64>,
    pub comments: Option<f64>,
}

/// A daily series, oldest first. A `null` day is a day without data: it
/// becomes no point (not a zero).
pub type Series = Vec<Option<f64>>;

/// Daily series: location-wide for impressions, likes and comments; per
/// platform for posts.
#[derive(Debug, Default, Deserialize)]
pub struct PostPerformance {
    pub posts: Option<BTreeMap<String, Series>>,
    pub impressions: Option<Series>,
    pub likes: Option<Series>,
    pub comments: Option<Series>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Breakdown {
    pub total: Option<f64>,
    pub total_change: Option<f64>,
    pub platforms: Option<BTreeMap<String, PlatformValue>>,
}

#[derive(Debug, Default, Deserialize)]
pub struct PlatformValue {
    pub value: Option<f64>,
    pub change: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Engagement {
    pub likes: Option<f64>,
    pub comments: Option<f64>,
    pub shares: Option<f64>,
    pub change: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Breakdowns {
    pub posts: Option<Breakdown>,
    pub impressions: Option<Breakdown>,
    pub reach: Option<Breakdown>,
    pub engagement: Option<BTreeMap<String, Engagement>>,
}

#[derive(Debug, Default, Deserialize)]
pub struct PlatformSeries {
    pub total: Option<f64>,
    pub series: Option<Series>,
}

#[derive(Debug, Default, Deserialize)]
pub struct PlatformTotals {
    pub impressions: Option<BTreeMap<String, PlatformSeries>>,
    pub followers: Option<BTreeMap<String, PlatformSeries>>,
    pub likes: Option<BTreeMap<String, PlatformSeries>>,
}

#[cfg(test)]
mod tests {
    use super::TagField;

    #[test]
    fn field_names_round_trip() {
        for f in TagField::ALL {
            assert_eq!(TagField::from_name(f.name()), Some(f));
        }
        let near = [
            "_ix",
            "taG",
            "deletex",
            "createdAx",
            "createdBX",
            "updatedBy",
            "xpdatedAt",
            "locationIx",
        ];
        for other in ["", "id", "_ID", "tags", "locationid", "deleted "]
            .into_iter()
            .chain(near)
        {
            assert_eq!(TagField::from_name(other), None, "{other}");
        }
    }
}
