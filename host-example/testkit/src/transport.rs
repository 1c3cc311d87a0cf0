//! A scripted [`HttpTransport`]: a closure answers, every request is
//! recorded.

use ghl_rankr_host::http::{Request, Response, TransportError};
use ghl_rankr_host::transport::HttpTransport;

type Handler = Box<dyn FnMut(&Request) -> Result<Response, TransportError> + Send>;

/// An in-memory transport for tests: a closure answers, every request is
/// recorded. With [`crate::VirtualClock`] a test runs the real
/// component with faults and backoff in virtual time.
pub struct ScriptedTransport {
    handler: std::sync::Mutex<Handler>,
    requests: std::sync::Mutex<Vec<Request>>,
    one_at_a_time: bool,
}

impl ScriptedTransport {
    pub fn new(handler: impl FnMut(&Request) -> Result<Response, TransportError> + Send + 'static) -> Self {
        ScriptedTransport {
            handler: std::sync::Mutex::new(Box::new(handler)),
            requests: std::sync::Mutex::new(Vec::new()),
            one_at_a_time: false,
        }
    }

    /// `send-all` exchanges arrive in request order, one at a time, so a
    /// fault scheduled for the n-th request hits the same one every run.
    pub fn one_at_a_time(mut self) -> Self {
        self.one_at_a_time = true;
        self
    }

    /// Every request so far, in order.
    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

impl HttpTransport for ScriptedTransport {
    fn send(&self, request: &Request) -> Result<Response, TransportError> {
        if let Ok(mut r) = self.requests.lock() {
            r.push(request.clone());
        }
        match self.handler.lock() {
            Ok(mut h) => h(request),
            Err(_) => Err(TransportError::Io("scripted handler panicked earlier".into())),
        }
    }

    fn max_concurrency(&self) -> usize {
        if self.one_at_a_time {
            1
        } else {
            usize::MAX
        }
    }
}
