//! What the demo and the tests run the component against: fake GHL and
//! Rankr servers that implement both contracts ([`fakes`]), a scripted
//! transport, a virtual clock, and settings as the CLI builds them. Never in
//! a production build of the CLI.

pub mod clock;
pub mod fakes;
pub mod tls;
pub mod transport;

pub use clock::VirtualClock;
pub use transport::ScriptedTransport;

use ghl_rankr_host::types::{Credential, Settings};

/// Settings with an API key and everything else as the CLI defaults it
/// (archiving on).
pub fn settings(ghl_base_url: &str, ghl_key: &str, rankr_base_url: &str, rankr_key: &str) -> Settings {
    Settings {
        ghl_base_url: ghl_base_url.into(),
        ghl_credential: Credential::ApiKey(ghl_key.into()),
        rankr_base_url: rankr_base_url.into(),
        rankr_api_key: rankr_key.into(),
        page_size: None,
        tag_mapping: vec![],
        metric_mapping: vec![],
        dry_run: false,
        request_timeout_ms: None,
        retry: None,
        deadline_ms: None,
        full_refresh: false,
        full_pass: false,
        archive_missing: true,
        max_in_flight: None,
    }
}
