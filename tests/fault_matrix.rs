//! The fault matrix: the real component in wasmtime, against the fake GHL
//! and Rankr in process, in virtual time. Each test plays one fault and then
//! checks the final Rankr state through the fake's ledger: every GHL tag is
//! there as GHL has it (nothing missing), no tag was changed twice and no
//! batch body came under two idempotency keys (nothing duplicated), and the
//! report says what happened.

// `SyncFailure` here is wasmtime's generated binding type, returned as the
// component returns it.
#![allow(clippy::result_large_err)]

use ghl_rankr_host::clock::Clock;
use ghl_rankr_host::imports::{Env, TokenStore};
use ghl_rankr_host::types::{
    Credential, OauthCredential, OauthTokens, Settings, StopReason, SyncError, SyncFailure, SyncReport, TagSyncEvent,
};
use ghl_rankr_testkit::fakes::world::{FakeWorld, GHL_ORIGIN, RANKR_ORIGIN};
use ghl_rankr_testkit::fakes::{GhlFault, GhlState, OAuthServer, RankrFault, RankrState, RateLimits};
use ghl_rankr_testkit::VirtualClock;
use ghl_rankr_tests::engine;
use serde_json::json;
use std::sync::{Arc, Mutex};

const LOC: &str = "loc1";
const PIT: &str = "pit-secret-1";
const KEY: &str = "rk-secret-2";
const T0: u64 = 1_795_867_200_000; // 2026-11-28T12:00Z

/// A location with `n` tags (tag 7 deleted in GHL), 100 a page.
fn world(n: usize) -> FakeWorld {
    FakeWorld::new(
        GhlState::seeded(PIT, LOC, n),
        RankrState::new(KEY),
        Arc::new(VirtualClock::starting_at(T0)),
    )
}

fn settings() -> Settings {
    let mut s = ghl_rankr_testkit::settings(GHL_ORIGIN, PIT, RANKR_ORIGIN, KEY);
    s.request_timeout_ms = Some(5_000);
    s
}

/// Rotated pairs the host was asked to store.
#[derive(Default)]
struct Captured(Mutex<Vec<OauthTokens>>);

impl TokenStore for Captured {
    fn store(&self, t: &OauthTokens) -> Result<(), String> {
        self.0.lock().unwrap().push(t.clone());
        Ok(())
    }
}

fn env(w: &FakeWorld, tokens: Option<Arc<Captured>>) -> Env {
    Env {
        transport: Arc::new(w.transport()),
        clock: w.clock.clone(),
        tokens: tokens.map(|t| t as Arc<dyn TokenStore>),
        captured_logs: None,
        progress: None,
    }
}

fn sync(w: &FakeWorld, s: &Settings, state: Option<&[u8]>) -> Result<SyncReport, SyncFailure> {
    sync_post(w, s, state, None)
}

fn sync_post(w: &FakeWorld, s: &Settings, state: Option<&[u8]>, post: Option<&str>) -> Result<SyncReport, SyncFailure> {
    let event = TagSyncEvent {
        location_id: LOC.into(),
        post_id: post.map(str::to_string),
        tag_ids: None,
        full_pass: false,
    };
    engine().tag_sync(&env(w, None), s, &event, state).expect("no trap")
}

/// Nothing missing: every GHL tag is in Rankr with GHL's name and deleted
/// flag. Nothing duplicated: no tag changed twice, no body under two keys.
fn assert_ledger_exact(w: &FakeWorld) {
    let g = w.ghl.lock().unwrap();
    let r = w.rankr.lock().unwrap();
    for t in &g.tags {
        let id = t["_id"].as_str().unwrap();
        let stored = r
            .tags
            .get(&("ghl".to_string(), LOC.to_string(), id.to_string()))
            .unwrap_or_else(|| panic!("tag {id} is missing from Rankr"));
        assert_eq!(stored.input["name"], json!(t["tag"].as_str().unwrap().trim()), "{id}");
        assert_eq!(stored.input["archived"], t["deleted"], "{id}");
    }
    assert!(r.applied_twice().is_empty(), "changed twice: {:?}", r.applied_twice());
    assert_eq!(r.bodies_with_several_keys(), 0, "a retried write came under a new key");
}

fn ghl_fault(w: &FakeWorld, at: u32, f: GhlFault) {
    w.ghl.lock().unwrap().fault_at(at, f);
}

fn rankr_fault(w: &FakeWorld, at: u32, f: RankrFault) {
    w.rankr.lock().unwrap().fault_at(at, f);
}

fn ok(r: Result<SyncReport, SyncFailure>) -> SyncReport {
    match r {
        Ok(r) => r,
        Err(f) => panic!("sync failed: {:?}", f.error),
    }
}

