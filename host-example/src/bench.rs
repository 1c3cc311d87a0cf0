//! `ghl-rankr bench`: figures a platform pays for, measured in process
//! against an in-memory transport (no sockets), medians of repeated runs.
//!
//! The transport answers from bodies rendered before timing starts, so the
//! time measured is the connector's: parsing pages, mapping, hashing,
//! building batches, the state. The same answers feed the same core code
//! compiled natively, for the wasm/native ratio.

use crate::clock::SystemClock;
use crate::config::{self, ConfigFile, Secret, SettingsParts};
use crate::engine::{Build, ConnectorEngine, Env};
use crate::http::{Request, Response, TransportError};
use crate::limits::Limits;
use crate::transport::HttpTransport;
use crate::types::TagSyncEvent;
use anyhow::{anyhow, Context as _};
use serde::Serialize;
use std::sync::Arc;
use std::time::Instant;

const GHL: &str = "https://ghl.bench";
const RANKR: &str = "https://rankr.bench";
const LOCATION: &str = "bench-location";
const PAGE: usize = 100;

/// The figures, named as BENCHMARKS.md and `--json` name them.
#[derive(Debug, Clone, Serialize)]
pub struct Figures {
    pub component_bytes: usize,
    /// `Component::new` with the CLI's engine configuration (wasmtime's
    /// inliner on), and without the inliner.
    pub compile_ms: f64,
    pub compile_ms_no_inlining: f64,
    pub deserialize_ms: f64,
    pub instantiate_us: f64,
    pub tag_sync_ns_per_tag_wasm: f64,
    pub tag_sync_ns_per_tag_native: f64,
    pub wasm_native_ratio: f64,
    /// The same wasm run compiled without epoch checks (which enforce the
    /// call deadline against a component stuck in a loop): what they cost.
    pub tag_sync_ns_per_tag_wasm_no_epoch: f64,
    pub wasm_native_ratio_no_epoch: f64,
    /// The same wasm run compiled without wasmtime's inliner.
    pub tag_sync_ns_per_tag_wasm_no_inlining: f64,
    pub wasm_native_ratio_no_inlining: f64,
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

/// The same answers for the native core.
struct NativeHost<'a>(&'a Canned);

impl ghl_rankr_connector::io::Host for NativeHost<'_> {
    fn send(
        &mut self,
        r: &ghl_rankr_connector::io::Request,
    ) -> Result<ghl_rankr_connector::io::Response, ghl_rankr_connector::io::TransportError> {
        let (status, body) = self.0.answer(&r.url, r.body.as_deref().unwrap_or_default());
        Ok(ghl_rankr_connector::io::Response {
            status,
            headers: vec![],
            body,
        })
    }
    fn now_ms(&mut self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0)
    }
    fn sleep_ms(&mut self, _ms: u64) {}
    fn log(&mut self, _: ghl_rankr_connector::io::Level, _: &str, _: &[(&str, &str)]) {}
    fn store_tokens(&mut self, _: &ghl_rankr_connector::OAuthTokens) -> Result<(), String> {
        Ok(())
    }
}

/// One first sync of `canned` by the component in `engine`; ns per tag.
pub fn wasm_tag_sync(engine: &ConnectorEngine, canned: &Arc<Canned>, n: usize) -> anyhow::Result<f64> {
    let key = Secret::new("bench-key-0000");
    let cfg = ConfigFile::default();
    let settings = config::settings(SettingsParts::api_key(GHL, &key, RANKR, &key, &cfg));
    let e = env(canned.clone());
    let t = Instant::now();
    let report = engine
        .tag_sync(&e, &settings, &event(), None)?
        .map_err(|f| anyhow!("bench tag-sync failed: {}", crate::render::error_message(&f.error)))?;
    let ns = t.elapsed().as_nanos() as f64 / n as f64;
    if report.created as usize != n {
        return Err(anyhow!("bench: {} of {n} tags written", report.created));
    }
    Ok(ns)
}

