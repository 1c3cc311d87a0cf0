//! Batches mapped tags into Rankr upserts: at most 100 a batch and 1 MiB a
//! body, one idempotency key a batch, per-item results into the report and
//! the state. A tag whose content hash matches the state is not sent; the
//! state's hash changes only when Rankr confirmed the item.

use super::Run;
use crate::io::Host;
use crate::rankr::model::{TagBatchResponse, TagInput, TagStatus};
use crate::rankr::Pushed;
use crate::rankr::{
    check_tag_results, TagBatchBody, BATCH_ENVELOPE_BYTES, EP_TAGS, MAX_BODY_BYTES, MAX_TAGS_PER_BATCH,
};
use crate::report::{Service, SyncError};
use crate::state::tag_map::IdHash;
use crate::state::{item_hash, TagEntry, TagState};

/// A new batch body's first allocation: a typical 100-tag batch fits, so
/// the body rarely grows while it fills.
const BODY_CAPACITY: usize = 32 * 1024;

/// What a confirmed item does to the state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    /// Record the new hash.
    Upsert,
    /// The tag is gone from GHL and now archived in Rankr: forget it.
    ArchiveGone,
}

/// One item on its way; its JSON is in the open batch body.
struct Pending {
    ghl_id: String,
    key: IdHash,
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
    pending: Vec<Pending>,
    /// The open batch's body: `pending`'s items, serialized in place.
    body: TagBatchBody,
    ready: Vec<Batch>,
    full_refresh: bool,
    max_in_flight: usize,
}

