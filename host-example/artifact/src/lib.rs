//! The two components, built by this crate's build script for
//! `wasm32-wasip2` with the release profile (or taken from
//! `GHL_RANKR_COMPONENT` and `GHL_RANKR_HTTP_COMPONENT`), embedded as bytes.
//! Only the CLI and the tests depend on it: the core's own tests never build
//! a component.

/// Where the `connector` world's component was built (or taken from).
pub const PATH: &str = env!("GHL_RANKR_COMPONENT_PATH");

/// The `connector` world's component.
pub static COMPONENT: &[u8] = include_bytes!(env!("GHL_RANKR_COMPONENT_PATH"));

/// Where the `wasi:http/proxy` component was built (or taken from).
pub const HTTP_PATH: &str = env!("GHL_RANKR_HTTP_COMPONENT_PATH");

/// The `wasi:http/proxy` component.
pub static HTTP_COMPONENT: &[u8] = include_bytes!(env!("GHL_RANKR_HTTP_COMPONENT_PATH"));
