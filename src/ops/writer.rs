//! Batches mapped tags into Rankr upserts: at most 100 a batch and 1 MiB a
//! body, one idempotency key a batch, per-item results into the report and
//! the state. A tag whose content hash matches the state is not sent; the
//! state's hash changes only when Rankr confirmed the item.

use super::Run;
use crate::io::Host;
use crate::rankr::model::{TagInput, TagStatus};
use crate::rankr::{tag_batch_body, MAX_BODY_BYTES, MAX_TAGS_PER_BATCH};
use crate::report::{Service, SyncError};
use crate::state::{content_hash, TagEntry, TagState};

/// What a confirmed item does to the state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    /// Record the new hash.
    Upsert,
    /// The tag is gone from GHL and now archived in Rankr: forget it.
    ArchiveGone,
}

struct Pending {
    ghl_id: String,
    input: TagInput,
    hash: String,
    action: Action,
}

pub(crate) struct TagWriter {
    pending: Vec<Pending>,
    full_refresh: bool,
}

impl TagWriter {
    pub fn new(full_refresh: bool) -> Self {
        TagWriter {
            pending: Vec::with_capacity(MAX_TAGS_PER_BATCH),
            full_refresh,
        }
    }

    /// True when tags wait to be sent.
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// A tag read from GHL: marks it seen in the state's pass and queues it
    /// unless Rankr already holds this content. Returns true when the queue
    /// was sent (and is now empty).
    pub fn offer<H: Host + ?Sized>(
        &mut self,
        run: &mut Run<'_, H>,
        st: &mut TagState,
        ghl_id: String,
        input: TagInput,
    ) -> Result<bool, SyncError> {
        let hash = item_hash(&input);
        let pass = st.pass;
        match st.tags.get_mut(&ghl_id) {
            Some(e) => {
                e.g = pass;
                if e.h == hash && !self.full_refresh {
                    run.report.skipped += 1;
                    return Ok(false);
                }
            }
            None => {
                st.tags.insert(
                    ghl_id.clone(),
                    TagEntry {
                        h: String::new(),
                        g: pass,
                        x: None,
                    },
                );
            }
        }
        self.push(run, st, ghl_id, input, hash, Action::Upsert)
    }

    /// A tag gone from GHL, to be written archived and then forgotten.
    pub fn archive_gone<H: Host + ?Sized>(
        &mut self,
        run: &mut Run<'_, H>,
        st: &mut TagState,
        ghl_id: String,
        input: TagInput,
    ) -> Result<bool, SyncError> {
        let hash = item_hash(&input);
        self.push(run, st, ghl_id, input, hash, Action::ArchiveGone)
    }

    fn push<H: Host + ?Sized>(
        &mut self,
        run: &mut Run<'_, H>,
        st: &mut TagState,
        ghl_id: String,
        input: TagInput,
        hash: String,
        action: Action,
    ) -> Result<bool, SyncError> {
        self.pending.push(Pending {
            ghl_id,
            input,
            hash,
            action,
        });
        if self.pending.len() >= MAX_TAGS_PER_BATCH {
            self.flush(run, st)?;
            return Ok(true);
        }
        Ok(false)
    }

    /// Sends what is queued.
    pub fn flush<H: Host + ?Sized>(&mut self, run: &mut Run<'_, H>, st: &mut TagState) -> Result<(), SyncError> {
        let batch = std::mem::take(&mut self.pending);
        if !batch.is_empty() {
            self.send(run, st, batch)?;
        }
        Ok(())
    }

    fn send<H: Host + ?Sized>(
        &mut self,
        run: &mut Run<'_, H>,
        st: &mut TagState,
        batch: Vec<Pending>,
    ) -> Result<(), SyncError> {
        let items: Vec<TagInput> = batch.iter().map(|p| p.input.clone()).collect();
        let body = tag_batch_body(&items);
        if body.len() > MAX_BODY_BYTES {
            if batch.len() == 1 {
                run.report.reject(
                    batch[0].ghl_id.clone(),
                    Service::Rankr,
                    format!("the tag's JSON is {} bytes, over Rankr's 1 MiB body limit", body.len()),
                );
                return Ok(());
            }
            let mut first = batch;
            let second = first.split_off(first.len() / 2);
            self.send(run, st, first)?;
            return self.send(run, st, second);
        }
        let key = run.idempotency_key(&body);
        run.record_write("POST", "/v1/tags/batch-upsert".into(), items.len(), &body);
        if run.settings.dry_run {
            // The state is discarded after a dry run; record as if written
            // so the post's tags can be planned.
            for p in batch {
                if p.input.archived {
                    run.report.archived += 1;
                }
                confirm(st, p);
            }
            return Ok(());
        }
        let results = run.settings.rankr().upsert_tags(&mut run.ex, body, &items, &key)?;
        for (p, result) in batch.into_iter().zip(results) {
            match result.status {
                TagStatus::Created => run.report.created += 1,
                TagStatus::Updated => run.report.updated += 1,
                TagStatus::Unchanged => run.report.unchanged += 1,
                TagStatus::Rejected => {
                    let why = result.error.unwrap_or_else(|| "rejected without a reason".into());
                    run.report.reject(result.external_id, Service::Rankr, why);
                    // Not held by Rankr as sent: try again next run.
                    if let Some(e) = st.tags.get_mut(&p.ghl_id) {
                        e.h.clear();
                    }
                    continue;
                }
            }
            if p.input.archived {
                run.report.archived += 1;
            }
            confirm(st, p);
        }
        Ok(())
    }
}

/// The state's hash of an item: of its JSON as sent to Rankr.
fn item_hash(input: &TagInput) -> String {
    content_hash(&serde_json::to_vec(input).unwrap_or_default())
}

/// Rankr holds the item as sent: record it in the state.
fn confirm(st: &mut TagState, p: Pending) {
    match p.action {
        Action::ArchiveGone => {
            st.tags.remove(&p.ghl_id);
        }
        Action::Upsert => {
            let x = (p.input.external_id != p.ghl_id).then_some(p.input.external_id);
            let pass = st.pass;
            let e = st.tags.entry(p.ghl_id).or_insert_with(|| TagEntry {
                h: String::new(),
                g: pass,
                x: None,
            });
            e.h = p.hash;
            e.x = x;
        }
    }
}
