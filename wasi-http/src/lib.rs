//! The connector as a standard `wasi:http/proxy` component (WASI 0.2): the
//! same core and the same JSON forms as the `connector` world's `describe`,
//! served over HTTP so that `wasmtime serve`, Spin, SpinKube, wasmCloud and
//! jco can run it without a host written for it.
//!
//! - `POST /tag-sync`, `/tag-details-push`, `/stats-sync`, `/new-posts`,
//!   `/posts-published`: `{"settings": …, "event": …, "state": "<base64>"}`
//!   in; the report (200) or the typed failure out, each with the new state
//!   and any rotated tokens.
//! - `POST /check`: `{"settings": …, "event": …}` in (no state); the check
//!   report (200), or the typed failure for invalid settings or input.
//! - `GET /describe`: the catalog. `GET /`: the routes.
//!
//! Everything here but `glue` is plain Rust that runs natively in the unit
//! tests; `glue` is the one module that sees the WASI bindings. The
//! component keeps nothing between requests: state travels in the request
//! and the answer, so any number of replicas may serve it.

#![deny(unsafe_code)]

pub mod answer;
pub mod call;
pub mod env;
pub mod handler;
pub mod route;

#[cfg(target_family = "wasm")]
mod glue;

/// The largest request body the component reads, and the largest answer it
/// reads from GHL or Rankr: the same cap as the `connector` world's host.
pub const MAX_BODY_BYTES: u64 = 10 * 1024 * 1024;
