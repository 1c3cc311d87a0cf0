//! What the host holds a component to, per call: wall time (epoch
//! interruption), optional fuel, linear memory and instances
//! (`StoreLimits`), wasm stack depth, and how many requests and log lines it
//! may make. A runaway component ends with a [`Runaway`] error saying which
//! limit it hit; the host process is unaffected.

use std::fmt;
use std::time::Duration;

/// The epoch ticks this often; deadlines are counted in ticks.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Per-call limits. Defaults suit the connector's own work with headroom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Wall time of one call, host imports included (HTTP, sleeps).
    pub call_timeout: Duration,
    /// Instructions' worth of fuel per call; none = not metered.
    pub fuel: Option<u64>,
    /// Linear memory per store, all memories together.
    pub memory_bytes: usize,
    /// Core instances per store (the component and its adapters).
    pub instances: usize,
    /// The wasm stack's size.
    pub max_wasm_stack: usize,
    /// `http.send` calls per operation.
    pub max_requests: u32,
    /// `log` calls per operation; later ones are dropped (counted).
    pub max_log_lines: u32,
    /// Exchanges of one `http.send-all` run at once (the host's pool);
    /// 1 runs them one after another.
    pub http_pool: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            call_timeout: Duration::from_secs(20 * 60),
            fuel: None,
            memory_bytes: 64 * 1024 * 1024,
            instances: 32,
            max_wasm_stack: 1024 * 1024,
            max_requests: 100_000,
            max_log_lines: 100_000,
            http_pool: 16,
        }
    }
}

/// Which limit a call hit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Runaway {
    /// Ran past `call_timeout` (epoch interruption, or an import called late).
    Deadline(Duration),
    /// Used all its fuel.
    Fuel(u64),
    /// Asked for more linear memory than allowed.
    Memory(usize),
    /// Overflowed the wasm stack.
    Stack(usize),
    /// Made more requests than allowed.
    RequestFlood(u32),
}

impl fmt::Display for Runaway {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Runaway::Deadline(d) => write!(
                f,
                "the component ran past its call deadline of {} s and was stopped",
                d.as_secs_f64()
            ),
            Runaway::Fuel(n) => write!(f, "the component used all of its {n} units of fuel and was stopped"),
            Runaway::Memory(b) => write!(
                f,
                "the component tried to grow its memory past {} MiB and was stopped",
                b / (1024 * 1024)
            ),
            Runaway::Stack(b) => write!(
                f,
                "the component overflowed its {} KiB wasm stack and was stopped",
                b / 1024
            ),
            Runaway::RequestFlood(n) => write!(
                f,
                "the component made more than {n} HTTP requests in one call and was stopped"
            ),
        }
    }
}

impl std::error::Error for Runaway {}

impl Runaway {
    /// Classifies a failed call's error by the limit it hit, if any.
    pub fn classify(e: &wasmtime::Error, limits: &Limits) -> Option<Runaway> {
        if let Some(r) = e.downcast_ref::<Runaway>() {
            return Some(r.clone());
        }
        if let Some(t) = e.downcast_ref::<wasmtime::Trap>() {
            return match t {
                wasmtime::Trap::Interrupt => Some(Runaway::Deadline(limits.call_timeout)),
                wasmtime::Trap::OutOfFuel => Some(Runaway::Fuel(limits.fuel.unwrap_or(0))),
                wasmtime::Trap::StackOverflow => Some(Runaway::Stack(limits.max_wasm_stack)),
                _ => None,
            };
        }
        // StoreLimits with trap_on_grow_failure says so in words.
        let text = format!("{e:#}");
        if text.contains("forcing trap when growing memory") || text.contains("memory minimum size") {
            return Some(Runaway::Memory(limits.memory_bytes));
        }
        None
    }
}
