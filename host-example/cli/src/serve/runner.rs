//! One run: the operation called in the component with the connection's
//! credential, state and settings, then its outcome, state and queue
//! changes committed together, the connection's health updated, metrics
//! counted and alerts sent.

use super::alerts::Alert;
use super::db::{Finish, Health, QueuedPost};
use super::metrics::Api;
use super::model::{EventInput, Op, Outcome, Trigger};
use super::Service;
use crate::config::{settings, SettingsParts};
use crate::credentials::{Credential, Tokens};
use crate::render;
use ghl_rankr_host::clock::Clock;
use ghl_rankr_host::egress::Allowlist;
use ghl_rankr_host::http::{Request, Response, TransportError};
use ghl_rankr_host::imports::{Env, TokenStore};
use ghl_rankr_host::transport::{HttpTransport, UreqTransport};
use ghl_rankr_host::types::{
    Incomplete, NewPostsReport, NewPostsRequest, OauthTokens, StatsRequest, SyncError, SyncFailure, SyncReport,
    TagDetailsEvent, TagSyncEvent,
};
use serde_json::{json, Value};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What a connection runs next.
#[derive(Debug, Clone, PartialEq)]
pub enum Job {
    /// An event's run, queued by the HTTP intake.
    Event { run_id: i64, op: Op, input: EventInput },
    /// A post the trigger found: `tag-sync` with its tag ids.
    Post(QueuedPost),
    /// A scheduled operation.
    Scheduled(Op),
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
            Job::Scheduled(_) => EventInput::default(),
        }
    }

    pub fn op(&self) -> Op {
        match self {
            Job::Event { op, .. } => *op,
            Job::Post(_) => Op::TagSync,
            Job::Scheduled(op) => *op,
        }
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

enum Answer {
    Sync(Result<SyncReport, SyncFailure>),
    Posts(Result<NewPostsReport, SyncFailure>),
}

/// Runs `job` for `connection` and records it.
pub fn execute(svc: &Arc<Service>, connection: &str, job: Job) -> Done {
    let op = job.op();
    let now = svc.clock.now_ms();
    let run_id = match &job {
        Job::Event { run_id, .. } => svc.db.mark_running(*run_id, now).map(|_| *run_id),
        Job::Post(p) => svc.db.start_run(
            connection,
            op,
            Trigger::Queue,
            Some(&json!({"post_id": p.post_id, "tag_ids": p.tag_ids})),
            now,
        ),
        Job::Scheduled(op) => svc.db.start_run(connection, *op, Trigger::Schedule, None, now),
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
    let answer = call(svc, connection, &job);
    let ended = svc.clock.now_ms();
    let seconds = started.elapsed().as_secs_f64();
    let draining = svc.draining.load(Ordering::SeqCst);
    let Summary {
        outcome,
        counters,
        error,
        reauth,
        items,
        retries,
        state,
        resume_after_ms,
        more,
        found,
    } = summarize(&answer, draining, &hints(svc, connection));
    let dequeue = match (&job, outcome) {
        (Job::Post(p), Outcome::Ok) => Some(p.post_id.as_str()),
        _ => None,
    };
    let dry_run = svc
        .config
        .connection(connection)
        .is_some_and(|c| c.settings.dry_run.unwrap_or(false));
    let finish = Finish {
        run_id,
        outcome,
        ended_ms: ended,
        counters: counters.clone(),
        error: error.clone(),
        state: state.filter(|_| !dry_run).map(|s| (op.state_slot(), s)),
        enqueue: if dry_run { &[] } else { &found },
        dequeue,
    };
    if let Err(e) = svc.db.finish(&finish) {
        // Nothing of this run is committed: the next run redoes it from
        // the last state, and Rankr, holding the same content, changes
        // nothing twice.
        tracing::error!(target: "ghl_rankr::serve", connection, operation = %op, run = run_id, error = %e, "cannot commit the run");
    }
    let shown = counters.clone().unwrap_or(Value::Null);
    tracing::info!(
        target: "ghl_rankr::serve",
        connection,
        operation = %op,
        run = run_id,
        outcome = %outcome,
        seconds,
        counters = %shown,
        error = error.as_deref().unwrap_or(""),
        "run ended"
    );
    svc.metrics.run(connection, op, outcome, seconds, items, retries as u64);
    if let Ok(depth) = svc.db.queue_depth(connection) {
        svc.metrics.queue_depth(connection, depth);
    }
    let health = after_run(svc, connection, op, outcome, error.as_deref(), reauth, ended);
    Done {
        resume_after_ms,
        more,
        ..done(connection, job, outcome, &health)
    }
}

/// What a run's answer comes to.
struct Summary<'a> {
    outcome: Outcome,
    /// The report's JSON form, for the run history.
    counters: Option<Value>,
    error: Option<String>,
    /// The OAuth refresh was refused: the connection pauses.
    reauth: bool,
    items: u64,
    retries: u32,
    /// The state to commit with the outcome.
    state: Option<&'a [u8]>,
    resume_after_ms: Option<u64>,
    /// The trigger has more posts right away.
    more: bool,
    /// Posts the trigger found, to queue.
    found: Vec<QueuedPost>,
}

/// The connection's error hints (the CLI's if it left the configuration).
fn hints(svc: &Service, connection: &str) -> render::Hints {
    svc.config
        .connection(connection)
        .map_or_else(render::Hints::cli, |c| c.hints())
}

fn summarize<'a>(answer: &'a Result<Answer, String>, draining: bool, hints: &render::Hints) -> Summary<'a> {
    let ended = |incomplete: &Option<Incomplete>| match incomplete {
        Some(_) => Outcome::Incomplete,
        None => Outcome::Ok,
    };
    let nothing = |outcome, error| Summary {
        outcome,
        counters: None,
        error,
        reauth: false,
        items: 0,
        retries: 0,
        state: None,
        resume_after_ms: None,
        more: false,
        found: Vec::new(),
    };
    match answer {
        Err(e) => nothing(Outcome::Failed, Some(e.clone())),
        Ok(Answer::Sync(Ok(r))) => Summary {
            counters: Some(history_json(render::report_json(r))),
            items: written(r),
            retries: r.retries,
            state: Some(&r.state),
            resume_after_ms: r.incomplete.as_ref().and_then(|i| i.resume_after_ms),
            ..nothing(ended(&r.incomplete), None)
        },
        Ok(Answer::Posts(Ok(r))) => Summary {
            counters: Some(history_json(render::posts_json(r))),
            retries: r.retries,
            state: Some(&r.state),
            resume_after_ms: r.incomplete.as_ref().and_then(|i| i.resume_after_ms),
            more: r.more,
            found: r
                .posts
                .iter()
                .map(|p| QueuedPost {
                    post_id: p.id.clone(),
                    tag_ids: p.tag_ids.clone(),
                    created_at: p.created_at.clone(),
                })
                .collect(),
            ..nothing(ended(&r.incomplete), None)
        },
        Ok(Answer::Sync(Err(f))) | Ok(Answer::Posts(Err(f))) => Summary {
            reauth: matches!(f.error, SyncError::ReauthorizationRequired(_)),
            state: f.state.as_deref(),
            // Refused requests while stopping are the stop, not a failure.
            ..nothing(
                if draining {
                    Outcome::Interrupted
                } else {
                    Outcome::Failed
                },
                Some(render::error_message_for(&f.error, hints)),
            )
        },
    }
}

