//! Batches mapped tags into Rankr upserts: at most 100 a batch and 1 MiB a
//! body, one idempotency key a batch, per-item results into the report and
//! the state. A tag whose content hash matches the state is not sent; the
//! state's hash changes only when Rankr confirmed the item.

use super::Run;
use crate::hash::fnv1a;
use crate::io::{Host, Method, Phase, Request};
use crate::rankr::model::{TagBatchResponse, TagInput, TagResult, TagStatus};
use crate::rankr::{
    check_tag_results, read_tag_results, tag_batch_body, tag_batch_bytes, tag_item, EP_TAGS, MAX_BODY_BYTES,
    MAX_TAGS_PER_BATCH,
};
use crate::report::{Change, Service, SyncError};
use crate::state::{item_hash, TagEntry, TagState};
use serde_json::value::RawValue;

/// What a confirmed item does to the state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    /// Record the new hash.
    Upsert,
    /// The tag is gone from GHL and now archived in Rankr: forget it.
    ArchiveGone,
}

/// One item on its way.
struct Pending {
    ghl_id: String,
    external_id: String,
    archived: bool,
    hash: u64,
    action: Action,
    /// The GHL offset of the page it came from (for the checkpoint).
    from: u64,
}

/// A sealed batch: its body and idempotency key are fixed, so a retry of
/// it is the same request.
pub(crate) struct Batch {
    items: Vec<Pending>,
    body: Vec<u8>,
    key: String,
}

/// Queues items into batches and sends the sealed batches together.
pub(crate) struct TagWriter {
    /// The open batch: its items, and their JSON.
    pending: Vec<Pending>,
    json: Vec<Box<RawValue>>,
    json_bytes: usize,
    ready: Vec<Batch>,
    full_refresh: bool,
    max_in_flight: usize,
}

impl TagWriter {
    pub fn new(full_refresh: bool, max_in_flight: usize) -> Self {
        TagWriter {
            pending: Vec::new(),
            json: Vec::new(),
            json_bytes: 0,
            ready: Vec::new(),
            full_refresh,
            max_in_flight: max_in_flight.max(1),
        }
    }

    /// The GHL offset of the oldest item not yet confirmed by Rankr.
    pub fn oldest_unsent(&self) -> Option<u64> {
        let sealed = self.ready.iter().flat_map(|b| b.items.iter());
        sealed.chain(self.pending.iter()).map(|p| p.from).min()
    }

    /// True when enough batches are sealed to fill the host's concurrency.
    pub fn wants_send(&self) -> bool {
        self.ready.len() >= self.max_in_flight
    }

    /// A tag read from GHL (on the page at offset `from`): marks a known tag
    /// seen in the state's pass and queues it unless Rankr already holds
    /// this content. A tag new to the state gets its entry only when Rankr
    /// confirms it, so a tag never written is not in the state to archive.
    pub fn offer<H: Host + ?Sized>(
        &mut self,
        run: &mut Run<'_, H>,
        state: &mut TagState,
        ghl_id: String,
        input: TagInput,
        from: u64,
    ) {
        let json = tag_item(&input);
        let hash = item_hash(json.get().as_bytes());
        if let Some(entry) = state.tags.get_mut(&ghl_id) {
            entry.seen_in_pass = state.pass;
            if entry.content_hash == hash && !self.full_refresh {
                run.report.skipped += 1;
                return;
            }
        }
        self.push(run, ghl_id, input, json, hash, Action::Upsert, from);
    }

    /// A tag gone from GHL, to be written archived and then forgotten.
    pub fn archive_gone<H: Host + ?Sized>(&mut self, run: &mut Run<'_, H>, ghl_id: String, input: TagInput) {
        let json = tag_item(&input);
        let hash = item_hash(json.get().as_bytes());
        self.push(run, ghl_id, input, json, hash, Action::ArchiveGone, 0);
    }

    /// Queues the item, sealing the batch first when the item would take it
    /// past Rankr's limits.
    #[allow(clippy::too_many_arguments)]
    fn push<H: Host + ?Sized>(
        &mut self,
        run: &mut Run<'_, H>,
        ghl_id: String,
        input: TagInput,
        json: Box<RawValue>,
        hash: u64,
        action: Action,
        from: u64,
    ) {
        let len = json.get().len();
        if tag_batch_bytes(1, len) > MAX_BODY_BYTES {
            // Never sent, so the state keeps no hash: tried again next run.
            run.report.reject(
                ghl_id,
                Service::Rankr,
                format!(
                    "the tag's JSON is {} bytes, over Rankr's 1 MiB body limit",
                    tag_batch_bytes(1, len)
                ),
            );
            return;
        }
        if tag_batch_bytes(self.json.len() + 1, self.json_bytes + len) > MAX_BODY_BYTES {
            // It fits alone but not with the others: it opens the next batch.
            self.seal(run);
        }
        self.json.push(json);
        self.json_bytes += len;
        self.pending.push(Pending {
            ghl_id,
            external_id: input.external_id,
            archived: input.archived,
            hash,
            action,
            from,
        });
        if self.pending.len() >= MAX_TAGS_PER_BATCH {
            self.seal(run);
        }
    }

    /// Turns the queue into a batch: its body and idempotency key.
    fn seal<H: Host + ?Sized>(&mut self, run: &mut Run<'_, H>) {
        if self.pending.is_empty() {
            return;
        }
        let items = std::mem::take(&mut self.pending);
        let body = tag_batch_body(&std::mem::take(&mut self.json));
        self.json_bytes = 0;
        // The items' hashes stand for the body's content.
        let hashes: Vec<u8> = items.iter().flat_map(|item| item.hash.to_le_bytes()).collect();
        let key = run.idempotency_key(fnv1a(&[&hashes]));
        self.ready.push(Batch { items, body, key });
    }

