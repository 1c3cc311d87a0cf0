//! Embedding: one `Engine`, one compiled `Component`, one `InstancePre` per
//! process; a fresh `Store` and instance per operation, so no state leaks
//! from one sync into the next.

use crate::bindings::rankr::ghl_connector::{host, http};
use crate::bindings::{Connector, ConnectorPre};
use crate::clock::Clock;
use crate::transport::HttpTransport;
use crate::types::{OauthTokens, Settings, StatsRequest, TagDetailsEvent, TagSyncEvent};
use crate::types::{SyncFailure, SyncReport};
use anyhow::Context as _;
use std::sync::{Arc, Mutex};
use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::{Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

/// One log line the component emitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub level: host::LogLevel,
    pub message: String,
    pub fields: Vec<(String, String)>,
}

/// Where rotated OAuth tokens are kept (the CLI's `--token-file`).
pub trait TokenStore: Send + Sync {
    /// Persists the pair durably before returning; an error stops the sync.
    fn store(&self, tokens: &OauthTokens) -> Result<(), String>;
}

/// What an operation runs against: the transport, the clock, where rotated
/// tokens go, and where its log lines go besides `tracing`.
#[derive(Clone)]
pub struct Env {
    pub transport: Arc<dyn HttpTransport>,
    pub clock: Arc<dyn Clock>,
    /// None: rotated tokens are only in the report (or the failure).
    pub tokens: Option<Arc<dyn TokenStore>>,
    pub captured_logs: Option<Arc<Mutex<Vec<LogLine>>>>,
}

/// A store's data: WASI (the component's std needs it; it is given no
/// files, no sockets, no environment) and the connector's own imports.
pub struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    env: Env,
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl http::Host for HostState {
    fn send(&mut self, request: http::Request) -> Result<http::Response, http::TransportError> {
        let start = std::time::Instant::now();
        let result = self.env.transport.send(&request);
        let method = match request.method {
            http::Method::Get => "GET",
            http::Method::Post => "POST",
            http::Method::Put => "PUT",
            http::Method::Patch => "PATCH",
            http::Method::Delete => "DELETE",
        };
        let path = path_of(&request.url);
        match &result {
            Ok(r) => {
                tracing::debug!(target: "ghl_rankr::http", method, path, status = r.status, bytes = r.body.len(), ms = start.elapsed().as_millis() as u64, "exchange")
            }
            Err(e) => tracing::debug!(target: "ghl_rankr::http", method, path, error = ?e, "exchange failed"),
        }
        result
    }
}

/// The URL without its query (ids there are not secrets, but keep logs short).
fn path_of(url: &str) -> &str {
    url.split('?').next().unwrap_or(url)
}

impl host::Host for HostState {
    fn now(&mut self) -> u64 {
        self.env.clock.now_ms()
    }

    fn sleep(&mut self, ms: u64) {
        self.env.clock.sleep_ms(ms)
    }

    fn log(&mut self, level: host::LogLevel, message: String, fields: Vec<host::Field>) {
        let rendered: String = fields
            .iter()
            .map(|f| format!("{}={}", f.key, f.value))
            .collect::<Vec<_>>()
            .join(" ");
        match level {
            host::LogLevel::Trace => tracing::trace!(target: "ghl_rankr::component", fields = %rendered, "{message}"),
            host::LogLevel::Debug => tracing::debug!(target: "ghl_rankr::component", fields = %rendered, "{message}"),
            host::LogLevel::Info => tracing::info!(target: "ghl_rankr::component", fields = %rendered, "{message}"),
            host::LogLevel::Warn => tracing::warn!(target: "ghl_rankr::component", fields = %rendered, "{message}"),
            host::LogLevel::Error => tracing::error!(target: "ghl_rankr::component", fields = %rendered, "{message}"),
        }
        if let Some(sink) = &self.env.captured_logs {
            if let Ok(mut lines) = sink.lock() {
                lines.push(LogLine {
                    level,
                    message,
                    fields: fields.into_iter().map(|f| (f.key, f.value)).collect(),
                });
            }
        }
    }

