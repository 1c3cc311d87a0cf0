//! What the component tests share: the real component compiled once, the
//! settings the CLI would build, a scripted transport in virtual time, and
//! request helpers.

use ghl_rankr_host::engine::ConnectorEngine;
use ghl_rankr_host::http::{Header, Request, Response, TransportError};
use ghl_rankr_host::imports::Env;
use ghl_rankr_host::limits::Limits;
use ghl_rankr_host::types::Settings;
use ghl_rankr_testkit::{ScriptedTransport, VirtualClock};
use serde_json::Value;
use std::sync::{Arc, OnceLock};

pub const GHL: &str = "https://ghl.test";
pub const RANKR: &str = "https://rankr.test";

/// 2026-11-28T12:00Z, where virtual clocks start.
pub const START_MS: u64 = 1_795_867_200_000;

/// The release component, compiled once for the whole test binary.
pub fn engine() -> &'static ConnectorEngine {
    static ENGINE: OnceLock<ConnectorEngine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        ConnectorEngine::new(ghl_rankr_artifact::COMPONENT, Limits::default()).expect("the component compiles")
    })
}

/// Default settings, as the CLI builds them.
pub fn settings() -> Settings {
    ghl_rankr_testkit::settings(GHL, "pit-secret-1", RANKR, "rk-secret-2")
}

pub fn reply(status: u16, body: Value) -> Result<Response, TransportError> {
    Ok(Response {
        status,
        headers: vec![Header {
            name: "content-type".into(),
            value: "application/json".into(),
        }],
        body: body.to_string().into_bytes(),
    })
}

pub fn header<'a>(r: &'a Request, name: &str) -> Option<&'a str> {
    r.headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case(name))
        .map(|h| h.value.as_str())
}

pub fn body(r: &Request) -> Value {
    serde_json::from_slice(r.body.as_deref().unwrap_or(b"null")).unwrap_or(Value::Null)
}

/// An environment with a scripted transport and virtual time; the transport
/// and the clock come back too.
pub fn scripted(
    handler: impl FnMut(&Request) -> Result<Response, TransportError> + Send + 'static,
) -> (Env, Arc<ScriptedTransport>, Arc<VirtualClock>) {
    scripted_with(ScriptedTransport::new(handler))
}

/// The same, with `send-all`'s exchanges performed one at a time in request
/// order, so the recorded sequence is exact (the host's pool would otherwise
/// record a wave's requests in whatever order its threads ran).
pub fn scripted_in_order(
    handler: impl FnMut(&Request) -> Result<Response, TransportError> + Send + 'static,
) -> (Env, Arc<ScriptedTransport>, Arc<VirtualClock>) {
    scripted_with(ScriptedTransport::new(handler).one_at_a_time())
}

fn scripted_with(transport: ScriptedTransport) -> (Env, Arc<ScriptedTransport>, Arc<VirtualClock>) {
    let transport = Arc::new(transport);
    let clock = Arc::new(VirtualClock::starting_at(START_MS));
    let env = Env {
        transport: transport.clone(),
        clock: clock.clone(),
        tokens: None,
        captured_logs: None,
        progress: None,
    };
    (env, transport, clock)
}
