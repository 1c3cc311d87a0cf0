//! End-to-end: the `ghl-rankr` binary, over loopback HTTP, against the fake
//! GHL (which refuses anything the official spec would not accept) and the
//! fake Rankr (which enforces rankr-api.yaml).

use ghl_rankr_testkit::fakes::ghl::{DEMO_LOCATION, DEMO_POST};
use ghl_rankr_testkit::fakes::{GhlFake, GhlState, RankrFake, RankrState};
use serde_json::{json, Value};
use std::process::{Command, Output};

// One test binary (one link): the faults over HTTP and `serve` are modules.
#[path = "e2e/faults.rs"]
mod faults;
#[path = "e2e/install.rs"]
mod install;
#[path = "e2e/published.rs"]
mod published;
#[path = "e2e/security.rs"]
mod security;
#[path = "e2e/serve.rs"]
mod serve;
#[path = "e2e/tls.rs"]
mod tls;

const BIN: &str = env!("CARGO_BIN_EXE_ghl-rankr");

/// The compile cache the runs share (under cargo's target folder): the first
/// run compiles the component, the others deserialize it, as a user's do.
const CACHE: &str = concat!(env!("CARGO_TARGET_TMPDIR"), "/e2e-compile-cache");

struct World {
    ghl: GhlFake,
    rankr: RankrFake,
}

fn world(tags: usize) -> World {
    World {
        ghl: GhlFake::start(GhlState::seeded("ghl-canary-token", DEMO_LOCATION, tags)).unwrap(),
        rankr: RankrFake::start(RankrState::new("rankr-canary-key")).unwrap(),
    }
}

fn run(w: &World, args: &[&str]) -> Output {
    run_as(w, "ghl-canary-token", args)
}

/// Runs with this GHL token and `RUST_LOG=trace`.
/// Every run, success or failure, is scanned for the secrets.
fn run_as(w: &World, ghl_token: &str, args: &[&str]) -> Output {
    let out = command(w, ghl_token, "rankr-canary-key")
        .args(args)
        .env("RUST_LOG", "trace")
        .output()
        .unwrap();
    no_secrets(&out);
    if ghl_token != "ghl-canary-token" {
        for stream in [&out.stdout, &out.stderr] {
            assert!(
                !String::from_utf8_lossy(stream).contains(ghl_token),
                "the token was printed"
            );
        }
    }
    out
}

/// The binary with only these credentials and the fakes' URLs in its
/// environment.
fn command(w: &World, ghl_token: &str, rankr_key: &str) -> Command {
    let mut c = Command::new(BIN);
    c.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("GHL_BASE_URL", w.ghl.base_url())
        .env("RANKR_BASE_URL", w.rankr.base_url())
        .env("GHL_ACCESS_TOKEN", ghl_token)
        .env("RANKR_API_KEY", rankr_key)
        .env("GHL_RANKR_CACHE_DIR", CACHE);
    c
}

