//! The core's [`Host`] over WASI 0.2: HTTP through
//! `wasi:http/outgoing-handler`, time through `wasi:clocks`, logs as JSON
//! lines on stderr.
//!
//! The same rules as the `connector` world's host: no redirects (the
//! outgoing handler follows none), no forbidden headers (the runtime
//! refuses them, and the refusal is an invalid request), bodies written in
//! 4 KiB blocking writes and read up to [`MAX_BODY_BYTES`], and a deadline
//! per request that holds whether or not the runtime supports the request
//! options' timeouts.

use super::body::{read_all, write_all, ReadError};
use crate::MAX_BODY_BYTES;
use ghl_rankr_core::io::{Host, Level, Method, Request, Response, TransportError};
use ghl_rankr_core::OAuthTokens;
use serde_json::{Map, Value};
use std::io::Write;
use wasip2::clocks::{monotonic_clock, wall_clock};
use wasip2::http::outgoing_handler;
use wasip2::http::types::{
    ErrorCode, Fields, FutureIncomingResponse, IncomingResponse, Method as WasiMethod, OutgoingBody, OutgoingRequest,
    RequestOptions, Scheme,
};
use wasip2::io::poll::{self, Pollable};
use wasip2::io::streams::StreamError;

pub struct WasiHost {
    level: Level,
}

impl WasiHost {
    pub fn new(level: Level) -> WasiHost {
        WasiHost { level }
    }
}

/// A request on its way. Fields drop in order: `ready` is a child of
/// `future` and must go first.
struct InFlight {
    index: usize,
    ready: Pollable,
    future: FutureIncomingResponse,
    deadline: Pollable,
}

impl Host for WasiHost {
    fn send(&mut self, request: &Request) -> Result<Response, TransportError> {
        self.send_all(std::slice::from_ref(request))
            .pop()
            .unwrap_or(Err(TransportError::Io("no outcome".into())))
    }

    /// All requests go out before any answer is waited for; the answers are
    /// taken as they come, by polling their futures and deadlines together.
    fn send_all(&mut self, requests: &[Request]) -> Vec<Result<Response, TransportError>> {
        let mut outcomes: Vec<Option<Result<Response, TransportError>>> = requests.iter().map(|_| None).collect();
        let mut flying = Vec::with_capacity(requests.len());
        for (index, request) in requests.iter().enumerate() {
            let deadline = monotonic_clock::subscribe_duration(ms_to_ns(u64::from(request.timeout_ms)));
            match start(request) {
                Ok(future) => flying.push(InFlight {
                    index,
                    ready: future.subscribe(),
                    future,
                    deadline,
                }),
                Err(e) => outcomes[index] = Some(Err(e)),
            }
        }
        while !flying.is_empty() {
            let ready = {
                let list: Vec<&Pollable> = flying.iter().flat_map(|f| [&f.ready, &f.deadline]).collect();
                poll::poll(&list)
            };
            // Each flight once, last first, so the positions stay valid.
            let mut settled: Vec<usize> = ready.iter().map(|&i| i as usize / 2).collect();
            settled.sort_unstable();
            settled.dedup();
            for position in settled.into_iter().rev() {
                let flight = flying.remove(position);
                outcomes[flight.index] = Some(settle(&flight));
            }
        }
        outcomes
            .into_iter()
            .zip(requests)
            .map(|(o, request)| match o {
                Some(Err(TransportError::Tls(problem))) => Err(tls_error(&request.url, &problem)),
                Some(outcome) => outcome,
                None => Err(TransportError::Io("no outcome".into())),
            })
            .collect()
    }

    fn now_ms(&mut self) -> u64 {
        let now = wall_clock::now();
        now.seconds
            .saturating_mul(1000)
            .saturating_add(u64::from(now.nanoseconds / 1_000_000))
    }

    fn sleep_ms(&mut self, ms: u64) {
        monotonic_clock::subscribe_duration(ms_to_ns(ms)).block();
    }

    fn log(&mut self, level: Level, message: &str, fields: &[(&str, &str)]) {
        if level < self.level {
            return;
        }
        let mut line = Map::new();
        line.insert("level".into(), format!("{level:?}").to_ascii_lowercase().into());
        line.insert("message".into(), message.into());
        for (key, value) in fields {
            line.insert((*key).into(), (*value).into());
        }
        // A log that cannot be written is not worth a trap.
        let _ = writeln!(std::io::stderr(), "{}", Value::Object(line));
    }