    /// Sends everything queued.
    pub fn flush<H: Host + ?Sized>(&mut self, run: &mut Run<'_, H>, state: &mut TagState) -> Result<(), SyncError> {
        self.seal(run);
        self.send_ready(run, state)
    }

    /// Sends the sealed batches, `max_in_flight` at a time (upserts are
    /// order-insensitive: each item is keyed by its external id). A batch
    /// that failed, or was not sent after a failure, stays queued, so the
    /// checkpoint stays before its tags.
    pub fn send_ready<H: Host + ?Sized>(
        &mut self,
        run: &mut Run<'_, H>,
        state: &mut TagState,
    ) -> Result<(), SyncError> {
        let (batches, requests) = self.take_ready(run, state);
        if batches.is_empty() {
            return Ok(());
        }
        let answers = run
            .exchange
            .call_all(Service::Rankr, EP_TAGS, requests, self.max_in_flight, |resp| {
                read_tag_results(&resp.body)
            });
        self.finish(run, state, batches, answers.into_iter().map(Some).collect())
    }

    /// The sealed batches and their requests, for the caller to send (with
    /// other requests: see `tag_sync`). A dry run confirms them here and
    /// returns none.
    pub fn take_ready<H: Host + ?Sized>(
        &mut self,
        run: &mut Run<'_, H>,
        state: &mut TagState,
    ) -> (Vec<Batch>, Vec<Request>) {
        let batches = std::mem::take(&mut self.ready);
        for b in &batches {
            run.record_write(Method::Post, "/v1/tags/batch-upsert".into(), b.items.len(), &b.body);
        }
        if run.settings.dry_run {
            // The state is discarded after a dry run; record as if written
            // so the post's tags can be planned.
            for b in batches {
                for item in b.items {
                    if item.archived {
                        run.report.archived += 1;
                    }
                    confirm(state, item);
                }
            }
            return (Vec::new(), Vec::new());
        }
        let rankr = run.settings.rankr();
        let requests = batches
            .iter()
            .map(|b| rankr.upsert_tags(b.body.clone(), &b.key))
            .collect();
        (batches, requests)
    }

    /// Rankr's answers to `batches` (none: not sent) into the report and the
    /// state. A batch that failed or was not sent stays queued; the first
    /// error is returned.
    pub fn finish<H: Host + ?Sized>(
        &mut self,
        run: &mut Run<'_, H>,
        state: &mut TagState,
        batches: Vec<Batch>,
        answers: Vec<Option<Result<TagBatchResponse, SyncError>>>,
    ) -> Result<(), SyncError> {
        let wrote = !batches.is_empty();
        let mut answers = answers.into_iter();
        let mut first_error = None;
        for batch in batches {
            let checked = match answers.next().flatten() {
                Some(Ok(answer)) => check_tag_results(answer, batch.items.iter().map(|p| p.external_id.as_str())),
                Some(Err(e)) => Err(e),
                None => {
                    // Not sent: an earlier request failed.
                    self.ready.push(batch);
                    continue;
                }
            };
            match checked {
                Ok(results) => apply_results(run, state, batch.items, results),
                Err(e) => {
                    first_error.get_or_insert(e);
                    self.ready.push(batch);
                }
            }
        }
        if wrote {
            let written = run.report.created + run.report.updated + run.report.unchanged + run.report.rejected;
            run.exchange
                .host()
                .progress(Phase::WritingTags, u64::from(written), None);
        }
        first_error.map_or(Ok(()), Err)
    }
}

/// Rankr's per-item answers into the report and the state.
fn apply_results<H: Host + ?Sized>(
    run: &mut Run<'_, H>,
    state: &mut TagState,
    items: Vec<Pending>,
    results: Vec<TagResult>,
) {
    for (item, result) in items.into_iter().zip(results) {
        let change = match result.status {
            TagStatus::Created => {
                run.report.created += 1;
                Some(Change::Created)
            }
            TagStatus::Updated => {
                run.report.updated += 1;
                Some(Change::Updated)
            }
            TagStatus::Unchanged => {
                run.report.unchanged += 1;
                None
            }
            TagStatus::Rejected => {
                let why = result.error.unwrap_or_else(|| "rejected without a reason".into());
                run.report.reject(result.external_id, Service::Rankr, why);
                // Not held by Rankr as sent: try again next run.
                if let Some(entry) = state.tags.get_mut(&item.ghl_id) {
                    entry.content_hash = 0;
                }
                continue;
            }
        };
        if item.archived {
            run.report.archived += 1;
        }
        if let Some(change) = change {
            let change = if item.archived { Change::Archived } else { change };
            run.report.changed_tags.note(change, &item.ghl_id);
        }
        confirm(state, item);
    }
}

/// Rankr holds the item as sent: record it in the state.
fn confirm(state: &mut TagState, item: Pending) {
    match item.action {
        Action::ArchiveGone => {
            state.tags.remove(&item.ghl_id);
        }
        Action::Upsert => {
            let external_id = (item.external_id != item.ghl_id).then_some(item.external_id);
            let pass = state.pass;
            let entry = state.tags.entry(item.ghl_id).or_insert_with(|| TagEntry {
                content_hash: 0,
                seen_in_pass: pass,
                external_id: None,
            });
            entry.content_hash = item.hash;
            entry.external_id = external_id;
        }
    }
}
