//! The service's HTTP surface (loopback by default):
//!
//! - `GET /healthz`: the database answers; `GET /readyz`: and the scheduler
//!   went round in the last 5 s, and no stop is under way. Open to probes.
//! - `GET /metrics`, `GET /runs?connection=&limit=`, `GET /`: for viewers
//!   ([`crate::serve::access`]).
//! - `POST /connections/{name}/run/{operation}` ([`events`]),
//!   `POST /connections/{name}/check|pause|resume` ([`control`]),
//!   `GET /audit`, `GET /install`: for operators.
//! - `GET /oauth/callback` (proved by its single-use `state`) and `POST
//!   /webhooks/ghl` (by its signature): open ([`crate::serve::install`]).
//!
//! A request is routed from its method and path ([`route`]) and admitted
//! on its credential before its body is read, and then only within its
//! endpoint's size bound ([`server`] reads it, with a deadline). Refused
//! credentials are kept in the audit log.

mod control;
mod events;
mod handlers;
mod refusals;
mod route;
pub mod server;

pub use crate::serve::reply::Reply;
pub use route::Route;

use crate::serve::access::{Caller, Refusal, Role};
use crate::serve::audit::{Action, Entry, Verdict};
use crate::serve::install;
use crate::serve::state::AppState;
use ghl_rankr_host::clock::Clock;
use std::net::SocketAddr;

/// What routing and admission need of a request: its head.
#[derive(Debug, Clone, Copy, Default)]
pub struct Head<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: &'a str,
    pub authorization: Option<&'a str>,
    pub idempotency_key: Option<&'a str>,
    /// A webhook's `x-ghl-signature` and `x-wh-signature`.
    pub ghl_signature: Option<&'a str>,
    pub wh_signature: Option<&'a str>,
    /// The client's address.
    pub peer: Option<SocketAddr>,
}

/// A request let through: where it goes, and who sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admitted {
    pub route: Route,
    pub caller: Caller,
}

/// Why a body could not be had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyError {
    TooLarge {
        limit: usize,
    },
    /// It did not arrive within the request timeout.
    TooSlow,
    Unreadable(String),
}

impl BodyError {
    pub fn reply(&self) -> Reply {
        match self {
            BodyError::TooLarge { limit } => Reply::problem(413, &format!("the body is over {} KiB", limit / 1024)),
            BodyError::TooSlow => Reply::problem(408, "the body did not arrive in time"),
            BodyError::Unreadable(e) => Reply::problem(400, &format!("cannot read the body: {e}")),
        }
        .with_header("Connection", "close")
    }
}

/// Routes `head` and checks its credential; a refusal is recorded.
pub fn admit(state: &AppState, head: &Head<'_>) -> Result<Admitted, Reply> {
    let route = Route::of(head.method, head.path);
    match state.access.admit(head.authorization, route.needs()) {
        Ok(caller) => Ok(Admitted { route, caller }),
        Err(refusal) => {
            refusals::record(state, head, &refusal);
            Err(refused(state, &route, &refusal))
        }
    }
}

fn refused(state: &AppState, route: &Route, refusal: &Refusal) -> Reply {
    match refusal {
        Refusal::Unauthenticated => {
            // A browser asks for the page's password; a client sends a bearer token.
            let challenge = if route.needs() == Some(Role::Viewer) || *route == Route::Install {
                "Basic realm=\"ghl-rankr\", charset=\"UTF-8\""
            } else {
                "Bearer"
            };
            Reply::problem(401, "a valid token is required: `Authorization: Bearer <token>`")
                .with_header("WWW-Authenticate", challenge)
        }
        Refusal::Forbidden { caller, needs } => Reply::problem(
            403,
            &format!("the token {caller:?} may not do this: it needs the {} role", needs.as_str()),
        ),
        Refusal::NoOperator => Reply::problem(
            403,
            &format!(
                "no operator token is set, so the service takes no events or commands: add an [[access]] token with role = \"operator\" (or set {}) and restart",
                state.config.event_token_env
            ),
        ),
    }
}

