//! Embedding: one `Engine`, one compiled `Component`, one `InstancePre` per
//! process; a fresh `Store` and instance per operation, so no state leaks
//! from one sync into the next. Each store is held to [`Limits`]: an epoch
//! deadline, optional fuel, a memory and instance cap, a wasm stack size,
//! and caps on requests and log lines. A call that hits one ends with a
//! [`Runaway`] error; the process carries on.

use crate::bindings::rankr::ghl_connector::{host, http};
use crate::bindings::{Connector, ConnectorPre};
use crate::clock::Clock;
use crate::credentials::Tokens;
use crate::limits::{Limits, Runaway, EPOCH_TICK};
use crate::transport::HttpTransport;
use crate::types::{OauthTokens, Settings, StatsRequest, TagDetailsEvent, TagSyncEvent};
use crate::types::{SyncFailure, SyncReport};
use anyhow::Context as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use wasmtime::component::{HasSelf, Linker, ResourceTable};
use wasmtime::{Engine, ResourceLimiter, Store};
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
    fn store(&self, tokens: &Tokens) -> Result<(), String>;
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

/// What one call used (for `bench` and for hosts that meter).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CallStats {
    /// The largest linear memory the component asked for, in bytes.
    pub peak_memory_bytes: usize,
    /// `http.send` calls made.
    pub requests: u32,
}

/// How the engine is built.
#[derive(Debug, Clone, Default)]
pub struct Build {
    /// The pooling instance allocator (fast instantiation; reserves address
    /// space up front).
    pub pooling: bool,
    /// Cache compiled code here (see [`crate::cache`]).
    pub cache_dir: Option<std::path::PathBuf>,
    /// Compile without epoch checks. A call's deadline is then enforced only
    /// when the component calls an import, so a component stuck in a loop
    /// runs on. `bench` uses it to show what the checks cost; never run an
    /// untrusted component so.
    pub no_epoch_checks: bool,
    /// Compile without wasmtime's inliner. With it (the default), small
    /// functions are inlined into their callers inside the module: each
    /// call saved is also a stack and an epoch check saved. It cost 11.5 M
    /// of 226 M instructions per 10,000-tag sync without it, and compiling
    /// takes about three times as long (once: the result is cached).
    pub no_inlining: bool,
}

/// A store's data: WASI (the component's std needs it; it is given no
/// files, no sockets, no environment), the connector's own imports, and
/// what this call may still use.
pub struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    env: Env,
    limiter: Limiter,
    deadline: Instant,
    limits: Limits,
    requests: u32,
    log_lines: u32,
}

/// Longest log message or field value kept, in bytes.
const MAX_LOG_TEXT: usize = 4096;

/// Memory and instance caps; a refused growth is a [`Runaway::Memory`] trap,
/// so the error says which limit was hit.
struct Limiter {
    memory_bytes: usize,
    instances: usize,
    peak: usize,
}

impl ResourceLimiter for Limiter {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.memory_bytes {
            return Err(wasmtime::Error::new(Runaway::Memory(self.memory_bytes)));
        }
        self.peak = self.peak.max(desired);
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= 1_000_000)
    }

    fn instances(&self) -> usize {
        self.instances
    }

    fn tables(&self) -> usize {
        self.instances
    }

    fn memories(&self) -> usize {
        self.instances
    }
}

impl HostState {
    /// Time left in this call; an import called after the deadline ends it.
    fn time_left(&self) -> wasmtime::Result<Duration> {
        match self.deadline.checked_duration_since(Instant::now()) {
            Some(d) if !d.is_zero() => Ok(d),
            _ => Err(wasmtime::Error::new(Runaway::Deadline(self.limits.call_timeout))),
        }
    }
}

