//! The connector component, built by this crate's build script for
//! `wasm32-wasip2` with the release profile (or taken from
//! `GHL_RANKR_COMPONENT`), embedded as bytes. Only the CLI and the tests
//! depend on it: the core's own tests never build the component.

/// Where the component was built (or taken from).
pub const PATH: &str = env!("GHL_RANKR_COMPONENT_PATH");

/// The component's bytes.
pub static COMPONENT: &[u8] = include_bytes!(env!("GHL_RANKR_COMPONENT_PATH"));
