//! What the component imports, served by a store's data ([`HostState`]):
//! `http` through an [`HttpTransport`], `host` through a [`Clock`], a
//! [`TokenStore`] and `tracing`. Every import counts against the call's
//! [`Limits`]: requests, log lines, and the call's deadline (an exchange or a
//! sleep never outlasts it). WASI is linked only for the component's std,
//! which is given no files, sockets or environment.

use crate::bindings::rankr::ghl_connector::{host, http};
use crate::clock::Clock;
use crate::limits::{Limits, Runaway};
use crate::transport::HttpTransport;
use crate::types::{OauthTokens, ProgressUpdate};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use wasmtime::component::ResourceTable;
use wasmtime::ResourceLimiter;
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

/// Where the component's progress reports go (the CLI draws a bar).
pub trait ProgressSink: Send + Sync {
    fn update(&self, update: &ProgressUpdate);
}

/// What an operation runs against: the transport, the clock, where rotated
/// tokens go, and where its log lines and progress go besides `tracing`.
#[derive(Clone)]
pub struct Env {
    pub transport: Arc<dyn HttpTransport>,
    pub clock: Arc<dyn Clock>,
    /// None: rotated tokens are only in the report (or the failure).
    pub tokens: Option<Arc<dyn TokenStore>>,
    pub captured_logs: Option<Arc<Mutex<Vec<LogLine>>>>,
    pub progress: Option<Arc<dyn ProgressSink>>,
}

/// A store's data: WASI (the component's std needs it; it is given no
/// files, no sockets, no environment), the connector's own imports, and
/// what this call may still use.
pub struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    env: Env,
    pub(crate) limiter: Limiter,
    deadline: Instant,
    limits: Limits,
    pub(crate) requests: u32,
    log_lines: u32,
}

impl HostState {
    /// A fresh state for one call under `limits`, starting its clock now.
    pub fn new(env: Env, limits: Limits) -> Self {
        HostState {
            wasi: WasiCtx::builder().build(),
            table: ResourceTable::new(),
            env,
            limiter: Limiter {
                memory_bytes: limits.memory_bytes,
                instances: limits.instances,
                peak: 0,
            },
            deadline: Instant::now() + limits.call_timeout,
            limits,
            requests: 0,
            log_lines: 0,
        }
    }
}

/// Longest log message or field value kept, in bytes.
const MAX_LOG_TEXT: usize = 4096;

/// Memory and instance caps; a refused growth is a [`Runaway::Memory`] trap,
/// so the error says which limit was hit.
pub(crate) struct Limiter {
    memory_bytes: usize,
    instances: usize,
    pub(crate) peak: usize,
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
        let mut admitted = self.admit(vec![request])?;
        match admitted.pop() {
            Some(request) => Ok(exchange(&*self.env.transport, &request)),
            None => Ok(Err(http::TransportError::InvalidRequest("no request".into()))),
        }
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
            Some(store) => store.store(&tokens),
            None => Ok(()),
        })
    }

    fn progress(&mut self, update: ProgressUpdate) -> wasmtime::Result<()> {
        if let Some(sink) = &self.env.progress {
            sink.update(&update);
        }
        Ok(())
    }
}

impl crate::bindings::rankr::ghl_connector::types::Host for HostState {}
