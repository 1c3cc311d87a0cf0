//! `serve`'s security end to end: tokens sealed at rest (the key, a wrong
//! or missing one, rotation, a plain database sealed on its first start),
//! roles and the audit log on the HTTP surface, and a surface that no
//! request can crash and no slow client can hold up.

use super::serve::{
    add_posts, connection_toml, dir, first_poll_done, loc, synced, write_config, Loc, Serve, EVENT_TOKEN, FAST,
    SERVICE, TEST_KEY,
};
use super::{BIN, CACHE};
use ghl_rankr_testkit::fakes::ghl::wall_ms;
use ghl_rankr_testkit::fakes::OAuthServer;
use serde_json::Value;
use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const VIEWER: &str = "viewer-canary-token";
const OPERATOR_A: &str = "operator-canary-a";
const OPERATOR_B: &str = "operator-canary-b";
const ACCESS: &str = "[[access]]\nname = \"grafana\"\nrole = \"viewer\"\ntoken_env = \"T_VIEWER\"\n[[access]]\nname = \"alice\"\nrole = \"operator\"\ntoken_env = \"T_ALICE\"\n[[access]]\nname = \"bob\"\nrole = \"operator\"\ntoken_env = \"T_BOB\"\n";
const TOKENS: [(&str, &str); 3] = [("T_VIEWER", VIEWER), ("T_ALICE", OPERATOR_A), ("T_BOB", OPERATOR_B)];

/// A location whose GHL speaks OAuth: the pair starts from `refresh-<name>-1`.
fn oauth_loc(name: &str) -> Loc {
    let l = loc(name, 20);
    l.ghl.state.lock().unwrap().oauth = Some(OAuthServer::new(
        &format!("client-{name}"),
        &format!("client-secret-{name}"),
        &format!("refresh-{name}-1"),
        "",
        wall_ms(),
        3600,
    ));
    l
}

fn oauth_toml(l: &Loc) -> String {
    let n = l.name.to_uppercase();
    format!(
        "[[connection]]\nname = \"{}\"\nlocation = \"{}\"\nghl_base_url = \"{}\"\nrankr_base_url = \"{}\"\nghl_refresh_token_env = \"{n}_REFRESH\"\nghl_client_id_env = \"{n}_CLIENT\"\nghl_client_secret_env = \"{n}_SECRET\"\nrankr_api_key_env = \"RANKR_{n}\"\n",
        l.name,
        l.location,
        l.ghl.base_url(),
        l.rankr.base_url()
    )
}

fn oauth_env(l: &Loc) -> Vec<(String, String)> {
    let n = l.name.to_uppercase();
    vec![
        (format!("{n}_REFRESH"), format!("refresh-{}-1", l.name)),
        (format!("{n}_CLIENT"), format!("client-{}", l.name)),
        (format!("{n}_SECRET"), format!("client-secret-{}", l.name)),
    ]
}

/// Every token the fake GHL of `l` issued or was given.
fn issued(l: &Loc) -> Vec<String> {
    let g = l.ghl.state.lock().unwrap();
    let o = g.oauth.as_ref().unwrap();
    let mut all: Vec<String> = o.access.keys().cloned().collect();
    all.push(o.refresh_token.clone());
    all.extend(o.spent.iter().cloned());
    all
}

