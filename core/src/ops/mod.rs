//! The operations, the triggers and the check, written against [`Host`]
//! only.
//!
//! Each takes `&mut dyn Host`, so its code is compiled once, in this crate.
//! Generic entry points would be compiled again in each component crate
//! (release builds do not share generics across crates, and LTO does not
//! merge the copies), which makes each component larger.

mod check;
mod new_posts;
mod operation;
mod poll;
mod published;
mod stats_sync;
mod tag_details;
mod tag_sync;
mod writer;

pub use check::{check, CheckItem, CheckOutcome, CheckReport, CheckRequest, Probe, RateHeadroom, CHECKABLE};
pub use new_posts::{new_posts, NewPostsReport, NewPostsRequest, SocialPost};
pub use operation::{Kind, Operation};
pub use poll::{CLOCK_SKEW_MS, DEFAULT_MAX_POSTS, DEFAULT_OVERLAP_MS, MAX_OVERLAP_MS, MAX_POSTS};
pub use published::{posts_published, PublishedPost, PublishedPostsReport, PublishedPostsRequest};
pub use stats_sync::{stats_sync, StatsRequest, PLATFORMS};
pub use tag_details::{tag_details_push, TagDetailsEvent};
pub use tag_sync::{tag_sync, TagSyncEvent};

use crate::auth::Scope;
use crate::client::Exchange;
use crate::ghl::{self, ParsedTag, EP_TAG_DETAILS};
use crate::hash::fnv1a;
use crate::io::{Host, Level, Method};
use crate::report::{Incomplete, PlannedWrite, Service, StopReason, SyncError, SyncFailure, SyncReport};
use crate::settings::{check_id, Settings, SettingsInput};

/// What an operation began from that outlives it: its scope (the location,
/// and the dashboard for `stats-sync`) and the state blob exactly as the
/// host gave it. A run's idempotency keys derive from this and from the
/// writes themselves, never from the clock.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Origin<'a> {
    pub scope: &'a [&'a str],
    pub state: Option<&'a [u8]>,
}

impl Origin<'_> {
    /// The digest the keys of a run carry. The scope's parts are counted, so
    /// a part cannot pass for the state; no state has its own marker.
    fn digest(&self, operation: &str) -> u64 {
        let count = (self.scope.len() as u64).to_le_bytes();
        let mut parts: Vec<&[u8]> = vec![b"ghl-rankr-origin", operation.as_bytes(), &count];
        parts.extend(self.scope.iter().map(|s| s.as_bytes()));
        match self.state {
            None => parts.push(b"no-state"),
            Some(blob) => {
                parts.push(b"state");
                parts.push(blob);
            }
        }
        fnv1a(&parts)
    }
}

/// One operation under way: checked settings, the exchange, the report.
pub(crate) struct Run<'h, H: Host + ?Sized> {
    pub settings: Settings,
    pub exchange: Exchange<'h, H>,
    pub report: SyncReport,
    operation: &'static str,
    origin: u64,
    batches: u32,
}

impl<'h, H: Host + ?Sized> Run<'h, H> {
    /// Checks the settings (before any request) and starts the operation.
    /// Fails before any request when the credential lacks one of `scopes`.
    pub fn start(
        host: &'h mut H,
        input: &SettingsInput,
        operation: &'static str,
        origin: Origin<'_>,
        scopes: &[Scope],
    ) -> Result<Self, SyncError> {
        let settings = input.check().map_err(SyncError::InvalidConfig)?;
        settings.ghl_credential.check_scopes(operation, scopes)?;
        Ok(Self::begin(host, settings, operation, origin))
    }

    /// Starts the operation with settings already checked.
    pub fn begin(host: &'h mut H, settings: Settings, operation: &'static str, origin: Origin<'_>) -> Self {
        let mut exchange = Exchange::new(host, settings.retry, settings.auth(), Some(settings.deadline_ms));
        let mut origin = origin.digest(operation);
        if settings.full_refresh {
            // A full refresh asks for every item to be written again: its
            // writes are new by intent, never replays of an earlier run's.
            let now = exchange.host().now_ms();
            let salt = std::hash::BuildHasher::hash_one(&std::collections::hash_map::RandomState::new(), now);
            origin = fnv1a(&[&origin.to_le_bytes(), &now.to_le_bytes(), &salt.to_le_bytes()]);
        }
        exchange.log(
            Level::Info,
            "operation started",
            &[
                ("operation", operation),
                ("dry_run", if settings.dry_run { "true" } else { "false" }),
            ],
        );
        Run {
            report: SyncReport {
                dry_run: settings.dry_run,
                ..SyncReport::default()
            },
            settings,
            exchange,
            operation,
            origin,
            batches: 0,
        }
    }

