//! The whole embedding in one page: bindgen → Engine → Component → Linker →
//! instantiate → call, with an in-memory GHL and Rankr answering. A real
//! host puts its HTTP client in `send`, its clock in `now`/`sleep`, and its
//! secret store in `store_tokens`; around this path it decides only limits
//! (see `limits.rs`), egress (`egress.rs`) and a compile cache.
//!
//! `cargo run -p ghl-rankr-host --example embed [component.wasm]`

use rankr::ghl_connector::types::{Credential, Settings, TagSyncEvent};
use rankr::ghl_connector::{host, http, types};
use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::{Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

wasmtime::component::bindgen!({ path: "../../wit", world: "connector" });

/// A store's data: WASI for the component's std (no files, sockets or
/// environment granted), and whatever the imports need.
struct MyHost {
    wasi: WasiCtx,
    table: ResourceTable,
    now_ms: u64,
}

impl WasiView for MyHost {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl http::Host for MyHost {
    /// One exchange, every status returned, no redirects followed. Here: a
    /// GHL location with two tags, and a Rankr that creates what it gets.
    fn send(&mut self, request: http::Request) -> Result<http::Response, http::TransportError> {
        let body = if request.url.starts_with("https://ghl.example/") {
            r#"{"results":{"tags":[{"_id":"t1","tag":"Launch"},{"_id":"t2","tag":"Sale"}],"count":2}}"#.to_string()
        } else {
            let sent: serde_json::Value = serde_json::from_slice(request.body.as_deref().unwrap_or(b"{}"))
                .map_err(|e| http::TransportError::InvalidRequest(e.to_string()))?;
            let results: Vec<serde_json::Value> = sent["items"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|item| serde_json::json!({"externalId": item["externalId"], "status": "created"}))
                .collect();
            serde_json::json!({ "results": results }).to_string()
        };
        Ok(http::Response {
            status: 200,
            headers: vec![],
            body: body.into_bytes(),
        })
    }

    fn send_all(&mut self, requests: Vec<http::Request>) -> Vec<Result<http::Response, http::TransportError>> {
        requests.into_iter().map(|r| self.send(r)).collect()
    }
}

impl host::Host for MyHost {
    fn now(&mut self) -> u64 {
        self.now_ms
    }
    fn sleep(&mut self, ms: u64) {
        self.now_ms += ms;
    }
    fn log(&mut self, level: host::LogLevel, message: String, _fields: Vec<host::Field>) {
        if !matches!(level, host::LogLevel::Trace | host::LogLevel::Debug) {
            println!("component: {message}");
        }
    }
    fn store_tokens(&mut self, _tokens: types::OauthTokens) -> Result<(), String> {
        Ok(()) // persist durably before returning: the old refresh token is spent
    }
    fn progress(&mut self, _update: types::ProgressUpdate) {} // draw a bar, or not
}

impl types::Host for MyHost {}

fn main() -> wasmtime::Result<()> {
    // Once per process: compile, link, pre-instantiate.
    let engine = Engine::default();
    let component = match std::env::args().nth(1) {
        Some(path) => Component::from_file(&engine, path)?,
        None => Component::new(&engine, ghl_rankr_artifact::COMPONENT)?,
    };
    let mut linker = Linker::<MyHost>::new(&engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
    Connector::add_to_linker::<MyHost, HasSelf<MyHost>>(&mut linker, |state| state)?;
    let pre = ConnectorPre::new(linker.instantiate_pre(&component)?)?;

    // Per operation: a fresh store and instance.
    let data = MyHost {
        wasi: WasiCtx::builder().build(),
        table: ResourceTable::new(),
        now_ms: 1_795_867_200_000,
    };
    let mut store = Store::new(&engine, data);
    let connector = pre.instantiate(&mut store)?;
    let settings = Settings {
        ghl_base_url: "https://ghl.example".into(),
        ghl_credential: Credential::ApiKey("pit-example".into()),
        rankr_base_url: "https://rankr.example".into(),
        rankr_api_key: "rk-example".into(),
        page_size: None,
        tag_mapping: vec![],
        metric_mapping: vec![],
        dry_run: false,
        request_timeout_ms: None,
        retry: None,
        deadline_ms: None,
        full_refresh: false,
        full_pass: false,
        archive_missing: true,
        max_in_flight: None,
    };
    let event = TagSyncEvent {
        location_id: "location-1".into(),
        post_id: None,
        tag_ids: None,
        full_pass: false,
    };
    let result = connector
        .rankr_ghl_connector_sync()
        .call_tag_sync(&mut store, &settings, &event, None)?;
    // Keep the `state` of the report (or of the failure) for the next call.
    match result {
        Ok(report) if report.created == 2 => {
            println!("tag-sync: created {} of {} tags", report.created, report.fetched);
            Ok(())
        }
        Ok(report) => Err(wasmtime::Error::msg(format!("tag-sync: unexpected report {report:?}"))),
        Err(failure) => Err(wasmtime::Error::msg(format!("tag-sync failed: {:?}", failure.error))),
    }
}