/// The database file and its WAL, as bytes.
fn bytes_at_rest(db: &Path) -> Vec<u8> {
    let mut bytes = std::fs::read(db).unwrap();
    let mut wal = db.as_os_str().to_os_string();
    wal.push("-wal");
    bytes.extend(std::fs::read(PathBuf::from(wal)).unwrap_or_default());
    bytes
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// `ghl-rankr` with `args` and `env`, waited for.
fn cli(dir: &Path, args: &[&str], env: &[(String, String)]) -> Output {
    let mut c = Command::new(BIN);
    c.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("GHL_RANKR_CACHE_DIR", CACHE)
        .arg("--config")
        .arg(dir.join("connections.toml"))
        .args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn pairs(env: &[(&str, &str)]) -> Vec<(String, String)> {
    env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[test]
fn tokens_are_sealed_at_rest_a_wrong_or_missing_key_is_refused_and_the_key_rotates() {
    let (s_loc, t_loc) = (oauth_loc("s"), oauth_loc("t"));
    let d = dir("sealed");
    write_config(
        &d,
        &format!("{SERVICE}{FAST}{}{}", oauth_toml(&s_loc), oauth_toml(&t_loc)),
    );
    let mut env: Vec<(String, String)> = oauth_env(&s_loc).into_iter().chain(oauth_env(&t_loc)).collect();
    env.push(("RANKR_S".into(), s_loc.rankr_key.clone()));
    env.push(("RANKR_T".into(), t_loc.rankr_key.clone()));
    let env_refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let s = Serve::start(&d, &[], &env_refs);
    s.wait("the first polls (baselines)", || {
        first_poll_done(&s, &s_loc) && first_poll_done(&s, &t_loc)
    });
    let posts = add_posts(&s_loc, "sealed", 2);
    s.wait("posts synced over OAuth", || synced(&s_loc, &posts));
    let (status, _, out) = s.stop();
    assert!(status.success(), "{out}");
    let db = d.join("ghl-rankr.db");
    let at_rest = bytes_at_rest(&db);
    let tokens: Vec<String> = issued(&s_loc).into_iter().chain(issued(&t_loc)).collect();
    assert!(tokens.len() >= 4, "{tokens:?}");
    for t in &tokens {
        assert!(!contains(&at_rest, t), "{t} is in the database in the clear");
        assert!(!out.contains(t.as_str()), "{t} was printed");
    }
    assert!(!out.contains(TEST_KEY), "the key was printed");

    // No key, and another key: refused, and the file left as it was.
    let before = std::fs::read(&db).unwrap();
    let without: Vec<(String, String)> = env.clone();
    let o = cli(&d, &["serve"], &without);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("holds sealed tokens and no encryption key is given"),
        "{}",
        stderr(&o)
    );
    let other_key = "b3RoZXIta2V5LW9mLXRoaXJ0eS10d28tYnl0ZXMhISE=";
    let mut wrong = env.clone();
    wrong.push(("GHL_RANKR_ENCRYPTION_KEY".into(), other_key.into()));
    let o = cli(&d, &["serve"], &wrong);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("is sealed with the key") && stderr(&o).contains("not with the key given"),
        "{}",
        stderr(&o)
    );
    assert!(!stderr(&o).contains(TEST_KEY) && !stderr(&o).contains(other_key));
    assert_eq!(std::fs::read(&db).unwrap(), before, "byte for byte");

    // A sealed pair copied onto the other connection does not open there.
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute_batch(
            "UPDATE tokens SET refresh_token = (SELECT refresh_token FROM tokens WHERE connection = 's') WHERE connection = 't'",
        )
        .unwrap();
    }
    let mut keyed = env.clone();
    keyed.push(("GHL_RANKR_ENCRYPTION_KEY".into(), TEST_KEY.into()));
    let keyed_refs: Vec<(&str, &str)> = keyed.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let s = Serve::start(&d, &[], &keyed_refs);
    s.wait("t's run to fail on the moved token", || {
        s.runs("t").iter().any(|r| {
            r["outcome"] == "failed" && r["error"].as_str().unwrap_or("").contains("tokens.refresh_token of t")
        })
    });
    let more = add_posts(&s_loc, "still", 1);
    s.wait("s still syncs", || synced(&s_loc, &more));
    let (status, _, _) = s.stop();
    assert!(status.success());
    // A key rotation will not re-seal what does not open: it says which.
    let new_key = d.join("new.key");
    let o = cli(&d, &["keygen", "--out", new_key.to_str().unwrap()], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = cli(&d, &["rotate-key", "--new-key-file", new_key.to_str().unwrap()], &keyed);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("tokens.refresh_token of t"), "{}", stderr(&o));
    // Authorizing t again (a new refresh token in its variable) replaces
    // the moved pair.
    t_loc.ghl.state.lock().unwrap().oauth.as_mut().unwrap().refresh_token = "refresh-t-2".into();
    for (k, v) in env.iter_mut().chain(keyed.iter_mut()) {
        if k == "T_REFRESH" {
            *v = "refresh-t-2".into();
        }
    }
    let keyed_refs: Vec<(&str, &str)> = keyed.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let s = Serve::start(&d, &[], &keyed_refs);
    let ok_runs = |s: &Serve| s.runs("t").iter().filter(|r| r["outcome"] == "ok").count();
    let before = ok_runs(&s);
    s.wait("t runs again", || ok_runs(&s) > before);
    let (status, _, _) = s.stop();
    assert!(status.success());

    // Rotation: with the service stopped, every token re-sealed; the new
    // key works, the old one is refused.
    let o = cli(&d, &["rotate-key", "--new-key-file", new_key.to_str().unwrap()], &keyed);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("re-sealed 4 tokens"),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let o = cli(&d, &["serve"], &keyed);
    assert_eq!(o.status.code(), Some(2), "the old key no longer opens the database");
    let new_text = std::fs::read_to_string(&new_key).unwrap();
    let mut rotated = env.clone();
    rotated.push(("GHL_RANKR_ENCRYPTION_KEY".into(), new_text.trim().to_string()));
    let rotated_refs: Vec<(&str, &str)> = rotated.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let s = Serve::start(&d, &[], &rotated_refs);
    let after = add_posts(&s_loc, "rotated", 1);
    s.wait("a sync under the new key", || synced(&s_loc, &after));
    drop(s);
    // The rotation is in the audit log, without the keys.
    let o = cli(&d, &["audit", "--json"], &[]);
    let audit: Value = serde_json::from_slice(&o.stdout).unwrap();
    let rows = audit["audit"].as_array().unwrap();
    assert_eq!(
        rows.iter().filter(|r| r["action"] == "key-rotated").count(),
        1,
        "{rows:?}"
    );
    assert!(!audit.to_string().contains(TEST_KEY) && !audit.to_string().contains(new_text.trim()));
    let g = s_loc.ghl.state.lock().unwrap();
    assert!(
        g.oauth.as_ref().unwrap().spent_reused.is_empty(),
        "no spent refresh token re-sent"
    );
}

