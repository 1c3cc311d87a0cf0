//! The time seam: the component reads time and sleeps only through the host,
//! so tests can run retries and backoff in virtual time.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub trait Clock: Send + Sync {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> u64;
    /// Waits (or advances virtual time).
    fn sleep_ms(&self, ms: u64);
}

/// The wall clock and a real sleep, capped so a component cannot park the
/// host thread for long.
pub struct SystemClock {
    pub max_sleep: Duration,
}

impl Default for SystemClock {
    fn default() -> Self {
        SystemClock {
            max_sleep: Duration::from_secs(60),
        }
    }
}

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0)
    }

    fn sleep_ms(&self, ms: u64) {
        std::thread::sleep(Duration::from_millis(ms).min(self.max_sleep));
    }
}

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
