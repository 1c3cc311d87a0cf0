//! Fake GHL and Rankr servers on 127.0.0.1 (ephemeral ports) that implement
//! both contracts: the demo runs against them, and so do the end-to-end tests.
//! The fake GHL refuses any request the official OpenAPI file would not
//! accept; the fake Rankr enforces `rankr-api.yaml` (auth, idempotency keys,
//! limits, item validation, problem+json). The fake marketplace adds the
//! agency install: consent, agency and sub-account tokens, installed
//! locations, signed INSTALL / UNINSTALL webhooks, and a Social Planner per
//! sub-account.

pub mod ghl;
pub mod marketplace;
pub mod oauth;
pub mod openapi;
pub mod proxy;
pub mod rankr;
pub mod server;
pub mod world;

pub use ghl::{AdmittedToken, GhlFake, GhlFault, GhlState, RateLimits};
pub use marketplace::{AgencyLocation, Consent, LocationRefresh, MarketplaceFake, MarketplaceState, SignedWebhook};
pub use oauth::OAuthServer;
pub use proxy::ConnectProxy;
pub use rankr::{RankrFake, RankrFault, RankrState};
pub use world::FakeWorld;
