//! What runs when. Invariants:
//! - At most one run per connection at a time: a location has one GHL
//!   rate budget, and two runs of one operation would race on its state.
//! - At most `max_concurrent` runs at once across connections, taken in
//!   turn so that no connection starves.
//! - Order within a connection: queued events, then queued posts, then
//!   due schedules (new posts, full tag sync, statistics).
//! - Schedules are jittered; a failing connection backs off (doubling, up
//!   to a cap); a paused one runs nothing.
//! - Next runs are kept in the database: a restart keeps the schedule.

use super::db::{DbResult, Finish, QueuedEvent};
use super::error::ServeError;
use super::model::{EventInput, Op, Outcome};
use super::runner::{execute, Done, Job};
use super::state::{AppState, Command};
use ghl_rankr_host::clock::Clock;
use ghl_rankr_host::engine::ConnectorEngine;
use std::collections::BTreeMap;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

const TICK: Duration = Duration::from_millis(200);
const DAY_MS: u64 = 86_400_000;
/// Run history and event ids are pruned this often.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);
/// Kept from the grace period for the process to exit.
const EXIT_TIME: Duration = Duration::from_millis(200);
/// The longest part of a stop's grace period spent draining.
const DRAIN_TIME: Duration = Duration::from_secs(10);

/// A connection as the scheduler holds it.
#[derive(Debug, Default)]
struct Slot {
    busy: bool,
    paused: bool,
    backoff_until: u64,
    next: BTreeMap<Op, u64>,
    /// A pause or resume asked for while a run was under way: applied when
    /// it ends, so the run's own health update cannot undo it.
    pending: Option<Command>,
    /// The connection has yet to pass its check at start: it runs nothing
    /// else until then (retried with the usual backoff).
    unchecked: bool,
}

/// Follow-ups due within the same second run as one `stats-sync`.
const FOLLOWUP_GATHER_MS: u64 = 1_000;

