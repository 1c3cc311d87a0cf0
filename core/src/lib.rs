//! GHL (HighLevel Social Planner) -> Rankr CRM connector.
//!
//! The core is plain, safe Rust behind one trait, [`io::Host`] (HTTP, time,
//! logs, a place for rotated tokens), so it compiles natively for its tests
//! and to `wasm32-wasip2` for the components. It has no WIT glue: each
//! component is a crate of its own that adds one (`ghl-rankr-connector`, the
//! `connector` world; `ghl-rankr-wasi-http`, the standard `wasi:http/proxy`
//! world), so building one never links the other's exports.
//!
//! Layers, lowest first: `secret`, `io`, `report`, `json`, `hash`; the two
//! APIs (`ghl`, `rankr`) and `auth`; `client` (sending); `state`, `mapping`,
//! `stats`, `settings`; `ops` (the operations, the triggers and the check).

#![deny(unsafe_code)]

pub mod auth;
pub mod catalog;
pub mod client;
pub mod ghl;
pub mod hash;
pub mod instant;
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
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod wire;

#[cfg(test)]
mod proptests;

pub use auth::{Credential, OAuthCredential, Scope};
pub use ops::{
    check, new_posts, posts_published, stats_sync, tag_details_push, tag_sync, CheckItem, CheckOutcome, CheckReport,
    CheckRequest, NewPostsReport, NewPostsRequest, Operation, Probe, PublishedPost, PublishedPostsReport,
    PublishedPostsRequest, RateHeadroom, SocialPost, StatsRequest, TagDetailsEvent, TagSyncEvent,
};
pub use report::{
    Change, Incomplete, ItemError, PlannedWrite, RateLimit, Service, StopReason, SyncError, SyncFailure, SyncReport,
    TagChanges, UpstreamError,
};
pub use secret::{OAuthTokens, Secret};
pub use settings::SettingsInput;
