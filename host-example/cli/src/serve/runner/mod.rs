//! One run: the operation called in the component with the connection's
//! credential, state and settings ([`crate::invoke`]), then its outcome,
//! state and queue changes committed together, the connection's health
//! updated ([`super::health`]), metrics counted and the alert it calls for
//! delivered.

mod error;
mod imports;
mod summary;

pub use error::RunError;

use super::connections::GhlSecret;
use super::db::{Finish, FollowUp, QueuedPost};
use super::health::{Health, Rules, RunEnd};
use super::install::tokens::Ctx;
use super::model::{EventInput, Op, Outcome, Trigger};
use super::state::AppState;
use crate::credentials::Credential;
use crate::invoke::{Credentials, Endpoints, Imports, Invocation, OpResult, Prepared, RunFlags};
use crate::render;
use ghl_rankr_host::clock::Clock;
use ghl_rankr_host::engine::ConnectorEngine;
use ghl_rankr_host::imports::TokenStore;
use ghl_rankr_host::transport::UreqTransport;
use ghl_rankr_host::types::{
    CheckRequest, NewPostsRequest, PublishedPost, PublishedPostsRequest, StatsRequest, TagDetailsEvent, TagSyncEvent,
};
use imports::{DbTokens, Metered, StoppableClock};
use serde_json::{json, Value};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use summary::{summarize, Summary};

/// What a connection runs next.
#[derive(Debug, Clone, PartialEq)]
pub enum Job {
    /// An event's run, queued by the HTTP intake.
    Event { run_id: i64, op: Op, input: EventInput },
    /// A post the trigger found: `tag-sync` with its tag ids.
    Post(QueuedPost),
    /// A scheduled operation.
    Scheduled(Op),
    /// Follow-up statistics due together: one `stats-sync` of their posts'
    /// profiles, each under its own scope.
    FollowUp(Vec<FollowUp>),
    /// The connection test before the first run.
    StartCheck,
}

impl Job {
    /// What the operation is run with: a post's tag ids, an event's body,
    /// or nothing for a schedule (a full pass, a poll, today's statistics).
    fn input(&self) -> EventInput {
        match self {
            Job::Event { input, .. } => input.clone(),
            Job::Post(p) => EventInput {
                post_id: Some(p.post_id.clone()),
                tag_ids: Some(p.tag_ids.clone()),
                ..EventInput::default()
            },
            Job::Scheduled(_) | Job::FollowUp(_) | Job::StartCheck => EventInput::default(),
        }
    }

    pub fn op(&self) -> Op {
        match self {
            Job::Event { op, .. } => *op,
            Job::Post(_) => Op::TagSync,
            Job::Scheduled(op) => *op,
            Job::FollowUp(_) => Op::StatsSync,
            Job::StartCheck => Op::Check,
        }
    }

    /// The profiles a follow-up reads, each once, in order.
    fn followup_profiles(&self) -> Vec<String> {
        let Job::FollowUp(due) = self else { return Vec::new() };
        let mut profiles: Vec<String> = due.iter().flat_map(|f| f.profile_ids.iter().cloned()).collect();
        profiles.sort();
        profiles.dedup();
        profiles
    }
}

/// How a run ended, for the scheduler.
#[derive(Debug, Clone)]
pub struct Done {
    pub connection: String,
    pub job: Job,
    pub outcome: Outcome,
    /// From an incomplete report: when to go on.
    pub resume_after_ms: Option<u64>,
    /// The trigger has more posts right away.
    pub more: bool,
    /// After a failure: when the connection may run again.
    pub retry_at_ms: Option<u64>,
    pub paused: bool,
}

