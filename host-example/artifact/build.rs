//! Builds the two components for `wasm32-wasip2` (release profile), the
//! `connector` world's and the `wasi:http/proxy` one, and hands their paths
//! to the crate, which embeds them. Like wasmtime's own test-programs
//! artifacts crate, it runs a nested `cargo build` with its own target
//! directory, so it never waits on the outer build's lock.
//! `GHL_RANKR_COMPONENT=path` and `GHL_RANKR_HTTP_COMPONENT=path` take
//! components built beforehand instead; with both given nothing is built.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET: &str = "wasm32-wasip2";

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let root = manifest_dir
        .ancestors()
        .nth(2)
        .expect("host-example/artifact lives inside the workspace")
        .to_path_buf();
    for watched in ["src", "core", "wasi-http", "wit", "Cargo.toml", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }
    // (package, file, variable naming a prebuilt one, variable for the crate)
    let components = [
        (
            "ghl-rankr-connector",
            "ghl_rankr_connector.wasm",
            "GHL_RANKR_COMPONENT",
            "GHL_RANKR_COMPONENT_PATH",
        ),
        (
            "ghl-rankr-wasi-http",
            "ghl_rankr_wasi_http.wasm",
            "GHL_RANKR_HTTP_COMPONENT",
            "GHL_RANKR_HTTP_COMPONENT_PATH",
        ),
    ];
    for (_, _, given, _) in components {
        println!("cargo:rerun-if-env-changed={given}");
    }

    // Prebuilt components may be supplied instead (packaging, cross builds).
    let prebuilt: Vec<Option<String>> = components.iter().map(|c| env::var(c.2).ok()).collect();
    if prebuilt.iter().all(Option::is_some) {
        for ((_, _, _, out), path) in components.iter().zip(&prebuilt) {
            println!("cargo:rustc-env={out}={}", path.as_deref().unwrap_or_default());
        }
        return;
    }

    ensure_target();
    let target_dir = root.join("target").join("component-build");
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&root)
        .args(["build", "--release", "--target", TARGET])
        .args(components.iter().flat_map(|c| ["--package", c.0]))
        .arg("--target-dir")
        .arg(&target_dir);
    // The outer build's settings are not the component's.
    for var in [
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_MAKEFLAGS",
        "CARGO_PRIMARY_PACKAGE",
        "CARGO_LLVM_COV",
        "LLVM_PROFILE_FILE",
    ] {
        cmd.env_remove(var);
    }
    for (key, _) in env::vars() {
        if key.starts_with("CARGO_PROFILE_") || key.starts_with("CARGO_FEATURE_") {
            cmd.env_remove(key);
        }
    }
    let status = cmd.status().expect("could not run cargo to build the components");
    if !status.success() {
        panic!("building the components for {TARGET} failed (see the output above)");
    }
    for ((_, file, _, out), given) in components.iter().zip(prebuilt) {
        let wasm = match given {
            Some(path) => PathBuf::from(path),
            None => target_dir.join(TARGET).join("release").join(file),
        };
        assert!(
            Path::new(&wasm).exists(),
            "the component was not found at {}",
            wasm.display()
        );
        println!("cargo:rustc-env={out}={}", wasm.display());
    }
}

/// Installs the wasm target with rustup when it is missing.
fn ensure_target() {
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let sysroot = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    if let Some(sysroot) = sysroot {
        if Path::new(&sysroot).join("lib/rustlib").join(TARGET).exists() {
            return;
        }
    }
    println!("cargo:warning=installing the {TARGET} target with rustup");
    let ok = Command::new("rustup")
        .args(["target", "add", TARGET])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !ok {
        panic!("the {TARGET} target is missing and `rustup target add {TARGET}` failed; run it by hand");
    }
}