/// Cuts text to at most `max` bytes on a character boundary.
fn clip(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push('…');
    }
    s
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
    fn send(&mut self, request: http::Request) -> wasmtime::Result<Result<http::Response, http::TransportError>> {
        let mut batch = self.admit(vec![request])?;
        let request = batch.pop().expect("admit keeps the requests");
        Ok(exchange(&*self.env.transport, &request))
    }

    fn send_all(
        &mut self,
        requests: Vec<http::Request>,
    ) -> wasmtime::Result<Vec<Result<http::Response, http::TransportError>>> {
        let requests = self.admit(requests)?;
        let transport = &*self.env.transport;
        let pool = self
            .limits
            .http_pool
            .min(transport.max_concurrency())
            .clamp(1, requests.len().max(1));
        if pool == 1 {
            return Ok(requests.iter().map(|r| exchange(transport, r)).collect());
        }
        // A bounded pool of scoped threads takes the requests in order;
        // each answer lands in its request's slot.
        let next = std::sync::atomic::AtomicUsize::new(0);
        let slots: Vec<Mutex<Option<Result<http::Response, http::TransportError>>>> =
            requests.iter().map(|_| Mutex::new(None)).collect();
        std::thread::scope(|scope| {
            for _ in 0..pool {
                scope.spawn(|| loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(request) = requests.get(i) else { break };
                    let outcome = exchange(transport, request);
                    *slots[i].lock().unwrap_or_else(|p| p.into_inner()) = Some(outcome);
                });
            }
        });
        Ok(slots
            .into_iter()
            .map(|slot| {
                slot.into_inner()
                    .unwrap_or_else(|p| p.into_inner())
                    .unwrap_or_else(|| Err(http::TransportError::Io("the host lost this exchange".into())))
            })
            .collect())
    }
}

impl HostState {
    /// Counts requests against the per-call cap and cuts each one's timeout
    /// to the time left in the call (no exchange may outlast it).
    fn admit(&mut self, mut requests: Vec<http::Request>) -> wasmtime::Result<Vec<http::Request>> {
        let left = self.time_left()?;
        self.requests = self
            .requests
            .saturating_add(requests.len().min(u32::MAX as usize) as u32);
        if self.requests > self.limits.max_requests {
            return Err(wasmtime::Error::new(Runaway::RequestFlood(self.limits.max_requests)));
        }
        let cap = left.as_millis().min(u32::MAX as u128) as u32;
        for r in &mut requests {
            r.timeout_ms = r.timeout_ms.min(cap).max(1);
        }
        Ok(requests)
    }
}

