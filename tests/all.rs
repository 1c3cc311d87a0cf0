//! The component's tests: the real `.wasm` in wasmtime, against scripts
//! and the fakes, in virtual time. One binary; a module per concern
//! (`cargo test -p ghl-rankr-tests --test component_tests triggers::` runs
//! one).

mod catalog;
mod component;
mod deploy;
mod fault_matrix;
mod hostile;
mod openapi_conformance;
mod triggers;
mod wasi_http;
