//! `posts-published` over the scripted host: a GHL that lists the posts
//! whose `publishedAt` lies in the window asked, newest first, paged.

use super::*;
use crate::instant;
use crate::io::{Method, Request, Response, TransportError};
use crate::report::Service;
use crate::secret::{OAuthTokens, Secret};
use crate::state;
use crate::testing::{json, path, ScriptedHost};
use serde_json::{json as j, Value};
use std::cell::RefCell;
use std::rc::Rc;

const MINUTE: u64 = 60_000;
const DAY: u64 = 24 * 60 * MINUTE;

fn settings() -> SettingsInput {
    SettingsInput {
        ghl_base_url: "https://ghl.test".into(),
        ghl_credential: crate::auth::Credential::ApiKey(Secret::new("ghl-token-xyz")),
        rankr_base_url: "https://rankr.test".into(),
        rankr_api_key: Secret::new("rankr-key-xyz"),
        ..Default::default()
    }
}

/// A post as GHL lists it.
#[derive(Clone)]
struct Post {
    id: String,
    status: Option<&'static str>,
    published_at: Option<u64>,
    accounts: Vec<&'static str>,
    /// `accountId`, listed without `accountIds` when set.
    account_id: Option<&'static str>,
    /// Listed whatever the window (a server filtering on another date).
    always_listed: bool,
    tags: Vec<&'static str>,
}

fn live(id: &str, published_at: u64) -> Post {
    Post {
        id: id.into(),
        status: Some("published"),
        published_at: Some(published_at),
        accounts: vec!["loc_acc-1"],
        account_id: None,
        always_listed: false,
        tags: vec!["t1"],
    }
}

impl Post {
    fn to_json(&self) -> Value {
        let mut v = j!({"_id": self.id, "locationId": "loc", "platform": "facebook", "type": "post", "error": "",
                        "createdAt": "2026-11-01T00:00:00.000Z", "accountIds": self.accounts, "tags": self.tags});
        if let Some(a) = self.account_id {
            v.as_object_mut().unwrap().remove("accountIds");
            v["accountId"] = j!(a);
        }
        if let Some(s) = self.status {
            v["status"] = j!(s);
        }
        if let Some(at) = self.published_at {
            v["publishedAt"] = j!(instant::format_ms(at));
        }
        v
    }
}

/// What the scripted GHL serves, shared with the test while it runs.
#[derive(Default)]
struct Ghl {
    posts: Vec<Post>,
    accounts: Vec<Value>,
    /// Answers to `accounts` instead of the list, when set.
    accounts_answer: Option<Response>,
}

type Shared = Rc<RefCell<Ghl>>;

fn accounts() -> Vec<Value> {
    vec![
        j!({"id": "loc_acc-1", "profileId": "prof-1", "platform": "facebook", "isExpired": false}),
        j!({"id": "loc_acc-2", "profileId": "prof-2", "platform": "instagram", "isExpired": true,
            "expire": "2024-03-11T19:29:59.785Z"}),
        j!({"id": "loc_acc-3", "profileId": "prof-1", "platform": "facebook"}),
        j!({"id": "loc_acc-4", "platform": "linkedin"}),
    ]
}

fn host(ghl: &Shared) -> ScriptedHost<impl FnMut(&Request) -> Result<Response, TransportError>> {
    let ghl = ghl.clone();
    ScriptedHost::new(move |r: &Request| {
        let ghl = ghl.borrow();
        match (r.method, path(&r.url)) {
            (Method::Post, "/social-media-posting/loc/posts/list") => {
                let body: Value = serde_json::from_slice(r.body.as_ref().unwrap()).unwrap();
                assert_eq!(body["type"], "published", "{body}");
                let text = |k: &str| body[k].as_str().unwrap().to_string();
                let (skip, limit): (usize, usize) = (text("skip").parse().unwrap(), text("limit").parse().unwrap());
                let (from, to) = (
                    instant::parse_ms(&text("fromDate")).unwrap(),
                    instant::parse_ms(&text("toDate")).unwrap(),
                );
                let mut window: Vec<&Post> = ghl
                    .posts
                    .iter()
                    .filter(|p| p.always_listed || p.published_at.is_none_or(|at| (from..=to).contains(&at)))
                    .collect();
                window.sort_by(|a, b| b.published_at.cmp(&a.published_at).then(a.id.cmp(&b.id)));
                let page: Vec<Value> = window
                    .iter()
                    .skip(skip)
                    .take(limit.min(100))
                    .map(|p| p.to_json())
                    .collect();
                json(
                    201,
                    j!({"success": true, "statusCode": 201, "message": "Fetched Posts",
                        "results": {"posts": page, "count": window.len()}}),
                )
            }
            (Method::Get, "/social-media-posting/loc/accounts") => match &ghl.accounts_answer {
                Some(answer) => Ok(answer.clone()),
                None => json(
                    200,
                    j!({"success": true, "results": {"accounts": ghl.accounts, "groups": []}}),
                ),
            },
            (m, p) => panic!("unexpected {m} {p}"),
        }
    })
}

