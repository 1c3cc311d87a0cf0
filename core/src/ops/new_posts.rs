//! `new-posts`: a poll trigger. The Social Planner sends no webhooks, so the
//! posts created since the last call are found by reading
//! `posts/list` over a window of time:
//!
//! - the window runs from the watermark minus the overlap to now plus a
//!   clock-skew margin, so late and back-dated posts are read again;
//! - ids already emitted are kept (with their date) until they fall out of
//!   the overlap, so nothing is emitted twice; the set has a hard cap, and
//!   an eviction is counted;
//! - the first call without `backfill-since` only records what exists;
//! - a window cut short (deadline, rate budget, the cap on posts per call)
//!   stays in the state and the next call carries on with it.
//!
//! The spec does not say which date `fromDate`/`toDate` filter on. The
//! trigger assumes `createdAt` (falling back to `updatedAt` when a post has
//! no `createdAt`), and checks it itself: a post dated before the window is
//! an old post listed again (e.g. after an edit), never a new one.
//!
//! Delivery is at least once: the host keeps the returned state only once it
//! has acted on, or durably queued, the posts.

use super::{id, stop_reason, Run};
use crate::auth::Scope;
use crate::ghl::model::ListedPost;
use crate::ghl::{self, EP_POSTS, POSTS_PAGE};
use crate::instant;
use crate::io::{Host, Level, Phase};
use crate::report::{Incomplete, ItemError, Service, SyncError, SyncFailure};
use crate::secret::OAuthTokens;
use crate::settings::{check_id, SettingsInput};
use crate::state::{self, PostWindow, PostsState, MAX_SEEN_POSTS};
use std::collections::HashSet;

/// Default look-back before the watermark.
pub const DEFAULT_OVERLAP_MS: u64 = 15 * 60 * 1000;
/// Longest overlap accepted: a day.
pub const MAX_OVERLAP_MS: u64 = 24 * 60 * 60 * 1000;
/// Default and largest number of posts one call returns.
pub const DEFAULT_MAX_POSTS: u32 = 100;
pub const MAX_POSTS: u32 = 1000;
/// How far past our clock the window reaches, for a GHL clock ahead of ours.
pub const CLOCK_SKEW_MS: u64 = 2 * 60 * 1000;

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

/// The checked request.
struct Poll {
    overlap: u64,
    backfill: Option<u64>,
    max_posts: usize,
}

fn check(req: &NewPostsRequest) -> Result<Poll, SyncError> {
    id("location-id", &req.location_id)?;
    let overlap = req.overlap_ms.unwrap_or(DEFAULT_OVERLAP_MS);
    if overlap > MAX_OVERLAP_MS {
        return Err(SyncError::InvalidConfig(format!(
            "overlap-ms is {overlap}; use 0 to {MAX_OVERLAP_MS} (a day); the default is {DEFAULT_OVERLAP_MS} (15 minutes)"
        )));
    }
    let max_posts = req.max_posts.unwrap_or(DEFAULT_MAX_POSTS);
    if !(1..=MAX_POSTS).contains(&max_posts) {
        return Err(SyncError::InvalidConfig(format!(
            "max-posts is {max_posts}; use 1 to {MAX_POSTS}"
        )));
    }
    let backfill = match &req.backfill_since {
        Some(text) => {
            Some(instant::parse_ms(text).map_err(|e| SyncError::InvalidConfig(format!("backfill-since: {e}")))?)
        }
        None => None,
    };
    Ok(Poll {
        overlap,
        backfill,
        max_posts: max_posts as usize,
    })
}