/// Lists in a report kept to their first 20 entries, so that one run with
/// thousands of item errors does not bloat the history; the planned
/// writes (bodies, on a dry run) are left out.
fn history_json(mut report: Value) -> Value {
    const KEPT: usize = 20;
    if let Some(o) = report.as_object_mut() {
        o.remove("writes");
        for key in ["errors", "posts"] {
            if let Some(Value::Array(items)) = o.get_mut(key) {
                let total = items.len();
                items.truncate(KEPT);
                o.insert(format!("{key}_total"), Value::from(total));
            }
        }
    }
    report
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

/// Items Rankr created or updated (tags, archived ones included, and
/// points), and the post's tag set.
fn written(r: &SyncReport) -> u64 {
    r.created as u64 + r.updated as u64 + r.post_tags_applied.map_or(0, |_| 1)
}

/// Health after a run: failures counted, the connection paused on a
/// refused refresh, one alert per incident and one on recovery.
fn after_run(
    svc: &Service,
    connection: &str,
    op: Op,
    outcome: Outcome,
    error: Option<&str>,
    reauth: bool,
    now: u64,
) -> Health {
    let mut h = match svc.db.health(connection) {
        Ok(h) => h,
        Err(e) => {
            tracing::error!(target: "ghl_rankr::serve", connection, error = %e, "cannot read the connection's health");
            return Health::default();
        }
    };
    match outcome {
        // Another operation's success does not end the incident: a poll
        // that reads GHL says nothing about the Rankr a tag-sync fails on.
        Outcome::Ok | Outcome::Incomplete
            if h.consecutive_failures > 0 && h.last_failed_operation.as_deref() != Some(op.as_str()) =>
        {
            h.last_success_ms = Some(now);
            svc.metrics.success(connection, now);
        }
        Outcome::Ok | Outcome::Incomplete => {
            if h.alerted {
                svc.alerter.send(&Alert::Recovered {
                    connection,
                    operation: op.as_str(),
                    first_failure_ms: h.first_failure_ms.unwrap_or(now),
                    failures: h.consecutive_failures,
                });
            }
            h = Health {
                last_success_ms: Some(now),
                ..Health::default()
            };
            svc.metrics.success(connection, now);
        }
        Outcome::Failed => {
            h.consecutive_failures += 1;
            let wait = super::scheduler::backoff(
                svc.config.backoff_initial,
                svc.config.backoff_max,
                h.consecutive_failures,
            );
            h.retry_at_ms = Some(now + wait.as_millis() as u64);
            let first = *h.first_failure_ms.get_or_insert(now);
            h.last_error = error.map(str::to_string);
            h.last_failed_operation = Some(op.as_str().to_string());
            let error = error.unwrap_or("");
            if reauth {
                h.paused = Some(format!("reauthorization required: {error}"));
                svc.metrics.paused(connection, true);
                tracing::warn!(target: "ghl_rankr::serve", connection, "paused: GHL refused the refresh token; authorize again, update the variable and restart");
                if !h.alerted {
                    h.alerted = svc.alerter.send(&Alert::Reauthorize {
                        connection,
                        operation: op.as_str(),
                        error,
                        first_failure_ms: first,
                    });
                }
            } else if h.consecutive_failures >= svc.config.alert_after_failures && !h.alerted {
                h.alerted = svc.alerter.send(&Alert::Failing {
                    connection,
                    operation: op.as_str(),
                    error,
                    failures: h.consecutive_failures,
                    first_failure_ms: first,
                });
            }
        }
        Outcome::Queued | Outcome::Running | Outcome::Interrupted => {}
    }
    if let Err(e) = svc.db.put_health(connection, &h) {
        tracing::error!(target: "ghl_rankr::serve", connection, error = %e, "cannot store the connection's health");
    }
    h
}

/// Calls the operation in the component.
fn call(svc: &Arc<Service>, connection: &str, job: &Job) -> Result<Answer, String> {
    let Some(c) = svc.config.connection(connection) else {
        return Err(format!("no connection named {connection} in the configuration"));
    };
    let secrets = svc
        .secrets
        .get(connection)
        .ok_or_else(|| format!("the credentials of {connection} were not read at start"))?;
    let op = job.op();
    let state = svc.db.state(connection, op.state_slot()).map_err(|e| e.to_string())?;
    let ghl_credential = match &secrets.ghl {
        super::GhlSecret::Token(t) => Credential::ApiKey(t.clone()),
        super::GhlSecret::OAuth {
            client_id,
            client_secret,
            ..
        } => {
            let (tokens, _) = svc
                .db
                .tokens(connection)
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("no OAuth pair is stored for {connection}"))?;
            Credential::OAuth {
                tokens,
                client_id: client_id.clone(),
                client_secret: client_secret.clone(),
            }
        }
    };
    let ghl_base = c
        .settings
        .ghl_base_url
        .clone()
        .unwrap_or_else(|| crate::DEFAULT_GHL.to_string());
    let rankr_base = c
        .settings
        .rankr_base_url
        .clone()
        .unwrap_or_else(|| crate::DEFAULT_RANKR.to_string());
    let settings = settings(SettingsParts {
        ghl_base_url: ghl_base.clone(),
        ghl_credential,
        rankr_base_url: rankr_base.clone(),
        rankr_api_key: &secrets.rankr,
        page_size: None,
        dry_run: false,
        deadline_secs: Some(svc.config.run_deadline.as_secs()),
        full_refresh: false,
        full_pass: false,
        no_archive: false,
        max_in_flight: None,
        config: &c.settings,
    });
    let timeout = Duration::from_secs(c.settings.request_timeout_secs.unwrap_or(30).max(1) as u64);
    let metered = Metered {
        inner: UreqTransport::new(svc.network.clone(), timeout),
        svc: svc.clone(),
        connection: connection.to_string(),
        ghl: ghl_base.clone(),
        rankr: rankr_base.clone(),
    };
    let env = Env {
        transport: Arc::new(Allowlist::new(metered, &[&ghl_base, &rankr_base])),
        clock: Arc::new(StoppableClock { svc: svc.clone() }),
        tokens: Some(Arc::new(DbTokens {
            svc: svc.clone(),
            connection: connection.to_string(),
        })),
        captured_logs: None,
        progress: None,
    };
    let location = c.location.clone();
    let state = state.as_deref();
    let engine = &svc.engine;
    let host = |e: anyhow::Error| format!("{e:#}");
    let input = job.input();
    Ok(match job.op() {
        Op::TagSync => Answer::Sync(
            engine
                .tag_sync(
                    &env,
                    &settings,
                    &TagSyncEvent {
                        location_id: location,
                        post_id: input.post_id,
                        tag_ids: input.tag_ids,
                        full_pass: false,
                    },
                    state,
                )
                .map_err(host)?,
        ),
        Op::NewPosts => Answer::Posts(
            engine
                .new_posts(
                    &env,
                    &settings,
                    &NewPostsRequest {
                        location_id: location,
                        overlap_ms: None,
                        backfill_since: None,
                        max_posts: None,
                    },
                    state,
                )
                .map_err(host)?,
        ),
        Op::TagDetailsPush => {
            let Some(tag_ids) = input.tag_ids else {
                return Err("tag-details-push needs tag ids: it runs on events, not on a schedule".into());
            };
            Answer::Sync(
                engine
                    .tag_details_push(
                        &env,
                        &settings,
                        &TagDetailsEvent {
                            location_id: location,
                            tag_ids,
                        },
                        state,
                    )
                    .map_err(host)?,
            )
        }
        Op::StatsSync => Answer::Sync(
            engine
                .stats_sync(
                    &env,
                    &settings,
                    &StatsRequest {
                        location_id: location,
                        profile_ids: vec![],
                        platforms: vec![],
                        dashboard_id: c.dashboard.clone().unwrap_or_default(),
                        as_of: input.as_of,
                    },
                    state,
                )
                .map_err(host)?,
        ),
    })
}

