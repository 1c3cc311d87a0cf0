//! Posts going live and a connection check, end to end: the
//! `posts-published` trigger and `check` through the binary against the
//! fakes (the fake GHL refuses any request HighLevel's official OpenAPI file
//! would not accept), and `serve`'s follow-up statistics.

use super::serve::{dir, first_poll_done, write_config, Loc, Serve, FAST, SERVICE};
use super::{command, json_out, world, World};
use ghl_rankr_testkit::fakes::ghl::{wall_ms, FakePost, DEMO_LOCATION};
use ghl_rankr_testkit::fakes::{GhlFake, GhlState, RankrFake, RankrState};
use ghl_rankr_testkit::tls::{ServerCert, TestCa};
use serde_json::Value;
use std::process::Output;
use std::time::{Duration, Instant};

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn posts_published(w: &World, state: &str, extra: &[&str]) -> Value {
    let out = command(w, "ghl-canary-token", "rankr-canary-key")
        .args([
            "--json",
            "posts-published",
            "--location",
            DEMO_LOCATION,
            "--state-file",
            state,
        ])
        .args(extra)
        .output()
        .unwrap();
    assert!(
        matches!(out.status.code(), Some(0)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    json_out(&out)["report"].clone()
}

fn ids(report: &Value) -> Vec<String> {
    report["posts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn each_post_that_goes_live_is_emitted_once_with_its_profiles() {
    let w = world(20);
    let now = wall_ms();
    {
        let mut g = w.ghl.state.lock().unwrap();
        g.posts.clear();
        for i in 0..30 {
            g.add_post(FakePost::new(
                format!("old{i:02}"),
                now - 600_000 + i * 1_000,
                &["tag00001"],
            ));
        }
        for i in 0..3 {
            g.add_post(FakePost::scheduled(format!("soon{i}"), now - 300_000, &["tag00002"]));
        }
    }
    let dir = dir("published-cli");
    let state = dir.join("published.state");
    let state = state.to_str().unwrap();
    let baseline = posts_published(&w, state, &[]);
    assert_eq!(baseline["baseline"], true);
    assert!(
        ids(&baseline).is_empty(),
        "the baseline emits none of the 30 published posts"
    );
    // Three go live.
    {
        let mut g = w.ghl.state.lock().unwrap();
        let at = wall_ms();
        for p in g.posts.iter_mut().filter(|p| p.id.starts_with("soon")) {
            p.publish(at);
        }
    }
    let live = posts_published(&w, state, &[]);
    assert_eq!(ids(&live), ["soon0", "soon1", "soon2"]);
    for p in live["posts"].as_array().unwrap() {
        assert_eq!(p["profile_ids"], serde_json::json!(["prof-facebook-1"]));
        assert_eq!(p["account_ids"], serde_json::json!(["acc-facebook-1"]));
        assert_eq!(p["tag_ids"], serde_json::json!(["tag00002"]));
    }
    assert!(ids(&posts_published(&w, state, &[])).is_empty(), "not again");
    // One is edited and published again.
    {
        let mut g = w.ghl.state.lock().unwrap();
        let at = wall_ms();
        g.posts.iter_mut().find(|p| p.id == "soon1").unwrap().publish(at);
    }
    assert!(
        ids(&posts_published(&w, state, &[])).is_empty(),
        "a post published again is not emitted again"
    );
    // 150 go live together: all once, oldest first, across two calls.
    {
        let mut g = w.ghl.state.lock().unwrap();
        let at = wall_ms();
        for i in 0..150u64 {
            let mut p = FakePost::scheduled(format!("wave{i:03}"), at - 60_000, &[]);
            p.publish(at - 150 + i);
            g.add_post(p);
        }
    }
    let first = posts_published(&w, state, &[]);
    assert_eq!(first["more"], true);
    let second = posts_published(&w, state, &[]);
    let all: Vec<String> = ids(&first).into_iter().chain(ids(&second)).collect();
    let expected: Vec<String> = (0..150).map(|i| format!("wave{i:03}")).collect();
    assert_eq!(all, expected, "all once, oldest first");
    assert!(ids(&posts_published(&w, state, &[])).is_empty());
    let bytes = std::fs::metadata(state).unwrap().len();
    println!("posts-published: state {bytes} bytes after 183 posts seen");
    assert!(bytes < 20_000, "{bytes}");
    let g = w.ghl.state.lock().unwrap();
    assert!(g.refusals.is_empty(), "{:?}", g.refusals);
    assert!(
        w.rankr.state.lock().unwrap().ledger.is_empty(),
        "the trigger writes nothing"
    );
}

fn check(w: &World, ghl_token: &str, rankr_key: &str, location: &str) -> Output {
    let out = command(w, ghl_token, rankr_key)
        .args(["check", "--location", location, "--dashboard", "social-overview"])
        .output()
        .unwrap();
    assert!(
        !stdout(&out).contains(ghl_token) && !stdout(&out).contains(rankr_key),
        "a credential was printed"
    );
    out
}

#[test]
fn check_proves_each_credential_and_names_the_fix_without_writing() {
    let w = world(5);
    let ok = check(&w, "ghl-canary-token", "rankr-canary-key", DEMO_LOCATION);
    let text = stdout(&ok);
    println!("{text}");
    assert_eq!(ok.status.code(), Some(0), "{text}");
    assert!(
        !text.contains('✘') && text.contains("ghl-statistics") && text.contains("rankr-dashboard"),
        "{text}"
    );
    assert!(
        text.contains("all checks passed") && text.contains("GHL's rate budget"),
        "{text}"
    );

    let cases: [(&str, &str, &str, &str); 3] = [
        (
            "wrong GHL token",
            "not-the-token",
            "rankr-canary-key",
            "the GHL credential was refused",
        ),
        (
            "wrong Rankr key",
            "ghl-canary-token",
            "not-the-key",
            "check RANKR_API_KEY",
        ),
        (
            "unknown location",
            "ghl-canary-token",
            "rankr-canary-key",
            "cannot read location",
        ),
    ];
    for (what, ghl, rankr, fix) in cases {
        let location = if what == "unknown location" {
            "NoSuchLocation0000001"
        } else {
            DEMO_LOCATION
        };
        let out = check(&w, ghl, rankr, location);
        let text = stdout(&out);
        println!("{what}:\n{text}");
        assert_eq!(out.status.code(), Some(2), "{what}: {text}");
        assert!(text.contains('✘') && text.contains(fix), "{what}: {text}");
    }
    // A token without the statistics scope.
    w.ghl.state.lock().unwrap().scopes = Some(
        [
            "socialplanner/tag.readonly",
            "socialplanner/post.readonly",
            "socialplanner/account.readonly",
        ]
        .map(String::from)
        .to_vec(),
    );
    let out = check(&w, "ghl-canary-token", "rankr-canary-key", DEMO_LOCATION);
    let text = stdout(&out);
    println!("without statistics.readonly:\n{text}");
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.contains("missing-scope") && text.contains("socialplanner/statistics.readonly"),
        "{text}"
    );
    // Zero writes from every check, and every request as the spec has it.
    assert!(
        w.rankr.state.lock().unwrap().ledger.is_empty(),
        "a check wrote to Rankr"
    );
    let g = w.ghl.state.lock().unwrap();
    assert!(g.refusals.is_empty(), "{:?}", g.refusals);

    // A certificate the machine does not trust: exit 1, the certificate named.
    let ca = TestCa::new("untrusted-check-ca").unwrap();
    let tls = ca.server(ServerCert::Loopback).unwrap();
    let https = World {
        ghl: GhlFake::start_with(
            GhlState::seeded("ghl-canary-token", DEMO_LOCATION, 5),
            Some(tls.clone()),
        )
        .unwrap(),
        rankr: RankrFake::start_with(RankrState::new("rankr-canary-key"), Some(tls)).unwrap(),
    };
    let out = check(&https, "ghl-canary-token", "rankr-canary-key", DEMO_LOCATION);
    let text = stdout(&out);
    println!("refused certificate:\n{text}");
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("tls") && text.contains("certificate"), "{text}");
    assert!(https.rankr.state.lock().unwrap().ledger.is_empty());
}

/// A location with a dashboard and follow-up statistics at `offsets`.
fn followup_toml(l: &Loc, offsets: &str, extra_service: &str) -> String {
    let n = l.name.to_uppercase();
    format!(
        "{SERVICE}{extra_service}[schedule]\npoll_posts = \"1h\"\ntag_sync = \"1h\"\nstats_daily_at = \"off\"\npoll_published = \"1s\"\nstats_after_publish = [{offsets}]\n[[connection]]\nname = \"{}\"\nlocation = \"{}\"\ndashboard = \"dash-{}\"\nghl_base_url = \"{}\"\nrankr_base_url = \"{}\"\nghl_token_env = \"GHL_{n}\"\nrankr_api_key_env = \"RANKR_{n}\"\n",
        l.name,
        l.location,
        l.name,
        l.ghl.base_url(),
        l.rankr.base_url()
    )
}

fn followup_runs(s: &Serve, name: &str) -> Vec<Value> {
    s.runs(name)
        .into_iter()
        .filter(|r| r["trigger"] == "follow-up")
        .collect()
}

fn published_runs_done(s: &Serve, name: &str) -> bool {
    s.runs(name)
        .iter()
        .any(|r| r["operation"] == "posts-published" && r["outcome"] == "ok")
}

fn ms_of(run: &Value, key: &str) -> u64 {
    let t = time::OffsetDateTime::parse(
        run[key].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    (t.unix_timestamp_nanos() / 1_000_000) as u64
}

#[test]
fn a_post_going_live_gets_its_follow_up_statistics_once_per_offset() {
    let l = super::serve::loc("u", 5);
    let d = dir("followups");
    write_config(&d, &followup_toml(&l, "\"2s\", \"4s\"", ""));
    let s = Serve::start(&d, &[&l], &[]);
    s.wait("the first published poll (a baseline)", || published_runs_done(&s, "u"));
    // Two posts go live within the same second.
    let published = wall_ms();
    {
        let mut g = l.ghl.state.lock().unwrap();
        for id in ["live-a", "live-b"] {
            let mut p = FakePost::scheduled(id, published - 60_000, &["tag00001"]);
            p.publish(published);
            g.add_post(p);
        }
    }
    s.wait("two follow-up runs", || {
        followup_runs(&s, "u").iter().filter(|r| r["outcome"] == "ok").count() >= 2
    });
    std::thread::sleep(Duration::from_secs(3));
    let runs = followup_runs(&s, "u");
    assert_eq!(runs.len(), 2, "one run per offset, not one per post: {runs:#?}");
    for (run, offset) in runs.iter().zip([2_000u64, 4_000]) {
        let started = ms_of(run, "started_at");
        println!("follow-up at +{} ms (due +{offset} ms)", started - published);
        assert!(started + 1_000 >= published + offset, "not before it is due: {run}");
        assert_eq!(run["input"]["profile_ids"], serde_json::json!(["prof-facebook-1"]));
        assert_eq!(
            run["input"]["posts"].as_array().unwrap().len(),
            2,
            "both posts in one run"
        );
    }
    // Only the posts' profile was read, and written under its own scope.
    let g = l.ghl.state.lock().unwrap();
    let stats: Vec<Value> = g
        .requests
        .iter()
        .filter(|r| r.url.starts_with("/social-media-posting/statistics"))
        .map(|r| serde_json::from_slice::<Value>(&r.body).unwrap()["profileIds"].clone())
        .collect();
    assert!(
        stats.len() >= 2 && stats.iter().all(|p| *p == serde_json::json!(["prof-facebook-1"])),
        "{stats:?}"
    );
    let r = l.rankr.state.lock().unwrap();
    assert!(!r.points.is_empty());
    assert!(r
        .points
        .keys()
        .all(|(_, scope, _, _)| scope.starts_with(&format!("location:{}/profile:prof-facebook-1", l.location))));
    drop((g, r));
    let (_, page) = s.get("/");
    assert!(page.contains("Follow-up statistics"), "{page}");
    let (status, _, _) = s.stop();
    assert!(status.success());
}

#[test]
fn a_kill_9_between_the_poll_and_its_follow_ups_loses_neither() {
    let l = super::serve::loc("k", 5);
    let d = dir("followups-kill");
    write_config(&d, &followup_toml(&l, "\"4s\", \"6s\"", ""));
    let s = Serve::start(&d, &[&l], &[]);
    s.wait("the first published poll (a baseline)", || published_runs_done(&s, "k"));
    {
        let mut g = l.ghl.state.lock().unwrap();
        let mut p = FakePost::scheduled("live-k", wall_ms() - 60_000, &[]);
        p.publish(wall_ms());
        g.add_post(p);
    }
    s.wait("the follow-ups queued", || {
        s.metric("ghl_rankr_followups_pending", "connection=\"k\"") == 2.0
    });
    s.signal("-KILL");
    drop(s);
    let started = Instant::now();
    let s = Serve::start(&d, &[&l], &[]);
    s.wait("both follow-ups after the restart", || {
        followup_runs(&s, "k").iter().filter(|r| r["outcome"] == "ok").count() == 2
    });
    println!(
        "both follow-ups ran {:.1} s after the restart",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(s.metric("ghl_rankr_followups_pending", "connection=\"k\""), 0.0);
    drop(s);
}

#[test]
fn a_failed_check_shows_on_the_page_and_in_the_runs_and_stops_no_one() {
    let (bad, good) = (super::serve::loc("x", 20), super::serve::loc("y", 20));
    bad.rankr.state.lock().unwrap().api_key = "rotated-elsewhere".into();
    let d = dir("check-serve");
    write_config(
        &d,
        &format!(
            "{SERVICE}{FAST}{}{}",
            super::serve::connection_toml(&bad, ""),
            super::serve::connection_toml(&good, "")
        ),
    );
    let s = Serve::start(&d, &[&bad, &good], &[]);
    s.wait("x's check to fail", || {
        s.runs("x")
            .iter()
            .any(|r| r["operation"] == "check" && r["outcome"] == "failed")
    });
    let failed = s.runs("x").into_iter().find(|r| r["operation"] == "check").unwrap();
    let error = failed["error"].as_str().unwrap();
    assert!(
        error.contains("rankr-key") && error.contains("check RANKR_X"),
        "{error}"
    );
    assert!(
        !s.runs("x").iter().any(|r| r["operation"] == "new-posts"),
        "x runs nothing else until it passes"
    );
    s.wait("y's first poll", || first_poll_done(&s, &good));
    let posts = super::serve::add_posts(&good, "yp", 1);
    s.wait("y syncs", || super::serve::synced(&good, &posts));
    let (_, page) = s.get("/");
    assert!(page.contains("✘") && page.contains("rankr-key"), "{page}");
    assert_eq!(s.metric("ghl_rankr_check_ok", "connection=\"x\""), 0.0);
    assert_eq!(s.metric("ghl_rankr_check_ok", "connection=\"y\""), 1.0);
    // An operator asks for a check once the key is right again.
    bad.rankr.state.lock().unwrap().api_key = bad.rankr_key.clone();
    let (status, queued) = s.post("/connections/x/check", super::serve::EVENT_TOKEN, "");
    assert_eq!(status, 202, "{queued}");
    s.wait("the asked-for check", || {
        s.runs("x")
            .iter()
            .any(|r| r["id"] == queued["run_id"] && r["outcome"] == "ok")
    });
    let (status, _, _) = s.stop();
    assert!(status.success());
}
