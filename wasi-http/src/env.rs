//! The component's environment (`wasi:cli/environment`): credentials a
//! platform's secret store may provide instead of the request body, and the
//! log level.
//!
//! The body wins where it gives a value: a caller's explicit credential is
//! never replaced by an ambient one.

use ghl_rankr_core::io::Level;
use serde_json::{Map, Value};

/// GHL's Private Integration token (or location API key), for
/// `ghl-credential` when the body has none.
pub const GHL_API_KEY: &str = "GHL_API_KEY";
/// The OAuth app's client id and secret, for an `oauth` credential whose
/// body leaves them out (the tokens rotate, so they come in the body).
pub const GHL_CLIENT_ID: &str = "GHL_CLIENT_ID";
pub const GHL_CLIENT_SECRET: &str = "GHL_CLIENT_SECRET";
/// Rankr's API key, for `rankr-api-key` when the body has none.
pub const RANKR_API_KEY: &str = "RANKR_API_KEY";
/// When set, every request must carry `Authorization: Bearer <it>`: the
/// routes take credentials and call out, so a deployment reachable by
/// others needs a gate (or one in front of it).
pub const TOKEN: &str = "GHL_RANKR_TOKEN";
/// `trace`, `debug`, `info` (the default), `warn` or `error`.
pub const LOG_LEVEL: &str = "GHL_RANKR_LOG";

/// The variables the component was given.
#[derive(Debug, Clone, Default)]
pub struct Env {
    vars: Vec<(String, String)>,
}

impl Env {
    pub fn new(vars: Vec<(String, String)>) -> Env {
        Env { vars }
    }

    /// A variable's value; an empty one counts as unset.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .iter()
            .find(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    /// The bearer token requests must carry, if any.
    pub fn token(&self) -> Option<&str> {
        self.get(TOKEN)
    }

    /// The least severe level that is logged.
    pub fn log_level(&self) -> Level {
        match self.get(LOG_LEVEL).map(str::to_ascii_lowercase).as_deref() {
            Some("trace") => Level::Trace,
            Some("debug") => Level::Debug,
            Some("warn") => Level::Warn,
            Some("error") => Level::Error,
            _ => Level::Info,
        }
    }

    /// Fills the credentials `settings` leaves out from the environment.
    pub fn fill_credentials(&self, settings: &mut Map<String, Value>) {
        if !settings.contains_key("ghl-credential") {
            if let Some(key) = self.get(GHL_API_KEY) {
                let mut credential = Map::new();
                credential.insert("api-key".into(), key.into());
                settings.insert("ghl-credential".into(), Value::Object(credential));
            }
        }
        if let Some(Value::Object(oauth)) = settings
            .get_mut("ghl-credential")
            .and_then(|c| c.as_object_mut())
            .and_then(|c| c.get_mut("oauth"))
        {
            for (field, var) in [("client-id", GHL_CLIENT_ID), ("client-secret", GHL_CLIENT_SECRET)] {
                if !oauth.contains_key(field) {
                    if let Some(value) = self.get(var) {
                        oauth.insert(field.into(), value.into());
                    }
                }
            }
        }
        if !settings.contains_key("rankr-api-key") {
            if let Some(key) = self.get(RANKR_API_KEY) {
                settings.insert("rankr-api-key".into(), key.into());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn env(vars: &[(&str, &str)]) -> Env {
        Env::new(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
    }

    fn filled(settings: Value, env: &Env) -> Value {
        let Value::Object(mut map) = settings else {
            unreachable!()
        };
        env.fill_credentials(&mut map);
        Value::Object(map)
    }

    #[test]
    fn absent_credentials_come_from_the_environment_and_given_ones_stay() {
        let e = env(&[(GHL_API_KEY, "pit-env"), (RANKR_API_KEY, "rk-env")]);
        assert_eq!(
            filled(json!({}), &e),
            json!({"ghl-credential": {"api-key": "pit-env"}, "rankr-api-key": "rk-env"})
        );
        let given = json!({"ghl-credential": {"api-key": "pit-body"}, "rankr-api-key": "rk-body"});
        assert_eq!(filled(given.clone(), &e), given);
    }

    #[test]
    fn an_oauth_credential_takes_only_the_client_from_the_environment() {
        let e = env(&[(GHL_CLIENT_ID, "app"), (GHL_CLIENT_SECRET, "shh"), (GHL_API_KEY, "pit")]);
        let v = filled(json!({"ghl-credential": {"oauth": {"tokens": {}}}}), &e);
        assert_eq!(
            v["ghl-credential"],
            json!({"oauth": {"tokens": {}, "client-id": "app", "client-secret": "shh"}})
        );
    }

    #[test]
    fn empty_variables_count_as_unset_and_the_level_defaults_to_info() {
        let e = env(&[(GHL_API_KEY, ""), (LOG_LEVEL, "DEBUG")]);
        assert_eq!(filled(json!({}), &e), json!({}));
        assert_eq!(e.log_level(), Level::Debug);
        assert_eq!(Env::default().log_level(), Level::Info);
    }
}
