//! The bench's tag-sync alone, for a profiler (callgrind counts instructions
//! repeatably on noisy machines):
//! `cargo build --release -p ghl-rankr-host --example profile_tag_sync`
//! `valgrind --tool=callgrind target/release/examples/profile_tag_sync native 10000 1`
//! `wasm` runs the embedded component instead (its code is JIT-compiled, so
//! callgrind sees totals, not names).

use ghl_rankr_host::bench::{native_tag_sync, wasm_tag_sync, Canned};
use ghl_rankr_host::engine::{Build, ConnectorEngine};
use ghl_rankr_host::limits::Limits;
use std::sync::Arc;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let side = args.next().unwrap_or_else(|| "native".into());
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let runs: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1);
    let canned = Arc::new(Canned::new(n));
    let engine = match side.as_str() {
        "wasm" => Some(ConnectorEngine::build(
            ghl_rankr_host::EMBEDDED_COMPONENT,
            Limits {
                memory_bytes: 1 << 30,
                ..Limits::default()
            },
            &Build::default(),
        )?),
        _ => None,
    };
    for _ in 0..runs {
        let ns = match &engine {
            Some(e) => wasm_tag_sync(e, &canned, n)?,
            None => native_tag_sync(&canned, n)?,
        };
        println!("{side}: {ns:.0} ns per tag");
    }
    Ok(())
}
