//! End-to-end: the `ghl-rankr` binary, over loopback HTTP, against the fake
//! GHL (which refuses anything the official spec would not accept) and the
//! fake Rankr (which enforces rankr-api.yaml).

use ghl_rankr_testkit::fakes::ghl::{DEMO_LOCATION, DEMO_POST};
use ghl_rankr_testkit::fakes::{GhlFake, GhlState, RankrFake, RankrState};
use serde_json::{json, Value};
use std::process::{Command, Output};

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
    let out = Command::new(BIN)
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("GHL_BASE_URL", w.ghl.base_url())
        .env("RANKR_BASE_URL", w.rankr.base_url())
        .env("GHL_ACCESS_TOKEN", ghl_token)
        .env("RANKR_API_KEY", "rankr-canary-key")
        .env("RUST_LOG", "trace")
        .env("GHL_RANKR_CACHE_DIR", CACHE)
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
    let first = run(&w, &["tag-sync", "--location", DEMO_LOCATION]);
    assert!(first.status.success());
    let second = run(&w, &["tag-sync", "--location", DEMO_LOCATION]);
    let text = String::from_utf8_lossy(&second.stdout);
    assert!(text.contains("tag-sync: ok"), "{text}");
    assert!(text.contains("created 0 · updated 0 · unchanged 120"), "{text}");
    assert_eq!(w.rankr.state.lock().unwrap().tags.len(), 120);
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
