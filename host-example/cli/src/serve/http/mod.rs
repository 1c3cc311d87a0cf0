//! The service's HTTP surface (loopback by default):
//!
//! - `GET /healthz`: the database answers.
//! - `GET /readyz`: and the scheduler went round in the last 5 s, and no
//!   stop is under way.
//! - `GET /metrics`: Prometheus text.
//! - `GET /runs?connection=&limit=`: run history, newest first, as JSON.
//! - `POST /connections/{name}/run/{operation}`: an event ([`events`]).
//! - `GET /`: the status page.
//!
//! A request is routed from its method and path ([`route`]), authorized,
//! and only then is its body read, within a size bound.

mod events;
mod handlers;
mod reply;
mod route;

pub use reply::Reply;
pub use route::Route;

use crate::serve::state::AppState;
use std::io::Read as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// What routing and authorization need of a request: its head.
#[derive(Debug, Clone, Copy, Default)]
pub struct Head<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: &'a str,
    pub authorization: Option<&'a str>,
    pub idempotency_key: Option<&'a str>,
}

/// Why a body could not be had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyError {
    TooLarge { limit: usize },
    Unreadable(String),
}

/// The answer to a request. `read_body(limit)` is called only for an
/// endpoint that takes a body, once the request is authorized.
pub fn answer(
    state: &AppState,
    head: &Head<'_>,
    read_body: &mut dyn FnMut(usize) -> Result<Vec<u8>, BodyError>,
) -> Reply {
    let route = Route::of(head.method, head.path);
    match route {
        Route::Healthz => handlers::healthz(state),
        Route::Readyz => handlers::readyz(state),
        Route::Metrics => handlers::metrics(state),
        Route::Runs => handlers::runs(state, head.query),
        Route::Page => handlers::page(state),
        Route::Event { .. } | Route::BadEventPath | Route::UnknownOperation(_) => {
            if let Err(refused) = events::authorize(state, head.authorization) {
                return refused;
            }
            match route {
                Route::Event { connection, op } => {
                    let Some(connection) = state.config.connection(&connection) else {
                        return Reply::problem(404, &format!("no connection named {connection:?}"));
                    };
                    match read_body(events::MAX_BODY) {
                        Ok(body) => events::accept(state, connection, op, head.idempotency_key, &body),
                        Err(BodyError::TooLarge { limit }) => {
                            Reply::problem(413, &format!("the body is over {} KiB", limit / 1024))
                        }
                        Err(BodyError::Unreadable(e)) => Reply::problem(400, &format!("cannot read the body: {e}")),
                    }
                }
                Route::UnknownOperation(op) => events::unknown_operation(&op),
                _ => Reply::problem(404, "use POST /connections/{name}/run/{operation}"),
            }
        }
        Route::WrongMethod(allow) => Reply::problem(405, &format!("use {allow}")).with_header("Allow", allow),
        Route::NotFound => Reply::problem(
            404,
            "no such endpoint; see /, /healthz, /readyz, /metrics, /runs and POST /connections/{name}/run/{operation}",
        ),
    }
}

/// Serves until `stop` is raised.
pub fn serve(state: Arc<AppState>, server: tiny_http::Server, stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::SeqCst) {
        match server.recv_timeout(Duration::from_millis(200)) {
            Ok(Some(request)) => handle(&state, request),
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(target: "ghl_rankr::serve", error = %e, "HTTP accept failed");
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    }
}

fn handle(state: &AppState, mut request: tiny_http::Request) {
    let url = request.url().to_string();
    let (path, query) = url.split_once('?').unwrap_or((&url, ""));
    let method = request.method().as_str().to_string();
    let header = |name: &'static str| {
        request
            .headers()
            .iter()
            .find(|h| h.field.equiv(name))
            .map(|h| h.value.as_str().to_string())
    };
    let (authorization, idempotency_key) = (header("Authorization"), header("Idempotency-Key"));
    let head = Head {
        method: &method,
        path,
        query,
        authorization: authorization.as_deref(),
        idempotency_key: idempotency_key.as_deref(),
    };
    let mut read_body = |limit: usize| {
        let mut body = Vec::new();
        request
            .as_reader()
            .take(limit as u64 + 1)
            .read_to_end(&mut body)
            .map_err(|e| BodyError::Unreadable(e.to_string()))?;
        if body.len() > limit {
            return Err(BodyError::TooLarge { limit });
        }
        Ok(body)
    };
    let reply = answer(state, &head, &mut read_body);
    let mut response = tiny_http::Response::from_string(reply.body).with_status_code(reply.status);
    let headers = [
        ("Content-Type", reply.content_type.to_string()),
        ("Cache-Control", "no-store".into()),
    ]
    .into_iter()
    .chain(reply.headers);
    for (name, value) in headers {
        if let Ok(h) = tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes()) {
            response.add_header(h);
        }
    }
    if let Err(e) = request.respond(response) {
        tracing::debug!(target: "ghl_rankr::serve", error = %e, "the HTTP client went away");
    }
}

#[cfg(test)]
mod tests;