/// Runs until `stop` is raised, then stops gracefully.
pub fn run(
    app: Arc<AppState>,
    engine: Arc<ConnectorEngine>,
    commands: mpsc::Receiver<Command>,
    stop: Arc<AtomicBool>,
) -> Result<(), ServeError> {
    let now = app.clock.now_ms();
    let stale = app.db.interrupt_stale_runs(now)?;
    if stale > 0 {
        tracing::warn!(target: "ghl_rankr::serve", runs = stale, "runs the last process left unfinished are marked interrupted; they resume from their checkpoints");
    }
    app.db.prune(now, app.config.history_days)?;
    let mut slots: BTreeMap<String, Slot> = BTreeMap::new();
    for entry in app.registry.all() {
        let name = &entry.connection.name;
        slots.insert(name.clone(), slot(&app, name, now, false)?);
    }
    let (tx, rx) = mpsc::channel::<Done>();
    let mut running = 0usize;
    let mut turn = 0usize;
    let mut pruned = Instant::now();
    tracing::info!(target: "ghl_rankr::serve", connections = slots.len(), "scheduler started");
    while !stop.load(Ordering::SeqCst) {
        let now = app.clock.now_ms();
        app.last_tick_ms.store(now, Ordering::SeqCst);
        while let Ok(done) = rx.try_recv() {
            running -= 1;
            settle(&app, &mut slots, done, app.clock.now_ms())?;
        }
        while let Ok(command) = commands.try_recv() {
            command_slot(&app, &mut slots, command)?;
        }
        // In turn from a rotating start: with more connections than
        // `max_concurrent`, each gets its go.
        let names: Vec<String> = slots.keys().cloned().collect();
        let n = names.len().max(1);
        for i in 0..names.len() {
            if running >= app.config.max_concurrent {
                break;
            }
            let name = &names[(turn + i) % n];
            let Some(slot) = slots.get_mut(name) else { continue };
            if slot.busy || slot.paused || now < slot.backoff_until {
                continue;
            }
            let Some(job) = next_job(&app, name, slot, now)? else {
                continue;
            };
            slot.busy = true;
            running += 1;
            let (app2, engine2, tx2, name2) = (app.clone(), engine.clone(), tx.clone(), name.clone());
            std::thread::Builder::new()
                .name(format!("run-{name}"))
                .spawn(move || {
                    let done = execute(&app2, &engine2, &name2, job);
                    let _ = tx2.send(done);
                })
                .map_err(|source| ServeError::Thread { what: "run", source })?;
        }
        turn = turn.wrapping_add(1);
        if pruned.elapsed() >= PRUNE_EVERY {
            app.db.prune(now, app.config.history_days)?;
            pruned = Instant::now();
        }
        if let Ok(done) = rx.recv_timeout(TICK) {
            running -= 1;
            settle(&app, &mut slots, done, app.clock.now_ms())?;
        }
    }
    app.stopping.store(true, Ordering::SeqCst);
    let grace = app.config.shutdown_grace;
    tracing::info!(target: "ghl_rankr::serve", running, grace_secs = grace.as_secs_f64(), "stopping: no new runs; waiting for the running ones");
    // The last third of the grace period (at most 10 s) is for draining:
    // requests are refused and waits cut, so each run ends with the
    // checkpoint of what it wrote.
    // The grace period counts from the signal: the stop ends early by the
    // tick in which the signal was seen and the time the process takes to
    // exit.
    let started = Instant::now();
    let end = started + grace.saturating_sub(TICK + EXIT_TIME);
    let drain_at = end - (grace / 3).min(DRAIN_TIME).min(end - started);
    while running > 0 {
        let now = Instant::now();
        if now >= end {
            let n = app.db.interrupt_stale_runs(app.clock.now_ms())?;
            tracing::warn!(target: "ghl_rankr::serve", runs = n, "runs still going at the end of the grace period are left; their last checkpoints stand");
            break;
        }
        if now >= drain_at && !app.draining.swap(true, Ordering::SeqCst) {
            tracing::info!(target: "ghl_rankr::serve", running, "draining: the running operations' requests are refused from now on");
        }
        let next = if now < drain_at { drain_at } else { end };
        if let Ok(done) = rx.recv_timeout(next.saturating_duration_since(now).min(TICK)) {
            running -= 1;
            settle(&app, &mut slots, done, app.clock.now_ms())?;
        }
    }
    tracing::info!(target: "ghl_rankr::serve", "stopped");
    Ok(())
}

/// A connection's slot at start, or when an install adds it (`joined`:
/// its first poll, the baseline, is due now).
fn slot(app: &AppState, name: &str, now: u64, joined: bool) -> DbResult<Slot> {
    let health = app.db.health(name)?;
    let mut slot = Slot {
        paused: health.paused.is_some(),
        backoff_until: health.retry_at_ms.unwrap_or(0),
        unchecked: app.config.check_at_start,
        ..Slot::default()
    };
    for op in [Op::NewPosts, Op::TagSync, Op::StatsSync, Op::PostsPublished] {
        let mut next = first_due(app, name, op, now)?;
        if joined && op == Op::NewPosts {
            next = next.map(|_| now);
        }
        app.db.set_next_due(name, op, next)?;
        if let Some(next) = next {
            slot.next.insert(op, next);
        }
    }
    Ok(slot)
}

/// The next job of an idle connection, if any is due.
fn next_job(app: &AppState, name: &str, slot: &Slot, now: u64) -> DbResult<Option<Job>> {
    if let Some(QueuedEvent { run_id, op, input }) = app.db.next_event(name)? {
        match serde_json::from_value::<EventInput>(input) {
            Ok(input) => return Ok(Some(Job::Event { run_id, op, input })),
            Err(_) => {
                // Checked at intake: only a hand-edited row gets here.
                app.db.finish(&Finish {
                    run_id,
                    outcome: Outcome::Failed,
                    ended_ms: now,
                    counters: None,
                    error: Some("the queued event is not readable".into()),
                    state: None,
                    enqueue: &[],
                    dequeue: None,
                    followups: &[],
                    followups_done: &[],
                })?;
                return Ok(None);
            }
        }
    }
    if slot.unchecked {
        return Ok(Some(Job::StartCheck));
    }
    if let Some(post) = app.db.queue_head(name)? {
        return Ok(Some(Job::Post(post)));
    }
    if let Some(first) = app.db.next_followup(name)?.filter(|first| *first <= now) {
        // With the first one due, those due in the same second go with it:
        // posts that went live together get one run per offset.
        let until = first - first % FOLLOWUP_GATHER_MS + FOLLOWUP_GATHER_MS - 1;
        return Ok(Some(Job::FollowUp(app.db.due_followups(name, until)?)));
    }
    Ok(slot
        .next
        .iter()
        .find(|(_, due)| **due <= now)
        .map(|(op, _)| Job::Scheduled(*op)))
}

