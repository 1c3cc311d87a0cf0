//! The `new-posts` trigger: the real component against the fake GHL in
//! virtual time. The fake lists posts newest first by `createdAt`, pages
//! them by `skip`/`limit`, and refuses any request the official spec would
//! not accept; each test ends by checking that none was refused.

#![allow(clippy::result_large_err)]

use ghl_rankr_host::clock::Clock;
use ghl_rankr_host::imports::Env;
use ghl_rankr_host::types::{NewPostsReport, NewPostsRequest, Settings, StopReason, SyncError, SyncFailure};
use ghl_rankr_testkit::fakes::ghl::FakePost;
use ghl_rankr_testkit::fakes::world::{FakeWorld, GHL_ORIGIN, RANKR_ORIGIN};
use ghl_rankr_testkit::fakes::{GhlFault, GhlState, RankrState};
use ghl_rankr_testkit::VirtualClock;
use ghl_rankr_tests::engine;
use std::collections::HashSet;
use std::sync::Arc;

const LOC: &str = "loc1";
const PIT: &str = "pit-secret-1";
const KEY: &str = "rk-secret-2";
const T0: u64 = 1_795_867_200_000; // 2026-11-28T12:00Z
const MIN: u64 = 60_000;

/// A location with a few tags and the demo post (created in 2024).
fn world() -> FakeWorld {
    FakeWorld::new(
        GhlState::seeded(PIT, LOC, 10),
        RankrState::new(KEY),
        Arc::new(VirtualClock::starting_at(T0)),
    )
}

fn settings() -> Settings {
    let mut s = ghl_rankr_testkit::settings(GHL_ORIGIN, PIT, RANKR_ORIGIN, KEY);
    s.request_timeout_ms = Some(5_000);
    s
}

fn env(w: &FakeWorld) -> Env {
    Env {
        transport: Arc::new(w.transport()),
        clock: w.clock.clone(),
        tokens: None,
        captured_logs: None,
        progress: None,
    }
}

fn request() -> NewPostsRequest {
    NewPostsRequest {
        location_id: LOC.into(),
        overlap_ms: None,
        backfill_since: None,
        max_posts: None,
    }
}

fn poll_with(w: &FakeWorld, s: &Settings, req: &NewPostsRequest, state: Option<&[u8]>) -> NewPostsReport {
    match try_poll(w, s, req, state) {
        Ok(r) => r,
        Err(f) => panic!("new-posts failed: {:?}", f.error),
    }
}

fn try_poll(
    w: &FakeWorld,
    s: &Settings,
    req: &NewPostsRequest,
    state: Option<&[u8]>,
) -> Result<NewPostsReport, SyncFailure> {
    engine().new_posts(&env(w), s, req, state).expect("no trap")
}

fn poll(w: &FakeWorld, state: Option<&[u8]>) -> NewPostsReport {
    poll_with(w, &settings(), &request(), state)
}

fn add(w: &FakeWorld, id: &str, created_at_ms: u64, tags: &[&str]) {
    w.ghl.lock().unwrap().add_post(FakePost::new(id, created_at_ms, tags));
}

fn ids(r: &NewPostsReport) -> Vec<String> {
    r.posts.iter().map(|p| p.id.clone()).collect()
}

/// The first call (a baseline), then a minute later.
fn baseline(w: &FakeWorld) -> NewPostsReport {
    let base = poll(w, None);
    w.clock.sleep_ms(MIN);
    base
}

/// From the next call's second page on, GHL hangs, again and again.
fn hang_from_the_second_page(w: &FakeWorld) {
    let mut g = w.ghl.lock().unwrap();
    let next = g.api_calls + 2;
    for at in next..next + 10 {
        g.fault_at(at, GhlFault::Hang);
    }
}

/// Every request the fake GHL received matched the official spec.
fn assert_spec_clean(w: &FakeWorld) {
    let g = w.ghl.lock().unwrap();
    assert!(g.refusals.is_empty(), "refused by the spec check: {:?}", g.refusals);
    assert!(g.post_list_calls() > 0);
}