/// Polls `posts/list` for the posts created since the state's watermark.
pub fn new_posts(
    host: &mut dyn Host,
    settings: &SettingsInput,
    req: &NewPostsRequest,
    state: Option<&[u8]>,
) -> Result<NewPostsReport, SyncFailure> {
    let poll = check(req)?;
    let location = req.location_id.as_str();
    let given = state::decode_posts(state, location).map_err(SyncError::InvalidConfig)?;
    let mut run = Run::start(host, settings, "new-posts", location, &[Scope::PostRead])?;
    let first = given.is_none();
    let mut posts_state = given.unwrap_or_else(|| PostsState {
        location: location.to_string(),
        ..PostsState::default()
    });
    if !first && poll.backfill.is_some() {
        run.exchange.log(
            Level::Info,
            "backfill-since applies to the first call only (no state); it is ignored",
            &[],
        );
    }
    // A failure emits nothing and hands back the state as given, so the
    // next call reads the same window again.
    let window = match open_window(&mut run, &mut posts_state, &poll, first) {
        Ok(window) => window,
        Err(e) => return Err(run.fail(e, state.map(<[u8]>::to_vec))),
    };
    let mut found = Found::default();
    let stopped = match read_window(&mut run, &posts_state, &window, &mut found) {
        Ok(()) => None,
        Err(e) => match stop_reason(&e) {
            Some(reason) => Some(reason),
            None => return Err(run.fail(e, state.map(<[u8]>::to_vec))),
        },
    };
    let settled = settle(&mut run, &mut posts_state, &poll, window, found, stopped.is_some());
    if let Some(reason) = stopped {
        run.stop(reason);
    }
    let evicted = evict(&mut posts_state);
    if evicted > 0 {
        let n = evicted.to_string();
        run.exchange.log(
            Level::Warn,
            "the trigger's set of emitted ids is full; the oldest were forgotten and could be emitted again",
            &[("evicted", &n)],
        );
    }
    let blob = if run.settings.dry_run {
        state.map(<[u8]>::to_vec).unwrap_or_default()
    } else {
        state::encode_posts(&posts_state)
    };
    let emitted = settled.posts.len().to_string();
    run.exchange.log(Level::Info, "new posts", &[("emitted", &emitted)]);
    let report = run.finish(blob);
    Ok(NewPostsReport {
        posts: settled.posts,
        baseline: settled.baseline,
        more: settled.more,
        fetched: report.fetched,
        evicted,
        errors: report.errors,
        requests: report.requests,
        retries: report.retries,
        incomplete: report.incomplete,
        state: report.state,
        rotated_tokens: report.rotated_tokens,
    })
}

/// The posts read in the window that were not emitted before.
#[derive(Default)]
struct Found {
    /// (instant, post), not yet sorted.
    new: Vec<(u64, ListedPost)>,
    /// Where the read stopped.
    next_skip: u64,
}

/// The window this call reads: the one a previous call stopped in, or a
/// new one from the watermark (or, on the first call, from the overlap or
/// `backfill-since`) to now plus the clock-skew margin.
fn open_window<H: Host + ?Sized>(
    run: &mut Run<'_, H>,
    st: &mut PostsState,
    poll: &Poll,
    first: bool,
) -> Result<PostWindow, SyncError> {
    if let Some(w) = st.window.take() {
        let skip = w.skip.to_string();
        run.exchange
            .log(Level::Info, "resuming the poll window", &[("skip", &skip)]);
        return Ok(w);
    }
    let now = run.exchange.host().now_ms();
    let from = match (first, poll.backfill) {
        (true, Some(since)) => since,
        (true, None) => now.saturating_sub(poll.overlap),
        (false, _) => st.watermark.saturating_sub(poll.overlap),
    };
    let to = now.saturating_add(CLOCK_SKEW_MS);
    if from > to {
        return Err(SyncError::InvalidConfig(format!(
            "backfill-since is {}, after now ({}); give an instant in the past",
            instant::format_ms(from),
            instant::format_ms(now)
        )));
    }
    Ok(PostWindow {
        from,
        to,
        skip: 0,
        baseline: first && poll.backfill.is_none(),
    })
}

