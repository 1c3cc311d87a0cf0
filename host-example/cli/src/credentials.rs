//! The GHL credential, from the environment and `--token-file`.
//!
//! - `GHL_ACCESS_TOKEN` alone: a Private Integration Token (API key).
//! - `GHL_REFRESH_TOKEN` (or a token file holding a pair), with
//!   `GHL_CLIENT_ID` and `GHL_CLIENT_SECRET`: OAuth. `GHL_ACCESS_TOKEN` is
//!   then the current access token, if any; `GHL_SCOPES` (space-separated)
//!   the granted scopes, if known.
//!
//! Once a token file holds a pair it wins over the environment: after the
//! first refresh, the refresh token in the environment is spent.

use crate::files::{read_optional, write_atomic};
use crate::secret::Secret;
use ghl_rankr_host::imports::TokenStore;
use ghl_rankr_host::types;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// An OAuth pair on the host side: secrets are [`Secret`]s (`[redacted]`
/// in `Debug` and `Display`) until the moment they cross into the component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tokens {
    pub access_token: Secret,
    pub refresh_token: Secret,
    pub expires_at_ms: Option<u64>,
    pub scopes: Vec<String>,
}

impl Tokens {
    /// From the component's record (a rotated pair it hands over).
    pub fn from_wit(t: &types::OauthTokens) -> Self {
        Tokens {
            access_token: Secret::new(t.access_token.clone()),
            refresh_token: Secret::new(t.refresh_token.clone()),
            expires_at_ms: t.expires_at_ms,
            scopes: t.scopes.clone(),
        }
    }

    fn to_wit(&self) -> types::OauthTokens {
        types::OauthTokens {
            access_token: self.access_token.expose().to_string(),
            refresh_token: self.refresh_token.expose().to_string(),
            expires_at_ms: self.expires_at_ms,
            scopes: self.scopes.clone(),
        }
    }
}

/// The GHL credential on the host side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// A Private Integration Token.
    ApiKey(Secret),
    /// OAuth: the pair and the app that owns it.
    OAuth {
        tokens: Tokens,
        client_id: String,
        client_secret: Secret,
    },
}

impl Credential {
    /// The component's `credential`, built only at the call boundary.
    pub fn to_wit(&self) -> types::Credential {
        match self {
            Credential::ApiKey(k) => types::Credential::ApiKey(k.expose().to_string()),
            Credential::OAuth {
                tokens,
                client_id,
                client_secret,
            } => types::Credential::Oauth(types::OauthCredential {
                tokens: tokens.to_wit(),
                client_id: client_id.clone(),
                client_secret: client_secret.expose().to_string(),
            }),
        }
    }
}

/// The token file's layout.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenFileBody {
    access_token: String,
    refresh_token: String,
    #[serde(default)]
    expires_at_ms: Option<u64>,
    #[serde(default)]
    scopes: Vec<String>,
}

/// `--token-file FILE`: read at start, rewritten atomically (mode 0600) as
/// soon as a refresh returns, before the new token is used.
pub struct TokenFile {
    path: PathBuf,
}

impl TokenFile {
    pub fn new(path: &Path) -> Self {
        TokenFile {
            path: path.to_path_buf(),
        }
    }

    /// The pair in the file, if the file exists.
    pub fn load(&self) -> Result<Option<Tokens>, String> {
        let shown = self.path.display();
        let Some(bytes) = read_optional(&self.path).map_err(|e| format!("cannot read the token file {shown}: {e}"))?
        else {
            return Ok(None);
        };
        let b: TokenFileBody = serde_json::from_slice(&bytes).map_err(|e| {
            format!("the token file {shown} is not a token file this tool wrote ({e}); fix or remove it")
        })?;
        Ok(Some(Tokens {
            access_token: Secret::new(b.access_token),
            refresh_token: Secret::new(b.refresh_token),
            expires_at_ms: b.expires_at_ms,
            scopes: b.scopes,
        }))
    }
}

impl TokenStore for TokenFile {
    fn store(&self, tokens: &types::OauthTokens) -> Result<(), String> {
        self.write(&Tokens::from_wit(tokens))
    }
}

