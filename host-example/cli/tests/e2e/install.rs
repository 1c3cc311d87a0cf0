//! The agency install end to end: `serve` with an `[app]` against the fake
//! HighLevel marketplace (consent page, both OAuth grants, installed
//! locations, sub-account tokens, each sub-account's Social Planner; every
//! `/oauth/*` request checked against the official `oauth.json`) and its
//! webhook signer, over loopback.

use super::serve::{add_posts_to, dir, write_config, Serve, EVENT_TOKEN, TEST_KEY};
use super::BIN;
use ghl_rankr_testkit::fakes::ghl::wall_ms;
use ghl_rankr_testkit::fakes::marketplace::{
    consent_redirect, send_webhook, WebhookKeys, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, GHL_SIGNATURE, WH_SIGNATURE,
};
use ghl_rankr_testkit::fakes::{
    AgencyLocation, LocationRefresh, MarketplaceFake, MarketplaceState, RankrFake, RankrState,
};
use serde_json::Value;
use std::collections::BTreeMap;
use std::hash::BuildHasher as _;
use std::path::Path;
use std::time::{Duration, Instant};

const RANKR_KEY: &str = "rankr-canary-agency";

/// The fakes of one test: the marketplace (with every sub-account's Social
/// Planner) and one Rankr.
struct Agency {
    fake: MarketplaceFake,
    rankr: RankrFake,
}

fn agency(state: MarketplaceState) -> Agency {
    Agency {
        fake: MarketplaceFake::start(state).unwrap(),
        rankr: RankrFake::start(RankrState::new(RANKR_KEY)).unwrap(),
    }
}

/// A port free now, for a `public_url` known before the service starts.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `connections.toml` with an `[app]` and its `[template]`, no
/// `[[connection]]`.
fn app_config(port: u16, a: &Agency, list_installs: &str) -> String {
    let keys = WebhookKeys::test();
    format!(
        r#"[service]
listen = "127.0.0.1:{port}"
backoff_initial = "1s"
backoff_max = "2s"
shutdown_grace = "3s"

[schedule]
poll_posts = "1s"
tag_sync = "1h"
stats_daily_at = "off"

[app]
client_id_env = "APP_CLIENT_ID"
client_secret_env = "APP_CLIENT_SECRET"
public_url = "http://127.0.0.1:{port}"
marketplace_url = "{market}"
ghl_base_url = "{api}"
list_installs = "{list_installs}"
webhook_ed25519_key = "{ed}"
webhook_rsa_key = """{rsa}"""

[template]
name = "social-{{location}}"
rankr_api_key_env = "APP_RANKR_KEY"
rankr_base_url = "{rankr}"
"#,
        market = a.fake.marketplace_url(),
        api = a.fake.base_url(),
        ed = keys.ed25519_public_key_base64(),
        rsa = keys.rsa_public_key_pem(),
        rankr = a.rankr.base_url(),
    )
}

const APP_ENV: [(&str, &str); 3] = [
    ("APP_CLIENT_ID", DEMO_CLIENT_ID),
    ("APP_CLIENT_SECRET", DEMO_CLIENT_SECRET),
    ("APP_RANKR_KEY", RANKR_KEY),
];

fn start(d: &Path, a: &Agency, list_installs: &str) -> (Serve, u16) {
    let port = free_port();
    write_config(d, &app_config(port, a, list_installs));
    (Serve::start(d, &[], &APP_ENV), port)
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .proxy(None)
        .build()
        .into()
}

/// A GET with no credential: what HighLevel's redirect makes the browser do.
fn open_get(url: &str) -> (u16, String) {
    let mut r = agent().get(url).call().unwrap();
    (r.status().as_u16(), r.body_mut().read_to_string().unwrap_or_default())
}

/// The admin's browser: `/install` (as the operator), the consent page,
/// back to the callback. The callback's URL and what it answered.
fn connect(s: &Serve) -> (String, u16, String) {
    let r = agent()
        .get(format!("{}/install", s.base))
        .header("Authorization", &format!("Bearer {EVENT_TOKEN}"))
        .call()
        .unwrap();
    assert_eq!(r.status().as_u16(), 302, "/install redirects to the consent page");
    let consent = r.headers().get("location").unwrap().to_str().unwrap().to_string();
    assert!(
        consent.contains("/v2/oauth/chooselocation?response_type=code"),
        "{consent}"
    );
    let callback = consent_redirect(&consent).unwrap();
    let (status, page) = open_get(&callback);
    (callback, status, page)
}

