//! `tag-sync`: a post was created. Read every page of the location's tags,
//! write the changed ones to Rankr, archive the ones gone from GHL, then
//! apply the post's tags to its Rankr record.
//!
//! A pass over the tags may span several calls: when the deadline or the
//! rate budget runs out, the call returns an incomplete report whose state
//! holds a checkpoint (the offset before which every tag is written), and
//! the next call resumes there. Posts wait in the checkpoint until the pass
//! completes, so their tags are applied against the whole set.

use super::writer::TagWriter;
use super::{dedup, id, stop_reason, Run};
use crate::auth::Scope;
use crate::ghl::model::TagsEnvelope;
use crate::ghl::{TagPage, EP_TAGS};
use crate::io::{Host, Level};
use crate::ops::tag_details::MAX_IDS_PER_DETAILS;
use crate::rankr::model::TagBatchResponse;
use crate::rankr::{self, Rankr};
use crate::report::{Service, SyncError, SyncFailure, SyncReport};
use crate::settings::SettingsInput;
use crate::state::tag_map::{HashValue, IdHash};
use crate::state::{self, Checkpoint, PendingPost, TagState};
use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::hash::BuildHasherDefault;

/// The event: a location, and optionally the new post and its tag ids.
#[derive(Debug, Clone, Default)]
pub struct TagSyncEvent {
    pub location_id: String,
    pub post_id: Option<String>,
    pub tag_ids: Option<Vec<String>>,
}

/// Runs `tag-sync` from `state` (the blob the previous call returned).
pub fn tag_sync<H: Host + ?Sized>(
    host: &mut H,
    settings: &SettingsInput,
    event: &TagSyncEvent,
    state: Option<&[u8]>,
) -> Result<SyncReport, SyncFailure> {
    check_event(event)?;
    let location = event.location_id.as_str();
    let mut st = state::decode_tags(state, location).map_err(SyncError::InvalidConfig)?;
    let mut scopes = vec![Scope::TagRead];
    if event.post_id.is_some() && event.tag_ids.is_none() {
        scopes.push(Scope::PostRead);
    }
    let mut run = Run::start(host, settings, "tag-sync", location, &scopes)?;
    // A dry run writes nothing, so it hands back the state it was given.
    let given = run.settings.dry_run.then(|| state::encode_tags(&st));
    if let Some(memo) = st.pace.take() {
        run.ex.restore_pace(&memo);
    }
    let outcome = sync(&mut run, &mut st, event);
    st.pace = Some(run.ex.pace_memo());
    let blob = given.unwrap_or_else(|| state::encode_tags(&st));
    match outcome {
        Ok(()) => Ok(run.finish(blob)),
        Err(e) => match stop_reason(&e) {
            Some(reason) => {
                run.stop(reason);
                Ok(run.finish(blob))
            }
            None => Err(run.fail(e, Some(blob))),
        },
    }
}

fn check_event(event: &TagSyncEvent) -> Result<(), SyncError> {
    id("location-id", &event.location_id)?;
    if let Some(p) = &event.post_id {
        id("post-id", p)?;
    }
    if let Some(ids) = &event.tag_ids {
        if event.post_id.is_none() {
            return Err(SyncError::InvalidConfig(
                "tag-ids are the post's tags; give post-id too, or leave tag-ids out".into(),
            ));
        }
        for t in ids {
            id("tag-id", t)?;
        }
    }
    Ok(())
}

