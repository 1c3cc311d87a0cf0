// Shared by the targets: settings with throwaway secrets.
#![allow(dead_code)]

use ghl_rankr_core::{Credential, Secret, SettingsInput};

pub fn settings() -> SettingsInput {
    SettingsInput {
        ghl_base_url: "https://ghl.test".into(),
        ghl_credential: Credential::ApiKey(Secret::new("pit-fuzz-1234")),
        rankr_base_url: "https://rankr.test".into(),
        rankr_api_key: Secret::new("rk-fuzz-1234"),
        archive_missing: true,
        ..Default::default()
    }
}
