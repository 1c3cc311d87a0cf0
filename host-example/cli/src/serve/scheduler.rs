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

use super::db::DbResult;
use super::model::{EventInput, Op, Outcome};
use super::runner::{execute, Done, Job};
use super::Service;
use ghl_rankr_host::clock::Clock;
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
}

/// Runs until `stop` is raised, then stops gracefully.
pub fn run(svc: Arc<Service>, stop: Arc<AtomicBool>) -> DbResult<()> {
    let now = svc.clock.now_ms();
    let stale = svc.db.interrupt_stale_runs(now)?;
    if stale > 0 {
        tracing::warn!(target: "ghl_rankr::serve", runs = stale, "runs the last process left unfinished are marked interrupted; they resume from their checkpoints");
    }
    svc.db.prune(now, svc.config.history_days)?;
    let mut slots: BTreeMap<String, Slot> = BTreeMap::new();
    for c in &svc.config.connections {
        let health = svc.db.health(&c.name)?;
        let mut slot = Slot {
            paused: health.paused.is_some(),
            backoff_until: health.retry_at_ms.unwrap_or(0),
            ..Slot::default()
        };
        for op in [Op::NewPosts, Op::TagSync, Op::StatsSync] {
            let next = first_due(&svc, &c.name, op, now)?;
            svc.db.set_next_due(&c.name, op, next)?;
            if let Some(next) = next {
                slot.next.insert(op, next);
            }
        }
        slots.insert(c.name.clone(), slot);
    }
    let (tx, rx) = mpsc::channel::<Done>();
    let mut running = 0usize;
    let mut turn = 0usize;
    let mut pruned = Instant::now();
    tracing::info!(target: "ghl_rankr::serve", connections = slots.len(), "scheduler started");
    while !stop.load(Ordering::SeqCst) {
        let now = svc.clock.now_ms();
        svc.last_tick_ms.store(now, Ordering::SeqCst);
        while let Ok(done) = rx.try_recv() {
            running -= 1;
            settle(&svc, &mut slots, done, svc.clock.now_ms())?;
        }
        // In turn from a rotating start: with more connections than
        // `max_concurrent`, each gets its go.
        let names: Vec<String> = slots.keys().cloned().collect();
        let n = names.len().max(1);
        for i in 0..names.len() {
            if running >= svc.config.max_concurrent {
                break;
            }
            let name = &names[(turn + i) % n];
            let Some(slot) = slots.get_mut(name) else { continue };
            if slot.busy || slot.paused || now < slot.backoff_until {
                continue;
            }
            let Some(job) = next_job(&svc, name, slot, now)? else {
                continue;
            };
            slot.busy = true;
            running += 1;
            let (svc2, tx2, name2) = (svc.clone(), tx.clone(), name.clone());
            std::thread::Builder::new()
                .name(format!("run-{name}"))
                .spawn(move || {
                    let done = execute(&svc2, &name2, job);
                    let _ = tx2.send(done);
                })
                .map_err(|e| super::db::DbError::Io(format!("cannot start a run: {e}")))?;
        }
        turn = turn.wrapping_add(1);
        if pruned.elapsed() >= PRUNE_EVERY {
            svc.db.prune(now, svc.config.history_days)?;
            pruned = Instant::now();
        }
        if let Ok(done) = rx.recv_timeout(TICK) {
            running -= 1;
            settle(&svc, &mut slots, done, svc.clock.now_ms())?;
        }
    }
    svc.stopping.store(true, Ordering::SeqCst);
    let grace = svc.config.shutdown_grace;
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
            let n = svc.db.interrupt_stale_runs(svc.clock.now_ms())?;
            tracing::warn!(target: "ghl_rankr::serve", runs = n, "runs still going at the end of the grace period are left; their last checkpoints stand");
            break;
        }
        if now >= drain_at && !svc.draining.swap(true, Ordering::SeqCst) {
            tracing::info!(target: "ghl_rankr::serve", running, "draining: the running operations' requests are refused from now on");
        }
        let next = if now < drain_at { drain_at } else { end };
        if let Ok(done) = rx.recv_timeout(next.saturating_duration_since(now).min(TICK)) {
            running -= 1;
            settle(&svc, &mut slots, done, svc.clock.now_ms())?;
        }
    }
    tracing::info!(target: "ghl_rankr::serve", "stopped");
    Ok(())
}

/// The next job of an idle connection, if any is due.
fn next_job(svc: &Service, name: &str, slot: &Slot, now: u64) -> DbResult<Option<Job>> {
    if let Some((run_id, op, input)) = svc.db.next_event(name)? {
        match (Op::parse(&op), serde_json::from_value::<EventInput>(input)) {
            (Some(op), Ok(input)) => return Ok(Some(Job::Event { run_id, op, input })),
            _ => {
                // Checked at intake: only a hand-edited row gets here.
                svc.db.finish(&super::db::Finish {
                    run_id,
                    outcome: Outcome::Failed,
                    ended_ms: now,
                    counters: None,
                    error: Some("the queued event is not readable".into()),
                    state: None,
                    enqueue: &[],
                    dequeue: None,
                })?;
                return Ok(None);
            }
        }
    }
    if let Some(post) = svc.db.queue_head(name)? {
        return Ok(Some(Job::Post(post)));
    }
    Ok(slot
        .next
        .iter()
        .find(|(_, due)| **due <= now)
        .map(|(op, _)| Job::Scheduled(*op)))
}

/// Takes a finished run into the schedule.
fn settle(svc: &Service, slots: &mut BTreeMap<String, Slot>, done: Done, now: u64) -> DbResult<()> {
    let Some(slot) = slots.get_mut(&done.connection) else {
        return Ok(());
    };
    slot.busy = false;
    slot.paused = done.paused;
    let Some(c) = svc.config.connection(&done.connection) else {
        return Ok(());
    };
    match done.outcome {
        Outcome::Failed => {
            slot.backoff_until = done.retry_at_ms.unwrap_or(now);
            return Ok(());
        }
        Outcome::Ok | Outcome::Incomplete => slot.backoff_until = 0,
        _ => return Ok(()),
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
        Op::NewPosts if done.more => Some(now),
        _ if incomplete => Some(resume.unwrap_or(now)),
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
        Op::TagDetailsPush => None,
    };
    match next {
        Some(at) => {
            slot.next.insert(op, at);
        }
        None => {
            slot.next.remove(&op);
        }
    }
    svc.db.set_next_due(&done.connection, op, next)
}

/// When an operation first runs after a start: the stored next run (no
/// later than one interval away), else soon, spread over the first minute.
fn first_due(svc: &Service, name: &str, op: Op, now: u64) -> DbResult<Option<u64>> {
    let Some(c) = svc.config.connection(name) else {
        return Ok(None);
    };
    let stored = svc.db.next_due(name, op)?;
    Ok(match op {
        Op::NewPosts | Op::TagSync => {
            let interval = if op == Op::NewPosts {
                c.schedule.poll_posts
            } else {
                c.schedule.tag_sync
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
        Op::TagDetailsPush => None,
    })
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

/// The wait after `failures` consecutive failures: doubling, capped.
pub fn backoff(initial: Duration, max: Duration, failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(30);
    initial.saturating_mul(1u32 << doublings).min(max)
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
    fn backoff_doubles_up_to_its_cap() {
        let s = Duration::from_secs;
        let waits: Vec<u64> = (1..=8).map(|n| backoff(s(30), s(1800), n).as_secs()).collect();
        assert_eq!(waits, [30, 60, 120, 240, 480, 960, 1800, 1800]);
        assert_eq!(backoff(s(30), s(1800), 1000), s(1800));
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