#[test]
fn the_first_call_records_a_baseline_and_emits_nothing() {
    let w = world();
    // Posts that exist before the trigger is set up, some inside the overlap.
    for i in 0..5 {
        add(&w, &format!("old-{i}"), T0 - (i + 1) * 2 * MIN, &["tag00001"]);
    }
    add(&w, "older", T0 - 3 * 24 * 60 * MIN, &[]);
    let first = poll(&w, None);
    assert!(first.baseline);
    assert_eq!(first.posts.len(), 0, "whatever the location already holds");
    assert_eq!(first.fetched, 5, "the window's posts are recorded");
    // Five minutes on, the same posts are still inside the overlap: none
    // of them is new.
    w.clock.sleep_ms(5 * MIN);
    let second = poll(&w, Some(&first.state));
    assert!(!second.baseline);
    assert_eq!(second.posts.len(), 0);
    assert_spec_clean(&w);
}

#[test]
fn three_new_posts_are_emitted_once_oldest_first_with_their_tags() {
    let w = world();
    let base = poll(&w, None);
    w.clock.sleep_ms(5 * MIN);
    let now = w.clock.now_ms();
    add(&w, "p-b", now - 2 * MIN, &["tag00002", "tag00003"]);
    add(&w, "p-a", now - 3 * MIN, &["tag00001"]);
    add(&w, "p-c", now - MIN, &[]);
    let r = poll(&w, Some(&base.state));
    assert_eq!(ids(&r), ["p-a", "p-b", "p-c"]);
    assert_eq!(r.posts[1].tag_ids, ["tag00002", "tag00003"]);
    assert_eq!(r.posts[0].platform.as_deref(), Some("facebook"));
    assert_eq!(r.posts[0].status.as_deref(), Some("published"));
    assert_eq!(r.posts[0].account_id.as_deref(), Some("acc-facebook-1"));
    assert_eq!(r.posts[2].created_at, ghl_rankr_testkit::fakes::ghl::iso(now - MIN));
    assert!(!r.more && r.incomplete.is_none() && r.errors.is_empty());
    w.clock.sleep_ms(5 * MIN);
    let again = poll(&w, Some(&r.state));
    assert_eq!(again.posts.len(), 0, "the next call emits nothing");
    assert_spec_clean(&w);
}

#[test]
fn a_post_back_dated_inside_the_overlap_is_emitted_once() {
    let w = world();
    let base = poll(&w, None);
    w.clock.sleep_ms(5 * MIN);
    let quiet = poll(&w, Some(&base.state));
    assert_eq!(quiet.posts.len(), 0);
    // It shows up now, dated 10 minutes ago: before the last poll.
    let now = w.clock.now_ms();
    add(&w, "late", now - 10 * MIN, &["tag00004"]);
    w.clock.sleep_ms(MIN);
    let r = poll(&w, Some(&quiet.state));
    assert_eq!(ids(&r), ["late"]);
    w.clock.sleep_ms(5 * MIN);
    assert_eq!(poll(&w, Some(&r.state)).posts.len(), 0);
    // Back-dated past the overlap (20 minutes): out of reach, as documented.
    let now = w.clock.now_ms();
    add(&w, "too-late", now - 40 * MIN, &[]);
    let r2 = poll(&w, Some(&r.state));
    assert!(!ids(&r2).contains(&"too-late".to_string()));
    assert_spec_clean(&w);
}

/// 250 new posts: 3 pages of 100.
fn add_250(w: &FakeWorld) -> Vec<String> {
    let now = w.clock.now_ms();
    // Equal timestamps in pairs: the order breaks ties by id.
    let mut want = Vec::new();
    for i in 0..250u64 {
        let id = format!("bulk-{i:03}");
        add(w, &id, now - 10 * MIN + (i / 2) * 1000, &["tag00001"]);
        want.push(id);
    }
    want
}