/// One first sync of `canned` by the core compiled natively; ns per tag.
/// Public so a profiler can run the native side alone
/// (`examples/profile_tag_sync.rs`).
pub fn native_tag_sync(canned: &Canned, n: usize) -> anyhow::Result<f64> {
    let settings = ghl_rankr_connector::SettingsInput {
        ghl_base_url: GHL.into(),
        ghl_credential: ghl_rankr_connector::Credential::ApiKey(ghl_rankr_connector::Secret::new("bench-key-0000")),
        rankr_base_url: RANKR.into(),
        rankr_api_key: ghl_rankr_connector::Secret::new("bench-key-0000"),
        archive_missing: true,
        ..Default::default()
    };
    let event = ghl_rankr_connector::TagSyncEvent {
        location_id: LOCATION.into(),
        post_id: None,
        tag_ids: None,
    };
    let t = Instant::now();
    let report = ghl_rankr_connector::tag_sync(&mut NativeHost(canned), &settings, &event, None)
        .map_err(|f| anyhow!("native bench tag-sync failed: {}", f.error))?;
    let ns = t.elapsed().as_nanos() as f64 / n as f64;
    if report.created as usize != n {
        return Err(anyhow!("native bench: {} of {n} tags written", report.created));
    }
    Ok(ns)
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
    }
}

fn event() -> TagSyncEvent {
    TagSyncEvent {
        location_id: LOCATION.into(),
        post_id: None,
        tag_ids: None,
    }
}

/// Runs every measurement; `runs` repetitions for the timed ones.
pub fn run(bytes: &[u8], runs: usize) -> anyhow::Result<Figures> {
    let runs = runs.max(3);
    let key = Secret::new("bench-key-0000");
    let cfg = ConfigFile::default();
    let settings = config::settings(SettingsParts::api_key(GHL, &key, RANKR, &key, &cfg));
    let roomy = Limits {
        memory_bytes: 1024 * 1024 * 1024,
        ..Limits::default()
    };

    // Compile and deserialize, with the engine configuration the CLI uses.
    let compile = |build: &Build| -> anyhow::Result<(wasmtime::Engine, f64)> {
        let engine =
            wasmtime::Engine::new(&ConnectorEngine::config(&Limits::default(), build)).map_err(anyhow::Error::from)?;
        let ms = median(
            (0..3)
                .map(|_| {
                    let t = Instant::now();
                    let _ = wasmtime::component::Component::new(&engine, bytes);
                    t.elapsed().as_secs_f64() * 1000.0
                })
                .collect(),
        );
        Ok((engine, ms))
    };
    let (_, compile_ms_no_inlining) = compile(&Build {
        no_inlining: true,
        ..Build::default()
    })?;
    let (engine, compile_ms) = compile(&Build::default())?;
    let native = wasmtime::component::Component::new(&engine, bytes)
        .map_err(anyhow::Error::from)?
        .serialize()
        .map_err(anyhow::Error::from)?;
    let deserialize_ms = median(
        (0..runs * 3)
            .map(|_| {
                let t = Instant::now();
                // SAFETY: bytes serialized just above by this same engine.
                let _ = unsafe { wasmtime::component::Component::deserialize(&engine, &native) };
                t.elapsed().as_secs_f64() * 1000.0
            })
            .collect(),
    );

    // Instantiation with the pooling allocator.
    let pooled = ConnectorEngine::build(
        bytes,
        Limits::default(),
        &Build {
            pooling: true,
            ..Build::default()
        },
    )?;
    let small = Arc::new(Canned::new(1));
    let e = env(small);
    for _ in 0..100 {
        pooled.instantiate_only(&e)?;
    }
    let instantiate_us = median(
        (0..2000)
            .map(|_| {
                let t = Instant::now();
                let _ = pooled.instantiate_only(&e);
                t.elapsed().as_secs_f64() * 1e6
            })
            .collect(),
    );

    // ns per tag, wasm and native, same 10,000 tags, runs interleaved so
    // that the machine's drift falls on both alike.
    let n = 10_000;
    let ten_k = Arc::new(Canned::new(n));
    let engine = ConnectorEngine::build(bytes, roomy.clone(), &Build::default())?;
    let unchecked = ConnectorEngine::build(
        bytes,
        roomy.clone(),
        &Build {
            no_epoch_checks: true,
            ..Build::default()
        },
    )?;
    let not_inlined = ConnectorEngine::build(
        bytes,
        roomy.clone(),
        &Build {
            no_inlining: true,
            ..Build::default()
        },
    )?;
    let (mut wasm, mut native_ns, mut wasm_unchecked, mut wasm_not_inlined) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs {
        wasm.push(wasm_tag_sync(&engine, &ten_k, n)?);
        native_ns.push(native_tag_sync(&ten_k, n)?);
        wasm_unchecked.push(wasm_tag_sync(&unchecked, &ten_k, n)?);
        wasm_not_inlined.push(wasm_tag_sync(&not_inlined, &ten_k, n)?);
    }
    let (w, nat, wu, wn) = (
        median(wasm),
        median(native_ns),
        median(wasm_unchecked),
        median(wasm_not_inlined),
    );

    // 100,000 tags: peak guest memory and requests, first sync and rerun.
    let big = Arc::new(Canned::new(100_000));
    let e = env(big.clone());
    let (first, stats) = engine.tag_sync_with_stats(&e, &settings, &event(), None)?;
    let first = first.map_err(|f| anyhow!("100k first sync failed: {}", crate::render::error_message(&f.error)))?;
    let started = std::time::Instant::now();
    let (rerun, rerun_stats) = engine
        .tag_sync_with_stats(&e, &settings, &event(), Some(&first.state))
        .context("100k rerun")?;
    let rerun_100k_ms = started.elapsed().as_secs_f64() * 1e3;
    let rerun = rerun.map_err(|f| anyhow!("100k rerun failed: {}", crate::render::error_message(&f.error)))?;

    Ok(Figures {
        component_bytes: bytes.len(),
        compile_ms,
        compile_ms_no_inlining,
        deserialize_ms,
        instantiate_us,
        tag_sync_ns_per_tag_wasm: w,
        tag_sync_ns_per_tag_native: nat,
        wasm_native_ratio: w / nat,
        tag_sync_ns_per_tag_wasm_no_epoch: wu,
        wasm_native_ratio_no_epoch: wu / nat,
        tag_sync_ns_per_tag_wasm_no_inlining: wn,
        wasm_native_ratio_no_inlining: wn / nat,
        peak_guest_memory_bytes: stats.peak_memory_bytes,
        requests_100k_first: first.requests,
        requests_100k_rerun: rerun.requests,
        peak_guest_memory_bytes_rerun: rerun_stats.peak_memory_bytes,
        rerun_100k_ms,
    })
}

