//! Reading the JSON inputs into the core's types.

use super::Operation;
use crate::auth::{Credential, OAuthCredential};
use crate::client::retry::RetryPolicy;
use crate::json;
use crate::mapping::{MappingRow, Transform};
use crate::ops::{CheckRequest, NewPostsRequest, PublishedPostsRequest, StatsRequest, TagDetailsEvent, TagSyncEvent};
use crate::report::SyncError;
use crate::secret::{OAuthTokens, Secret};
use crate::settings::SettingsInput;
use serde::de::DeserializeOwned;
use serde::Deserialize;

/// An operation's input, read.
#[derive(Debug, Clone)]
pub enum Event {
    TagSync(TagSyncEvent),
    TagDetailsPush(TagDetailsEvent),
    StatsSync(StatsRequest),
    NewPosts(NewPostsRequest),
    PostsPublished(PublishedPostsRequest),
    Check(CheckRequest),
}

/// Reads `settings` JSON. Checking the values is the operation's job
/// ([`SettingsInput::check`]); this refuses what is not the shape.
pub fn parse_settings(text: &[u8]) -> Result<SettingsInput, SyncError> {
    let s: Settings = read("settings", text)?;
    Ok(SettingsInput {
        ghl_base_url: s.ghl_base_url,
        ghl_credential: match s.ghl_credential {
            CredentialJson::ApiKey(key) => Credential::ApiKey(Secret::new(key)),
            CredentialJson::Oauth(o) => Credential::OAuth(OAuthCredential {
                tokens: OAuthTokens {
                    access_token: Secret::new(o.tokens.access_token),
                    refresh_token: Secret::new(o.tokens.refresh_token),
                    expires_at_ms: o.tokens.expires_at_ms,
                    scopes: o.tokens.scopes,
                },
                client_id: o.client_id,
                client_secret: Secret::new(o.client_secret),
            }),
        },
        rankr_base_url: s.rankr_base_url,
        rankr_api_key: Secret::new(s.rankr_api_key),
        page_size: s.page_size,
        tag_mapping: s
            .tag_mapping
            .into_iter()
            .map(|row| MappingRow {
                source: row.source,
                target: row.target,
                transforms: row.transforms.into_iter().map(TransformJson::into_core).collect(),
            })
            .collect(),
        metric_mapping: s.metric_mapping.into_iter().map(|r| (r.source, r.target)).collect(),
        dry_run: s.dry_run,
        request_timeout_ms: s.request_timeout_ms,
        retry: s.retry.map(|r| RetryPolicy {
            max_attempts: r.max_attempts,
            base_delay_ms: r.base_delay_ms,
            max_delay_ms: r.max_delay_ms,
        }),
        deadline_ms: s.deadline_ms,
        full_refresh: s.full_refresh,
        full_pass: s.full_pass,
        archive_missing: s.archive_missing,
        max_in_flight: s.max_in_flight,
    })
}

/// Reads the input of `operation`.
pub fn parse_event(operation: Operation, text: &[u8]) -> Result<Event, SyncError> {
    let what = operation.name();
    Ok(match operation {
        Operation::TagSync => {
            let e: TagSyncJson = read(what, text)?;
            Event::TagSync(TagSyncEvent {
                location_id: e.location_id,
                post_id: e.post_id,
                tag_ids: e.tag_ids,
                full_pass: e.full_pass,
            })
        }
        Operation::TagDetailsPush => {
            let e: TagDetailsJson = read(what, text)?;
            Event::TagDetailsPush(TagDetailsEvent {
                location_id: e.location_id,
                tag_ids: e.tag_ids,
            })
        }
        Operation::StatsSync => {
            let e: StatsJson = read(what, text)?;
            Event::StatsSync(StatsRequest {
                location_id: e.location_id,
                profile_ids: e.profile_ids,
                platforms: e.platforms,
                dashboard_id: e.dashboard_id,
                as_of: e.as_of,
                per_profile: e.per_profile,
            })
        }
        Operation::NewPosts => {
            let e: NewPostsJson = read(what, text)?;
            Event::NewPosts(NewPostsRequest {
                location_id: e.location_id,
                overlap_ms: e.overlap_ms,
                backfill_since: e.backfill_since,
                max_posts: e.max_posts,
            })
        }
        Operation::PostsPublished => {
            let e: NewPostsJson = read(what, text)?;
            Event::PostsPublished(PublishedPostsRequest {
                location_id: e.location_id,
                overlap_ms: e.overlap_ms,
                backfill_since: e.backfill_since,
                max_posts: e.max_posts,
            })
        }
        Operation::Check => {
            let e: CheckJson = read(what, text)?;
            Event::Check(CheckRequest {
                location_id: e.location_id,
                operations: e.operations,
                dashboard_id: e.dashboard_id,
            })
        }
    })
}