fn sync<H: Host + ?Sized>(run: &mut Run<'_, H>, st: &mut TagState, event: &TagSyncEvent) -> Result<(), SyncError> {
    let location = event.location_id.as_str();
    let full_refresh = run.settings.full_refresh;

    // Resume the pass in progress, or start a new one.
    let mut cp = match st.checkpoint.take() {
        Some(cp) if !full_refresh => {
            let skip = cp.skip.to_string();
            run.ex
                .log(Level::Info, "resuming the pass at its checkpoint", &[("skip", &skip)]);
            cp
        }
        previous => {
            st.pass += 1;
            Checkpoint {
                skip: 0,
                posts: previous.map(|c| c.posts).unwrap_or_default(),
            }
        }
    };
    let cursor_start = cp.skip;
    st.checkpoint = Some(cp.clone());

    // The post's tags first, so that a missing post fails before any write.
    if let Some(post) = &event.post_id {
        let tags = match &event.tag_ids {
            Some(ids) => dedup(ids),
            None => dedup(&run.settings.ghl().post_tags(&mut run.ex, location, post)?),
        };
        cp.posts.retain(|p| &p.post != post);
        cp.posts.push(PendingPost {
            post: post.clone(),
            tags,
        });
        st.checkpoint = Some(cp.clone());
    }

    let mut writer = TagWriter::new(full_refresh, run.settings.max_in_flight);
    let mut next = cursor_start;
    let result = read_all(run, st, &mut writer, &mut next, location).and_then(|()| writer.flush(run, st));
    if let Err(e) = result {
        // Every tag before the oldest one Rankr has not confirmed is written.
        if let Some(c) = st.checkpoint.as_mut() {
            c.skip = writer.oldest_unsent().map_or(next, |o| o.min(next));
        }
        return Err(e);
    }
    if let Some(c) = st.checkpoint.as_mut() {
        c.skip = next;
    }

    if run.settings.archive_missing {
        archive_gone(run, st, &mut writer, location)?;
    }

    // The pass is complete: apply the posts' tags. Each leaves the
    // checkpoint once applied, so a failure here redoes only the rest.
    let posts = st.checkpoint.as_ref().map(|c| c.posts.clone()).unwrap_or_default();
    for post in posts {
        apply_post_tags(run, st, location, &post)?;
        if let Some(c) = st.checkpoint.as_mut() {
            c.posts.retain(|p| p.post != post.post);
        }
    }
    st.checkpoint = None;
    Ok(())
}

