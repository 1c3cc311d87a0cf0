//! `ghl-rankr bench`: figures a platform pays for, measured in process
//! against an in-memory transport (no sockets), medians of repeated runs:
//! compile and start-up, instantiation, the component's CPU per tag, its
//! memory, and the requests a sync makes.
//!
//! The transport answers from bodies rendered before timing starts, so the
//! time measured is the connector's: parsing pages, mapping, hashing,
//! building batches, the state.

use crate::config::ConfigFile;
use crate::credentials::Credential;
use crate::invoke::{self, Credentials, Endpoints, RunFlags};
use crate::secret::Secret;
use anyhow::{anyhow, Context as _};
use ghl_rankr_host::clock::SystemClock;
use ghl_rankr_host::engine::{ConnectorEngine, EngineOptions};
use ghl_rankr_host::http::{Request, Response, TransportError};
use ghl_rankr_host::imports::Env;
use ghl_rankr_host::limits::Limits;
use ghl_rankr_host::transport::HttpTransport;
use ghl_rankr_host::types::{Settings, TagSyncEvent};
use serde::Serialize;
use std::sync::Arc;
use std::time::Instant;
use wasmtime::component::Component;

const GHL: &str = "https://ghl.bench";
const RANKR: &str = "https://rankr.bench";
const LOCATION: &str = "bench-location";
const PAGE: usize = 100;

/// The figures, named as BENCHMARKS.md and `--json` name them.
#[derive(Debug, Clone, Serialize)]
pub struct Figures {
    pub component_bytes: usize,
    /// `Component::new` with the default engine configuration (wasmtime's
    /// inliner off), and with the inliner (`--inlining`).
    pub compile_ms: f64,
    pub compile_ms_inlining: f64,
    /// `Component::deserialize` of the compile cache's bytes (a warm start).
    pub deserialize_ms: f64,
    /// A new store and instance, pooling allocator.
    pub instantiate_us: f64,
    /// A first sync of 10,000 tags, in the component, per tag.
    pub tag_sync_ns_per_tag_wasm: f64,
    pub peak_guest_memory_bytes: usize,
    pub requests_100k_first: u32,
    pub requests_100k_rerun: u32,
    /// The no-change rerun of 100,000 tags with the first sync's state:
    /// its own instance's peak memory (the state is decoded whole) and its
    /// wall time, one run.
    pub peak_guest_memory_bytes_rerun: usize,
    pub rerun_100k_ms: f64,
}

/// GHL pages and Rankr answers for `n` tags, rendered up front.
pub struct Canned {
    pages: Vec<Vec<u8>>,
    batches: Vec<Vec<u8>>,
}

impl Canned {
    pub fn new(n: usize) -> Self {
        let tag = |i: usize| {
            serde_json::json!({"_id": format!("t{i:07}"), "tag": format!(" Tag {i} "), "locationId": LOCATION,
                "createdBy": "u1", "deleted": false, "createdAt": "2024-03-01T10:00:00.000Z",
                "updatedAt": "2024-03-02T10:00:00.000Z"})
        };
        let pages = (0..n.div_ceil(PAGE).max(1))
            .map(|p| {
                let tags: Vec<_> = (p * PAGE..((p + 1) * PAGE).min(n)).map(tag).collect();
                serde_json::json!({"success": true, "statusCode": 200, "message": "ok",
                    "results": {"tags": tags, "count": n}})
                .to_string()
                .into_bytes()
            })
            .collect();
        let batches = (0..n.div_ceil(PAGE))
            .map(|b| {
                let results: Vec<_> = (b * PAGE..((b + 1) * PAGE).min(n))
                    .map(|i| serde_json::json!({"externalId": format!("t{i:07}"), "id": format!("r{i}"), "status": "created"}))
                    .collect();
                serde_json::json!({ "results": results }).to_string().into_bytes()
            })
            .collect();
        Canned { pages, batches }
    }

