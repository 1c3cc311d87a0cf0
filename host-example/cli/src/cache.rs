//! The on-disk cache of the compiled component: a warm start deserializes
//! native code instead of compiling the wasm. Entries are keyed by the
//! component's bytes, the wasmtime version and the engine's configuration,
//! written atomically with mode 0600 in the user's own cache folder, and
//! recompiled when unreadable.

use crate::files::write_atomic;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::time::Instant;
use wasmtime::component::Component;
use wasmtime::Engine;

/// How the component was obtained, and how long it took.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Start {
    /// True when deserialized from the cache.
    pub warm: bool,
    pub ms: f64,
}

/// `GHL_RANKR_CACHE_DIR`, else `$XDG_CACHE_HOME/ghl-rankr`, else
/// `$HOME/.cache/ghl-rankr`; none when nothing is set.
pub fn default_dir() -> Option<PathBuf> {
    let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    var("GHL_RANKR_CACHE_DIR")
        .or_else(|| var("XDG_CACHE_HOME").map(|d| d.join("ghl-rankr")))
        .or_else(|| var("HOME").map(|d| d.join(".cache").join("ghl-rankr")))
}

/// The cache file for these bytes on this engine.
pub fn entry(engine: &Engine, bytes: &[u8], dir: &Path) -> PathBuf {
    let mut h = std::hash::DefaultHasher::new();
    bytes.hash(&mut h);
    engine.precompile_compatibility_hash().hash(&mut h);
    env!("CARGO_PKG_VERSION").hash(&mut h);
    dir.join(format!("component-{:016x}.cwasm", h.finish()))
}

/// The component from the cache, or compiled (and then cached).
pub fn load_or_compile(engine: &Engine, bytes: &[u8], dir: Option<&Path>) -> wasmtime::Result<(Component, Start)> {
    let started = Instant::now();
    let ms = |s: Instant| s.elapsed().as_secs_f64() * 1000.0;
    let Some(dir) = dir else {
        let c = Component::new(engine, bytes)?;
        return Ok((
            c,
            Start {
                warm: false,
                ms: ms(started),
            },
        ));
    };
    let path = entry(engine, bytes, dir);
    if path.exists() {
        // SAFETY: the file is native code this program wrote itself, into the
        // user's own cache folder (mode 0600), under a key that covers the
        // component's bytes and the engine's configuration; wasmtime also
        // checks its header against this engine.
        match unsafe { Component::deserialize_file(engine, &path) } {
            Ok(c) => {
                return Ok((
                    c,
                    Start {
                        warm: true,
                        ms: ms(started),
                    },
                ))
            }
            Err(e) => {
                tracing::warn!(target: "ghl_rankr::cache", error = %e, file = %path.display(), "cache entry unusable; recompiling")
            }
        }
    }
    let c = Component::new(engine, bytes)?;
    let compiled = ms(started);
    match c.serialize() {
        Ok(native) => {
            if let Err(e) = std::fs::create_dir_all(dir).and_then(|()| write_atomic(&path, &native)) {
                tracing::warn!(target: "ghl_rankr::cache", error = %e, "could not write the compile cache");
            }
        }
        Err(e) => tracing::warn!(target: "ghl_rankr::cache", error = %e, "could not serialize the compiled component"),
    }
    Ok((
        c,
        Start {
            warm: false,
            ms: compiled,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cold_then_warm_and_a_damaged_entry_is_recompiled() {
        let dir = std::env::temp_dir().join(format!("ghl-rankr-cache-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let engine = Engine::default();
        let wasm = wat::parse_str("(component)").unwrap();
        let (_, cold) = load_or_compile(&engine, &wasm, Some(&dir)).unwrap();
        assert!(!cold.warm);
        let (_, warm) = load_or_compile(&engine, &wasm, Some(&dir)).unwrap();
        assert!(warm.warm, "the second start deserializes");
        std::fs::write(entry(&engine, &wasm, &dir), b"not native code").unwrap();
        let (_, again) = load_or_compile(&engine, &wasm, Some(&dir)).unwrap();
        assert!(!again.warm, "a damaged entry is recompiled, not trusted");
        let (_, fixed) = load_or_compile(&engine, &wasm, Some(&dir)).unwrap();
        assert!(fixed.warm, "and rewritten");
        std::fs::remove_dir_all(&dir).ok();
    }
}
