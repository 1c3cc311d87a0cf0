//! The operations and the trigger, written against [`Host`] only.
//!
//! Each takes `&mut dyn Host`, so its code is compiled once, in this crate.
//! Generic entry points would be compiled again in each component crate
//! (release builds do not share generics across crates, and LTO does not
//! merge the copies), which makes each component larger.

mod new_posts;
mod stats_sync;
mod tag_details;
mod tag_sync;
mod writer;

pub use new_posts::{
    new_posts, NewPostsReport, NewPostsRequest, SocialPost, CLOCK_SKEW_MS, DEFAULT_MAX_POSTS, DEFAULT_OVERLAP_MS,
    MAX_OVERLAP_MS, MAX_POSTS,
};
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

/// One operation under way: checked settings, the exchange, the report.
pub(crate) struct Run<'h, H: Host + ?Sized> {
    pub settings: Settings,
    pub exchange: Exchange<'h, H>,
    pub report: SyncReport,
    operation: &'static str,
    run_id: u64,
    batches: u32,
}

impl<'h, H: Host + ?Sized> Run<'h, H> {
    /// Checks the settings (before any request) and starts the operation.
    /// Fails before any request when the credential lacks one of `scopes`.
    pub fn start(
        host: &'h mut H,
        input: &SettingsInput,
        operation: &'static str,
        seed: &str,
        scopes: &[Scope],
    ) -> Result<Self, SyncError> {
        let settings = input.check().map_err(SyncError::InvalidConfig)?;
        settings.ghl_credential.check_scopes(operation, scopes)?;
        let mut exchange = Exchange::new(host, settings.retry, settings.auth(), Some(settings.deadline_ms));
        let now = exchange.host().now_ms();
        // Two runs in the same millisecond (a restart after a crash, a
        // virtual clock) must not share keys: mix in the instance's hash seed.
        let salt = std::hash::BuildHasher::hash_one(&std::collections::hash_map::RandomState::new(), now);
        let run_id = fnv1a(&[
            &now.to_le_bytes(),
            &salt.to_le_bytes(),
            operation.as_bytes(),
            seed.as_bytes(),
        ]);
        exchange.log(
            Level::Info,
            "operation started",
            &[
                ("operation", operation),
                ("dry_run", if settings.dry_run { "true" } else { "false" }),
            ],
        );
        Ok(Run {
            report: SyncReport {
                dry_run: settings.dry_run,
                ..SyncReport::default()
            },
            settings,
            exchange,
            operation,
            run_id,
            batches: 0,
        })
    }

    /// A fresh key for each new batch: the run, the batch's number and a
    /// digest of its content. A retry of the same request reuses the same
    /// key (it is made once per batch, before the first attempt).
    pub fn idempotency_key(&mut self, content_digest: u64) -> String {
        self.batches += 1;
        format!(
            "ghl-rankr-{}-{:016x}-{:05}-{content_digest:016x}",
            self.operation, self.run_id, self.batches
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
mod tests;
