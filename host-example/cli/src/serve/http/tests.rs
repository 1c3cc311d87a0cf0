//! The HTTP surface over a real database, without sockets: each request's
//! head and body go through [`answer`], as the server sends them.

use super::*;
use crate::serve::audit::Action;
use crate::serve::config::ServeConfig;
use crate::serve::db::Db;
use crate::serve::state::Command;
use ghl_rankr_host::net::Network;
use serde_json::Value;
use std::cell::Cell;
use std::sync::atomic::Ordering;
use std::sync::mpsc;

const EVENTS: &str = "event-token-0123456789";
const VIEWER: &str = "viewer-token-0123456789";
const OPERATOR: &str = "operator-token-0123456789";

const CONNECTION: &str =
    "[[connection]]\nname = \"acme\"\nlocation = \"loc1\"\ndashboard = \"d1\"\nghl_token_env = \"G\"\nrankr_api_key_env = \"R\"\n";
const ACCESS: &str = "[[access]]\nname = \"grafana\"\nrole = \"viewer\"\ntoken_env = \"V\"\n[[access]]\nname = \"alice\"\nrole = \"operator\"\ntoken_env = \"O\"\n";

struct Fixture {
    state: AppState,
    commands: mpsc::Receiver<Command>,
}

/// A service of one connection; `extra` goes into the file, `intake` sets
/// the event token.
fn fixture(name: &str, extra: &str, intake: bool) -> Fixture {
    let dir = std::env::temp_dir().join(format!("ghl-rankr-http-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let config = ServeConfig::parse(&format!("{extra}{CONNECTION}"), &dir).unwrap();
    let db = Db::open(&config.database, None).unwrap();
    let env = move |k: &str| match k {
        "G" | "R" => Some("secret-value".to_string()),
        "V" => Some(VIEWER.to_string()),
        "O" => Some(OPERATOR.to_string()),
        "GHL_RANKR_EVENT_TOKEN" if intake => Some(EVENTS.to_string()),
        _ => None,
    };
    let (state, channels) = AppState::new(config, db, Network::direct(), &env).unwrap();
    Fixture {
        state,
        commands: channels.commands,
    }
}

fn state(name: &str, intake: bool) -> AppState {
    fixture(name, "", intake).state
}

/// The reply to `method url` with `token` and `body`, and how many times
/// the body was read.
fn ask(state: &AppState, method: &str, url: &str, token: Option<&str>, body: &str) -> (Reply, u32) {
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    let reads = Cell::new(0);
    let authorization = token.map(|t| format!("Bearer {t}"));
    let head = Head {
        method,
        path,
        query,
        authorization: authorization.as_deref(),
        peer: Some(([127, 0, 0, 1], 40000).into()),
        ..Head::default()
    };
    let reply = answer(state, &head, &mut |limit| {
        reads.set(reads.get() + 1);
        if body.len() > limit {
            return Err(BodyError::TooLarge { limit });
        }
        Ok(body.as_bytes().to_vec())
    });
    (reply, reads.get())
}

fn error(reply: &Reply) -> String {
    let v: Value = serde_json::from_str(&reply.body).unwrap();
    v["error"].as_str().unwrap().to_string()
}

fn json(reply: &Reply) -> Value {
    serde_json::from_str(&reply.body).unwrap()
}

#[test]
fn the_probes_answer_without_a_token() {
    let s = state("probes", true);
    assert_eq!(ask(&s, "GET", "/healthz", None, "").0.status, 200);
    let ready = ask(&s, "GET", "/readyz", None, "").0;
    assert_eq!((ready.status, ready.body.as_str()), (200, "ready\n"));
    s.stopping.store(true, Ordering::SeqCst);
    assert_eq!(ask(&s, "GET", "/readyz", None, "").0.status, 503);
}

#[test]
fn an_event_is_refused_before_its_body_is_read_without_the_token() {
    let s = state("refused", true);
    let path = "/connections/acme/run/tag-details-push";
    let (reply, reads) = ask(&s, "POST", path, Some("wrong"), r#"{"tag_ids": ["t1"]}"#);
    assert_eq!((reply.status, reads), (401, 0));
    assert!(reply.headers.contains(&("WWW-Authenticate", "Bearer".to_string())));
    // Nothing about the path is said before the token is checked.
    assert_eq!(
        ask(&s, "POST", "/connections/acme/run/teleport", None, "").0.status,
        401
    );
    let off = state("intake-off", false);
    let (reply, reads) = ask(&off, "POST", path, Some(EVENTS), "{}");
    assert_eq!((reply.status, reads), (403, 0));
    assert!(error(&reply).contains("GHL_RANKR_EVENT_TOKEN"));
}

#[test]
fn an_event_is_queued_once_per_event_id_and_audited_with_the_tokens_name() {
    let s = state("queued", true);
    let path = "/connections/acme/run/tag-details-push";
    let body = r#"{"event_id": "evt-1", "tag_ids": ["t1"]}"#;
    let (first, reads) = ask(&s, "POST", path, Some(EVENTS), body);
    assert_eq!((first.status, reads), (202, 1));
    let first = json(&first);
    assert_eq!(first["duplicate"], false);
    let again = json(&ask(&s, "POST", path, Some(EVENTS), body).0);
    assert_eq!(
        (&again["duplicate"], &again["run_id"]),
        (&Value::Bool(true), &first["run_id"])
    );
    let runs = json(&ask(&s, "GET", "/runs?connection=acme", Some(EVENTS), "").0);
    assert_eq!(runs["runs"].as_array().unwrap().len(), 1);
    assert_eq!(runs["runs"][0]["outcome"], "queued");
    let audit = s.db.audit(10).unwrap();
    assert!(audit.iter().all(|e| e.action == Action::Event && e.actor == "events"));
    assert_eq!(audit[0].target.as_deref(), Some("acme"));
    assert!(!format!("{audit:?}").contains(EVENTS), "no token value in the log");
}

#[test]
fn bad_events_say_what_to_fix() {
    let s = state("bad-events", true);
    let path = "/connections/acme/run/tag-details-push";
    let (reply, _) = ask(&s, "POST", path, Some(EVENTS), "{}");
    assert_eq!(reply.status, 422);
    assert!(error(&reply).contains("tag_ids"));
    let (reply, _) = ask(&s, "POST", path, Some(EVENTS), r#"{"tag_idz": []}"#);
    assert_eq!(reply.status, 400);
    let (reply, reads) = ask(&s, "POST", path, Some(EVENTS), &"x".repeat(route::MAX_EVENT_BODY + 1));
    assert_eq!((reply.status, reads), (413, 1));
    let (reply, reads) = ask(&s, "POST", "/connections/nope/run/tag-sync", Some(EVENTS), "");
    assert_eq!((reply.status, reads), (404, 0));
    let (reply, _) = ask(&s, "POST", "/connections/acme/run/tag-sink", Some(EVENTS), "");
    assert_eq!(reply.status, 404);
    assert!(error(&reply).contains("tag-details-push"));
}

#[test]
fn run_history_takes_two_parameters_and_other_methods_are_refused() {
    let s = state("history", true);
    let t = Some(EVENTS);
    assert_eq!(ask(&s, "GET", "/runs?limit=0", t, "").0.status, 400);
    assert_eq!(ask(&s, "GET", "/runs?colour=red", t, "").0.status, 400);
    assert_eq!(ask(&s, "GET", "/runs?connection=nope", t, "").0.status, 404);
    assert_eq!(ask(&s, "GET", "/runs?connection=acme&limit=5", t, "").0.status, 200);
    let (reply, _) = ask(&s, "DELETE", "/metrics", None, "");
    assert_eq!(reply.status, 405);
    assert!(reply.headers.contains(&("Allow", "GET".to_string())));
    assert_eq!(ask(&s, "GET", "/nothing-here", None, "").0.status, 404);
    let page = ask(&s, "GET", "/", t, "").0;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("acme"));
}

#[test]
fn a_viewer_reads_an_operator_acts_and_no_token_reads_nothing() {
    let s = fixture("roles", ACCESS, false).state;
    for url in ["/", "/runs", "/metrics"] {
        let (reply, _) = ask(&s, "GET", url, None, "");
        assert_eq!(reply.status, 401, "{url}");
        assert_eq!(ask(&s, "GET", url, Some(VIEWER), "").0.status, 200, "{url}");
        assert_eq!(ask(&s, "GET", url, Some(OPERATOR), "").0.status, 200, "{url}");
    }
    // A browser is asked for the page's password.
    let (reply, _) = ask(&s, "GET", "/", None, "");
    assert!(reply
        .headers
        .iter()
        .any(|(n, v)| *n == "WWW-Authenticate" && v.starts_with("Basic")));
    let event = "/connections/acme/run/new-posts";
    let (reply, reads) = ask(&s, "POST", event, Some(VIEWER), "");
    assert_eq!((reply.status, reads), (403, 0));
    assert!(error(&reply).contains("operator"));
    assert_eq!(ask(&s, "POST", event, Some(OPERATOR), "").0.status, 202);
    assert_eq!(ask(&s, "GET", "/audit", Some(VIEWER), "").0.status, 403);
    let audit = json(&ask(&s, "GET", "/audit", Some(OPERATOR), "").0);
    let rows = audit["audit"].as_array().unwrap();
    let refused: Vec<&Value> = rows.iter().filter(|r| r["action"] == "refused-credential").collect();
    // Three anonymous reads, the viewer's event and its /audit.
    assert_eq!(refused.len(), 6, "{rows:?}");
    assert!(refused
        .iter()
        .any(|r| r["actor"] == "grafana" && r["address"] == "127.0.0.1"));
    assert!(rows.iter().any(|r| r["action"] == "event" && r["actor"] == "alice"));
    assert!(!audit.to_string().contains(VIEWER) && !audit.to_string().contains(OPERATOR));
}

#[test]
fn public_status_opens_reading_only() {
    let s = fixture("public", &format!("[service]\npublic_status = true\n{ACCESS}"), false).state;
    assert_eq!(ask(&s, "GET", "/", None, "").0.status, 200);
    assert_eq!(ask(&s, "GET", "/metrics", None, "").0.status, 200);
    assert_eq!(
        ask(&s, "POST", "/connections/acme/run/new-posts", None, "").0.status,
        401
    );
    assert_eq!(ask(&s, "GET", "/audit", None, "").0.status, 401);
}

#[test]
fn the_page_runs_no_script_and_is_framed_by_no_one() {
    let s = state("headers", false);
    let page = ask(&s, "GET", "/", None, "").0;
    let csp = &page
        .headers
        .iter()
        .find(|(n, _)| *n == "Content-Security-Policy")
        .unwrap()
        .1;
    assert!(
        csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert!(!csp.contains("script-src"), "{csp}");
}

#[test]
fn pause_and_resume_go_to_the_scheduler_with_who_asked() {
    let f = fixture("pause", ACCESS, false);
    let s = &f.state;
    let (reply, _) = ask(s, "POST", "/connections/acme/pause", Some(OPERATOR), "");
    assert_eq!(reply.status, 202, "{}", reply.body);
    assert_eq!(
        f.commands.try_recv().unwrap(),
        Command::Pause {
            connection: "acme".into(),
            by: "alice".into()
        }
    );
    assert_eq!(
        ask(s, "POST", "/connections/acme/resume", Some(VIEWER), "").0.status,
        403
    );
    assert_eq!(
        ask(s, "POST", "/connections/nope/resume", Some(OPERATOR), "").0.status,
        404
    );
    assert_eq!(
        ask(s, "POST", "/connections/acme/resume", Some(OPERATOR), "").0.status,
        202
    );
    assert!(matches!(f.commands.try_recv().unwrap(), Command::Resume { .. }));
    let audit = s.db.audit(10).unwrap();
    assert!(audit.iter().any(|e| e.action == Action::Pause && e.actor == "alice"));
    assert!(audit.iter().any(|e| e.action == Action::Resume && e.actor == "alice"));
}
