//! The HTTP server: hyper's HTTP/1 over tokio, bounded so that no client
//! can stop the service or hold up another.
//!
//! - Each connection is a task of its own: a slow or stalled client waits
//!   alone.
//! - At most `max_connections` at once; one more is closed as soon as it
//!   is accepted.
//! - A request's head must arrive within the request timeout (hyper's
//!   header read timeout), with at most 100 headers in 64 KiB; more is 431.
//! - A body is read only after the request is admitted, only for an
//!   endpoint that takes one, within its size bound (a larger declared
//!   length is refused unread) and within the request timeout; otherwise
//!   408 or 413, and the connection is closed.
//! - A connection idle for a minute, or a client that stops reading its
//!   answer for as long, is closed.
//! - The handlers touch the database on tokio's blocking pool, never on the
//!   threads that accept and read.

use super::{admit, before_body, respond, Admitted, BodyError, Head, Reply};
use crate::serve::state::AppState;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderName, HeaderValue};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// Most headers a request may carry, and most bytes its head may take.
const MAX_HEADERS: usize = 100;
const MAX_HEAD_BYTES: usize = 64 * 1024;
/// A connection with nothing read or written for this long is closed.
const IDLE: Duration = Duration::from_secs(60);
/// How often the accept loop looks at the stop flag.
const STOP_POLL: Duration = Duration::from_millis(200);

/// Serves on `listener` until `stop` is raised.
pub fn serve(state: Arc<AppState>, listener: std::net::TcpListener, stop: Arc<AtomicBool>) -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("http")
        .enable_all()
        .build()?;
    let result = runtime.block_on(accept(state, listener, stop));
    runtime.shutdown_timeout(Duration::from_secs(1));
    result
}

async fn accept(state: Arc<AppState>, listener: std::net::TcpListener, stop: Arc<AtomicBool>) -> std::io::Result<()> {
    listener.set_nonblocking(true)?;
    let listener = tokio::net::TcpListener::from_std(listener)?;
    let permits = Arc::new(Semaphore::new(state.config.max_connections));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(state.config.request_timeout)
        .max_headers(MAX_HEADERS)
        .max_buf_size(MAX_HEAD_BYTES.max(8192));
    let http = Arc::new(http);
    while !stop.load(Ordering::SeqCst) {
        let (stream, peer) = match tokio::time::timeout(STOP_POLL, listener.accept()).await {
            Err(_) => continue,
            Ok(Ok(accepted)) => accepted,
            Ok(Err(e)) => {
                // Out of file descriptors, most often: wait rather than spin.
                tracing::warn!(target: "ghl_rankr::serve", error = %e, "HTTP accept failed");
                tokio::time::sleep(STOP_POLL).await;
                continue;
            }
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            tracing::debug!(target: "ghl_rankr::serve", %peer, "too many HTTP connections: this one is closed");
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let mut timed = tokio_io_timeout::TimeoutStream::new(stream);
        timed.set_read_timeout(Some(IDLE));
        timed.set_write_timeout(Some(IDLE));
        let io = TokioIo::new(Box::pin(timed));
        let (state, http) = (state.clone(), http.clone());
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| handle(state.clone(), peer, request));
            if let Err(e) = http.serve_connection(io, service).await {
                tracing::debug!(target: "ghl_rankr::serve", %peer, error = %e, "HTTP connection ended");
            }
            drop(permit);
        });
    }
    Ok(())
}

/// A request's head, owned, so the blocking pool can have it.
#[derive(Debug, Clone)]
struct OwnedHead {
    method: String,
    path: String,
    query: String,
    authorization: Option<String>,
    idempotency_key: Option<String>,
    ghl_signature: Option<String>,
    wh_signature: Option<String>,
    content_length: Option<u64>,
    /// A body is announced (a length above 0, or chunks).
    has_body: bool,
    peer: SocketAddr,
}

