//! The glue of the `wasi:http/proxy` world: the one module that sees the
//! WASI bindings. Inbound, it turns an `incoming-request` into the plain
//! [`crate::handler::serve`] call and its [`HttpAnswer`] into the response;
//! outbound, [`outbound::WasiHost`] is the core's `Host` over
//! `wasi:http/outgoing-handler` and the clocks.
//!
//! Nothing here may trap: jco ends its process on a trapped handler. Every
//! fallible call is matched, and a response that cannot be written is
//! dropped (the runtime answers 500 for it).

mod body;
mod outbound;

use crate::answer::{HttpAnswer, RequestError};
use crate::env::Env;
use crate::handler;
use outbound::WasiHost;
use wasip2::exports::http::incoming_handler::Guest;
use wasip2::http::types::{
    Fields, IncomingRequest, Method as WasiMethod, OutgoingBody, OutgoingResponse, ResponseOutparam,
};
use wasip2::io::streams::StreamError;

use body::{read_all, write_all, ReadError};

/// The export: the bindings' `unsafe` canonical-ABI entry points.
#[allow(unsafe_code)]
mod export {
    use super::Handler;
    wasip2::http::proxy::export!(Handler);
}

struct Handler;

impl Guest for Handler {
    fn handle(request: IncomingRequest, response_out: ResponseOutparam) {
        let answer = answer(&request);
        respond(response_out, &answer);
    }
}

fn answer(request: &IncomingRequest) -> HttpAnswer {
    let method = method_name(request.method());
    let path = request.path_with_query().unwrap_or_else(|| "/".into());
    let env = Env::new(wasip2::cli::environment::get_environment());
    let authorization = {
        let values = request.headers().get("authorization");
        values.first().and_then(|v| String::from_utf8(v.clone()).ok())
    };
    let head = handler::Head {
        method: &method,
        path: &path,
        authorization: authorization.as_deref(),
    };
    handler::serve(
        &head,
        |limit| read_body(request, limit),
        || WasiHost::new(env.log_level()),
        &env,
    )
}

fn method_name(method: WasiMethod) -> String {
    match method {
        WasiMethod::Get => "GET".into(),
        WasiMethod::Head => "HEAD".into(),
        WasiMethod::Post => "POST".into(),
        WasiMethod::Put => "PUT".into(),
        WasiMethod::Delete => "DELETE".into(),
        WasiMethod::Connect => "CONNECT".into(),
        WasiMethod::Options => "OPTIONS".into(),
        WasiMethod::Trace => "TRACE".into(),
        WasiMethod::Patch => "PATCH".into(),
        WasiMethod::Other(other) => other,
    }
}

/// At most `limit` bytes of the body; a declared or actual length over it
/// is refused without reading the rest.
fn read_body(request: &IncomingRequest, limit: u64) -> Result<Vec<u8>, RequestError> {
    let declared = {
        let headers = request.headers();
        let values = headers.get("content-length");
        values
            .first()
            .and_then(|v| std::str::from_utf8(v).ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
    };
    if declared.is_some_and(|n| n > limit) {
        return Err(RequestError::TooLarge { limit });
    }
    let body = request
        .consume()
        .map_err(|()| RequestError::Unreadable("the body was already taken".into()))?;
    let stream = body
        .stream()
        .map_err(|()| RequestError::Unreadable("the body's stream was already taken".into()))?;
    read_all(&stream, limit, None).map_err(|e| match e {
        ReadError::TooLarge => RequestError::TooLarge { limit },
        ReadError::Timeout => RequestError::Unreadable("timed out".into()),
        ReadError::Broken(StreamError::LastOperationFailed(e)) => RequestError::Unreadable(e.to_debug_string()),
        ReadError::Broken(StreamError::Closed) => RequestError::Unreadable("the connection closed".into()),
    })
}

fn respond(out: ResponseOutparam, answer: &HttpAnswer) {
    let headers = Fields::new();
    for (name, value) in &answer.headers {
        // Our own names and ASCII values: none is refused.
        let _ = headers.append(name, value.as_bytes());
    }
    let response = OutgoingResponse::new(headers);
    let _ = response.set_status_code(answer.status);
    let Ok(body) = response.body() else {
        return;
    };
    ResponseOutparam::set(out, Ok(response));
    if let Ok(stream) = body.write() {
        // An error means the client went away: nothing is left to tell it.
        let _ = write_all(&stream, &answer.body);
    }
    let _ = OutgoingBody::finish(body, None);
}