    /// A rotated pair has nowhere to go but the answer, which carries it
    /// (`rotated-tokens`, in a report and in a failure alike).
    fn store_tokens(&mut self, _tokens: &OAuthTokens) -> Result<(), String> {
        Ok(())
    }
}

fn ms_to_ns(ms: u64) -> u64 {
    ms.saturating_mul(1_000_000)
}

/// Sends the head and the body; the answer is the future's. A body goes
/// with its length, as the `connector` world's host sends it: servers need
/// not accept a chunked request.
fn start(r: &Request) -> Result<FutureIncomingResponse, TransportError> {
    let uri: http::Uri = r
        .url
        .parse()
        .map_err(|e| TransportError::InvalidRequest(format!("`{}` is not a URL: {e}", r.url)))?;
    let scheme = match uri.scheme_str() {
        Some("https") => Scheme::Https,
        Some("http") => Scheme::Http,
        _ => {
            return Err(TransportError::InvalidRequest(format!(
                "`{}` is not an http(s) URL",
                r.url
            )))
        }
    };
    let authority = uri
        .authority()
        .ok_or_else(|| TransportError::InvalidRequest(format!("`{}` has no host", r.url)))?;
    let path = uri.path_and_query().map_or("/", |p| p.as_str());

    let headers = Fields::new();
    let length = r
        .body
        .as_ref()
        .map(|b| ("content-length".to_string(), b.len().to_string()));
    for (name, value) in r.headers.iter().chain(length.as_ref()) {
        headers
            .append(&name.to_ascii_lowercase(), value.as_bytes())
            .map_err(|e| TransportError::InvalidRequest(format!("the runtime refused the header `{name}`: {e:?}")))?;
    }
    let request = OutgoingRequest::new(headers);
    let refused = |what: &str| TransportError::InvalidRequest(format!("the runtime refused the request's {what}"));
    request.set_method(&method(r.method)).map_err(|()| refused("method"))?;
    request.set_scheme(Some(&scheme)).map_err(|()| refused("scheme"))?;
    request
        .set_authority(Some(authority.as_str()))
        .map_err(|()| refused("authority"))?;
    request.set_path_with_query(Some(path)).map_err(|()| refused("path"))?;

    // Runtimes that do not support a timeout refuse to set it; the deadline
    // in `send_all` holds either way.
    let options = RequestOptions::new();
    let timeout = Some(ms_to_ns(u64::from(r.timeout_ms)));
    let _ = options.set_connect_timeout(timeout);
    let _ = options.set_first_byte_timeout(timeout);
    let _ = options.set_between_bytes_timeout(timeout);

    let body = request.body().map_err(|()| refused("body"))?;
    let future = outgoing_handler::handle(request, Some(options)).map_err(transport_error)?;
    if let Some(bytes) = r.body.as_deref() {
        let stream = body.write().map_err(|()| refused("body stream"))?;
        write_all(&stream, bytes).map_err(stream_error)?;
    }
    OutgoingBody::finish(body, None).map_err(transport_error)?;
    Ok(future)
}

fn method(m: Method) -> WasiMethod {
    match m {
        Method::Get => WasiMethod::Get,
        Method::Post => WasiMethod::Post,
        Method::Put => WasiMethod::Put,
        Method::Patch => WasiMethod::Patch,
        Method::Delete => WasiMethod::Delete,
    }
}

/// The answer of a flight that polled ready: its response, or a timeout if
/// only its deadline passed.
fn settle(flight: &InFlight) -> Result<Response, TransportError> {
    match flight.future.get() {
        None => Err(TransportError::Timeout),
        Some(Err(())) => Err(TransportError::Io("the response was already taken".into())),
        Some(Ok(Err(code))) => Err(transport_error(code)),
        Some(Ok(Ok(response))) => read(&response, &flight.deadline),
    }
}

