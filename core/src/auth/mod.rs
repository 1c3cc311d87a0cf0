//! GHL credentials: a Private Integration Token, or OAuth tokens refreshed
//! with rotation ([`refresh`]); and the scopes each operation needs.

pub mod marketplace;
pub mod refresh;

use crate::report::SyncError;
use crate::secret::{OAuthTokens, Secret};
use std::fmt;

/// Refresh this long before the access token's stated expiry, so a request
/// never leaves with a token that dies on the way.
pub const REFRESH_AHEAD_MS: u64 = 60_000;

/// A Social Planner scope an operation needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    TagRead,
    PostRead,
    StatisticsRead,
    AccountRead,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::TagRead => "socialplanner/tag.readonly",
            Scope::PostRead => "socialplanner/post.readonly",
            Scope::StatisticsRead => "socialplanner/statistics.readonly",
            Scope::AccountRead => "socialplanner/account.readonly",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
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
            Credential::ApiKey(key) => key,
            Credential::OAuth(oauth) => &oauth.tokens.access_token,
        }
    }

    /// Every secret inside, for scrubbing server messages.
    pub fn secrets(&self) -> Vec<&Secret> {
        match self {
            Credential::ApiKey(key) => vec![key],
            Credential::OAuth(oauth) => vec![
                &oauth.tokens.access_token,
                &oauth.tokens.refresh_token,
                &oauth.client_secret,
            ],
        }
    }

    /// Checks the credential's shape; the error says what to fix.
    pub fn check(&self) -> Result<(), String> {
        match self {
            Credential::ApiKey(key) => check_secret("the GHL api-key", key),
            Credential::OAuth(oauth) => {
                check_secret("the GHL refresh token", &oauth.tokens.refresh_token)?;
                check_secret("the GHL client secret", &oauth.client_secret)?;
                if oauth.client_id.trim().is_empty() {
                    return Err("the GHL client id is empty; give the OAuth app's client id".into());
                }
                // No access token at all means "refresh first"; anything
                // else must be a token.
                if !oauth.tokens.access_token.expose().is_empty() {
                    check_secret("the GHL access token", &oauth.tokens.access_token)?;
                }
                Ok(())
            }
        }
    }

    /// Fails, before any request, when the credential lists its scopes and
    /// one that `operation` needs is not among them.
    pub fn check_scopes(&self, operation: &str, needed: &[Scope]) -> Result<(), SyncError> {
        let Credential::OAuth(oauth) = self else { return Ok(()) };
        let granted = &oauth.tokens.scopes;
        if granted.is_empty() {
            return Ok(());
        }
        match needed.iter().find(|s| !granted.iter().any(|g| g == s.as_str())) {
            None => Ok(()),
            Some(scope) => Err(SyncError::MissingScope {
                operation: operation.to_string(),
                scope: scope.as_str().to_string(),
                granted: granted.clone(),
            }),
        }
    }

    /// True when an OAuth access token is missing or about to expire.
    pub fn needs_refresh(&self, now_ms: u64) -> bool {
        match self {
            Credential::ApiKey(_) => false,
            Credential::OAuth(oauth) => {
                oauth.tokens.access_token.is_empty()
                    || oauth
                        .tokens
                        .expires_at_ms
                        .is_some_and(|at| now_ms.saturating_add(REFRESH_AHEAD_MS) >= at)
            }
        }
    }
}

/// A secret must be given and be a bare token.
pub(crate) fn check_secret(name: &str, secret: &Secret) -> Result<(), String> {
    if secret.is_empty() {
        return Err(format!("{name} is empty; give the token or key"));
    }
    if secret.expose().chars().any(|c| c.is_control() || c == ' ') {
        return Err(format!(
            "{name} holds spaces or control characters; paste the bare token"
        ));
    }
    Ok(())
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

    /// The component runs in many hosts: its messages name settings, never
    /// one host's environment variables or flags.
    #[test]
    fn messages_name_no_host_specifics() {
        for c in [
            Credential::ApiKey(Secret::new("")),
            Credential::OAuth(OAuthCredential::default()),
            Credential::OAuth(OAuthCredential {
                client_id: String::new(),
                ..oauth(&[])
            }),
        ] {
            let e = c.check().unwrap_err();
            assert!(e.contains("GHL") && !e.contains("GHL_") && !e.contains("--"), "{e}");
        }
    }
}
