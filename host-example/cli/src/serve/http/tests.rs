//! The HTTP surface over a real database, without sockets: each request's
//! head and body go through [`answer`].

use super::*;
use crate::serve::config::ServeConfig;
use crate::serve::db::Db;
use ghl_rankr_host::net::Network;
use std::cell::Cell;
use std::path::Path;

const TOKEN: &str = "event-token-0123456789";

fn state(name: &str, intake: bool) -> AppState {
    let dir = std::env::temp_dir().join(format!("ghl-rankr-http-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let config = ServeConfig::parse(
        "[[connection]]\nname = \"acme\"\nlocation = \"loc1\"\ndashboard = \"d1\"\nghl_token_env = \"G\"\nrankr_api_key_env = \"R\"\n",
        &dir,
    )
    .unwrap();
    let db = Db::open(&config.database).unwrap();
    let env = move |k: &str| match k {
        "G" | "R" => Some("secret-value".to_string()),
        "GHL_RANKR_EVENT_TOKEN" if intake => Some(TOKEN.to_string()),
        _ => None,
    };
    AppState::new(config, db, Network::direct(), &env).unwrap()
}

/// The reply to `method path` with `authorization` and `body`, and how many
/// times the body was read.
fn ask(state: &AppState, method: &str, url: &str, authorization: Option<&str>, body: &str) -> (Reply, u32) {
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    let reads = Cell::new(0);
    let head = Head {
        method,
        path,
        query,
        authorization,
        idempotency_key: None,
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

fn bearer() -> Option<&'static str> {
    Some("Bearer event-token-0123456789")
}

fn error(reply: &Reply) -> String {
    let v: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
    v["error"].as_str().unwrap().to_string()
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
    let (reply, reads) = ask(&s, "POST", path, Some("Bearer wrong"), r#"{"tag_ids": ["t1"]}"#);
    assert_eq!((reply.status, reads), (401, 0));
    assert!(reply.headers.contains(&("WWW-Authenticate", "Bearer".to_string())));
    // Nothing about the path is said before the token is checked.
    assert_eq!(
        ask(&s, "POST", "/connections/acme/run/teleport", None, "").0.status,
        401
    );
    let off = state("intake-off", false);
    let (reply, reads) = ask(&off, "POST", path, bearer(), "{}");
    assert_eq!((reply.status, reads), (403, 0));
    assert!(error(&reply).contains("GHL_RANKR_EVENT_TOKEN"));
}

#[test]
fn an_event_is_queued_once_per_event_id() {
    let s = state("queued", true);
    let path = "/connections/acme/run/tag-details-push";
    let body = r#"{"event_id": "evt-1", "tag_ids": ["t1"]}"#;
    let (first, reads) = ask(&s, "POST", path, bearer(), body);
    assert_eq!((first.status, reads), (202, 1));
    let first: serde_json::Value = serde_json::from_str(&first.body).unwrap();
    assert_eq!(first["duplicate"], false);
    let (again, _) = ask(&s, "POST", path, bearer(), body);
    let again: serde_json::Value = serde_json::from_str(&again.body).unwrap();
    assert_eq!(
        (again["duplicate"].clone(), again["run_id"].clone()),
        (serde_json::json!(true), first["run_id"].clone())
    );
    let runs = ask(&s, "GET", "/runs?connection=acme", None, "").0;
    let runs: serde_json::Value = serde_json::from_str(&runs.body).unwrap();
    assert_eq!(runs["runs"].as_array().unwrap().len(), 1);
    assert_eq!(runs["runs"][0]["outcome"], "queued");
}

#[test]
fn bad_events_say_what_to_fix() {
    let s = state("bad-events", true);
    let path = "/connections/acme/run/tag-details-push";
    let (reply, _) = ask(&s, "POST", path, bearer(), "{}");
    assert_eq!(reply.status, 422);
    assert!(error(&reply).contains("tag_ids"));
    let (reply, _) = ask(&s, "POST", path, bearer(), r#"{"tag_idz": []}"#);
    assert_eq!(reply.status, 400);
    let (reply, reads) = ask(&s, "POST", path, bearer(), &"x".repeat(events::MAX_BODY + 1));
    assert_eq!((reply.status, reads), (413, 1));
    let (reply, reads) = ask(&s, "POST", "/connections/nope/run/tag-sync", bearer(), "");
    assert_eq!((reply.status, reads), (404, 0));
    let (reply, _) = ask(&s, "POST", "/connections/acme/run/tag-sink", bearer(), "");
    assert_eq!(reply.status, 404);
    assert!(error(&reply).contains("tag-details-push"));
}

#[test]
fn run_history_takes_two_parameters_and_other_methods_are_refused() {
    let s = state("history", true);
    assert_eq!(ask(&s, "GET", "/runs?limit=0", None, "").0.status, 400);
    assert_eq!(ask(&s, "GET", "/runs?colour=red", None, "").0.status, 400);
    assert_eq!(ask(&s, "GET", "/runs?connection=nope", None, "").0.status, 404);
    assert_eq!(ask(&s, "GET", "/runs?connection=acme&limit=5", None, "").0.status, 200);
    let (reply, _) = ask(&s, "DELETE", "/metrics", None, "");
    assert_eq!(reply.status, 405);
    assert!(reply.headers.contains(&("Allow", "GET".to_string())));
    assert_eq!(ask(&s, "GET", "/nothing-here", None, "").0.status, 404);
    let page = ask(&s, "GET", "/", None, "").0;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("acme"));
    assert!(Path::new(s.db.path()).exists());
}