impl OwnedHead {
    fn head(&self) -> Head<'_> {
        Head {
            method: &self.method,
            path: &self.path,
            query: &self.query,
            authorization: self.authorization.as_deref(),
            idempotency_key: self.idempotency_key.as_deref(),
            ghl_signature: self.ghl_signature.as_deref(),
            wh_signature: self.wh_signature.as_deref(),
            peer: Some(self.peer),
        }
    }
}

async fn handle(
    state: Arc<AppState>,
    peer: SocketAddr,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = request.into_parts();
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let head = OwnedHead {
        method: parts.method.as_str().to_string(),
        path: parts.uri.path().to_string(),
        query: parts.uri.query().unwrap_or("").to_string(),
        authorization: header("authorization"),
        idempotency_key: header("idempotency-key"),
        ghl_signature: header(crate::serve::install::webhook::GHL_SIGNATURE),
        wh_signature: header(crate::serve::install::webhook::WH_SIGNATURE),
        content_length: header("content-length").and_then(|v| v.trim().parse().ok()),
        has_body: parts.headers.contains_key("transfer-encoding")
            || header("content-length").is_some_and(|v| v.trim() != "0"),
        peer,
    };
    let timeout = state.config.request_timeout;
    let admitted = {
        let head = head.clone();
        blocking(&state, move |s| admit(s, &head.head())).await
    };
    let reply = match admitted {
        Err(reply) => reply,
        Ok(admitted) => match (before_body(&state, &admitted), admitted.route.body_limit()) {
            (Some(reply), _) => reply,
            // A body where none is taken is refused, not skipped.
            (None, None) if head.has_body => {
                Reply::problem(413, "this endpoint takes no body").with_header("Connection", "close")
            }
            (None, None) => reply_to(&state, admitted, head, Bytes::new()).await,
            (None, Some(limit)) => match read(body, limit, head.content_length, timeout).await {
                Ok(bytes) => reply_to(&state, admitted, head, bytes).await,
                Err(e) => e.reply(),
            },
        },
    };
    Ok(response(reply))
}

async fn reply_to(state: &Arc<AppState>, admitted: Admitted, head: OwnedHead, body: Bytes) -> Reply {
    blocking(state, move |s| respond(s, admitted, &head.head(), &body)).await
}

/// The body, within `limit` bytes and `timeout`; a longer declared length
/// is refused before a byte is read.
async fn read(body: Incoming, limit: usize, declared: Option<u64>, timeout: Duration) -> Result<Bytes, BodyError> {
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(BodyError::TooLarge { limit });
    }
    match tokio::time::timeout(timeout, Limited::new(body, limit).collect()).await {
        Err(_) => Err(BodyError::TooSlow),
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(e)) if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() => {
            Err(BodyError::TooLarge { limit })
        }
        Ok(Err(e)) => Err(BodyError::Unreadable(e.to_string())),
    }
}

/// Runs a handler on the blocking pool (it may wait on the database).
async fn blocking<T>(state: &Arc<AppState>, f: impl FnOnce(&AppState) -> T + Send + 'static) -> T
where
    T: From<Reply> + Send + 'static,
{
    let state = state.clone();
    match tokio::task::spawn_blocking(move || f(&state)).await {
        Ok(out) => out,
        Err(e) => {
            tracing::error!(target: "ghl_rankr::serve", error = %e, "an HTTP handler failed");
            T::from(Reply::problem(500, "the handler failed; see the service's log"))
        }
    }
}

impl From<Reply> for Result<Admitted, Reply> {
    fn from(reply: Reply) -> Self {
        Err(reply)
    }
}

/// The answer on the wire, with the headers every answer carries.
fn response(reply: Reply) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(reply.body)));
    *response.status_mut() = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    let fixed = [
        ("content-type", reply.content_type.to_string()),
        ("cache-control", "no-store".to_string()),
        ("x-content-type-options", "nosniff".to_string()),
    ];
    for (name, value) in fixed.into_iter().chain(reply.headers) {
        if let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
            headers.insert(name, value);
        }
    }
    response
}
