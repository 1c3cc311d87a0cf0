//! Alerts: one JSON POST to `alert_webhook_url` when a connection starts an
//! incident (N consecutive failures, or a refused OAuth refresh), and one
//! when it recovers; which and when is [`super::health`]'s to say.

use super::health::Notice;
use super::view::iso;
use ghl_rankr_host::net::Network;
use serde_json::{json, Value};
use std::time::Duration;

/// The alert's JSON body.
pub fn body(connection: &str, notice: &Notice) -> Value {
    let at = |ms: u64| iso(Some(ms));
    match notice {
        Notice::Failing {
            op,
            error,
            failures,
            first_failure_ms,
        } => json!({
            "kind": "failing",
            "connection": connection,
            "operation": op.as_str(),
            "error": error,
            "consecutive_failures": failures,
            "first_failure_at": at(*first_failure_ms),
        }),
        Notice::Reauthorize {
            op,
            error,
            first_failure_ms,
        } => json!({
            "kind": "reauthorization-required",
            "connection": connection,
            "operation": op.as_str(),
            "error": error,
            "first_failure_at": at(*first_failure_ms),
            "action": "authorize the connection again, put the new refresh token in its variable and restart the service; it is paused until then",
        }),
        Notice::Recovered {
            op,
            failures,
            first_failure_ms,
        } => json!({
            "kind": "recovered",
            "connection": connection,
            "operation": op.as_str(),
            "failures": failures,
            "first_failure_at": at(*first_failure_ms),
        }),
    }
}

/// Posts alerts to the configured webhook, if any.
pub struct Alerter {
    url: Option<String>,
    /// The service's network: its trust store and proxies.
    network: Network,
}

impl Alerter {
    pub fn new(url: Option<String>, network: Network) -> Self {
        Alerter { url, network }
    }

    /// Sends the alert, three tries; true once a 2xx came back. A webhook
    /// URL often carries a secret: only its host is logged.
    pub fn send(&self, connection: &str, notice: &Notice) -> bool {
        let Some(url) = &self.url else { return false };
        let host = url.split('/').nth(2).unwrap_or("?");
        let alert = body(connection, notice);
        let payload = alert.to_string();
        for attempt in 1..=3u64 {
            let (agent, _) = self.network.route(url);
            match agent
                .post(url)
                .config()
                .timeout_global(Some(Duration::from_secs(10)))
                .build()
                .header("content-type", "application/json")
                .send(payload.as_bytes())
            {
                Ok(r) if r.status().is_success() => {
                    tracing::info!(target: "ghl_rankr::serve", host, kind = %alert["kind"], "alert sent");
                    return true;
                }
                Ok(r) => {
                    tracing::warn!(target: "ghl_rankr::serve", host, status = r.status().as_u16(), attempt, "the alert webhook refused the alert")
                }
                Err(e) => {
                    tracing::warn!(target: "ghl_rankr::serve", host, error = %e, attempt, "the alert webhook is unreachable")
                }
            }
            std::thread::sleep(Duration::from_secs(attempt));
        }
        false
    }
}
