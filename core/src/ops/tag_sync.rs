//! `tag-sync`: a post was created. Two paths share one tag state:
//!
//! - **The post path**, when the event names the post and its tag ids (the
//!   trigger hands them over): read those tags by id (`tags/details`, 100
//!   ids a call), write the changed ones, apply the post's tag set. A post
//!   costs what its tags cost, whatever the size of the location.
//! - **The full pass** otherwise, or when the event or the settings ask for
//!   it (`full-pass`): read every page of the location's tags, write the
//!   changed ones, archive the ones gone from GHL, then apply the post's
//!   tags. It is what catches edits to other tags and deletions.
//!
//! A pass over the tags may span several calls: when the deadline or the
//! rate budget runs out, the call returns an incomplete report whose state
//! holds a checkpoint (the offset before which every tag is written), and
//! the next call resumes there. Posts wait in the checkpoint until the pass
//! completes, so their tags are applied against the whole set.

use super::tag_details::write_by_id;
use super::writer::TagWriter;
use super::{dedup, id, stop_reason, Origin, Run};
use crate::auth::Scope;
use crate::client::Outbound;
use crate::ghl::{self, BadTag, TagPage, EP_POST, EP_TAGS, MAX_IDS_PER_DETAILS};
use crate::io::{Host, Level, Method, Phase};
use crate::rankr::model::{PostTagsResponse, TagBatchResponse, TagListPage};
use crate::rankr::{self, EP_LIST_TAGS, EP_POST_TAGS};
use crate::report::{Service, SyncError, SyncFailure, SyncReport};
use crate::settings::SettingsInput;
use crate::state::{self, Checkpoint, PendingPost, TagState};
use std::collections::{HashMap, HashSet};

/// The event: a location, and optionally the new post and its tag ids.
#[derive(Debug, Clone, Default)]
pub struct TagSyncEvent {
    pub location_id: String,
    pub post_id: Option<String>,
    pub tag_ids: Option<Vec<String>>,
    /// Read every page even though the post's tag ids are known.
    pub full_pass: bool,
}

impl TagSyncEvent {
    /// Whether this event takes the post path (see the module's docs).
    pub fn post_path(&self, settings_full_pass: bool) -> bool {
        self.post_id.is_some() && self.tag_ids.is_some() && !self.full_pass && !settings_full_pass
    }
}