#[test]
fn two_hundred_fifty_posts_over_three_pages_come_in_order_once() {
    let w = world();
    let base = baseline(&w);
    let want = add_250(&w);
    let calls_before = w.ghl.lock().unwrap().post_list_calls();
    let req = NewPostsRequest {
        max_posts: Some(1000),
        ..request()
    };
    let r = poll_with(&w, &settings(), &req, Some(&base.state));
    assert_eq!(ids(&r), want, "all of them, oldest first");
    assert_eq!(w.ghl.lock().unwrap().post_list_calls() - calls_before, 3, "three pages");
    assert_eq!(poll_with(&w, &settings(), &req, Some(&r.state)).posts.len(), 0);
    assert_spec_clean(&w);
}

#[test]
fn the_cap_per_call_hands_the_rest_to_the_next_calls_in_order() {
    let w = world();
    let base = baseline(&w);
    let want = add_250(&w);
    let mut state = base.state;
    let mut got = Vec::new();
    let mut mores = Vec::new();
    for _ in 0..4 {
        let r = poll(&w, Some(&state));
        got.extend(ids(&r));
        mores.push(r.more);
        state = r.state;
    }
    assert_eq!(mores, [true, true, false, false]);
    assert_eq!(got, want, "100 + 100 + 50, in order, once");
    assert_spec_clean(&w);
}

#[test]
fn backfill_emits_the_older_posts_once() {
    let w = world();
    for d in 0..30u64 {
        add(&w, &format!("day-{d:02}"), T0 - (30 - d) * 24 * 60 * MIN, &[]);
    }
    let req = NewPostsRequest {
        backfill_since: Some("2026-11-14T12:00:00Z".into()), // 14 days before T0
        ..request()
    };
    let r = poll_with(&w, &settings(), &req, None);
    assert!(!r.baseline);
    let want: Vec<String> = (16..30).map(|d| format!("day-{d:02}")).collect();
    assert_eq!(ids(&r), want, "the 14 posts since then, oldest first");
    w.clock.sleep_ms(5 * MIN);
    // The option applies to the first call only.
    let again = poll_with(&w, &settings(), &req, Some(&r.state));
    assert_eq!(again.posts.len(), 0);
    assert_spec_clean(&w);
}

#[test]
fn a_deadline_mid_window_ends_incomplete_and_the_next_call_resumes_without_loss_or_duplicate() {
    let w = world();
    let base = baseline(&w);
    let want: HashSet<String> = add_250(&w).into_iter().collect();
    // The second page hangs, again and again, past the deadline.
    hang_from_the_second_page(&w);
    let mut s = settings();
    s.deadline_ms = Some(12_000);
    let req = NewPostsRequest {
        max_posts: Some(1000),
        ..request()
    };
    let cut = poll_with(&w, &s, &req, Some(&base.state));
    let reason = cut.incomplete.as_ref().map(|i| &i.reason);
    assert!(matches!(reason, Some(StopReason::Deadline)), "{reason:?}");
    assert_eq!(cut.posts.len(), 100, "the page read before the stop");
    {
        let mut g = w.ghl.lock().unwrap();
        g.faults.clear();
    }
    let rest = poll_with(&w, &settings(), &req, Some(&cut.state));
    assert!(rest.incomplete.is_none());
    let mut all: Vec<String> = ids(&cut);
    all.extend(ids(&rest));
    let unique: HashSet<String> = all.iter().cloned().collect();
    assert_eq!(all.len(), 250, "no duplicate");
    assert_eq!(unique, want, "no loss");
    assert_spec_clean(&w);
}