/// Reads every page from `next`, offering each tag to the writer. The first
/// page is read alone; once it tells the count and how many tags a page
/// holds (a server may serve fewer than asked), the following pages are
/// fetched together, as many as the rate budget and `max-in-flight` allow,
/// and processed in order. A page that is not the length the offsets were
/// computed from ends its wave; the pages after it are read again.
fn read_all<H: Host + ?Sized>(
    run: &mut Run<'_, H>,
    st: &mut TagState,
    writer: &mut TagWriter,
    next: &mut u64,
    location: &str,
) -> Result<(), SyncError> {
    let page_size = run.settings.page_size;
    let max_in_flight = run.settings.max_in_flight as u64;
    let mut seen = SeenIds::default();
    let mut pages = 0u32;
    let mut stale_pages = 0u32;
    // Learnt from the pages read: the count and the stride between offsets.
    let mut count: Option<u64> = None;
    let mut stride: Option<u64> = None;
    'waves: loop {
        if run.ex.deadline_left() == Some(0) {
            return Err(SyncError::DeadlineExceeded("before the next page of tags".into()));
        }
        let skips: Vec<u64> = match (count, stride) {
            (Some(c), Some(s)) if stale_pages == 0 => (0..max_in_flight.min(run.ex.ghl_room() as u64))
                .map(|i| *next + i * s)
                .take_while(|&o| o == *next || o < c)
                .collect(),
            _ => vec![*next],
        };
        let results = fetch_wave(run, st, writer, location, &skips, page_size)?;
        for (&skip, result) in skips.iter().zip(results) {
            let page: TagPage = match result {
                Ok(page) => page,
                Err(e) => {
                    // Write what was read before stopping (unless out of time).
                    if run.ex.deadline_left() != Some(0) {
                        writer.send_ready(run, st)?;
                    }
                    return Err(e);
                }
            };
            pages += 1;
            let got = page.tags.len() as u64;
            let mut new = 0u64;
            for parsed in page.tags {
                match parsed {
                    Ok(mut tag) => {
                        let key = IdHash::of(&tag.id);
                        if !seen.insert(key, &tag.id) {
                            continue; // served again on a later page
                        }
                        new += 1;
                        run.report.fetched += 1;
                        match run.settings.tag_mapping.apply(&mut tag, location) {
                            Ok(input) => writer.offer(run, st, (tag.id, key), input, skip),
                            Err(why) => {
                                mark_seen(st, &tag.id);
                                run.report.reject(tag.id, Service::Ghl, why)
                            }
                        }
                    }
                    Err((item, why)) => {
                        new += 1;
                        run.report.reject(item, Service::Ghl, why)
                    }
                }
            }
            if got > 0 && new == 0 {
                // The page holds only tags already read: a glitch (the same
                // page served twice) or a server ignoring `skip`. Read it
                // again a few times; a server that never pages cannot loop us.
                stale_pages += 1;
                if stale_pages >= run.settings.retry.max_attempts {
                    return Err(SyncError::InvalidResponse {
                        service: Service::Ghl,
                        endpoint: EP_TAGS.into(),
                        field: "results.tags".into(),
                        message: format!(
                            "the page at skip={skip} held only tags already read, {stale_pages} times; the server is not paging"
                        ),
                    });
                }
                let (s, n) = (skip.to_string(), stale_pages.to_string());
                run.ex.log(
                    Level::Warn,
                    "GHL served a page of tags already read; reading it again",
                    &[("skip", &s), ("times", &n)],
                );
                continue 'waves;
            }
            stale_pages = 0;
            *next = skip + got;
            count = page.count;
            let done = match page.count {
                Some(count) => *next >= count,
                None => got < page_size as u64,
            };
            if done {
                break 'waves;
            }
            if got == 0 {
                let (skip_s, count_s) = (next.to_string(), format!("{:?}", page.count));
                run.ex.log(
                    Level::Warn,
                    "GHL returned an empty page before the count was reached; stopping",
                    &[("skip", &skip_s), ("count", &count_s)],
                );
                break 'waves;
            }
            if stride.is_some_and(|s| s != got) {
                // The offsets after this page were computed from another
                // length: read from here again.
                stride = Some(got);
                break;
            }
            stride = Some(got);
        }
    }
    let pages_s = pages.to_string();
    run.ex.log(Level::Info, "tags read", &[("pages", &pages_s)]);
    Ok(())
}

/// Fetches the pages at `skips` and, in the same waves, sends the batches
/// sealed from the pages before (pipelining: Rankr writes while GHL reads).
/// The batches' outcomes go to the writer first; a failed batch is the
/// error. The pages come back in order, stopping after the first failure.
fn fetch_wave<H: Host + ?Sized>(
    run: &mut Run<'_, H>,
    st: &mut TagState,
    writer: &mut TagWriter,
    location: &str,
    skips: &[u64],
    page_size: u32,
) -> Result<Vec<Result<TagPage, SyncError>>, SyncError> {
    let (batches, writes) = writer.take_ready(run, st);
    let nb = writes.len();
    let ghl = run.settings.ghl();
    let mut requests: Vec<(Service, &str, crate::io::Request)> = writes
        .into_iter()
        .map(|r| (Service::Rankr, rankr::EP_TAGS, r))
        .collect();
    requests.extend(
        skips
            .iter()
            .map(|&skip| (Service::Ghl, EP_TAGS, ghl.tags_request(location, skip, page_size))),
    );
    let mut batch_answers: Vec<Option<TagBatchResponse>> = (0..nb).map(|_| None).collect();
    let mut pages: Vec<Option<TagsEnvelope>> = skips.iter().map(|_| None).collect();
    let max_in_flight = run.settings.max_in_flight;
    let done = run.ex.call_mixed(requests, max_in_flight, &mut |i, resp| {
        if i < nb {
            batch_answers[i] = Some(rankr::read_tag_results(&resp.body)?);
        } else if let Some(slot) = pages.get_mut(i - nb) {
            *slot = Some(crate::ghl::read_tags_page(EP_TAGS, &resp.body)?);
        }
        Ok(())
    });
    let lost = |service| SyncError::Transport {
        service,
        endpoint: EP_TAGS.into(),
        message: "the answer was lost inside the connector".into(),
    };
    let mut done = done.into_iter();
    let answers = batch_answers
        .into_iter()
        .map(|answer| {
            done.next()
                .map(|r| r.and_then(|()| answer.ok_or_else(|| lost(Service::Rankr))))
        })
        .collect();
    writer.finish(run, st, batches, answers)?;
    Ok(done
        .zip(pages)
        .map(|(r, page)| {
            r.and_then(|()| page.ok_or_else(|| lost(Service::Ghl)))
                .and_then(TagPage::read)
        })
        .collect())
}

