//! The bench's tag-sync alone, for a profiler (callgrind counts instructions
//! repeatably on noisy machines):
//! `cargo build --release -p ghl-rankr-host --example profile_tag_sync`
//! `valgrind --tool=callgrind target/release/examples/profile_tag_sync native 10000 1`
//! `wasm` runs the embedded component instead (its code is JIT-compiled, so
//! callgrind sees totals, not names); `wasm-no-epoch` runs it without epoch
//! checks, to see what they cost per function, and `wasm-no-inlining`
//! without wasmtime's inliner. `PROFILE_COMPONENT=path`
//! profiles another build of the component (one with a name section, say).

use ghl_rankr_host::bench::{native_tag_sync, wasm_tag_sync, Canned};
use ghl_rankr_host::engine::{Build, ConnectorEngine};
use ghl_rankr_host::limits::Limits;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Counts the process's allocations, so `native` also prints allocations
/// per tag (the guest allocator's calls are what cost most in wasm).
struct Counting;
static ALLOCS: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(layout.size() as u64, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(new_size as u64, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let side = args.next().unwrap_or_else(|| "native".into());
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let runs: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1);
    let canned = Arc::new(Canned::new(n));
    let bytes = match std::env::var_os("PROFILE_COMPONENT") {
        Some(path) => std::fs::read(path)?,
        None => ghl_rankr_host::EMBEDDED_COMPONENT.to_vec(),
    };
    let engine = match side.as_str() {
        "wasm" | "wasm-no-epoch" | "wasm-no-inlining" => Some(ConnectorEngine::build(
            &bytes,
            Limits {
                memory_bytes: 1 << 30,
                ..Limits::default()
            },
            &Build {
                no_epoch_checks: side == "wasm-no-epoch",
                no_inlining: side == "wasm-no-inlining",
                ..Build::default()
            },
        )?),
        _ => None,
    };
    for _ in 0..runs {
        let (a0, b0) = (ALLOCS.load(Ordering::Relaxed), BYTES.load(Ordering::Relaxed));
        let ns = match &engine {
            Some(e) => wasm_tag_sync(e, &canned, n)?,
            None => native_tag_sync(&canned, n)?,
        };
        let (a, b) = (ALLOCS.load(Ordering::Relaxed) - a0, BYTES.load(Ordering::Relaxed) - b0);
        let per = |x: u64| x as f64 / n as f64;
        // In wasm these are the host's (the guest's own are inside its memory).
        println!(
            "{side}: {ns:.0} ns per tag, {:.1} allocations ({:.0} bytes) per tag",
            per(a),
            per(b)
        );
    }
    Ok(())
}
