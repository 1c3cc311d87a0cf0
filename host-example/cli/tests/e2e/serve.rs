//! `ghl-rankr serve` end to end: the binary, over loopback, against one
//! fake GHL and one fake Rankr per connection, with schedules of seconds.
//! Each test bounds its waits; none asserts a timing except the stop's
//! grace period, which is the contract under test.

use super::{BIN, CACHE};
use ghl_rankr_testkit::fakes::ghl::{wall_ms, FakePost, GhlFault};
use ghl_rankr_testkit::fakes::server::{FakeResponse, FakeServer, Outcome};
use ghl_rankr_testkit::fakes::{ConnectProxy, GhlFake, GhlState, OAuthServer, RankrFake, RankrState};
use ghl_rankr_testkit::tls::{ServerCert, ServerConfig, TestCa};
use serde_json::Value;
use std::io::{BufRead as _, BufReader, Read as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One GHL location and its Rankr.
pub(super) struct Loc {
    pub(super) name: String,
    pub(super) location: String,
    pub(super) ghl: GhlFake,
    pub(super) rankr: RankrFake,
    pub(super) ghl_token: String,
    pub(super) rankr_key: String,
}

pub(super) fn loc(name: &str, tags: usize) -> Loc {
    loc_with(name, tags, None)
}

/// A location whose fakes serve HTTPS with `tls` when given.
pub(super) fn loc_with(name: &str, tags: usize, tls: Option<Arc<ServerConfig>>) -> Loc {
    let location = format!("loc{name}0000000000000");
    let ghl_token = format!("ghl-canary-{name}");
    let rankr_key = format!("rankr-canary-{name}");
    Loc {
        name: name.to_string(),
        ghl: GhlFake::start_with(GhlState::seeded(&ghl_token, &location, tags), tls.clone()).unwrap(),
        rankr: RankrFake::start_with(RankrState::new(&rankr_key), tls).unwrap(),
        location,
        ghl_token,
        rankr_key,
    }
}

/// The `[[connection]]` of a location with a token credential.
pub(super) fn connection_toml(l: &Loc, extra: &str) -> String {
    format!(
        "[[connection]]\nname = \"{n}\"\nlocation = \"{loc}\"\nghl_base_url = \"{g}\"\nrankr_base_url = \"{r}\"\nghl_token_env = \"GHL_{N}\"\nrankr_api_key_env = \"RANKR_{N}\"\n{extra}\n",
        n = l.name,
        N = l.name.to_uppercase(),
        loc = l.location,
        g = l.ghl.base_url(),
        r = l.rankr.base_url(),
    )
}

pub(super) const SERVICE: &str =
    "[service]\nlisten = \"127.0.0.1:0\"\nbackoff_initial = \"1s\"\nbackoff_max = \"2s\"\nshutdown_grace = \"3s\"\n";
pub(super) const FAST: &str = "[schedule]\npoll_posts = \"1s\"\ntag_sync = \"1h\"\nstats_daily_at = \"off\"\n";
pub(super) const EVENT_TOKEN: &str = "event-canary-token";
/// The services' encryption key in these tests (base64 of 32 bytes).
pub(super) const TEST_KEY: &str = "dGVzdC1vbmx5LWtleS1kby1ub3QtdXNlLTAxMjM0NTY=";

pub(super) fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ghl-rankr-serve-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A running `serve`, its output collected as it comes.
pub(super) struct Serve {
    pub(super) child: Child,
    pub(super) base: String,
    out: Arc<Mutex<String>>,
}

impl Serve {
    pub(super) fn start(dir: &Path, locs: &[&Loc], extra_env: &[(&str, &str)]) -> Serve {
        let mut c = Command::new(BIN);
        c.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("GHL_RANKR_CACHE_DIR", CACHE)
            .env("RUST_LOG", "trace")
            .env("GHL_RANKR_EVENT_TOKEN", EVENT_TOKEN)
            .env("GHL_RANKR_ENCRYPTION_KEY", TEST_KEY)
            .args(["serve", "--config"])
            .arg(dir.join("connections.toml"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for l in locs {
            c.env(format!("GHL_{}", l.name.to_uppercase()), &l.ghl_token)
                .env(format!("RANKR_{}", l.name.to_uppercase()), &l.rankr_key);
        }
        for (k, v) in extra_env {
            c.env(k, v);
        }
        let mut child = c.spawn().unwrap();
        let out = Arc::new(Mutex::new(String::new()));
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        stdout.read_line(&mut first).unwrap();
        let Some(base) = first.split("listening on ").nth(1).map(|s| s.trim().to_string()) else {
            let mut err = String::new();
            let _ = child.stderr.take().unwrap().read_to_string(&mut err);
            panic!("serve did not start: {first}\n{err}");
        };
        out.lock().unwrap().push_str(&first);
        for stream in [
            Box::new(stdout) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let out = out.clone();
            std::thread::spawn(move || {
                let mut r = BufReader::new(stream);
                let mut line = String::new();
                while r.read_line(&mut line).is_ok_and(|n| n > 0) {
                    out.lock().unwrap().push_str(&line);
                    line.clear();
                }
            });
        }
        let s = Serve { child, base, out };
        s.wait("ready", || s.get("/readyz").0 == 200);
        s
    }

    /// A read with the operator token the harness gives every service.
    pub(super) fn get(&self, path: &str) -> (u16, String) {
        match ureq::get(format!("{}{path}", self.base))
            .header("Authorization", &format!("Bearer {EVENT_TOKEN}"))
            .config()
            .http_status_as_error(false)
            .build()
            .call()
        {
            Ok(mut r) => (r.status().as_u16(), r.body_mut().read_to_string().unwrap_or_default()),
            Err(_) => (0, String::new()),
        }
    }

    pub(super) fn post(&self, path: &str, token: &str, body: &str) -> (u16, Value) {
        let r = ureq::post(format!("{}{path}", self.base))
            .config()
            .http_status_as_error(false)
            .build()
            .header("Authorization", &format!("Bearer {token}"))
            .send(body.as_bytes());
        let mut r = r.unwrap();
        let status = r.status().as_u16();
        (
            status,
            serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap(),
        )
    }

    pub(super) fn runs(&self, connection: &str) -> Vec<Value> {
        let (status, body) = self.get(&format!("/runs?connection={connection}&limit=1000"));
        assert_eq!(status, 200, "{body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        let mut runs = v["runs"].as_array().unwrap().clone();
        runs.reverse();
        runs
    }

    pub(super) fn metric(&self, name: &str, labels: &str) -> f64 {
        let (_, text) = self.get("/metrics");
        let key = format!("{name}{{{labels}}} ");
        text.lines()
            .find_map(|l| l.strip_prefix(&key))
            .map_or(0.0, |v| v.trim().parse().unwrap())
    }

    /// Waits up to 60 s for `cond`; fails with the service's output.
    pub(super) fn wait(&self, what: &str, cond: impl Fn() -> bool) {
        let start = Instant::now();
        while !cond() {
            if start.elapsed() > Duration::from_secs(60) {
                let out = self.out.lock().unwrap();
                let tail: String = out
                    .lines()
                    .rev()
                    .take(40)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect::<Vec<_>>()
                    .join("\n");
                panic!("timed out waiting for {what}; the service said:\n{tail}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub(super) fn output(&self) -> String {
        self.out.lock().unwrap().clone()
    }

    pub(super) fn signal(&self, signal: &str) {
        let ok = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok);
    }

    /// SIGTERM, then the exit status and how long it took.
    pub(super) fn stop(mut self) -> (std::process::ExitStatus, Duration, String) {
        let start = Instant::now();
        self.signal("-TERM");
        let status = self.child.wait().unwrap();
        let took = start.elapsed();
        std::thread::sleep(Duration::from_millis(100));
        let out = self.output();
        (status, took, out)
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(super) fn write_config(dir: &Path, text: &str) {
    std::fs::write(dir.join("connections.toml"), text).unwrap();
}

/// Adds posts created now, each with two of the location's tags.
pub(super) fn add_posts(l: &Loc, prefix: &str, n: usize) -> Vec<(String, Vec<String>)> {
    add_posts_to(&mut l.ghl.state.lock().unwrap(), prefix, n)
}

pub(super) fn add_posts_to(g: &mut GhlState, prefix: &str, n: usize) -> Vec<(String, Vec<String>)> {
    let mut added = Vec::new();
    for i in 0..n {
        let id = format!("{prefix}{i:04}{}", "0".repeat(24 - prefix.len() - 4));
        let tags = [format!("tag{:05}", 1 + i % 5), format!("tag{:05}", 10 + i % 3)];
        g.add_post(FakePost::new(id.clone(), wall_ms(), &[&tags[0], &tags[1]]));
        added.push((id, tags.to_vec()));
    }
    added
}

/// The posts are in Rankr, and the runs that put them there are recorded
/// (a run's outcome commits just after its last write).
pub(super) fn settled(s: &Serve, l: &Loc, posts: &[(String, Vec<String>)]) -> bool {
    synced(l, posts)
        && s.runs(&l.name)
            .iter()
            .filter(|r| r["trigger"] == "queue")
            .all(|r| r["outcome"] != "running")
}

pub(super) fn synced(l: &Loc, posts: &[(String, Vec<String>)]) -> bool {
    let r = l.rankr.state.lock().unwrap();
    posts.iter().all(|(id, tags)| r.post_tags.get(id) == Some(tags))
}

/// No write changed a tag twice, and no body came under two keys.
pub(super) fn no_duplicates(l: &Loc) {
    let r = l.rankr.state.lock().unwrap();
    assert!(
        r.applied_twice().is_empty(),
        "{}: written twice: {:?}",
        l.name,
        r.applied_twice()
    );
    assert_eq!(
        r.bodies_with_several_keys(),
        0,
        "{}: a body was sent under two keys",
        l.name
    );
    let mut puts = std::collections::BTreeMap::new();
    for e in r
        .ledger
        .iter()
        .filter(|e| e.method == "PUT" && !e.replayed && e.status < 300)
    {
        *puts.entry(e.path.clone()).or_insert(0) += 1;
    }
    assert!(
        puts.values().all(|n| *n == 1),
        "{}: a post's tags were set twice: {puts:?}",
        l.name
    );
}

pub(super) fn no_secrets(text: &str, locs: &[&Loc]) {
    for l in locs {
        for secret in [&l.ghl_token, &l.rankr_key] {
            assert!(!text.contains(secret.as_str()), "{secret} was printed");
        }
    }
    assert!(!text.contains(EVENT_TOKEN), "the event token was printed");
    assert!(
        !text.to_ascii_lowercase().contains("bearer "),
        "an auth header was printed"
    );
}

pub(super) fn first_poll_done(s: &Serve, l: &Loc) -> bool {
    s.runs(&l.name)
        .iter()
        .any(|r| r["operation"] == "new-posts" && r["outcome"] == "ok")
}

#[test]
fn serve_keeps_three_locations_in_step_once_each() {
    let locs = [loc("a", 30), loc("b", 30), loc("c", 30)];
    let d = dir("steady");
    let mut config = format!("{SERVICE}{FAST}");
    for l in &locs {
        config += &connection_toml(l, "");
    }
    write_config(&d, &config);
    let refs: Vec<&Loc> = locs.iter().collect();
    let s = Serve::start(&d, &refs, &[]);
    for l in &locs {
        s.wait("the baselines", || first_poll_done(&s, l));
    }
    let added: Vec<_> = locs
        .iter()
        .map(|l| (wall_ms(), add_posts(l, &format!("{}p", l.name), 3)))
        .collect();
    for (l, (_, posts)) in locs.iter().zip(&added) {
        // In Rankr, and the runs that put them there recorded (a run's
        // outcome commits just after its last write).
        s.wait("the new posts in Rankr", || settled(&s, l, posts));
    }
    // Each post was found by one of the two polls that followed it (a poll
    // under way when they were added counts as the first).
    for (l, (added_ms, posts)) in locs.iter().zip(&added) {
        let runs = s.runs(&l.name);
        let polls_after: Vec<&Value> = runs
            .iter()
            .filter(|r| r["operation"] == "new-posts" && ms(r, "ended_at") >= *added_ms)
            .collect();
        let finder = polls_after
            .iter()
            .position(|r| r["counters"]["posts_total"].as_u64().unwrap_or(0) > 0)
            .expect("a poll found the posts");
        assert!(
            finder < 2,
            "{}: found by poll {} after they were added",
            l.name,
            finder + 1
        );
        let post_runs: Vec<&Value> = runs.iter().filter(|r| r["trigger"] == "queue").collect();
        assert_eq!(post_runs.len(), posts.len(), "{}: one tag-sync per post", l.name);
        assert!(post_runs.iter().all(|r| r["outcome"] == "ok"));
        // The post path: each reads its post's two tags, not the location's 30.
        assert!(post_runs.iter().all(|r| r["counters"]["fetched"] == 2), "{post_runs:?}");
        no_duplicates(l);
    }

    // The endpoints answer, and /metrics agrees with the fakes' ledgers.
    assert_eq!(s.get("/healthz").0, 200);
    assert_eq!(s.get("/readyz").0, 200);
    let (status, page) = s.get("/");
    assert_eq!(status, 200);
    for l in &locs {
        assert!(page.contains(&format!("<td>{}</td>", l.name)), "{page}");
    }
    for l in &locs {
        s.wait("/metrics equal to the ledgers", || metrics_match_ledgers(&s, l));
    }

    // Tokens: a private database, and no secret in the trace-level output
    // or the run history.
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(d.join("ghl-rankr.db")).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let (_, runs) = s.get("/runs?limit=1000");
    no_secrets(&runs, &refs);
    let (status, took, out) = s.stop();
    assert!(status.success(), "{out}");
    assert!(took < Duration::from_secs(3), "stopped in {took:?}");
    assert!(
        out.contains("TRACE") || out.contains("DEBUG"),
        "the output is at trace level"
    );
    no_secrets(&out, &refs);
}

#[test]
fn serve_trusts_the_ca_of_its_settings_and_goes_through_the_proxy() {
    let ca = TestCa::new("ghl-rankr serve CA").unwrap();
    let l = loc_with("t", 20, Some(ca.server(ServerCert::Loopback).unwrap()));
    let d = dir("tls");
    std::fs::write(d.join("ca.pem"), ca.pem()).unwrap();
    // `ca_cert` is relative to the connections file.
    write_config(
        &d,
        &format!(
            "{SERVICE}{FAST}[settings]\nca_cert = \"ca.pem\"\n{}",
            connection_toml(&l, "")
        ),
    );
    let creds = ("serve-proxy-user", "serve-proxy-canary-pw");
    let proxy = ConnectProxy::start(Some(creds)).unwrap();
    let s = Serve::start(&d, &[&l], &[("HTTPS_PROXY", &proxy.url(Some(creds)))]);
    s.wait("the baseline", || first_poll_done(&s, &l));
    let posts = add_posts(&l, "tp", 2);
    s.wait("the new posts in Rankr", || settled(&s, &l, &posts));
    // Every connection to either fake was a tunnel through the proxy.
    let tunnels = proxy.tunnels();
    let mut seen = tunnels.clone();
    seen.sort();
    seen.dedup();
    let mut want = vec![
        l.ghl.base_url().trim_start_matches("https://").to_string(),
        l.rankr.base_url().trim_start_matches("https://").to_string(),
    ];
    want.sort();
    assert_eq!(seen, want);
    assert_eq!(tunnels.len(), l.ghl.server.connections() + l.rankr.server.connections());
    let (status, _, out) = s.stop();
    assert!(status.success(), "{out}");
    assert!(
        out.contains("http://[redacted]@127.0.0.1:"),
        "the proxy in the log, redacted"
    );
    no_secrets(&out, &[&l]);
    for secret in [
        "serve-proxy-canary-pw",
        "c2VydmUtcHJveHktdXNlcjpzZXJ2ZS1wcm94eS1jYW5hcnktcHc=",
    ] {
        assert!(!out.contains(secret), "the proxy's credentials were printed");
    }
}

/// Sums a metric's series of one connection.
fn metric_sum(text: &str, name: &str, connection: &str, extra: &str) -> u64 {
    let label = format!("connection=\"{connection}\"");
    text.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")) && l.contains(&label) && l.contains(extra))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

/// Requests and items written, by /metrics and by the fakes, when no
/// request is in flight (the ledgers did not move across the scrape).
fn metrics_match_ledgers(s: &Serve, l: &Loc) -> bool {
    let ledgers = || {
        let g = l.ghl.state.lock().unwrap().requests.len() as u64;
        let r = l.rankr.state.lock().unwrap();
        let items: usize = r
            .ledger
            .iter()
            .filter(|e| e.status < 300 && !e.replayed)
            .map(|e| e.items)
            .sum();
        (g, u64::from(r.requests), items as u64)
    };
    let before = ledgers();
    std::thread::sleep(Duration::from_millis(200));
    let (_, text) = s.get("/metrics");
    let after = ledgers();
    let metrics = (
        metric_sum(&text, "ghl_rankr_requests_total", &l.name, "service=\"ghl\""),
        metric_sum(&text, "ghl_rankr_requests_total", &l.name, "service=\"rankr\""),
        metric_sum(&text, "ghl_rankr_items_written_total", &l.name, ""),
    );
    if before == after && metrics != after {
        eprintln!(
            "{}: /metrics (ghl requests, rankr requests, items) = {metrics:?}, ledgers = {after:?}",
            l.name
        );
    }
    before == after && metrics == after
}

fn started_ms(run: &Value) -> u64 {
    ms(run, "started_at")
}

/// A run's instant, in ms; an instant still to come (a run under way has
/// no end yet) is later than any.
fn ms(run: &Value, key: &str) -> u64 {
    let text = run[key].as_str().unwrap_or("");
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map_or(u64::MAX, |t| (t.unix_timestamp_nanos() / 1_000_000) as u64)
}

/// Adds posts and, in the same breath (no call can come between), makes
/// the fake GHL's API call number `after` from now hang for `secs`.
fn add_posts_then_hang(l: &Loc, prefix: &str, n: usize, after: u32, secs: u64) -> Vec<(String, Vec<String>)> {
    let mut g = l.ghl.state.lock().unwrap();
    let posts = add_posts_to(&mut g, prefix, n);
    g.hang = Duration::from_secs(secs);
    let at = g.api_calls + after;
    g.fault_at(at, GhlFault::Hang);
    posts
}

/// A run that has been going for a while (it hangs on the fake).
fn hanging_run(s: &Serve, l: &Loc) -> bool {
    s.runs(&l.name)
        .iter()
        .any(|r| r["outcome"] == "running" && wall_ms().saturating_sub(started_ms(r)) > 500)
}

#[test]
fn a_kill_9_mid_run_loses_and_duplicates_nothing() {
    let l = loc("k", 40);
    let d = dir("crash");
    write_config(&d, &format!("{SERVICE}{FAST}{}", connection_toml(&l, "")));
    let s = Serve::start(&d, &[&l], &[]);
    s.wait("the baseline", || first_poll_done(&s, &l));
    // The poll finds the posts and queues them; the first post's tag-sync
    // hangs on its read of the post's tags (aimed at by its path, so a poll
    // in flight meanwhile cannot take the fault), and the process dies
    // there.
    let posts = {
        let mut g = l.ghl.state.lock().unwrap();
        let posts = add_posts_to(&mut g, "kp", 4);
        g.hang = Duration::from_secs(30);
        g.fault_on_path("/tags/details", GhlFault::Hang);
        posts
    };
    s.wait("a tag-sync hanging on GHL", || {
        s.runs(&l.name)
            .iter()
            .any(|r| r["trigger"] == "queue" && r["outcome"] == "running")
            && hanging_run(&s, &l)
    });
    let mut s = s;
    s.signal("-KILL");
    let _ = s.child.wait();
    assert!(!synced(&l, &posts), "killed before the posts were synced");
    let s = Serve::start(&d, &[&l], &[]);
    s.wait("every post synced after the restart", || settled(&s, &l, &posts));
    let runs = s.runs(&l.name);
    assert!(
        runs.iter()
            .any(|r| r["outcome"] == "interrupted" && r["trigger"] == "queue"),
        "the killed run is recorded as interrupted"
    );
    let applied = runs
        .iter()
        .filter(|r| r["trigger"] == "queue" && r["outcome"] == "ok")
        .count();
    assert_eq!(applied, posts.len(), "each post's tag-sync succeeded once");
    no_duplicates(&l);
    let (status, _, out) = s.stop();
    assert!(status.success(), "{out}");
}

#[test]
fn sigterm_exits_0_within_the_grace_period_and_the_next_start_resumes() {
    let l = loc("t", 20);
    let d = dir("sigterm");
    write_config(&d, &format!("{SERVICE}{FAST}{}", connection_toml(&l, "")));
    let s = Serve::start(&d, &[&l], &[]);
    s.wait("the baseline", || first_poll_done(&s, &l));
    // The next poll hangs for 20 s, far past the 3 s grace period.
    let posts = add_posts_then_hang(&l, "tp", 2, 1, 20);
    s.wait("a poll hanging on GHL", || hanging_run(&s, &l));
    let (status, took, out) = s.stop();
    assert_eq!(status.code(), Some(0), "{out}");
    // Measured from `kill` to the end of `wait`: a little noise on top.
    assert!(
        took <= Duration::from_millis(3_300),
        "took {took:?} for a 3 s grace period"
    );
    eprintln!("SIGTERM with a run hanging: exit 0 after {took:?} (grace period 3 s)");
    assert!(out.contains("stopping"), "{out}");
    let s = Serve::start(&d, &[&l], &[]);
    s.wait("the posts synced after the restart", || synced(&l, &posts));
    assert!(s.runs(&l.name).iter().any(|r| r["outcome"] == "interrupted"));
    no_duplicates(&l);
}

/// A webhook receiver recording what it is sent.
pub(super) fn webhook() -> (FakeServer, Arc<Mutex<Vec<Value>>>) {
    let got = Arc::new(Mutex::new(Vec::new()));
    let g = got.clone();
    let server = FakeServer::start(move |req| {
        g.lock()
            .unwrap()
            .push(serde_json::from_slice(&req.body).unwrap_or(Value::Null));
        Outcome::Respond(FakeResponse::json(200, &serde_json::json!({"ok": true})))
    })
    .unwrap();
    (server, got)
}

pub(super) fn kinds(alerts: &Arc<Mutex<Vec<Value>>>, connection: &str) -> Vec<String> {
    alerts
        .lock()
        .unwrap()
        .iter()
        .filter(|a| a["connection"] == connection)
        .map(|a| a["kind"].as_str().unwrap_or("").to_string())
        .collect()
}

#[test]
fn a_failing_rankr_alerts_once_recovers_once_and_the_others_keep_syncing() {
    let (bad, good) = (loc("f", 20), loc("g", 20));
    let (hook, alerts) = webhook();
    let d = dir("alerts");
    // The full tag sync every second: it writes to Rankr, which refuses
    // the failing connection's key.
    // The check at start is off: what is tested here is an operation that
    // fails on and on after the connection worked.
    let config = format!(
        "{SERVICE}check_at_start = false\nalert_webhook_url = \"{}/hook\"\n[schedule]\npoll_posts = \"1s\"\ntag_sync = \"1s\"\nstats_daily_at = \"off\"\n{}{}",
        hook.base_url,
        connection_toml(&bad, ""),
        connection_toml(&good, "")
    );
    write_config(&d, &config);
    bad.rankr.state.lock().unwrap().api_key = "rotated-elsewhere".into();
    let s = Serve::start(&d, &[&bad, &good], &[]);
    let failures = || s.runs(&bad.name).iter().filter(|r| r["outcome"] == "failed").count();
    s.wait("four failures", || failures() >= 4);
    assert_eq!(kinds(&alerts, "f"), ["failing"], "one alert for the incident");
    let alert = alerts.lock().unwrap()[0].clone();
    assert_eq!(alert["operation"], "tag-sync");
    let error = alert["error"].as_str().unwrap();
    assert!(
        error.contains("401") && error.ends_with("check RANKR_F"),
        "the hint names the connection's variable: {alert}"
    );
    assert!(alert["first_failure_at"].is_string());
    // Meanwhile the other connection syncs its new posts.
    let posts = add_posts(&good, "gp", 2);
    s.wait("the healthy connection's posts", || synced(&good, &posts));
    assert!(kinds(&alerts, "g").is_empty());
    let (_, page) = s.get("/");
    assert!(page.contains("failing ("), "{page}");
    // Rankr takes the key again: one recovery message.
    bad.rankr.state.lock().unwrap().api_key = bad.rankr_key.clone();
    s.wait("the recovery", || kinds(&alerts, "f").len() == 2);
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(kinds(&alerts, "f"), ["failing", "recovered"]);
    let (status, _, out) = s.stop();
    assert!(status.success(), "{out}");
}

#[test]
fn a_refused_refresh_pauses_the_connection_and_alerts_once() {
    let l = loc("o", 20);
    {
        let mut g = l.ghl.state.lock().unwrap();
        let mut oauth = OAuthServer::new(
            "client-o",
            "client-secret-canary",
            "refresh-canary-1",
            "",
            wall_ms(),
            3600,
        );
        oauth.refuse = true;
        g.oauth = Some(oauth);
    }
    let (hook, alerts) = webhook();
    let d = dir("oauth");
    let connection = format!(
        "[[connection]]\nname = \"o\"\nlocation = \"{}\"\nghl_base_url = \"{}\"\nrankr_base_url = \"{}\"\nghl_refresh_token_env = \"O_REFRESH\"\nghl_client_id_env = \"O_CLIENT\"\nghl_client_secret_env = \"O_SECRET\"\nrankr_api_key_env = \"RANKR_O\"\n",
        l.location,
        l.ghl.base_url(),
        l.rankr.base_url()
    );
    write_config(
        &d,
        &format!(
            "{SERVICE}alert_webhook_url = \"{}/hook\"\n{FAST}{connection}",
            hook.base_url
        ),
    );
    let token_calls = || {
        l.ghl
            .state
            .lock()
            .unwrap()
            .requests
            .iter()
            .filter(|r| r.url.starts_with("/oauth/token"))
            .count()
    };
    let env = |refresh: &'static str| {
        [
            ("O_REFRESH", refresh),
            ("O_CLIENT", "client-o"),
            ("O_SECRET", "client-secret-canary"),
        ]
    };
    let s = Serve::start(&d, &[&l], &env("refresh-canary-1"));
    s.wait("the alert", || !kinds(&alerts, "o").is_empty());
    // Polls are due every second: a paused connection sends nothing.
    std::thread::sleep(Duration::from_millis(2_500));
    assert_eq!(kinds(&alerts, "o"), ["reauthorization-required"]);
    assert_eq!(token_calls(), 1, "the refused refresh token is not sent again");
    let (_, page) = s.get("/");
    assert!(page.contains("paused: reauthorization required"), "{page}");
    assert_eq!(s.metric("ghl_rankr_paused", "connection=\"o\""), 1.0);
    let (status, _, out) = s.stop();
    assert!(status.success(), "{out}");
    for secret in ["refresh-canary-1", "client-secret-canary"] {
        assert!(!out.contains(secret), "{secret} was printed");
    }

    // The same credentials: still paused, nothing sent.
    let s = Serve::start(&d, &[&l], &env("refresh-canary-1"));
    std::thread::sleep(Duration::from_millis(1_500));
    assert_eq!(token_calls(), 1);
    drop(s);

    // A new authorization: it runs again, rotating the pair; the next start
    // uses the rotated pair, not the spent token still in the environment.
    {
        let mut g = l.ghl.state.lock().unwrap();
        let o = g.oauth.as_mut().unwrap();
        o.refuse = false;
        o.refresh_token = "refresh-canary-2".into();
    }
    let s = Serve::start(&d, &[&l], &env("refresh-canary-2"));
    s.wait("a run after the new authorization", || {
        s.runs("o").iter().any(|r| r["outcome"] == "ok")
    });
    drop(s);
    let s = Serve::start(&d, &[&l], &env("refresh-canary-2"));
    let posts = add_posts(&l, "op", 1);
    s.wait("a post synced with the rotated pair", || synced(&l, &posts));
    let g = l.ghl.state.lock().unwrap();
    let o = g.oauth.as_ref().unwrap();
    assert!(
        o.spent_reused.is_empty(),
        "a spent refresh token was sent again: {:?}",
        o.spent_reused
    );
    assert_eq!(o.refreshes, 1);
}

#[test]
fn events_need_the_token_and_run_once_per_event_id() {
    let l = loc("e", 20);
    let d = dir("events");
    write_config(
        &d,
        &format!(
            "{SERVICE}[schedule]\npoll_posts = \"1h\"\ntag_sync = \"1h\"\nstats_daily_at = \"off\"\n{}",
            connection_toml(&l, "")
        ),
    );
    let s = Serve::start(&d, &[&l], &[]);
    // The first full sync, asked for by an event rather than waiting for
    // its schedule.
    let (status, sync) = s.post("/connections/e/run/tag-sync", EVENT_TOKEN, "");
    assert_eq!(status, 202, "{sync}");
    s.wait("the first full sync", || {
        s.runs("e")
            .iter()
            .any(|r| r["id"] == sync["run_id"] && r["outcome"] == "ok")
    });
    l.ghl.state.lock().unwrap().tags[3]["tag"] = Value::String("Renamed in GHL".into());
    let path = "/connections/e/run/tag-details-push";
    let body = r#"{"event_id": "evt-1", "tag_ids": ["tag00003"]}"#;
    assert_eq!(s.post(path, "wrong-token", body).0, 401);
    let (status, first) = s.post(path, EVENT_TOKEN, body);
    assert_eq!(status, 202, "{first}");
    assert_eq!(first["duplicate"], false);
    let (status, again) = s.post(path, EVENT_TOKEN, body);
    assert_eq!(status, 202);
    assert_eq!(again["duplicate"], true);
    assert_eq!(again["run_id"], first["run_id"]);
    s.wait("the event's run", || {
        s.runs("e")
            .iter()
            .any(|r| r["id"] == first["run_id"] && r["outcome"] == "ok")
    });
    std::thread::sleep(Duration::from_millis(500));
    let pushes: Vec<Value> = s
        .runs("e")
        .into_iter()
        .filter(|r| r["operation"] == "tag-details-push")
        .collect();
    assert_eq!(pushes.len(), 1, "{pushes:?}");
    assert_eq!(pushes[0]["counters"]["updated"], 1);
    {
        let r = l.rankr.state.lock().unwrap();
        let renamed = r.tags.values().find(|t| t.input["externalId"] == "tag00003").unwrap();
        assert_eq!(renamed.input["name"], "Renamed in GHL");
    }
    // Bad events say what to fix.
    let (status, e) = s.post(path, EVENT_TOKEN, "{}");
    assert_eq!(status, 422);
    assert!(e["error"].as_str().unwrap().contains("tag_ids"));
    let (status, e) = s.post("/connections/e/run/tag-sink", EVENT_TOKEN, "");
    assert_eq!(status, 404);
    assert!(e["error"].as_str().unwrap().contains("tag-details-push"));
    assert_eq!(s.post("/connections/nope/run/tag-sync", EVENT_TOKEN, "").0, 404);
    assert_eq!(s.post(path, EVENT_TOKEN, r#"{"tag_idz": []}"#).0, 400);

    // A second service on the same database refuses to start.
    let second = Command::new(BIN)
        .env_clear()
        .env("GHL_E", &l.ghl_token)
        .env("RANKR_E", &l.rankr_key)
        .env("GHL_RANKR_CACHE_DIR", CACHE)
        .args(["serve", "--config"])
        .arg(d.join("connections.toml"))
        .output()
        .unwrap();
    assert_eq!(second.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&second.stderr).contains("another `ghl-rankr serve` is using"));
    let (status, _, out) = s.stop();
    assert!(status.success(), "{out}");
    no_secrets(&out, &[&l]);
}

#[test]
fn a_damaged_database_and_a_bad_config_are_refused_and_left_alone() {
    let l = loc("d", 5);
    let d = dir("bad");
    let serve = |env: &[(&str, &str)]| {
        let mut c = Command::new(BIN);
        c.env_clear()
            .env("GHL_D", &l.ghl_token)
            .env("RANKR_D", &l.rankr_key)
            .env("GHL_RANKR_CACHE_DIR", CACHE)
            .args(["serve", "--config"])
            .arg(d.join("connections.toml"));
        for (k, v) in env {
            c.env(k, v);
        }
        c.output().unwrap()
    };
    write_config(&d, &format!("{SERVICE}{FAST}{}", connection_toml(&l, "")));
    // Damaged: not a database at all, then a real one cut in half.
    let db = d.join("ghl-rankr.db");
    std::fs::write(&db, b"this was a database once\n").unwrap();
    let out = serve(&[]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("is not a usable ghl-rankr database") && err.contains("left as it is"),
        "{err}"
    );
    assert_eq!(std::fs::read(&db).unwrap(), b"this was a database once\n");
    std::fs::remove_file(&db).unwrap();
    let s = Serve::start(&d, &[&l], &[]);
    s.wait("a first run", || first_poll_done(&s, &l));
    s.stop();
    let whole = std::fs::read(&db).unwrap();
    let half = &whole[..whole.len() / 2];
    std::fs::write(&db, half).unwrap();
    let out = serve(&[]);
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(std::fs::read(&db).unwrap(), half, "the damaged file is unchanged");

    // Configuration: an unknown key, with its line; an impossible schedule;
    // a secret where a variable name goes; a variable that is not set.
    let cases = [
        (
            format!("{SERVICE}{FAST}{}", connection_toml(&l, "pol_posts = \"5m\"")),
            "line 17: unknown field `pol_posts`",
        ),
        (
            format!("{SERVICE}[schedule]\npoll_posts = \"0s\"\n{}", connection_toml(&l, "")),
            "line 7: poll_posts = \"0s\" is not a possible schedule",
        ),
        (
            format!(
                "{SERVICE}[schedule]\nstats_daily_at = \"25:00\"\n{}",
                connection_toml(&l, "dashboard = \"x\"")
            ),
            "line 7: stats_daily_at = \"25:00\" is not a time of day",
        ),
        (
            format!("{SERVICE}{FAST}{}", connection_toml(&l, "")).replace("\"GHL_D\"", "\"pit-1234-abcd\""),
            "ghl_token_env must name an environment variable",
        ),
    ];
    for (text, expected) in cases {
        write_config(&d, &text);
        let out = serve(&[]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains(expected), "expected {expected:?} in:\n{err}\n{text}");
        assert!(!err.contains("pit-1234-abcd"), "the pasted secret is not echoed");
    }
    write_config(&d, &format!("{SERVICE}{FAST}{}", connection_toml(&l, "")));
    let mut c = Command::new(BIN);
    let out = c
        .env_clear()
        .env("GHL_D", &l.ghl_token)
        .args(["serve", "--config"])
        .arg(d.join("connections.toml"))
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("d: RANKR_D"));
}