// ---- GHL faults ----------------------------------------------------------

#[test]
fn ghl_429_with_retry_after_is_waited_out() {
    let w = world(250);
    ghl_fault(
        &w,
        2,
        GhlFault::Status {
            status: 429,
            retry_after_secs: Some(7),
        },
    );
    let r = ok(sync(&w, &settings(), None));
    assert_eq!((r.fetched, r.retries), (250, 1));
    assert!(
        w.clock.slept_ms() >= 7_000,
        "Retry-After honoured: {}",
        w.clock.slept_ms()
    );
    assert_ledger_exact(&w);
}

#[test]
fn ghl_remaining_zero_paces_the_next_call_instead_of_meeting_429() {
    let w = world(250);
    ghl_fault(&w, 1, GhlFault::RemainingZero);
    let r = ok(sync(&w, &settings(), None));
    assert_eq!(r.retries, 0);
    assert_eq!(w.ghl.lock().unwrap().rate_limited, 0);
    assert!(
        w.clock.slept_ms() >= 10_000,
        "waited for the window: {}",
        w.clock.slept_ms()
    );
    assert_ledger_exact(&w);
}

#[test]
fn ghl_bursts_of_502_and_503_are_retried() {
    let w = world(250);
    for (at, status) in [(2, 502), (3, 503), (4, 502), (6, 503), (7, 503)] {
        ghl_fault(
            &w,
            at,
            GhlFault::Status {
                status,
                retry_after_secs: None,
            },
        );
    }
    let r = ok(sync(&w, &settings(), None));
    assert_eq!(r.retries, 5);
    assert_ledger_exact(&w);
}

#[test]
fn ghl_hang_hits_the_timeout_and_is_retried() {
    let w = world(250);
    ghl_fault(&w, 2, GhlFault::Hang);
    let r = ok(sync(&w, &settings(), None));
    assert_eq!(r.retries, 1);
    assert!(w.clock.slept_ms() >= 5_000, "the hang cost the timeout");
    assert_ledger_exact(&w);
}

#[test]
fn ghl_reset_mid_body_truncated_and_malformed_bodies_are_retried() {
    for fault in [GhlFault::Reset, GhlFault::Truncate, GhlFault::MalformedJson] {
        let w = world(250);
        ghl_fault(&w, 2, fault.clone());
        ghl_fault(&w, 3, fault.clone());
        let r = ok(sync(&w, &settings(), None));
        assert_eq!(r.retries, 2, "{fault:?}");
        assert_eq!(r.rejected, 0, "{fault:?}");
        assert_ledger_exact(&w);
    }
}

#[test]
fn ghl_wrong_types_or_missing_id_are_item_errors_and_the_next_run_catches_up() {
    let w = world(250);
    ghl_fault(&w, 1, GhlFault::WrongTypes);
    ghl_fault(&w, 2, GhlFault::MissingId);
    let first = ok(sync(&w, &settings(), None));
    assert_eq!(first.rejected, 2);
    let items: Vec<&str> = first.errors.iter().map(|e| e.item.as_str()).collect();
    assert_eq!(items, vec!["tag00000", "results.tags[0]"]);
    assert_eq!(first.created, 248);
    // The next run (the glitch gone) writes exactly the two it could not.
    let second = ok(sync(&w, &settings(), Some(&first.state)));
    assert_eq!((second.created, second.skipped), (2, 248));
    assert_ledger_exact(&w);
}

#[test]
fn ghl_serving_the_same_page_twice_is_read_again() {
    let w = world(250);
    ghl_fault(&w, 2, GhlFault::SamePageAgain);
    let r = ok(sync(&w, &settings(), None));
    assert_eq!((r.fetched, r.created), (250, 250));
    assert_ledger_exact(&w);
}

// ---- token faults --------------------------------------------------------

fn oauth_world(n: usize, ttl_secs: u64) -> (FakeWorld, Settings) {
    let w = world(n);
    w.ghl.lock().unwrap().oauth = Some(OAuthServer::new(
        "app-1",
        "app-secret-1",
        "refresh-0",
        "access-0",
        T0,
        ttl_secs,
    ));
    let mut s = settings();
    s.ghl_credential = Credential::Oauth(OauthCredential {
        tokens: OauthTokens {
            access_token: "access-0".into(),
            refresh_token: "refresh-0".into(),
            expires_at_ms: Some(T0 + ttl_secs * 1000),
            scopes: vec![
                "socialplanner/tag.readonly".into(),
                "socialplanner/post.readonly".into(),
            ],
        },
        client_id: "app-1".into(),
        client_secret: "app-secret-1".into(),
    });
    (w, s)
}

