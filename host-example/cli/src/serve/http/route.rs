//! Which endpoint a request names, from its method and path alone: decided
//! before any body is read.

use crate::serve::model::Op;

/// An endpoint of the service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Healthz,
    Readyz,
    Metrics,
    Runs,
    Page,
    /// `POST /connections/{name}/run/{operation}`.
    Event {
        connection: String,
        op: Op,
    },
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
                    _ => Route::BadEventPath,
                }
            }
            _ => Route::NotFound,
        }
    }

    /// Whether the endpoint reads a body.
    pub fn takes_body(&self) -> bool {
        matches!(self, Route::Event { .. })
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
        assert!(Route::of("POST", "/connections/a/run/new-posts").takes_body());
        assert!(!Route::Healthz.takes_body());
    }
}
