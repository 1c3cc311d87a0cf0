//! `[app]` and `[template]`: the marketplace app agencies install, and what
//! each connection an install makes gets (a name from a pattern, the
//! dashboard, the mapping tables, the schedules, the Rankr key).

use super::connection::{env_name, Connection, GhlCredentialEnv};
use super::file::{AppTable, ScheduleTable, TemplateTable};
use super::schedule::{parse_duration, schedule, Schedule};
use super::source::{ConfigError, Source};
use crate::config::ConfigFile;
use std::time::Duration;
use toml::Spanned;

/// Where agency admins consent, unless configured otherwise (white-label
/// agencies use `https://marketplace.leadconnectorhq.com`).
pub const DEFAULT_MARKETPLACE: &str = "https://marketplace.gohighlevel.com";

/// The key GHL's documentation prints for `x-wh-signature` (RSA-SHA256).
pub const OFFICIAL_RSA_KEY: &str = "-----BEGIN PUBLIC KEY-----
MIICIjANBgkqhkiG9w0BAQEFAAOCAg8AMIICCgKCAgEAokvo/r9tVgcfZ5DysOSC
Frm602qYV0MaAiNnX9O8KxMbiyRKWeL9JpCpVpt4XHIcBOK4u3cLSqJGOLaPuXw6
dO0t6Q/ZVdAV5Phz+ZtzPL16iCGeK9po6D6JHBpbi989mmzMryUnQJezlYJ3DVfB
csedpinheNnyYeFXolrJvcsjDtfAeRx5ByHQmTnSdFUzuAnC9/GepgLT9SM4nCpv
uxmZMxrJt5Rw+VUaQ9B8JSvbMPpez4peKaJPZHBbU3OdeCVx5klVXXZQGNHOs8gF
3kvoV5rTnXV0IknLBXlcKKAQLZcY/Q9rG6Ifi9c+5vqlvHPCUJFT5XUGG5RKgOKU
J062fRtN+rLYZUV+BjafxQauvC8wSWeYja63VSUruvmNj8xkx2zE/Juc+yjLjTXp
IocmaiFeAO6fUtNjDeFVkhf5LNb59vECyrHD2SQIrhgXpO4Q3dVNA5rw576PwTzN
h/AMfHKIjE4xQA1SZuYJmNnmVZLIZBlQAF9Ntd03rfadZ+yDiOXCCs9FkHibELhC
HULgCsnuDJHcrGNd5/Ddm5hxGQ0ASitgHeMZ0kcIOwKDOzOU53lDza6/Y09T7sYJ
PQe7z0cvj7aE4B+Ax1ZoZGPzpJlZtGXCsu9aTEGEnKzmsFqwcSsnw3JB31IGKAyk
T1hhTiaCeIY/OwwwNUY2yvcCAwEAAQ==
-----END PUBLIC KEY-----
";

/// The scopes an install asks for by default: the operations' and the
/// agency's (listing installs, exchanging its token for a sub-account's).
pub const DEFAULT_SCOPES: [&str; 6] = [
    "socialplanner/tag.readonly",
    "socialplanner/post.readonly",
    "socialplanner/statistics.readonly",
    "socialplanner/account.readonly",
    "oauth.readonly",
    "oauth.write",
];

/// The marketplace app.
#[derive(Debug, Clone)]
pub struct AppConfig {
    pub client_id_env: String,
    pub client_secret_env: String,
    /// Where GHL reaches this service: the redirect URI is
    /// `{public_url}/oauth/callback`, the webhook URL
    /// `{public_url}/webhooks/ghl`.
    pub public_url: String,
    pub scopes: Vec<String>,
    pub marketplace_url: String,
    /// GHL's API, for the OAuth calls.
    pub ghl_base_url: String,
    /// The key of `x-ghl-signature` (Ed25519), PEM or base64.
    pub webhook_ed25519_key: Option<String>,
    /// The key of `x-wh-signature` (RSA-SHA256), PEM.
    pub webhook_rsa_key: String,
    /// `x-wh-signature` is accepted.
    pub legacy_rsa: bool,
    /// How often each agency's installs are listed again (webhooks can
    /// be lost).
    pub list_installs: Duration,
    pub template: Template,
}

/// What each connection an install makes gets.
#[derive(Debug, Clone)]
pub struct Template {
    /// The connection's name: `{location}` is the location id.
    pub name: String,
    /// The Rankr dashboard: `{location}` likewise.
    pub dashboard: Option<String>,
    pub rankr_api_key_env: String,
    pub schedule: Schedule,
    pub settings: ConfigFile,
}

impl Template {
    /// The name and dashboard of the connection of `location`.
    pub fn name_for(&self, location: &str) -> String {
        self.name.replace("{location}", location)
    }

    pub fn dashboard_for(&self, location: &str) -> Option<String> {
        self.dashboard.as_ref().map(|d| d.replace("{location}", location))
    }