#[test]
fn a_plain_database_is_sealed_on_its_first_start_and_its_rerun_writes_nothing() {
    let l = loc("p", 20);
    let d = dir("plain");
    // A database as the release before sealing kept it: the pair in the
    // clear, with the state of a sync that already ran.
    write_config(&d, &format!("{SERVICE}{FAST}{}", connection_toml(&l, "")));
    let s = Serve::start(&d, &[&l], &[]);
    s.wait("the first poll (a baseline)", || first_poll_done(&s, &l));
    let posts = add_posts(&l, "plain", 2);
    s.wait("a first sync", || synced(&l, &posts));
    let (status, full) = s.post("/connections/p/run/tag-sync", EVENT_TOKEN, "");
    assert_eq!(status, 202, "{full}");
    s.wait("a first full sync", || {
        s.runs("p")
            .iter()
            .any(|r| r["id"] == full["run_id"] && r["outcome"] == "ok")
    });
    drop(s);
    let db_path = d.join("ghl-rankr.db");
    // From now on the location speaks OAuth, with the pair the old release
    // kept in the clear.
    let (access, refresh) = ("plain-access-token-p".to_string(), "refresh-p-1".to_string());
    l.ghl.state.lock().unwrap().oauth = Some(OAuthServer::new(
        "client-p",
        "client-secret-p",
        &refresh,
        &access,
        wall_ms(),
        3600,
    ));
    {
        use sha2::Digest as _;
        let mut h = sha2::Sha256::new();
        for part in ["client-p", refresh.as_str()] {
            h.update(part.as_bytes());
            h.update([0u8]);
        }
        let seed: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
        let conn = rusqlite::Connection::open(&db_path).unwrap();
        conn.execute(
            "INSERT INTO tokens (connection, access_token, refresh_token, expires_at_ms, scopes, seed, updated_ms) VALUES ('p', ?1, ?2, ?3, '', ?4, 0)",
            rusqlite::params![access, refresh, (wall_ms() + 3_600_000) as i64, seed],
        )
        .unwrap();
    }
    assert!(contains(&bytes_at_rest(&db_path), &refresh));
    let writes = l.rankr.state.lock().unwrap().ledger.len();
    write_config(&d, &format!("{SERVICE}{FAST}{}", oauth_toml(&l)));
    let env = oauth_env(&l);
    let mut env_refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    env_refs.push(("RANKR_P", &l.rankr_key));
    let s = Serve::start(&d, &[], &env_refs);
    let (status, sync) = s.post("/connections/p/run/tag-sync", EVENT_TOKEN, "");
    assert_eq!(status, 202, "{sync}");
    s.wait("the full sync from the sealed state", || {
        s.runs("p")
            .iter()
            .any(|r| r["id"] == sync["run_id"] && r["outcome"] == "ok")
    });
    let (status, _, _) = s.stop();
    assert!(status.success());
    assert!(
        !contains(&bytes_at_rest(&db_path), &refresh),
        "sealed on the first start"
    );
    assert_eq!(
        l.rankr.state.lock().unwrap().ledger.len(),
        writes,
        "the rerun wrote nothing to Rankr"
    );
    let o = cli(&d, &["audit", "--json"], &[]);
    let audit: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(audit["audit"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["action"] == "sealed"));
}