fn sync_oauth(w: &FakeWorld, s: &Settings, store: &Arc<Captured>) -> Result<SyncReport, SyncFailure> {
    let event = TagSyncEvent {
        location_id: LOC.into(),
        post_id: None,
        tag_ids: None,
        full_pass: false,
    };
    engine()
        .tag_sync(&env(w, Some(store.clone())), s, &event, None)
        .expect("no trap")
}

#[test]
fn a_401_refreshes_once_stores_the_pair_first_and_replays() {
    let (w, s) = oauth_world(250, 86_399);
    ghl_fault(&w, 2, GhlFault::ExpireToken);
    let store = Arc::new(Captured::default());
    let r = ok(sync_oauth(&w, &s, &store));
    let stored = store.0.lock().unwrap().clone();
    assert_eq!(stored.len(), 1, "stored before use");
    let rotated = r.rotated_tokens.expect("the report carries the new pair");
    assert_eq!(rotated.refresh_token, stored[0].refresh_token);
    let g = w.ghl.lock().unwrap();
    let o = g.oauth.as_ref().unwrap();
    assert_eq!(o.refreshes, 1);
    assert!(o.spent_reused.is_empty(), "a spent refresh token was sent again");
    assert!(o.refusals.is_empty(), "refresh not per spec: {:?}", o.refusals);
    assert_eq!(o.refresh_token, rotated.refresh_token);
    drop(g);
    assert_ledger_exact(&w);
}

#[test]
fn a_refused_refresh_ends_in_reauthorization_required_not_a_loop() {
    let (w, s) = oauth_world(250, 86_399);
    ghl_fault(&w, 2, GhlFault::ExpireToken);
    w.ghl.lock().unwrap().oauth.as_mut().unwrap().refuse = true;
    let store = Arc::new(Captured::default());
    let f = sync_oauth(&w, &s, &store).unwrap_err();
    let SyncError::ReauthorizationRequired(u) = &f.error else {
        panic!("{:?}", f.error)
    };
    assert_eq!((u.status, u.endpoint.as_str()), (401, "POST /oauth/token"));
    let refresh_calls = w
        .ghl
        .lock()
        .unwrap()
        .requests
        .iter()
        .filter(|r| r.url == "/oauth/token")
        .count();
    assert_eq!(refresh_calls, 1);
    assert!(store.0.lock().unwrap().is_empty());
    // The state says what was written before: page 1.
    let state = f.state.expect("state on failure");
    let written = serde_json::from_slice::<serde_json::Value>(&state).unwrap()["tags"]
        .as_object()
        .unwrap()
        .values()
        .filter(|e| !e["h"].as_str().unwrap().is_empty())
        .count();
    assert_eq!(written, 100);
}

#[test]
fn a_token_expiring_mid_sync_is_refreshed_ahead_without_a_401() {
    // 30 pages at 10 a page under 5 calls per 10 s take about a minute; the
    // access token lives 90 s and is refreshed 60 s ahead of its expiry.
    let (w, mut s) = oauth_world(300, 90);
    {
        let mut g = w.ghl.lock().unwrap();
        g.limits = RateLimits::burst(5, 10_000);
    }
    s.page_size = Some(10);
    let store = Arc::new(Captured::default());
    let r = ok(sync_oauth(&w, &s, &store));
    let g = w.ghl.lock().unwrap();
    let o = g.oauth.as_ref().unwrap();
    assert!(o.refreshes >= 1, "refreshed ahead");
    assert!(o.spent_reused.is_empty());
    assert_eq!(r.retries, 0, "no 401 was met");
    assert_eq!(g.rate_limited, 0);
    assert_eq!(store.0.lock().unwrap().len() as u32, o.refreshes);
    drop(g);
    assert_ledger_exact(&w);
}

#[test]
fn a_missing_scope_fails_before_any_request() {
    let (w, mut s) = oauth_world(10, 86_399);
    if let Credential::Oauth(c) = &mut s.ghl_credential {
        c.tokens.scopes = vec!["socialplanner/post.readonly".into()];
    }
    let f = sync(&w, &s, None).unwrap_err();
    let SyncError::MissingScope(m) = &f.error else {
        panic!("{:?}", f.error)
    };
    assert_eq!(m.scope, "socialplanner/tag.readonly");
    assert!(w.ghl.lock().unwrap().requests.is_empty());
}

// ---- Rankr faults --------------------------------------------------------

