//! The bench's native tag-sync alone, for a profiler:
//! `cargo build --release -p ghl-rankr-host --example profile_native`
//! `valgrind --tool=callgrind target/release/examples/profile_native 10000`

use ghl_rankr_host::bench::{native_tag_sync, Canned};

fn main() -> anyhow::Result<()> {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let canned = Canned::new(n);
    let ns = native_tag_sync(&canned, n)?;
    println!("{ns:.0} ns per tag");
    Ok(())
}