#[test]
fn roles_guard_the_surface_and_the_audit_log_names_who_did_what() {
    let l = loc("r", 10);
    let d = dir("roles");
    write_config(&d, &format!("{SERVICE}{ACCESS}{FAST}{}", connection_toml(&l, "")));
    let s = Serve::start(&d, &[&l], &TOKENS);
    let get = |path: &str, token: Option<&str>| {
        let mut r = ureq::get(format!("{}{path}", s.base));
        if let Some(t) = token {
            r = r.header("Authorization", &format!("Bearer {t}"));
        }
        r.config()
            .http_status_as_error(false)
            .build()
            .call()
            .unwrap()
            .status()
            .as_u16()
    };
    for path in ["/", "/runs", "/metrics"] {
        assert_eq!(get(path, None), 401, "{path}");
        assert_eq!(get(path, Some("wrong-token")), 401, "{path}");
        assert_eq!(get(path, Some(VIEWER)), 200, "{path}");
    }
    assert_eq!(get("/healthz", None), 200);
    let event = "/connections/r/run/new-posts";
    assert_eq!(s.post(event, VIEWER, "").0, 403);
    assert_eq!(s.post(event, OPERATOR_A, "").0, 202);
    assert_eq!(s.post(event, OPERATOR_B, "").0, 202, "both operator tokens work");
    assert_eq!(s.post("/connections/r/pause", OPERATOR_A, "").0, 202);
    let page = || {
        ureq::get(format!("{}/", s.base))
            .header("Authorization", &format!("Bearer {VIEWER}"))
            .call()
            .unwrap()
            .body_mut()
            .read_to_string()
            .unwrap()
    };
    s.wait("the pause", || page().contains("paused by alice"));
    assert_eq!(s.post("/connections/r/resume", OPERATOR_B, "").0, 202);
    let audit: Value = {
        let mut r = ureq::get(format!("{}/audit", s.base))
            .header("Authorization", &format!("Bearer {OPERATOR_A}"))
            .call()
            .unwrap();
        serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap()
    };
    let rows = audit["audit"].as_array().unwrap();
    let one = |action: &str, actor: &str| {
        rows.iter()
            .filter(|r| r["action"] == action && r["actor"] == actor)
            .count()
    };
    assert_eq!(one("event", "alice"), 1, "{rows:?}");
    assert_eq!(one("event", "bob"), 1);
    assert_eq!(one("pause", "alice"), 1);
    assert_eq!(one("resume", "bob"), 1);
    assert_eq!(one("refused-credential", "grafana"), 1, "the viewer's event");
    assert!(rows
        .iter()
        .filter(|r| r["action"] == "refused-credential")
        .all(|r| r["address"] == "127.0.0.1"));
    let text = audit.to_string();
    for t in [VIEWER, OPERATOR_A, OPERATOR_B, "wrong-token"] {
        assert!(!text.contains(t), "{t} is in the audit log");
    }
    drop(s);

    // A listen address others can reach, with no token: refused, unless
    // public_status says it is meant.
    let open = format!("[service]\nlisten = \"0.0.0.0:0\"\n{FAST}{}", connection_toml(&l, ""));
    write_config(&d, &open);
    let env = pairs(&[("GHL_R", &l.ghl_token), ("RANKR_R", &l.rankr_key)]);
    let o = cli(&d, &["serve"], &env);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("reachable from other machines"), "{}", stderr(&o));
    write_config(&d, &open.replace("[service]\n", "[service]\npublic_status = true\n"));
    let s = Serve::start(&d, &[&l], &[]);
    drop(s);
}