/// Applies a command: a connection joins or leaves; a pause or resume is
/// applied to its slot and health, or kept for the end of the run under
/// way.
fn command_slot(app: &AppState, slots: &mut BTreeMap<String, Slot>, command: Command) -> DbResult<()> {
    match &command {
        Command::Added { connection } => {
            // Made at start already (it joined meanwhile): kept, with a run
            // that may be under way.
            if !slots.contains_key(connection) {
                let slot = slot(app, connection, app.clock.now_ms(), true)?;
                slots.insert(connection.clone(), slot);
            }
            return Ok(());
        }
        Command::Removed { connection } => {
            // A run under way ends on its own; its end finds no slot.
            slots.remove(connection);
            return Ok(());
        }
        Command::Pause { .. } | Command::Resume { .. } => {}
    }
    let Some(slot) = slots.get_mut(command.connection()) else {
        return Ok(());
    };
    if slot.busy {
        slot.pending = Some(command);
        return Ok(());
    }
    apply(app, slot, &command)
}

fn apply(app: &AppState, slot: &mut Slot, command: &Command) -> DbResult<()> {
    let (connection, paused) = match command {
        Command::Pause { connection, by } => (connection, Some(format!("paused by {by}"))),
        Command::Resume { connection, .. } => (connection, None),
        Command::Added { .. } | Command::Removed { .. } => return Ok(()),
    };
    let mut health = app.db.health(connection)?;
    match &paused {
        Some(why) => health.paused = Some(why.clone()),
        None => {
            health.resume();
        }
    }
    app.db.put_health(connection, &health)?;
    slot.paused = paused.is_some();
    app.metrics.paused(connection, slot.paused);
    tracing::info!(target: "ghl_rankr::serve", connection, paused = slot.paused, "paused or resumed on request");
    Ok(())
}

/// Takes a finished run into the schedule.
fn settle(app: &AppState, slots: &mut BTreeMap<String, Slot>, done: Done, now: u64) -> DbResult<()> {
    let Some(slot) = slots.get_mut(&done.connection) else {
        return Ok(());
    };
    slot.busy = false;
    slot.paused = done.paused;
    if let Some(command) = slot.pending.take() {
        apply(app, slot, &command)?;
    }
    let Some(entry) = app.connection(&done.connection) else {
        return Ok(());
    };
    let c = &entry.connection;
    match done.outcome {
        Outcome::Failed => {
            slot.backoff_until = done.retry_at_ms.unwrap_or(now);
            return Ok(());
        }
        Outcome::Ok | Outcome::Incomplete => slot.backoff_until = 0,
        _ => return Ok(()),
    }
    if done.job.op() == Op::Check && done.outcome == Outcome::Ok {
        slot.unchecked = false;
    }
    let resume = done.resume_after_ms.map(|ms| now + ms);
    if let (Job::Post(_), Some(at)) = (&done.job, resume) {
        // The post stays queued; its checkpoint resumes then.
        slot.backoff_until = at;
    }
    let Job::Scheduled(op) = done.job else {
        return Ok(());
    };
    let incomplete = done.outcome == Outcome::Incomplete;
    let next = match op {
        Op::NewPosts | Op::PostsPublished if done.more => Some(now),
        _ if incomplete => Some(resume.unwrap_or(now)),
        Op::PostsPublished => published_interval(c).map(|d| now + interval_with_jitter(&done.connection, op, d)),
        Op::NewPosts => c
            .schedule
            .poll_posts
            .map(|d| now + interval_with_jitter(&done.connection, op, d)),
        Op::TagSync => c
            .schedule
            .tag_sync
            .map(|d| now + interval_with_jitter(&done.connection, op, d)),
        Op::StatsSync => c
            .schedule
            .stats_daily_at
            .map(|at| next_daily(now, at) + jitter(&done.connection, op, Duration::from_secs(300))),
        Op::TagDetailsPush | Op::Check => None,
    };
    match next {
        Some(at) => {
            slot.next.insert(op, at);
        }
        None => {
            slot.next.remove(&op);
        }
    }
    app.db.set_next_due(&done.connection, op, next)
}

