//! Alerts: one JSON POST to `alert_webhook_url` when a connection starts an
//! incident (N consecutive failures, or a refused OAuth refresh), and one
//! when it recovers. The incident's `alerted` flag lives in the database, so
//! a restart does not alert again.

use ghl_rankr_host::net::Network;
use serde_json::{json, Value};
use std::time::Duration;

/// What an alert says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Alert<'a> {
    /// `failures` consecutive failed runs since `first_failure_ms`.
    Failing {
        connection: &'a str,
        operation: &'a str,
        error: &'a str,
        failures: u32,
        first_failure_ms: u64,
    },
    /// The OAuth refresh was refused; the connection is paused.
    Reauthorize {
        connection: &'a str,
        operation: &'a str,
        error: &'a str,
        first_failure_ms: u64,
    },
    /// A run succeeded after an alerted incident.
    Recovered {
        connection: &'a str,
        operation: &'a str,
        first_failure_ms: u64,
        failures: u32,
    },
}

impl Alert<'_> {
    pub fn to_json(&self) -> Value {
        let at = |ms: u64| super::db::iso(Some(ms));
        match self {
            Alert::Failing {
                connection,
                operation,
                error,
                failures,
                first_failure_ms,
            } => json!({
                "kind": "failing",
                "connection": connection,
                "operation": operation,
                "error": error,
                "consecutive_failures": failures,
                "first_failure_at": at(*first_failure_ms),
            }),
            Alert::Reauthorize {
                connection,
                operation,
                error,
                first_failure_ms,
            } => json!({
                "kind": "reauthorization-required",
                "connection": connection,
                "operation": operation,
                "error": error,
                "first_failure_at": at(*first_failure_ms),
                "action": "authorize the connection again, put the new refresh token in its variable and restart the service; it is paused until then",
            }),
            Alert::Recovered {
                connection,
                operation,
                first_failure_ms,
                failures,
            } => json!({
                "kind": "recovered",
                "connection": connection,
                "operation": operation,
                "failures": failures,
                "first_failure_at": at(*first_failure_ms),
            }),
        }
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

    pub fn enabled(&self) -> bool {
        self.url.is_some()
    }

    /// Sends `alert`, three tries; true once a 2xx came back. A webhook URL
    /// often carries a secret: only its host is logged.
    pub fn send(&self, alert: &Alert<'_>) -> bool {
        let Some(url) = &self.url else { return false };
        let host = url.split('/').nth(2).unwrap_or("?");
        let body = alert.to_json().to_string();
        for attempt in 1..=3u64 {
            let (agent, _) = self.network.route(url);
            match agent
                .post(url)
                .config()
                .timeout_global(Some(Duration::from_secs(10)))
                .build()
                .header("content-type", "application/json")
                .send(body.as_bytes())
            {
                Ok(r) if r.status().is_success() => {
                    tracing::info!(target: "ghl_rankr::serve", host, kind = %alert.to_json()["kind"], "alert sent");
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