#[test]
fn rankr_503_with_retry_after_is_waited_out_under_the_same_key() {
    let w = world(250);
    rankr_fault(
        &w,
        2,
        RankrFault::Status {
            status: 503,
            retry_after_secs: Some(3),
        },
    );
    let r = ok(sync(&w, &settings(), None));
    assert_eq!(r.retries, 1);
    assert!(w.clock.slept_ms() >= 3_000);
    assert_ledger_exact(&w);
}

#[test]
fn rankr_500_after_commit_is_replayed_not_duplicated() {
    for fault in [RankrFault::ErrorAfterCommit, RankrFault::LostAfterCommit] {
        let w = world(250);
        rankr_fault(&w, 2, fault.clone());
        let r = ok(sync(&w, &settings(), None));
        assert_eq!((r.created, r.retries), (250, 1), "{fault:?}");
        let rk = w.rankr.lock().unwrap();
        assert_eq!(rk.ledger.iter().filter(|l| l.replayed).count(), 1, "{fault:?}");
        drop(rk);
        assert_ledger_exact(&w);
    }
}

#[test]
fn rankr_409_fails_the_sync_and_the_state_lets_the_next_run_redo_only_the_rest() {
    let w = world(250);
    rankr_fault(&w, 2, RankrFault::Conflict);
    let f = sync(&w, &settings(), None).unwrap_err();
    assert!(
        matches!(&f.error, SyncError::Upstream(u) if u.status == 409),
        "{:?}",
        f.error
    );
    // Batches 2 and 3 went together: 3 is written, 2 (the 409) is not retried.
    assert_eq!(w.rankr.lock().unwrap().batch_posts, 3, "409 is not retried");
    // It resumes at the checkpoint: page 1 is not even read again, and
    // batch 3's tags, confirmed, are not written again.
    let r = ok(sync(&w, &settings(), f.state.as_deref()));
    assert_eq!((r.fetched, r.created, r.skipped), (150, 100, 50));
    assert_ledger_exact(&w);
}

#[test]
fn per_item_rejections_are_reported_and_retried_next_run() {
    let w = world(250);
    w.rankr.lock().unwrap().reject_names_containing = vec!["Webinar".into()];
    let first = ok(sync(&w, &settings(), None));
    assert_eq!((first.created, first.rejected), (200, 50));
    assert!(first.errors.iter().all(|e| e.message.contains("not allowed")));
    w.rankr.lock().unwrap().reject_names_containing.clear();
    let second = ok(sync(&w, &settings(), Some(&first.state)));
    assert_eq!((second.created, second.skipped), (50, 200));
    assert_ledger_exact(&w);
}

#[test]
fn a_crash_between_the_write_and_the_state_save_duplicates_nothing() {
    let w = world(250);
    let first = ok(sync(&w, &settings(), None));
    assert_eq!(first.created, 250);
    // The host died before saving `first.state`: the next run starts from
    // the old (empty) state and sends the same batches under the same keys,
    // so Rankr replays its first answers and applies nothing again.
    let second = ok(sync(&w, &settings(), None));
    assert_eq!((second.created, second.updated, second.unchanged), (250, 0, 0));
    let rk = w.rankr.lock().unwrap();
    assert_eq!(rk.tags.len(), 250);
    assert!(rk.applied_twice().is_empty());
    let replays = rk.ledger.iter().filter(|e| e.replayed).count();
    assert_eq!(replays, 3, "every batch of the rerun is a replay");
    assert!(
        rk.keys_by_body.values().all(|keys| keys.len() == 1),
        "no body under a second key"
    );
}

#[test]
fn a_batch_that_fails_after_its_retries_leaves_a_state_of_exactly_what_was_written() {
    let w = world(250);
    // Batches 2 and 3 go together (posts 2 and 3); batch 2's four retries
    // (posts 4..=7) fail too, and batch 3's answer is then not retried.
    for at in 2..=7 {
        rankr_fault(
            &w,
            at,
            RankrFault::Status {
                status: 503,
                retry_after_secs: Some(1),
            },
        );
    }
    let f = sync(&w, &settings(), None).unwrap_err();
    assert!(
        matches!(&f.error, SyncError::Upstream(u) if u.status == 503),
        "{:?}",
        f.error
    );
    let r = ok(sync(&w, &settings(), f.state.as_deref()));
    assert_eq!((r.fetched, r.created, r.skipped), (150, 150, 0));
    assert_ledger_exact(&w);
}

// ---- incremental state ---------------------------------------------------

