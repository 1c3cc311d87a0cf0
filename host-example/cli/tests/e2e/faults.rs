//! End-to-end fault runs: the `ghl-rankr` binary over loopback HTTP against
//! the fakes with their fault switches on, with `--token-file` and
//! `--state-file`. Each run ends with the fakes' ledger checked: every tag
//! once in Rankr, nothing changed twice, no retried write under a new key,
//! no spent refresh token sent again.

use ghl_rankr_testkit::fakes::ghl::{DEMO_LOCATION, DEMO_POST};
use ghl_rankr_testkit::fakes::{
    GhlFake, GhlFault, GhlState, OAuthServer, RankrFake, RankrFault, RankrState, RateLimits,
};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_ghl-rankr");
const RANKR_KEY: &str = "rankr-canary-key";
const CLIENT_SECRET: &str = "app-canary-secret";

struct World {
    ghl: GhlFake,
    rankr: RankrFake,
}

fn world(tags: usize, configure: impl FnOnce(&mut GhlState, &mut RankrState)) -> World {
    let mut g = GhlState::seeded("pit-canary-token", DEMO_LOCATION, tags);
    let mut r = RankrState::new(RANKR_KEY);
    configure(&mut g, &mut r);
    World {
        ghl: GhlFake::start(g).unwrap(),
        rankr: RankrFake::start(r).unwrap(),
    }
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ghl-rankr-faults-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs the binary with `env` on top of the fakes' URLs and the Rankr key,
/// at `RUST_LOG=trace`; no output may hold a secret.
fn run(w: &World, env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut c = Command::new(BIN);
    c.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("GHL_BASE_URL", w.ghl.base_url())
        .env("RANKR_BASE_URL", w.rankr.base_url())
        .env("RANKR_API_KEY", RANKR_KEY)
        .env("RUST_LOG", "trace")
        // Shared by the runs: the first compiles, the others deserialize.
        .env(
            "GHL_RANKR_CACHE_DIR",
            concat!(env!("CARGO_TARGET_TMPDIR"), "/e2e-compile-cache"),
        );
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().unwrap();
    for stream in [&out.stdout, &out.stderr] {
        let text = String::from_utf8_lossy(stream);
        for secret in [
            "pit-canary-token",
            RANKR_KEY,
            CLIENT_SECRET,
            "fake-access-",
            "fake-refresh-",
            "access-canary-0",
            "refresh-canary-0",
        ] {
            assert!(!text.contains(secret), "`{secret}` was printed:\n{text}");
        }
    }
    out
}

fn report(o: &Output) -> Value {
    let v: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|_| {
        panic!(
            "exit {:?}\nstdout: {}\nstderr: {}",
            o.status,
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    });
    v["report"].clone()
}

fn oauth_env() -> Vec<(&'static str, &'static str)> {
    vec![
        ("GHL_ACCESS_TOKEN", "access-canary-0"),
        ("GHL_REFRESH_TOKEN", "refresh-canary-0"),
        ("GHL_CLIENT_ID", "app-1"),
        ("GHL_CLIENT_SECRET", CLIENT_SECRET),
    ]
}

/// Every GHL tag once in Rankr as GHL has it; nothing changed twice; no body
/// under two keys.
fn assert_ledger_exact(w: &World) {
    let g = w.ghl.state.lock().unwrap();
    let r = w.rankr.state.lock().unwrap();
    assert_eq!(r.tags.len(), g.tags.len());
    for t in &g.tags {
        let id = t["_id"].as_str().unwrap();
        let stored = &r.tags[&("ghl".to_string(), DEMO_LOCATION.to_string(), id.to_string())];
        assert_eq!(stored.input["name"].as_str(), Some(t["tag"].as_str().unwrap().trim()));
        assert_eq!(stored.input["archived"], t["deleted"]);
    }
    assert!(r.applied_twice().is_empty(), "changed twice: {:?}", r.applied_twice());
    assert_eq!(r.bodies_with_several_keys(), 0, "a retried write came under a new key");
    assert!(g.refusals.is_empty(), "GHL spec refusals: {:?}", g.refusals);
}

#[cfg(unix)]
fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn oauth_and_state_files_survive_ghl_and_rankr_faults_and_a_rerun_writes_nothing() {
    let w = world(650, |g, r| {
        let mut o = OAuthServer::new("app-1", CLIENT_SECRET, "refresh-canary-0", "access-canary-0", 0, 86_399);
        // Every token dies after three calls.
        o.calls_per_token = Some(3);
        o.access.values_mut().for_each(|grant| {
            grant.expires_at_ms = u64::MAX;
            grant.calls_left = Some(3);
        });
        g.oauth = Some(o);
        g.fault_at(
            2,
            GhlFault::Status {
                status: 429,
                retry_after_secs: Some(1),
            },
        );
        g.fault_at(
            4,
            GhlFault::Status {
                status: 502,
                retry_after_secs: None,
            },
        );
        g.fault_at(6, GhlFault::Truncate);
        g.fault_at(9, GhlFault::Reset);
        r.fault_at(
            1,
            RankrFault::Status {
                status: 503,
                retry_after_secs: Some(1),
            },
        );
        r.fault_at(3, RankrFault::LostAfterCommit);
        r.fault_at(5, RankrFault::ErrorAfterCommit);
    });
    let dir = temp_dir("oauth");
    let (tokens, state) = (dir.join("tokens.json"), dir.join("state.bin"));
    let args = [
        "--json",
        "--token-file",
        tokens.to_str().unwrap(),
        "--state-file",
        state.to_str().unwrap(),
        "tag-sync",
        "--location",
        DEMO_LOCATION,
        "--post",
        DEMO_POST,
    ];
    let out = run(&w, &oauth_env(), &args);
    let r = report(&out);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!((r["fetched"].as_u64(), r["created"].as_u64()), (Some(650), Some(650)));
    assert_eq!(r["post_tags_applied"], 3);
    assert_eq!(r["tokens_rotated"], true);
    assert_ledger_exact(&w);
    {
        let g = w.ghl.state.lock().unwrap();
        let o = g.oauth.as_ref().unwrap();
        assert!(
            o.refreshes >= 2,
            "the token died every few calls: {} refreshes",
            o.refreshes
        );
        assert!(
            o.spent_reused.is_empty(),
            "spent refresh tokens sent again: {:?}",
            o.spent_reused
        );
        assert!(o.refusals.is_empty(), "refresh not per oauth.json: {:?}", o.refusals);
        let file: Value = serde_json::from_slice(&std::fs::read(&tokens).unwrap()).unwrap();
        assert_eq!(
            file["refresh_token"].as_str(),
            Some(o.refresh_token.as_str()),
            "the file holds the live pair"
        );
    }
    #[cfg(unix)]
    {
        assert_eq!(mode(&tokens), 0o600);
        assert_eq!(mode(&state), 0o600);
    }

    // An immediate rerun with the same files writes nothing to Rankr. The
    // environment still holds the spent pair: the token file wins.
    let writes = w.rankr.state.lock().unwrap().ledger.len();
    let out = run(&w, &oauth_env(), &args);
    let r = report(&out);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(r["skipped"], 650);
    assert_eq!(r["post_tags_applied"], 3, "the post already carries its tags");
    assert_eq!(
        w.rankr.state.lock().unwrap().ledger.len(),
        writes,
        "the rerun wrote to Rankr"
    );
    assert!(w
        .ghl
        .state
        .lock()
        .unwrap()
        .oauth
        .as_ref()
        .unwrap()
        .spent_reused
        .is_empty());
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_twenty_per_second_burst_limit_meets_no_429_over_4000_tags() {
    let w = world(4000, |g, _| {
        g.limits = RateLimits::burst(20, 1000);
    });
    let started = std::time::Instant::now();
    let out = run(
        &w,
        &[("GHL_ACCESS_TOKEN", "pit-canary-token")],
        &["--json", "tag-sync", "--location", DEMO_LOCATION],
    );
    let r = report(&out);
    assert!(out.status.success());
    assert_eq!(r["created"], 4000);
    let g = w.ghl.state.lock().unwrap();
    assert_eq!(g.rate_limited, 0, "429s met");
    eprintln!(
        "4000 tags, {} GHL calls under 20/s: {:.2} s, 0 x 429",
        g.api_calls,
        started.elapsed().as_secs_f64()
    );
    drop(g);
    assert_ledger_exact(&w);
}

#[test]
fn a_hung_answer_is_cut_by_the_timeout_and_retried() {
    let w = world(150, |g, _| {
        g.hang = Duration::from_millis(2500);
        g.fault_at(2, GhlFault::Hang);
    });
    let out = run(
        &w,
        &[("GHL_ACCESS_TOKEN", "pit-canary-token")],
        &[
            "--json",
            "--request-timeout",
            "1",
            "tag-sync",
            "--location",
            DEMO_LOCATION,
        ],
    );
    let r = report(&out);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(r["retries"], 1);
    assert_ledger_exact(&w);
}

#[test]
fn a_crash_before_the_state_save_and_a_deadline_both_resume_without_duplicates() {
    let w = world(400, |g, _| {
        g.limits = RateLimits::burst(2, 1000);
    });
    let dir = temp_dir("resume");
    let state = dir.join("state.bin");
    let env = [("GHL_ACCESS_TOKEN", "pit-canary-token")];
    let args = [
        "--json",
        "--deadline",
        "1",
        "--state-file",
        state.to_str().unwrap(),
        "tag-sync",
        "--location",
        DEMO_LOCATION,
    ];
    // Two pages a second, one second a call: incomplete (exit 3) until done.
    let mut runs = 0;
    let mut saved: Vec<Vec<u8>> = Vec::new();
    loop {
        runs += 1;
        let out = run(&w, &env, &args);
        saved.push(std::fs::read(&state).unwrap());
        let r = report(&out);
        match out.status.code() {
            Some(3) => assert_eq!(r["complete"], false),
            Some(0) => break,
            other => panic!("exit {other:?}: {}", String::from_utf8_lossy(&out.stderr)),
        }
        assert!(runs < 10, "no progress");
    }
    assert!(runs >= 2, "the deadline did cut the sync");
    eprintln!("400 tags under 2 calls/s with --deadline 1: {runs} runs");
    assert_ledger_exact(&w);
    // A crash after the last writes but before the state was saved: the
    // state of the run before is what the next run sees.
    std::fs::write(&state, &saved[saved.len() - 2]).unwrap();
    let before = w.rankr.state.lock().unwrap().tags.len();
    let out = run(&w, &env, &args[..]);
    assert!(matches!(out.status.code(), Some(0) | Some(3)));
    // What the lost state had not recorded is sent again, under the keys it
    // had from that state, so Rankr replays it: nothing new, nothing changed
    // twice.
    let r = w.rankr.state.lock().unwrap();
    assert_eq!(r.tags.len(), before);
    assert!(r.applied_twice().is_empty(), "changed twice: {:?}", r.applied_twice());
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_refused_refresh_exits_4_and_prints_no_secret_at_trace_level() {
    let w = world(120, |g, _| {
        let mut o = OAuthServer::new("app-1", CLIENT_SECRET, "refresh-canary-0", "access-canary-0", 0, 86_399);
        o.refuse = true;
        g.oauth = Some(o);
        g.fault_at(1, GhlFault::ExpireToken);
    });
    let dir = temp_dir("refused");
    let tokens = dir.join("tokens.json");
    let out = run(
        &w,
        &oauth_env(),
        &[
            "--token-file",
            tokens.to_str().unwrap(),
            "tag-sync",
            "--location",
            DEMO_LOCATION,
        ],
    );
    assert_eq!(out.status.code(), Some(4), "{}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("authorize the connection again"), "{stderr}");
    assert!(!tokens.exists(), "nothing rotated, nothing written");
    let g = w.ghl.state.lock().unwrap();
    let refreshes = g.requests.iter().filter(|r| r.url == "/oauth/token").count();
    assert_eq!(refreshes, 1, "a refused refresh is not retried");
    std::fs::remove_dir_all(&dir).ok();
}
