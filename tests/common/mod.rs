//! What the component tests share: the engine, settings built as the CLI
//! builds them, a scripted transport in virtual time, request helpers.

#![allow(dead_code)]

use ghl_rankr_host::clock::VirtualClock;
use ghl_rankr_host::config::{self, ConfigFile, Secret, SettingsParts};
use ghl_rankr_host::engine::{ConnectorEngine, Env};
use ghl_rankr_host::http::{Header, Request, Response, TransportError};
use ghl_rankr_host::transport::ScriptedTransport;
use ghl_rankr_host::types::Settings;
use serde_json::Value;
use std::sync::{Arc, OnceLock};

pub const GHL: &str = "https://ghl.test";
pub const RANKR: &str = "https://rankr.test";

pub fn engine() -> &'static ConnectorEngine {
    static ENGINE: OnceLock<ConnectorEngine> = OnceLock::new();
    ENGINE.get_or_init(|| ConnectorEngine::embedded().expect("the embedded component compiles"))
}

/// Default settings, built as the CLI builds them.
pub fn settings() -> Settings {
    config::settings(SettingsParts::api_key(
        GHL,
        &Secret::new("pit-secret-1"),
        RANKR,
        &Secret::new("rk-secret-2"),
        &ConfigFile::default(),
    ))
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
    serde_json::from_slice(r.body.as_deref().unwrap_or(b"null")).unwrap()
}

/// Runs with a scripted transport and virtual time; returns the transport and clock too.
pub fn scripted(
    handler: impl FnMut(&Request) -> Result<Response, TransportError> + Send + 'static,
) -> (Env, Arc<ScriptedTransport>, Arc<VirtualClock>) {
    let transport = Arc::new(ScriptedTransport::new(handler));
    let clock = Arc::new(VirtualClock::starting_at(1_795_867_200_000)); // 2026-11-28T12:00Z
    let env = Env {
        transport: transport.clone(),
        clock: clock.clone(),
        tokens: None,
        captured_logs: None,
    };
    (env, transport, clock)
}