/// Sends `bytes` and reads what comes back within `wait`: the status, or
/// none when the connection was closed or said nothing.
fn raw(addr: &str, bytes: &[u8], wait: Duration) -> Option<u16> {
    let mut stream = TcpStream::connect(addr).ok()?;
    stream.set_read_timeout(Some(wait)).ok()?;
    let _ = stream.write_all(bytes);
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = stream.read(&mut buf) {
        if n == 0 {
            break;
        }
        answer.extend_from_slice(&buf[..n]);
        if answer.windows(4).any(|w| w == b"\r\n\r\n") {
            break;
        }
    }
    let text = String::from_utf8_lossy(&answer);
    text.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()
}

/// Sends `bytes`, then ends the connection's sending side: a request cut
/// off where the bytes end.
fn cut(addr: &str, bytes: &[u8]) -> Option<u16> {
    let mut stream = TcpStream::connect(addr).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(3))).ok()?;
    let _ = stream.write_all(bytes);
    let _ = stream.shutdown(std::net::Shutdown::Write);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer);
    text.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()
}

fn healthy(addr: &str) -> bool {
    raw(
        addr,
        b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
        Duration::from_secs(2),
    ) == Some(200)
}

#[test]
fn no_request_however_malformed_ends_the_process() {
    let l = loc("h", 5);
    let d = dir("hostile");
    write_config(&d, &format!("{SERVICE}{FAST}{}", connection_toml(&l, "")));
    let mut s = Serve::start(&d, &[&l], &[]);
    let addr = s.base.trim_start_matches("http://").to_string();
    let bearer = format!("Authorization: Bearer {EVENT_TOKEN}\r\n");
    let routes = [
        "GET /healthz",
        "GET /readyz",
        "GET /metrics",
        "GET /runs",
        "GET /",
        "GET /audit",
        "POST /connections/h/run/tag-sync",
        "POST /connections/h/pause",
        "POST /nowhere",
    ];
    let mut cases: Vec<(String, Vec<u8>)> = Vec::new();
    for route in routes {
        for auth in ["", bearer.as_str()] {
            cases.push((
                format!(
                    "{route} with Content-Length 99999999999 {}",
                    if auth.is_empty() { "" } else { "(token)" }
                ),
                format!("{route} HTTP/1.1\r\nHost: x\r\n{auth}Content-Length: 99999999999\r\n\r\n{{").into_bytes(),
            ));
        }
    }
    for length in ["-5", "abc", "1e3", "99999999999999999999999"] {
        cases.push((
            format!("Content-Length {length}"),
            format!(
                "POST /connections/h/run/tag-sync HTTP/1.1\r\nHost: x\r\n{bearer}Content-Length: {length}\r\n\r\n{{}}"
            )
            .into_bytes(),
        ));
    }
    let flood: String = (0..2000).map(|i| format!("X-Flood-{i}: {i}\r\n")).collect();
    cases.push((
        "2,000 headers".into(),
        format!("GET /healthz HTTP/1.1\r\nHost: x\r\n{flood}\r\n").into_bytes(),
    ));
    cases.push((
        "a body cut off".into(),
        format!("POST /connections/h/run/tag-details-push HTTP/1.1\r\nHost: x\r\n{bearer}Content-Length: 40\r\n\r\n{{\"tag_ids\":").into_bytes(),
    ));
    for path in [
        "/../../etc/passwd",
        "/connections/../run/tag-sync",
        "/%2e%2e/%2e%2e/",
        "/connections/h/run/..%2f..%2f",
    ] {
        cases.push((
            format!("the path {path}"),
            format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").into_bytes(),
        ));
    }
    cases.push((
        "a 1 MB URL".into(),
        format!(
            "GET /runs?connection={} HTTP/1.1\r\nHost: x\r\n\r\n",
            "a".repeat(1 << 20)
        )
        .into_bytes(),
    ));
    cases.push(("not HTTP at all".into(), b"\x16\x03\x01\x02\x00hello\r\n\r\n".to_vec()));
    for (what, bytes) in &cases {
        let status = raw(&addr, bytes, Duration::from_secs(3));
        assert!(
            status.is_none_or(|s| (400..500).contains(&s)),
            "{what}: answered {status:?}"
        );
        assert!(healthy(&addr), "after {what}, /healthz does not answer");
        assert!(s.child.try_wait().unwrap().is_none(), "the process ended after {what}");
    }
    let cut_off = cut(
        &addr,
        format!("POST /connections/h/run/tag-details-push HTTP/1.1\r\nHost: x\r\n{bearer}Content-Length: 40\r\n\r\n{{\"tag_").as_bytes(),
    );
    assert!(
        cut_off.is_none_or(|s| (400..500).contains(&s)),
        "a body cut off: {cut_off:?}"
    );
    assert!(
        healthy(&addr) && s.child.try_wait().unwrap().is_none(),
        "after a body cut off"
    );
    println!(
        "{} hostile requests: each a 4xx or a closed connection; /healthz 200 after each",
        cases.len() + 1
    );
    let (status, _, out) = s.stop();
    assert!(status.success(), "{out}");
    assert!(!out.contains("memory allocation"), "{out}");
}