impl TagWriter {
    pub fn new(full_refresh: bool, max_in_flight: usize) -> Self {
        TagWriter {
            pending: Vec::with_capacity(MAX_TAGS_PER_BATCH),
            body: TagBatchBody::with_capacity(BODY_CAPACITY),
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
    /// this content.
    pub fn offer<H: Host + ?Sized>(
        &mut self,
        run: &mut Run<'_, H>,
        st: &mut TagState,
        (ghl_id, key): (String, IdHash),
        input: TagInput,
        from: u64,
    ) {
        let at = self.body.push(&input);
        let hash = item_hash(self.body.item(at));
        let pass = st.pass;
        // A tag new to the state gets its entry when Rankr confirms it
        // (`confirm`): one tree search per new tag fewer, and a tag never
        // written is not in the state to be archived.
        if let Some(e) = st.tags.get_mut_at(key, &ghl_id) {
            e.g = pass;
            if e.h == hash && !self.full_refresh {
                self.body.undo(at);
                run.report.skipped += 1;
                return;
            }
        }
        self.push(run, (ghl_id, key), input, at, hash, Action::Upsert, from);
    }

    /// A tag gone from GHL, to be written archived and then forgotten.
    pub fn archive_gone<H: Host + ?Sized>(&mut self, run: &mut Run<'_, H>, ghl_id: String, input: TagInput) {
        let at = self.body.push(&input);
        let hash = item_hash(self.body.item(at));
        let key = IdHash::of(&ghl_id);
        self.push(run, (ghl_id, key), input, at, hash, Action::ArchiveGone, 0);
    }

    /// Keeps the item just serialized into the body at `at`, sealing the
    /// batch first when the item would take it past Rankr's limits.
    #[allow(clippy::too_many_arguments)]
    fn push<H: Host + ?Sized>(
        &mut self,
        run: &mut Run<'_, H>,
        (ghl_id, key): (String, IdHash),
        input: TagInput,
        at: Pushed,
        hash: u64,
        action: Action,
        from: u64,
    ) {
        let len = self.body.item(at).len();
        if BATCH_ENVELOPE_BYTES + len > MAX_BODY_BYTES {
            self.body.undo(at);
            // Never sent, so the state keeps no hash: tried again next run.
            run.report.reject(
                ghl_id,
                Service::Rankr,
                format!(
                    "the tag's JSON is {} bytes, over Rankr's 1 MiB body limit",
                    len + BATCH_ENVELOPE_BYTES
                ),
            );
            return;
        }
        if self.body.finished_bytes() > MAX_BODY_BYTES {
            // It fits alone but not with the others: it opens the next batch.
            let item = self.body.item(at).to_vec();
            self.body.undo(at);
            self.seal(run);
            self.body.push_json(&item);
        }
        self.pending.push(Pending {
            ghl_id,
            key,
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
        let items = std::mem::replace(&mut self.pending, Vec::with_capacity(MAX_TAGS_PER_BATCH));
        let body = std::mem::replace(&mut self.body, TagBatchBody::with_capacity(BODY_CAPACITY)).finish();
        // The batch's digest from its items' hashes: the body is not hashed
        // again, byte by byte.
        let hashes: Vec<u8> = items.iter().flat_map(|p| p.hash.to_le_bytes()).collect();
        let key = run.batch_key(crate::ops::fnv1a(&[&hashes]));
        self.ready.push(Batch { items, body, key });
    }

    /// Sends everything queued.
    pub fn flush<H: Host + ?Sized>(&mut self, run: &mut Run<'_, H>, st: &mut TagState) -> Result<(), SyncError> {
        self.seal(run);
        self.send_ready(run, st)
    }

    /// Sends the sealed batches, `max_in_flight` at a time (upserts are
    /// order-insensitive: each item is keyed by its external id). A batch
    /// that failed, or was not sent after a failure, stays queued, so the
    /// checkpoint stays before its tags.
    pub fn send_ready<H: Host + ?Sized>(&mut self, run: &mut Run<'_, H>, st: &mut TagState) -> Result<(), SyncError> {
        let (batches, requests) = self.take_ready(run, st);
        if batches.is_empty() {
            return Ok(());
        }
        let answers = run
            .ex
            .call_all(Service::Rankr, EP_TAGS, requests, self.max_in_flight, |resp| {
                crate::rankr::read_tag_results(&resp.body)
            });
        self.finish(run, st, batches, answers.into_iter().map(Some).collect())
    }

    /// The sealed batches and their requests, for the caller to send (with
    /// other requests: see `tag_sync`). A dry run confirms them here and
    /// returns none.
    pub fn take_ready<H: Host + ?Sized>(
        &mut self,
        run: &mut Run<'_, H>,
        st: &mut TagState,
    ) -> (Vec<Batch>, Vec<crate::io::Request>) {
        let batches = std::mem::take(&mut self.ready);
        for b in &batches {
            run.record_write("POST", "/v1/tags/batch-upsert".into(), b.items.len(), &b.body);
        }
        if run.settings.dry_run {
            // The state is discarded after a dry run; record as if written
            // so the post's tags can be planned.
            for b in batches {
                for p in b.items {
                    if p.archived {
                        run.report.archived += 1;
                    }
                    confirm(st, p);
                }
            }
            return (Vec::new(), Vec::new());
        }
        let rankr = run.settings.rankr();
        let requests = batches
            .iter()
            .map(|b| rankr.upsert_tags_request(b.body.clone(), &b.key))
            .collect();
        (batches, requests)
    }

    /// Rankr's answers to `batches` (none: not sent) into the report and the
    /// state. A batch that failed or was not sent stays queued; the first
    /// error is returned.
    pub fn finish<H: Host + ?Sized>(
        &mut self,
        run: &mut Run<'_, H>,
        st: &mut TagState,
        batches: Vec<Batch>,
        answers: Vec<Option<Result<TagBatchResponse, SyncError>>>,
    ) -> Result<(), SyncError> {
        let mut answers = answers.into_iter();
        let mut first_error = None;
        for batch in batches {
            let checked = match answers.next().flatten() {
                Some(Ok(resp)) => check_tag_results(resp, batch.items.iter().map(|p| p.external_id.as_str())),
                Some(Err(e)) => Err(e),
                None => {
                    // Not sent: an earlier request failed.
                    self.ready.push(batch);
                    continue;
                }
            };
            match checked {
                Ok(results) => apply_results(run, st, batch.items, results),
                Err(e) => {
                    first_error.get_or_insert(e);
                    self.ready.push(batch);
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

/// Rankr's per-item answers into the report and the state.
fn apply_results<H: Host + ?Sized>(
    run: &mut Run<'_, H>,
    st: &mut TagState,
    items: Vec<Pending>,
    results: Vec<crate::rankr::model::TagResult>,
) {
    for (p, result) in items.into_iter().zip(results) {
        match result.status {
            TagStatus::Created => run.report.created += 1,
            TagStatus::Updated => run.report.updated += 1,
            TagStatus::Unchanged => run.report.unchanged += 1,
            TagStatus::Rejected => {
                let why = result.error.unwrap_or_else(|| "rejected without a reason".into());
                run.report.reject(result.external_id, Service::Rankr, why);
                // Not held by Rankr as sent: try again next run.
                if let Some(e) = st.tags.get_mut_at(p.key, &p.ghl_id) {
                    e.h = 0;
                }
                continue;
            }
        }
        if p.archived {
            run.report.archived += 1;
        }
        confirm(st, p);
    }
}

/// Rankr holds the item as sent: record it in the state.
fn confirm(st: &mut TagState, p: Pending) {
    match p.action {
        Action::ArchiveGone => {
            st.tags.remove(&p.ghl_id);
        }
        Action::Upsert => {
            let x = (!crate::bytes::same(p.external_id.as_bytes(), p.ghl_id.as_bytes())).then_some(p.external_id);
            let pass = st.pass;
            let e = st
                .tags
                .get_or_insert_at(p.key, p.ghl_id, || TagEntry { h: 0, g: pass, x: None });
            e.h = p.hash;
            e.x = x;
        }
    }
}