#[test]
fn a_failed_poll_returns_the_state_it_was_given() {
    let w = world();
    let base = baseline(&w);
    add(&w, "p1", w.clock.now_ms() - MIN, &[]);
    {
        let mut g = w.ghl.lock().unwrap();
        let next = g.api_calls + 1;
        g.fault_at(
            next,
            GhlFault::Status {
                status: 404,
                retry_after_secs: None,
            },
        );
    }
    let failure = try_poll(&w, &settings(), &request(), Some(&base.state)).unwrap_err();
    assert!(matches!(failure.error, SyncError::Upstream(_)), "{:?}", failure.error);
    assert_eq!(failure.state.as_deref(), Some(base.state.as_slice()));
    let r = poll(&w, failure.state.as_deref());
    assert_eq!(ids(&r), ["p1"], "emitted by the next call");
}

/// The stated bound (README, "Triggers"): a state remembers at most 10,000
/// ids; in steady polling only those inside the overlap, a few KiB.
#[test]
fn ten_thousand_posts_keep_the_state_small() {
    let w = world();
    let mut state = poll(&w, None).state;
    let mut emitted = 0usize;
    let mut largest = 0usize;
    let mut seen = HashSet::new();
    // One post every 30 seconds for 83 hours, a poll every 10 minutes.
    for tick in 0..500u64 {
        let now = w.clock.now_ms();
        for k in 0..20u64 {
            let id = format!("s{:05}", tick * 20 + k);
            add(&w, &id, now + k * 30_000, &["tag00001"]);
        }
        w.clock.sleep_ms(10 * MIN);
        let r = poll(&w, Some(&state));
        for p in &r.posts {
            assert!(seen.insert(p.id.clone()), "{} emitted twice", p.id);
        }
        emitted += r.posts.len();
        assert_eq!(r.evicted, 0);
        largest = largest.max(r.state.len());
        state = r.state;
    }
    assert_eq!(emitted, 10_000);
    assert!(largest < 4096, "the state reached {largest} bytes");
    println!("10,000 posts in 500 polls: largest state {largest} bytes");
    assert_spec_clean(&w);
}

