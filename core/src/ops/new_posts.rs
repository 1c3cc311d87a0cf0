//! `new-posts`: a poll trigger for the posts created since the last call
//! (the window machinery is `poll`'s). A post is placed by its `createdAt`,
//! or its `updatedAt` when it has no `createdAt`; an id is remembered until
//! it falls out of the overlap, so nothing is emitted twice.

use super::poll::{self, Poll, Watch};
use super::{Origin, Run};
use crate::auth::Scope;
use crate::ghl::model::ListedPost;
use crate::instant;
use crate::io::{Host, Level};
use crate::report::{Incomplete, ItemError, SyncError, SyncFailure};
use crate::secret::OAuthTokens;
use crate::settings::SettingsInput;
use crate::state;

/// The trigger's input.
#[derive(Debug, Clone, Default)]
pub struct NewPostsRequest {
    pub location_id: String,
    pub overlap_ms: Option<u64>,
    /// RFC 3339 date-time or `YYYY-MM-DD`; first call only.
    pub backfill_since: Option<String>,
    pub max_posts: Option<u32>,
}

/// A post the trigger emits.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SocialPost {
    pub id: String,
    /// `createdAt` as GHL wrote it (RFC 3339), or `updatedAt` when the post
    /// has no `createdAt`: the instant it is ordered by.
    pub created_at: String,
    pub updated_at: Option<String>,
    pub status: Option<String>,
    pub platform: Option<String>,
    pub account_id: Option<String>,
    pub tag_ids: Vec<String>,
}

/// What one poll found.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NewPostsReport {
    pub posts: Vec<SocialPost>,
    pub baseline: bool,
    pub more: bool,
    pub fetched: u32,
    pub evicted: u32,
    pub errors: Vec<ItemError>,
    pub requests: u32,
    pub retries: u32,
    pub incomplete: Option<Incomplete>,
    pub state: Vec<u8>,
    pub rotated_tokens: Option<OAuthTokens>,
}

/// Polls `posts/list` for the posts created since the state's watermark.
pub fn new_posts(
    host: &mut dyn Host,
    settings: &SettingsInput,
    req: &NewPostsRequest,
    state: Option<&[u8]>,
) -> Result<NewPostsReport, SyncFailure> {
    let location = req.location_id.as_str();
    let checked = Poll::check(location, req.overlap_ms, req.backfill_since.as_deref(), req.max_posts)?;
    let given = state::decode_posts(state, location).map_err(SyncError::InvalidConfig)?;
    let origin = Origin {
        scope: &[location],
        state,
    };
    let mut run = Run::start(host, settings, "new-posts", origin, &[Scope::PostRead])?;
    // A failure emits nothing and hands back the state as given, so the
    // next call reads the same window again.
    let polled = match poll::poll(&mut run, given, location, &checked, Watch::Created) {
        Ok(polled) => polled,
        Err(e) => return Err(run.fail(e, state.map(<[u8]>::to_vec))),
    };
    let posts: Vec<SocialPost> = polled
        .posts
        .into_iter()
        .map(|(at, post)| emit(&mut run, at, post))
        .collect();
    let blob = if run.settings.dry_run {
        state.map(<[u8]>::to_vec).unwrap_or_default()
    } else {
        state::encode_posts(&polled.state)
    };
    let emitted = posts.len().to_string();
    run.exchange.log(Level::Info, "new posts", &[("emitted", &emitted)]);
    let report = run.finish(blob);
    Ok(NewPostsReport {
        posts,
        baseline: polled.baseline,
        more: polled.more,
        fetched: report.fetched,
        evicted: polled.evicted,
        errors: report.errors,
        requests: report.requests,
        retries: report.retries,
        incomplete: report.incomplete,
        state: report.state,
        rotated_tokens: report.rotated_tokens,
    })
}

/// The post as emitted; bad tag ids are item errors, the rest go out.
fn emit<H: Host + ?Sized>(run: &mut Run<'_, H>, at: u64, post: ListedPost) -> SocialPost {
    let tag_ids = poll::tag_ids(run, &post.id, post.tags);
    let status = match post.status {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(s)) => Some(s),
        Some(other) => Some(other.to_string()),
    };
    // As GHL wrote it; `updatedAt` stands in when there is no `createdAt`
    // (the post was ordered by it).
    let created_at = post
        .created_at
        .clone()
        .or_else(|| post.updated_at.clone())
        .unwrap_or_else(|| instant::format_ms(at));
    SocialPost {
        created_at,
        updated_at: post.updated_at,
        status,
        platform: post.platform,
        account_id: post
            .account_id
            .or_else(|| post.account_ids.and_then(|ids| ids.into_iter().next())),
        tag_ids,
        id: post.id,
    }
}
