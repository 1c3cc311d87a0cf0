//! A connection's health as a state machine: consecutive failures make an
//! incident, a failing connection backs off (doubling, up to a cap), a
//! refused OAuth refresh pauses it, and an incident gives two alerts at
//! most: one when it starts, one when it ends. Pure: the runner stores the
//! new health and delivers the alert it returns.
//!
//! Invariants:
//! - An incident belongs to the operation that failed: another operation's
//!   success does not end it (a poll that reads GHL says nothing about the
//!   Rankr a `tag-sync` fails on).
//! - The start of an incident is alerted once, even across restarts (the
//!   `alerted` flag is stored); an alert that could not be delivered is
//!   tried again at the next failure.
//! - Recovery is alerted only for an incident that was alerted.

use super::model::{Op, Outcome};
use std::time::Duration;

/// A connection's health, as the scheduler and the alerts keep it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Health {
    pub consecutive_failures: u32,
    pub first_failure_ms: Option<u64>,
    pub last_error: Option<String>,
    pub last_failed_operation: Option<Op>,
    /// An alert was delivered for the current incident.
    pub alerted: bool,
    /// Why the connection is paused (it runs nothing until resumed).
    pub paused: Option<String>,
    pub last_success_ms: Option<u64>,
    /// After a failure: nothing runs before then (the backoff).
    pub retry_at_ms: Option<u64>,
}

/// The service's rules for incidents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    pub backoff_initial: Duration,
    pub backoff_max: Duration,
    /// Failures in a row before the incident is alerted.
    pub alert_after_failures: u32,
}

/// How a run ended, as health sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunEnd<'a> {
    pub op: Op,
    pub outcome: Outcome,
    pub error: Option<&'a str>,
    /// GHL refused the OAuth refresh: a person must authorize again.
    pub reauthorization_required: bool,
    pub now_ms: u64,
}

/// An alert the machine asks to deliver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// `failures` consecutive failed runs since `first_failure_ms`.
    Failing {
        op: Op,
        error: String,
        failures: u32,
        first_failure_ms: u64,
    },
    /// The OAuth refresh was refused; the connection is paused.
    Reauthorize {
        op: Op,
        error: String,
        first_failure_ms: u64,
    },
    /// A run succeeded after an alerted incident.
    Recovered {
        op: Op,
        failures: u32,
        first_failure_ms: u64,
    },
}

impl Health {
    /// Takes a run's end into account. Returns the alert to deliver, if one
    /// is due; then tell [`Health::delivered`] how it went.
    pub fn record(&mut self, end: &RunEnd<'_>, rules: &Rules) -> Option<Notice> {
        let now = end.now_ms;
        match end.outcome {
            Outcome::Ok | Outcome::Incomplete
                if self.consecutive_failures > 0 && self.last_failed_operation != Some(end.op) =>
            {
                self.last_success_ms = Some(now);
                None
            }
            Outcome::Ok | Outcome::Incomplete => {
                let notice = self.alerted.then(|| Notice::Recovered {
                    op: end.op,
                    failures: self.consecutive_failures,
                    first_failure_ms: self.first_failure_ms.unwrap_or(now),
                });
                *self = Health {
                    last_success_ms: Some(now),
                    ..Health::default()
                };
                notice
            }
            Outcome::Failed => {
                self.consecutive_failures = self.consecutive_failures.saturating_add(1);
                let wait = backoff(rules.backoff_initial, rules.backoff_max, self.consecutive_failures);
                self.retry_at_ms = Some(now.saturating_add(wait.as_millis() as u64));
                let first = *self.first_failure_ms.get_or_insert(now);
                self.last_error = end.error.map(str::to_string);
                self.last_failed_operation = Some(end.op);
                let error = end.error.unwrap_or("").to_string();
                if end.reauthorization_required {
                    self.paused = Some(format!("reauthorization required: {error}"));
                    (!self.alerted).then_some(Notice::Reauthorize {
                        op: end.op,
                        error,
                        first_failure_ms: first,
                    })
                } else if self.consecutive_failures >= rules.alert_after_failures && !self.alerted {
                    Some(Notice::Failing {
                        op: end.op,
                        error,
                        failures: self.consecutive_failures,
                        first_failure_ms: first,
                    })
                } else {
                    None
                }
            }
            Outcome::Queued | Outcome::Running | Outcome::Interrupted => None,
        }
    }

    /// The alert of `notice` was delivered (`true`), or could not be.
    pub fn delivered(&mut self, notice: &Notice, ok: bool) {
        match notice {
            Notice::Failing { .. } | Notice::Reauthorize { .. } => self.alerted = ok,
            // The incident is over either way.
            Notice::Recovered { .. } => {}
        }
    }

    /// New credentials: a pause for the old ones ends. Whether it was
    /// paused.
    pub fn resume(&mut self) -> bool {
        let was = self.paused.take().is_some();
        if was {
            self.consecutive_failures = 0;
        }
        was
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

    const RULES: Rules = Rules {
        backoff_initial: Duration::from_secs(30),
        backoff_max: Duration::from_secs(1800),
        alert_after_failures: 3,
    };

    fn end(op: Op, outcome: Outcome, now_ms: u64) -> RunEnd<'static> {
        RunEnd {
            op,
            outcome,
            error: (outcome == Outcome::Failed).then_some("Rankr answered 503"),
            reauthorization_required: false,
            now_ms,
        }
    }

