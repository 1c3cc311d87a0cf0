//! Builds the connector component for `wasm32-wasip2` (release profile) and
//! hands its path to the crate, which embeds it. Like wasmtime's own
//! test-programs artifacts crate, it runs a nested `cargo build` with its own
//! target directory, so it never waits on the outer build's lock.
//! `GHL_RANKR_COMPONENT=path` takes a component built beforehand instead.

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
    for watched in ["src", "wit", "Cargo.toml", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }
    println!("cargo:rerun-if-env-changed=GHL_RANKR_COMPONENT");

    // A prebuilt component may be supplied instead (packaging, cross builds).
    if let Ok(path) = env::var("GHL_RANKR_COMPONENT") {
        println!("cargo:rustc-env=GHL_RANKR_COMPONENT_PATH={path}");
        return;
    }

    ensure_target();
    let target_dir = root.join("target").join("component-build");
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&root)
        .args([
            "build",
            "--release",
            "--package",
            "ghl-rankr-connector",
            "--target",
            TARGET,
        ])
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
    let status = cmd.status().expect("could not run cargo to build the component");
    if !status.success() {
        panic!("building the component for {TARGET} failed (see the output above)");
    }
    let wasm = target_dir.join(TARGET).join("release").join("ghl_rankr_connector.wasm");
    assert!(
        Path::new(&wasm).exists(),
        "the component was not found at {}",
        wasm.display()
    );
    println!("cargo:rustc-env=GHL_RANKR_COMPONENT_PATH={}", wasm.display());
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