#[test]
fn a_slow_client_is_cut_off_and_holds_up_no_one() {
    let l = loc("w", 5);
    let d = dir("slow");
    write_config(
        &d,
        &format!("{}request_timeout = \"3s\"\n{FAST}{}", SERVICE, connection_toml(&l, "")),
    );
    let s = Serve::start(&d, &[&l], &[]);
    let addr = s.base.trim_start_matches("http://").to_string();
    // A hundred clients that connect and send nothing.
    let idle: Vec<TcpStream> = (0..100).map(|_| TcpStream::connect(&addr).unwrap()).collect();
    // One client trickles an event body, a byte a second, with a valid token.
    let trickler = {
        let addr = addr.clone();
        std::thread::spawn(move || {
            let mut stream = TcpStream::connect(&addr).unwrap();
            stream.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
            let head = format!(
                "POST /connections/w/run/tag-details-push HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {EVENT_TOKEN}\r\nContent-Length: 64\r\n\r\n"
            );
            stream.write_all(head.as_bytes()).unwrap();
            let started = Instant::now();
            let mut answer = Vec::new();
            let mut buf = [0u8; 1024];
            for _ in 0..30 {
                if stream.write_all(b" ").is_err() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(900));
                match stream.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => answer.extend_from_slice(&buf[..n]),
                    Err(_) => {}
                }
                if !answer.is_empty() {
                    break;
                }
            }
            (started.elapsed(), String::from_utf8_lossy(&answer).into_owned())
        })
    };
    // Meanwhile: probes every 200 ms, and events with a valid token.
    let mut probes = 0;
    let mut within_a_second = 0;
    let mut slowest = Duration::ZERO;
    let mut events = Vec::new();
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(6) {
        let t = Instant::now();
        probes += 1;
        if raw(
            &addr,
            b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
            Duration::from_secs(1),
        ) == Some(200)
        {
            let took = t.elapsed();
            slowest = slowest.max(took);
            if took <= Duration::from_secs(1) {
                within_a_second += 1;
            }
        }
        if probes % 5 == 0 {
            events.push(s.post("/connections/w/run/new-posts", EVENT_TOKEN, "").0);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let (trickled, answer) = trickler.join().unwrap();
    println!(
        "{within_a_second} of {probes} probes answered within 1 s (slowest {} ms); {} events, all {:?}; the trickling client was cut off after {:.1} s with {:?}",
        slowest.as_millis(),
        events.len(),
        events.iter().collect::<std::collections::BTreeSet<_>>(),
        trickled.as_secs_f64(),
        answer.lines().next().unwrap_or("")
    );
    assert_eq!(within_a_second, probes, "every probe answered within a second");
    assert!(events.iter().all(|s| *s == 202), "{events:?}");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        trickled < Duration::from_secs(8),
        "cut off near the 3 s deadline: {trickled:?}"
    );
    drop(idle);
    let (status, _, _) = s.stop();
    assert!(status.success());
}