    /// Runs `ends` through a fresh health, delivering every alert.
    fn replay(ends: &[RunEnd<'_>]) -> (Health, Vec<Notice>) {
        let mut h = Health::default();
        let mut notices = Vec::new();
        for e in ends {
            if let Some(n) = h.record(e, &RULES) {
                h.delivered(&n, true);
                notices.push(n);
            }
        }
        (h, notices)
    }

    #[test]
    fn failures_are_counted_per_operation_and_another_ones_success_does_not_end_them() {
        let (h, notices) = replay(&[
            end(Op::TagSync, Outcome::Failed, 1_000),
            end(Op::NewPosts, Outcome::Ok, 2_000),
            end(Op::TagSync, Outcome::Failed, 3_000),
        ]);
        assert_eq!(h.consecutive_failures, 2);
        assert_eq!(h.first_failure_ms, Some(1_000));
        assert_eq!(h.last_failed_operation, Some(Op::TagSync));
        assert_eq!(h.last_success_ms, Some(2_000), "the poll's success is still recorded");
        assert!(notices.is_empty(), "two failures: below the alert threshold");
    }

    #[test]
    fn an_incident_is_alerted_once_however_long_it_lasts() {
        let ends: Vec<_> = (1..=10).map(|i| end(Op::TagSync, Outcome::Failed, i * 1_000)).collect();
        let (h, notices) = replay(&ends);
        assert_eq!(
            notices,
            [Notice::Failing {
                op: Op::TagSync,
                error: "Rankr answered 503".into(),
                failures: 3,
                first_failure_ms: 1_000
            }]
        );
        assert!(h.alerted);
        assert_eq!(h.consecutive_failures, 10);
    }

    #[test]
    fn an_alert_that_could_not_be_delivered_is_tried_at_the_next_failure() {
        let mut h = Health::default();
        for i in 1..=3 {
            let n = h.record(&end(Op::StatsSync, Outcome::Failed, i), &RULES);
            if let Some(n) = n {
                h.delivered(&n, false);
            }
        }
        assert!(!h.alerted);
        let again = h.record(&end(Op::StatsSync, Outcome::Failed, 4), &RULES);
        assert!(matches!(again, Some(Notice::Failing { failures: 4, .. })), "{again:?}");
    }

    #[test]
    fn the_failing_operations_success_recovers_once_and_clears_the_incident() {
        let mut ends: Vec<_> = (1..=4).map(|i| end(Op::TagSync, Outcome::Failed, i * 1_000)).collect();
        ends.push(end(Op::TagSync, Outcome::Ok, 9_000));
        ends.push(end(Op::TagSync, Outcome::Ok, 10_000));
        let (h, notices) = replay(&ends);
        assert_eq!(notices.len(), 2, "{notices:?}");
        assert_eq!(
            notices[1],
            Notice::Recovered {
                op: Op::TagSync,
                failures: 4,
                first_failure_ms: 1_000
            }
        );
        assert_eq!(
            h,
            Health {
                last_success_ms: Some(10_000),
                ..Health::default()
            }
        );
        // An incident below the threshold recovers silently.
        let (_, quiet) = replay(&[end(Op::TagSync, Outcome::Failed, 1), end(Op::TagSync, Outcome::Ok, 2)]);
        assert!(quiet.is_empty());
    }

    #[test]
    fn a_refused_refresh_pauses_at_once_alerts_once_and_new_credentials_resume() {
        let refused = RunEnd {
            error: Some("GHL refused the refresh token"),
            reauthorization_required: true,
            ..end(Op::NewPosts, Outcome::Failed, 5_000)
        };
        let (mut h, notices) = replay(&[refused, refused]);
        assert_eq!(
            notices,
            [Notice::Reauthorize {
                op: Op::NewPosts,
                error: "GHL refused the refresh token".into(),
                first_failure_ms: 5_000
            }]
        );
        assert_eq!(
            h.paused.as_deref(),
            Some("reauthorization required: GHL refused the refresh token")
        );
        assert!(h.resume());
        assert_eq!((h.paused.as_deref(), h.consecutive_failures), (None, 0));
        assert!(!h.resume(), "not paused any more");
    }

    #[test]
    fn a_failure_backs_off_doubling_to_its_cap() {
        let s = Duration::from_secs;
        let waits: Vec<u64> = (1..=8).map(|n| backoff(s(30), s(1800), n).as_secs()).collect();
        assert_eq!(waits, [30, 60, 120, 240, 480, 960, 1800, 1800]);
        assert_eq!(backoff(s(30), s(1800), 1000), s(1800));
        let (h, _) = replay(&[
            end(Op::TagSync, Outcome::Failed, 0),
            end(Op::TagSync, Outcome::Failed, 100_000),
        ]);
        assert_eq!(h.retry_at_ms, Some(100_000 + 60_000));
    }

    #[test]
    fn interrupted_and_unfinished_runs_change_nothing() {
        let (failing, _) = replay(&[end(Op::TagSync, Outcome::Failed, 1)]);
        for outcome in [Outcome::Interrupted, Outcome::Queued, Outcome::Running] {
            let mut h = failing.clone();
            assert_eq!(h.record(&end(Op::TagSync, outcome, 2), &RULES), None);
            assert_eq!(h, failing);
        }
    }
}