/// A readable table.
pub fn table(f: &Figures) -> String {
    format!(
        "component_bytes            {}\ncompile_ms                 {:.1}\n  without inlining: {:.1}\ndeserialize_ms             {:.2}\ninstantiate_us             {:.1}\ntag_sync_ns_per_tag_wasm   {:.0}\ntag_sync_ns_per_tag_native {:.0}\nwasm_native_ratio          {:.2}\n  without epoch checks: {:.0} ns per tag, ratio {:.2}\n  without inlining: {:.0} ns per tag, ratio {:.2}\npeak_guest_memory_bytes    {}\nrequests_100k_first        {}\nrequests_100k_rerun        {}\n  its peak guest memory {} bytes, {:.0} ms\n",
        f.component_bytes,
        f.compile_ms,
        f.compile_ms_no_inlining,
        f.deserialize_ms,
        f.instantiate_us,
        f.tag_sync_ns_per_tag_wasm,
        f.tag_sync_ns_per_tag_native,
        f.wasm_native_ratio,
        f.tag_sync_ns_per_tag_wasm_no_epoch,
        f.wasm_native_ratio_no_epoch,
        f.tag_sync_ns_per_tag_wasm_no_inlining,
        f.wasm_native_ratio_no_inlining,
        f.peak_guest_memory_bytes,
        f.requests_100k_first,
        f.requests_100k_rerun,
        f.peak_guest_memory_bytes_rerun,
        f.rerun_100k_ms
    )
}
