//! Any bytes as `Retry-After` and the five `X-RateLimit-*` headers, then
//! pacing decisions over them.
#![no_main]

use ghl_rankr_core::client::pace::{Budget, Pacer};
use ghl_rankr_core::client::retry::parse_retry_after;
use ghl_rankr_core::io::Response;
use libfuzzer_sys::fuzz_target;

const NAMES: [&str; 6] = [
    "Retry-After",
    "X-RateLimit-Max",
    "X-RateLimit-Remaining",
    "X-RateLimit-Interval-Milliseconds",
    "X-RateLimit-Limit-Daily",
    "X-RateLimit-Daily-Remaining",
];

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let parts: Vec<&str> = text.split('\n').collect();
    let now = u64::from_le_bytes(
        data.iter()
            .copied()
            .chain([0; 8])
            .take(8)
            .collect::<Vec<_>>()
            .try_into()
            .unwrap_or([0; 8]),
    );
    let _ = parse_retry_after(parts[0], now);
    let resp = Response {
        status: 429,
        headers: NAMES
            .iter()
            .zip(parts.iter())
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        body: vec![],
    };
    let _ = Budget::from_response(&resp);
    let mut p = Pacer::default();
    for step in data.iter().take(64) {
        let t = now.saturating_add(*step as u64 * 100);
        let _ = p.wait_ms(t);
        p.on_exchange(t);
        p.observe(&resp);
    }
});