/// The ids read so far in this call, to drop a tag served again on a later
/// page. Keyed by the id's [`IdHash`], already computed for the state, so
/// the set does not hash the id again (SipHash cost 3% of the component's
/// instructions per tag). Ids whose hashes collide go in `more`.
#[derive(Default)]
struct SeenIds {
    first: HashMap<IdHash, String, BuildHasherDefault<HashValue>>,
    more: Vec<(IdHash, String)>,
}

impl SeenIds {
    /// False when `id` was seen already.
    fn insert(&mut self, key: IdHash, id: &str) -> bool {
        match self.first.entry(key) {
            Entry::Vacant(v) => {
                v.insert(crate::bytes::owned(id));
                true
            }
            Entry::Occupied(o) if crate::bytes::same(o.get().as_bytes(), id.as_bytes()) => false,
            Entry::Occupied(_) => {
                if self.more.iter().any(|(k, i)| *k == key && i == id) {
                    return false;
                }
                self.more.push((key, id.to_string()));
                true
            }
        }
    }
}

/// A tag GHL still has, even if it could not be written.
fn mark_seen(st: &mut TagState, ghl_id: &str) {
    let pass = st.pass;
    if let Some(e) = st.tags.get_mut(ghl_id) {
        e.g = pass;
    }
}

/// Tags the state knows that this pass did not see. GHL is asked for them by
/// id first (paging by offset can miss a tag when others are deleted during
/// the pass): those it still has are written as they are; the rest are
/// written archived, from Rankr's own record, and forgotten.
fn archive_gone<H: Host + ?Sized>(
    run: &mut Run<'_, H>,
    st: &mut TagState,
    writer: &mut TagWriter,
    location: &str,
) -> Result<(), SyncError> {
    let pass = st.pass;
    let unseen: Vec<String> = st.tags.ids_where(|e| e.g < pass);
    if unseen.is_empty() {
        return Ok(());
    }
    // A hash set, not a `BTreeSet`: only membership matters, and collecting
    // into a B-tree compiles a stable sort for it (8 KB of component).
    let mut gone: HashSet<String> = unseen.iter().cloned().collect();
    for chunk in unseen.chunks(MAX_IDS_PER_DETAILS) {
        for mut tag in run
            .settings
            .ghl()
            .tag_details(&mut run.ex, location, chunk)?
            .into_iter()
            .flatten()
        {
            if !gone.remove(&tag.id) {
                continue;
            }
            match run.settings.tag_mapping.apply(&mut tag, location) {
                Ok(input) => {
                    let key = IdHash::of(&tag.id);
                    writer.offer(run, st, (tag.id, key), input, 0);
                    if writer.wants_send() {
                        writer.send_ready(run, st)?;
                    }
                }
                Err(why) => {
                    mark_seen(st, &tag.id);
                    run.report.reject(tag.id, Service::Ghl, why)
                }
            }
        }
    }
    writer.flush(run, st)?;
    if gone.is_empty() {
        return Ok(());
    }
    let n = gone.len().to_string();
    run.ex.log(Level::Info, "archiving tags gone from GHL", &[("tags", &n)]);
    // External id -> GHL id of what is to be archived.
    let mut wanted: std::collections::HashMap<String, String> = gone
        .iter()
        .map(|g| {
            (
                st.tags.get(g).map_or(g.as_str(), |e| e.external_id(g)).to_string(),
                g.clone(),
            )
        })
        .collect();
    let mut cursor: Option<String> = None;
    loop {
        let page = run
            .settings
            .rankr()
            .list_tags(&mut run.ex, location, cursor.as_deref())?;
        for stored in page.data {
            if let Some(ghl_id) = wanted.remove(&stored.external_id) {
                writer.archive_gone(run, ghl_id, stored.archived_input());
                if writer.wants_send() {
                    writer.send_ready(run, st)?;
                }
            }
        }
        match page.next_cursor {
            Some(c) if !wanted.is_empty() && Some(&c) != cursor.as_ref() => cursor = Some(c),
            _ => break,
        }
    }
    writer.flush(run, st)?;
    // Not live in Rankr (already archived, or removed there): nothing to do.
    if !run.settings.dry_run {
        for ghl_id in wanted.into_values() {
            st.tags.remove(&ghl_id);
        }
    }
    Ok(())
}

