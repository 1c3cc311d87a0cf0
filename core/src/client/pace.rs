//! Proactive pacing under GHL's rate limits, learnt from the answers'
//! `X-RateLimit-*` headers rather than hard-coded (limits differ per app).
//!
//! The burst budget is a window of `Max` requests per `Interval`: while the
//! server says requests remain, the next one goes at once (bursting is what
//! makes a sync limit-bound rather than pace-bound); when none remain, the
//! next waits until the oldest of our own requests in the window has aged
//! out. A spent daily budget stops the caller instead of waiting a day.

use crate::io::Response;
use crate::state::PaceRecord;
use std::collections::VecDeque;

/// A little slack past the window edge, for clocks that disagree.
pub const EDGE_MARGIN_MS: u64 = 25;

/// What the last answer said about the budget.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Budget {
    pub max: Option<u32>,
    pub remaining: Option<u32>,
    pub interval_ms: Option<u64>,
    pub daily_limit: Option<u64>,
    pub daily_remaining: Option<u64>,
}

impl Budget {
    /// Reads the five headers; absent or unreadable ones stay unknown.
    pub fn from_response(resp: &Response) -> Self {
        fn num<T: std::str::FromStr>(resp: &Response, name: &str) -> Option<T> {
            resp.header(name).and_then(|v| v.trim().parse().ok())
        }
        Budget {
            max: num(resp, "x-ratelimit-max"),
            remaining: num(resp, "x-ratelimit-remaining"),
            interval_ms: num(resp, "x-ratelimit-interval-milliseconds"),
            daily_limit: num(resp, "x-ratelimit-limit-daily"),
            daily_remaining: num(resp, "x-ratelimit-daily-remaining"),
        }
    }
}

/// Why the next request may not go at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DailyBudgetSpent {
    pub daily_limit: Option<u64>,
}

/// Tracks the budget and our own sends.
#[derive(Debug, Clone, Default)]
pub struct Pacer {
    budget: Budget,
    /// When each of our requests in the current window left.
    sent: VecDeque<u64>,
    /// Our requests that aged out of the window since the last answer: each
    /// gave one request back to the budget the server last stated.
    aged_out: u32,
    /// The headers of the last answer that carried any, as they were (the
    /// budget above is spent down as requests leave).
    stated: Option<Budget>,
}

impl Pacer {
    /// Forgets our requests that left the window before `now`.
    fn age_out(&mut self, now: u64, interval: u64) {
        while self.sent.front().is_some_and(|&t| t + interval <= now) {
            self.sent.pop_front();
            self.aged_out += 1;
        }
    }

    /// How many requests may go at once, now, without meeting a 429: the
    /// room left in our window, the server's remaining count (plus what
    /// aged out since it said it) and the daily budget. `usize::MAX` while
    /// no limit is known (the caller bounds it by its own concurrency).
    pub fn room(&mut self, now: u64) -> usize {
        let daily = self.budget.daily_remaining.map_or(usize::MAX, |d| d as usize);
        let (Some(max), Some(interval)) = (self.budget.max, self.budget.interval_ms) else {
            return daily;
        };
        self.age_out(now, interval);
        let window = (max as usize).saturating_sub(self.sent.len());
        let available = self
            .budget
            .remaining
            .map_or(usize::MAX, |r| r.saturating_add(self.aged_out) as usize);
        window.min(available).min(daily)
    }

    /// How long to wait before the next request.
    pub fn wait_ms(&mut self, now: u64) -> Result<u64, DailyBudgetSpent> {
        if self.budget.daily_remaining == Some(0) {
            return Err(DailyBudgetSpent {
                daily_limit: self.budget.daily_limit,
            });
        }
        let (Some(_), Some(interval)) = (self.budget.max, self.budget.interval_ms) else {
            return Ok(0);
        };
        if self.room(now) > 0 {
            return Ok(0);
        }
        // Budget spent: wait for our oldest request in the window to age out;
        // if others spent it (none of ours are in the window), a whole window.
        let free_at = match self.sent.front() {
            Some(&oldest) => oldest + interval,
            None => now + interval,
        };
        Ok(free_at.saturating_sub(now) + EDGE_MARGIN_MS)
    }

    /// A request went out and its exchange ended at `now`. The answer's time
    /// is the latest moment the server can have counted the request, so the
    /// window is reckoned from it: a server that counts on receipt, later
    /// than our send, never sees us early.
    pub fn on_exchange(&mut self, now: u64) {
        self.sent.push_back(now);
        // The server's count is stale from here until the answer; spend one.
        if let Some(r) = self.budget.remaining.as_mut() {
            *r = r.saturating_sub(1);
        }
        if let Some(d) = self.budget.daily_remaining.as_mut() {
            *d = d.saturating_sub(1);
        }
        let cap = self.budget.max.unwrap_or(1000).max(1) as usize;
        while self.sent.len() > cap {
            self.sent.pop_front();
        }
    }

    /// What the last answer that stated a budget said.
    pub fn last_stated(&self) -> Option<Budget> {
        self.stated
    }

