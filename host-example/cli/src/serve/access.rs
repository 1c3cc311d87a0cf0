//! Who may do what on the HTTP surface. A **viewer** reads: the status
//! page, `/runs`, `/metrics`. An **operator** also acts: events, checks,
//! pause and resume, removing a connection, and reads `/audit`. `/healthz`
//! and `/readyz` stay open for probes.
//!
//! Tokens come from variables named in the configuration, several per role
//! if wanted (one can be rotated without downtime), each with a name for
//! the audit log. A presented token is compared with every configured one
//! in constant time.

use crate::secret::Secret;

/// What a token may do; an operator may do all a viewer may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Viewer,
    Operator,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
        }
    }

    pub fn parse(name: &str) -> Option<Role> {
        [Role::Viewer, Role::Operator].into_iter().find(|r| r.as_str() == name)
    }
}

/// A configured token: its name, its role, the variable that holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessConfig {
    pub name: String,
    pub role: Role,
    pub token_env: String,
}

/// A token as the service holds it.
#[derive(Debug, Clone)]
pub struct AccessToken {
    pub name: String,
    pub role: Role,
    pub secret: Secret,
}

/// Who a request comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// No credential, or the probes' open routes.
    Anonymous,
    /// A configured token, by name.
    Token { name: String, role: Role },
}

impl Caller {
    /// The name the audit log gives.
    pub fn name(&self) -> &str {
        match self {
            Caller::Anonymous => "anonymous",
            Caller::Token { name, .. } => name,
        }
    }
}

/// Why a request's credential does not let it through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No token, or one that matches none (401).
    Unauthenticated,
    /// A valid token of too little role (403).
    Forbidden { caller: String, needs: Role },
    /// The route needs an operator and none is configured (403).
    NoOperator,
}

/// The configured tokens.
#[derive(Debug, Clone, Default)]
pub struct Access {
    tokens: Vec<AccessToken>,
    /// The status page, `/runs` and `/metrics` answer without a token.
    public_status: bool,
}

impl Access {
    pub fn new(tokens: Vec<AccessToken>, public_status: bool) -> Access {
        Access { tokens, public_status }
    }

    /// Whether any token may read (so viewer routes ask for one).
    pub fn has_viewers(&self) -> bool {
        !self.tokens.is_empty()
    }

    pub fn public_status(&self) -> bool {
        self.public_status
    }

    /// The caller of a request with this `Authorization` header, and
    /// whether it may do what needs `needs` (none: an open route).
    pub fn admit(&self, authorization: Option<&str>, needs: Option<Role>) -> Result<Caller, Refusal> {
        let caller = self.identify(authorization);
        let Some(needs) = needs else { return Ok(caller) };
        if needs == Role::Operator && !self.tokens.iter().any(|t| t.role == Role::Operator) {
            return Err(Refusal::NoOperator);
        }
        let open = needs == Role::Viewer && (self.public_status || self.tokens.is_empty());
        match &caller {
            Caller::Token { role, .. } if *role >= needs => Ok(caller),
            _ if open => Ok(caller),
            Caller::Token { name, .. } => Err(Refusal::Forbidden {
                caller: name.clone(),
                needs,
            }),
            Caller::Anonymous => Err(Refusal::Unauthenticated),
        }
    }

    /// The token presented as `Bearer <token>`, or as the password of
    /// `Basic` (what a browser sends for the status page), matched against
    /// every configured token without stopping at the first match.
    fn identify(&self, authorization: Option<&str>) -> Caller {
        let Some(presented) = authorization.and_then(presented_token) else {
            return Caller::Anonymous;
        };
        let mut found = None;
        for t in &self.tokens {
            if constant_time_eq::constant_time_eq(presented.as_bytes(), t.secret.expose().as_bytes()) {
                found = Some(t);
            }
        }
        match found {
            Some(t) => Caller::Token {
                name: t.name.clone(),
                role: t.role,
            },
            None => Caller::Anonymous,
        }
    }
}

/// The token in an `Authorization` header.
fn presented_token(header: &str) -> Option<String> {
    if let Some(token) = header.strip_prefix("Bearer ") {
        return Some(token.trim().to_string());
    }
    let basic = header.strip_prefix("Basic ")?;
    use base64::Engine as _;
    let decoded = base64::engine::general_purpose::STANDARD.decode(basic.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    text.split_once(':').map(|(_, password)| password.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn access(public_status: bool) -> Access {
        let token = |name: &str, role, secret: &str| AccessToken {
            name: name.into(),
            role,
            secret: Secret::new(secret),
        };
        Access::new(
            vec![
                token("grafana", Role::Viewer, "viewer-token-1"),
                token("ops-a", Role::Operator, "operator-token-a"),
                token("ops-b", Role::Operator, "operator-token-b"),
            ],
            public_status,
        )
    }

    #[test]
    fn a_viewer_reads_an_operator_acts_and_no_token_gets_nothing() {
        let a = access(false);
        let viewer = a.admit(Some("Bearer viewer-token-1"), Some(Role::Viewer)).unwrap();
        assert_eq!(viewer.name(), "grafana");
        assert_eq!(a.admit(None, Some(Role::Viewer)), Err(Refusal::Unauthenticated));
        assert_eq!(
            a.admit(Some("Bearer nope"), Some(Role::Viewer)),
            Err(Refusal::Unauthenticated)
        );
        assert_eq!(
            a.admit(Some("Bearer viewer-token-1"), Some(Role::Operator)),
            Err(Refusal::Forbidden {
                caller: "grafana".into(),
                needs: Role::Operator
            })
        );
        // Both operator tokens work (one can be rotated out while the other serves).
        for (header, name) in [
            ("Bearer operator-token-a", "ops-a"),
            ("Bearer operator-token-b", "ops-b"),
        ] {
            assert_eq!(a.admit(Some(header), Some(Role::Operator)).unwrap().name(), name);
            assert!(a.admit(Some(header), Some(Role::Viewer)).is_ok());
        }
        // Open routes name who came, and refuse no one.
        assert_eq!(a.admit(None, None), Ok(Caller::Anonymous));
    }

    #[test]
    fn a_browser_may_send_the_token_as_a_basic_password_and_public_status_opens_reading() {
        use base64::Engine as _;
        let basic = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("anyone:viewer-token-1")
        );
        assert_eq!(
            access(false).admit(Some(&basic), Some(Role::Viewer)).unwrap().name(),
            "grafana"
        );
        let public = access(true);
        assert_eq!(public.admit(None, Some(Role::Viewer)), Ok(Caller::Anonymous));
        assert_eq!(public.admit(None, Some(Role::Operator)), Err(Refusal::Unauthenticated));
        let none = Access::new(vec![], false);
        assert_eq!(none.admit(None, Some(Role::Viewer)), Ok(Caller::Anonymous));
        assert_eq!(none.admit(None, Some(Role::Operator)), Err(Refusal::NoOperator));
    }
}