/// Runs `tag-sync` from `state` (the blob the previous call returned).
pub fn tag_sync(
    host: &mut dyn Host,
    settings: &SettingsInput,
    event: &TagSyncEvent,
    state: Option<&[u8]>,
) -> Result<SyncReport, SyncFailure> {
    check_event(event)?;
    let location = event.location_id.as_str();
    let mut tag_state = state::decode_tags(state, location).map_err(SyncError::InvalidConfig)?;
    let mut scopes = vec![Scope::TagRead];
    if event.post_id.is_some() && event.tag_ids.is_none() {
        scopes.push(Scope::PostRead);
    }
    let origin = Origin {
        scope: &[location],
        state,
    };
    let mut run = Run::start(host, settings, "tag-sync", origin, &scopes)?;
    // A dry run writes nothing, so it hands back the state it was given.
    let given = run.settings.dry_run.then(|| state::encode_tags(&tag_state));
    if let Some(pace) = tag_state.pace.take() {
        run.exchange.restore_pace(&pace);
    }
    let outcome = if event.post_path(run.settings.full_pass) {
        post_path(&mut run, &mut tag_state, event)
    } else {
        sync(&mut run, &mut tag_state, event)
    };
    tag_state.pace = Some(run.exchange.pace_record());
    let blob = given.unwrap_or_else(|| state::encode_tags(&tag_state));
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

/// The post path: the post's tags by id, then its tag set. A full pass in
/// progress keeps its checkpoint; the tags written here carry their hashes
/// into it, so it skips them if they have not changed since.
fn post_path<H: Host + ?Sized>(
    run: &mut Run<'_, H>,
    state: &mut TagState,
    event: &TagSyncEvent,
) -> Result<(), SyncError> {
    let location = event.location_id.as_str();
    let (Some(post), Some(tag_ids)) = (&event.post_id, &event.tag_ids) else {
        return Ok(());
    };
    let ids = dedup(tag_ids);
    let mut writer = TagWriter::new(run.settings.full_refresh, run.settings.max_in_flight);
    let read = write_by_id(run, state, &mut writer, location, &ids)?;
    for (ids, why) in [
        (
            &read.missing,
            "GHL returned no tag with this id (deleted since the post named it?)",
        ),
        (&read.deleted, "the tag is deleted in GHL (written archived)"),
    ] {
        for id in ids {
            run.report.reject(
                id.clone(),
                Service::Ghl,
                format!("{why}; it was not applied to post {post} in location {location}"),
            );
        }
    }
    let post = PendingPost {
        post: post.clone(),
        tags: read.live,
    };
    apply_post_tags(run, state, location, &post)
}

fn sync<H: Host + ?Sized>(run: &mut Run<'_, H>, state: &mut TagState, event: &TagSyncEvent) -> Result<(), SyncError> {
    let location = event.location_id.as_str();
    let full_refresh = run.settings.full_refresh;

    // Resume the pass in progress, or start a new one.
    let mut checkpoint = match state.checkpoint.take() {
        Some(checkpoint) if !full_refresh => {
            let skip = checkpoint.skip.to_string();
            run.exchange
                .log(Level::Info, "resuming the pass at its checkpoint", &[("skip", &skip)]);
            checkpoint
        }
        previous => {
            state.pass += 1;
            Checkpoint {
                skip: 0,
                posts: previous.map(|c| c.posts).unwrap_or_default(),
            }
        }
    };
    let cursor_start = checkpoint.skip;
    state.checkpoint = Some(checkpoint.clone());

    // The post's tags first, so that a missing post fails before any write.
    if let Some(post) = &event.post_id {
        let tags = match &event.tag_ids {
            Some(ids) => dedup(ids),
            None => {
                let request = run.settings.ghl().post(location, post);
                let ids = run
                    .exchange
                    .call(Service::Ghl, EP_POST, request, |resp| ghl::read_post_tags(&resp.body))?;
                dedup(&ids)
            }
        };
        checkpoint.posts.retain(|p| &p.post != post);
        checkpoint.posts.push(PendingPost {
            post: post.clone(),
            tags,
        });
        state.checkpoint = Some(checkpoint);
    }

    let mut writer = TagWriter::new(full_refresh, run.settings.max_in_flight);
    let mut next = cursor_start;
    let result = read_all(run, state, &mut writer, &mut next, location).and_then(|()| writer.flush(run, state));
    if let Err(e) = result {
        // Every tag before the oldest one Rankr has not confirmed is written.
        if let Some(c) = state.checkpoint.as_mut() {
            c.skip = writer.oldest_unsent().map_or(next, |o| o.min(next));
        }
        return Err(e);
    }
    if let Some(c) = state.checkpoint.as_mut() {
        c.skip = next;
    }

    if run.settings.archive_missing {
        archive_gone(run, state, &mut writer, location)?;
    }

    // The pass is complete: apply the posts' tags. Each leaves the
    // checkpoint once applied, so a failure here redoes only the rest.
    let posts = state.checkpoint.as_ref().map(|c| c.posts.clone()).unwrap_or_default();
    for post in posts {
        apply_post_tags(run, state, location, &post)?;
        if let Some(c) = state.checkpoint.as_mut() {
            c.posts.retain(|p| p.post != post.post);
        }
    }
    state.checkpoint = None;
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
    state: &mut TagState,
    writer: &mut TagWriter,
    next: &mut u64,
    location: &str,
) -> Result<(), SyncError> {
    let page_size = run.settings.page_size;
    let max_in_flight = run.settings.max_in_flight as u64;
    // The ids read so far in this call, to drop a tag served again on a
    // later page.
    let mut seen: HashSet<String> = HashSet::new();
    let mut pages = 0u32;
    let mut stale_pages = 0u32;
    // Learnt from the pages read: the count and the stride between offsets.
    let mut count: Option<u64> = None;
    let mut stride: Option<u64> = None;
    'waves: loop {
        if run.exchange.deadline_left() == Some(0) {
            return Err(SyncError::DeadlineExceeded("before the next page of tags".into()));
        }
        let skips: Vec<u64> = match (count, stride) {
            (Some(count), Some(stride)) if stale_pages == 0 => {
                let wave_pages = max_in_flight.min(run.exchange.ghl_budget_now() as u64);
                (0..wave_pages)
                    .map(|i| *next + i * stride)
                    .take_while(|&offset| offset == *next || offset < count)
                    .collect()
            }
            _ => vec![*next],
        };
        let results = fetch_wave(run, state, writer, location, &skips, page_size)?;
        for (&skip, result) in skips.iter().zip(results) {
            let page: TagPage = match result {
                Ok(page) => page,
                Err(e) => {
                    // Write what was read before stopping (unless out of time).
                    if run.exchange.deadline_left() != Some(0) {
                        writer.send_ready(run, state)?;
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
                        if !seen.insert(tag.id.clone()) {
                            continue; // served again on a later page
                        }
                        new += 1;
                        run.report.fetched += 1;
                        match run.settings.tag_mapping.apply(&mut tag, location) {
                            Ok(input) => writer.offer(run, state, tag.id, input, skip),
                            Err(why) => {
                                mark_seen(state, &tag.id);
                                run.report.reject(tag.id, Service::Ghl, why)
                            }
                        }
                    }
                    Err(BadTag { item, why }) => {
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
                let (skip_text, times) = (skip.to_string(), stale_pages.to_string());
                run.exchange.log(
                    Level::Warn,
                    "GHL served a page of tags already read; reading it again",
                    &[("skip", &skip_text), ("times", &times)],
                );
                continue 'waves;
            }
            stale_pages = 0;
            *next = skip + got;
            count = page.count;
            run.exchange.host().progress(Phase::ReadingTags, *next, count);
            let done = match page.count {
                Some(count) => *next >= count,
                None => got < page_size as u64,
            };
            if done {
                break 'waves;
            }
            if got == 0 {
                let (skip_text, count_text) = (next.to_string(), format!("{:?}", page.count));
                run.exchange.log(
                    Level::Warn,
                    "GHL returned an empty page before the count was reached; stopping",
                    &[("skip", &skip_text), ("count", &count_text)],
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
    let pages_text = pages.to_string();
    run.exchange.log(Level::Info, "tags read", &[("pages", &pages_text)]);
    Ok(())
}

/// Fetches the pages at `skips` and, in the same waves, sends the batches
/// sealed from the pages before (pipelining: Rankr writes while GHL reads).
/// The batches' outcomes go to the writer first; a failed batch is the
/// error. The pages come back in order, stopping after the first failure.
fn fetch_wave<H: Host + ?Sized>(
    run: &mut Run<'_, H>,
    state: &mut TagState,
    writer: &mut TagWriter,
    location: &str,
    skips: &[u64],
    page_size: u32,
) -> Result<Vec<Result<TagPage, SyncError>>, SyncError> {
    let (batches, writes) = writer.take_ready(run, state);
    let batch_count = writes.len();
    let ghl = run.settings.ghl();
    let mut requests: Vec<Outbound<'_>> = writes
        .into_iter()
        .map(|request| Outbound {
            service: Service::Rankr,
            endpoint: rankr::EP_TAGS,
            request,
        })
        .collect();
    requests.extend(skips.iter().map(|&skip| Outbound {
        service: Service::Ghl,
        endpoint: EP_TAGS,
        request: ghl.tags(location, skip, page_size),
    }));
    let mut batch_answers: Vec<Option<TagBatchResponse>> = (0..batch_count).map(|_| None).collect();
    let mut pages: Vec<Option<TagPage>> = skips.iter().map(|_| None).collect();
    let max_in_flight = run.settings.max_in_flight;
    let done = run.exchange.call_in_waves(requests, max_in_flight, &mut |index, resp| {
        if index < batch_count {
            batch_answers[index] = Some(rankr::read_tag_results(&resp.body)?);
        } else if let Some(slot) = pages.get_mut(index - batch_count) {
            *slot = Some(ghl::read_tag_page(EP_TAGS, &resp.body)?);
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
                .map(|result| result.and_then(|()| answer.ok_or_else(|| lost(Service::Rankr))))
        })
        .collect();
    writer.finish(run, state, batches, answers)?;
    Ok(done
        .zip(pages)
        .map(|(r, page)| r.and_then(|()| page.ok_or_else(|| lost(Service::Ghl))))
        .collect())
}

/// A tag GHL still has, even if it could not be written.
fn mark_seen(state: &mut TagState, ghl_id: &str) {
    let pass = state.pass;
    if let Some(entry) = state.tags.get_mut(ghl_id) {
        entry.seen_in_pass = pass;
    }
}

/// Tags the state knows that this pass did not see. GHL is asked for them by
/// id first (paging by offset can miss a tag when others are deleted during
/// the pass): those it still has are written as they are; the rest are
/// written archived, from Rankr's own record, and forgotten.
fn archive_gone<H: Host + ?Sized>(
    run: &mut Run<'_, H>,
    state: &mut TagState,
    writer: &mut TagWriter,
    location: &str,
) -> Result<(), SyncError> {
    let pass = state.pass;
    let mut unseen: Vec<String> = state
        .tags
        .iter()
        .filter(|(_, entry)| entry.seen_in_pass < pass)
        .map(|(id, _)| id.clone())
        .collect();
    unseen.sort_unstable();
    if unseen.is_empty() {
        return Ok(());
    }
    let mut gone: HashSet<String> = unseen.iter().cloned().collect();
    let total = unseen.len() as u64;
    for (i, chunk) in unseen.chunks(MAX_IDS_PER_DETAILS).enumerate() {
        let checked = ((i * MAX_IDS_PER_DETAILS + chunk.len()) as u64).min(total);
        run.exchange
            .host()
            .progress(Phase::CheckingMissing, checked, Some(total));
        for mut tag in run.read_tag_details(location, chunk)?.into_iter().flatten() {
            if !gone.remove(&tag.id) {
                continue;
            }
            match run.settings.tag_mapping.apply(&mut tag, location) {
                Ok(input) => {
                    writer.offer(run, state, tag.id, input, 0);
                    if writer.wants_send() {
                        writer.send_ready(run, state)?;
                    }
                }
                Err(why) => {
                    mark_seen(state, &tag.id);
                    run.report.reject(tag.id, Service::Ghl, why)
                }
            }
        }
    }
    writer.flush(run, state)?;
    if gone.is_empty() {
        return Ok(());
    }
    let gone_count = gone.len().to_string();
    run.exchange
        .log(Level::Info, "archiving tags gone from GHL", &[("tags", &gone_count)]);
    // External id -> GHL id of what is to be archived.
    let mut wanted: HashMap<String, String> = gone
        .iter()
        .map(|ghl_id| {
            let external = state
                .tags
                .get(ghl_id)
                .map_or(ghl_id.as_str(), |e| e.external_id(ghl_id));
            (external.to_string(), ghl_id.clone())
        })
        .collect();
    let mut cursor: Option<String> = None;
    loop {
        let request = run.settings.rankr().list_tags(location, cursor.as_deref());
        let page: TagListPage = run.exchange.send_json(Service::Rankr, EP_LIST_TAGS, request)?;
        for stored in page.data {
            if let Some(ghl_id) = wanted.remove(&stored.external_id) {
                writer.archive_gone(run, ghl_id, stored.archived_input());
                if writer.wants_send() {
                    writer.send_ready(run, state)?;
                }
            }
        }
        match page.next_cursor {
            Some(c) if !wanted.is_empty() && Some(&c) != cursor.as_ref() => cursor = Some(c),
            _ => break,
        }
    }
    writer.flush(run, state)?;
    // Not live in Rankr (already archived, or removed there): nothing to do.
    if !run.settings.dry_run {
        for ghl_id in wanted.into_values() {
            state.tags.remove(&ghl_id);
        }
    }
    Ok(())
}

/// `PUT /v1/posts/{id}/tags` with the external ids of the post's tags that
/// Rankr holds; the others are item errors.
fn apply_post_tags<H: Host + ?Sized>(
    run: &mut Run<'_, H>,
    state: &mut TagState,
    location: &str,
    post: &PendingPost,
) -> Result<(), SyncError> {
    let mut external = Vec::with_capacity(post.tags.len());
    for ghl_id in &post.tags {
        match state.tags.get(ghl_id).filter(|e| e.confirmed()) {
            Some(entry) => external.push(entry.external_id(ghl_id).to_string()),
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
    let body = rankr::post_tags_body(location, &external);
    let hash = state::content_hash(&body);
    if state.post_applied(&post.post, &hash) && !run.settings.full_refresh {
        // Rankr holds exactly this set already: nothing to write.
        *run.report.post_tags_applied.get_or_insert(0) += external.len() as u32;
        return Ok(());
    }
    run.record_write(Method::Put, rankr::post_tags_path(&post.post), external.len(), &body);
    let applied = if run.settings.dry_run {
        external.len() as u32
    } else {
        let request = run.settings.rankr().set_post_tags(&post.post, body);
        let answer: PostTagsResponse = run.exchange.send_json(Service::Rankr, EP_POST_TAGS, request)?;
        state.record_post(&post.post, hash);
        answer.tag_count.clamp(0.0, u32::MAX as f64) as u32
    };
    *run.report.post_tags_applied.get_or_insert(0) += applied;
    Ok(())
}
