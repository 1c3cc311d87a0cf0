//! The body of `POST /<operation>`: `{"settings": …, "event": …, "state":
//! "<base64>" | null}`, read with the core's JSON forms (`wire`), so its
//! schema is the catalog's. `check` keeps no state: a `state` sent to it is
//! refused (`invalid-config`), as any key the input does not have.

use crate::answer::RequestError;
use crate::env::Env;
use base64::Engine;
use ghl_rankr_core::json;
use ghl_rankr_core::wire::{self, Event, Operation};
use ghl_rankr_core::{SettingsInput, SyncError};
use serde::Deserialize;
use serde_json::{Map, Value};

/// One operation's input, read.
#[derive(Debug)]
pub struct Call {
    pub settings: SettingsInput,
    pub event: Event,
    pub state: Option<Vec<u8>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope {
    settings: Map<String, Value>,
    event: Value,
    #[serde(default)]
    state: Option<String>,
}

/// Why a body could not become a [`Call`]: not JSON at all (400), or JSON
/// that is not the operation's input (`invalid-config`, 422, naming the
/// field).
#[derive(Debug)]
pub enum CallError {
    Request(RequestError),
    Invalid(SyncError),
}

impl Call {
    pub fn parse(operation: Operation, body: &[u8], env: &Env) -> Result<Call, CallError> {
        let envelope: Envelope = json::parse_at(body).map_err(|(field, e)| {
            if e.is_syntax() || e.is_eof() {
                CallError::Request(RequestError::NotJson(e.to_string()))
            } else {
                let at = if field == "(body)" {
                    String::new()
                } else {
                    format!(" at `{field}`")
                };
                CallError::Invalid(SyncError::InvalidConfig(format!(
                    "the request body is not {{\"settings\", \"event\", \"state\"}}{at}: {}",
                    json::message_of(&e)
                )))
            }
        })?;
        let mut settings = envelope.settings;
        env.fill_credentials(&mut settings);
        for (field, variable) in [
            ("ghl-credential", crate::env::GHL_API_KEY),
            ("rankr-api-key", crate::env::RANKR_API_KEY),
        ] {
            if !settings.contains_key(field) {
                return Err(CallError::Invalid(SyncError::InvalidConfig(format!(
                    "`settings.{field}` is missing: give it in the body, or set {variable} in the component's environment"
                ))));
            }
        }
        let settings =
            wire::parse_settings(Value::Object(settings).to_string().as_bytes()).map_err(CallError::Invalid)?;
        let event = wire::parse_event(operation, envelope.event.to_string().as_bytes()).map_err(CallError::Invalid)?;
        let state = match envelope.state {
            Some(_) if operation == Operation::Check => {
                return Err(CallError::Invalid(SyncError::InvalidConfig(
                    "check takes no state and returns none: leave `state` out (or null)".into(),
                )))
            }
            None => None,
            Some(text) => Some(base64::engine::general_purpose::STANDARD.decode(text).map_err(|e| {
                CallError::Invalid(SyncError::InvalidConfig(format!(
                    "`state` is not base64 ({e}); send back the `state` of the last answer as it came"
                )))
            })?),
        };
        Ok(Call { settings, event, state })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn settings() -> Value {
        json!({
            "ghl-base-url": "https://services.leadconnectorhq.com",
            "ghl-credential": {"api-key": "pit"},
            "rankr-base-url": "https://api.rankr.example",
            "rankr-api-key": "rk"
        })
    }

    fn invalid(r: Result<Call, CallError>) -> String {
        match r {
            Err(CallError::Invalid(SyncError::InvalidConfig(m))) => m,
            other => panic!("expected invalid-config, got {other:?}"),
        }
    }

    #[test]
    fn a_body_is_settings_event_and_base64_state() {
        let body = json!({"settings": settings(), "event": {"location-id": "L1", "tag-ids": ["t1"]}, "state": "AAE="});
        let call = Call::parse(Operation::TagDetailsPush, body.to_string().as_bytes(), &Env::default()).unwrap();
        assert_eq!(call.state.as_deref(), Some(&[0u8, 1][..]));
        match call.event {
            Event::TagDetailsPush(e) => assert_eq!(e.tag_ids, ["t1"]),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn not_json_is_a_request_error_and_wrong_json_names_the_field() {
        match Call::parse(Operation::TagSync, b"{\"settings\": ", &Env::default()) {
            Err(CallError::Request(RequestError::NotJson(_))) => {}
            other => panic!("{other:?}"),
        }
        let body = json!({"settings": settings(), "event": {"location-id": 7}});
        let m = invalid(Call::parse(
            Operation::TagDetailsPush,
            body.to_string().as_bytes(),
            &Env::default(),
        ));
        assert!(m.contains("location-id"), "{m}");
        let body = json!({"settings": settings(), "event": {}, "extra": 1});
        assert!(invalid(Call::parse(
            Operation::StatsSync,
            body.to_string().as_bytes(),
            &Env::default()
        ))
        .contains("extra"));
        let body = json!({"settings": settings(), "event": {"location-id": "L"}, "state": "%%"});
        assert!(invalid(Call::parse(
            Operation::NewPosts,
            body.to_string().as_bytes(),
            &Env::default()
        ))
        .contains("base64"));
    }

    #[test]
    fn a_missing_credential_says_where_it_may_come_from() {
        let mut s = settings();
        s.as_object_mut().unwrap().remove("rankr-api-key");
        let body = json!({"settings": s.clone(), "event": {"location-id": "L"}});
        let m = invalid(Call::parse(
            Operation::NewPosts,
            body.to_string().as_bytes(),
            &Env::default(),
        ));
        assert!(m.contains("RANKR_API_KEY"), "{m}");
        let env = Env::new(vec![("RANKR_API_KEY".into(), "rk-env".into())]);
        let call = Call::parse(Operation::NewPosts, body.to_string().as_bytes(), &env).unwrap();
        assert_eq!(call.settings.rankr_api_key.expose(), "rk-env");
    }
}
