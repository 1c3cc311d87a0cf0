//! Secret values: a type of their own, so that no `{:?}` or `{}` can leak
//! them, and the OAuth token pair made of them.

use std::fmt;

/// A token, key or client secret. Prints `[redacted]`; the value is reached
/// only through [`Secret::expose`], where a header or a form is built.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value itself.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// True when no value was given.
    pub fn is_empty(&self) -> bool {
        self.0.trim().is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// An OAuth token pair as `POST /oauth/token` issues it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OAuthTokens {
    pub access_token: Secret,
    /// Single use: each refresh spends it.
    pub refresh_token: Secret,
    /// Milliseconds since the Unix epoch; `None` = unknown.
    pub expires_at_ms: Option<u64>,
    /// Granted scopes; empty = unknown.
    pub scopes: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_never_show_the_value() {
        let s = Secret::new("pit-abc123");
        assert_eq!(format!("{s:?}"), "[redacted]");
        assert_eq!(format!("{s}"), "[redacted]");
        assert_eq!(s.expose(), "pit-abc123");
        let t = OAuthTokens {
            access_token: Secret::new("acc-123"),
            refresh_token: Secret::new("ref-456"),
            ..OAuthTokens::default()
        };
        let text = format!("{t:?}");
        assert!(!text.contains("acc-123") && !text.contains("ref-456"), "{text}");
    }
}
