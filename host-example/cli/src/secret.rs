//! Secrets on the host side: a type of their own, so that no `{:?}` or `{}`
//! prints them. They become plain strings only where they cross into the
//! component.

use std::fmt;

/// A token or key read from the environment; prints `[redacted]`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(v: impl Into<String>) -> Self {
        Secret(v.into())
    }

    /// Reads a secret from the environment (the only place secrets come from).
    pub fn from_env(var: &str) -> Result<Self, String> {
        match std::env::var(var) {
            Ok(v) if !v.trim().is_empty() => Ok(Secret(v.trim().to_string())),
            _ => Err(format!(
                "{var} is not set; export it (secrets are read from the environment only)"
            )),
        }
    }

    pub fn expose(&self) -> &str {
        &self.0
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted() {
        assert_eq!(
            format!("{:?} {}", Secret::new("s3cret"), Secret::new("s3cret")),
            "[redacted] [redacted]"
        );
    }
}
