//! `GET /metrics`: Prometheus text (OpenMetrics) through `prometheus-client`.
//! Requests and 429s are counted at the transport, as sent; runs, items and
//! retries from each run's report.

use super::model::{Op, Outcome};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RunLabels {
    connection: String,
    operation: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OpLabels {
    connection: String,
    operation: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DurationLabels {
    operation: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ServiceLabels {
    connection: String,
    service: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WebhookLabels {
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ConnectionLabels {
    connection: String,
}

/// Which API a request went to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    Ghl,
    Rankr,
}

impl Api {
    fn as_str(self) -> &'static str {
        match self {
            Api::Ghl => "ghl",
            Api::Rankr => "rankr",
        }
    }
}

pub struct Metrics {
    registry: Registry,
    runs: Family<RunLabels, Counter>,
    items_written: Family<OpLabels, Counter>,
    retries: Family<OpLabels, Counter>,
    duration: Family<DurationLabels, Histogram>,
    requests: Family<ServiceLabels, Counter>,
    rate_limited: Family<ServiceLabels, Counter>,
    queue_depth: Family<ConnectionLabels, Gauge>,
    last_success: Family<ConnectionLabels, Gauge<f64, AtomicU64>>,
    paused: Family<ConnectionLabels, Gauge>,
    followups: Family<ConnectionLabels, Gauge>,
    check_ok: Family<ConnectionLabels, Gauge>,
    webhooks: Family<WebhookLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("ghl_rankr");
        let runs = Family::<RunLabels, Counter>::default();
        registry.register("runs", "Runs ended, by connection, operation and outcome", runs.clone());
        let items_written = Family::<OpLabels, Counter>::default();
        registry.register(
            "items_written",
            "Items Rankr created, updated or archived (tags, post tag sets, points)",
            items_written.clone(),
        );
        let retries = Family::<OpLabels, Counter>::default();
        registry.register(
            "retries",
            "Requests that were retries, from the runs' reports",
            retries.clone(),
        );
        // 50 ms to ~14 min.
        let duration = Family::<DurationLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.05, 2.0, 15))
        });
        registry.register("run_duration_seconds", "How long runs took", duration.clone());
        let requests = Family::<ServiceLabels, Counter>::default();
        registry.register("requests", "HTTP requests sent, retries included", requests.clone());
        let rate_limited = Family::<ServiceLabels, Counter>::default();
        registry.register("rate_limited", "429 answers received", rate_limited.clone());
        let queue_depth = Family::<ConnectionLabels, Gauge>::default();
        registry.register(
            "queue_depth",
            "Posts found and waiting for their tag-sync",
            queue_depth.clone(),
        );
        let last_success = Family::<ConnectionLabels, Gauge<f64, AtomicU64>>::default();
        registry.register(
            "last_success_timestamp_seconds",
            "When a run of the connection last succeeded (Unix time)",
            last_success.clone(),
        );
        let paused = Family::<ConnectionLabels, Gauge>::default();
        registry.register(
            "paused",
            "1 while the connection is paused until it is authorized again",
            paused.clone(),
        );
        let followups = Family::<ConnectionLabels, Gauge>::default();
        registry.register(
            "followups_pending",
            "Statistics due after posts went live, not yet read",
            followups.clone(),
        );
        let check_ok = Family::<ConnectionLabels, Gauge>::default();
        registry.register(
            "check_ok",
            "1 when the connection's last check passed, 0 when it failed",
            check_ok.clone(),
        );
        let webhooks = Family::<WebhookLabels, Counter>::default();
        registry.register(
            "webhooks",
            "Webhooks received at /webhooks/ghl, by outcome (accepted, duplicate, refused)",
            webhooks.clone(),
        );
        Metrics {
            registry,
            webhooks,
            followups,
            check_ok,
            runs,
            items_written,
            retries,
            duration,
            requests,
            rate_limited,
            queue_depth,
            last_success,
            paused,
        }
    }

    /// The text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }

    /// Makes a connection's series exist before its first run.
    pub fn connection(&self, connection: &str) {
        let c = ConnectionLabels {
            connection: connection.into(),
        };
        drop(self.queue_depth.get_or_create(&c));
        drop(self.paused.get_or_create(&c));
        for api in [Api::Ghl, Api::Rankr] {
            let l = service(connection, api);
            drop(self.requests.get_or_create(&l));
            drop(self.rate_limited.get_or_create(&l));
        }
    }

    /// A connection left (an install stopped): its gauges go; its counters
    /// stay, as its history does.
    pub fn forget(&self, connection: &str) {
        let c = ConnectionLabels {
            connection: connection.into(),
        };
        for gauge in [&self.queue_depth, &self.paused, &self.followups, &self.check_ok] {
            gauge.remove(&c);
        }
        self.last_success.remove(&c);
    }

    /// A webhook received: `accepted`, `duplicate` or `refused`.
    pub fn webhook(&self, outcome: &str) {
        self.webhooks
            .get_or_create(&WebhookLabels {
                outcome: outcome.into(),
            })
            .inc();
    }

    pub fn request(&self, connection: &str, api: Api, status: Option<u16>) {
        let l = service(connection, api);
        self.requests.get_or_create(&l).inc();
        if status == Some(429) {
            self.rate_limited.get_or_create(&l).inc();
        }
    }

    pub fn run(&self, connection: &str, op: Op, outcome: Outcome, seconds: f64, items: u64, retries: u64) {
        self.runs
            .get_or_create(&RunLabels {
                connection: connection.into(),
                operation: op.as_str().into(),
                outcome: outcome.as_str().into(),
            })
            .inc();
        let l = OpLabels {
            connection: connection.into(),
            operation: op.as_str().into(),
        };
        self.items_written.get_or_create(&l).inc_by(items);
        self.retries.get_or_create(&l).inc_by(retries);
        self.duration
            .get_or_create(&DurationLabels {
                operation: op.as_str().into(),
            })
            .observe(seconds);
    }

    pub fn queue_depth(&self, connection: &str, depth: u64) {
        self.queue_depth
            .get_or_create(&ConnectionLabels {
                connection: connection.into(),
            })
            .set(depth.min(i64::MAX as u64) as i64);
    }

    pub fn success(&self, connection: &str, at_ms: u64) {
        self.last_success
            .get_or_create(&ConnectionLabels {
                connection: connection.into(),
            })
            .set(at_ms as f64 / 1000.0);
    }

    pub fn followups(&self, connection: &str, pending: u64) {
        self.followups
            .get_or_create(&ConnectionLabels {
                connection: connection.into(),
            })
            .set(pending.min(i64::MAX as u64) as i64);
    }

    pub fn check(&self, connection: &str, ok: bool) {
        self.check_ok
            .get_or_create(&ConnectionLabels {
                connection: connection.into(),
            })
            .set(ok as i64);
    }

    pub fn paused(&self, connection: &str, paused: bool) {
        self.paused
            .get_or_create(&ConnectionLabels {
                connection: connection.into(),
            })
            .set(paused as i64);
    }
}

fn service(connection: &str, api: Api) -> ServiceLabels {
    ServiceLabels {
        connection: connection.into(),
        service: api.as_str().into(),
    }
}
