//! When a connection's operations run: intervals (`"5m"`, `"1h"`, or
//! `"off"`) and a daily time of day in UTC (`"06:00"`), a connection's own
//! keys over the `[schedule]` defaults.

use super::file::ScheduleTable;
use super::source::{line_of, ConfigError};
use std::time::Duration;
use toml::Spanned;

/// When a connection's operations run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    /// `new-posts`; none = off.
    pub poll_posts: Option<Duration>,
    /// A full `tag-sync`; none = off.
    pub tag_sync: Option<Duration>,
    /// `stats-sync` daily at this UTC (hour, minute); none = off.
    pub stats_daily_at: Option<(u8, u8)>,
    /// `posts-published`; none = off.
    pub poll_published: Option<Duration>,
    /// A `stats-sync` of a post's profiles this long after it went live,
    /// for each offset, shortest first; empty = none.
    pub stats_after_publish: Vec<Duration>,
}

impl Schedule {
    /// Whether posts going live are watched for follow-up statistics (a
    /// dashboard is needed too).
    pub fn follows_publishing(&self) -> bool {
        self.poll_published.is_some() && !self.stats_after_publish.is_empty()
    }
}

const DEFAULT_POLL: &str = "5m";
const DEFAULT_TAG_SYNC: &str = "1h";
const DEFAULT_STATS_AT: &str = "06:00";
const DEFAULT_AFTER_PUBLISH: [&str; 3] = ["1h", "24h", "7d"];
/// Offsets after publishing: at most this many, up to this long.
const MAX_OFFSETS: usize = 10;
const MAX_OFFSET: Duration = Duration::from_secs(35 * 24 * 3600);
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
    let poll_published = interval(
        pick(&own.poll_published, &defaults.poll_published),
        "poll_published",
        DEFAULT_POLL,
    )?;
    let stats_after_publish = offsets(
        own.stats_after_publish
            .as_ref()
            .or(defaults.stats_after_publish.as_ref()),
        text,
    )?;
    Ok(Schedule {
        poll_posts,
        tag_sync,
        stats_daily_at,
        poll_published,
        stats_after_publish,
    })
}

/// `stats_after_publish`: durations, at most [`MAX_OFFSETS`], each from 1s
/// to 35 days, none twice; the default when not given.
fn offsets(v: Option<&Spanned<Vec<String>>>, text: &str) -> Result<Vec<Duration>, ConfigError> {
    let (values, line): (Vec<String>, Option<usize>) = match v {
        Some(v) => (v.get_ref().clone(), Some(line_of(text, v.span().start))),
        None => (DEFAULT_AFTER_PUBLISH.iter().map(|s| s.to_string()).collect(), None),
    };
    let refuse = |message: String| ConfigError { line, message };
    if values.len() > MAX_OFFSETS {
        return Err(refuse(format!(
            "stats_after_publish has {} offsets; give at most {MAX_OFFSETS}",
            values.len()
        )));
    }
    let mut out = Vec::new();
    for text in &values {
        match parse_duration(text) {
            Some(d) if (MIN_INTERVAL..=MAX_OFFSET).contains(&d) && !out.contains(&d) => out.push(d),
            Some(d) if out.contains(&d) => return Err(refuse(format!("stats_after_publish names {text:?} twice"))),
            _ => {
                return Err(refuse(format!(
                    "stats_after_publish = {text:?} is not an offset; give durations from 1s to 35d like \"1h\", \"24h\", \"7d\", or [] for none"
                )))
            }
        }
    }
    out.sort();
    Ok(out)
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
