//! Hostile components: small core modules written in WAT, wrapped as
//! components of the same `connector` world (wit-component), run by the same
//! `ConnectorEngine` as the real one. Each misbehaves in one way — an
//! infinite loop, a memory bomb, deep recursion, a flood of requests, a
//! flood of sleeps and log lines — and must end with the typed `Runaway`
//! error for that limit, quickly, while the host (this test process) carries
//! on and runs the real component afterwards.

use ghl_rankr_host::clock::SystemClock;
use ghl_rankr_host::engine::ConnectorEngine;
use ghl_rankr_host::http::{Response, TransportError};
use ghl_rankr_host::imports::Env;
use ghl_rankr_host::limits::{Limits, Runaway};
use ghl_rankr_host::types::{Settings, TagSyncEvent};
use ghl_rankr_testkit::ScriptedTransport;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A core module exporting the operations, each running `$behave`.
/// The canonical ABI: the operations take their (large) arguments by
/// pointer and return a pointer; `http.send` takes 9 flat values and a
/// return pointer; `cabi_realloc` is a bump allocator.
fn hostile_module(behave: &str) -> String {
    format!(
        r#"(module
  (import "rankr:ghl-connector/http@0.7.0" "send"
    (func $send (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32)))
  (import "rankr:ghl-connector/host@0.7.0" "sleep" (func $sleep (param i64)))
  (import "rankr:ghl-connector/host@0.7.0" "log" (func $log (param i32 i32 i32 i32 i32)))
  (memory (export "memory") 16)
  (global $bump (mut i32) (i32.const 65536))
  (data (i32.const 16) "https://ghl.test/flood")
  (data (i32.const 64) "hostile component says hello, again and again")
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
    (local $p i32)
    (local.set $p (i32.and
      (i32.add (global.get $bump) (i32.sub (local.get 2) (i32.const 1)))
      (i32.sub (i32.const 0) (local.get 2))))
    (global.set $bump (i32.add (local.get $p) (local.get 3)))
    (if (i32.gt_u (global.get $bump) (i32.mul (memory.size) (i32.const 65536)))
      (then (drop (memory.grow (i32.add (i32.shr_u (local.get 3) (i32.const 16)) (i32.const 1))))))
    (local.get $p))
  (func $recurse (param i32) (result i32)
    (call $recurse (i32.add (local.get 0) (i32.const 1))))
  (func $behave {behave})
  (func (export "rankr:ghl-connector/sync@0.7.0#tag-sync") (param i32) (result i32)
    (call $behave) (unreachable))
  (func (export "rankr:ghl-connector/sync@0.7.0#tag-details-push") (param i32) (result i32)
    (call $behave) (unreachable))
  (func (export "rankr:ghl-connector/sync@0.7.0#stats-sync") (param i32) (result i32)
    (call $behave) (unreachable))
  (func (export "rankr:ghl-connector/sync@0.7.0#new-posts") (param i32) (result i32)
    (call $behave) (unreachable))
  (func (export "rankr:ghl-connector/sync@0.7.0#posts-published") (param i32) (result i32)
    (call $behave) (unreachable))
  (func (export "rankr:ghl-connector/sync@0.7.0#check") (param i32) (result i32)
    (call $behave) (unreachable))
  (func (export "rankr:ghl-connector/sync@0.7.0#describe") (result i32)
    (call $behave) (unreachable))
)"#
    )
}

/// The module as a component of the connector world.
fn hostile_component(behave: &str) -> Vec<u8> {
    let mut module = wat::parse_str(hostile_module(behave)).expect("the WAT parses");
    let mut resolve = wit_parser::Resolve::default();
    let (pkg, _) = resolve
        .push_path(concat!(env!("CARGO_MANIFEST_DIR"), "/../wit"))
        .expect("the WIT parses");
    let world = resolve.select_world(&[pkg], Some("connector")).unwrap();
    wit_component::embed_component_metadata(&mut module, &resolve, world, wit_component::StringEncoding::UTF8).unwrap();
    wit_component::ComponentEncoder::default()
        .module(&module)
        .unwrap()
        .validate(true)
        .encode()
        .expect("a component of the connector world")
}

fn limits() -> Limits {
    Limits {
        call_timeout: Duration::from_secs(2),
        max_requests: 50,
        max_log_lines: 1000,
        ..Limits::default()
    }
}

fn settings() -> Settings {
    ghl_rankr_testkit::settings("https://ghl.test", "pit-secret", "https://rankr.test", "rk-secret")
}

struct Run {
    error: anyhow::Error,
    took: Duration,
    requests: usize,
    logs: usize,
}

