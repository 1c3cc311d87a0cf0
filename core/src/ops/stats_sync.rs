//! `stats-sync`: read Social Planner statistics and upsert them into a Rankr
//! dashboard as `(scope, metric, timestamp, value)` points.

use super::{dedup, id, Origin, Run};
use crate::auth::Scope;
use crate::ghl::model::StatisticsEnvelope;
use crate::ghl::{self, EP_ACCOUNTS, EP_STATISTICS};
use crate::hash::fnv1a;
use crate::io::{Host, Level, Method, Phase};
use crate::rankr::model::{MetricBatchResponse, MetricPoint};
use crate::rankr::{metric_batch_body, metrics_path, EP_METRICS, MAX_POINTS_PER_BATCH};
use crate::report::{Service, SyncError, SyncFailure, SyncReport};
use crate::settings::check_id;
use crate::settings::SettingsInput;
use crate::state::{self, StatsState, STATS_KEEP_DAYS};
use crate::stats::{day_of, parse_day, PointBuilder};
use time::Date;

/// Platforms the statistics endpoint accepts.
pub const PLATFORMS: [&str; 7] = [
    "facebook",
    "instagram",
    "linkedin",
    "google",
    "pinterest",
    "youtube",
    "tiktok",
];

/// Profiles GHL takes per statistics request.
pub const MAX_PROFILES: usize = 100;

/// The request: whose statistics, and which dashboard they go to.
#[derive(Debug, Clone, Default)]
pub struct StatsRequest {
    pub location_id: String,
    pub profile_ids: Vec<String>,
    pub platforms: Vec<String>,
    pub dashboard_id: String,
    /// `YYYY-MM-DD`; none = today (UTC) by the host clock.
    pub as_of: Option<String>,
    /// Each profile read on its own and written under its own scope
    /// (`location:{id}/profile:{profileId}`), leaving the location's
    /// points to the runs that read all its profiles.
    pub per_profile: bool,
}

/// Runs `stats-sync` with its state: points whose value Rankr already holds
/// are not sent again.
pub fn stats_sync(
    host: &mut dyn Host,
    settings: &SettingsInput,
    req: &StatsRequest,
    state: Option<&[u8]>,
) -> Result<SyncReport, SyncFailure> {
    id("location-id", &req.location_id)?;
    id("dashboard-id", &req.dashboard_id)?;
    if req.profile_ids.len() > MAX_PROFILES {
        return Err(SyncError::InvalidConfig(format!(
            "profile-ids has {} ids; give at most {MAX_PROFILES} (the `profileId`s of connected accounts), or none to use the location's connected accounts",
            req.profile_ids.len()
        ))
        .into());
    }
    let profiles = dedup(&req.profile_ids);
    for p in &profiles {
        id("profile-id", p)?;
    }
    let platforms = dedup(&req.platforms);
    if let Some(bad) = platforms.iter().find(|p| !PLATFORMS.contains(&p.as_str())) {
        return Err(SyncError::InvalidConfig(format!(
            "platform `{bad}` is not one GHL reports; use {}",
            PLATFORMS.join(", ")
        ))
        .into());
    }
    let as_of = match &req.as_of {
        Some(d) => Some(parse_day(d).map_err(|e| SyncError::InvalidConfig(format!("as-of: {e}")))?),
        None => None,
    };
    let location = req.location_id.as_str();
    let mut stats_state = state::decode_stats(state, location, &req.dashboard_id).map_err(SyncError::InvalidConfig)?;
    let scopes: &[Scope] = if profiles.is_empty() {
        &[Scope::StatisticsRead, Scope::AccountRead]
    } else {
        &[Scope::StatisticsRead]
    };
    let origin = Origin {
        scope: &[location, &req.dashboard_id],
        state,
    };
    let mut run = Run::start(host, settings, "stats-sync", origin, scopes)?;
    let given = run.settings.dry_run.then(|| state::encode_stats(&stats_state));
    let outcome = sync(&mut run, &mut stats_state, req, location, as_of, &profiles, &platforms);
    let blob = given.unwrap_or_else(|| state::encode_stats(&stats_state));
    match outcome {
        Ok(()) => Ok(run.finish(blob)),
        Err(e) => Err(run.fail(e, Some(blob))),
    }
}

/// The `profileId`s of the location's connected accounts that have not
/// expired, sorted, at most [`MAX_PROFILES`]. Each account left out is an
/// item error that says why.
fn connected_profiles<H: Host + ?Sized>(
    run: &mut Run<'_, H>,
    location: &str,
    now: u64,
) -> Result<Vec<String>, SyncError> {
    let request = run.settings.ghl().accounts(location);
    let accounts = run.exchange.call(Service::Ghl, EP_ACCOUNTS, request, |resp| {
        ghl::read_accounts(&resp.body)
    })?;
    let mut profiles = Vec::new();
    for account in accounts {
        let name = format!(
            "account {} ({}, {})",
            account.id.as_deref().unwrap_or("?"),
            account.platform.as_deref().unwrap_or("unknown platform"),
            account.name.as_deref().unwrap_or("no name")
        );
        if account.expired(now) {
            run.report.reject(
                name,
                Service::Ghl,
                "the account's connection has expired: its statistics are not read; reconnect it in GHL's Social Planner",
            );
            continue;
        }
        match account.profile_id {
            Some(p) if check_id("profileId", &p).is_ok() => profiles.push(p),
            _ => run
                .report
                .reject(name, Service::Ghl, "the account has no usable profileId; it is skipped"),
        }
    }
    profiles.sort_unstable();
    profiles.dedup();
    if profiles.len() > MAX_PROFILES {
        for p in profiles.drain(MAX_PROFILES..) {
            run.report.reject(
                format!("profile {p}"),
                Service::Ghl,
                format!("GHL takes {MAX_PROFILES} profiles per statistics request; give profile-ids to choose them"),
            );
        }
    }
    let n = profiles.len().to_string();
    run.exchange.log(
        Level::Info,
        "statistics for the connected accounts",
        &[("profiles", &n)],
    );
    Ok(profiles)
}

