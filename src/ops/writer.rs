//! Batches mapped tags into Rankr upserts: at most 100 a batch and 1 MiB a
//! body, one idempotency key a batch, per-item results into the report.

use super::Run;
use crate::io::Host;
use crate::rankr::model::{TagInput, TagStatus};
use crate::rankr::{tag_batch_body, MAX_BODY_BYTES, MAX_TAGS_PER_BATCH};
use crate::report::{Service, SyncError};
use std::collections::{HashMap, HashSet};

pub(crate) struct TagWriter {
    pending: Vec<(String, TagInput)>,
    /// GHL ids whose Rankr external id is wanted afterwards (a post's tags).
    watch: HashSet<String>,
    /// Watched GHL id -> external id, once Rankr took the tag.
    pub landed: HashMap<String, String>,
}

impl TagWriter {
    pub fn new(watch: impl IntoIterator<Item = String>) -> Self {
        TagWriter {
            pending: Vec::with_capacity(MAX_TAGS_PER_BATCH),
            watch: watch.into_iter().collect(),
            landed: HashMap::new(),
        }
    }

    /// Queues a tag; sends a batch when one is full.
    pub fn push<H: Host + ?Sized>(
        &mut self,
        run: &mut Run<'_, H>,
        ghl_id: String,
        tag: TagInput,
    ) -> Result<(), SyncError> {
        self.pending.push((ghl_id, tag));
        if self.pending.len() >= MAX_TAGS_PER_BATCH {
            self.flush(run)?;
        }
        Ok(())
    }

    /// Sends what is queued.
    pub fn flush<H: Host + ?Sized>(&mut self, run: &mut Run<'_, H>) -> Result<(), SyncError> {
        let batch = std::mem::take(&mut self.pending);
        if !batch.is_empty() {
            self.send(run, batch)?;
        }
        Ok(())
    }

    fn send<H: Host + ?Sized>(
        &mut self,
        run: &mut Run<'_, H>,
        batch: Vec<(String, TagInput)>,
    ) -> Result<(), SyncError> {
        let items: Vec<TagInput> = batch.iter().map(|(_, t)| t.clone()).collect();
        let body = tag_batch_body(&items);
        if body.len() > MAX_BODY_BYTES {
            if batch.len() == 1 {
                run.report.reject(
                    batch[0].0.clone(),
                    Service::Rankr,
                    format!("the tag's JSON is {} bytes, over Rankr's 1 MiB body limit", body.len()),
                );
                return Ok(());
            }
            let mut first = batch;
            let second = first.split_off(first.len() / 2);
            self.send(run, first)?;
            return self.send(run, second);
        }
        let key = run.idempotency_key(&body);
        run.record_write("POST", "/v1/tags/batch-upsert".into(), items.len(), &body);
        let archived = items.iter().filter(|t| t.archived).count() as u32;
        if run.settings.dry_run {
            run.report.archived += archived;
            for (ghl_id, tag) in batch {
                if self.watch.contains(&ghl_id) {
                    self.landed.insert(ghl_id, tag.external_id);
                }
            }
            return Ok(());
        }
        let results = run.settings.rankr().upsert_tags(&mut run.ex, body, &items, &key)?;
        for ((ghl_id, tag), result) in batch.into_iter().zip(results) {
            match result.status {
                TagStatus::Created => run.report.created += 1,
                TagStatus::Updated => run.report.updated += 1,
                TagStatus::Unchanged => run.report.unchanged += 1,
                TagStatus::Rejected => {
                    let why = result.error.unwrap_or_else(|| "rejected without a reason".into());
                    run.report.reject(result.external_id, Service::Rankr, why);
                    continue;
                }
            }
            if tag.archived {
                run.report.archived += 1;
            }
            if self.watch.contains(&ghl_id) {
                self.landed.insert(ghl_id, tag.external_id);
            }
        }
        Ok(())
    }
}
