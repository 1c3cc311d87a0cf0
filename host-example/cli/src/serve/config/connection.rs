//! One `[[connection]]`: a GHL location, its credentials by variable name,
//! its schedule and its component settings.

use super::file::{ConnectionTable, ScheduleTable};
use super::schedule::{schedule, Schedule};
use super::source::{ConfigError, Source};
use crate::config::ConfigFile;
use toml::Spanned;

/// One GHL location kept in step with Rankr.
#[derive(Debug, Clone)]
pub struct Connection {
    pub name: String,
    pub location: String,
    pub dashboard: Option<String>,
    pub ghl: GhlCredentialEnv,
    pub rankr_api_key_env: String,
    pub schedule: Schedule,
    /// The component's settings (the `--config` keys): shared `[settings]`
    /// with this connection's base URLs and mapping tables.
    pub settings: ConfigFile,
}

/// Where a connection's GHL credential is, by variable name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GhlCredentialEnv {
    /// A Private Integration Token.
    Token(String),
    OAuth {
        refresh_token: String,
        client_id: String,
        client_secret: String,
        /// The first access token, if one is given with the refresh token.
        access_token: Option<String>,
        scopes: Option<String>,
    },
    /// Made by an agency's install: the sub-account's token lives in the
    /// database, exchanged from the agency's.
    Installed,
}

impl Connection {
    /// Error hints that name this connection's variables.
    pub fn hints(&self) -> crate::render::Hints {
        let (ghl_credential, ghl_refresh) = match &self.ghl {
            GhlCredentialEnv::Token(t) => (t.clone(), t.clone()),
            GhlCredentialEnv::OAuth { refresh_token, .. } => (
                format!("the OAuth pair (first from {refresh_token})"),
                format!("{refresh_token}, then restart the service"),
            ),
            GhlCredentialEnv::Installed => (
                "the install (connect the agency again at /install)".to_string(),
                "the install: connect the agency again at /install".to_string(),
            ),
        };
        crate::render::Hints {
            ghl_credential,
            ghl_refresh,
            rankr_key: self.rankr_api_key_env.clone(),
            more_time: "raise service.run_deadline; the next run goes on".into(),
        }
    }
}

/// One `[[connection]]` table, checked; `defaults` is `[schedule]`,
/// `shared` is `[settings]`.
pub(super) fn parse(
    source: &Source<'_>,
    table: &Spanned<ConnectionTable>,
    defaults: &ScheduleTable,
    shared: &ConfigFile,
) -> Result<Connection, ConfigError> {
    let span = table.span();
    let c = table.get_ref();
    let at = |span: std::ops::Range<usize>, message: String| source.at(span, message);
    let name = c.name.get_ref().trim().to_string();
    let name_ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_');
    if !name_ok {
        return Err(at(
            c.name.span(),
            format!(
                "connection name {:?} must be 1 to 64 letters, digits, '-' or '_' (it is used in URLs)",
                c.name.get_ref()
            ),
        ));
    }
    if c.location.get_ref().trim().is_empty() {
        return Err(at(c.location.span(), format!("connection {name}: location is empty")));
    }
    let ghl = ghl_credential(c, &name).map_err(|(span, m)| at(span.unwrap_or_else(|| c.name.span()), m))?;
    let rankr_api_key_env = env_name(&c.rankr_api_key_env, "rankr_api_key_env")
        .map_err(|m| at(c.rankr_api_key_env.span(), format!("connection {name}: {m}")))?;
    let schedule = schedule(
        defaults,
        c.schedule.as_ref().unwrap_or(&ScheduleTable::default()),
        source.text,
    )?;
    if schedule.stats_daily_at.is_some() && c.dashboard.as_deref().is_none_or(|d| d.trim().is_empty()) {
        return Err(at(
            span,
            format!(
                "connection {name}: statistics run daily but it has no dashboard; set dashboard = \"…\" (the Rankr dashboard id), or [connection.schedule] stats_daily_at = \"off\""
            ),
        ));
    }
    let mut settings = shared.clone();
    if c.ghl_base_url.is_some() {
        settings.ghl_base_url = c.ghl_base_url.clone();
    }
    if c.rankr_base_url.is_some() {
        settings.rankr_base_url = c.rankr_base_url.clone();
    }
    if let Some(m) = &c.tag_mapping {
        settings.tag_mapping = m.clone();
    }
    if let Some(m) = &c.metric_mapping {
        settings.metric_mapping = m.clone();
    }
    Ok(Connection {
        name,
        location: c.location.get_ref().trim().to_string(),
        dashboard: c.dashboard.clone(),
        ghl,
        rankr_api_key_env,
        schedule,
        settings,
    })
}

pub(super) type Refusal = (Option<std::ops::Range<usize>>, String);

pub(super) fn ghl_credential(c: &ConnectionTable, name: &str) -> Result<GhlCredentialEnv, Refusal> {
    let var = |v: &Spanned<String>, key: &str| {
        env_name(v, key).map_err(|m| (Some(v.span()), format!("connection {name}: {m}")))
    };
    let oauth_keys = [&c.ghl_refresh_token_env, &c.ghl_client_id_env, &c.ghl_client_secret_env];
    match (&c.ghl_token_env, oauth_keys) {
        (Some(t), [None, None, None]) => {
            if let Some(s) = &c.ghl_scopes_env {
                return Err((
                    Some(s.span()),
                    format!("connection {name}: ghl_scopes_env goes with OAuth (ghl_refresh_token_env), not with a token"),
                ));
            }
            Ok(GhlCredentialEnv::Token(var(t, "ghl_token_env")?))
        }
        (access, [Some(r), Some(id), Some(secret)]) => Ok(GhlCredentialEnv::OAuth {
            refresh_token: var(r, "ghl_refresh_token_env")?,
            client_id: var(id, "ghl_client_id_env")?,
            client_secret: var(secret, "ghl_client_secret_env")?,
            access_token: access.as_ref().map(|a| var(a, "ghl_token_env")).transpose()?,
            scopes: c.ghl_scopes_env.as_ref().map(|s| var(s, "ghl_scopes_env")).transpose()?,
        }),
        (None, [None, None, None]) => Err((
            None,
            format!(
                "connection {name}: no GHL credential; set ghl_token_env (the variable holding a Private Integration Token), or ghl_refresh_token_env, ghl_client_id_env and ghl_client_secret_env for OAuth"
            ),
        )),
        _ => Err((
            None,
            format!(
                "connection {name}: OAuth needs all three of ghl_refresh_token_env, ghl_client_id_env and ghl_client_secret_env"
            ),
        )),
    }
}

/// A variable name, not a secret pasted in its place.
pub(super) fn env_name(v: &Spanned<String>, key: &str) -> Result<String, String> {
    let name = v.get_ref().trim();
    let mut chars = name.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= 128;
    if ok {
        Ok(name.to_string())
    } else {
        // The value may be a secret: it is not echoed.
        Err(format!(
            "{key} must name an environment variable (letters, digits and '_', e.g. ACME_GHL_TOKEN), not hold the secret itself"
        ))
    }
}
