//! The connector component: the core ([`ghl_rankr_core`], re-exported whole
//! so hosts and tests name one crate) plus the WIT glue of the `connector`
//! world in `component`, built for wasm only. Nothing else sees generated
//! types, and only the generated bindings may use `unsafe`.

#![deny(unsafe_code)]

pub use ghl_rankr_core::*;

#[cfg(target_family = "wasm")]
mod component;