/// `T` from `text`, or `invalid-config` naming the field.
fn read<T: DeserializeOwned>(what: &str, text: &[u8]) -> Result<T, SyncError> {
    json::parse_at::<T>(text).map_err(|(field, e)| {
        let at = if field == "(body)" {
            String::new()
        } else {
            format!(" at `{field}`")
        };
        SyncError::InvalidConfig(format!(
            "the {what} JSON is not valid{at}: {}; `describe` has its schema",
            json::message_of(&e)
        ))
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct Settings {
    ghl_base_url: String,
    ghl_credential: CredentialJson,
    rankr_base_url: String,
    rankr_api_key: String,
    #[serde(default)]
    page_size: Option<u32>,
    #[serde(default)]
    tag_mapping: Vec<MappingRowJson>,
    #[serde(default)]
    metric_mapping: Vec<MetricRenameJson>,
    #[serde(default)]
    dry_run: bool,
    #[serde(default)]
    request_timeout_ms: Option<u32>,
    #[serde(default)]
    retry: Option<RetryJson>,
    #[serde(default)]
    deadline_ms: Option<u64>,
    #[serde(default)]
    full_refresh: bool,
    #[serde(default)]
    full_pass: bool,
    #[serde(default)]
    archive_missing: bool,
    #[serde(default)]
    max_in_flight: Option<u32>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
enum CredentialJson {
    ApiKey(String),
    Oauth(OAuthJson),
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct OAuthJson {
    tokens: TokensJson,
    client_id: String,
    client_secret: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct TokensJson {
    #[serde(default)]
    access_token: String,
    refresh_token: String,
    #[serde(default)]
    expires_at_ms: Option<u64>,
    #[serde(default)]
    scopes: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct MappingRowJson {
    source: String,
    target: String,
    #[serde(default)]
    transforms: Vec<TransformJson>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
enum TransformJson {
    Trim,
    Lowercase,
    Uppercase,
    Slugify,
    Prefix(String),
    Suffix(String),
    Replace(ReplacementJson),
    Truncate(u32),
    Default(String),
}

impl TransformJson {
    fn into_core(self) -> Transform {
        match self {
            TransformJson::Trim => Transform::Trim,
            TransformJson::Lowercase => Transform::Lowercase,
            TransformJson::Uppercase => Transform::Uppercase,
            TransformJson::Slugify => Transform::Slugify,
            TransformJson::Prefix(p) => Transform::Prefix(p),
            TransformJson::Suffix(s) => Transform::Suffix(s),
            TransformJson::Replace(r) => Transform::Replace { from: r.from, to: r.to },
            TransformJson::Truncate(n) => Transform::Truncate(n),
            TransformJson::Default(d) => Transform::Default(d),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReplacementJson {
    from: String,
    to: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MetricRenameJson {
    source: String,
    target: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct RetryJson {
    max_attempts: u32,
    base_delay_ms: u32,
    max_delay_ms: u32,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct TagSyncJson {
    location_id: String,
    #[serde(default)]
    post_id: Option<String>,
    #[serde(default)]
    tag_ids: Option<Vec<String>>,
    #[serde(default)]
    full_pass: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct TagDetailsJson {
    location_id: String,
    tag_ids: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct StatsJson {
    location_id: String,
    #[serde(default)]
    profile_ids: Vec<String>,
    #[serde(default)]
    platforms: Vec<String>,
    dashboard_id: String,
    #[serde(default)]
    as_of: Option<String>,
    #[serde(default)]
    per_profile: bool,
}

/// The input of both triggers.
#[derive(Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct NewPostsJson {
    location_id: String,
    #[serde(default)]
    overlap_ms: Option<u64>,
    #[serde(default)]
    backfill_since: Option<String>,
    #[serde(default)]
    max_posts: Option<u32>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct CheckJson {
    location_id: String,
    #[serde(default)]
    operations: Vec<String>,
    #[serde(default)]
    dashboard_id: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_and_named() {
        let ok = br#"{"ghl-base-url":"https://g","ghl-credential":{"api-key":"k"},"rankr-base-url":"https://r","rankr-api-key":"r",
            "tag-mapping":[{"source":"tag","target":"name","transforms":["trim",{"truncate":5},{"replace":{"from":"a","to":"b"}}]}],
            "page-size":null}"#;
        let s = parse_settings(ok).unwrap();
        assert_eq!(s.tag_mapping[0].transforms[1], Transform::Truncate(5));
        assert_eq!(s.page_size, None);
        let unknown = br#"{"ghl-base-url":"https://g","ghl-credential":{"api-key":"k"},"rankr-base-url":"https://r","rankr-api-key":"r","pagesize":5}"#;
        match parse_settings(unknown).unwrap_err() {
            SyncError::InvalidConfig(m) => assert!(m.contains("unknown field `pagesize`"), "{m}"),
            other => panic!("{other:?}"),
        }
        match parse_event(Operation::NewPosts, br#"{"location-id":"l","max-posts":-1}"#).unwrap_err() {
            SyncError::InvalidConfig(m) => assert!(m.contains("`max-posts`"), "{m}"),
            other => panic!("{other:?}"),
        }
        match parse_event(Operation::PostsPublished, br#"{"location-id":"l","max-post":5}"#).unwrap_err() {
            SyncError::InvalidConfig(m) => assert!(m.contains("unknown field `max-post`"), "{m}"),
            other => panic!("{other:?}"),
        }
        match parse_event(Operation::Check, br#"{"location-id":"l","operations":["tag-sync",3]}"#).unwrap_err() {
            SyncError::InvalidConfig(m) => assert!(m.contains("`operations[1]`"), "{m}"),
            other => panic!("{other:?}"),
        }
        match parse_event(
            Operation::Check,
            br#"{"location-id":"l","operations":["stats-sync"],"dashboard-id":null}"#,
        )
        .unwrap()
        {
            Event::Check(c) => assert_eq!((c.operations, c.dashboard_id), (vec!["stats-sync".into()], None)),
            other => panic!("{other:?}"),
        }
    }
}