/// The state's key of a point: its natural key in Rankr.
fn point_key(p: &MetricPoint) -> String {
    format!(
        "{:016x}",
        fnv1a(&[p.scope.as_bytes(), p.metric.as_bytes(), p.timestamp.as_bytes()])
    )
}

#[allow(clippy::too_many_arguments)]
fn sync<H: Host + ?Sized>(
    run: &mut Run<'_, H>,
    state: &mut StatsState,
    req: &StatsRequest,
    location: &str,
    as_of: Option<Date>,
    profiles: &[String],
    platforms: &[String],
) -> Result<(), SyncError> {
    let now = run.exchange.host().now_ms();
    let as_of = match as_of {
        Some(d) => d,
        None => day_of(now).map_err(SyncError::InvalidConfig)?,
    };
    let discovered;
    let profiles = if profiles.is_empty() {
        discovered = connected_profiles(run, location, now)?;
        if discovered.is_empty() {
            run.report.reject(
                format!("location {location}"),
                Service::Ghl,
                "the location has no connected social account that has not expired; connect one in GHL's Social Planner, or give profile-ids",
            );
            return Ok(());
        }
        discovered.as_slice()
    } else {
        profiles
    };
    let today = i64::from(as_of.to_julian_day());
    state.points.retain(|_, (day, _)| *day >= today - STATS_KEEP_DAYS);

    // Together: one read of all the profiles, under the location's scope.
    // Per profile: one read each, under the profile's own scope.
    let reads: Vec<(String, Vec<String>)> = if req.per_profile {
        profiles
            .iter()
            .map(|p| (format!("location:{location}/profile:{p}"), vec![p.clone()]))
            .collect()
    } else {
        vec![(format!("location:{location}"), profiles.to_vec())]
    };
    let mut points = Vec::new();
    for (scope, ids) in reads {
        let request = run.settings.ghl().statistics(location, &ids, platforms);
        let stats = run
            .exchange
            .send_json::<StatisticsEnvelope>(Service::Ghl, EP_STATISTICS, request)?
            .results;
        let mut builder =
            PointBuilder::scoped(scope, as_of, &run.settings.metric_renames).map_err(SyncError::InvalidConfig)?;
        builder.add(&stats).map_err(|e| SyncError::InvalidResponse {
            service: Service::Ghl,
            endpoint: EP_STATISTICS.into(),
            field: e.field,
            message: e.message,
        })?;
        points.extend(builder.points);
    }
    points.retain(|p| {
        let ok = p.scope.chars().count() <= 256;
        if !ok {
            run.report.reject(
                format!("{} {}", p.metric, p.timestamp),
                Service::Rankr,
                "scope is longer than Rankr's 256 characters; use a shorter location id",
            );
        }
        ok
    });
    run.report.fetched = points.len() as u32;
    let full_refresh = run.settings.full_refresh;
    let before = points.len();
    points.retain(|p| {
        full_refresh
            || state
                .points
                .get(&point_key(p))
                .is_none_or(|(_, v)| v.to_bits() != p.value.to_bits())
    });
    run.report.skipped = (before - points.len()) as u32;

    let path = metrics_path(&req.dashboard_id);
    for batch in points.chunks(MAX_POINTS_PER_BATCH) {
        let body = metric_batch_body(batch);
        let key = run.idempotency_key(fnv1a(&[&body]));
        run.record_write(Method::Post, path.clone(), batch.len(), &body);
        if run.settings.dry_run {
            continue;
        }
        let request = run.settings.rankr().upsert_metrics(&req.dashboard_id, body, &key);
        let answer: MetricBatchResponse = run.exchange.send_json(Service::Rankr, EP_METRICS, request)?;
        let n = batch.len() as f64;
        let accepted = answer.accepted.clamp(0.0, n);
        let created = answer.created.clamp(0.0, accepted);
        let updated = answer.updated.clamp(0.0, accepted - created);
        run.report.created += created as u32;
        run.report.updated += updated as u32;
        run.report.unchanged += (accepted - created - updated) as u32;
        let written = u64::from(run.report.created + run.report.updated + run.report.unchanged);
        run.exchange
            .host()
            .progress(Phase::WritingMetrics, written, Some(points.len() as u64));
        if accepted < n {
            // Which ones is not said: none is recorded, all go again next run.
            run.report.reject(
                format!("batch of {} points from {}", batch.len(), batch[0].timestamp),
                Service::Rankr,
                format!("Rankr accepted {} of {} points", accepted as u32, batch.len()),
            );
            continue;
        }
        for p in batch {
            let day = p
                .timestamp
                .get(..10)
                .and_then(|d| parse_day(d).ok())
                .map_or(today, |d| i64::from(d.to_julian_day()));
            state.points.insert(point_key(p), (day, p.value));
        }
    }
    Ok(())
}
