//! A tiny HTTP server on loopback that hands each request to a handler.

use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
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

/// A running server; stops when dropped.
pub struct FakeServer {
    pub base_url: String,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// Largest request body read (Rankr's limit is 1 MiB; read a bit more to see it broken).
const MAX_REQUEST_BYTES: u64 = 2 * 1024 * 1024;

impl FakeServer {
    /// Binds 127.0.0.1 on an ephemeral port and serves until dropped.
    pub fn start(handler: impl Fn(FakeRequest) -> FakeResponse + Send + 'static) -> std::io::Result<Self> {
        let server = tiny_http::Server::http("127.0.0.1:0").map_err(std::io::Error::other)?;
        let port = server
            .server_addr()
            .to_ip()
            .map(|a| a.port())
            .ok_or_else(|| std::io::Error::other("not an IP listener"))?;
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let thread = std::thread::spawn(move || {
            while !stop2.load(Ordering::SeqCst) {
                let Ok(Some(mut req)) = server.recv_timeout(Duration::from_millis(50)) else {
                    continue;
                };
                let mut body = Vec::new();
                let _ = req.as_reader().take(MAX_REQUEST_BYTES).read_to_end(&mut body);
                let fake = FakeRequest {
                    method: req.method().as_str().to_string(),
                    url: req.url().to_string(),
                    headers: req
                        .headers()
                        .iter()
                        .map(|h| (h.field.as_str().as_str().to_string(), h.value.as_str().to_string()))
                        .collect(),
                    body,
                };
                let resp = handler(fake);
                let mut out = tiny_http::Response::from_data(resp.body).with_status_code(resp.status);
                for (k, v) in resp.headers {
                    if let Ok(h) = tiny_http::Header::from_bytes(k.as_bytes(), v.as_bytes()) {
                        out.add_header(h);
                    }
                }
                let _ = req.respond(out);
            }
        });
        Ok(FakeServer {
            base_url: format!("http://127.0.0.1:{port}"),
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
