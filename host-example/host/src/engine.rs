//! One `Engine`, one compiled `Component`, one `InstancePre` per process; a
//! fresh `Store` and instance per operation, so no state leaks from one sync
//! into the next. Each store is held to [`Limits`]: an epoch deadline,
//! optional fuel, a memory and instance cap, a wasm stack size, and caps on
//! requests and log lines. A call that hits one ends with a [`Runaway`]
//! error; the process carries on.

use crate::bindings::{Connector, ConnectorPre};
use crate::imports::{Env, HostState};
use crate::limits::{Limits, Runaway, EPOCH_TICK};
use crate::types::{
    CheckReport, CheckRequest, NewPostsReport, NewPostsRequest, PublishedPostsReport, PublishedPostsRequest, Settings,
    StatsRequest, SyncFailure, SyncReport, TagDetailsEvent, TagSyncEvent,
};
use anyhow::Context as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Engine, Store};

/// What one call used (for `bench` and for hosts that meter).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CallStats {
    /// The largest linear memory the component asked for, in bytes.
    pub peak_memory_bytes: usize,
    /// Requests the component made (`send` and each of `send-all`'s).
    pub requests: u32,
}

/// How the engine compiles and instantiates.
#[derive(Debug, Clone, Default)]
pub struct EngineOptions {
    /// The pooling instance allocator: faster instantiation, for hosts that
    /// run many calls; it reserves address space up front.
    pub pooling: bool,
    /// wasmtime's inliner (small functions inlined into their callers inside
    /// the module). Off by default: syncs are bound by the network, and a
    /// cold start compiles several times faster with far less memory
    /// without it (BENCHMARKS.md).
    pub inlining: bool,
}

/// The compiled component, ready to instantiate.
pub struct ConnectorEngine {
    engine: Engine,
    pre: ConnectorPre<HostState>,
    limits: Limits,
    _ticker: EpochTicker,
}

impl ConnectorEngine {
    /// Compiles `bytes` and links them once; every call is held to `limits`.
    pub fn new(bytes: &[u8], limits: Limits) -> anyhow::Result<Self> {
        Self::with_options(bytes, limits, &EngineOptions::default())
    }

    /// As [`ConnectorEngine::new`], with `options`.
    pub fn with_options(bytes: &[u8], limits: Limits, options: &EngineOptions) -> anyhow::Result<Self> {
        let engine = Engine::new(&Self::config(&limits, options)).map_err(anyhow::Error::from)?;
        let component = Component::new(&engine, bytes)
            .map_err(anyhow::Error::from)
            .with_context(|| {
                format!(
                    "compiling the component (is it a wasm32-wasip2 component of {}?)",
                    crate::WIT_PACKAGE
                )
            })?;
        Self::from_component(engine, &component, limits)
    }