/// Status, headers and at most [`MAX_BODY_BYTES`] of body, before the
/// deadline.
fn read(response: &IncomingResponse, deadline: &Pollable) -> Result<Response, TransportError> {
    let status = response.status();
    let headers = response
        .headers()
        .entries()
        .into_iter()
        .map(|(name, value)| (name, String::from_utf8_lossy(&value).into_owned()))
        .collect();
    let body = response
        .consume()
        .map_err(|()| TransportError::Io("the response body was already taken".into()))?;
    let stream = body
        .stream()
        .map_err(|()| TransportError::Io("the response body's stream was already taken".into()))?;
    let bytes = read_all(&stream, MAX_BODY_BYTES, Some(deadline)).map_err(|e| match e {
        ReadError::TooLarge => TransportError::TooLarge(MAX_BODY_BYTES),
        ReadError::Timeout => TransportError::Timeout,
        ReadError::Broken(e) => stream_error(e),
    })?;
    Ok(Response {
        status,
        headers,
        body: bytes,
    })
}

fn stream_error(e: StreamError) -> TransportError {
    match e {
        StreamError::Closed => TransportError::Io("the connection closed".into()),
        StreamError::LastOperationFailed(e) => match wasip2::http::types::http_error_code(&e) {
            Some(code) => transport_error(code),
            None => TransportError::Io(e.to_debug_string()),
        },
    }
}

/// A TLS refusal with the host it came from and what to do: the runtime
/// owns the trust store, so the fix is the runtime's configuration.
fn tls_error(url: &str, problem: &str) -> TransportError {
    let host = url
        .parse::<http::Uri>()
        .ok()
        .and_then(|u| u.authority().map(|a| a.to_string()))
        .unwrap_or_else(|| "the server".into());
    TransportError::Tls(format!(
        "{host}: {problem}; a private CA must be trusted by the runtime that runs this component (its TLS configuration or the system's store)"
    ))
}

/// The runtime's error, as the core's kinds: timeouts, failures to connect
/// and broken connections are retried; refusals are not.
fn transport_error(code: ErrorCode) -> TransportError {
    let text = format!("{code:?}");
    match code {
        ErrorCode::DnsTimeout
        | ErrorCode::ConnectionTimeout
        | ErrorCode::ConnectionReadTimeout
        | ErrorCode::ConnectionWriteTimeout
        | ErrorCode::HttpResponseTimeout => TransportError::Timeout,
        ErrorCode::DnsError(_)
        | ErrorCode::DestinationNotFound
        | ErrorCode::DestinationUnavailable
        | ErrorCode::DestinationIpProhibited
        | ErrorCode::DestinationIpUnroutable
        | ErrorCode::ConnectionRefused
        | ErrorCode::ConnectionLimitReached => TransportError::Connect(text),
        // The runtime's TLS refused the certificate, or the peer the
        // handshake: a retry meets the same certificate. wasmtime reports
        // every failed handshake, an untrusted certificate included, as a
        // protocol error.
        ErrorCode::TlsProtocolError => TransportError::Tls(
            "the TLS handshake failed (TLS-protocol-error; most often a certificate the runtime does not trust)".into(),
        ),
        ErrorCode::TlsCertificateError => TransportError::Tls("the runtime's TLS refused its certificate".into()),
        ErrorCode::TlsAlertReceived(alert) => TransportError::Tls(format!(
            "the server refused the TLS handshake (alert {}{})",
            alert.alert_id.map_or_else(|| "?".to_string(), |id| id.to_string()),
            alert.alert_message.map(|m| format!(": {m}")).unwrap_or_default()
        )),
        ErrorCode::HttpRequestDenied => TransportError::Denied(
            "the runtime refused the request; is its origin among the allowed outbound hosts?".into(),
        ),
        ErrorCode::HttpResponseBodySize(_) => TransportError::TooLarge(MAX_BODY_BYTES),
        ErrorCode::HttpRequestLengthRequired
        | ErrorCode::HttpRequestBodySize(_)
        | ErrorCode::HttpRequestMethodInvalid
        | ErrorCode::HttpRequestUriInvalid
        | ErrorCode::HttpRequestUriTooLong
        | ErrorCode::HttpRequestHeaderSectionSize(_)
        | ErrorCode::HttpRequestHeaderSize(_)
        | ErrorCode::HttpRequestTrailerSectionSize(_)
        | ErrorCode::HttpRequestTrailerSize(_)
        | ErrorCode::LoopDetected
        | ErrorCode::ConfigurationError => TransportError::InvalidRequest(text),
        _ => TransportError::Io(text),
    }
}
