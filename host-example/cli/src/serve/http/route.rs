//! Which endpoint a request names, from its method and path alone: decided
//! before any body is read.

use crate::serve::access::Role;
use crate::serve::model::Op;

/// Largest event body read.
pub const MAX_EVENT_BODY: usize = 64 * 1024;

/// An endpoint of the service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Healthz,
    Readyz,
    Metrics,
    Runs,
    Page,
    /// `GET /audit`.
    Audit,
    /// `POST /connections/{name}/run/{operation}`.
    Event {
        connection: String,
        op: Op,
    },
    /// `POST /connections/{name}/check`.
    Check {
        connection: String,
    },
    /// `POST /connections/{name}/pause`.
    Pause {
        connection: String,
    },
    /// `POST /connections/{name}/resume`.
    Resume {
        connection: String,
    },
    /// `GET /install`: to HighLevel's consent page.
    Install,
    /// `GET /oauth/callback`: back from it.
    OauthCallback,
    /// `POST /webhooks/ghl`: INSTALL and UNINSTALL.
    Webhook,
    /// A path under `/connections/` that is not an event's.
    BadEventPath,
    /// An event for an operation the service does not know.
    UnknownOperation(String),
    /// A known path with another method: what it takes.
    WrongMethod(&'static str),
    NotFound,
}

impl Route {
    pub fn of(method: &str, path: &str) -> Route {
        let get = |route: Route| {
            if method == "GET" {
                route
            } else {
                Route::WrongMethod("GET")
            }
        };
        match path {
            "/healthz" => get(Route::Healthz),
            "/readyz" => get(Route::Readyz),
            "/metrics" => get(Route::Metrics),
            "/runs" => get(Route::Runs),
            "/" => get(Route::Page),
            "/audit" => get(Route::Audit),
            "/install" => get(Route::Install),
            "/oauth/callback" => get(Route::OauthCallback),
            "/webhooks/ghl" if method == "POST" => Route::Webhook,
            "/webhooks/ghl" => Route::WrongMethod("POST"),
            p if p.starts_with("/connections/") => {
                if method != "POST" {
                    return Route::WrongMethod("POST");
                }
                let parts: Vec<&str> = p.trim_start_matches('/').split('/').collect();
                match parts.as_slice() {
                    ["connections", name, "run", op] => match Op::parse(op) {
                        Some(op) => Route::Event {
                            connection: name.to_string(),
                            op,
                        },
                        None => Route::UnknownOperation(op.to_string()),
                    },
                    ["connections", name, "check"] => Route::Check {
                        connection: name.to_string(),
                    },
                    ["connections", name, "pause"] => Route::Pause {
                        connection: name.to_string(),
                    },
                    ["connections", name, "resume"] => Route::Resume {
                        connection: name.to_string(),
                    },
                    _ => Route::BadEventPath,
                }
            }
            _ => Route::NotFound,
        }
    }

    /// The largest body the endpoint reads; none: it reads none.
    pub fn body_limit(&self) -> Option<usize> {
        match self {
            Route::Event { .. } => Some(MAX_EVENT_BODY),
            Route::Webhook => Some(crate::serve::install::webhook::MAX_BODY),
            _ => None,
        }
    }

    /// The role the endpoint needs; none: open (the probes, what is not an
    /// endpoint, and what proves itself otherwise: the callback by its
    /// single-use `state`, a webhook by its signature).
    pub fn needs(&self) -> Option<Role> {
        match self {
            Route::Healthz
            | Route::Readyz
            | Route::WrongMethod(_)
            | Route::NotFound
            | Route::OauthCallback
            | Route::Webhook => None,
            // Whoever may connect an agency here writes to this service's
            // Rankr: an operator.
            Route::Install => Some(Role::Operator),
            Route::Metrics | Route::Runs | Route::Page => Some(Role::Viewer),
            Route::Audit
            | Route::Event { .. }
            | Route::Check { .. }
            | Route::Pause { .. }
            | Route::Resume { .. }
            | Route::BadEventPath
            | Route::UnknownOperation(_) => Some(Role::Operator),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_methods_name_their_endpoint() {
        assert_eq!(Route::of("GET", "/healthz"), Route::Healthz);
        assert_eq!(Route::of("POST", "/healthz"), Route::WrongMethod("GET"));
        assert_eq!(
            Route::of("POST", "/connections/acme/run/tag-sync"),
            Route::Event {
                connection: "acme".into(),
                op: Op::TagSync
            }
        );
        assert_eq!(
            Route::of("GET", "/connections/acme/run/tag-sync"),
            Route::WrongMethod("POST")
        );
        assert_eq!(
            Route::of("POST", "/connections/acme/run/teleport"),
            Route::UnknownOperation("teleport".into())
        );
        assert_eq!(Route::of("POST", "/connections/acme"), Route::BadEventPath);
        assert_eq!(Route::of("GET", "/../etc/passwd"), Route::NotFound);
        assert_eq!(
            Route::of("POST", "/connections/a/run/new-posts").body_limit(),
            Some(MAX_EVENT_BODY)
        );
        assert_eq!(Route::Healthz.body_limit(), None);
        assert_eq!(
            Route::of("POST", "/connections/acme/pause"),
            Route::Pause {
                connection: "acme".into()
            }
        );
        assert_eq!(Route::of("GET", "/audit").needs(), Some(Role::Operator));
        assert_eq!(Route::of("GET", "/").needs(), Some(Role::Viewer));
        assert_eq!(Route::of("GET", "/healthz").needs(), None);
        assert_eq!(Route::of("GET", "/install").needs(), Some(Role::Operator));
        assert_eq!(Route::of("GET", "/oauth/callback").needs(), None);
        assert_eq!(Route::of("POST", "/webhooks/ghl"), Route::Webhook);
        assert_eq!(Route::of("GET", "/webhooks/ghl"), Route::WrongMethod("POST"));
        assert_eq!(Route::Webhook.body_limit(), Some(64 * 1024));
    }
}