/// Runs `job` for `connection` and records it.
pub fn execute(state: &Arc<AppState>, engine: &ConnectorEngine, connection: &str, job: Job) -> Done {
    let op = job.op();
    let now = state.clock.now_ms();
    let run_id = match &job {
        Job::Event { run_id, .. } => state.db.mark_running(*run_id, now).map(|_| *run_id),
        Job::Post(p) => state.db.start_run(
            connection,
            op,
            Trigger::Queue,
            Some(&json!({"post_id": p.post_id, "tag_ids": p.tag_ids})),
            now,
        ),
        Job::Scheduled(op) => state.db.start_run(connection, *op, Trigger::Schedule, None, now),
        Job::FollowUp(due) => state.db.start_run(
            connection,
            op,
            Trigger::FollowUp,
            Some(&json!({
                "posts": due.iter().map(|f| json!({"post_id": f.post_id, "after_ms": f.offset_ms})).collect::<Vec<_>>(),
                "profile_ids": job.followup_profiles(),
            })),
            now,
        ),
        Job::StartCheck => state.db.start_run(connection, op, Trigger::Start, None, now),
    };
    let run_id = match run_id {
        Ok(id) => id,
        Err(e) => {
            tracing::error!(target: "ghl_rankr::serve", connection, operation = %op, error = %e, "cannot record the run; it is not started");
            return done(connection, job, Outcome::Failed, &Health::default());
        }
    };
    tracing::info!(target: "ghl_rankr::serve", connection, operation = %op, run = run_id, "run started");
    let started = Instant::now();
    let answer = call(state, engine, connection, &job);
    let ended = state.clock.now_ms();
    let seconds = started.elapsed().as_secs_f64();
    let entry = state.connection(connection);
    let hints = entry.as_ref().map_or_else(render::Hints::cli, |e| e.connection.hints());
    let summary = summarize(&answer, state.draining.load(Ordering::SeqCst), &hints);
    commit(state, connection, &job, run_id, ended, &summary);
    let counters = summary.counters.clone().unwrap_or(Value::Null);
    tracing::info!(
        target: "ghl_rankr::serve",
        connection,
        operation = %op,
        run = run_id,
        outcome = %summary.outcome,
        seconds,
        counters = %counters,
        error = summary.error.as_deref().unwrap_or(""),
        "run ended"
    );
    state.metrics.run(
        connection,
        op,
        summary.outcome,
        seconds,
        summary.items,
        u64::from(summary.retries),
    );
    if let Ok(depth) = state.db.queue_depth(connection) {
        state.metrics.queue_depth(connection, depth);
    }
    if let Ok(pending) = state.db.pending_followups(connection) {
        state.metrics.followups(connection, pending);
    }
    if op == Op::Check && matches!(summary.outcome, Outcome::Ok | Outcome::Failed) {
        state.metrics.check(connection, summary.outcome == Outcome::Ok);
    }
    let mut reauthorization_required = summary.reauthorization_required;
    let installed = entry
        .as_ref()
        .is_some_and(|e| matches!(e.secrets.ghl, GhlSecret::Installed { .. }));
    if installed && answer.is_ok() && (summary.ghl_refused || reauthorization_required) {
        // An install's token GHL refused is renewed from the agency's
        // before the next run; only the agency's refusal pauses it.
        reauthorization_required = false;
        if let Err(e) = state.db.expire_tokens(connection) {
            tracing::error!(target: "ghl_rankr::serve", connection, error = %e, "cannot mark the refused token for renewal");
        }
    }
    let end = RunEnd {
        op,
        outcome: summary.outcome,
        error: summary.error.as_deref(),
        reauthorization_required,
        now_ms: ended,
    };
    let health = after_run(state, connection, &end);
    Done {
        resume_after_ms: summary.resume_after_ms,
        more: summary.more,
        ..done(connection, job, summary.outcome, &health)
    }
}

/// The run's outcome, its state and its queue changes, in one transaction.
fn commit(state: &AppState, connection: &str, job: &Job, run_id: i64, ended_ms: u64, s: &Summary<'_>) {
    let op = job.op();
    let dequeue = match (job, s.outcome) {
        (Job::Post(p), Outcome::Ok) => Some(p.post_id.as_str()),
        _ => None,
    };
    let entry = state.connection(connection);
    let dry_run = entry
        .as_ref()
        .is_some_and(|e| e.connection.settings.dry_run.unwrap_or(false));
    let followups = match &entry {
        Some(e) if !dry_run => followups_of(&s.published, &e.connection.schedule.stats_after_publish),
        _ => Vec::new(),
    };
    let followups_done: Vec<(String, u64)> = match (job, s.outcome) {
        (Job::FollowUp(due), Outcome::Ok) => due.iter().map(|f| (f.post_id.clone(), f.offset_ms)).collect(),
        _ => Vec::new(),
    };
    let slot = op.state_slot();
    let finish = Finish {
        run_id,
        outcome: s.outcome,
        ended_ms,
        counters: s.counters.clone(),
        error: s.error.clone(),
        state: s
            .state
            .filter(|_| !dry_run)
            .and_then(|blob| slot.map(|slot| (slot, blob))),
        enqueue: if dry_run { &[] } else { &s.found },
        dequeue,
        followups: &followups,
        followups_done: &followups_done,
    };
    if let Err(e) = state.db.finish(&finish) {
        // Nothing of this run is committed: the next run redoes it from
        // the last state, and Rankr, holding the same content, changes
        // nothing twice.
        tracing::error!(target: "ghl_rankr::serve", connection, operation = %op, run = run_id, error = %e, "cannot commit the run");
    }
}