#[test]
fn a_rerun_with_the_state_writes_nothing_and_changes_write_only_themselves() {
    let w = world(250);
    let first = ok(sync(&w, &settings(), None));
    let posts = w.rankr.lock().unwrap().batch_posts;
    let second = ok(sync(&w, &settings(), Some(&first.state)));
    assert_eq!(w.rankr.lock().unwrap().batch_posts, posts, "the rerun wrote to Rankr");
    assert_eq!((second.skipped, second.created, second.requests), (250, 0, 3));

    // One tag renamed, one gone from GHL.
    {
        let mut g = w.ghl.lock().unwrap();
        g.tags[10]["tag"] = json!("Renamed");
        g.tags.retain(|t| t["_id"] != "tag00020");
    }
    let third = ok(sync(&w, &settings(), Some(&second.state)));
    assert_eq!((third.updated, third.archived, third.skipped), (2, 1, 248));
    let rk = w.rankr.lock().unwrap();
    let gone = &rk.tags[&("ghl".to_string(), LOC.to_string(), "tag00020".to_string())];
    assert_eq!(gone.input["archived"], json!(true));
    assert_eq!(
        gone.input["name"],
        json!("Summer Sale 20"),
        "archived from Rankr's own record"
    );
    drop(rk);
    let state: serde_json::Value = serde_json::from_slice(&third.state).unwrap();
    assert!(
        state["tags"].get("tag00020").is_none(),
        "an archived tag leaves the state"
    );
    // And a full refresh writes everything again.
    let mut s = settings();
    s.full_refresh = true;
    let full = ok(sync(&w, &s, Some(&third.state)));
    assert_eq!((full.unchanged, full.skipped), (249, 0));
}

#[test]
fn archiving_can_be_switched_off_and_a_tag_missed_by_paging_is_not_archived() {
    let w = world(250);
    let first = ok(sync(&w, &settings(), None));
    w.ghl.lock().unwrap().tags.retain(|t| t["_id"] != "tag00030");
    let mut s = settings();
    s.archive_missing = false;
    let r = ok(sync(&w, &s, Some(&first.state)));
    assert_eq!(r.archived, 0);
    // A tag the pages skipped but GHL still has (found by id) is kept.
    let w = world(250);
    let first = ok(sync(&w, &settings(), None));
    ghl_fault(&w, 3 + 2, GhlFault::MissingId); // page 2 of the rerun: tag00100 unreadable
    let r = ok(sync(&w, &settings(), Some(&first.state)));
    assert_eq!(r.archived, 0, "{:?}", r.errors);
    let rk = w.rankr.lock().unwrap();
    assert_eq!(
        rk.tags[&("ghl".to_string(), LOC.to_string(), "tag00100".to_string())].input["archived"],
        json!(false)
    );
}

// ---- resumable -----------------------------------------------------------

#[test]
fn a_deadline_mid_sync_returns_a_checkpoint_and_the_next_calls_resume_there() {
    let w = world(600);
    w.ghl.lock().unwrap().limits = RateLimits::burst(2, 10_000);
    let mut s = settings();
    s.deadline_ms = Some(25_000);
    s.page_size = Some(50);
    let mut state: Option<Vec<u8>> = None;
    let mut calls = 0;
    let mut created = 0;
    loop {
        calls += 1;
        let r = ok(sync_post(&w, &s, state.as_deref(), Some("65fac446d599990d1313c1dd")));
        created += r.created;
        state = Some(r.state.clone());
        match r.incomplete {
            Some(i) => {
                assert!(matches!(i.reason, StopReason::Deadline));
                assert!(r.post_tags_applied.is_none(), "post tags wait for the whole pass");
            }
            None => {
                assert_eq!(r.post_tags_applied, Some(3));
                break;
            }
        }
        assert!(calls < 20, "no progress");
    }
    assert!(calls > 2, "the deadline did cut the sync: {calls} calls");
    assert_eq!(created, 600, "each tag written once across the calls");
    assert_eq!(w.ghl.lock().unwrap().rate_limited, 0);
    assert_ledger_exact(&w);
}

#[test]
fn a_spent_daily_budget_stops_with_rate_limited_and_resumes_the_next_day() {
    let w = world(500);
    w.ghl.lock().unwrap().limits = RateLimits {
        max: 100,
        interval_ms: 10_000,
        daily: 3,
    };
    let first = ok(sync(&w, &settings(), None));
    let Some(i) = &first.incomplete else {
        panic!("complete?")
    };
    let StopReason::RateLimited(rl) = &i.reason else {
        panic!("{:?}", i.reason)
    };
    assert!(rl.message.contains("daily"), "{}", rl.message);
    assert_eq!(first.created, 300);
    assert_eq!(w.ghl.lock().unwrap().rate_limited, 0, "stopped before meeting a 429");
    {
        let mut g = w.ghl.lock().unwrap();
        g.daily_used = 0; // a new day
        g.limits.daily = 200_000;
    }
    let second = ok(sync(&w, &settings(), Some(&first.state)));
    assert!(second.incomplete.is_none());
    assert_eq!(second.created, 200);
    assert_ledger_exact(&w);
}

