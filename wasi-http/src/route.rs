//! Which route a request names, from its method and path alone: an unknown
//! route or method is refused before the body is read.

use ghl_rankr_core::wire::Operation;
use std::fmt;

/// What a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `POST /<operation>`.
    Run(Operation),
    /// `GET /describe`: the catalog.
    Describe,
    /// `GET /`: the routes.
    Index,
}

/// Why a request names no route. The answer's kind, status and headers
/// are the envelope's (`answer::RequestError`); this says only what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteError {
    /// No route has this path.
    UnknownRoute { path: String },
    /// The path is a route, taken with another method (`allow`).
    MethodNotAllowed {
        method: String,
        path: String,
        allow: &'static str,
    },
}

impl fmt::Display for RouteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RouteError::UnknownRoute { path } => {
                write!(f, "there is no route `{path}`; the routes are {}", all().join(", "))
            }
            RouteError::MethodNotAllowed { method, path, allow } => {
                write!(f, "`{path}` takes {allow}, not {method}")
            }
        }
    }
}

/// Every route, as `METHOD /path`, for the index and for errors.
pub fn all() -> Vec<String> {
    let mut routes = vec!["GET /".to_string(), "GET /describe".to_string()];
    routes.extend(Operation::ALL.iter().map(|op| format!("POST /{}", op.name())));
    routes
}

/// The route of `method` and `path_with_query` (the query is ignored).
pub fn route(method: &str, path_with_query: &str) -> Result<Route, RouteError> {
    let path = path_with_query.split(['?', '#']).next().unwrap_or("");
    let (route, allow) = match path {
        "/" | "" => (Route::Index, "GET"),
        "/describe" => (Route::Describe, "GET"),
        other => match other.strip_prefix('/').and_then(Operation::from_name) {
            Some(op) => (Route::Run(op), "POST"),
            None => return Err(RouteError::UnknownRoute { path: path.to_string() }),
        },
    };
    if method != allow {
        return Err(RouteError::MethodNotAllowed {
            method: method.to_string(),
            path: path.to_string(),
            allow,
        });
    }
    Ok(route)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_operation_is_a_post_route_and_the_catalog_a_get() {
        for op in Operation::ALL {
            assert_eq!(route("POST", &format!("/{}", op.name())), Ok(Route::Run(op)));
        }
        assert_eq!(route("GET", "/describe"), Ok(Route::Describe));
        assert_eq!(route("GET", "/describe?x=1"), Ok(Route::Describe));
        assert_eq!(route("GET", "/"), Ok(Route::Index));
    }

    #[test]
    fn unknown_paths_and_wrong_methods_are_refused_with_what_is_allowed() {
        assert_eq!(
            route("POST", "/tag-synch"),
            Err(RouteError::UnknownRoute {
                path: "/tag-synch".into()
            })
        );
        assert_eq!(
            route("POST", "/tag-sync/extra"),
            Err(RouteError::UnknownRoute {
                path: "/tag-sync/extra".into()
            })
        );
        assert_eq!(
            route("GET", "/tag-sync"),
            Err(RouteError::MethodNotAllowed {
                method: "GET".into(),
                path: "/tag-sync".into(),
                allow: "POST"
            })
        );
        assert_eq!(all().len(), 2 + Operation::ALL.len());
    }
}
