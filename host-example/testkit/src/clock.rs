//! Virtual time, for running retries, backoff and rate limits in tests
//! without waiting.

use ghl_rankr_host::clock::Clock;
use std::sync::atomic::{AtomicU64, Ordering};

/// Virtual time: `sleep` moves the clock forward at once.
#[derive(Debug)]
pub struct VirtualClock {
    now: AtomicU64,
    slept: AtomicU64,
}

impl VirtualClock {
    pub fn starting_at(ms: u64) -> Self {
        VirtualClock {
            now: AtomicU64::new(ms),
            slept: AtomicU64::new(0),
        }
    }

    /// Total virtual time slept.
    pub fn slept_ms(&self) -> u64 {
        self.slept.load(Ordering::SeqCst)
    }
}

impl Clock for VirtualClock {
    fn now_ms(&self) -> u64 {
        self.now.load(Ordering::SeqCst)
    }

    fn sleep_ms(&self, ms: u64) {
        self.now.fetch_add(ms, Ordering::SeqCst);
        self.slept.fetch_add(ms, Ordering::SeqCst);
    }
}