fn request() -> PublishedPostsRequest {
    PublishedPostsRequest {
        location_id: "loc".into(),
        ..Default::default()
    }
}

fn count(requests: &[Request], suffix: &str) -> usize {
    requests.iter().filter(|r| path(&r.url).ends_with(suffix)).count()
}

/// One call at `now`, from `state`.
fn call(ghl: &Shared, now: u64, req: &PublishedPostsRequest, state: Option<&[u8]>) -> (PublishedPostsReport, usize) {
    let mut h = host(ghl);
    h.now_ms = now;
    let report = posts_published(&mut h, &settings(), req, state).unwrap();
    (report, count(&h.requests, "/accounts"))
}

fn ids(r: &PublishedPostsReport) -> Vec<&str> {
    r.posts.iter().map(|p| p.id.as_str()).collect()
}

#[test]
fn posts_that_go_live_together_come_out_once_oldest_first_across_calls() {
    let t0 = ScriptedHost::new(|_: &Request| json(200, j!({}))).now_ms;
    let ghl: Shared = Rc::default();
    ghl.borrow_mut().accounts = accounts();
    ghl.borrow_mut().posts = vec![live("old-1", t0 - 5 * MINUTE), live("old-2", t0 - 2 * MINUTE)];
    let (first, accounts_read) = call(&ghl, t0, &request(), None);
    assert!(first.baseline && first.posts.is_empty(), "{first:?}");
    assert_eq!(
        (first.fetched, accounts_read),
        (2, 0),
        "no accounts read without posts to emit"
    );
    // 150 go live in the same minute, two of them at the very same instant.
    let at = t0 + 4 * MINUTE;
    let mut batch: Vec<Post> = (0..150).map(|i| live(&format!("p{i:03}"), at + i / 2)).collect();
    batch.reverse();
    ghl.borrow_mut().posts.extend(batch);
    let (second, accounts_read) = call(&ghl, t0 + 5 * MINUTE, &request(), Some(&first.state));
    assert!(second.more && !second.baseline);
    assert_eq!(accounts_read, 1, "once per call");
    assert_eq!(second.posts.len(), 100);
    let (third, accounts_read) = call(&ghl, t0 + 6 * MINUTE, &request(), Some(&second.state));
    assert!(!third.more);
    assert_eq!((third.posts.len(), accounts_read), (50, 1));
    let all: Vec<&str> = ids(&second).into_iter().chain(ids(&third)).collect();
    let expected: Vec<String> = (0..150).map(|i| format!("p{i:03}")).collect();
    assert_eq!(all, expected, "each once, oldest first (then by id)");
    let p = &second.posts[0];
    assert_eq!(p.published_at, instant::format_ms(at));
    assert_eq!(
        (
            p.platform.as_deref(),
            p.account_ids.as_slice(),
            p.profile_ids.as_slice(),
            p.tag_ids.as_slice()
        ),
        (
            Some("facebook"),
            &["loc_acc-1".to_string()][..],
            &["prof-1".to_string()][..],
            &["t1".to_string()][..]
        )
    );
    // Nothing new: nothing emitted, no accounts read.
    let (fourth, accounts_read) = call(&ghl, t0 + 7 * MINUTE, &request(), Some(&third.state));
    assert!(fourth.posts.is_empty() && !fourth.more);
    assert_eq!(accounts_read, 0);
    assert!(String::from_utf8(fourth.state)
        .unwrap()
        .contains(r#""kind":"published""#));
}

#[test]
fn a_post_published_again_is_not_emitted_again_within_35_days_of_going_live() {
    let t0 = 1_795_867_200_000;
    let ghl: Shared = Rc::default();
    ghl.borrow_mut().accounts = accounts();
    let (baseline, _) = call(&ghl, t0, &request(), None);
    ghl.borrow_mut().posts = vec![live("a", t0 + 4 * MINUTE)];
    let (went_live, _) = call(&ghl, t0 + 5 * MINUTE, &request(), Some(&baseline.state));
    assert_eq!(ids(&went_live), ["a"]);
    // Edited and published again ten days later: a new publishedAt, the
    // same post; far outside the overlap, still not emitted.
    let later = t0 + 10 * DAY;
    ghl.borrow_mut().posts = vec![live("a", later - MINUTE)];
    let (again, _) = call(&ghl, later, &request(), Some(&went_live.state));
    assert_eq!((again.fetched, again.posts.len()), (1, 0));
    // 36 days after it first went live it is forgotten: published again, it
    // is emitted again.
    let much_later = t0 + 36 * DAY;
    ghl.borrow_mut().posts = vec![live("a", much_later - MINUTE)];
    let (forgotten, _) = call(&ghl, much_later, &request(), Some(&again.state));
    assert_eq!(ids(&forgotten), ["a"]);
}

#[test]
fn only_published_posts_with_a_publish_date_in_the_window_count() {
    let t0 = 1_795_867_200_000;
    let ghl: Shared = Rc::default();
    ghl.borrow_mut().accounts = accounts();
    let since = t0 - 60 * MINUTE;
    let mut undated = live("no-date", 0);
    undated.published_at = None;
    let mut draft = live("draft", t0 - 10 * MINUTE);
    draft.status = Some("draft");
    let mut unstated = live("no-status", t0 - 20 * MINUTE);
    unstated.status = None;
    let mut unstated_undated = live("no-status-no-date", 0);
    (unstated_undated.status, unstated_undated.published_at) = (None, None);
    ghl.borrow_mut().posts = vec![
        live("ok", t0 - 30 * MINUTE),
        undated,
        draft,
        unstated,
        unstated_undated,
        live("before-the-window", since - MINUTE),
        Post {
            always_listed: true,
            ..live("listed-though-published-before", since - MINUTE)
        },
    ];
    let req = PublishedPostsRequest {
        backfill_since: Some(instant::format_ms(since)),
        ..request()
    };
    let (r, _) = call(&ghl, t0, &req, None);
    assert!(!r.baseline);
    assert_eq!(ids(&r), ["ok", "no-status"]);
    assert_eq!(r.errors.len(), 1, "{:?}", r.errors);
    assert_eq!(r.errors[0].item, "no-date");
    assert!(r.errors[0].message.contains("no publishedAt"), "{:?}", r.errors);
    // One published before the window is not listed by this server; the
    // other is, and the trigger sees for itself that it is old.
    assert_eq!(r.fetched, 6);
}

#[test]
fn profile_ids_come_from_the_connected_accounts_by_account_id() {
    let t0 = 1_795_867_200_000;
    let ghl: Shared = Rc::default();
    ghl.borrow_mut().accounts = accounts();
    let mut many = live("many", t0 - 2 * MINUTE);
    // acc-2 has expired: it still maps. acc-3 shares acc-1's profile.
    many.accounts = vec![
        "loc_acc-2",
        "loc_acc-1",
        "loc_acc-2",
        "loc_acc-3",
        "loc_gone",
        "loc_acc-4",
    ];
    let mut single = live("single", t0 - 3 * MINUTE);
    single.account_id = Some("loc_acc-3");
    ghl.borrow_mut().posts = vec![many, single];
    let req = PublishedPostsRequest {
        backfill_since: Some(instant::format_ms(t0 - 60 * MINUTE)),
        ..request()
    };
    let (r, accounts_read) = call(&ghl, t0, &req, None);
    assert_eq!(accounts_read, 1);
    assert_eq!(ids(&r), ["single", "many"]);
    assert_eq!(
        (r.posts[0].account_ids.as_slice(), r.posts[0].profile_ids.as_slice()),
        (&["loc_acc-3".to_string()][..], &["prof-1".to_string()][..]),
        "accountId when the post lists no accountIds"
    );
    let p = &r.posts[1];
    assert_eq!(
        p.account_ids,
        ["loc_acc-2", "loc_acc-1", "loc_acc-3", "loc_gone", "loc_acc-4"]
    );
    assert_eq!(p.profile_ids, ["prof-2", "prof-1"]);
    let errors: Vec<(&str, &str)> = r.errors.iter().map(|e| (e.item.as_str(), e.message.as_str())).collect();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(
        errors[0].0 == "many" && errors[0].1.contains("loc_gone") && errors[0].1.contains("not among"),
        "{errors:?}"
    );
    assert!(
        errors[1].1.contains("loc_acc-4") && errors[1].1.contains("no usable profileId"),
        "{errors:?}"
    );
    assert!(r.errors.iter().all(|e| e.service == Service::Ghl));
}

#[test]
fn without_the_accounts_nothing_is_emitted_and_the_state_stays_as_given() {
    let t0 = 1_795_867_200_000;
    let ghl: Shared = Rc::default();
    let (baseline, _) = call(&ghl, t0, &request(), None);
    ghl.borrow_mut().posts = vec![live("a", t0 + 4 * MINUTE)];
    // Refused: a failure carrying the state as given.
    ghl.borrow_mut().accounts_answer = Some(Response {
        status: 401,
        headers: vec![],
        body: br#"{"statusCode": 401, "message": "The token is not authorized for this scope."}"#.to_vec(),
    });
    let mut h = host(&ghl);
    h.now_ms = t0 + 5 * MINUTE;
    let f = posts_published(&mut h, &settings(), &request(), Some(&baseline.state)).unwrap_err();
    assert!(matches!(f.error, SyncError::Unauthorized(_)), "{:?}", f.error);
    assert_eq!(f.state.as_deref(), Some(&baseline.state[..]));
    // Rate limited past the retry policy: incomplete, nothing emitted, the
    // state as given, so the next call finds the same post.
    ghl.borrow_mut().accounts_answer = Some(Response {
        status: 429,
        headers: vec![("Retry-After".into(), "120".into())],
        body: br#"{"statusCode": 429, "message": "Too many requests"}"#.to_vec(),
    });
    let (stopped, _) = call(&ghl, t0 + 5 * MINUTE, &request(), Some(&baseline.state));
    assert!(stopped.posts.is_empty() && !stopped.more);
    assert_eq!(stopped.state, baseline.state);
    let incomplete = stopped.incomplete.expect("incomplete");
    assert_eq!(incomplete.resume_after_ms, Some(120_000));
    ghl.borrow_mut().accounts_answer = None;
    ghl.borrow_mut().accounts = accounts();
    let (resumed, _) = call(&ghl, t0 + 8 * MINUTE, &request(), Some(&stopped.state));
    assert_eq!(ids(&resumed), ["a"]);
}

#[test]
fn both_scopes_are_checked_before_any_request_and_the_states_do_not_mix() {
    let ghl: Shared = Rc::default();
    let mut s = settings();
    s.ghl_credential = crate::auth::Credential::OAuth(crate::auth::OAuthCredential {
        tokens: OAuthTokens {
            access_token: Secret::new("acc-1234"),
            refresh_token: Secret::new("ref-1234"),
            expires_at_ms: None,
            scopes: vec!["socialplanner/post.readonly".into()],
        },
        client_id: "app".into(),
        client_secret: Secret::new("shh-1234"),
    });
    let mut h = host(&ghl);
    let f = posts_published(&mut h, &s, &request(), None).unwrap_err();
    assert!(
        matches!(&f.error, SyncError::MissingScope { scope, operation, .. }
            if scope == "socialplanner/account.readonly" && operation == "posts-published"),
        "{:?}",
        f.error
    );
    assert!(h.requests.is_empty());
    let new_posts_state = state::encode_posts(&state::PostsState {
        location: "loc".into(),
        ..Default::default()
    });
    let f = posts_published(&mut h, &settings(), &request(), Some(&new_posts_state)).unwrap_err();
    assert!(
        matches!(&f.error, SyncError::InvalidConfig(m) if m.contains("a new-posts state")),
        "{:?}",
        f.error
    );
    let bad = PublishedPostsRequest {
        max_posts: Some(0),
        ..request()
    };
    let f = posts_published(&mut h, &settings(), &bad, None).unwrap_err();
    assert!(matches!(&f.error, SyncError::InvalidConfig(m) if m.contains("max-posts")));
    assert!(h.requests.is_empty());
}