/// One exchange through the transport, logged without its query.
fn exchange(transport: &dyn HttpTransport, request: &http::Request) -> Result<http::Response, http::TransportError> {
    let start = std::time::Instant::now();
    let result = transport.send(request);
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

/// The URL without its query (ids there are not secrets, but keep logs short).
fn path_of(url: &str) -> &str {
    url.split('?').next().unwrap_or(url)
}

impl host::Host for HostState {
    fn now(&mut self) -> wasmtime::Result<u64> {
        Ok(self.env.clock.now_ms())
    }

    fn sleep(&mut self, ms: u64) -> wasmtime::Result<()> {
        // A sleep never outlasts the call: the deadline holds in host code too.
        let left = self.time_left()?;
        self.env
            .clock
            .sleep_ms(ms.min(left.as_millis().min(u64::MAX as u128) as u64));
        Ok(())
    }

    fn log(&mut self, level: host::LogLevel, message: String, fields: Vec<host::Field>) -> wasmtime::Result<()> {
        self.log_lines += 1;
        if self.log_lines > self.limits.max_log_lines {
            if self.log_lines == self.limits.max_log_lines + 1 {
                tracing::warn!(target: "ghl_rankr::host", max = self.limits.max_log_lines, "the component logs too much; further lines of this call are dropped");
            }
            return Ok(());
        }
        let message = clip(message, MAX_LOG_TEXT);
        let fields: Vec<host::Field> = fields
            .into_iter()
            .take(32)
            .map(|f| host::Field {
                key: clip(f.key, 128),
                value: clip(f.value, MAX_LOG_TEXT),
            })
            .collect();
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
        Ok(())
    }

    fn store_tokens(&mut self, tokens: OauthTokens) -> wasmtime::Result<Result<(), String>> {
        Ok(match &self.env.tokens {
            Some(store) => store.store(&Tokens::from_wit(&tokens)),
            None => Ok(()),
        })
    }
}

impl crate::bindings::rankr::ghl_connector::types::Host for HostState {}

/// Advances the engine's epoch every [`EPOCH_TICK`] until dropped.
struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl EpochTicker {
    fn start(engine: Engine) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                std::thread::sleep(EPOCH_TICK);
                engine.increment_epoch();
            }
        });
        EpochTicker {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The compiled component, ready to instantiate.
pub struct ConnectorEngine {
    engine: Engine,
    pre: ConnectorPre<HostState>,
    limits: Limits,
    start: crate::cache::Start,
    _ticker: EpochTicker,
}

impl ConnectorEngine {
    /// The component embedded in this binary, with the default limits.
    pub fn embedded() -> anyhow::Result<Self> {
        Self::new(crate::EMBEDDED_COMPONENT, Limits::default())
    }

    /// A component from a file (`--component PATH`).
    pub fn from_file(path: &std::path::Path, limits: Limits) -> anyhow::Result<Self> {
        let bytes = std::fs::read(path).with_context(|| format!("reading the component {}", path.display()))?;
        Self::new(&bytes, limits)
    }

    /// Compiles and links once, with the default limits.
    pub fn from_bytes(bytes: &[u8]) -> anyhow::Result<Self> {
        Self::new(bytes, Limits::default())
    }

    /// Compiles and links once; every call is held to `limits`.
    pub fn new(bytes: &[u8], limits: Limits) -> anyhow::Result<Self> {
        Self::build(bytes, limits, &Build::default())
    }

    /// As [`ConnectorEngine::new`], with the pooling allocator and the
    /// compile cache as `build` says.
    pub fn build(bytes: &[u8], limits: Limits, build: &Build) -> anyhow::Result<Self> {
        let engine = Engine::new(&Self::config(&limits, build)).map_err(anyhow::Error::from)?;
        let (component, start) = crate::cache::load_or_compile(&engine, bytes, build.cache_dir.as_deref())
            .map_err(anyhow::Error::from)
            .context("compiling the component (is it a wasm32-wasip2 component of rankr:ghl-connector@0.3.0?)")?;
        let mut linker: Linker<HostState> = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(anyhow::Error::from)?;
        Connector::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |s| s).map_err(anyhow::Error::from)?;
        let pre = linker
            .instantiate_pre(&component)
            .map_err(anyhow::Error::from)
            .context("linking the component: it imports something this host does not provide")?;
        let pre = ConnectorPre::new(pre).map_err(anyhow::Error::from)?;
        let ticker = EpochTicker::start(engine.clone());
        Ok(ConnectorEngine {
            engine,
            pre,
            limits,
            start,
            _ticker: ticker,
        })
    }

    /// The engine configuration `build` makes (also what `bench` compiles
    /// with, so its compile time is the CLI's).
    pub fn config(limits: &Limits, build: &Build) -> wasmtime::Config {
        let mut config = wasmtime::Config::new();
        config.epoch_interruption(!build.no_epoch_checks);
        config.compiler_inlining(if build.no_inlining {
            wasmtime::Inlining::No
        } else {
            wasmtime::Inlining::Yes
        });
        config.max_wasm_stack(limits.max_wasm_stack);
        config.consume_fuel(limits.fuel.is_some());
        if build.pooling {
            let mut pool = wasmtime::PoolingAllocationConfig::default();
            pool.total_component_instances(64)
                .total_core_instances(limits.instances as u32 * 4)
                .total_memories(limits.instances as u32 * 4)
                .total_tables(limits.instances as u32 * 4)
                .max_memory_size(limits.memory_bytes);
            config.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pool));
        }
        config
    }

    /// The limits every call is held to.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Whether the component came from the compile cache, and the time.
    pub fn start(&self) -> crate::cache::Start {
        self.start
    }

    /// A fresh store and instance, as every call makes (for measuring).
    pub fn instantiate_only(&self, env: &Env) -> anyhow::Result<()> {
        self.instance(env).map(|_| ())
    }

    fn instance(&self, env: &Env) -> anyhow::Result<(Store<HostState>, Connector)> {
        let limits = self.limits.clone();
        let state = HostState {
            wasi: WasiCtx::builder().build(),
            table: ResourceTable::new(),
            env: env.clone(),
            limiter: Limiter {
                memory_bytes: limits.memory_bytes,
                instances: limits.instances,
                peak: 0,
            },
            deadline: Instant::now() + limits.call_timeout,
            limits: limits.clone(),
            requests: 0,
            log_lines: 0,
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limiter);
        let ticks = (limits.call_timeout.as_millis() / EPOCH_TICK.as_millis()).max(1) as u64;
        store.set_epoch_deadline(ticks);
        store.epoch_deadline_trap();
        if let Some(fuel) = limits.fuel {
            store.set_fuel(fuel).map_err(anyhow::Error::from)?;
        }
        let connector = self
            .pre
            .instantiate(&mut store)
            .map_err(|e| self.runaway_or(e, "instantiating the component"))?;
        Ok((store, connector))
    }

    /// A failed call's error: the limit it hit, or the trap with context.
    fn runaway_or(&self, e: wasmtime::Error, what: &str) -> anyhow::Error {
        match Runaway::classify(&e, &self.limits) {
            Some(r) => anyhow::Error::new(r),
            None => anyhow::Error::from(e).context(format!("the component trapped while {what}")),
        }
    }

    /// One call in a fresh store: `f` calls the export; the result comes
    /// back with what the call used. A trap becomes the host's error.
    fn call<R>(
        &self,
        env: &Env,
        what: &str,
        f: impl FnOnce(&mut Store<HostState>, &Connector) -> wasmtime::Result<R>,
    ) -> anyhow::Result<(R, CallStats)> {
        let (mut store, c) = self.instance(env)?;
        let result = f(&mut store, &c).map_err(|e| self.runaway_or(e, what))?;
        let data = store.data();
        let stats = CallStats {
            peak_memory_bytes: data.limiter.peak,
            requests: data.requests,
        };
        Ok((result, stats))
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
        let (answer, _) = self.tag_sync_with_stats(env, settings, event, state)?;
        Ok(answer)
    }

    /// `tag-sync`, also returning what the call used.
    pub fn tag_sync_with_stats(
        &self,
        env: &Env,
        settings: &Settings,
        event: &TagSyncEvent,
        state: Option<&[u8]>,
    ) -> anyhow::Result<(Result<SyncReport, SyncFailure>, CallStats)> {
        self.call(env, "running tag-sync", |store, c| {
            c.rankr_ghl_connector_sync()
                .call_tag_sync(store, settings, event, state)
        })
    }

    /// Runs `tag-details-push`.
    pub fn tag_details_push(
        &self,
        env: &Env,
        settings: &Settings,
        event: &TagDetailsEvent,
        state: Option<&[u8]>,
    ) -> anyhow::Result<Result<SyncReport, SyncFailure>> {
        let (answer, _) = self.call(env, "running tag-details-push", |store, c| {
            c.rankr_ghl_connector_sync()
                .call_tag_details_push(store, settings, event, state)
        })?;
        Ok(answer)
    }

    /// Runs `stats-sync`.
    pub fn stats_sync(
        &self,
        env: &Env,
        settings: &Settings,
        request: &StatsRequest,
        state: Option<&[u8]>,
    ) -> anyhow::Result<Result<SyncReport, SyncFailure>> {
        let (answer, _) = self.call(env, "running stats-sync", |store, c| {
            c.rankr_ghl_connector_sync()
                .call_stats_sync(store, settings, request, state)
        })?;
        Ok(answer)
    }
}
