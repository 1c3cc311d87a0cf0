//! GHL response shapes, from the official OpenAPI file
//! (`spec/social-media-posting.json`). Only what the connector reads.

use serde::Deserialize;
use std::collections::BTreeMap;

/// `SocialMediaTagSchema`. The spec marks no field required; the connector
/// needs `_id` and treats every other field as optional.
#[derive(Debug, Clone, PartialEq, Deserialize)]
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

/// `GetTagsByLocationIdResponseDTO` / `GetTagsByIdResponseDTO`: tags are kept
/// as raw JSON here so that one bad tag is reported alone, not the whole page.
#[derive(Debug, Deserialize)]
pub struct TagsEnvelope {
    pub results: TagsResults,
}

#[derive(Debug, Deserialize)]
pub struct TagsResults {
    #[serde(default)]
    pub tags: Vec<Box<serde_json::value::RawValue>>,
    #[serde(default)]
    pub count: Option<f64>,
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

/// GHL error bodies (`BadRequestDTO`, `UnauthorizedDTO`, `UnprocessableDTO`):
/// `message` is a string or, for 422, a list of strings.
#[derive(Debug, Deserialize)]
pub struct GhlErrorBody {
    #[serde(default)]
    pub message: Option<serde_json::Value>,
    #[serde(default)]
    pub error: Option<String>,
}