#[test]
fn bad_requests_are_refused_before_any_call() {
    let w = world();
    for (req, needle) in [
        (
            NewPostsRequest {
                overlap_ms: Some(86_400_001),
                ..request()
            },
            "overlap-ms",
        ),
        (
            NewPostsRequest {
                max_posts: Some(0),
                ..request()
            },
            "max-posts",
        ),
        (
            NewPostsRequest {
                backfill_since: Some("last tuesday".into()),
                ..request()
            },
            "backfill-since",
        ),
        (
            NewPostsRequest {
                backfill_since: Some("2099-01-01".into()),
                ..request()
            },
            "in the past",
        ),
    ] {
        match try_poll(&w, &settings(), &req, None).unwrap_err().error {
            SyncError::InvalidConfig(m) => assert!(m.contains(needle), "{m}"),
            other => panic!("{other:?}"),
        }
    }
    // A tag-sync state is not a trigger state.
    let e = try_poll(
        &w,
        &settings(),
        &request(),
        Some(br#"{"v":1,"kind":"tags","location":"loc1","pass":0,"tags":{}}"#),
    )
    .unwrap_err()
    .error;
    assert!(
        matches!(e, SyncError::InvalidConfig(ref m) if m.contains("new-posts state")),
        "{e:?}"
    );
}

/// Progress reports a host receives through the `progress` import.
#[derive(Default)]
struct Updates(std::sync::Mutex<Vec<(ghl_rankr_host::types::Phase, u64, Option<u64>)>>);

impl ghl_rankr_host::imports::ProgressSink for Updates {
    fn update(&self, u: &ghl_rankr_host::types::ProgressUpdate) {
        self.0.lock().unwrap().push((u.phase, u.done, u.total));
    }
}

#[test]
fn long_work_reports_its_progress_through_the_host() {
    use ghl_rankr_host::types::{Phase, TagSyncEvent};
    let w = FakeWorld::new(
        GhlState::seeded(PIT, LOC, 250),
        RankrState::new(KEY),
        Arc::new(VirtualClock::starting_at(T0)),
    );
    let updates = Arc::new(Updates::default());
    let env = Env {
        progress: Some(updates.clone()),
        ..env(&w)
    };
    let event = TagSyncEvent {
        location_id: LOC.into(),
        post_id: None,
        tag_ids: None,
        full_pass: false,
    };
    let mut s = settings();
    s.max_in_flight = Some(1);
    engine().tag_sync(&env, &s, &event, None).unwrap().unwrap();
    let seen = updates.0.lock().unwrap().clone();
    let reading: Vec<(u64, Option<u64>)> = seen
        .iter()
        .filter(|u| u.0 == Phase::ReadingTags)
        .map(|u| (u.1, u.2))
        .collect();
    assert_eq!(reading, [(100, Some(250)), (200, Some(250)), (250, Some(250))]);
    let written: Vec<u64> = seen.iter().filter(|u| u.0 == Phase::WritingTags).map(|u| u.1).collect();
    assert_eq!(written.last(), Some(&250), "{written:?}");
    assert!(written.windows(2).all(|p| p[0] <= p[1]), "only grows: {written:?}");

    // The trigger reports the posts read, page by page.
    let base = baseline(&w);
    add_250(&w);
    updates.0.lock().unwrap().clear();
    let req = NewPostsRequest {
        max_posts: Some(1000),
        ..request()
    };
    engine()
        .new_posts(&env, &settings(), &req, Some(&base.state))
        .unwrap()
        .unwrap();
    let posts: Vec<u64> = updates
        .0
        .lock()
        .unwrap()
        .iter()
        .filter(|u| u.0 == Phase::ReadingPosts)
        .map(|u| u.1)
        .collect();
    assert_eq!(posts, [100, 200, 250]);
}

#[test]
fn tag_changes_are_listed_by_id_with_a_cap() {
    use ghl_rankr_host::types::{TagDetailsEvent, TagSyncEvent};
    let w = FakeWorld::new(
        GhlState::seeded(PIT, LOC, 1_205),
        RankrState::new(KEY),
        Arc::new(VirtualClock::starting_at(T0)),
    );
    let event = TagSyncEvent {
        location_id: LOC.into(),
        post_id: None,
        tag_ids: None,
        full_pass: false,
    };
    let first = engine().tag_sync(&env(&w), &settings(), &event, None).unwrap().unwrap();
    let c = &first.changed_tags;
    assert_eq!(
        c.created.len() + c.updated.len() + c.archived.len(),
        1_000,
        "listed up to the cap"
    );
    assert_eq!(c.more, 205, "the rest counted");
    assert_eq!(first.created, 1_205);
    // Two renamed, one deleted: exactly those three.
    {
        let mut g = w.ghl.lock().unwrap();
        g.tags[10]["tag"] = serde_json::json!("Renamed ten");
        g.tags[11]["tag"] = serde_json::json!("Renamed eleven");
        g.tags[12]["deleted"] = serde_json::json!(true);
    }
    let second = engine()
        .tag_sync(&env(&w), &settings(), &event, Some(&first.state))
        .unwrap()
        .unwrap();
    let c = &second.changed_tags;
    assert_eq!(c.created, Vec::<String>::new());
    assert_eq!(c.updated, ["tag00010", "tag00011"]);
    assert_eq!(c.archived, ["tag00012"]);
    assert_eq!(c.more, 0);
    // tag-details-push lists what it changed too; an unchanged tag is not.
    w.ghl.lock().unwrap().tags[20]["tag"] = serde_json::json!("Renamed twenty");
    let push = TagDetailsEvent {
        location_id: LOC.into(),
        tag_ids: vec!["tag00020".into(), "tag00021".into()],
    };
    let pushed = engine()
        .tag_details_push(&env(&w), &settings(), &push, Some(&second.state))
        .unwrap()
        .unwrap();
    assert_eq!(pushed.changed_tags.updated, ["tag00020"]);
}

#[test]
fn a_baseline_cut_by_the_deadline_still_emits_nothing_when_resumed() {
    let w = world();
    add_250(&w); // inside the first call's window
    hang_from_the_second_page(&w);
    let mut s = settings();
    s.deadline_ms = Some(12_000);
    let cut = poll_with(&w, &s, &request(), None);
    assert!(cut.baseline && cut.incomplete.is_some());
    assert_eq!(cut.posts.len(), 0);
    w.ghl.lock().unwrap().faults.clear();
    let rest = poll(&w, Some(&cut.state));
    assert!(rest.baseline, "the same baseline, finished");
    assert_eq!(rest.posts.len(), 0, "what existed at the start is never emitted");
    w.clock.sleep_ms(MIN);
    add(&w, "fresh", w.clock.now_ms() - 1000, &[]);
    assert_eq!(ids(&poll(&w, Some(&rest.state))), ["fresh"]);
    assert_spec_clean(&w);
}

/// A backlog of 10,000 posts (a backfill), 1,000 a call: every post once, in
/// order, with the guest's memory and the state bounded.
#[test]
fn a_backlog_of_ten_thousand_posts_drains_in_bounded_memory() {
    let w = world();
    let start = T0 - 9 * 24 * 60 * MIN;
    {
        let mut g = w.ghl.lock().unwrap();
        for i in 0..10_000u64 {
            g.add_post(FakePost::new(
                format!("b{i:05}"),
                start + i * 60_000,
                &["tag00001", "tag00002"],
            ));
        }
    }
    let req = NewPostsRequest {
        backfill_since: Some("2026-11-01".into()),
        max_posts: Some(1000),
        ..request()
    };
    let mut state: Option<Vec<u8>> = None;
    let mut got = Vec::new();
    let (mut peak, mut largest_state) = (0usize, 0usize);
    for _ in 0..12 {
        let (r, stats) = engine()
            .new_posts_with_stats(&env(&w), &settings(), &req, state.as_deref())
            .expect("no trap");
        let r = r.unwrap_or_else(|f| panic!("{:?}", f.error));
        got.extend(ids(&r));
        peak = peak.max(stats.peak_memory_bytes);
        largest_state = largest_state.max(r.state.len());
        state = Some(r.state);
        if !r.more {
            break;
        }
    }
    let want: Vec<String> = (0..10_000).map(|i| format!("b{i:05}")).collect();
    assert_eq!(got, want, "all, in order, once");
    println!("10,000-post backlog: peak guest memory {peak} bytes, largest state {largest_state} bytes");
    assert!(peak <= 16 << 20, "peak guest memory {peak}");
    assert!(largest_state < 450_000, "state {largest_state}");
    assert_spec_clean(&w);
}

#[test]
fn a_spent_daily_budget_stops_the_poll_and_the_next_day_resumes_it() {
    use ghl_rankr_testkit::fakes::RateLimits;
    let w = world();
    let base = baseline(&w);
    let want = add_250(&w);
    let used = w.ghl.lock().unwrap().daily_used;
    w.ghl.lock().unwrap().limits = RateLimits {
        max: 100,
        interval_ms: 10_000,
        daily: used + 2, // two more pages today
    };
    let req = NewPostsRequest {
        max_posts: Some(1000),
        ..request()
    };
    let first = poll_with(&w, &settings(), &req, Some(&base.state));
    let reason = first.incomplete.as_ref().map(|i| &i.reason);
    assert!(matches!(reason, Some(StopReason::RateLimited(_))), "{reason:?}");
    assert_eq!(first.posts.len(), 200);
    {
        let mut g = w.ghl.lock().unwrap();
        g.daily_used = 0; // a new day
        g.limits.daily = 200_000;
    }
    let second = poll_with(&w, &settings(), &req, Some(&first.state));
    assert!(second.incomplete.is_none());
    let mut got: Vec<String> = ids(&first);
    got.extend(ids(&second));
    got.sort();
    assert_eq!(got, want, "every post once");
    assert_spec_clean(&w);
}
