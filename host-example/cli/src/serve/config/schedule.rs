//! When a connection's operations run: intervals (`"5m"`, `"1h"`, or
//! `"off"`) and a daily time of day in UTC (`"06:00"`), a connection's own
//! keys over the `[schedule]` defaults.

use super::file::ScheduleTable;
use super::source::{line_of, ConfigError};
use std::time::Duration;
use toml::Spanned;

/// When a connection's operations run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    /// `new-posts`; none = off.
    pub poll_posts: Option<Duration>,
    /// A full `tag-sync`; none = off.
    pub tag_sync: Option<Duration>,
    /// `stats-sync` daily at this UTC (hour, minute); none = off.
    pub stats_daily_at: Option<(u8, u8)>,
}

const DEFAULT_POLL: &str = "5m";
const DEFAULT_TAG_SYNC: &str = "1h";
const DEFAULT_STATS_AT: &str = "06:00";
/// Shortest interval: the tests use seconds; production uses minutes.
const MIN_INTERVAL: Duration = Duration::from_secs(1);
const MAX_INTERVAL: Duration = Duration::from_secs(7 * 24 * 3600);

/// A connection's schedule: its own keys over the `[schedule]` defaults.
pub(super) fn schedule(defaults: &ScheduleTable, own: &ScheduleTable, text: &str) -> Result<Schedule, ConfigError> {
    let pick =
        |own: &Option<Spanned<String>>, default: &Option<Spanned<String>>| own.clone().or_else(|| default.clone());
    let interval = |v: Option<Spanned<String>>, key: &str, fallback: &str| -> Result<Option<Duration>, ConfigError> {
        let (text_value, line) = match &v {
            Some(v) => (v.get_ref().trim().to_string(), Some(line_of(text, v.span().start))),
            None => (fallback.to_string(), None),
        };
        if text_value == "off" {
            return Ok(None);
        }
        match parse_duration(&text_value) {
            Some(d) if (MIN_INTERVAL..=MAX_INTERVAL).contains(&d) => Ok(Some(d)),
            _ => Err(ConfigError {
                line,
                message: format!(
                    "{key} = {text_value:?} is not a possible schedule; give an interval from 1s to 7d like \"5m\" or \"1h\", or \"off\""
                ),
            }),
        }
    };
    let poll_posts = interval(pick(&own.poll_posts, &defaults.poll_posts), "poll_posts", DEFAULT_POLL)?;
    let tag_sync = interval(pick(&own.tag_sync, &defaults.tag_sync), "tag_sync", DEFAULT_TAG_SYNC)?;
    let stats = pick(&own.stats_daily_at, &defaults.stats_daily_at);
    let (value, line) = match &stats {
        Some(v) => (v.get_ref().trim().to_string(), Some(line_of(text, v.span().start))),
        None => (DEFAULT_STATS_AT.to_string(), None),
    };
    let stats_daily_at = if value == "off" {
        None
    } else {
        Some(parse_hh_mm(&value).ok_or_else(|| ConfigError {
            line,
            message: format!(
                "stats_daily_at = {value:?} is not a time of day; write it as HH:MM in UTC, from \"00:00\" to \"23:59\", or \"off\""
            ),
        })?)
    };
    Ok(Schedule {
        poll_posts,
        tag_sync,
        stats_daily_at,
    })
}

pub(super) fn parse_duration(text: &str) -> Option<Duration> {
    humantime::parse_duration(text.trim()).ok()
}

fn parse_hh_mm(text: &str) -> Option<(u8, u8)> {
    let (h, m) = text.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u8, u8) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some((h, m))
}
