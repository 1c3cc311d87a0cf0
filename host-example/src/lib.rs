//! An example wasmtime host for the GHL -> Rankr connector component, and
//! the pieces the `ghl-rankr` CLI is made of:
//!
//! - [`engine`]: compiles the component once, makes an `InstancePre` once,
//!   and runs each operation in a fresh store;
//! - [`transport`]: the HTTP seam the component's `http` import goes through
//!   (a real client, or anything a test puts in its place);
//! - [`clock`]: the time seam (the wall clock, or virtual time for tests);
//! - [`config`]: the TOML settings file;
//! - [`fakes`]: GHL and Rankr servers on loopback, for the demo and tests.

pub mod bench;
pub mod cache;
pub mod clock;
pub mod config;
pub mod credentials;
pub mod demo;
pub mod egress;
pub mod engine;
pub mod fakes;
pub mod files;
pub mod limits;
pub mod render;
pub mod transport;

/// Types generated from `wit/connector.wit`, for hosts and tests.
pub mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "connector",
        // Imports may trap: that is how the host ends a runaway call (a
        // flood of requests, a call past its deadline).
        imports: { default: trappable },
    });
}

pub use bindings::exports::rankr::ghl_connector::sync;
pub use bindings::rankr::ghl_connector::{http, types};

/// The component built by this workspace, embedded at build time.
pub static EMBEDDED_COMPONENT: &[u8] = include_bytes!(env!("GHL_RANKR_COMPONENT_PATH"));