// ---- simulation ----------------------------------------------------------

#[test]
fn twenty_thousand_tags_under_100_per_10s_meet_no_429_and_stay_near_the_minimum_time() {
    let w = world(20_000);
    let r = ok(sync(&w, &settings(), None));
    assert_eq!((r.fetched, r.created), (20_000, 20_000));
    let g = w.ghl.lock().unwrap();
    assert_eq!(g.rate_limited, 0, "429s met");
    let calls = g.api_calls as u64;
    assert_eq!(calls, 200);
    // The limit-bound minimum: the first 100 calls at once, then 100 per 10 s.
    let minimum_ms = (calls.div_ceil(100) - 1) * 10_000;
    let took = w.clock.now_ms() - T0;
    assert!(
        took as f64 <= minimum_ms as f64 * 1.10,
        "took {took} ms, minimum {minimum_ms} ms"
    );
    eprintln!("20k tags: {calls} GHL calls, {took} ms virtual (minimum {minimum_ms} ms), 0 x 429");
    drop(g);
    assert_ledger_exact(&w);
}

// ---- The post path -------------------------------------------------------
//
// `tag-sync` with the post's tag ids reads those tags by id, not every
// page. Each fault above that can meet it is played on it too; every case
// ends with the post's tags in Rankr as GHL has them, its tag set applied,
// and nothing written twice.

const POST: &str = "post-1";
const POST_TAGS: [&str; 3] = ["tag00001", "tag00002", "tag00003"];

fn post_path(
    w: &FakeWorld,
    s: &Settings,
    state: Option<&[u8]>,
    tokens: Option<Arc<Captured>>,
) -> Result<SyncReport, SyncFailure> {
    let event = TagSyncEvent {
        location_id: LOC.into(),
        post_id: Some(POST.into()),
        tag_ids: Some(POST_TAGS.iter().map(|t| t.to_string()).collect()),
        full_pass: false,
    };
    engine().tag_sync(&env(w, tokens), s, &event, state).expect("no trap")
}

/// A retried write keeps its key: no body came under two. A call from the
/// same state sends a body again under the same key (Rankr replays it); a
/// call from a later state has other keys, and Rankr holds its bodies
/// unchanged, which `applied_twice` checks.
fn assert_one_key_per_body(w: &FakeWorld) {
    assert_eq!(
        w.rankr.lock().unwrap().bodies_with_several_keys(),
        0,
        "a retried write came under a new key"
    );
}

/// The post's tags are in Rankr as GHL has them, its tag set is applied,
/// and no tag changed twice.
fn assert_post_exact(w: &FakeWorld) {
    let g = w.ghl.lock().unwrap();
    let r = w.rankr.lock().unwrap();
    for id in POST_TAGS {
        let t = g.tags.iter().find(|t| t["_id"] == id).unwrap();
        let stored = r
            .tags
            .get(&("ghl".to_string(), LOC.to_string(), id.to_string()))
            .unwrap_or_else(|| panic!("tag {id} is missing from Rankr"));
        assert_eq!(stored.input["name"], json!(t["tag"].as_str().unwrap().trim()), "{id}");
    }
    assert_eq!(
        r.post_tags.get(POST).map(Vec::as_slice),
        Some(&POST_TAGS.map(String::from)[..])
    );
    assert!(r.applied_twice().is_empty(), "changed twice: {:?}", r.applied_twice());
    assert!(g.refusals.is_empty(), "{:?}", g.refusals);
}

/// GHL reads and Rankr writes since `(reads, writes)` were taken.
fn since(w: &FakeWorld, (reads, writes): (usize, usize)) -> (usize, usize) {
    let g = w.ghl.lock().unwrap().requests.len();
    let r = w.rankr.lock().unwrap().ledger.len();
    (g - reads, r - writes)
}