/// Writes a settings file into a fresh temporary folder.
fn config_file(name: &str, text: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("ghl-rankr-e2e-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("{name}.toml"));
    std::fs::write(&file, text).unwrap();
    (dir, file)
}

fn json_out(o: &Output) -> Value {
    assert!(
        o.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap()
}

fn no_secrets(o: &Output) {
    for stream in [&o.stdout, &o.stderr] {
        let text = String::from_utf8_lossy(stream);
        // The canaries of these tests, and the demo's own credentials.
        for secret in [
            "ghl-canary-token",
            "rankr-canary-key",
            "demo-ghl-private-integration-token",
            "demo-rankr-api-key",
        ] {
            assert!(!text.contains(secret), "a secret was printed:\n{text}");
        }
        // Wire dumps would split a token across lines; no auth header may be printed at all.
        assert!(
            !text.to_ascii_lowercase().contains("bearer"),
            "a header dump was printed:\n{text}"
        );
    }
}

#[test]
fn all_three_operations_complete_against_the_fakes() {
    let w = world(250);
    let out = run(
        &w,
        &["--json", "tag-sync", "--location", DEMO_LOCATION, "--post", DEMO_POST],
    );
    let report = json_out(&out)["report"].clone();
    assert_eq!(report["fetched"], 250);
    assert_eq!(report["created"], 250);
    assert_eq!(report["archived"], 1);
    assert_eq!(report["post_tags_applied"], 3);
    {
        let r = w.rankr.state.lock().unwrap();
        assert_eq!(r.tags.len(), 250, "every tag lands once");
        let archived: Vec<&Value> = r
            .tags
            .values()
            .filter(|t| t.input["archived"] == json!(true))
            .map(|t| &t.input["externalId"])
            .collect();
        assert_eq!(archived, vec!["tag00007"]);
        assert_eq!(r.post_tags[DEMO_POST], vec!["tag00000", "tag00002", "tag00249"]);
        assert!(r.ledger.iter().all(|l| l.status == 200), "{:?}", r.ledger);
    }
    let pages = w
        .ghl
        .state
        .lock()
        .unwrap()
        .requests
        .iter()
        .filter(|r| r.method == "GET" && r.url.contains("/tags?"))
        .count();
    assert_eq!(pages, 3);

    w.ghl.state.lock().unwrap().tags[4]["deleted"] = json!(true);
    let out = run(
        &w,
        &[
            "--json",
            "tag-details-push",
            "--location",
            DEMO_LOCATION,
            "--tag-id",
            "tag00004",
            "--tag-id",
            "nope",
        ],
    );
    let report = json_out(&out)["report"].clone();
    assert_eq!(report["updated"], 1);
    assert_eq!(report["rejected"], 1);
    assert_eq!(report["errors"][0]["item"], "nope");
    assert_eq!(
        w.rankr
            .state
            .lock()
            .unwrap()
            .tags
            .values()
            .filter(|t| t.input["archived"] == json!(true))
            .count(),
        2
    );

    let out = run(
        &w,
        &[
            "--json",
            "stats-sync",
            "--location",
            DEMO_LOCATION,
            "--profile-id",
            "p1",
            "--platform",
            "facebook",
            "--platform",
            "instagram",
            "--dashboard",
            "dash-1",
            "--as-of",
            "2026-02-01",
        ],
    );
    let report = json_out(&out)["report"].clone();
    assert!(report["created"].as_u64().unwrap() > 100);
    let r = w.rankr.state.lock().unwrap();
    let days: std::collections::BTreeSet<&str> = r
        .points
        .keys()
        .filter(|k| k.2 == "post_performance.impressions")
        .map(|k| k.3.as_str())
        .collect();
    assert_eq!(
        days.into_iter().collect::<Vec<_>>(),
        vec![
            "2026-01-26T00:00:00Z",
            "2026-01-27T00:00:00Z",
            "2026-01-28T00:00:00Z",
            "2026-01-29T00:00:00Z",
            "2026-01-30T00:00:00Z",
            "2026-01-31T00:00:00Z",
            "2026-02-01T00:00:00Z"
        ]
    );
    assert!(w.ghl.state.lock().unwrap().refusals.is_empty());
}

#[test]
fn a_rerun_changes_nothing_and_summaries_are_readable() {
    let w = world(120);
    let state = temp_dir("rerun").join("tags.state");
    let state = state.to_str().unwrap();
    let first = run(&w, &["tag-sync", "--location", DEMO_LOCATION, "--state-file", state]);
    assert!(first.status.success());
    let second = run(&w, &["tag-sync", "--location", DEMO_LOCATION, "--state-file", state]);
    let text = String::from_utf8_lossy(&second.stdout);
    assert!(text.contains("tag-sync: ok"), "{text}");
    assert!(text.contains("created 0 · updated 0 · unchanged 0"), "{text}");
    assert!(text.contains("skipped (unchanged since last run) 120"), "{text}");
    // Without a state nothing durable tells the runs apart: the rerun sends
    // the same batches under the same keys, and Rankr replays them.
    let none = run(&w, &["tag-sync", "--location", DEMO_LOCATION]);
    assert!(none.status.success());
    let again = run(&w, &["tag-sync", "--location", DEMO_LOCATION]);
    assert!(String::from_utf8_lossy(&again.stdout).contains("tag-sync: ok"));
    let r = w.rankr.state.lock().unwrap();
    assert_eq!(r.tags.len(), 120);
    assert!(r.applied_twice().is_empty());
    assert!(
        r.ledger.iter().filter(|e| e.replayed).count() >= 2,
        "the rerun's batches were replays"
    );
}

#[test]
fn errors_exit_non_zero_with_the_message() {
    let w = world(10);
    let out = run_as(&w, "wrong-token", &["tag-sync", "--location", DEMO_LOCATION]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unauthorized") && err.contains("Invalid token"), "{err}");
    assert!(!err.contains("wrong-token"));

    let out = run_as(&w, "wrong-token", &["--json", "tag-sync", "--location", DEMO_LOCATION]);
    assert_eq!(out.status.code(), Some(1));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["ok"], false);
    assert_eq!(doc["error"]["kind"], "unauthorized");
    assert_eq!(doc["error"]["service"], "ghl");
    assert_eq!(doc["error"]["status"], 401);
    assert_eq!(doc["error"]["server_message"], "Invalid token: access token is invalid");

    let out = run(&w, &["tag-sync", "--location", "..", "--tag-id", "x"]);
    assert_eq!(out.status.code(), Some(2));

    let out = Command::new(BIN)
        .args(["tag-sync", "--location", "x"])
        .env_remove("GHL_ACCESS_TOKEN")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("GHL_ACCESS_TOKEN"));
}

#[test]
fn the_config_file_sets_mapping_and_dry_run() {
    let w = world(30);
    let (dir, cfg) = config_file(
        "settings",
        r#"
dry_run = true
page_size = 7
[[tag_mapping]]
source = "_id"
target = "externalId"
transforms = [{ prefix = "ghl-" }]
[[tag_mapping]]
source = "tag"
target = "name"
transforms = ["slugify"]
"#,
    );
    let out = run(
        &w,
        &[
            "--json",
            "--config",
            cfg.to_str().unwrap(),
            "tag-sync",
            "--location",
            DEMO_LOCATION,
        ],
    );
    let report = json_out(&out)["report"].clone();
    assert_eq!(report["dry_run"], true);
    let body: Value = serde_json::from_str(report["writes"][0]["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["items"][0]["externalId"], "ghl-tag00000");
    assert_eq!(body["items"][0]["name"], "summer-sale-0");
    assert!(
        w.rankr.state.lock().unwrap().ledger.is_empty(),
        "a dry run writes nothing"
    );
    let pages = w.ghl.state.lock().unwrap().requests.len();
    assert_eq!(pages, 5, "30 tags at 7 a page");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn demo_runs_and_shows_paging_tags_and_points() {
    let out = Command::new(BIN).arg("demo").env("RUST_LOG", "trace").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    no_secrets(&out);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("fetched 260 · created 260"), "{text}");
    assert!(text.contains("GHL tag pages read: 3"), "{text}");
    assert!(text.contains("post tags applied: 3"), "{text}");
    assert!(text.contains("refused by the official OpenAPI check: 0"), "{text}");
    assert!(text.contains("tags: 260 (2 archived"), "{text}");
    assert!(text.contains("new-posts: baseline recorded"), "{text}");
    assert!(text.contains("new-posts: 1 new"), "{text}");
    assert!(text.contains("all checks passed"), "{text}");
    assert!(text.contains("posts-published: 1 went live"), "{text}");
    assert!(text.contains("/profile:prof-facebook-1:"), "{text}");
    assert!(
        text.contains("post 6750f1c2a9b8e7d6c5b4a391 tags: tag00004, tag00009"),
        "{text}"
    );
    assert!(text.contains("has expired"), "{text}");
}

#[test]
fn rejected_items_are_listed_while_the_rest_land() {
    let w = world(50);
    w.rankr.state.lock().unwrap().reject_names_containing = vec!["Promo".into()];
    let out = run(&w, &["--json", "tag-sync", "--location", DEMO_LOCATION]);
    let report = json_out(&out)["report"].clone();
    assert_eq!(report["rejected"], 10);
    assert_eq!(report["created"], 40);
    assert_eq!(report["errors"][0]["service"], "rankr");
    assert!(report["errors"][0]["message"].as_str().unwrap().contains("not allowed"));
    assert_eq!(w.rankr.state.lock().unwrap().tags.len(), 40);
}

#[test]
fn an_unreachable_server_is_a_transport_error() {
    let w = world(1);
    let (dir, cfg) = config_file(
        "fast-retry",
        "[retry]\nmax_attempts = 2\nbase_delay_ms = 10\nmax_delay_ms = 20\n",
    );
    // Bind and drop a listener: the port is then very likely closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = run(
        &w,
        &[
            "--config",
            cfg.to_str().unwrap(),
            "--ghl-base-url",
            &format!("http://127.0.0.1:{port}"),
            "tag-sync",
            "--location",
            DEMO_LOCATION,
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no answer from GHL"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_hanging_server_is_cut_off_by_the_request_timeout() {
    let w = world(1);
    // Accepts connections and never answers (bounded: it stops after 60 s).
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let started = std::time::Instant::now();
        let mut held = Vec::new();
        listener.set_nonblocking(true).unwrap();
        while started.elapsed().as_secs() < 60 {
            if let Ok((s, _)) = listener.accept() {
                held.push(s);
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    });
    let (dir, cfg) = config_file(
        "hang",
        "[retry]\nmax_attempts = 2\nbase_delay_ms = 10\nmax_delay_ms = 20\n",
    );
    let out = run(
        &w,
        &[
            "--config",
            cfg.to_str().unwrap(),
            "--request-timeout",
            "1",
            "--ghl-base-url",
            &format!("http://127.0.0.1:{port}"),
            "tag-sync",
            "--location",
            DEMO_LOCATION,
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    // A timeout that did not work would hold the run until the server lets
    // go of the connection (60 s) and then fail otherwise.
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("timed out"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_redirect_is_returned_to_the_component_not_followed() {
    use ghl_rankr_testkit::fakes::server::{FakeResponse, FakeServer};
    let w = world(1);
    let target_hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let hits = target_hits.clone();
    let target = FakeServer::start(move |_| {
        hits.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        FakeResponse::json(200, &json!({})).into()
    })
    .unwrap();
    let location = format!("{}/stolen", target.base_url);
    let redirector = FakeServer::start(move |_| {
        FakeResponse::json(302, &json!({}))
            .with_header("Location", &location)
            .into()
    })
    .unwrap();
    let out = run(
        &w,
        &[
            "--ghl-base-url",
            &redirector.base_url,
            "tag-sync",
            "--location",
            DEMO_LOCATION,
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("302") && err.contains("not followed"), "{err}");
    assert_eq!(
        target_hits.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "the redirect was followed"
    );
}

#[test]
fn a_traversing_location_id_stays_one_path_segment() {
    let w = world(3);
    let out = run(&w, &["tag-sync", "--location", "x/../../v1/x"]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let g = w.ghl.state.lock().unwrap();
    assert_eq!(g.requests.len(), 1);
    assert!(
        g.requests[0]
            .url
            .starts_with("/social-media-posting/x%2F..%2F..%2Fv1%2Fx/tags?"),
        "{}",
        g.requests[0].url
    );
    // The fake GHL saw the decoded id as the location and refused it (403).
    assert!(String::from_utf8_lossy(&out.stderr).contains("forbidden"));
}

#[test]
fn an_answer_over_the_body_limit_is_refused_once_not_retried() {
    use ghl_rankr_testkit::fakes::server::{FakeResponse, FakeServer};
    let w = world(1);
    let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = calls.clone();
    let huge = FakeServer::start(move |_| {
        seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        FakeResponse {
            status: 200,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: vec![b' '; 11 * 1024 * 1024],
        }
        .into()
    })
    .unwrap();
    let out = run(
        &w,
        &[
            "--ghl-base-url",
            &huge.base_url,
            "tag-sync",
            "--location",
            DEMO_LOCATION,
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("larger than the host's limit of 10485760 bytes"), "{err}");
    assert_eq!(
        calls.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "a too-large answer is not retried"
    );
}

/// A temporary folder of this test.
fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("ghl-rankr-e2e-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn new_posts_then_tag_sync_applies_each_posts_tags_without_reading_single_posts() {
    use ghl_rankr_testkit::fakes::ghl::{wall_ms, FakePost};
    let w = world(150);
    let dir = temp_dir("new-posts");
    let (posts_state, tags_state) = (dir.join("posts.state"), dir.join("tags.state"));
    let poll = |extra: &[&str]| {
        let mut args = vec![
            "--json",
            "new-posts",
            "--location",
            DEMO_LOCATION,
            "--state-file",
            posts_state.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        json_out(&run(&w, &args))
    };
    // The first call is the baseline: nothing emitted, the state written.
    let first = poll(&[]);
    assert_eq!(first["report"]["baseline"], true);
    assert_eq!(first["report"]["posts"], json!([]));
    assert!(posts_state.exists());
    // Two posts are created.
    let now = wall_ms();
    {
        let mut g = w.ghl.state.lock().unwrap();
        g.add_post(FakePost::new("post-a", now - 60_000, &["tag00001", "tag00005"]));
        g.add_post(FakePost::new(
            "post-b",
            now - 30_000,
            &["tag00010", "tag00149", "tag00003"],
        ));
    }
    let then = poll(&["--then-tag-sync", "--tag-state-file", tags_state.to_str().unwrap()]);
    let report = &then["report"];
    let ids: Vec<&str> = report["posts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["post-a", "post-b"]);
    assert_eq!(
        report["posts"][1]["tag_ids"],
        json!(["tag00010", "tag00149", "tag00003"])
    );
    let syncs = then["tag_syncs"].as_array().unwrap();
    assert_eq!(syncs.len(), 2);
    assert_eq!(syncs[0]["report"]["post_tags_applied"], 2);
    assert_eq!(syncs[1]["report"]["post_tags_applied"], 3);
    // Each tag-sync took the post path: it read and wrote the post's tags
    // only, not the location's 150.
    assert_eq!(syncs[0]["report"]["fetched"], 2);
    assert_eq!(syncs[1]["report"]["fetched"], 3);
    assert_eq!(syncs[1]["report"]["created"], 3);
    {
        let r = w.rankr.state.lock().unwrap();
        assert_eq!(r.post_tags["post-a"], vec!["tag00001", "tag00005"]);
        assert_eq!(r.post_tags["post-b"], vec!["tag00010", "tag00149", "tag00003"]);
    }
    let g = w.ghl.state.lock().unwrap();
    assert_eq!(g.single_post_reads(), 0, "the trigger handed over the tag ids");
    assert!(g.refusals.is_empty(), "{:?}", g.refusals);
    drop(g);
    // The next poll emits nothing.
    let again = poll(&[]);
    assert_eq!(again["report"]["posts"], json!([]));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_failed_tag_sync_leaves_the_new_posts_to_come_again() {
    use ghl_rankr_testkit::fakes::ghl::{wall_ms, FakePost};
    let w = world(20);
    let dir = temp_dir("new-posts-fail");
    let posts_state = dir.join("posts.state");
    let state_arg = posts_state.to_str().unwrap();
    let base = ["new-posts", "--location", DEMO_LOCATION, "--state-file", state_arg];
    json_out(&run(&w, &[&["--json"], &base[..]].concat()));
    let baseline = std::fs::read(&posts_state).unwrap();
    w.ghl
        .state
        .lock()
        .unwrap()
        .add_post(FakePost::new("post-x", wall_ms() - 60_000, &["tag00001"]));
    // Rankr refuses the key: tag-sync fails, the trigger's state stays.
    let out = command(&w, "ghl-canary-token", "a-wrong-key")
        .args([&base[..], &["--then-tag-sync"]].concat())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("come again next time"), "{stderr}");
    assert_eq!(
        std::fs::read(&posts_state).unwrap(),
        baseline,
        "the state was not saved"
    );
    // With the right key, the post comes again and lands.
    let then = json_out(&run(&w, &[&["--json"], &base[..], &["--then-tag-sync"]].concat()));
    assert_eq!(then["report"]["posts"][0]["id"], "post-x");
    assert_eq!(w.rankr.state.lock().unwrap().post_tags["post-x"], vec!["tag00001"]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn stats_sync_without_profile_ids_uses_the_accounts_that_have_not_expired() {
    let w = world(5);
    let out = run(
        &w,
        &[
            "--json",
            "stats-sync",
            "--location",
            DEMO_LOCATION,
            "--dashboard",
            "dash-1",
        ],
    );
    let report = json_out(&out)["report"].clone();
    assert!(report["created"].as_u64().unwrap() > 50);
    // The expired LinkedIn account is named, not read.
    assert_eq!(report["rejected"], 1);
    let message = report["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("expired"), "{message}");
    assert!(report["errors"][0]["item"].as_str().unwrap().contains("linkedin"));
    let g = w.ghl.state.lock().unwrap();
    let stats = g
        .requests
        .iter()
        .find(|r| r.url.starts_with("/social-media-posting/statistics"))
        .unwrap();
    let body: Value = serde_json::from_slice(&stats.body).unwrap();
    assert_eq!(body["profileIds"], json!(["prof-facebook-1", "prof-instagram-1"]));
    assert!(g.requests.iter().any(|r| r.url.ends_with("/accounts")));
    assert!(g.refusals.is_empty(), "{:?}", g.refusals);
}

#[test]
fn describe_prints_the_catalog() {
    let w = world(1);
    let doc = json_out(&run(&w, &["--json", "describe"]));
    let names: Vec<&str> = doc["operations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "tag-sync",
            "tag-details-push",
            "stats-sync",
            "new-posts",
            "posts-published",
            "check"
        ]
    );
    assert_eq!(doc["operations"][3]["kind"], "trigger");
    assert_eq!(doc["operations"][4]["kind"], "trigger");
    assert_eq!(doc["operations"][5]["kind"], "check");
    assert_eq!(
        doc["settings"]["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    let text = run(&w, &["describe"]);
    assert!(text.status.success());
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("new-posts (trigger, at-least-once)"), "{text}");
    assert!(text.contains("posts-published (trigger, at-least-once)"), "{text}");
    assert!(
        w.ghl.state.lock().unwrap().requests.is_empty(),
        "describe sends nothing"
    );
}

#[test]
fn no_progress_bar_when_stderr_is_not_a_terminal() {
    let w = world(250);
    let out = command(&w, "ghl-canary-token", "rankr-canary-key")
        .args(["tag-sync", "--location", DEMO_LOCATION])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
}