    /// The answer to a request: a GHL page by its `skip`, a Rankr batch by
    /// its first item.
    pub fn answer(&self, url: &str, body: &[u8]) -> (u16, Vec<u8>) {
        if url.starts_with(GHL) {
            let skip: usize = url
                .split("skip=")
                .nth(1)
                .and_then(|s| s.split('&').next())
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            return match self.pages.get(skip / PAGE) {
                Some(p) => (200, p.clone()),
                None => (200, self.pages[0].clone()),
            };
        }
        // Batches may arrive in any order (they are sent together): the
        // answer is picked by the batch's first external id, `t<7 digits>`.
        let first = body.windows(15).position(|w| w == b"\"externalId\":\"t").and_then(|i| {
            std::str::from_utf8(body.get(i + 15..i + 22)?)
                .ok()?
                .parse::<usize>()
                .ok()
        });
        match first.and_then(|n| self.batches.get(n / PAGE)) {
            Some(a) => (200, a.clone()),
            None => (500, b"{\"title\":\"bench: unexpected write\",\"status\":500}".to_vec()),
        }
    }
}

impl HttpTransport for Canned {
    /// Answers are in memory: a pool would only add thread start-up to the
    /// connector's own time.
    fn max_concurrency(&self) -> usize {
        1
    }

    fn send(&self, r: &Request) -> Result<Response, TransportError> {
        let (status, body) = self.answer(&r.url, r.body.as_deref().unwrap_or_default());
        Ok(Response {
            status,
            headers: vec![],
            body,
        })
    }
}

/// One first sync of `canned` by the component in `engine`; ns per tag.
pub fn wasm_tag_sync(engine: &ConnectorEngine, canned: &Arc<Canned>, n: usize) -> anyhow::Result<f64> {
    let e = env(canned.clone());
    let t = Instant::now();
    let report = engine
        .tag_sync(&e, &settings(), &event(), None)?
        .map_err(|f| anyhow!("bench tag-sync failed: {}", crate::render::error_message(&f.error)))?;
    let ns = t.elapsed().as_nanos() as f64 / n as f64;
    if report.created as usize != n {
        return Err(anyhow!("bench: {} of {n} tags written", report.created));
    }
    Ok(ns)
}