    /// An answer came back; learn the budget from it.
    pub fn observe(&mut self, resp: &Response) {
        let said = Budget::from_response(resp);
        if said != Budget::default() {
            self.stated = Some(said);
        }
        if said.remaining.is_some() {
            self.aged_out = 0;
        }
        // Keep what this answer does not say.
        self.budget = Budget {
            max: said.max.or(self.budget.max),
            remaining: said.remaining.or(self.budget.remaining),
            interval_ms: said.interval_ms.or(self.budget.interval_ms),
            daily_limit: said.daily_limit.or(self.budget.daily_limit),
            daily_remaining: said.daily_remaining.or(self.budget.daily_remaining),
        };
    }

    /// The answers to requests sent together: the server counted them in
    /// some order, so the lowest remaining count is the one that holds.
    pub fn observe_all<'a>(&mut self, answers: impl IntoIterator<Item = &'a Response>) {
        let (mut low, mut low_daily) = (None::<u32>, None::<u64>);
        for resp in answers {
            self.observe(resp);
            let said = Budget::from_response(resp);
            low = match (low, said.remaining) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            low_daily = match (low_daily, said.daily_remaining) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        self.budget.remaining = low.or(self.budget.remaining);
        self.budget.daily_remaining = low_daily.or(self.budget.daily_remaining);
    }

    /// What the next call needs to start paced: the burst budget last seen
    /// and our requests in the window. (The daily count is not kept: a new
    /// day resets it, and the first answer says it again.)
    pub fn record(&self) -> PaceRecord {
        PaceRecord {
            max: self.budget.max,
            remaining: self.budget.remaining,
            interval_ms: self.budget.interval_ms,
            sent: self.sent.iter().copied().collect(),
        }
    }

    /// Starts from what the previous call saw.
    pub fn from_record(record: &PaceRecord) -> Self {
        let cap = record.max.unwrap_or(1000).clamp(1, 10_000) as usize;
        let skip = record.sent.len().saturating_sub(cap);
        Pacer {
            budget: Budget {
                max: record.max,
                remaining: record.remaining,
                interval_ms: record.interval_ms,
                daily_limit: None,
                daily_remaining: None,
            },
            sent: record.sent.iter().skip(skip).copied().collect(),
            aged_out: 0,
            stated: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(max: u32, remaining: u32, interval: u64, daily_remaining: u64) -> Response {
        Response {
            status: 200,
            headers: vec![
                ("X-RateLimit-Max".into(), max.to_string()),
                ("X-RateLimit-Remaining".into(), remaining.to_string()),
                ("X-RateLimit-Interval-Milliseconds".into(), interval.to_string()),
                ("X-RateLimit-Limit-Daily".into(), "200000".into()),
                ("X-RateLimit-Daily-Remaining".into(), daily_remaining.to_string()),
            ],
            body: vec![],
        }
    }

    #[test]
    fn bursts_then_waits_for_the_oldest_to_age_out() {
        let mut p = Pacer::default();
        assert_eq!(p.wait_ms(0), Ok(0), "nothing known yet");
        for (i, t) in [0u64, 400, 800].into_iter().enumerate() {
            assert_eq!(p.wait_ms(t), Ok(0));
            p.on_exchange(t);
            p.observe(&answer(3, 2 - i as u32, 1000, 100));
        }
        // Three sent at t=0,400,800 in a 3-per-second window: the fourth
        // waits until t=1000 (plus the margin).
        assert_eq!(p.wait_ms(810), Ok(190 + EDGE_MARGIN_MS));
        // After the wait, the first request has aged out: one may go.
        assert_eq!(p.wait_ms(1000 + EDGE_MARGIN_MS), Ok(0));
        p.on_exchange(1025);
        p.observe(&answer(3, 0, 1000, 100));
        // The next waits for the one sent at t=400.
        assert_eq!(p.wait_ms(1030), Ok(370 + EDGE_MARGIN_MS));
    }

    #[test]
    fn someone_else_spent_the_window() {
        let mut p = Pacer::default();
        p.on_exchange(0);
        p.observe(&answer(100, 0, 10_000, 100));
        // Our one request is the oldest: wait for it.
        assert_eq!(p.wait_ms(5), Ok(9_995 + EDGE_MARGIN_MS));
        // Once ours aged out and the server still says 0, wait a whole window.
        let mut q = Pacer::default();
        q.observe(&answer(100, 0, 10_000, 100));
        assert_eq!(q.wait_ms(5), Ok(10_000 + EDGE_MARGIN_MS));
    }

    #[test]
    fn daily_budget_stops() {
        let mut p = Pacer::default();
        p.on_exchange(0);
        p.observe(&answer(100, 99, 10_000, 1));
        assert_eq!(p.wait_ms(1), Ok(0));
        p.on_exchange(1);
        assert_eq!(
            p.wait_ms(2),
            Err(DailyBudgetSpent {
                daily_limit: Some(200_000)
            })
        );
    }
}
