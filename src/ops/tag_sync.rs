//! `tag-sync`: a post was created. Read every page of the location's tags,
//! upsert them into Rankr, then apply the post's tags to its Rankr record.

use super::writer::TagWriter;
use super::{dedup, id, Run};
use crate::ghl::{TagPage, EP_TAGS};
use crate::io::{Host, Level};
use crate::rankr::Rankr;
use crate::report::{Service, SyncError, SyncReport};
use crate::settings::SettingsInput;
use std::collections::HashSet;

/// The event: a location, and optionally the new post and its tag ids.
#[derive(Debug, Clone, Default)]
pub struct TagSyncEvent {
    pub location_id: String,
    pub post_id: Option<String>,
    pub tag_ids: Option<Vec<String>>,
}

/// Runs `tag-sync`.
pub fn tag_sync<H: Host + ?Sized>(
    host: &mut H,
    settings: &SettingsInput,
    event: &TagSyncEvent,
) -> Result<SyncReport, SyncError> {
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
    let location = event.location_id.as_str();
    let mut run = Run::start(host, settings, "tag-sync", location)?;

    // The post's tags first, so that a missing post fails before any write.
    let wanted = match (&event.post_id, &event.tag_ids) {
        (Some(_), Some(ids)) => Some(dedup(ids)),
        (Some(post), None) => {
            let ids = run.settings.ghl().post_tags(&mut run.ex, location, post)?;
            Some(dedup(&ids))
        }
        _ => None,
    };
    let mut writer = TagWriter::new(wanted.iter().flatten().cloned());

    let page_size = run.settings.page_size;
    let mut seen: HashSet<String> = HashSet::new();
    let mut skip: u64 = 0;
    let mut pages = 0u32;
    loop {
        let page: TagPage = run.settings.ghl().list_tags(&mut run.ex, location, skip, page_size)?;
        pages += 1;
        let got = page.tags.len() as u64;
        let mut new = 0u64;
        for parsed in page.tags {
            match parsed {
                Ok(tag) => {
                    if !seen.insert(tag.id.clone()) {
                        continue; // served again on a later page
                    }
                    new += 1;
                    run.report.fetched += 1;
                    match run.settings.tag_mapping.apply(&tag, location) {
                        Ok(input) => writer.push(&mut run, tag.id, input)?,
                        Err(why) => run.report.reject(tag.id, Service::Ghl, why),
                    }
                }
                Err((item, why)) => {
                    new += 1;
                    run.report.reject(item, Service::Ghl, why)
                }
            }
        }
        if got > 0 && new == 0 {
            // A server that ignores `skip` would page forever; stop and say so
            // rather than loop or report a sync that silently missed tags.
            return Err(SyncError::InvalidResponse {
                service: Service::Ghl,
                endpoint: EP_TAGS.into(),
                field: "results.tags".into(),
                message: format!("the page at skip={skip} holds only tags already read; the server is not paging"),
            });
        }
        skip += got;
        let done = match page.count {
            Some(count) => skip >= count,
            None => got < page_size as u64,
        };
        if done {
            break;
        }
        if got == 0 {
            let (skip_s, count_s) = (skip.to_string(), format!("{:?}", page.count));
            run.ex.log(
                Level::Warn,
                "GHL returned an empty page before the count was reached; stopping",
                &[("skip", &skip_s), ("count", &count_s)],
            );
            break;
        }
    }
    writer.flush(&mut run)?;
    let pages_s = pages.to_string();
    run.ex.log(Level::Info, "tags read", &[("pages", &pages_s)]);

    if let (Some(post), Some(wanted)) = (&event.post_id, wanted) {
        let mut external = Vec::with_capacity(wanted.len());
        for ghl_id in wanted {
            match writer.landed.get(&ghl_id) {
                Some(ext) => external.push(ext.clone()),
                None => run.report.reject(
                    ghl_id,
                    Service::Ghl,
                    format!("the post's tag is not among the tags synced for location {location}; it was not applied"),
                ),
            }
        }
        let body = Rankr::post_tags_body(location, &external);
        run.record_write("PUT", Rankr::post_tags_path(post), external.len(), &body);
        run.report.post_tags_applied = Some(if run.settings.dry_run {
            external.len() as u32
        } else {
            run.settings.rankr().set_post_tags(&mut run.ex, post, body)?
        });
    }
    Ok(run.finish())
}
