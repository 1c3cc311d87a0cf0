//! `connections.toml` as written: the tables serde reads, spans kept so a
//! mistake is refused with its line. [`super::ServeConfig::parse`] turns
//! them into the service's settings.

use crate::config::{ConfigFile, MappingRowConfig, MetricRenameConfig};
use serde::Deserialize;
use toml::Spanned;

/// The file as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ServeFile {
    #[serde(default)]
    pub(super) service: ServiceTable,
    #[serde(default)]
    pub(super) schedule: ScheduleTable,
    #[serde(default)]
    pub(super) settings: ConfigFile,
    #[serde(default)]
    pub(super) connection: Vec<Spanned<ConnectionTable>>,
    #[serde(default)]
    pub(super) access: Vec<Spanned<AccessTable>>,
    pub(super) app: Option<Spanned<AppTable>>,
    pub(super) template: Option<Spanned<TemplateTable>>,
}

/// `[app]`: the marketplace app agencies install.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AppTable {
    pub(super) client_id_env: Spanned<String>,
    pub(super) client_secret_env: Spanned<String>,
    pub(super) public_url: Spanned<String>,
    pub(super) scopes: Option<Vec<String>>,
    pub(super) marketplace_url: Option<Spanned<String>>,
    pub(super) ghl_base_url: Option<Spanned<String>>,
    pub(super) webhook_ed25519_key: Option<Spanned<String>>,
    pub(super) webhook_rsa_key: Option<Spanned<String>>,
    pub(super) legacy_rsa: Option<bool>,
    pub(super) list_installs: Option<Spanned<String>>,
}

/// `[template]`: what a connection made by an install gets.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TemplateTable {
    pub(super) name: Spanned<String>,
    pub(super) dashboard: Option<Spanned<String>>,
    pub(super) rankr_api_key_env: Spanned<String>,
    pub(super) rankr_base_url: Option<String>,
    pub(super) schedule: Option<ScheduleTable>,
    pub(super) tag_mapping: Option<Vec<MappingRowConfig>>,
    pub(super) metric_mapping: Option<Vec<MetricRenameConfig>>,
}

/// One `[[access]]` token: its name (for the audit log), its role, and the
/// variable holding it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AccessTable {
    pub(super) name: Spanned<String>,
    pub(super) role: Spanned<String>,
    pub(super) token_env: Spanned<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ServiceTable {
    pub(super) database: Option<Spanned<String>>,
    pub(super) listen: Option<Spanned<String>>,
    pub(super) max_concurrent: Option<Spanned<u32>>,
    pub(super) history_days: Option<Spanned<u32>>,
    pub(super) alert_webhook_url: Option<Spanned<String>>,
    pub(super) alert_after_failures: Option<Spanned<u32>>,
    pub(super) event_token_env: Option<Spanned<String>>,
    pub(super) run_deadline: Option<Spanned<String>>,
    pub(super) shutdown_grace: Option<Spanned<String>>,
    pub(super) backoff_initial: Option<Spanned<String>>,
    pub(super) backoff_max: Option<Spanned<String>>,
    pub(super) public_status: Option<bool>,
    pub(super) key_file: Option<Spanned<String>>,
    pub(super) max_connections: Option<Spanned<u32>>,
    pub(super) request_timeout: Option<Spanned<String>>,
    pub(super) check_at_start: Option<bool>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ScheduleTable {
    pub(super) poll_posts: Option<Spanned<String>>,
    pub(super) tag_sync: Option<Spanned<String>>,
    pub(super) stats_daily_at: Option<Spanned<String>>,
    pub(super) poll_published: Option<Spanned<String>>,
    pub(super) stats_after_publish: Option<Spanned<Vec<String>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ConnectionTable {
    pub(super) name: Spanned<String>,
    pub(super) location: Spanned<String>,
    pub(super) dashboard: Option<String>,
    pub(super) ghl_base_url: Option<String>,
    pub(super) rankr_base_url: Option<String>,
    pub(super) ghl_token_env: Option<Spanned<String>>,
    pub(super) ghl_refresh_token_env: Option<Spanned<String>>,
    pub(super) ghl_client_id_env: Option<Spanned<String>>,
    pub(super) ghl_client_secret_env: Option<Spanned<String>>,
    pub(super) ghl_scopes_env: Option<Spanned<String>>,
    pub(super) rankr_api_key_env: Spanned<String>,
    pub(super) schedule: Option<ScheduleTable>,
    pub(super) tag_mapping: Option<Vec<MappingRowConfig>>,
    pub(super) metric_mapping: Option<Vec<MetricRenameConfig>>,
}
