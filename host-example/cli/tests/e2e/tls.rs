//! HTTPS as users meet it: the fakes serve TLS with certificates made here
//! by a private CA; the binary trusts that CA through `SSL_CERT_FILE`,
//! `--ca-cert` or the `ca_cert` setting, refuses a certificate it should
//! refuse in one attempt, and goes through a CONNECT proxy when the
//! variables say so.

use super::{command, config_file, json_out, no_secrets, World};
use ghl_rankr_testkit::fakes::ghl::{DEMO_LOCATION, DEMO_POST};
use ghl_rankr_testkit::fakes::{ConnectProxy, GhlFake, GhlState, RankrFake, RankrState};
use ghl_rankr_testkit::tls::{ServerCert, TestCa};
use std::path::PathBuf;
use std::process::Output;
use std::time::{Duration, Instant};

/// The fakes over HTTPS, presenting `kind` from `ca`.
fn https_world(ca: &TestCa, kind: ServerCert) -> World {
    let tls = ca.server(kind).unwrap();
    World {
        ghl: GhlFake::start_with(
            GhlState::seeded("ghl-canary-token", DEMO_LOCATION, 120),
            Some(tls.clone()),
        )
        .unwrap(),
        rankr: RankrFake::start_with(RankrState::new("rankr-canary-key"), Some(tls)).unwrap(),
    }
}

/// `ca`'s certificate in a fresh folder.
fn ca_file(ca: &TestCa, name: &str) -> PathBuf {
    let (dir, _) = config_file(name, "");
    let path = dir.join("ca.pem");
    std::fs::write(&path, ca.pem()).unwrap();
    path
}

/// `tag-sync` of the demo post, with these variables and arguments.
fn tag_sync(w: &World, env: &[(&str, &str)], args: &[&str]) -> (Output, Duration) {
    let mut c = command(w, "ghl-canary-token", "rankr-canary-key");
    c.args(["--json", "tag-sync", "--location", DEMO_LOCATION, "--post", DEMO_POST])
        .args(args)
        .env("RUST_LOG", "info");
    for (k, v) in env {
        c.env(k, v);
    }
    let start = Instant::now();
    let out = c.output().unwrap();
    let took = start.elapsed();
    no_secrets(&out);
    (out, took)
}

/// Variables for a run, as name and value.
type Vars<'a> = &'a [(&'a str, &'a str)];

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn a_sync_succeeds_over_https_with_the_ca_from_ssl_cert_file_or_dir_ca_cert_or_the_settings() {
    let ca = TestCa::new("ghl-rankr e2e CA").unwrap();
    let pem = ca_file(&ca, "tls-ok");
    let pem_text = pem.to_str().unwrap();
    let (dir, settings) = config_file("tls-ok-settings", "ca_cert = \"ca.pem\"\n");
    std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
    let settings_text = settings.to_str().unwrap();
    // A folder holding the CA alone, as SSL_CERT_DIR names one.
    let cert_dir = std::env::temp_dir().join(format!("ghl-rankr-e2e-tls-dir-{}", std::process::id()));
    std::fs::create_dir_all(&cert_dir).unwrap();
    std::fs::write(cert_dir.join("private-ca.pem"), ca.pem()).unwrap();
    let cert_dir_text = cert_dir.to_str().unwrap();
    let ways: [(&str, Vars, &[&str]); 4] = [
        ("SSL_CERT_FILE", &[("SSL_CERT_FILE", pem_text)], &[]),
        ("SSL_CERT_DIR", &[("SSL_CERT_DIR", cert_dir_text)], &[]),
        ("--ca-cert", &[], &["--ca-cert", pem_text]),
        (
            "ca_cert (relative to the settings file)",
            &[],
            &["--config", settings_text],
        ),
    ];
    for (way, env, args) in ways {
        let w = https_world(&ca, ServerCert::Loopback);
        assert!(w.ghl.base_url().starts_with("https://"), "{}", w.ghl.base_url());
        let (out, _) = tag_sync(&w, env, args);
        let report = json_out(&out)["report"].clone();
        assert_eq!(report["fetched"], 120, "{way}");
        assert_eq!(report["created"], 120, "{way}");
        assert_eq!(report["post_tags_applied"], 3, "{way}");
        assert_eq!(w.rankr.state.lock().unwrap().tags.len(), 120, "{way}");
    }
}