/// The follow-ups of posts that went live: one per post and offset, due
/// that long after its `publishedAt`.
fn followups_of(posts: &[PublishedPost], offsets: &[Duration]) -> Vec<FollowUp> {
    let mut out = Vec::new();
    for post in posts {
        let Some(published_ms) = instant_ms(&post.published_at) else {
            tracing::warn!(target: "ghl_rankr::serve", post = %post.id, published_at = %post.published_at, "a post's publishedAt is not a date: no follow-up statistics");
            continue;
        };
        if post.profile_ids.is_empty() {
            continue;
        }
        for offset in offsets {
            let offset_ms = offset.as_millis() as u64;
            out.push(FollowUp {
                post_id: post.id.clone(),
                offset_ms,
                due_ms: published_ms.saturating_add(offset_ms),
                published_at: post.published_at.clone(),
                profile_ids: post.profile_ids.clone(),
            });
        }
    }
    out
}

/// An RFC 3339 instant, in ms since the epoch.
fn instant_ms(text: &str) -> Option<u64> {
    let at = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()?;
    u64::try_from(at.unix_timestamp_nanos() / 1_000_000).ok()
}

fn done(connection: &str, job: Job, outcome: Outcome, health: &Health) -> Done {
    Done {
        connection: connection.to_string(),
        job,
        outcome,
        resume_after_ms: None,
        more: false,
        retry_at_ms: health.retry_at_ms,
        paused: health.paused.is_some(),
    }
}

/// The connection's health after the run, stored, with its alert delivered
/// and its gauges set.
fn after_run(state: &AppState, connection: &str, end: &RunEnd<'_>) -> Health {
    let mut health = match state.db.health(connection) {
        Ok(h) => h,
        Err(e) => {
            tracing::error!(target: "ghl_rankr::serve", connection, error = %e, "cannot read the connection's health");
            return Health::default();
        }
    };
    let rules = Rules {
        backoff_initial: state.config.backoff_initial,
        backoff_max: state.config.backoff_max,
        alert_after_failures: state.config.alert_after_failures,
    };
    let notice = health.record(end, &rules);
    if matches!(end.outcome, Outcome::Ok | Outcome::Incomplete) {
        state.metrics.success(connection, end.now_ms);
    }
    if health.paused.is_some() && end.reauthorization_required {
        state.metrics.paused(connection, true);
        tracing::warn!(target: "ghl_rankr::serve", connection, "paused: GHL refused the refresh token; authorize again, update the variable and restart");
    }
    if let Some(notice) = notice {
        let delivered = state.alerter.send(connection, &notice);
        health.delivered(&notice, delivered);
    }
    if let Err(e) = state.db.put_health(connection, &health) {
        tracing::error!(target: "ghl_rankr::serve", connection, error = %e, "cannot store the connection's health");
    }
    health
}

