//! `posts-published`: a poll trigger for the posts that went live since the
//! last call (the window machinery is `poll`'s). It lists with `type:
//! published` and places a post by its `publishedAt`; a post counts only
//! when its `status` is `published` (or absent).
//!
//! Each post is emitted once: its id is remembered for
//! [`PUBLISHED_KEEP_DAYS`](crate::state::PUBLISHED_KEEP_DAYS) after it first
//! went live (and at most [`MAX_SEEN_POSTS`](crate::state::MAX_SEEN_POSTS)
//! ids, the oldest forgotten first), so a post edited and published again
//! is not emitted again.
//!
//! Each emitted post carries the `profileId`s of its accounts, what
//! `stats-sync` takes: the location's connected accounts are read once per
//! call, and only when the call emits posts.

use super::poll::{self, Poll, Watch};
use super::{dedup, stop_reason, Origin, Run};
use crate::auth::Scope;
use crate::ghl::model::{Account, ListedPost};
use crate::ghl::{self, EP_ACCOUNTS};
use crate::instant;
use crate::io::{Host, Level};
use crate::report::{Incomplete, ItemError, Service, SyncError, SyncFailure};
use crate::secret::OAuthTokens;
use crate::settings::{check_id, SettingsInput};
use crate::state;
use std::collections::{HashMap, HashSet};

/// The trigger's input: as `new-posts`'s.
#[derive(Debug, Clone, Default)]
pub struct PublishedPostsRequest {
    pub location_id: String,
    pub overlap_ms: Option<u64>,
    /// RFC 3339 date-time or `YYYY-MM-DD`; first call only.
    pub backfill_since: Option<String>,
    pub max_posts: Option<u32>,
}

/// A post that went live.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PublishedPost {
    pub id: String,
    /// `publishedAt` as GHL wrote it (RFC 3339): the instant it is ordered
    /// by.
    pub published_at: String,
    pub platform: Option<String>,
    /// `accountIds`, or `accountId` when the post lists none; in order,
    /// without repeats.
    pub account_ids: Vec<String>,
    /// The `profileId`s of those accounts, in account order, without
    /// repeats; an account the location no longer lists has none.
    pub profile_ids: Vec<String>,
    pub tag_ids: Vec<String>,
}

/// What one poll found.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PublishedPostsReport {
    pub posts: Vec<PublishedPost>,
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

/// Polls `posts/list` for the posts that went live since the state's
/// watermark.
pub fn posts_published(
    host: &mut dyn Host,
    settings: &SettingsInput,
    req: &PublishedPostsRequest,
    state: Option<&[u8]>,
) -> Result<PublishedPostsReport, SyncFailure> {
    let location = req.location_id.as_str();
    let checked = Poll::check(location, req.overlap_ms, req.backfill_since.as_deref(), req.max_posts)?;
    let given = state::decode_published(state, location).map_err(SyncError::InvalidConfig)?;
    let origin = Origin {
        scope: &[location],
        state,
    };
    let scopes = [Scope::PostRead, Scope::AccountRead];
    let mut run = Run::start(host, settings, "posts-published", origin, &scopes)?;
    let as_given = || state.map(<[u8]>::to_vec).unwrap_or_default();
    // A failure emits nothing and hands back the state as given, so the
    // next call reads the same window again.
    let polled = match poll::poll(&mut run, given, location, &checked, Watch::Published) {
        Ok(polled) => polled,
        Err(e) => return Err(run.fail(e, state.map(<[u8]>::to_vec))),
    };
    let posts = if polled.posts.is_empty() {
        Vec::new()
    } else {
        match connected_accounts(&mut run, location) {
            Ok(accounts) => polled
                .posts
                .into_iter()
                .map(|(at, post)| emit(&mut run, &accounts, at, post))
                .collect(),
            // Posts go out only with their profile ids. Stopped (deadline,
            // rate budget): none is emitted and the state stays as given,
            // so the next call finds the same posts again.
            Err(e) => match stop_reason(&e) {
                Some(reason) => {
                    run.stop(reason);
                    let report = run.finish(as_given());
                    return Ok(PublishedPostsReport {
                        posts: Vec::new(),
                        baseline: false,
                        more: false,
                        fetched: report.fetched,
                        evicted: 0,
                        errors: report.errors,
                        requests: report.requests,
                        retries: report.retries,
                        incomplete: report.incomplete,
                        state: report.state,
                        rotated_tokens: report.rotated_tokens,
                    });
                }
                None => return Err(run.fail(e, state.map(<[u8]>::to_vec))),
            },
        }
    };
    let blob = if run.settings.dry_run {
        as_given()
    } else {
        state::encode_published(&polled.state)
    };
    let emitted = posts.len().to_string();
    run.exchange
        .log(Level::Info, "posts published", &[("emitted", &emitted)]);
    let report = run.finish(blob);
    Ok(PublishedPostsReport {
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

/// What the location's connected accounts say of an account id: its
/// `profileId`, or none when the account has no usable one.
type Profiles = HashMap<String, Option<String>>;

/// The location's connected accounts by `id`. An expired account still
/// maps: its statistics fail in `stats-sync`, not here.
fn connected_accounts<H: Host + ?Sized>(run: &mut Run<'_, H>, location: &str) -> Result<Profiles, SyncError> {
    let request = run.settings.ghl().accounts(location);
    let accounts: Vec<Account> = run.exchange.call(Service::Ghl, EP_ACCOUNTS, request, |resp| {
        ghl::read_accounts(&resp.body)
    })?;
    let mut profiles = Profiles::new();
    for account in accounts {
        let Some(id) = account.id else { continue };
        let profile = account.profile_id.filter(|p| check_id("profileId", p).is_ok());
        profiles.entry(id).or_insert(profile);
    }
    Ok(profiles)
}

/// The post as emitted, with its accounts' profile ids; bad ids and
/// accounts without a profile are item errors naming the post.
fn emit<H: Host + ?Sized>(run: &mut Run<'_, H>, profiles: &Profiles, at: u64, post: ListedPost) -> PublishedPost {
    let tag_ids = poll::tag_ids(run, &post.id, post.tags);
    let listed = match post.account_ids {
        Some(ids) if !ids.is_empty() => ids,
        _ => post.account_id.into_iter().collect(),
    };
    let mut account_ids = Vec::new();
    for account in dedup(&listed) {
        match check_id("account id", &account) {
            Ok(()) => account_ids.push(account),
            Err(why) => run.report.reject(
                post.id.clone(),
                Service::Ghl,
                format!("one of the post's account ids was left out: {why}"),
            ),
        }
    }
    let mut seen = HashSet::new();
    let mut profile_ids = Vec::new();
    for account in &account_ids {
        match profiles.get(account) {
            Some(Some(profile)) => {
                if seen.insert(profile.as_str()) {
                    profile_ids.push(profile.clone());
                }
            }
            Some(None) => run.report.reject(
                post.id.clone(),
                Service::Ghl,
                format!("account {account} has no usable profileId in the location's connected accounts; its statistics cannot be read"),
            ),
            None => run.report.reject(
                post.id.clone(),
                Service::Ghl,
                format!("account {account} is not among the location's connected accounts (disconnected or removed); it has no profile id, reconnect it in GHL's Social Planner to read its statistics"),
            ),
        }
    }
    let published_at = post.published_at.unwrap_or_else(|| instant::format_ms(at));
    PublishedPost {
        id: post.id,
        published_at,
        platform: post.platform,
        account_ids,
        profile_ids,
        tag_ids,
    }
}
