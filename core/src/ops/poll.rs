//! What the two poll triggers share. The Social Planner sends no webhooks,
//! so `new-posts` and `posts-published` read `posts/list` over a window of
//! time:
//!
//! - the window runs from the watermark minus the overlap to now plus a
//!   clock-skew margin, so late and back-dated posts are read again;
//! - ids already emitted are kept (with the instant they were placed at),
//!   so nothing is emitted twice; the set has a hard cap, and an eviction
//!   is counted;
//! - the first call without `backfill-since` only records what exists;
//! - a window cut short (deadline, rate budget, the cap on posts per call)
//!   stays in the state and the next call carries on with it.
//!
//! The spec does not say which date `fromDate`/`toDate` filter on. Each
//! trigger places a post by its own date (`createdAt` for `new-posts`,
//! `publishedAt` for `posts-published`) and checks it itself: a post placed
//! before the window is an old post listed again (e.g. after an edit),
//! never a new one.
//!
//! Delivery is at least once: the host keeps the returned state only once it
//! has acted on, or durably queued, the posts.

use super::{id, stop_reason, Run};
use crate::ghl::model::ListedPost;
use crate::ghl::{self, PostsOf, EP_POSTS, POSTS_PAGE};
use crate::instant;
use crate::io::{Host, Level, Phase};
use crate::report::{Service, SyncError};
use crate::settings::check_id;
use crate::state::{PostWindow, PostsState, MAX_SEEN_POSTS, PUBLISHED_KEEP_DAYS};
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

const DAY_MS: u64 = 24 * 60 * 60 * 1000;

/// Which posts a trigger watches for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Watch {
    /// Posts created (`new-posts`): placed by `createdAt`, or `updatedAt`
    /// when the post has none; every listed post counts.
    Created,
    /// Posts that went live (`posts-published`): listed with `type:
    /// published`, placed by `publishedAt`; only posts whose `status` is
    /// `published` (or absent) count. An id is remembered for
    /// [`PUBLISHED_KEEP_DAYS`] after it first went live, so a post edited
    /// and published again is not emitted again.
    Published,
}

impl Watch {
    fn posts_of(self) -> PostsOf {
        match self {
            Watch::Created => PostsOf::Any,
            Watch::Published => PostsOf::Published,
        }
    }

    /// The instant a listed post is placed at; `None` for a post this
    /// trigger does not watch; an error (an item error) for one it watches
    /// but cannot place.
    fn place(self, post: &ListedPost) -> Result<Option<u64>, String> {
        match self {
            Watch::Created => match (&post.created_at, &post.updated_at) {
                (Some(c), _) => instant::parse_ms(c).map(Some).map_err(|e| format!("createdAt: {e}")),
                (None, Some(u)) => instant::parse_ms(u).map(Some).map_err(|e| format!("updatedAt: {e}")),
                (None, None) => Err("the post has neither createdAt nor updatedAt; it cannot be placed in time".into()),
            },
            Watch::Published => {
                let status = match &post.status {
                    None | Some(serde_json::Value::Null) => None,
                    Some(serde_json::Value::String(s)) => Some(s.as_str()),
                    // Not a status this trigger can read as `published`.
                    Some(_) => return Ok(None),
                };
                let published = match status {
                    None => false,
                    Some(s) if s.eq_ignore_ascii_case("published") => true,
                    Some(_) => return Ok(None),
                };
                match &post.published_at {
                    Some(at) => instant::parse_ms(at).map(Some).map_err(|e| format!("publishedAt: {e}")),
                    None if published => Err(
                        "the post is published but has no publishedAt; it cannot be placed in time, and is not emitted"
                            .into(),
                    ),
                    None => Ok(None),
                }
            }
        }
    }
}

/// A trigger's checked request.
pub(crate) struct Poll {
    pub overlap: u64,
    pub backfill: Option<u64>,
    pub max_posts: usize,
}