/// Calls the operation in the component.
fn call(state: &Arc<AppState>, engine: &ConnectorEngine, connection: &str, job: &Job) -> Result<OpResult, RunError> {
    let entry = state
        .connection(connection)
        .ok_or_else(|| RunError::Unknown(connection.to_string()))?;
    let (c, secrets) = (&entry.connection, &entry.secrets);
    let op = job.op();
    let blob = match op.state_slot() {
        Some(slot) => state.db.state(connection, slot)?,
        None => None,
    };
    let ghl = match &secrets.ghl {
        GhlSecret::Token(t) => Credential::ApiKey(t.clone()),
        GhlSecret::OAuth {
            client_id,
            client_secret,
            ..
        } => {
            let stored = state
                .db
                .tokens(connection)?
                .ok_or_else(|| RunError::NoTokens(connection.to_string()))?;
            Credential::OAuth {
                tokens: stored.tokens,
                client_id: client_id.clone(),
                client_secret: client_secret.clone(),
            }
        }
        GhlSecret::Installed { company } => {
            let installs = state
                .installs
                .as_ref()
                .ok_or_else(|| RunError::Unknown(connection.to_string()))?;
            let ctx = Ctx {
                installs,
                db: &state.db,
                clock: &state.clock,
            };
            let tokens = ctx
                .location_tokens(connection, &c.location, company.as_deref())
                .map_err(RunError::Install)?;
            // A pair with a refresh token (v3) the component may rotate
            // itself on a refused token; an access token alone is used as
            // it is, and renewed before the next run.
            if tokens.refresh_token.expose().is_empty() {
                Credential::ApiKey(tokens.access_token)
            } else {
                Credential::OAuth {
                    tokens,
                    client_id: installs.client_id.clone(),
                    client_secret: installs.client_secret(),
                }
            }
        }
    };
    let endpoints = Endpoints::from_file(&c.settings);
    let flags = RunFlags {
        deadline_secs: Some(state.config.run_deadline.as_secs()),
        ..RunFlags::default()
    };
    let credentials = Credentials {
        ghl,
        rankr_key: &secrets.rankr,
    };
    let settings = crate::invoke::settings(&endpoints, &credentials, &flags, &c.settings);
    let timeout = Duration::from_secs(u64::from(c.settings.request_timeout_secs.unwrap_or(30).max(1)));
    let transport = Metered {
        inner: UreqTransport::new(state.network.clone(), timeout),
        state: state.clone(),
        connection: connection.to_string(),
        ghl: endpoints.ghl.clone(),
        rankr: endpoints.rankr.clone(),
    };
    let tokens: Arc<dyn TokenStore> = Arc::new(DbTokens {
        state: state.clone(),
        connection: connection.to_string(),
    });
    let prepared = Prepared::new(
        settings,
        transport,
        Imports {
            clock: Arc::new(StoppableClock { state: state.clone() }),
            tokens: Some(tokens),
            progress: None,
        },
    );
    let invocation = invocation(c, job)?;
    prepared
        .run(engine, &invocation, blob.as_deref())
        .map_err(RunError::Host)
}

/// The component's operation for `job`.
fn invocation(c: &crate::serve::config::Connection, job: &Job) -> Result<Invocation, RunError> {
    let input = job.input();
    let location_id = c.location.clone();
    Ok(match job.op() {
        Op::TagSync => Invocation::TagSync(TagSyncEvent {
            location_id,
            post_id: input.post_id,
            tag_ids: input.tag_ids,
            full_pass: false,
        }),
        Op::NewPosts => Invocation::NewPosts(NewPostsRequest {
            location_id,
            overlap_ms: None,
            backfill_since: None,
            max_posts: None,
        }),
        Op::TagDetailsPush => Invocation::TagDetailsPush(TagDetailsEvent {
            location_id,
            tag_ids: input.tag_ids.ok_or(RunError::NeedsTagIds)?,
        }),
        Op::StatsSync => {
            let profile_ids = job.followup_profiles();
            Invocation::StatsSync(StatsRequest {
                location_id,
                per_profile: !profile_ids.is_empty(),
                profile_ids,
                platforms: vec![],
                dashboard_id: c.dashboard.clone().unwrap_or_default(),
                as_of: input.as_of,
            })
        }
        Op::PostsPublished => Invocation::PostsPublished(PublishedPostsRequest {
            location_id,
            overlap_ms: None,
            backfill_since: None,
            max_posts: None,
        }),
        Op::Check => Invocation::Check(CheckRequest {
            location_id,
            operations: checked_operations(c),
            dashboard_id: c.dashboard.clone(),
        }),
    })
}

/// The operations a connection runs, as the check is to prove them.
fn checked_operations(c: &crate::serve::config::Connection) -> Vec<String> {
    let s = &c.schedule;
    let mut ops = vec![
        Op::TagSync.as_str().to_string(),
        Op::TagDetailsPush.as_str().to_string(),
    ];
    if s.poll_posts.is_some() {
        ops.push(Op::NewPosts.as_str().into());
    }
    if c.dashboard.is_some() {
        if s.stats_daily_at.is_some() || s.follows_publishing() {
            ops.push(Op::StatsSync.as_str().into());
        }
        if s.follows_publishing() {
            ops.push(Op::PostsPublished.as_str().into());
        }
    }
    ops
}
