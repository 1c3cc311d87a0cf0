//! The fake GHL's `POST /oauth/token`: refresh-token rotation checked
//! against the official `spec/oauth.json` (form fields, required ones,
//! enums). Each refresh spends the refresh token it was given; a spent token
//! sent again is recorded (a test asserts none ever is) and refused.

use super::openapi::percent_decode;
use super::server::{FakeRequest, FakeResponse};
use serde_json::{json, Value};
use std::collections::HashMap;

/// The official OAuth spec (a copy of `shared/ghl-openapi/oauth.json`).
pub const OAUTH_SPEC: &str = include_str!("../../../../spec/oauth.json");

/// An access token the fake issued.
#[derive(Debug, Clone)]
pub struct Grant {
    pub expires_at_ms: u64,
    /// API calls it still allows (a token that "dies every few calls").
    pub calls_left: Option<u32>,
}

/// The OAuth side of the fake GHL.
#[derive(Debug, Clone, Default)]
pub struct OAuthServer {
    pub client_id: String,
    pub client_secret: String,
    /// The one refresh token that works now.
    pub refresh_token: String,
    /// Refresh tokens already exchanged (spent).
    pub spent: Vec<String>,
    /// Spent refresh tokens that were sent again: must stay empty.
    pub spent_reused: Vec<String>,
    pub access: HashMap<String, Grant>,
    /// `expires_in` of issued tokens, in seconds.
    pub ttl_secs: u64,
    /// API calls an issued token allows; none = unlimited.
    pub calls_per_token: Option<u32>,
    /// The `scope` answered.
    pub scope: String,
    /// Answer every refresh 401 (the connection was revoked).
    pub refuse: bool,
    /// Refreshes granted.
    pub refreshes: u32,
    /// Refresh requests that did not match the spec, with why.
    pub refusals: Vec<String>,
}

impl OAuthServer {
    /// A connection whose current refresh token is `refresh`; the access
    /// token `access` is valid for `ttl_secs` from `now_ms`.
    pub fn new(client_id: &str, client_secret: &str, refresh: &str, access: &str, now_ms: u64, ttl_secs: u64) -> Self {
        let mut s = OAuthServer {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            refresh_token: refresh.into(),
            ttl_secs,
            scope: "socialplanner/tag.readonly socialplanner/post.readonly socialplanner/statistics.readonly".into(),
            ..Default::default()
        };
        if !access.is_empty() {
            s.access.insert(
                access.into(),
                Grant {
                    expires_at_ms: now_ms + ttl_secs * 1000,
                    calls_left: None,
                },
            );
        }
        s
    }

    /// Whether `token` may make an API call now (and spends one call).
    pub fn admit(&mut self, token: &str, now_ms: u64) -> bool {
        match self.access.get_mut(token) {
            Some(g) if now_ms < g.expires_at_ms && g.calls_left != Some(0) => {
                if let Some(n) = g.calls_left.as_mut() {
                    *n -= 1;
                }
                true
            }
            _ => false,
        }
    }

    /// Kills every access token (a fault: the token dies before the call).
    pub fn expire_all(&mut self) {
        self.access.clear();
    }

    /// Handles `POST /oauth/token`.
    pub fn token(&mut self, req: &FakeRequest, now_ms: u64) -> FakeResponse {
        let err = |status: u16, message: &str, error: &str| {
            FakeResponse::json(
                status,
                &json!({"statusCode": status, "message": message, "error": error}),
            )
        };
        let form = match check_form(req) {
            Ok(f) => f,
            Err(why) => {
                self.refusals.push(why.clone());
                return err(422, &why, "Unprocessable Entity");
            }
        };
        let get = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
        if get("client_id") != self.client_id || get("client_secret") != self.client_secret {
            return err(401, "Invalid client credentials", "Unauthorized");
        }
        if get("grant_type") != "refresh_token" {
            return err(400, "Only refresh_token is faked", "Bad Request");
        }
        let presented = get("refresh_token").to_string();
        if self.spent.contains(&presented) {
            self.spent_reused.push(presented);
            return err(401, "Refresh token has already been used", "Unauthorized");
        }
        if self.refuse || presented != self.refresh_token {
            return err(401, "Invalid refresh token", "Unauthorized");
        }
        self.refreshes += 1;
        self.spent.push(presented);
        let n = self.refreshes;
        let access = format!("fake-access-{n}-{now_ms}");
        self.refresh_token = format!("fake-refresh-{n}-{now_ms}");
        self.access.insert(
            access.clone(),
            Grant {
                expires_at_ms: now_ms + self.ttl_secs * 1000,
                calls_left: self.calls_per_token,
            },
        );
        FakeResponse::json(
            200,
            &json!({"access_token": access, "token_type": "Bearer", "expires_in": self.ttl_secs,
                    "refresh_token": self.refresh_token, "scope": self.scope, "userType": "Location",
                    "locationId": "loc", "companyId": "co", "userId": "u1"}),
        )
    }
}

/// The form, checked against `GetAccessCodebodyDto`: form-encoded, declared
/// fields only, the required ones present, enums respected.
fn check_form(req: &FakeRequest) -> Result<HashMap<String, String>, String> {
    let ct = req.header("content-type").unwrap_or("");
    if !ct.starts_with("application/x-www-form-urlencoded") {
        return Err(format!(
            "content-type is `{ct}`; the spec takes application/x-www-form-urlencoded"
        ));
    }
    let spec: Value = serde_json::from_str(OAUTH_SPEC).map_err(|e| e.to_string())?;
    let schema = &spec["components"]["schemas"]["GetAccessCodebodyDto"];
    let text = String::from_utf8_lossy(&req.body);
    let mut form = HashMap::new();
    for pair in text.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let (k, v) = (
            percent_decode(&k.replace('+', " ")),
            percent_decode(&v.replace('+', " ")),
        );
        if schema["properties"].get(&k).is_none() {
            return Err(format!("`{k}` is not a field of GetAccessCodebodyDto"));
        }
        if let Some(allowed) = schema["properties"][&k]["enum"].as_array() {
            if !allowed.iter().any(|a| a.as_str() == Some(v.as_str())) {
                return Err(format!("`{k}` = `{v}` is not one of {allowed:?}"));
            }
        }
        if form.insert(k.clone(), v).is_some() {
            return Err(format!("`{k}` is given twice"));
        }
    }
    for r in schema["required"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        if !form.contains_key(r) {
            return Err(format!("`{r}` is required"));
        }
    }
    if form.get("grant_type").map(String::as_str) == Some("refresh_token") && !form.contains_key("refresh_token") {
        return Err("grant_type refresh_token needs `refresh_token`".into());
    }
    Ok(form)
}
