//! `tag-details-push`: tags changed in GHL. Read them by id (at most 100 ids
//! a request) and upsert them into Rankr; `deleted` becomes `archived`.

use super::writer::TagWriter;
use super::{dedup, id, Origin, Run};
use crate::auth::Scope;
use crate::ghl::{BadTag, MAX_IDS_PER_DETAILS};
use crate::io::Host;
use crate::report::{Service, SyncError, SyncFailure, SyncReport};
use crate::settings::SettingsInput;
use crate::state::{self, TagState};
use std::collections::HashSet;

/// The event: a location and the ids of its changed tags.
#[derive(Debug, Clone, Default)]
pub struct TagDetailsEvent {
    pub location_id: String,
    pub tag_ids: Vec<String>,
}

/// Runs `tag-details-push` with the location's tag state (shared with
/// `tag-sync`): only tags whose content changed are written.
pub fn tag_details_push(
    host: &mut dyn Host,
    settings: &SettingsInput,
    event: &TagDetailsEvent,
    state: Option<&[u8]>,
) -> Result<SyncReport, SyncFailure> {
    id("location-id", &event.location_id)?;
    if event.tag_ids.is_empty() {
        return Err(SyncError::InvalidConfig("tag-ids is empty; name at least one changed tag".into()).into());
    }
    for t in &event.tag_ids {
        id("tag-id", t)?;
    }
    let location = event.location_id.as_str();
    let ids = dedup(&event.tag_ids);
    let mut tag_state = state::decode_tags(state, location).map_err(SyncError::InvalidConfig)?;
    let origin = Origin {
        scope: &[location],
        state,
    };
    let mut run = Run::start(host, settings, "tag-details-push", origin, &[Scope::TagRead])?;
    let given = run.settings.dry_run.then(|| state::encode_tags(&tag_state));
    let outcome = push(&mut run, &mut tag_state, location, &ids);
    let blob = given.unwrap_or_else(|| state::encode_tags(&tag_state));
    match outcome {
        Ok(()) => Ok(run.finish(blob)),
        Err(e) => Err(run.fail(e, Some(blob))),
    }
}

fn push<H: Host + ?Sized>(
    run: &mut Run<'_, H>,
    state: &mut TagState,
    location: &str,
    ids: &[String],
) -> Result<(), SyncError> {
    let mut writer = TagWriter::new(run.settings.full_refresh, run.settings.max_in_flight);
    let read = write_by_id(run, state, &mut writer, location, ids)?;
    for missing in read.missing {
        run.report.reject(
            missing,
            Service::Ghl,
            format!("GHL returned no tag with this id for location {location}"),
        );
    }
    Ok(())
}

/// What [`write_by_id`] read.
#[derive(Debug, Default)]
pub(super) struct ById {
    /// Tags GHL returned, mapped, and not deleted there, in request order.
    pub live: Vec<String>,
    /// Tags GHL returned as deleted (written archived).
    pub deleted: Vec<String>,
    /// Ids GHL did not return.
    pub missing: Vec<String>,
}

/// Reads `ids` with `tags/details` (at most 100 ids a call) and writes the
/// changed ones through `writer`, flushed before returning; a tag that does
/// not map is an item error. `ids` are distinct.
pub(super) fn write_by_id<H: Host + ?Sized>(
    run: &mut Run<'_, H>,
    state: &mut TagState,
    writer: &mut TagWriter,
    location: &str,
    ids: &[String],
) -> Result<ById, SyncError> {
    let mut seen: HashSet<String> = HashSet::new();
    let mut live: HashSet<String> = HashSet::new();
    let mut deleted: HashSet<String> = HashSet::new();
    for chunk in ids.chunks(MAX_IDS_PER_DETAILS) {
        for parsed in run.read_tag_details(location, chunk)? {
            match parsed {
                Ok(mut tag) => {
                    if !seen.insert(tag.id.clone()) {
                        continue;
                    }
                    run.report.fetched += 1;
                    match run.settings.tag_mapping.apply(&mut tag, location) {
                        Ok(input) => {
                            if input.archived {
                                deleted.insert(tag.id.clone());
                            } else {
                                live.insert(tag.id.clone());
                            }
                            writer.offer(run, state, tag.id, input, 0);
                            if writer.wants_send() {
                                writer.send_ready(run, state)?;
                            }
                        }
                        Err(why) => run.report.reject(tag.id, Service::Ghl, why),
                    }
                }
                Err(BadTag { item, why }) => {
                    seen.insert(item.clone());
                    run.report.reject(item, Service::Ghl, why)
                }
            }
        }
    }
    writer.flush(run, state)?;
    let pick = |set: &HashSet<String>| ids.iter().filter(|i| set.contains(*i)).cloned().collect();
    Ok(ById {
        live: pick(&live),
        deleted: pick(&deleted),
        missing: ids.iter().filter(|i| !seen.contains(*i)).cloned().collect(),
    })
}