/// The runs of `name`, oldest first; none when it is unknown.
fn runs(s: &Serve, name: &str) -> Vec<Value> {
    let (status, body) = s.get(&format!("/runs?connection={name}&limit=1000"));
    if status != 200 {
        return Vec::new();
    }
    let v: Value = serde_json::from_str(&body).unwrap();
    let mut runs = v["runs"].as_array().unwrap().clone();
    runs.reverse();
    runs
}

fn polled(s: &Serve, name: &str) -> bool {
    runs(s, name)
        .iter()
        .any(|r| r["operation"] == "new-posts" && r["outcome"] == "ok")
}

/// Posts created now in `location`'s Social Planner.
fn add_posts(a: &Agency, location: &str, prefix: &str, n: usize) -> Vec<(String, Vec<String>)> {
    let mut m = a.fake.lock();
    add_posts_to(&mut m.locations.get_mut(location).unwrap().ghl, prefix, n)
}

fn in_rankr(a: &Agency, posts: &[(String, Vec<String>)]) -> bool {
    let r = a.rankr.state.lock().unwrap();
    let ok = posts.iter().all(|(id, tags)| r.post_tags.get(id) == Some(tags));
    if !ok && std::env::var("DEBUG_INSTALL").is_ok() {
        eprintln!("rankr post_tags: {:?}", r.post_tags);
    }
    ok
}

