//! GHL (HighLevel Social Planner) -> Rankr CRM connector.
//!
//! The core is plain Rust behind one trait, [`io::Host`] (HTTP, time, logs),
//! so it compiles natively for tests and benchmarks and to `wasm32-wasip2`
//! for the component. The WIT glue lives in one module, `component`, built
//! for wasm only; nothing else sees generated types.

pub mod alloc;
pub mod auth;
pub mod bytes;
pub mod client;
pub mod ghl;
pub mod io;
pub mod json;
pub mod mapping;
pub mod ops;
pub mod rankr;
pub mod report;
pub mod secret;
pub mod settings;
pub mod state;
pub mod stats;
pub mod testing;

#[cfg(target_family = "wasm")]
mod component;

/// Small blocks from per-size free lists, the rest from wasi-libc's
/// allocator (see [`alloc`]); native builds keep the system allocator.
#[cfg(all(target_family = "wasm", not(target_feature = "atomics")))]
#[global_allocator]
static GUEST_ALLOC: alloc::GuestAlloc = alloc::GuestAlloc;

pub use auth::{Credential, OAuthCredential, OAuthTokens, Scope};
pub use ops::{stats_sync, tag_details_push, tag_sync, StatsRequest, TagDetailsEvent, TagSyncEvent};
pub use report::{
    Incomplete, ItemError, PlannedWrite, RateLimit, Service, StopReason, SyncError, SyncFailure, SyncReport,
    UpstreamError,
};
pub use secret::Secret;
pub use settings::SettingsInput;