/// Counts each request sent, by API, and each 429; refuses new requests
/// once a stop's grace period is over, so the run ends with its checkpoint.
struct Metered {
    inner: UreqTransport,
    svc: Arc<Service>,
    connection: String,
    ghl: String,
    rankr: String,
}

impl HttpTransport for Metered {
    fn send(&self, request: &Request) -> Result<Response, TransportError> {
        if self.svc.draining.load(Ordering::SeqCst) {
            return Err(TransportError::Denied("the service is stopping".into()));
        }
        let api = if request.url.starts_with(&self.rankr) {
            Some(Api::Rankr)
        } else if request.url.starts_with(&self.ghl) {
            Some(Api::Ghl)
        } else {
            None
        };
        let answer = self.inner.send(request);
        if let Some(api) = api {
            self.svc
                .metrics
                .request(&self.connection, api, answer.as_ref().ok().map(|r| r.status));
        }
        answer
    }

    fn max_concurrency(&self) -> usize {
        self.inner.max_concurrency()
    }
}

/// The wall clock; once a stop's grace period is over, waits end at once.
struct StoppableClock {
    svc: Arc<Service>,
}

impl Clock for StoppableClock {
    fn now_ms(&self) -> u64 {
        self.svc.clock.now_ms()
    }

    fn sleep_ms(&self, ms: u64) {
        // In slices, so a stop cuts a long wait (a rate-limit pause) short.
        let until = Instant::now() + Duration::from_millis(ms);
        while !self.svc.draining.load(Ordering::SeqCst) {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            std::thread::sleep(left.min(Duration::from_millis(100)));
        }
    }
}

/// Rotated pairs go to the database, committed before the component uses
/// the new access token.
struct DbTokens {
    svc: Arc<Service>,
    connection: String,
}

impl TokenStore for DbTokens {
    fn store(&self, tokens: &OauthTokens) -> Result<(), String> {
        let seed = match self.svc.secrets.get(&self.connection).map(|s| &s.ghl) {
            Some(super::GhlSecret::OAuth { seed, .. }) => seed.clone(),
            _ => String::new(),
        };
        self.svc
            .db
            .put_tokens(
                &self.connection,
                &Tokens::from_wit(tokens),
                &seed,
                self.svc.clock.now_ms(),
            )
            .map_err(|e| e.to_string())?;
        tracing::info!(target: "ghl_rankr::serve", connection = %self.connection, "rotated GHL tokens stored");
        Ok(())
    }
}