/// When an operation first runs after a start: the stored next run (no
/// later than one interval away), else soon, spread over the first minute.
fn first_due(app: &AppState, name: &str, op: Op, now: u64) -> DbResult<Option<u64>> {
    let Some(entry) = app.connection(name) else {
        return Ok(None);
    };
    let c = &entry.connection;
    let stored = app.db.next_due(name, op)?;
    Ok(match op {
        Op::NewPosts | Op::TagSync | Op::PostsPublished => {
            let interval = match op {
                Op::NewPosts => c.schedule.poll_posts,
                Op::TagSync => c.schedule.tag_sync,
                _ => published_interval(c),
            };
            interval.map(|d| {
                let soon = now + jitter(name, op, d.min(Duration::from_secs(60)));
                match stored {
                    Some(at) => at.min(now + interval_with_jitter(name, op, d)),
                    None => soon,
                }
            })
        }
        Op::StatsSync => c
            .schedule
            .stats_daily_at
            .map(|at| stored.unwrap_or_else(|| next_daily(now, at) + jitter(name, op, Duration::from_secs(300)))),
        Op::TagDetailsPush | Op::Check => None,
    })
}

/// How often posts going live are polled for: only with follow-ups and a
/// dashboard to write them to.
fn published_interval(c: &crate::serve::config::Connection) -> Option<Duration> {
    match (&c.dashboard, c.schedule.follows_publishing()) {
        (Some(_), true) => c.schedule.poll_published,
        _ => None,
    }
}

/// The interval plus up to a tenth of it (at most a minute) of jitter.
fn interval_with_jitter(name: &str, op: Op, interval: Duration) -> u64 {
    interval.as_millis() as u64 + jitter(name, op, (interval / 10).min(Duration::from_secs(60)))
}

/// A random delay below `max`, in ms.
fn jitter(name: &str, op: Op, max: Duration) -> u64 {
    let max = max.as_millis() as u64;
    if max == 0 {
        return 0;
    }
    std::hash::RandomState::new().hash_one((name, op, Instant::now())) % max
}

/// The next time of day `at` (UTC) after `now`.
fn next_daily(now: u64, (h, m): (u8, u8)) -> u64 {
    let at = now - now % DAY_MS + (h as u64 * 3600 + m as u64 * 60) * 1000;
    if at > now {
        at
    } else {
        at + DAY_MS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn daily_runs_fall_on_the_next_time_of_day() {
        // 2026-12-01T10:30Z.
        let now = 1_796_121_000_000;
        let six = next_daily(now, (6, 0));
        assert_eq!(six % DAY_MS, 6 * 3600 * 1000);
        assert!(six > now && six - now < DAY_MS);
        let eleven = next_daily(now, (11, 0));
        assert_eq!(eleven - now, 30 * 60 * 1000);
        assert_eq!(
            next_daily(eleven, (11, 0)),
            eleven + DAY_MS,
            "not the same instant again"
        );
    }

    #[test]
    fn jitter_stays_below_its_bound() {
        for _ in 0..200 {
            assert!(jitter("a", Op::NewPosts, Duration::from_secs(1)) < 1000);
            let j = interval_with_jitter("a", Op::TagSync, Duration::from_secs(3600));
            assert!((3_600_000..3_660_000).contains(&j), "{j}");
        }
        assert_eq!(jitter("a", Op::NewPosts, Duration::ZERO), 0);
    }
}
