//! GHL credentials: a Private Integration Token, or OAuth tokens that are
//! refreshed with rotation (`POST /oauth/token`, per `spec/oauth.json`), and
//! the scopes each operation needs.

use crate::io::url::build;
use crate::io::{Method, Request};
use crate::report::{Service, SyncError};
use crate::secret::Secret;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::Deserialize;
use std::fmt;

/// The endpoint label of the token refresh.
pub const EP_TOKEN: &str = "POST /oauth/token";

/// Refresh this long before the access token's stated expiry, so a request
/// never leaves with a token that dies on the way.
pub const REFRESH_AHEAD_MS: u64 = 60_000;

/// A Social Planner scope an operation needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    TagRead,
    PostRead,
    StatisticsRead,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::TagRead => "socialplanner/tag.readonly",
            Scope::PostRead => "socialplanner/post.readonly",
            Scope::StatisticsRead => "socialplanner/statistics.readonly",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An OAuth token pair.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OAuthTokens {
    pub access_token: Secret,
    pub refresh_token: Secret,
    /// Milliseconds since the Unix epoch; `None` = unknown.
    pub expires_at_ms: Option<u64>,
    /// Granted scopes; empty = unknown.
    pub scopes: Vec<String>,
}

/// An OAuth connection: the pair and the app that owns it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OAuthCredential {
    pub tokens: OAuthTokens,
    pub client_id: String,
    pub client_secret: Secret,
}

/// How the connector authenticates to GHL.
#[derive(Debug, Clone, PartialEq)]
pub enum Credential {
    ApiKey(Secret),
    OAuth(OAuthCredential),
}

impl Default for Credential {
    fn default() -> Self {
        Credential::ApiKey(Secret::default())
    }
}

impl Credential {
    /// The bearer token to send now.
    pub fn access_token(&self) -> &Secret {
        match self {
            Credential::ApiKey(k) => k,
            Credential::OAuth(c) => &c.tokens.access_token,
        }
    }

    /// Every secret inside, for scrubbing server messages.
    pub fn secrets(&self) -> Vec<String> {
        match self {
            Credential::ApiKey(k) => vec![k.expose().to_string()],
            Credential::OAuth(c) => vec![
                c.tokens.access_token.expose().to_string(),
                c.tokens.refresh_token.expose().to_string(),
                c.client_secret.expose().to_string(),
            ],
        }
    }

    /// Checks the credential's shape; the error says what to fix.
    pub fn check(&self) -> Result<(), String> {
        match self {
            Credential::ApiKey(k) => check_secret("the GHL api-key", k, "GHL_ACCESS_TOKEN"),
            Credential::OAuth(c) => {
                check_secret("the GHL refresh token", &c.tokens.refresh_token, "GHL_REFRESH_TOKEN")?;
                check_secret("the GHL client secret", &c.client_secret, "GHL_CLIENT_SECRET")?;
                if c.client_id.trim().is_empty() {
                    return Err("the GHL client id is empty; set it (the example host reads GHL_CLIENT_ID)".into());
                }
                if !c.tokens.access_token.is_empty() {
                    check_secret("the GHL access token", &c.tokens.access_token, "GHL_ACCESS_TOKEN")?;
                }
                Ok(())
            }
        }
    }

    /// Fails, before any request, when the credential lists its scopes and
    /// one that `operation` needs is not among them.
    pub fn check_scopes(&self, operation: &str, needed: &[Scope]) -> Result<(), SyncError> {
        let Credential::OAuth(c) = self else { return Ok(()) };
        if c.tokens.scopes.is_empty() {
            return Ok(());
        }
        match needed.iter().find(|s| !c.tokens.scopes.iter().any(|g| g == s.as_str())) {
            None => Ok(()),
            Some(s) => Err(SyncError::MissingScope {
                operation: operation.to_string(),
                scope: s.as_str().to_string(),
                granted: c.tokens.scopes.clone(),
            }),
        }
    }

    /// True when an OAuth access token is missing or about to expire.
    pub fn needs_refresh(&self, now_ms: u64) -> bool {
        match self {
            Credential::ApiKey(_) => false,
            Credential::OAuth(c) => {
                c.tokens.access_token.is_empty()
                    || c.tokens
                        .expires_at_ms
                        .is_some_and(|at| now_ms.saturating_add(REFRESH_AHEAD_MS) >= at)
            }
        }
    }
}

pub(crate) fn check_secret(name: &str, s: &Secret, env: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err(format!("{name} is empty; set it (the example host reads {env})"));
    }
    if s.expose().chars().any(|c| c.is_control() || c == ' ') {
        return Err(format!(
            "{name} holds spaces or control characters; paste the bare token"
        ));
    }
    Ok(())
}

/// `application/x-www-form-urlencoded` value encoding: everything but
/// ASCII letters, digits and `*-._` is percent-encoded.
const FORM: &AsciiSet = &NON_ALPHANUMERIC.remove(b'*').remove(b'-').remove(b'.').remove(b'_');