impl Poll {
    /// Checks a trigger's input; the error is `invalid-config`.
    pub fn check(
        location: &str,
        overlap_ms: Option<u64>,
        backfill_since: Option<&str>,
        max_posts: Option<u32>,
    ) -> Result<Poll, SyncError> {
        id("location-id", location)?;
        let overlap = overlap_ms.unwrap_or(DEFAULT_OVERLAP_MS);
        if overlap > MAX_OVERLAP_MS {
            return Err(SyncError::InvalidConfig(format!(
                "overlap-ms is {overlap}; use 0 to {MAX_OVERLAP_MS} (a day); the default is {DEFAULT_OVERLAP_MS} (15 minutes)"
            )));
        }
        let max_posts = max_posts.unwrap_or(DEFAULT_MAX_POSTS);
        if !(1..=MAX_POSTS).contains(&max_posts) {
            return Err(SyncError::InvalidConfig(format!(
                "max-posts is {max_posts}; use 1 to {MAX_POSTS}"
            )));
        }
        let backfill = match backfill_since {
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
}

/// What one poll found, ready to emit.
pub(crate) struct Polled {
    /// The state to keep once the posts are acted on.
    pub state: PostsState,
    /// The posts to emit with their instants, oldest first (by instant,
    /// then id); none on a baseline.
    pub posts: Vec<(u64, ListedPost)>,
    /// The window was the first call's: recorded, not emitted.
    pub baseline: bool,
    /// More new posts wait beyond the cap.
    pub more: bool,
    /// Ids forgotten because the set was full.
    pub evicted: u32,
}

/// One poll: the window to read, read page by page, what to emit chosen and
/// recorded in the state. `given` is the state as decoded (none on the
/// first call). A deadline or a spent rate budget ends the read early and
/// marks the run incomplete (the state keeps the window); any other error
/// fails the poll, and the caller hands back the state as given, so the
/// next call reads the same window again.
pub(crate) fn poll<H: Host + ?Sized>(
    run: &mut Run<'_, H>,
    given: Option<PostsState>,
    location: &str,
    poll: &Poll,
    watch: Watch,
) -> Result<Polled, SyncError> {
    let first = given.is_none();
    let mut st = given.unwrap_or_else(|| PostsState {
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
    let window = open_window(run, &mut st, poll, first)?;
    if watch == Watch::Published {
        // Forgotten as of this call, before it reads: a post that first went
        // live longer ago than the horizon and goes live again is new again.
        let now = run.exchange.host().now_ms();
        let floor = keep_floor(now).min(window.from);
        st.seen.retain(|_, at| *at >= floor);
    }
    let mut found = Found::default();
    let stopped = match read_window(run, &st, &window, watch, &mut found) {
        Ok(()) => None,
        Err(e) => Some(stop_reason(&e).ok_or(e)?),
    };
    let settled = settle(run, &mut st, poll, window, found, stopped.is_some(), watch);
    if let Some(reason) = stopped {
        run.stop(reason);
    }
    let evicted = evict(&mut st);
    if evicted > 0 {
        let n = evicted.to_string();
        run.exchange.log(
            Level::Warn,
            "the trigger's set of emitted ids is full; the oldest were forgotten and could be emitted again",
            &[("evicted", &n)],
        );
    }
    Ok(Polled {
        state: st,
        posts: settled.posts,
        baseline: settled.baseline,
        more: settled.more,
        evicted,
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
    watch: Watch,
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
            .posts(&st.location, watch.posts_of(), skip, POSTS_PAGE, &from_text, &to_text);
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
            let at = match watch.place(&post) {
                Ok(Some(at)) => at,
                Ok(None) => continue,
                Err(why) => {
                    run.report.reject(post.id, Service::Ghl, why);
                    continue;
                }
            };
            // Placed before the window: an old post listed again, not new.
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

/// What `settle` chose.
struct Settled {
    posts: Vec<(u64, ListedPost)>,
    more: bool,
    baseline: bool,
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
    watch: Watch,
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
    for (at, post) in &new {
        st.seen.insert(post.id.clone(), *at);
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
    // Ids placed before every window still to read can no longer be listed
    // as new: a kept window reads from its `from`, and once done the next
    // one starts at its end minus the overlap.
    let floor = match &st.window {
        Some(w) => w.from.min(w.to.saturating_sub(CLOCK_SKEW_MS + poll.overlap)),
        None => st.watermark.saturating_sub(poll.overlap),
    };
    // A post that went live can go live again later (edited and published
    // again): its id is kept for the whole horizon, not just the overlap.
    let floor = match watch {
        Watch::Created => floor,
        Watch::Published => floor.min(keep_floor(run.exchange.host().now_ms())),
    };
    st.seen.retain(|_, at| *at >= floor);
    Settled {
        posts: if baseline { Vec::new() } else { new },
        more: cut,
        baseline,
    }
}

/// The oldest first `publishedAt` still remembered at `now`.
fn keep_floor(now: u64) -> u64 {
    now.saturating_sub(PUBLISHED_KEEP_DAYS.unsigned_abs() * DAY_MS)
}

/// Forgets the oldest emitted ids beyond [`MAX_SEEN_POSTS`]; how many.
pub(crate) fn evict(st: &mut PostsState) -> u32 {
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

/// A post's tag ids as emitted, in order, without repeats; a bad one is an
/// item error naming the post and is left out.
pub(crate) fn tag_ids<H: Host + ?Sized>(run: &mut Run<'_, H>, post_id: &str, tags: Option<Vec<String>>) -> Vec<String> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for tag in tags.unwrap_or_default() {
        match check_id("tag id", &tag) {
            Ok(()) => {
                if seen.insert(tag.clone()) {
                    out.push(tag);
                }
            }
            Err(why) => run.report.reject(
                post_id.to_string(),
                Service::Ghl,
                format!("one of the post's tag ids was left out: {why}"),
            ),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state;

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

    fn listed(status: Option<serde_json::Value>, published_at: Option<&str>) -> ListedPost {
        ListedPost {
            id: "p".into(),
            status,
            published_at: published_at.map(str::to_string),
            created_at: Some("2026-11-28T11:00:00Z".into()),
            ..ListedPost::default()
        }
    }

    #[test]
    fn a_published_post_is_placed_by_its_published_at_and_others_are_not_watched() {
        let at = Some("2026-11-28T11:59:00.000Z");
        let ms = instant::parse_ms("2026-11-28T11:59:00Z").unwrap();
        let s = |t: &str| Some(serde_json::Value::String(t.into()));
        let w = Watch::Published;
        assert_eq!(w.place(&listed(s("published"), at)), Ok(Some(ms)));
        assert_eq!(w.place(&listed(None, at)), Ok(Some(ms)));
        assert_eq!(w.place(&listed(Some(serde_json::Value::Null), at)), Ok(Some(ms)));
        assert_eq!(w.place(&listed(s("scheduled"), at)), Ok(None));
        assert_eq!(w.place(&listed(s("failed"), None)), Ok(None));
        assert_eq!(w.place(&listed(Some(serde_json::json!({"a": 1})), at)), Ok(None));
        assert_eq!(w.place(&listed(None, None)), Ok(None));
        let e = w.place(&listed(s("published"), None)).unwrap_err();
        assert!(e.contains("no publishedAt"), "{e}");
        let e = w.place(&listed(s("published"), Some("soon"))).unwrap_err();
        assert!(e.starts_with("publishedAt: "), "{e}");
        // `new-posts` places the same post by its creation.
        let created = instant::parse_ms("2026-11-28T11:00:00Z").unwrap();
        assert_eq!(Watch::Created.place(&listed(s("draft"), None)), Ok(Some(created)));
    }

    /// The bound at the cap for `posts-published`: its ids are kept for 35
    /// days, so the cap is what holds the blob.
    #[test]
    fn a_full_published_state_stays_under_450_kb() {
        let mut big = PostsState {
            location: "ve9EPM428h8vShlRW1KT".into(),
            watermark: 1_795_867_200_000,
            ..PostsState::default()
        };
        for i in 0..MAX_SEEN_POSTS as u64 + 1 {
            big.seen
                .insert(format!("65fac446d599990d{i:08x}"), 1_795_867_200_000 - i * 60_000);
        }
        assert_eq!(evict(&mut big), 1);
        let blob = state::encode_published(&big);
        assert!(blob.len() < 450_000, "{}", blob.len());
        assert!(blob.len() > 400_000, "{}", blob.len());
    }
}
