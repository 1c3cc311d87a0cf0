//! The time seam: the component reads time and sleeps only through the host,
//! so tests can run retries and backoff in virtual time.

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