/// The answer to an admitted request, with its body (empty for an
/// endpoint that takes none).
pub fn respond(state: &AppState, admitted: Admitted, head: &Head<'_>, body: &[u8]) -> Reply {
    let caller = &admitted.caller;
    match admitted.route {
        Route::Healthz => handlers::healthz(state),
        Route::Readyz => handlers::readyz(state),
        Route::Metrics => handlers::metrics(state),
        Route::Runs => handlers::runs(state, head.query),
        Route::Page => handlers::page(state),
        Route::Audit => handlers::audit(state, head.query),
        Route::Event { connection, op } => match state.connection(&connection) {
            Some(e) => {
                let reply = events::accept(state, &e.connection, op, head.idempotency_key, body);
                if reply.status == 202 {
                    let entry = Entry::new(state.clock.now_ms(), caller.name(), Action::Event, Verdict::Ok)
                        .from_address(head.peer.map(|a| a.ip().to_string()))
                        .on(connection)
                        .saying(op.as_str());
                    if let Err(e) = state.db.record(&entry) {
                        tracing::error!(target: "ghl_rankr::serve", error = %e, "cannot record the event in the audit log");
                    }
                }
                reply
            }
            None => Reply::problem(404, &format!("no connection named {connection:?}")),
        },
        Route::Check { connection } => control::check(state, caller, head, &connection),
        Route::Pause { connection } => control::pause(state, caller, head, &connection),
        Route::Resume { connection } => control::resume(state, caller, head, &connection),
        Route::Install => match &state.installs {
            Some(installs) => install::flow::start(state, installs),
            None => no_app(),
        },
        Route::OauthCallback => match &state.installs {
            Some(installs) => install::flow::callback(state, installs, head.query),
            None => no_app(),
        },
        Route::Webhook => match &state.installs {
            Some(installs) => install::webhook::receive(state, installs, head.ghl_signature, head.wh_signature, body),
            None => no_app(),
        },
        Route::UnknownOperation(op) => events::unknown_operation(&op),
        Route::BadEventPath => Reply::problem(
            404,
            "use POST /connections/{name}/run/{operation}, /connections/{name}/pause or /connections/{name}/resume",
        ),
        Route::WrongMethod(allow) => Reply::problem(405, &format!("use {allow}")).with_header("Allow", allow),
        Route::NotFound => Reply::problem(
            404,
            "no such endpoint; see /, /healthz, /readyz, /metrics, /runs, /audit and POST /connections/{name}/run/{operation}",
        ),
    }
}

/// No `[app]`: nothing to install.
fn no_app() -> Reply {
    Reply::problem(
        404,
        "this service has no marketplace app: add [app] and [template] to connections.toml to let agencies install it",
    )
}

/// What is said of an admitted request before its body is read: an
/// unknown connection.
pub fn before_body(state: &AppState, admitted: &Admitted) -> Option<Reply> {
    match &admitted.route {
        Route::Event { connection, .. } if state.connection(connection).is_none() => {
            Some(Reply::problem(404, &format!("no connection named {connection:?}")))
        }
        _ => None,
    }
}

/// Admits, reads the body if the endpoint takes one, and responds: the
/// same steps as the server, for a body already at hand (tests, tools).
pub fn answer(
    state: &AppState,
    head: &Head<'_>,
    read_body: &mut dyn FnMut(usize) -> Result<Vec<u8>, BodyError>,
) -> Reply {
    let admitted = match admit(state, head) {
        Ok(a) => a,
        Err(reply) => return reply,
    };
    if let Some(reply) = before_body(state, &admitted) {
        return reply;
    }
    let body = match admitted.route.body_limit() {
        Some(limit) => match read_body(limit) {
            Ok(b) => b,
            Err(e) => return e.reply(),
        },
        None => Vec::new(),
    };
    respond(state, admitted, head, &body)
}

#[cfg(test)]
mod tests;
