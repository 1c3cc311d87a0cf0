//! When to try a request again and how long to wait first.

/// Attempts and backoff bounds. Waits are exponential with full jitter:
/// a uniform draw in `[0, min(max_delay, base * 2^(attempt-1))]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub base_delay_ms: u32,
    pub max_delay_ms: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            base_delay_ms: 500,
            max_delay_ms: 30_000,
        }
    }
}

impl RetryPolicy {
    /// Refuses policies that could not work.
    pub fn check(&self) -> Result<(), String> {
        if !(1..=20).contains(&self.max_attempts) {
            return Err(format!("retry max-attempts is {}; use 1 to 20", self.max_attempts));
        }
        if self.base_delay_ms == 0 || self.base_delay_ms > self.max_delay_ms {
            return Err("retry base-delay-ms must be at least 1 and at most max-delay-ms".into());
        }
        Ok(())
    }

    /// The ceiling of the wait before attempt `attempt + 1`.
    pub fn ceiling_ms(&self, attempt: u32) -> u64 {
        let exp = (self.base_delay_ms as u64).saturating_mul(1u64 << attempt.saturating_sub(1).min(30));
        exp.min(self.max_delay_ms as u64)
    }
}

/// Statuses worth another attempt: rate limited, or a server-side hiccup.
pub fn is_retryable_status(status: u16) -> bool {
    matches!(status, 429 | 500 | 502 | 503 | 504)
}

/// `Retry-After` as milliseconds from `now_ms`: delay-seconds or an HTTP date.
pub fn parse_retry_after(value: &str, now_ms: u64) -> Option<u64> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(secs.saturating_mul(1000));
    }
    // HTTP-date in any of RFC 9110's three forms, by `httpdate`.
    let at = httpdate::parse_http_date(value).ok()?;
    let at_ms = u64::try_from(at.duration_since(std::time::UNIX_EPOCH).ok()?.as_millis()).ok()?;
    Some(at_ms.saturating_sub(now_ms))
}

/// A small, seedable generator for jitter (splitmix64); no entropy import needed.
#[derive(Debug, Clone)]
pub struct Jitter(u64);

impl Jitter {
    pub fn new(seed: u64) -> Self {
        Jitter(seed)
    }

    /// Uniform in `[0, max]`.
    pub fn upto(&mut self, max: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut mixed = self.0;
        mixed = (mixed ^ (mixed >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        mixed = (mixed ^ (mixed >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        mixed ^= mixed >> 31;
        if max == u64::MAX {
            mixed
        } else {
            mixed % (max + 1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let p = RetryPolicy::default();
        assert_eq!(p.ceiling_ms(1), 500);
        assert_eq!(p.ceiling_ms(2), 1000);
        assert_eq!(p.ceiling_ms(3), 2000);
        assert_eq!(p.ceiling_ms(40), 30_000);
        let mut j = Jitter::new(7);
        for _ in 0..1000 {
            assert!(j.upto(500) <= 500);
        }
    }

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after("3", 0), Some(3000));
        // 1994-11-06T08:49:37Z = 784111777 s.
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784_111_770_000),
            Some(7000)
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784_111_790_000),
            Some(0)
        );
        // RFC 9110's obsolete forms, which a recipient must still accept.
        assert_eq!(
            parse_retry_after("Sunday, 06-Nov-94 08:49:37 GMT", 784_111_770_000),
            Some(7000)
        );
        assert_eq!(
            parse_retry_after("Sun Nov  6 08:49:37 1994", 784_111_770_000),
            Some(7000)
        );
        assert_eq!(parse_retry_after("soon", 0), None);
        assert_eq!(parse_retry_after("Sun, 06 Nov 1994 25:49:37 GMT", 0), None);
    }

    #[test]
    fn which_statuses_retry() {
        for s in [429, 500, 502, 503, 504] {
            assert!(is_retryable_status(s));
        }
        for s in [400, 401, 403, 404, 409, 422, 501] {
            assert!(!is_retryable_status(s));
        }
    }
}