fn run(behave: &str, limits: Limits) -> Run {
    let engine = ConnectorEngine::new(&hostile_component(behave), limits).expect("compiles and links");
    let requests = Arc::new(Mutex::new(0usize));
    let counter = requests.clone();
    let logs = Arc::new(Mutex::new(Vec::new()));
    let env = Env {
        transport: Arc::new(ScriptedTransport::new(move |_| {
            *counter.lock().unwrap() += 1;
            Ok::<_, TransportError>(Response {
                status: 200,
                headers: vec![],
                body: b"{}".to_vec(),
            })
        })),
        clock: Arc::new(SystemClock::default()),
        tokens: None,
        captured_logs: Some(logs.clone()),
        progress: None,
    };
    let event = TagSyncEvent {
        location_id: "loc".into(),
        post_id: None,
        tag_ids: None,
        full_pass: false,
    };
    let started = Instant::now();
    let error = engine
        .tag_sync(&env, &settings(), &event, None)
        .expect_err("a hostile component cannot finish");
    let took = started.elapsed();
    let requests = *requests.lock().unwrap();
    let logs = logs.lock().unwrap().len();
    Run {
        error,
        took,
        requests,
        logs,
    }
}

fn runaway(r: &Run) -> Runaway {
    r.error
        .downcast_ref::<Runaway>()
        .cloned()
        .unwrap_or_else(|| panic!("not a limit error: {:#}", r.error))
}

#[test]
fn an_infinite_loop_is_stopped_at_the_call_deadline() {
    let r = run("(loop $l (br $l))", limits());
    assert_eq!(runaway(&r), Runaway::Deadline(Duration::from_secs(2)));
    assert!(r.took < Duration::from_secs(5), "took {:?}", r.took);
    assert!(r.error.to_string().contains("call deadline of 2 s"), "{}", r.error);
}

#[test]
fn an_infinite_loop_is_stopped_by_fuel_when_metered() {
    let r = run(
        "(loop $l (br $l))",
        Limits {
            fuel: Some(5_000_000),
            ..limits()
        },
    );
    assert_eq!(runaway(&r), Runaway::Fuel(5_000_000));
    assert!(r.took < Duration::from_secs(2), "took {:?}", r.took);
}

#[test]
fn a_memory_bomb_is_refused_at_the_memory_limit() {
    let r = run("(loop $l (drop (memory.grow (i32.const 16))) (br $l))", limits());
    assert_eq!(runaway(&r), Runaway::Memory(64 * 1024 * 1024));
    assert!(r.error.to_string().contains("64 MiB"), "{}", r.error);
}

#[test]
fn deep_recursion_overflows_the_wasm_stack() {
    let r = run("(drop (call $recurse (i32.const 0)))", limits());
    assert_eq!(runaway(&r), Runaway::Stack(1024 * 1024));
}

#[test]
fn a_flood_of_requests_is_cut_at_the_request_cap() {
    let flood = "(loop $l
        (call $send (i32.const 0) (i32.const 16) (i32.const 22) (i32.const 0) (i32.const 0)
                    (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 1000) (i32.const 1024))
        (br $l))";
    let r = run(flood, limits());
    assert_eq!(runaway(&r), Runaway::RequestFlood(50));
    assert_eq!(r.requests, 50, "the 51st never reached the transport");
}

#[test]
fn sleeps_and_log_floods_cannot_outlast_the_deadline_or_the_log_cap() {
    let r = run(
        "(loop $l
            (call $log (i32.const 2) (i32.const 64) (i32.const 45) (i32.const 0) (i32.const 0))
            (call $sleep (i64.const 1))
            (br $l))",
        limits(),
    );
    assert_eq!(runaway(&r), Runaway::Deadline(Duration::from_secs(2)));
    assert!(r.logs <= 1000, "{} log lines kept", r.logs);
    let r = run("(loop $l (call $sleep (i64.const 86400000)) (br $l))", limits());
    assert_eq!(runaway(&r), Runaway::Deadline(Duration::from_secs(2)));
    assert!(
        r.took < Duration::from_secs(5),
        "a day-long sleep held the call {:?}",
        r.took
    );
}

#[test]
fn the_host_carries_on_after_each_runaway() {
    for behave in ["(loop $l (br $l))", "(drop (call $recurse (i32.const 0)))"] {
        let _ = run(
            behave,
            Limits {
                call_timeout: Duration::from_millis(300),
                ..limits()
            },
        );
    }
    // The real component, in the same process, still works.
    let engine = ghl_rankr_tests::engine();
    let env = Env {
        transport: Arc::new(ScriptedTransport::new(|_| {
            Err(TransportError::Denied("offline".into()))
        })),
        clock: Arc::new(SystemClock::default()),
        tokens: None,
        captured_logs: None,
        progress: None,
    };
    let event = TagSyncEvent {
        location_id: "loc".into(),
        post_id: None,
        tag_ids: None,
        full_pass: false,
    };
    let answer = engine.tag_sync(&env, &settings(), &event, None).expect("no trap");
    assert!(answer.is_err(), "offline: a typed transport failure");
}