/// `PUT /v1/posts/{id}/tags` with the external ids of the post's tags that
/// Rankr holds; the others are item errors.
fn apply_post_tags<H: Host + ?Sized>(
    run: &mut Run<'_, H>,
    st: &mut TagState,
    location: &str,
    post: &PendingPost,
) -> Result<(), SyncError> {
    let mut external = Vec::with_capacity(post.tags.len());
    for ghl_id in &post.tags {
        match st.tags.get(ghl_id).filter(|e| e.confirmed()) {
            Some(e) => external.push(e.external_id(ghl_id).to_string()),
            None => run.report.reject(
                ghl_id.clone(),
                Service::Ghl,
                format!(
                    "the post's tag is not among the tags synced for location {location}; it was not applied to post {}",
                    post.post
                ),
            ),
        }
    }
    let body = Rankr::post_tags_body(location, &external);
    let hash = state::content_hash(&body);
    if st.post_applied(&post.post, &hash) && !run.settings.full_refresh {
        // Rankr holds exactly this set already: nothing to write.
        *run.report.post_tags_applied.get_or_insert(0) += external.len() as u32;
        return Ok(());
    }
    run.record_write("PUT", Rankr::post_tags_path(&post.post), external.len(), &body);
    let applied = if run.settings.dry_run {
        external.len() as u32
    } else {
        let n = run.settings.rankr().set_post_tags(&mut run.ex, &post.post, body)?;
        st.record_post(&post.post, hash);
        n
    };
    *run.report.post_tags_applied.get_or_insert(0) += applied;
    Ok(())
}

#[cfg(test)]
mod seen_tests {
    use super::*;

    #[test]
    fn seen_ids_tell_ids_apart_even_when_their_hashes_collide() {
        let mut seen = SeenIds::default();
        let (a, b) = (IdHash::of("a"), IdHash::of("b"));
        assert!(seen.insert(a, "a"));
        assert!(!seen.insert(a, "a"));
        assert!(seen.insert(b, "b"));
        // Two more ids forged onto a's hash: both new once, then seen.
        assert!(seen.insert(a, "x"));
        assert!(seen.insert(a, "y"));
        assert!(!seen.insert(a, "x"));
        assert!(!seen.insert(a, "y"));
        assert!(!seen.insert(a, "a"));
        let forged = IdHash::forged(7);
        assert!(seen.insert(forged, "a"));
        assert!(!seen.insert(forged, "a"));
    }
}
