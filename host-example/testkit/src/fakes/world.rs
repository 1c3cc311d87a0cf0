//! The same fakes, in process: a [`ScriptedTransport`] that routes each
//! request to the fake GHL or the fake Rankr by origin, on a virtual clock.
//! Component tests run the real `.wasm` against it, so faults, backoff and
//! rate limits play out in virtual time with the fakes' ledger to check.

use super::ghl::{self, GhlState};
use super::openapi::OpenApi;
use super::rankr::{self, RankrState};
use super::server::{FakeRequest, Outcome};
use crate::clock::VirtualClock;
use crate::transport::ScriptedTransport;
use ghl_rankr_host::clock::Clock;
use ghl_rankr_host::http::{Header, Method, Request, Response, TransportError};
use std::sync::{Arc, Mutex};

/// Where the in-process fakes live.
pub const GHL_ORIGIN: &str = "https://ghl.fake";
pub const RANKR_ORIGIN: &str = "https://rankr.fake";

/// Fake GHL and Rankr sharing one virtual clock.
pub struct FakeWorld {
    pub ghl: Arc<Mutex<GhlState>>,
    pub rankr: Arc<Mutex<RankrState>>,
    pub clock: Arc<VirtualClock>,
}

impl FakeWorld {
    pub fn new(ghl: GhlState, rankr: RankrState, clock: Arc<VirtualClock>) -> Self {
        FakeWorld {
            ghl: Arc::new(Mutex::new(ghl)),
            rankr: Arc::new(Mutex::new(rankr)),
            clock,
        }
    }

    /// A transport answering from the fakes, in request order (see
    /// [`ScriptedTransport::one_at_a_time`]). A hang costs the request's
    /// timeout in virtual time and ends in `timeout`; a reset is an `io`
    /// error, as a real client would see them.
    pub fn transport(&self) -> ScriptedTransport {
        let (ghl, rankr, clock) = (self.ghl.clone(), self.rankr.clone(), self.clock.clone());
        let spec = OpenApi::ghl();
        ScriptedTransport::new(move |r: &Request| {
            let outcome = if let Some(rest) = r.url.strip_prefix(GHL_ORIGIN) {
                let mut g = ghl.lock().unwrap_or_else(|p| p.into_inner());
                ghl::handle(&spec, &mut g, &fake_request(r, rest), clock.now_ms())
            } else if let Some(rest) = r.url.strip_prefix(RANKR_ORIGIN) {
                let mut k = rankr.lock().unwrap_or_else(|p| p.into_inner());
                rankr::handle(&mut k, &fake_request(r, rest))
            } else {
                return Err(TransportError::Connect(format!("no fake at {}", r.url)));
            };
            match outcome {
                Outcome::Respond(resp) => Ok(Response {
                    status: resp.status,
                    headers: resp
                        .headers
                        .into_iter()
                        .map(|(name, value)| Header { name, value })
                        .collect(),
                    body: resp.body,
                }),
                Outcome::Hang(_, _) => {
                    clock.sleep_ms(r.timeout_ms as u64);
                    Err(TransportError::Timeout)
                }
                Outcome::Reset(_) => Err(TransportError::Io("connection reset in the middle of the body".into())),
            }
        })
        .one_at_a_time()
    }
}

fn fake_request(r: &Request, path_and_query: &str) -> FakeRequest {
    FakeRequest {
        method: match r.method {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
        .to_string(),
        url: path_and_query.to_string(),
        headers: r.headers.iter().map(|h| (h.name.clone(), h.value.clone())).collect(),
        body: r.body.clone().unwrap_or_default(),
    }
}