/// Reads `window` page by page into `found`. An error leaves in `found`
/// what was read before it.
fn read_window<H: Host + ?Sized>(
    run: &mut Run<'_, H>,
    st: &PostsState,
    window: &PostWindow,
    found: &mut Found,
) -> Result<(), SyncError> {
    // A resumed window starts one page early: posts deleted or added since
    // shift the offsets, and ids already emitted are skipped anyway.
    let mut skip = window.skip.saturating_sub(u64::from(POSTS_PAGE));
    found.next_skip = skip;
    let (from_text, to_text) = (instant::format_ms(window.from), instant::format_ms(window.to));
    let mut read_in_call: HashSet<String> = HashSet::new();
    let mut stale_pages = 0u32;
    loop {
        if run.exchange.deadline_left() == Some(0) {
            return Err(SyncError::DeadlineExceeded("before the next page of posts".into()));
        }
        let request = run
            .settings
            .ghl()
            .posts(&st.location, skip, POSTS_PAGE, &from_text, &to_text);
        let page = run
            .exchange
            .call(Service::Ghl, EP_POSTS, request, |resp| ghl::read_post_page(&resp.body))?;
        let got = page.posts.len() as u64;
        let mut unread = 0u32;
        for parsed in page.posts {
            let post = match parsed {
                Ok(post) => post,
                Err(bad) => {
                    run.report.reject(bad.item, Service::Ghl, bad.why);
                    continue;
                }
            };
            if !read_in_call.insert(post.id.clone()) {
                continue;
            }
            unread += 1;
            run.report.fetched += 1;
            if let Err(why) = check_id("the post's `_id`", &post.id) {
                run.report
                    .reject(format!("results.posts (skip {skip})"), Service::Ghl, why);
                continue;
            }
            let at = match instant_of(&post) {
                Ok(at) => at,
                Err(why) => {
                    run.report.reject(post.id, Service::Ghl, why);
                    continue;
                }
            };
            // Dated before the window: an old post listed again, not new.
            // Already emitted: not again.
            if at < window.from || st.seen.contains_key(&post.id) {
                continue;
            }
            found.new.push((at, post));
        }
        let fetched = u64::from(run.report.fetched);
        run.exchange.host().progress(Phase::ReadingPosts, fetched, None);
        if got > 0 && unread == 0 {
            // Only posts already read in this call: the server is not
            // paging (or served a page twice). A few times at most.
            stale_pages += 1;
            if stale_pages >= run.settings.retry.max_attempts {
                return Err(SyncError::InvalidResponse {
                    service: Service::Ghl,
                    endpoint: EP_POSTS.into(),
                    field: "results.posts".into(),
                    message: format!(
                        "the page at skip={skip} held only posts already read, {stale_pages} times; the server is not paging"
                    ),
                });
            }
        } else {
            stale_pages = 0;
        }
        skip += got;
        found.next_skip = skip;
        // The spec does not say whether `count` is the page's or the
        // window's, so only a short page ends the window.
        if got < u64::from(POSTS_PAGE) {
            return Ok(());
        }
    }
}

/// `createdAt`, or `updatedAt` when there is no `createdAt`.
fn instant_of(post: &ListedPost) -> Result<u64, String> {
    match (&post.created_at, &post.updated_at) {
        (Some(c), _) => instant::parse_ms(c).map_err(|e| format!("createdAt: {e}")),
        (None, Some(u)) => instant::parse_ms(u).map_err(|e| format!("updatedAt: {e}")),
        (None, None) => Err("the post has neither createdAt nor updatedAt; it cannot be placed in time".into()),
    }
}