    /// The key of the run's next batch: the run's origin, the batch's place
    /// in the run and a digest of its content. The same call from the same
    /// state sends the same batches under the same keys, so Rankr replays
    /// a write sent again after a crash instead of applying it twice; other
    /// content, or a run from a later state, gets a new key. A retry of a
    /// request reuses its key (it is made once per batch, before the first
    /// attempt). Printable ASCII, under 100 characters.
    pub fn idempotency_key(&mut self, content_digest: u64) -> String {
        self.batches += 1;
        format!(
            "ghl-rankr-{}-{:016x}-{:05}-{content_digest:016x}",
            self.operation, self.origin, self.batches
        )
    }

    /// Records a write made or planned (with its body on a dry run).
    pub fn record_write(&mut self, method: Method, path: String, items: usize, body: &[u8]) {
        self.report.writes.push(PlannedWrite {
            method,
            path,
            items: items as u32,
            body: if self.settings.dry_run {
                String::from_utf8_lossy(body).into_owned()
            } else {
                String::new()
            },
        });
    }

    /// `tags/details` for at most [`ghl::MAX_IDS_PER_DETAILS`] ids.
    pub fn read_tag_details(&mut self, location: &str, ids: &[String]) -> Result<Vec<ParsedTag>, SyncError> {
        let request = self.settings.ghl().tag_details(location, ids);
        let page = self.exchange.call(Service::Ghl, EP_TAG_DETAILS, request, |resp| {
            ghl::read_tag_page(EP_TAG_DETAILS, &resp.body)
        })?;
        Ok(page.tags)
    }

    /// The failure, carrying the state and any rotated tokens.
    pub fn fail(&mut self, error: SyncError, state: Option<Vec<u8>>) -> SyncFailure {
        let message = error.to_string();
        self.exchange.log(
            Level::Error,
            "operation failed",
            &[("operation", self.operation), ("error", &message)],
        );
        SyncFailure {
            error,
            state,
            rotated_tokens: self.exchange.rotated.clone().map(Box::new),
        }
    }

    /// Marks the report incomplete: the state holds where to resume.
    pub fn stop(&mut self, reason: StopReason) {
        let resume_after_ms = match &reason {
            StopReason::RateLimited(r) => r.retry_after_ms,
            StopReason::Deadline => None,
        };
        let why = match &reason {
            StopReason::Deadline => "deadline".to_string(),
            StopReason::RateLimited(r) => r.to_string(),
        };
        self.exchange.log(
            Level::Warn,
            "operation stopped early; resume with the returned state",
            &[("reason", &why)],
        );
        self.report.incomplete = Some(Incomplete {
            reason,
            resume_after_ms,
        });
    }

    /// The report, with the request counts and the state filled in.
    pub fn finish(mut self, state: Vec<u8>) -> SyncReport {
        self.report.requests = self.exchange.requests;
        self.report.retries = self.exchange.retries;
        self.report.changed_tags.settle();
        self.report.state = state;
        self.report.rotated_tokens = self.exchange.rotated.clone();
        let fields = [
            ("operation", self.operation.to_string()),
            ("fetched", self.report.fetched.to_string()),
            ("created", self.report.created.to_string()),
            ("updated", self.report.updated.to_string()),
            ("rejected", self.report.rejected.to_string()),
            ("skipped", self.report.skipped.to_string()),
            ("requests", self.report.requests.to_string()),
            ("paced_ms", self.exchange.paced_ms.to_string()),
            ("rate_limited", self.exchange.rate_limited.to_string()),
            ("complete", self.report.incomplete.is_none().to_string()),
        ];
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        self.exchange.log(Level::Info, "operation finished", &fields);
        self.report
    }
}

/// Whether an error ends an operation that can checkpoint early rather than
/// fail: the deadline, or a rate budget that outlasts the retry policy.
pub(crate) fn stop_reason(e: &SyncError) -> Option<StopReason> {
    match e {
        SyncError::DeadlineExceeded(_) => Some(StopReason::Deadline),
        SyncError::RateLimited(r) => Some(StopReason::RateLimited(r.clone())),
        _ => None,
    }
}

/// Checks an id from an event; the error is `invalid-config`.
pub(crate) fn id(what: &str, value: &str) -> Result<(), SyncError> {
    check_id(what, value).map_err(SyncError::InvalidConfig)
}

/// Keeps the first of each id, in order.
pub(crate) fn dedup(ids: &[String]) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    ids.iter().filter(|i| seen.insert(i.as_str())).cloned().collect()
}

#[cfg(test)]
mod check_tests;
#[cfg(test)]
mod published_tests;
#[cfg(test)]
mod tests;