impl TokenFile {
    /// Writes the pair atomically, mode 0600.
    pub fn write(&self, t: &Tokens) -> Result<(), String> {
        let body = TokenFileBody {
            access_token: t.access_token.expose().to_string(),
            refresh_token: t.refresh_token.expose().to_string(),
            expires_at_ms: t.expires_at_ms,
            scopes: t.scopes.clone(),
        };
        let bytes = serde_json::to_vec_pretty(&body).map_err(|e| e.to_string())?;
        write_atomic(&self.path, &bytes).map_err(|e| format!("cannot write {}: {e}", self.path.display()))?;
        tracing::info!(target: "ghl_rankr::tokens", file = %self.path.display(), "rotated GHL tokens stored");
        Ok(())
    }
}

/// The credential from `env` (a variable lookup) and the token file.
pub fn credential(env: &dyn Fn(&str) -> Option<String>, file: Option<&TokenFile>) -> Result<Credential, String> {
    let var = |k: &str| env(k).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    let from_file = match file {
        Some(f) => f.load()?,
        None => None,
    };
    let refresh = var("GHL_REFRESH_TOKEN");
    if from_file.is_none() && refresh.is_none() {
        return match var("GHL_ACCESS_TOKEN") {
            Some(k) => Ok(Credential::ApiKey(Secret::new(k))),
            None => Err("GHL_ACCESS_TOKEN is not set; export a Private Integration Token, or GHL_REFRESH_TOKEN with GHL_CLIENT_ID and GHL_CLIENT_SECRET for OAuth (secrets are read from the environment only)".into()),
        };
    }
    let client_id = var("GHL_CLIENT_ID").ok_or("GHL_CLIENT_ID is not set; OAuth refresh needs the app's client id")?;
    let client_secret =
        var("GHL_CLIENT_SECRET").ok_or("GHL_CLIENT_SECRET is not set; OAuth refresh needs the app's client secret")?;
    let tokens = match from_file {
        Some(t) => t,
        None => Tokens {
            access_token: Secret::new(var("GHL_ACCESS_TOKEN").unwrap_or_default()),
            refresh_token: Secret::new(refresh.unwrap_or_default()),
            expires_at_ms: None,
            scopes: var("GHL_SCOPES")
                .map(|s| s.split_whitespace().map(str::to_string).collect())
                .unwrap_or_default(),
        },
    };
    Ok(Credential::OAuth {
        tokens,
        client_id,
        client_secret: Secret::new(client_secret),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k: &str| m.get(k).cloned()
    }

    #[test]
    fn api_key_oauth_and_the_file_wins() {
        let c = credential(&env(&[("GHL_ACCESS_TOKEN", "pit")]), None).unwrap();
        assert!(matches!(&c, Credential::ApiKey(k) if k.expose() == "pit"));
        assert_eq!(format!("{c:?}"), "ApiKey([redacted])");
        let e = credential(&env(&[("GHL_REFRESH_TOKEN", "r1")]), None).unwrap_err();
        assert!(e.contains("GHL_CLIENT_ID"), "{e}");
        let oauth = env(&[
            ("GHL_REFRESH_TOKEN", "r1"),
            ("GHL_CLIENT_ID", "c"),
            ("GHL_CLIENT_SECRET", "s"),
            ("GHL_SCOPES", "socialplanner/tag.readonly socialplanner/post.readonly"),
        ]);
        let c = credential(&oauth, None).unwrap();
        let text = format!("{c:?}");
        assert!(!text.contains("r1") && !text.contains("\"s\""), "{text}");
        match c {
            Credential::OAuth { tokens, .. } => {
                assert_eq!(tokens.refresh_token.expose(), "r1");
                assert_eq!(tokens.scopes.len(), 2);
            }
            other => panic!("{other:?}"),
        }
        let dir = std::env::temp_dir().join(format!("ghl-rankr-cred-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = TokenFile::new(&dir.join("tokens.json"));
        f.write(&Tokens {
            access_token: Secret::new("a2"),
            refresh_token: Secret::new("r2"),
            expires_at_ms: Some(5),
            scopes: vec![],
        })
        .unwrap();
        match credential(&oauth, Some(&f)).unwrap() {
            Credential::OAuth { tokens, .. } => {
                assert_eq!(
                    tokens.refresh_token.expose(),
                    "r2",
                    "the file wins over the spent env token"
                )
            }
            other => panic!("{other:?}"),
        }
        std::fs::write(dir.join("tokens.json"), "{}").unwrap();
        assert!(credential(&oauth, Some(&f)).unwrap_err().contains("not a token file"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