fn db(d: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open_with_flags(d.join("ghl-rankr.db"), rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap()
}

fn count(d: &Path, sql: &str) -> i64 {
    db(d).query_row(sql, [], |r| r.get(0)).unwrap()
}

/// What a webhook or a callback may change, as text.
fn install_tables(d: &Path) -> String {
    let c = db(d);
    let mut out = String::new();
    for (table, order) in [
        ("installs", "location_id"),
        ("webhooks", "webhook_id"),
        ("agencies", "company_id"),
        ("tokens", "connection"),
        ("audit", "id"),
        ("oauth_states", "state"),
    ] {
        let mut stmt = c.prepare(&format!("SELECT * FROM {table} ORDER BY {order}")).unwrap();
        let n = stmt.column_count();
        let rows = stmt
            .query_map([], |r| {
                Ok((0..n)
                    .map(|i| format!("{:?}", r.get_ref(i).unwrap()))
                    .collect::<Vec<_>>()
                    .join("|"))
            })
            .unwrap();
        for row in rows {
            out.push_str(&format!("{table}: {}\n", row.unwrap()));
        }
    }
    out
}

fn hook(s: &Serve, webhook: &ghl_rankr_testkit::fakes::SignedWebhook) -> (u16, Value) {
    let r = send_webhook(&format!("{}/webhooks/ghl", s.base), webhook).unwrap();
    (r.status, serde_json::from_slice(&r.body).unwrap_or(Value::Null))
}

/// `ghl-rankr --config … [--json] connections …`.
fn connections_cli(d: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(BIN)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("GHL_RANKR_ENCRYPTION_KEY", TEST_KEY)
        .arg("--config")
        .arg(d.join("connections.toml"))
        .args(args)
        .output()
        .unwrap()
}

fn listed(d: &Path) -> BTreeMap<String, String> {
    let out = connections_cli(d, &["--json", "connections", "list"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_string(),
                c["state"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn an_agency_connects_once_and_its_sub_accounts_come_and_go() {
    // Three sub-accounts with the app installed, one without.
    let a = agency(MarketplaceState::seeded(4, 15, 3));
    let d = dir("install-agency");
    let (s, _) = start(&d, &a, "1h");

    let (_, status, page) = connect(&s);
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("is connected"), "{page}");
    for l in ["loc00", "loc01", "loc02"] {
        s.wait(&format!("{l} polled"), || polled(&s, &format!("social-{l}")));
    }
    assert!(
        runs(&s, "social-loc03").is_empty(),
        "the sub-account without the app is not a connection"
    );
    {
        let m = a.fake.lock();
        let calls: Vec<(&str, u32)> = m.location_token_calls.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        assert_eq!(
            calls,
            vec![("loc00", 1), ("loc01", 1), ("loc02", 1)],
            "one locationToken call per sub-account"
        );
        assert!(
            m.refusals.is_empty(),
            "every /oauth request is the spec's: {:?}",
            m.refusals
        );
        // Each sub-account's Social Planner saw its own token only: another
        // location's would have been refused before it got there.
        for l in ["loc00", "loc01", "loc02"] {
            assert!(!m.locations[l].ghl.requests.is_empty(), "{l} was called");
        }
    }
    let posts = add_posts(&a, "loc01", "p1x", 3);
    s.wait("loc01's posts in Rankr", || in_rankr(&a, &posts));

    // INSTALL on the fourth: polled within seconds, its posts synced.
    a.fake.lock().install("loc03", wall_ms());
    let sent = Instant::now();
    let (status, body) = hook(&s, &a.fake.signed(|m| m.install_event("loc03")));
    assert_eq!((status, &body["installs"]), (200, &Value::from(1)), "{body}");
    s.wait("loc03 polled", || polled(&s, "social-loc03"));
    eprintln!(
        "INSTALL webhook to the first poll of its sub-account: {} ms",
        sent.elapsed().as_millis()
    );
    let posts = add_posts(&a, "loc03", "p3x", 2);
    s.wait("loc03's posts in Rankr", || in_rankr(&a, &posts));

    // A bulk install of three more.
    {
        let mut m = a.fake.lock();
        for i in 4..7 {
            m.add_location(AgencyLocation::seeded(
                &format!("loc{i:02}"),
                &format!("Sub-account {i}"),
                15,
                true,
            ));
        }
    }
    let sent = Instant::now();
    let (status, body) = hook(
        &s,
        &a.fake.signed(|m| m.bulk_install_event(&["loc04", "loc05", "loc06"])),
    );
    assert_eq!((status, &body["installs"]), (200, &Value::from(3)), "{body}");
    for l in ["loc04", "loc05", "loc06"] {
        s.wait(&format!("{l} polled"), || polled(&s, &format!("social-{l}")));
    }
    eprintln!(
        "bulk INSTALL webhook to the first polls of its 3 sub-accounts: {} ms",
        sent.elapsed().as_millis()
    );
    let posts = add_posts(&a, "loc05", "p5x", 2);
    s.wait("loc05's posts in Rankr", || in_rankr(&a, &posts));

    // UNINSTALL: runs stop, tokens go, history stays.
    let before = runs(&s, "social-loc01").len();
    a.fake.lock().uninstall("loc01");
    let (status, body) = hook(&s, &a.fake.signed(|m| m.uninstall_event("loc01")));
    assert_eq!(status, 200, "{body}");
    s.wait("loc01 stopped", || {
        count(
            &d,
            "SELECT count(*) FROM installs WHERE location_id = 'loc01' AND state = 'stopped'",
        ) == 1
    });
    assert_eq!(
        count(&d, "SELECT count(*) FROM tokens WHERE connection = 'social-loc01'"),
        0,
        "its tokens are gone"
    );
    std::thread::sleep(Duration::from_secs(3));
    let after: Vec<Value> = runs(&s, "social-loc01");
    assert!(after.len() >= before, "its history stays ({} runs)", after.len());
    let settled = after.len();
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(runs(&s, "social-loc01").len(), settled, "nothing more runs for it");

    // `connections` beside the running service.
    let states = listed(&d);
    assert_eq!(
        states.get("social-loc01").map(String::as_str),
        Some("stopped"),
        "{states:?}"
    );
    assert!(states.contains_key("social-loc06"), "{states:?}");
    let out = connections_cli(&d, &["connections", "pause", "social-loc02"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("done by the running service"));
    s.wait("loc02 paused", || {
        listed(&d).get("social-loc02").map(String::as_str) == Some("paused")
    });
    let paused = runs(&s, "social-loc02").len();
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        runs(&s, "social-loc02").len(),
        paused,
        "a paused connection runs nothing"
    );
    let out = connections_cli(&d, &["connections", "resume", "social-loc02"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    s.wait("loc02 runs again", || runs(&s, "social-loc02").len() > paused);
    let out = connections_cli(&d, &["connections", "remove", "social-loc02"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    s.wait("loc02 removed", || {
        listed(&d).get("social-loc02").map(String::as_str) == Some("removed")
    });
    assert_eq!(
        count(&d, "SELECT count(*) FROM tokens WHERE connection = 'social-loc02'"),
        0
    );
    let out = connections_cli(&d, &["connections", "pause", "nobody"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no connection named"));

    // Both kinds alike on the page and in /metrics; no token in the clear.
    let (_, page) = s.get("/");
    assert!(
        page.contains("social-loc06") && !page.contains("social-loc01<"),
        "{page}"
    );
    assert!(
        page.contains("<h2>Installs</h2>")
            && page.contains("social-loc01 (<code>loc01</code>)</td><td>stopped</td><td>uninstalled"),
        "{page}"
    );
    let status = connections_cli(&d, &["status"]);
    let said = String::from_utf8_lossy(&status.stdout);
    assert!(
        said.contains("social-loc01: stopped (uninstalled); its history is kept"),
        "{said}"
    );
    let (_, metrics) = s.get("/metrics");
    assert!(metrics.contains("connection=\"social-loc05\""));
    assert!(
        metrics.contains("ghl_rankr_webhooks_total{outcome=\"accepted\"} 3"),
        "{metrics}"
    );
    let dump = std::fs::read(d.join("ghl-rankr.db")).unwrap();
    let wal = std::fs::read(d.join("ghl-rankr.db-wal")).unwrap_or_default();
    let m = a.fake.lock();
    for token in m.access.keys().chain(m.refresh.keys()).chain(m.spent.iter()) {
        for bytes in [&dump, &wal] {
            assert!(
                !bytes.windows(token.len()).any(|w| w == token.as_bytes()),
                "{token} is in the database in the clear"
            );
        }
        assert!(!s.output().contains(token.as_str()), "{token} was logged");
    }
    assert!(m.spent_reused.is_empty() && m.codes_reused.is_empty());
}

#[test]
fn forged_stale_and_replayed_webhooks_and_a_replayed_state_change_nothing() {
    let a = agency(MarketplaceState::seeded(3, 2, 1));
    let d = dir("install-refusals");
    let (s, _) = start(&d, &a, "1h");
    let (callback, status, page) = connect(&s);
    assert_eq!(status, 200, "{page}");
    s.wait("loc00 polled", || polled(&s, "social-loc00"));
    a.fake.lock().install("loc01", wall_ms());
    let good = a.fake.signed(|m| m.install_event("loc01"));
    let before = install_tables(&d);
    let other_body = {
        let mut b = good.body.clone();
        b.splice(1..1, *b" ");
        b
    };
    let cases = [
        ("a forged Ed25519 signature", good.clone().with_forged_ed25519()),
        (
            "an RSA signature over another body",
            good.clone().without_header(GHL_SIGNATURE).with_body(other_body),
        ),
        (
            "a forged RSA signature",
            good.clone().without_header(GHL_SIGNATURE).with_forged_rsa(),
        ),
        (
            "an unsigned body",
            good.clone().without_header(GHL_SIGNATURE).without_header(WH_SIGNATURE),
        ),
        ("a stale timestamp", {
            let m = a.fake.lock();
            m.webhook_at(m.install_event("loc01"), wall_ms() - 6 * 60 * 1000)
        }),
        (
            "another app's",
            a.fake.signed(|m| {
                let mut e = m.install_event("loc01");
                e["appId"] = "someoneElsesApp0000000".into();
                e
            }),
        ),
    ];
    for (what, w) in &cases {
        let (status, body) = hook(&s, w);
        assert_eq!(status, 401, "{what}: {body}");
        assert_eq!(install_tables(&d), before, "{what} changed the database");
    }
    // The real one acts; the same again is acknowledged and acts once.
    let (status, first) = hook(&s, &good);
    assert_eq!((status, &first["duplicate"]), (200, &Value::Bool(false)), "{first}");
    s.wait("loc01 polled", || polled(&s, "social-loc01"));
    let after_first = install_tables(&d);
    let (status, again) = hook(&s, &good);
    assert_eq!((status, &again["duplicate"]), (200, &Value::Bool(true)), "{again}");
    assert_eq!(
        count(
            &d,
            "SELECT count(*) FROM audit WHERE action = 'install' AND actor = 'webhook'"
        ),
        1,
        "the webhook acted once"
    );
    assert_eq!(a.fake.lock().location_token_calls.get("loc01"), Some(&1));
    assert!(
        install_tables(&d)
            .lines()
            .filter(|l| l.starts_with("webhooks:"))
            .count()
            == after_first.lines().filter(|l| l.starts_with("webhooks:")).count()
    );
    let (_, metrics) = s.get("/metrics");
    assert!(
        metrics.contains("ghl_rankr_webhooks_total{outcome=\"refused\"} 6"),
        "{metrics}"
    );
    assert!(
        metrics.contains("ghl_rankr_webhooks_total{outcome=\"duplicate\"} 1"),
        "{metrics}"
    );

    // The callback's state: replayed, made up, missing, or with an error.
    let agencies = count(&d, "SELECT count(*) FROM agencies");
    let exchanges = a.fake.lock().code_exchanges;
    let (status, page) = open_get(&callback);
    assert_eq!(status, 400);
    assert!(page.contains("used already"), "{page}");
    let made_up = callback.replace("state=", "state=x");
    assert_eq!(open_get(&made_up).0, 400);
    let no_state: String = callback.split("&state=").next().unwrap().to_string();
    assert!(open_get(&no_state).1.contains("has no <code>state</code>"));
    let denied = format!("{}/oauth/callback?error=access_denied&state=whatever", s.base);
    assert_eq!(open_get(&denied).0, 400);
    assert_eq!(a.fake.lock().code_exchanges, exchanges, "no code was sent again");
    assert!(a.fake.lock().codes_reused.is_empty());
    assert_eq!(count(&d, "SELECT count(*) FROM agencies"), agencies);
    // /install needs the operator.
    assert_eq!(open_get(&format!("{}/install", s.base)).0, 401);
}

#[test]
fn agency_and_sub_account_pairs_rotate_and_a_lost_webhook_is_found_by_the_listing() {
    rotation(LocationRefresh::Rotating, "install-rotation");
}

#[test]
fn sub_account_tokens_without_a_refresh_token_are_exchanged_again_before_they_expire() {
    rotation(LocationRefresh::None, "install-renewal");
}

fn rotation(mode: LocationRefresh, name: &str) {
    let mut m = MarketplaceState::seeded(4, 15, 2);
    // Tokens that live seconds: the agency's refreshes at every listing
    // (every 2 s); each sub-account's is renewed before each run, rotated
    // (v3) or exchanged again from the agency's (v2).
    m.access_ttl_secs = 4;
    m.location_token_ttl_secs = 3;
    m.location_refresh = mode;
    let a = agency(m);
    let d = dir(name);
    let (s, _) = start(&d, &a, "2s");
    let (_, status, page) = connect(&s);
    assert_eq!(status, 200, "{page}");
    s.wait("loc00 and loc01 polled", || {
        polled(&s, "social-loc00") && polled(&s, "social-loc01")
    });
    // Installed without a webhook: found by the next listing.
    a.fake.lock().install("loc02", wall_ms());
    s.wait("loc02 found by the listing", || polled(&s, "social-loc02"));
    s.wait("three agency refreshes", || {
        agency_refreshes_locked(&a.fake.lock()) >= 3
    });
    let posts = add_posts(&a, "loc02", "r2x", 2);
    s.wait("loc02's posts in Rankr", || in_rankr(&a, &posts));
    let runs_before = runs(&s, "social-loc00").len();
    s.wait("more runs on renewed tokens", || {
        runs(&s, "social-loc00").len() >= runs_before + 3
    });
    let m = a.fake.lock();
    let location_refreshes = m
        .requests
        .iter()
        .filter(|r| {
            r.url.starts_with("/oauth/token") && String::from_utf8_lossy(&r.body).contains("user_type=Location")
        })
        .count();
    eprintln!(
        "{mode:?}: agency refreshes: {}, sub-account rotations: {location_refreshes}, locationToken calls: {:?}",
        agency_refreshes_locked(&m),
        m.location_token_calls
    );
    match mode {
        LocationRefresh::Rotating => assert!(location_refreshes >= 3, "the sub-accounts' pairs rotated too"),
        LocationRefresh::None => {
            assert_eq!(location_refreshes, 0);
            assert!(
                m.location_token_calls["loc00"] >= 3,
                "renewed by exchanging again: {:?}",
                m.location_token_calls
            );
        }
    }
    let failed: Vec<Value> = runs(&s, "social-loc00")
        .into_iter()
        .filter(|r| r["outcome"] == "failed")
        .collect();
    assert!(failed.is_empty(), "runs failed on a renewed token: {failed:?}");
    assert!(
        m.spent_reused.is_empty(),
        "a spent refresh token was sent again: {:?}",
        m.spent_reused
    );
    assert!(m.refusals.is_empty(), "{:?}", m.refusals);
}

fn agency_refreshes_locked(m: &MarketplaceState) -> usize {
    m.requests
        .iter()
        .filter(|r| r.url.starts_with("/oauth/token") && String::from_utf8_lossy(&r.body).contains("user_type=Company"))
        .count()
}

#[test]
fn a_kill_9_during_a_bulk_install_loses_no_sub_account() {
    // Rounds of a bulk install, each killed at a random moment of its first
    // second; half of each round's sub-accounts are named by the webhook,
    // the other half only installed (their webhook lost with the process).
    let a = agency(MarketplaceState::seeded(0, 0, 0));
    let d = dir("install-kill");
    let (s, port) = start(&d, &a, "1h");
    let (_, status, page) = connect(&s);
    assert_eq!(status, 200, "{page}");
    let mut s = Some(s);
    let mut all = Vec::new();
    for round in 0..5 {
        let ids: Vec<String> = (0..30).map(|i| format!("k{round}x{i:03}")).collect();
        {
            let mut m = a.fake.lock();
            for id in &ids {
                m.add_location(AgencyLocation::seeded(id, id, 2, true));
            }
        }
        let named: Vec<&str> = ids.iter().take(15).map(String::as_str).collect();
        let serve = s.take().unwrap();
        let (status, body) = hook(&serve, &a.fake.signed(|m| m.bulk_install_event(&named)));
        assert_eq!(status, 200, "{body}");
        let delay = std::hash::RandomState::new().hash_one(round) % 1_000;
        std::thread::sleep(Duration::from_millis(delay));
        serve.signal("-KILL");
        drop(serve);
        let quoted: Vec<String> = ids.iter().map(|i| format!("'{i}'")).collect();
        let active = count(
            &d,
            &format!(
                "SELECT count(*) FROM installs WHERE state = 'active' AND location_id IN ({})",
                quoted.join(",")
            ),
        );
        eprintln!(
            "round {round}: killed {delay} ms after the webhook's answer, {active} of its 30 sub-accounts active then"
        );
        all.extend(ids);
        write_config(&d, &app_config(port, &a, "1h"));
        let restarted = Serve::start(&d, &[], &APP_ENV);
        for id in &all {
            restarted.wait(&format!("{id} polled"), || polled(&restarted, &format!("social-{id}")));
        }
        s = Some(restarted);
    }
    let m = a.fake.lock();
    assert_eq!(
        count(&d, "SELECT count(*) FROM installs WHERE state = 'active'"),
        all.len() as i64
    );
    assert_eq!(count(&d, "SELECT count(*) FROM tokens"), all.len() as i64);
    // A sub-account whose token came just before a kill, uncommitted, is
    // asked for once more; none more than that.
    let most = m.location_token_calls.values().max().copied().unwrap_or(0);
    eprintln!(
        "locationToken calls: {} for {} sub-accounts (most for one: {most})",
        m.location_token_calls.values().sum::<u32>(),
        all.len()
    );
    assert!(most <= 2, "{:?}", m.location_token_calls);
    assert!(m.spent_reused.is_empty() && m.refusals.is_empty());
}