fn settings() -> Settings {
    let key = Secret::new("bench-key-0000");
    let endpoints = Endpoints {
        ghl: GHL.into(),
        rankr: RANKR.into(),
    };
    let credentials = Credentials {
        ghl: Credential::ApiKey(key.clone()),
        rankr_key: &key,
    };
    invoke::settings(&endpoints, &credentials, &RunFlags::default(), &ConfigFile::default())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn env(canned: Arc<Canned>) -> Env {
    Env {
        transport: canned,
        clock: Arc::new(SystemClock::default()),
        tokens: None,
        captured_logs: None,
        progress: None,
    }
}

fn event() -> TagSyncEvent {
    TagSyncEvent {
        location_id: LOCATION.into(),
        post_id: None,
        tag_ids: None,
        full_pass: false,
    }
}

/// Runs every measurement; `runs` repetitions for the timed ones.
pub fn run(bytes: &[u8], runs: usize) -> anyhow::Result<Figures> {
    let runs = runs.max(1);
    let roomy = Limits {
        memory_bytes: 1024 * 1024 * 1024,
        ..Limits::default()
    };

    // Compile and deserialize, with the engine configurations the CLI uses.
    let compile = |options: &EngineOptions| -> anyhow::Result<(wasmtime::Engine, f64)> {
        let engine = wasmtime::Engine::new(&ConnectorEngine::config(&Limits::default(), options))
            .map_err(anyhow::Error::from)?;
        let mut times = Vec::new();
        for _ in 0..runs {
            let t = Instant::now();
            Component::new(&engine, bytes).map_err(anyhow::Error::from)?;
            times.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        Ok((engine, median(times)))
    };
    let (_, compile_ms_inlining) = compile(&EngineOptions {
        inlining: true,
        ..EngineOptions::default()
    })?;
    let (engine, compile_ms) = compile(&EngineOptions::default())?;
    let native = Component::new(&engine, bytes)
        .map_err(anyhow::Error::from)?
        .serialize()
        .map_err(anyhow::Error::from)?;
    let mut times = Vec::new();
    for _ in 0..runs * 3 {
        let t = Instant::now();
        // SAFETY: bytes serialized just above by this same engine.
        unsafe { Component::deserialize(&engine, &native) }.map_err(anyhow::Error::from)?;
        times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let deserialize_ms = median(times);

    // Instantiation with the pooling allocator.
    let pooled = ConnectorEngine::with_options(
        bytes,
        Limits::default(),
        &EngineOptions {
            pooling: true,
            ..EngineOptions::default()
        },
    )?;
    let e = env(Arc::new(Canned::new(1)));
    for _ in 0..100 {
        pooled.instantiate_only(&e)?;
    }
    let mut times = Vec::new();
    for _ in 0..2000 {
        let t = Instant::now();
        pooled.instantiate_only(&e)?;
        times.push(t.elapsed().as_secs_f64() * 1e6);
    }
    let instantiate_us = median(times);

    // CPU per tag: 10,000 tags.
    let n = 10_000;
    let ten_k = Arc::new(Canned::new(n));
    let engine = ConnectorEngine::new(bytes, roomy)?;
    let mut per_tag = Vec::new();
    for _ in 0..runs {
        per_tag.push(wasm_tag_sync(&engine, &ten_k, n)?);
    }

    // 100,000 tags: peak guest memory and requests, first sync and rerun.
    let e = env(Arc::new(Canned::new(100_000)));
    let (first, stats) = engine.tag_sync_with_stats(&e, &settings(), &event(), None)?;
    let first = first.map_err(|f| anyhow!("100k first sync failed: {}", crate::render::error_message(&f.error)))?;
    let started = Instant::now();
    let (rerun, rerun_stats) = engine
        .tag_sync_with_stats(&e, &settings(), &event(), Some(&first.state))
        .context("100k rerun")?;
    let rerun_100k_ms = started.elapsed().as_secs_f64() * 1e3;
    let rerun = rerun.map_err(|f| anyhow!("100k rerun failed: {}", crate::render::error_message(&f.error)))?;

    Ok(Figures {
        component_bytes: bytes.len(),
        compile_ms,
        compile_ms_inlining,
        deserialize_ms,
        instantiate_us,
        tag_sync_ns_per_tag_wasm: median(per_tag),
        peak_guest_memory_bytes: stats.peak_memory_bytes,
        requests_100k_first: first.requests,
        requests_100k_rerun: rerun.requests,
        peak_guest_memory_bytes_rerun: rerun_stats.peak_memory_bytes,
        rerun_100k_ms,
    })
}

/// A readable table.
pub fn table(f: &Figures) -> String {
    let rows = [
        ("component_bytes", f.component_bytes.to_string()),
        ("compile_ms", format!("{:.1}", f.compile_ms)),
        ("compile_ms_inlining", format!("{:.1}", f.compile_ms_inlining)),
        ("deserialize_ms", format!("{:.2}", f.deserialize_ms)),
        ("instantiate_us", format!("{:.1}", f.instantiate_us)),
        ("tag_sync_ns_per_tag_wasm", format!("{:.0}", f.tag_sync_ns_per_tag_wasm)),
        ("peak_guest_memory_bytes", f.peak_guest_memory_bytes.to_string()),
        (
            "peak_guest_memory_bytes_rerun",
            f.peak_guest_memory_bytes_rerun.to_string(),
        ),
        ("requests_100k_first", f.requests_100k_first.to_string()),
        ("requests_100k_rerun", f.requests_100k_rerun.to_string()),
        ("rerun_100k_ms", format!("{:.0}", f.rerun_100k_ms)),
    ];
    rows.iter()
        .map(|(name, value)| format!("{name:<30} {value}\n"))
        .collect()
}