    /// The connection `name` of sub-account `location`.
    pub fn connection(&self, name: &str, location: &str) -> Connection {
        Connection {
            name: name.to_string(),
            location: location.to_string(),
            dashboard: self.dashboard_for(location),
            ghl: GhlCredentialEnv::Installed,
            rankr_api_key_env: self.rankr_api_key_env.clone(),
            schedule: self.schedule.clone(),
            settings: self.settings.clone(),
        }
    }
}

/// `[app]` with `[template]`, checked; `shared` is `[settings]`.
pub(super) fn parse(
    source: &Source<'_>,
    app: &Spanned<AppTable>,
    template: Option<&Spanned<TemplateTable>>,
    defaults: &ScheduleTable,
    shared: &ConfigFile,
) -> Result<AppConfig, ConfigError> {
    let a = app.get_ref();
    let at = |span: std::ops::Range<usize>, message: String| source.at(span, message);
    let var = |v: &Spanned<String>, key: &str| env_name(v, key).map_err(|m| at(v.span(), format!("app: {m}")));
    let url = |v: &Spanned<String>, key: &str| -> Result<String, ConfigError> {
        let text = v.get_ref().trim().trim_end_matches('/').to_string();
        let loopback =
            text.starts_with("http://127.") || text.starts_with("http://localhost") || text.starts_with("http://[::1]");
        if text.starts_with("https://") || loopback {
            Ok(text)
        } else {
            Err(at(
                v.span(),
                format!("app.{key} must be an https:// URL (http:// only on loopback)"),
            ))
        }
    };
    let Some(template) = template else {
        return Err(at(
            app.span(),
            "[app] needs a [template] for the connections installs make: name = \"social-{location}\", rankr_api_key_env, and optionally dashboard, schedule and mappings".into(),
        ));
    };
    let t = template.get_ref();
    if !t.name.get_ref().contains("{location}") {
        return Err(at(
            t.name.span(),
            "template.name must contain {location} (each installed sub-account gets its own connection)".into(),
        ));
    }
    let sample = t.name.get_ref().replace("{location}", "x");
    if sample.len() > 40
        || !sample
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(at(
            t.name.span(),
            "template.name may hold letters, digits, '-' and '_' around {location}, at most 40 characters of them"
                .into(),
        ));
    }
    let list_installs = match &a.list_installs {
        None => Duration::from_secs(3600),
        Some(v) => parse_duration(v.get_ref())
            .filter(|d| *d >= Duration::from_secs(1))
            .ok_or_else(|| at(v.span(), "app.list_installs must be a duration like \"1h\"".into()))?,
    };
    let mut settings = shared.clone();
    if t.rankr_base_url.is_some() {
        settings.rankr_base_url = t.rankr_base_url.clone();
    }
    let ghl_base_url = match &a.ghl_base_url {
        Some(u) => url(u, "ghl_base_url")?,
        None => shared
            .ghl_base_url
            .clone()
            .unwrap_or_else(|| crate::invoke::DEFAULT_GHL.to_string()),
    };
    settings.ghl_base_url = Some(ghl_base_url.clone());
    if let Some(m) = &t.tag_mapping {
        settings.tag_mapping = m.clone();
    }
    if let Some(m) = &t.metric_mapping {
        settings.metric_mapping = m.clone();
    }
    let schedule = schedule(
        defaults,
        t.schedule.as_ref().unwrap_or(&ScheduleTable::default()),
        source.text,
    )?;
    let dashboard = t.dashboard.as_ref().map(|d| d.get_ref().trim().to_string());
    if schedule.stats_daily_at.is_some() && dashboard.is_none() {
        return Err(at(
            template.span(),
            "template: statistics run daily but it has no dashboard; set dashboard = \"dash-{location}\", or [template.schedule] stats_daily_at = \"off\"".into(),
        ));
    }
    Ok(AppConfig {
        client_id_env: var(&a.client_id_env, "client_id_env")?,
        client_secret_env: var(&a.client_secret_env, "client_secret_env")?,
        public_url: url(&a.public_url, "public_url")?,
        scopes: a
            .scopes
            .clone()
            .unwrap_or_else(|| DEFAULT_SCOPES.iter().map(|s| s.to_string()).collect()),
        marketplace_url: match &a.marketplace_url {
            Some(u) => url(u, "marketplace_url")?,
            None => DEFAULT_MARKETPLACE.into(),
        },
        ghl_base_url,
        webhook_ed25519_key: a.webhook_ed25519_key.as_ref().map(|k| k.get_ref().clone()),
        webhook_rsa_key: a
            .webhook_rsa_key
            .as_ref()
            .map_or_else(|| OFFICIAL_RSA_KEY.to_string(), |k| k.get_ref().clone()),
        legacy_rsa: a.legacy_rsa.unwrap_or(true),
        list_installs,
        template: Template {
            name: t.name.get_ref().trim().to_string(),
            dashboard,
            rankr_api_key_env: env_name(&t.rankr_api_key_env, "rankr_api_key_env")
                .map_err(|m| at(t.rankr_api_key_env.span(), format!("template: {m}")))?,
            schedule,
            settings,
        },
    })
}