    /// Links a component already compiled (or deserialized from a cache) by
    /// `engine`, which must have been made from [`ConnectorEngine::config`]
    /// with the same `limits`.
    pub fn from_component(engine: Engine, component: &Component, limits: Limits) -> anyhow::Result<Self> {
        let mut linker: Linker<HostState> = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(anyhow::Error::from)?;
        Connector::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |state| state)
            .map_err(anyhow::Error::from)?;
        let pre = linker
            .instantiate_pre(component)
            .map_err(anyhow::Error::from)
            .context("linking the component: it imports something this host does not provide")?;
        let pre = ConnectorPre::new(pre).map_err(anyhow::Error::from)?;
        let ticker = EpochTicker::start(engine.clone());
        Ok(ConnectorEngine {
            engine,
            pre,
            limits,
            _ticker: ticker,
        })
    }

    /// The engine configuration the limits and options call for: epoch
    /// interruption always, fuel when metered, the wasm stack size, and the
    /// pooling allocator's caps.
    pub fn config(limits: &Limits, options: &EngineOptions) -> wasmtime::Config {
        let mut config = wasmtime::Config::new();
        config.epoch_interruption(true);
        config.compiler_inlining(if options.inlining {
            wasmtime::Inlining::Yes
        } else {
            wasmtime::Inlining::No
        });
        config.max_wasm_stack(limits.max_wasm_stack);
        config.consume_fuel(limits.fuel.is_some());
        if options.pooling {
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

    /// A fresh store and instance, as every call makes (for measuring).
    pub fn instantiate_only(&self, env: &Env) -> anyhow::Result<()> {
        self.instance(env).map(|_| ())
    }

    fn instance(&self, env: &Env) -> anyhow::Result<(Store<HostState>, Connector)> {
        let limits = self.limits.clone();
        let mut store = Store::new(&self.engine, HostState::new(env.clone(), limits.clone()));
        store.limiter(|state| &mut state.limiter);
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
            Some(runaway) => anyhow::Error::new(runaway),
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
        let (mut store, connector) = self.instance(env)?;
        let result = f(&mut store, &connector).map_err(|e| self.runaway_or(e, what))?;
        let state = store.data();
        let stats = CallStats {
            peak_memory_bytes: state.limiter.peak,
            requests: state.requests,
        };
        Ok((result, stats))
    }

    /// Runs `tag-sync`. The outer error is the host's (a trap, a limit); the
    /// inner one is the component's answer.
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
        self.call(env, "running tag-sync", |store, connector| {
            connector
                .rankr_ghl_connector_sync()
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
        let (answer, _) = self.call(env, "running tag-details-push", |store, connector| {
            connector
                .rankr_ghl_connector_sync()
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
        let (answer, _) = self.call(env, "running stats-sync", |store, connector| {
            connector
                .rankr_ghl_connector_sync()
                .call_stats_sync(store, settings, request, state)
        })?;
        Ok(answer)
    }

    /// Runs the `new-posts` trigger.
    pub fn new_posts(
        &self,
        env: &Env,
        settings: &Settings,
        request: &NewPostsRequest,
        state: Option<&[u8]>,
    ) -> anyhow::Result<Result<NewPostsReport, SyncFailure>> {
        let (answer, _) = self.new_posts_with_stats(env, settings, request, state)?;
        Ok(answer)
    }

    /// `new-posts`, also returning what the call used.
    pub fn new_posts_with_stats(
        &self,
        env: &Env,
        settings: &Settings,
        request: &NewPostsRequest,
        state: Option<&[u8]>,
    ) -> anyhow::Result<(Result<NewPostsReport, SyncFailure>, CallStats)> {
        self.call(env, "running new-posts", |store, connector| {
            connector
                .rankr_ghl_connector_sync()
                .call_new_posts(store, settings, request, state)
        })
    }

    /// Runs the `posts-published` trigger.
    pub fn posts_published(
        &self,
        env: &Env,
        settings: &Settings,
        request: &PublishedPostsRequest,
        state: Option<&[u8]>,
    ) -> anyhow::Result<Result<PublishedPostsReport, SyncFailure>> {
        let (answer, _) = self.call(env, "running posts-published", |store, connector| {
            connector
                .rankr_ghl_connector_sync()
                .call_posts_published(store, settings, request, state)
        })?;
        Ok(answer)
    }

    /// Runs `check`: the smallest reads that prove each credential and
    /// operation asked about; it writes nothing.
    pub fn check(
        &self,
        env: &Env,
        settings: &Settings,
        request: &CheckRequest,
    ) -> anyhow::Result<Result<CheckReport, SyncFailure>> {
        let (answer, _) = self.call(env, "running check", |store, connector| {
            connector
                .rankr_ghl_connector_sync()
                .call_check(store, settings, request)
        })?;
        Ok(answer)
    }

    /// The component's catalog (`describe`), a JSON document.
    pub fn describe(&self, env: &Env) -> anyhow::Result<String> {
        let (answer, _) = self.call(env, "describing itself", |store, connector| {
            connector.rankr_ghl_connector_sync().call_describe(store)
        })?;
        Ok(answer)
    }
}

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
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