#[test]
fn an_untrusted_expired_or_misnamed_certificate_fails_after_one_attempt() {
    let ca = TestCa::new("ghl-rankr e2e CA").unwrap();
    let pem = ca_file(&ca, "tls-refused");
    let trusted = [("SSL_CERT_FILE", pem.to_str().unwrap())];
    // The component compiled and cached first, so that each time below is
    // the failure's own, not a cold start's.
    let warm = command(&https_world(&ca, ServerCert::Loopback), "x", "y")
        .arg("describe")
        .output()
        .unwrap();
    assert!(warm.status.success(), "{}", stderr(&warm));
    let cases: [(&str, ServerCert, Vars, &[&str]); 3] = [
        (
            "unknown issuer",
            ServerCert::Loopback,
            &[],
            &["unknown issuer", "--ca-cert FILE", "SSL_CERT_FILE"],
        ),
        (
            "expired",
            ServerCert::Expired,
            &trusted,
            &["expired on 2021-01-01T00:00:00Z", "must renew"],
        ),
        (
            "another name",
            ServerCert::OtherName,
            &trusted,
            &["for another name: other.example, not 127.0.0.1", "base URL"],
        ),
    ];
    for (case, kind, env, says) in cases {
        let w = https_world(&ca, kind);
        let (out, took) = tag_sync(&w, env, &[]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{case}: {err}");
        let line = err.lines().find(|l| l.starts_with("error:")).unwrap_or_default();
        let host = w.ghl.base_url().trim_start_matches("https://");
        assert!(
            line.contains("TLS failed (not retried)") && line.contains(host),
            "{case}: {line}"
        );
        for s in says {
            assert!(line.contains(s), "{case}: `{s}` missing from: {line}");
        }
        // One attempt: one connection, no retry, no wait.
        assert_eq!(w.ghl.server.connections(), 1, "{case}: connections to GHL");
        assert_eq!(w.rankr.server.connections(), 0, "{case}: connections to Rankr");
        assert!(!err.contains("retrying"), "{case}: a retry was logged:\n{err}");
        assert_eq!(err.matches("http exchange").count(), 1, "{case}:\n{err}");
        eprintln!("{case}: 1 attempt, failed in {} ms: {line}", took.as_millis());
    }
}

#[test]
fn a_bad_ca_bundle_or_proxy_setting_is_a_configuration_error() {
    let ca = TestCa::new("ghl-rankr e2e CA").unwrap();
    let w = https_world(&ca, ServerCert::Loopback);
    let (out, _) = tag_sync(&w, &[], &["--ca-cert", "/nonexistent/ca.pem"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("/nonexistent/ca.pem"), "{}", stderr(&out));
    let (out, _) = tag_sync(&w, &[("SSL_CERT_FILE", "/nonexistent/bundle.pem")], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("SSL_CERT_FILE"), "{}", stderr(&out));
    let (out, _) = tag_sync(&w, &[("HTTPS_PROXY", "socks5://u:proxy-canary-pw@127.0.0.1:1")], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("HTTPS_PROXY") && !stderr(&out).contains("proxy-canary-pw"));
    assert_eq!(w.ghl.server.connections(), 0, "nothing was sent");
}

/// What must never be printed: the proxy's password, and its credentials
/// as they go in `Proxy-Authorization`.
fn no_proxy_credentials(out: &Output) {
    for stream in [&out.stdout, &out.stderr] {
        let text = String::from_utf8_lossy(stream);
        for secret in ["proxy-canary-pw", "cHJveHktdXNlcjpwcm94eS1jYW5hcnktcHc="] {
            assert!(!text.contains(secret), "the proxy's credentials were printed:\n{text}");
        }
        assert!(!text.to_ascii_lowercase().contains("proxy-authorization"), "{text}");
    }
}

#[test]
fn requests_go_through_the_proxy_the_variables_name_and_around_it_for_no_proxy() {
    let ca = TestCa::new("ghl-rankr e2e CA").unwrap();
    let pem = ca_file(&ca, "tls-proxy");
    let pem = pem.to_str().unwrap();
    let creds = ("proxy-user", "proxy-canary-pw");
    let proxy = ConnectProxy::start(Some(creds)).unwrap();
    let url = proxy.url(Some(creds));
    let targets = |w: &World| {
        let mut t = vec![
            w.ghl.base_url().trim_start_matches("https://").to_string(),
            w.rankr.base_url().trim_start_matches("https://").to_string(),
        ];
        t.sort();
        t
    };

    // Upper case, then lower case: every connection to either fake is a
    // tunnel through the proxy, whose own address is in no allowlist.
    for var in ["HTTPS_PROXY", "https_proxy"] {
        let w = https_world(&ca, ServerCert::Loopback);
        let before = proxy.tunnels().len();
        let mut c = command(&w, "ghl-canary-token", "rankr-canary-key");
        let out = c
            .args(["--json", "tag-sync", "--location", DEMO_LOCATION, "--post", DEMO_POST])
            .env("SSL_CERT_FILE", pem)
            .env(var, &url)
            .env("RUST_LOG", "trace")
            .output()
            .unwrap();
        no_secrets(&out);
        no_proxy_credentials(&out);
        assert_eq!(json_out(&out)["report"]["created"], 120, "{var}");
        let tunnels = proxy.tunnels()[before..].to_vec();
        let mut seen = tunnels.clone();
        seen.sort();
        seen.dedup();
        assert_eq!(seen, targets(&w), "{var}: tunnels {tunnels:?}");
        assert_eq!(
            tunnels.len(),
            w.ghl.server.connections() + w.rankr.server.connections(),
            "{var}: a connection bypassed the proxy"
        );
    }

    // NO_PROXY names the host: no tunnel.
    let w = https_world(&ca, ServerCert::Loopback);
    let before = proxy.tunnels().len();
    let (out, _) = tag_sync(
        &w,
        &[("SSL_CERT_FILE", pem), ("HTTPS_PROXY", &url), ("NO_PROXY", "127.0.0.1")],
        &[],
    );
    assert_eq!(json_out(&out)["report"]["created"], 120);
    assert_eq!(proxy.tunnels().len(), before, "NO_PROXY: no tunnel");

    // Wrong credentials: the proxy's 407 is final, and says so.
    let w = https_world(&ca, ServerCert::Loopback);
    let wrong = proxy.url(Some(("proxy-user", "not-the-proxy-canary-pw")));
    let (out, _) = tag_sync(&w, &[("SSL_CERT_FILE", pem), ("HTTPS_PROXY", &wrong)], &[]);
    no_proxy_credentials(&out);
    assert!(!stderr(&out).contains("not-the-proxy-canary-pw"), "{}", stderr(&out));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("407") && stderr(&out).contains("credentials"),
        "{}",
        stderr(&out)
    );
    assert_eq!(proxy.refused().len(), 1, "one attempt: {:?}", proxy.refused());
    assert_eq!(w.ghl.server.connections(), 0);
}
