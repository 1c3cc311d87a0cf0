//! A tiny HTTP/1.1 server on loopback that hands each request to a handler,
//! on a thread per connection (so a hung answer does not hold up the others)
//! and one request per connection, in plain HTTP or over TLS with a
//! certificate of the test's making. The handler's [`Outcome`] may also be a
//! fault the wire must show: a hang, or a connection that ends in the middle
//! of the body.

use rustls::{ServerConfig, ServerConnection, StreamOwned};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// A request as the fakes see it.
#[derive(Debug, Clone)]
pub struct FakeRequest {
    pub method: String,
    /// Path and query, as sent (still percent-encoded).
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl FakeRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// An answer.
#[derive(Debug, Clone)]
pub struct FakeResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl FakeResponse {
    pub fn json(status: u16, value: &serde_json::Value) -> Self {
        FakeResponse {
            status,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: value.to_string().into_bytes(),
        }
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// What the server does with a request.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Answer it.
    Respond(FakeResponse),
    /// Say nothing for this long, then answer (the client should time out).
    Hang(Duration, FakeResponse),
    /// Send the headers (with the full `Content-Length`) and half the body,
    /// then break the connection.
    Reset(FakeResponse),
}

impl From<FakeResponse> for Outcome {
    fn from(r: FakeResponse) -> Self {
        Outcome::Respond(r)
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        302 => "Found",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        409 => "Conflict",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

/// A connection, plain or TLS.
trait Wire: Read + Write {
    /// Ends the connection: for TLS, with its close_notify first, unless
    /// `abrupt` (a reset shows as a broken connection either way).
    fn close(&mut self, abrupt: bool);
}

impl Wire for TcpStream {
    fn close(&mut self, _abrupt: bool) {
        let _ = self.shutdown(Shutdown::Both);
    }
}

impl Wire for StreamOwned<ServerConnection, TcpStream> {
    fn close(&mut self, abrupt: bool) {
        if !abrupt {
            self.conn.send_close_notify();
            let _ = self.conn.complete_io(&mut self.sock);
        }
        let _ = self.sock.shutdown(Shutdown::Both);
    }
}

/// Writes the answer and closes the connection (one request per
/// connection keeps the fault cases honest: a reset really ends it).
fn respond(stream: &mut dyn Wire, outcome: Outcome) {
    let (resp, cut) = match outcome {
        Outcome::Respond(r) => (r, false),
        Outcome::Hang(d, r) => {
            std::thread::sleep(d);
            (r, false)
        }
        Outcome::Reset(r) => (r, true),
    };
    let mut head = format!("HTTP/1.1 {} {}\r\n", resp.status, reason(resp.status));
    for (k, v) in &resp.headers {
        if !k.eq_ignore_ascii_case("content-length") && !k.eq_ignore_ascii_case("connection") {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
    }
    head.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        resp.body.len()
    ));
    let body = if cut {
        &resp.body[..resp.body.len() / 2]
    } else {
        &resp.body[..]
    };
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body);
    let _ = stream.flush();
    stream.close(cut);
}

/// Reads one HTTP/1.1 request (Content-Length bodies, as the connector sends).
fn read_request(stream: &mut dyn Wire) -> std::io::Result<FakeRequest> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let (method, url) = match (parts.next(), parts.next()) {
        (Some(m), Some(u)) => (m.to_string(), u.to_string()),
        _ => return Err(std::io::Error::other("not an HTTP request")),
    };
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 {
            break;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let len = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse::<u64>().ok())
        .unwrap_or(0)
        .min(MAX_REQUEST_BYTES);
    let mut body = Vec::new();
    reader.take(len).read_to_end(&mut body)?;
    Ok(FakeRequest {
        method,
        url,
        headers,
        body,
    })
}

/// A running server; stops when dropped.
pub struct FakeServer {
    pub base_url: String,
    /// The most requests handled at once so far: a client that sends
    /// several together shows a peak above 1.
    peak: Arc<AtomicUsize>,
    /// Connections accepted (a TLS handshake the client gave up counts).
    connections: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    addr: std::net::SocketAddr,
    thread: Option<JoinHandle<()>>,
}

/// Largest request body read (Rankr's limit is 1 MiB; read a bit more to see it broken).
const MAX_REQUEST_BYTES: u64 = 2 * 1024 * 1024;

impl FakeServer {
    /// Binds 127.0.0.1 on an ephemeral port and serves plain HTTP until
    /// dropped.
    pub fn start(handler: impl Fn(FakeRequest) -> Outcome + Send + Sync + 'static) -> std::io::Result<Self> {
        Self::start_with(None, handler)
    }

    /// The same, over TLS with `tls` when given (`https://127.0.0.1:…`).
    pub fn start_with(
        tls: Option<Arc<ServerConfig>>,
        handler: impl Fn(FakeRequest) -> Outcome + Send + Sync + 'static,
    ) -> std::io::Result<Self> {
        let handler = Arc::new(handler);
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let in_flight = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let connections = Arc::new(AtomicUsize::new(0));
        let (in_flight2, peak2, connections2) = (in_flight.clone(), peak.clone(), connections.clone());
        let scheme = if tls.is_some() { "https" } else { "http" };
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                connections2.fetch_add(1, Ordering::SeqCst);
                let handler = handler.clone();
                let (in_flight, peak) = (in_flight2.clone(), peak2.clone());
                let tls = tls.clone();
                std::thread::spawn(move || {
                    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
                    let mut wire: Box<dyn Wire> = match tls {
                        None => Box::new(stream),
                        Some(config) => match ServerConnection::new(config) {
                            Ok(conn) => Box::new(StreamOwned::new(conn, stream)),
                            Err(_) => return,
                        },
                    };
                    if let Ok(req) = read_request(&mut *wire) {
                        let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                        peak.fetch_max(now, Ordering::SeqCst);
                        respond(&mut *wire, handler(req));
                        in_flight.fetch_sub(1, Ordering::SeqCst);
                    }
                });
            }
        });
        Ok(FakeServer {
            base_url: format!("{scheme}://127.0.0.1:{}", addr.port()),
            peak,
            connections,
            stop,
            addr,
            thread: Some(thread),
        })
    }
}

impl FakeServer {
    /// The most requests handled at once so far.
    pub fn peak_in_flight(&self) -> usize {
        self.peak.load(Ordering::SeqCst)
    }

    /// Connections accepted so far, handshakes that failed included.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