/// The refresh request: form-encoded `client_id, client_secret,
/// grant_type=refresh_token, refresh_token, user_type=Location`.
pub fn refresh_request(ghl_base: &str, c: &OAuthCredential, timeout_ms: u32) -> Request {
    let fields = [
        ("client_id", c.client_id.as_str()),
        ("client_secret", c.client_secret.expose()),
        ("grant_type", "refresh_token"),
        ("refresh_token", c.tokens.refresh_token.expose()),
        ("user_type", "Location"),
    ];
    let body = fields
        .iter()
        .map(|(k, v)| format!("{k}={}", utf8_percent_encode(v, FORM)))
        .collect::<Vec<_>>()
        .join("&");
    Request {
        method: Method::Post,
        url: build(ghl_base, "/oauth/token", &[]),
        headers: vec![
            ("Content-Type".into(), "application/x-www-form-urlencoded".into()),
            ("Accept".into(), "application/json".into()),
        ],
        body: Some(body.into_bytes()),
        timeout_ms,
    }
}

/// `GetAccessCodeSuccessfulResponseDto`, the parts a refresh needs.
#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    refresh_token: String,
    #[serde(default)]
    expires_in: Option<f64>,
    #[serde(default)]
    scope: Option<String>,
}

/// Reads a 200 answer of the refresh into the new pair. Scopes default to
/// the previous ones when the answer does not list them.
pub fn read_refresh(body: &[u8], now_ms: u64, previous_scopes: &[String]) -> Result<OAuthTokens, SyncError> {
    let a: TokenAnswer = crate::client::parse_json(Service::Ghl, EP_TOKEN, body)?;
    let invalid = |field: &str, message: &str| SyncError::InvalidResponse {
        service: Service::Ghl,
        endpoint: EP_TOKEN.into(),
        field: field.into(),
        message: format!("{message}; the old refresh token is spent, so the connection must be authorized again"),
    };
    if a.access_token.is_empty() || a.access_token.contains(char::is_whitespace) {
        return Err(invalid("access_token", "the new access token is empty or not a token"));
    }
    if a.refresh_token.is_empty() || a.refresh_token.contains(char::is_whitespace) {
        return Err(invalid(
            "refresh_token",
            "the new refresh token is empty or not a token",
        ));
    }
    let expires_at_ms = match a.expires_in {
        Some(s) if s.is_finite() && s > 0.0 => Some(now_ms.saturating_add((s * 1000.0).min(1.0e15) as u64)),
        _ => None,
    };
    let scopes = match a.scope {
        Some(s) if !s.trim().is_empty() => s.split_whitespace().map(str::to_string).collect(),
        _ => previous_scopes.to_vec(),
    };
    Ok(OAuthTokens {
        access_token: Secret::new(a.access_token),
        refresh_token: Secret::new(a.refresh_token),
        expires_at_ms,
        scopes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn oauth(scopes: &[&str]) -> OAuthCredential {
        OAuthCredential {
            tokens: OAuthTokens {
                access_token: Secret::new("acc-1"),
                refresh_token: Secret::new("ref 1/+&="),
                expires_at_ms: Some(1_000_000),
                scopes: scopes.iter().map(|s| s.to_string()).collect(),
            },
            client_id: "client-1".into(),
            client_secret: Secret::new("shh"),
        }
    }

    #[test]
    fn refresh_is_form_encoded_per_the_spec() {
        let r = refresh_request("https://services.leadconnectorhq.com", &oauth(&[]), 5000);
        assert_eq!(r.url, "https://services.leadconnectorhq.com/oauth/token");
        assert_eq!(r.method, Method::Post);
        let body = String::from_utf8(r.body.unwrap()).unwrap();
        assert_eq!(
            body,
            "client_id=client-1&client_secret=shh&grant_type=refresh_token&refresh_token=ref%201%2F%2B%26%3D&user_type=Location"
        );
        assert!(r.headers.iter().all(|(k, _)| !k.eq_ignore_ascii_case("authorization")));
    }

    #[test]
    fn answers_become_tokens() {
        let t = read_refresh(
            br#"{"access_token":"a2","token_type":"Bearer","expires_in":86399,"refresh_token":"r2","scope":"socialplanner/tag.readonly x/y","userId":"u"}"#,
            1000,
            &[],
        )
        .unwrap();
        assert_eq!(t.access_token.expose(), "a2");
        assert_eq!(t.refresh_token.expose(), "r2");
        assert_eq!(t.expires_at_ms, Some(86_400_000));
        assert_eq!(t.scopes, vec!["socialplanner/tag.readonly", "x/y"]);
        let e = read_refresh(br#"{"access_token":"a2","refresh_token":""}"#, 0, &[]).unwrap_err();
        assert!(e.to_string().contains("authorized again"), "{e}");
        assert!(read_refresh(br#"{"access_token":"a2"}"#, 0, &[]).is_err());
    }

    #[test]
    fn scopes_and_expiry() {
        let c = Credential::OAuth(oauth(&["socialplanner/tag.readonly"]));
        assert!(c.check_scopes("tag-details-push", &[Scope::TagRead]).is_ok());
        match c.check_scopes("stats-sync", &[Scope::StatisticsRead]).unwrap_err() {
            SyncError::MissingScope { scope, operation, .. } => {
                assert_eq!(scope, "socialplanner/statistics.readonly");
                assert_eq!(operation, "stats-sync");
            }
            other => panic!("{other:?}"),
        }
        // Unknown scopes are not checked; API keys have none.
        assert!(Credential::OAuth(oauth(&[]))
            .check_scopes("x", &[Scope::PostRead])
            .is_ok());
        assert!(Credential::ApiKey(Secret::new("k"))
            .check_scopes("x", &[Scope::PostRead])
            .is_ok());
        assert!(!c.needs_refresh(900_000));
        assert!(c.needs_refresh(950_000));
        assert!(!Credential::ApiKey(Secret::new("k")).needs_refresh(u64::MAX));
    }
}