    fn store_tokens(&mut self, tokens: OauthTokens) -> Result<(), String> {
        match &self.env.tokens {
            Some(store) => store.store(&tokens),
            None => Ok(()),
        }
    }
}

impl crate::bindings::rankr::ghl_connector::types::Host for HostState {}

/// The compiled component, ready to instantiate.
pub struct ConnectorEngine {
    engine: Engine,
    pre: ConnectorPre<HostState>,
}

impl ConnectorEngine {
    /// The component embedded in this binary.
    pub fn embedded() -> anyhow::Result<Self> {
        Self::from_bytes(crate::EMBEDDED_COMPONENT)
    }

    /// A component from a file (`--component PATH`).
    pub fn from_file(path: &std::path::Path) -> anyhow::Result<Self> {
        let bytes = std::fs::read(path).with_context(|| format!("reading the component {}", path.display()))?;
        Self::from_bytes(&bytes)
    }

    /// Compiles and links once.
    pub fn from_bytes(bytes: &[u8]) -> anyhow::Result<Self> {
        let engine = Engine::default();
        let component = Component::new(&engine, bytes)
            .map_err(anyhow::Error::from)
            .context("compiling the component (is it a wasm32-wasip2 component of rankr:ghl-connector@0.2.0?)")?;
        let mut linker: Linker<HostState> = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(anyhow::Error::from)?;
        Connector::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |s| s).map_err(anyhow::Error::from)?;
        let pre = linker
            .instantiate_pre(&component)
            .map_err(anyhow::Error::from)
            .context("linking the component: it imports something this host does not provide")?;
        let pre = ConnectorPre::new(pre).map_err(anyhow::Error::from)?;
        Ok(ConnectorEngine { engine, pre })
    }

    fn instance(&self, env: &Env) -> anyhow::Result<(Store<HostState>, Connector)> {
        let state = HostState {
            wasi: WasiCtx::builder().build(),
            table: ResourceTable::new(),
            env: env.clone(),
        };
        let mut store = Store::new(&self.engine, state);
        let connector = self.pre.instantiate(&mut store).map_err(anyhow::Error::from)?;
        Ok((store, connector))
    }

    /// Runs `tag-sync`. The outer error is the host's (a trap); the inner
    /// one is the component's answer.
    pub fn tag_sync(
        &self,
        env: &Env,
        settings: &Settings,
        event: &TagSyncEvent,
        state: Option<&[u8]>,
    ) -> anyhow::Result<Result<SyncReport, SyncFailure>> {
        let (mut store, c) = self.instance(env)?;
        c.rankr_ghl_connector_sync()
            .call_tag_sync(&mut store, settings, event, state)
            .map_err(anyhow::Error::from)
            .context("the component trapped during tag-sync")
    }

    /// Runs `tag-details-push`.
    pub fn tag_details_push(
        &self,
        env: &Env,
        settings: &Settings,
        event: &TagDetailsEvent,
        state: Option<&[u8]>,
    ) -> anyhow::Result<Result<SyncReport, SyncFailure>> {
        let (mut store, c) = self.instance(env)?;
        c.rankr_ghl_connector_sync()
            .call_tag_details_push(&mut store, settings, event, state)
            .map_err(anyhow::Error::from)
            .context("the component trapped during tag-details-push")
    }

    /// Runs `stats-sync`.
    pub fn stats_sync(
        &self,
        env: &Env,
        settings: &Settings,
        request: &StatsRequest,
        state: Option<&[u8]>,
    ) -> anyhow::Result<Result<SyncReport, SyncFailure>> {
        let (mut store, c) = self.instance(env)?;
        c.rankr_ghl_connector_sync()
            .call_stats_sync(&mut store, settings, request, state)
            .map_err(anyhow::Error::from)
            .context("the component trapped during stats-sync")
    }
}