/// Chooses what to emit from `found`, records it in the state, and moves
/// the watermark or keeps the window. `stopped`: the read ended early.
fn settle<H: Host + ?Sized>(
    run: &mut Run<'_, H>,
    st: &mut PostsState,
    poll: &Poll,
    window: PostWindow,
    found: Found,
    stopped: bool,
) -> Settled {
    let mut new = found.new;
    // Ids are unique here (read once per call), so the order is total.
    new.sort_unstable_by(|a, b| (a.0, &a.1.id).cmp(&(b.0, &b.1.id)));
    let baseline = window.baseline;
    let cut = !baseline && new.len() > poll.max_posts;
    if cut {
        new.truncate(poll.max_posts);
    }
    let last_emitted = new.last().map(|(at, _)| *at);
    let mut posts = Vec::new();
    for (at, post) in new {
        st.seen.insert(post.id.clone(), at);
        if !baseline {
            posts.push(emit(run, at, post));
        }
    }
    st.window = match (stopped, cut) {
        // Read to the end and all emitted: the window is done.
        (false, false) => {
            st.watermark = st.watermark.max(window.to.saturating_sub(CLOCK_SKEW_MS));
            None
        }
        // Read to the end, cut by the cap: every new post older than the
        // last one emitted is out, so the window narrows to start there.
        (false, true) => Some(PostWindow {
            from: last_emitted.unwrap_or(window.from).max(window.from),
            skip: 0,
            ..window
        }),
        // Stopped early, nothing cut: carry on from where the read stopped.
        (true, false) => Some(PostWindow {
            skip: found.next_skip,
            ..window
        }),
        // Stopped early and cut: posts read but not emitted lie before the
        // stop, so the window is read again from its start.
        (true, true) => Some(PostWindow { skip: 0, ..window }),
    };
    // Ids dated before every window still to read can no longer be listed
    // as new: a kept window reads from its `from`, and once done the next
    // one starts at its end minus the overlap.
    let floor = match &st.window {
        Some(w) => w.from.min(w.to.saturating_sub(CLOCK_SKEW_MS + poll.overlap)),
        None => st.watermark.saturating_sub(poll.overlap),
    };
    st.seen.retain(|_, at| *at >= floor);
    Settled {
        posts,
        more: cut,
        baseline,
    }
}

/// What a poll emits.
struct Settled {
    posts: Vec<SocialPost>,
    /// More new posts wait beyond the cap.
    more: bool,
    /// The window was the first call's: recorded, not emitted.
    baseline: bool,
}

/// Forgets the oldest emitted ids beyond [`MAX_SEEN_POSTS`]; how many.
fn evict(st: &mut PostsState) -> u32 {
    let over = st.seen.len().saturating_sub(MAX_SEEN_POSTS);
    if over == 0 {
        return 0;
    }
    let mut by_age: Vec<(u64, String)> = st.seen.iter().map(|(id, at)| (*at, id.clone())).collect();
    by_age.sort_unstable();
    for (_, id) in by_age.into_iter().take(over) {
        st.seen.remove(&id);
    }
    over as u32
}

/// The post as emitted; bad tag ids are item errors, the rest go out.
fn emit<H: Host + ?Sized>(run: &mut Run<'_, H>, at: u64, post: ListedPost) -> SocialPost {
    let mut seen = HashSet::new();
    let mut tag_ids = Vec::new();
    for tag in post.tags.unwrap_or_default() {
        match check_id("tag id", &tag) {
            Ok(()) => {
                if seen.insert(tag.clone()) {
                    tag_ids.push(tag);
                }
            }
            Err(why) => run.report.reject(
                post.id.clone(),
                Service::Ghl,
                format!("one of the post's tag ids was left out: {why}"),
            ),
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seen_set_drops_its_oldest_beyond_the_cap_and_counts_them() {
        let mut st = PostsState::default();
        for i in 0..MAX_SEEN_POSTS as u64 + 5 {
            st.seen.insert(format!("p{i:06}"), 1_000 + i);
        }
        assert_eq!(evict(&mut st), 5);
        assert_eq!(st.seen.len(), MAX_SEEN_POSTS);
        assert!((0..5).all(|i| !st.seen.contains_key(&format!("p{i:06}"))));
        assert!(st.seen.contains_key("p000005"));
        assert_eq!(evict(&mut st), 0);
        // The bound stated in the README: 10,000 GHL ids (24 characters)
        // encode in 41 bytes each: under 450 KB.
        let mut big = PostsState::default();
        for i in 0..MAX_SEEN_POSTS as u64 {
            big.seen
                .insert(format!("65fac446d599990d{i:08x}"), 1_795_867_200_000 + i);
        }
        let blob = state::encode_posts(&big);
        assert!(blob.len() < 450_000, "{}", blob.len());
    }
}