#[test]
fn on_50_000_tags_a_post_costs_one_read_on_the_post_path_and_500_on_the_full_path() {
    // The post path.
    let w = world(50_000);
    let r = ok(post_path(&w, &settings(), None, None));
    let post_path_cost = since(&w, (0, 0));
    assert_eq!(
        post_path_cost,
        (1, 2),
        "one tags/details read; one batch and the post's tag set"
    );
    assert_eq!((r.fetched, r.created, r.post_tags_applied), (3, 3, Some(3)));
    assert_post_exact(&w);
    assert_one_key_per_body(&w);
    // The same post on the full path, next: it reads every page and writes
    // the location's other tags, but none of the post's three (the state is
    // shared), and its tag set is already applied.
    let event = TagSyncEvent {
        location_id: LOC.into(),
        post_id: Some(POST.into()),
        tag_ids: Some(POST_TAGS.iter().map(|t| t.to_string()).collect()),
        full_pass: true,
    };
    let full = engine()
        .tag_sync(&env(&w, None), &settings(), &event, Some(&r.state))
        .expect("no trap");
    let full = ok(full);
    let full_path_cost = since(&w, post_path_cost);
    assert_eq!(full_path_cost.0, 500, "every page");
    assert_eq!(full.skipped, 3);
    assert_eq!(full.post_tags_applied, Some(3));
    {
        let rk = w.rankr.lock().unwrap();
        for id in POST_TAGS {
            assert_eq!(rk.applied[&(LOC.to_string(), id.to_string())], 1, "{id} written once");
        }
        assert_eq!(
            rk.ledger.iter().filter(|e| e.method == "PUT").count(),
            1,
            "the tag set is applied once"
        );
    }
    assert_ledger_exact(&w);
    eprintln!(
        "a post with 3 tags on a location of 50,000: post path {} GHL request, {} Rankr writes; full path {} GHL requests, {} Rankr writes (the other 49,997 tags, then nothing for the post)",
        post_path_cost.0, post_path_cost.1, full_path_cost.0, full_path_cost.1
    );
}

#[test]
fn the_post_path_recovers_from_each_transient_fault_in_one_call() {
    let status = |status, retry_after_secs| GhlFault::Status {
        status,
        retry_after_secs,
    };
    let ghl: [(&str, GhlFault); 8] = [
        ("429 with Retry-After", status(429, Some(2))),
        ("502", status(502, None)),
        ("503", status(503, None)),
        ("a hang past the timeout", GhlFault::Hang),
        ("a reset mid-body", GhlFault::Reset),
        ("a truncated body", GhlFault::Truncate),
        ("a body that is not JSON", GhlFault::MalformedJson),
        ("remaining 0", GhlFault::RemainingZero),
    ];
    for (name, fault) in ghl {
        let w = world(250);
        w.ghl.lock().unwrap().hang = std::time::Duration::from_secs(10);
        ghl_fault(&w, 1, fault);
        let r = post_path(&w, &settings(), None, None).unwrap_or_else(|f| panic!("GHL {name}: {:?}", f.error));
        assert_eq!(r.post_tags_applied, Some(3), "GHL {name}");
        assert_post_exact(&w);
        assert_one_key_per_body(&w);
    }
    let rankr: [(&str, RankrFault); 3] = [
        (
            "503 with Retry-After",
            RankrFault::Status {
                status: 503,
                retry_after_secs: Some(1),
            },
        ),
        ("500 after the commit", RankrFault::ErrorAfterCommit),
        ("the answer lost after the commit", RankrFault::LostAfterCommit),
    ];
    for (name, fault) in rankr {
        let w = world(250);
        rankr_fault(&w, 1, fault);
        let r = post_path(&w, &settings(), None, None).unwrap_or_else(|f| panic!("Rankr {name}: {:?}", f.error));
        assert_eq!(r.post_tags_applied, Some(3), "Rankr {name}");
        assert_post_exact(&w);
        assert_one_key_per_body(&w);
    }
}

#[test]
fn the_post_path_after_a_bad_item_a_409_or_a_crash_ends_exact_on_the_next_run() {
    // A tag GHL sends with the wrong types, or without its id: an item
    // error, not applied (without its id, the post's tag also counts as not
    // returned); the next run writes it and applies the whole set.
    for (fault, errors) in [(GhlFault::WrongTypes, 1), (GhlFault::MissingId, 2)] {
        let w = world(250);
        ghl_fault(&w, 1, fault.clone());
        let first = ok(post_path(&w, &settings(), None, None));
        assert_eq!(first.errors.len(), errors, "{fault:?}: {:?}", first.errors);
        assert_eq!(first.post_tags_applied, Some(2), "{fault:?}");
        let second = ok(post_path(&w, &settings(), Some(&first.state), None));
        assert_eq!((second.created, second.skipped), (1, 2), "{fault:?}");
        assert_post_exact(&w);
    }
    // A 409 on the batch fails the call; its state lets the next run redo it.
    let w = world(250);
    rankr_fault(&w, 1, RankrFault::Conflict);
    let f = post_path(&w, &settings(), None, None).unwrap_err();
    assert!(
        matches!(&f.error, SyncError::Upstream(u) if u.status == 409),
        "{:?}",
        f.error
    );
    assert!(
        w.rankr.lock().unwrap().post_tags.is_empty(),
        "not applied before its tags are written"
    );
    ok(post_path(&w, &settings(), f.state.as_deref(), None));
    assert_post_exact(&w);
    // The host died before saving the state: the rerun sends the same
    // batch under the same key, and Rankr replays its first answer.
    let w = world(250);
    ok(post_path(&w, &settings(), None, None));
    let again = ok(post_path(&w, &settings(), None, None));
    assert_eq!((again.created, again.unchanged), (3, 0));
    assert!(w.rankr.lock().unwrap().ledger.iter().any(|e| e.replayed));
    assert_post_exact(&w);
}

#[test]
fn the_post_path_refreshes_oauth_once_and_stops_on_a_refused_refresh_or_a_missing_scope() {
    let (w, s) = oauth_world(250, 86_399);
    ghl_fault(&w, 1, GhlFault::ExpireToken);
    let store = Arc::new(Captured::default());
    ok(post_path(&w, &s, None, Some(store.clone())));
    assert_eq!(store.0.lock().unwrap().len(), 1, "the rotated pair was stored");
    assert!(w.ghl.lock().unwrap().oauth.as_ref().unwrap().spent_reused.is_empty());
    assert_post_exact(&w);

    let (w, s) = oauth_world(250, 86_399);
    ghl_fault(&w, 1, GhlFault::ExpireToken);
    w.ghl.lock().unwrap().oauth.as_mut().unwrap().refuse = true;
    let f = post_path(&w, &s, None, Some(Arc::new(Captured::default()))).unwrap_err();
    assert!(
        matches!(f.error, SyncError::ReauthorizationRequired(_)),
        "{:?}",
        f.error
    );
    assert!(w.rankr.lock().unwrap().ledger.is_empty());

    let (w, mut s) = oauth_world(250, 86_399);
    if let Credential::Oauth(o) = &mut s.ghl_credential {
        o.tokens.scopes = vec!["socialplanner/post.readonly".into()];
    }
    let f = post_path(&w, &s, None, None).unwrap_err();
    assert!(
        matches!(&f.error, SyncError::MissingScope(m) if m.scope == "socialplanner/tag.readonly"),
        "{:?}",
        f.error
    );
    assert!(w.ghl.lock().unwrap().requests.is_empty());
}

#[test]
fn a_post_naming_a_deleted_tag_gets_one_item_error_and_its_other_tags() {
    // GHL returns a deleted tag flagged `deleted` (tag 7 of the fake), or
    // not at all (an id it no longer has).
    for (gone, why) in [
        ("tag00007", "deleted in GHL"),
        ("tag99999", "GHL returned no tag with this id"),
    ] {
        let w = world(50);
        let event = TagSyncEvent {
            location_id: LOC.into(),
            post_id: Some(POST.into()),
            tag_ids: Some(vec!["tag00001".into(), gone.into(), "tag00002".into()]),
            full_pass: false,
        };
        let r = ok(engine()
            .tag_sync(&env(&w, None), &settings(), &event, None)
            .expect("no trap"));
        assert_eq!(r.errors.len(), 1, "{gone}: {:?}", r.errors);
        assert_eq!(r.errors[0].item, gone);
        assert!(r.errors[0].message.contains(why), "{:?}", r.errors[0]);
        assert_eq!(r.post_tags_applied, Some(2));
        assert_eq!(w.ghl.lock().unwrap().requests.len(), 1);
        let rk = w.rankr.lock().unwrap();
        assert_eq!(rk.post_tags[POST], ["tag00001", "tag00002"], "{gone} is not applied");
    }
}

// ---- TLS -----------------------------------------------------------------

#[test]
fn a_refused_certificate_crosses_the_wit_as_tls_and_is_final() {
    use ghl_rankr_host::http::TransportError;
    let problem = "ghl.fake:443: its certificate is signed by an issuer this machine does not trust (unknown issuer)";
    let (env, transport, clock) = ghl_rankr_tests::scripted(move |_| Err(TransportError::Tls(problem.into())));
    let event = TagSyncEvent {
        location_id: LOC.into(),
        post_id: None,
        tag_ids: None,
        full_pass: false,
    };
    let failure = engine()
        .tag_sync(&env, &settings(), &event, None)
        .expect("no trap")
        .expect_err("the sync fails");
    match &failure.error {
        SyncError::Transport(t) => {
            assert!(t.message.contains(problem), "{}", t.message);
            assert!(t.message.contains("not retried"), "{}", t.message);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(transport.requests().len(), 1, "one attempt");
    assert_eq!(clock.slept_ms(), 0, "no backoff");
}
