//! Statistics -> metric points. GHL answers with the last 7 days (daily series)
//! and window values (totals, breakdowns); each becomes a `(scope, metric,
//! timestamp, value)` point. Daily points are dated at the start of their UTC
//! day, the last one on `as-of`; window points at the end of the window (the
//! start of the day after `as-of`).

pub mod metric;
pub mod renames;

use crate::ghl::model::{Breakdown, PlatformSeries, Statistics};

use crate::rankr::model::MetricPoint;
use metric::Metric;
pub use renames::MetricRenames;
use std::collections::BTreeMap;
use time::{Date, Month, OffsetDateTime};

/// Days in GHL's statistics window.
pub const WINDOW_DAYS: usize = 7;

/// A series or value GHL sent that cannot be turned into points.
#[derive(Debug, Clone, PartialEq)]
pub struct ShapeError {
    pub field: String,
    pub message: String,
}

/// Parses `YYYY-MM-DD` (four-digit year, two-digit month and day); the
/// calendar check is `time`'s.
pub fn parse_day(s: &str) -> Result<Date, String> {
    let bad = |why: &str| format!("`{s}` is not a date as YYYY-MM-DD ({why})");
    let bytes = s.as_bytes();
    let shaped = bytes.len() == 10
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && bytes
            .iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    if !shaped {
        return Err(bad("expected digits as YYYY-MM-DD"));
    }
    let number_at = |digits: std::ops::Range<usize>| s[digits].parse::<u16>().unwrap_or(0);
    let month = Month::try_from(number_at(5..7) as u8).map_err(|_| bad("no such month"))?;
    Date::from_calendar_date(i32::from(number_at(0..4)), month, number_at(8..10) as u8).map_err(|_| bad("no such day"))
}

/// The UTC day of a host clock reading.
pub fn day_of(now_ms: u64) -> Result<Date, String> {
    let secs = i64::try_from(now_ms / 1000).map_err(|_| "clock out of range".to_string())?;
    OffsetDateTime::from_unix_timestamp(secs)
        .map(|t| t.date())
        .map_err(|e| format!("the host clock reads {now_ms} ms, which is not a date ({e})"))
}

/// `YYYY-MM-DDT00:00:00Z` for a day (RFC 3339; `Date`'s own display gives
/// the date part).
pub fn midnight(day: Date) -> String {
    format!("{day}T00:00:00Z")
}

/// Builds points under one scope (a location's, or a profile's in it).
pub struct PointBuilder<'a> {
    location_scope: String,
    renames: &'a MetricRenames,
    days: Vec<String>,
    window_end: String,
    pub points: Vec<MetricPoint>,
}

impl<'a> PointBuilder<'a> {
    /// Points under `location:{location_id}`.
    pub fn new(location_id: &str, as_of: Date, renames: &'a MetricRenames) -> Result<Self, String> {
        Self::scoped(format!("location:{location_id}"), as_of, renames)
    }

    /// Points under `scope` (and `{scope}/platform:{p}`).
    pub fn scoped(scope: String, as_of: Date, renames: &'a MetricRenames) -> Result<Self, String> {
        let mut days = Vec::with_capacity(WINDOW_DAYS);
        for back in (0..WINDOW_DAYS as i64).rev() {
            let d = as_of
                .checked_sub(time::Duration::days(back))
                .ok_or("as-of is too close to the calendar's start")?;
            days.push(midnight(d));
        }
        let end = as_of.next_day().ok_or("as-of is the calendar's last day")?;
        Ok(PointBuilder {
            location_scope: scope,
            renames,
            days,
            window_end: midnight(end),
            points: Vec::new(),
        })
    }

    fn scope(&self, platform: Option<&str>) -> Result<String, ShapeError> {
        match platform {
            None => Ok(self.location_scope.clone()),
            Some(p) if p.is_empty() || p.len() > 64 || p.contains('/') || p.chars().any(char::is_control) => {
                Err(ShapeError {
                    field: format!("platform `{}`", p.chars().take(64).collect::<String>()),
                    message: "is not a platform name".into(),
                })
            }
            Some(p) => Ok(format!("{}/platform:{p}", self.location_scope)),
        }
    }

    fn window(&mut self, metric: Metric, platform: Option<&str>, value: Option<f64>) -> Result<(), ShapeError> {
        if let Some(value) = value {
            let scope = self.scope(platform)?;
            self.points.push(MetricPoint {
                scope,
                metric: self.renames.name(metric).to_string(),
                timestamp: self.window_end.clone(),
                value,
            });
        }
        Ok(())
    }

    fn daily(
        &mut self,
        metric: Metric,
        platform: Option<&str>,
        field: &str,
        series: &[Option<f64>],
    ) -> Result<(), ShapeError> {
        if series.len() > WINDOW_DAYS {
            return Err(ShapeError {
                field: field.to_string(),
                message: format!("has {} values, the window has {WINDOW_DAYS} days", series.len()),
            });
        }
        let scope = self.scope(platform)?;
        // Align the last value on as-of: a short series covers the latest days.
        let first = WINDOW_DAYS - series.len();
        for (i, value) in series.iter().enumerate() {
            let Some(value) = value else { continue };
            self.points.push(MetricPoint {
                scope: scope.clone(),
                metric: self.renames.name(metric).to_string(),
                timestamp: self.days[first + i].clone(),
                value: *value,
            });
        }
        Ok(())
    }

    fn breakdown(&mut self, b: &Breakdown, m: [Metric; 4]) -> Result<(), ShapeError> {
        self.window(m[0], None, b.total)?;
        self.window(m[1], None, b.total_change)?;
        for (platform, v) in b.platforms.iter().flatten() {
            self.window(m[2], Some(platform), v.value)?;
            self.window(m[3], Some(platform), v.change)?;
        }
        Ok(())
    }

    fn platform_series(
        &mut self,
        map: &Option<BTreeMap<String, PlatformSeries>>,
        field: &str,
        daily: Metric,
        total: Metric,
    ) -> Result<(), ShapeError> {
        for (platform, s) in map.iter().flatten() {
            if let Some(series) = &s.series {
                self.daily(
                    daily,
                    Some(platform),
                    &format!("results.platformTotals.{field}.{platform}.series"),
                    series,
                )?;
            }
            self.window(total, Some(platform), s.total)?;
        }
        Ok(())
    }

    /// Adds every point the statistics hold.
    pub fn add(&mut self, s: &Statistics) -> Result<(), ShapeError> {
        use Metric::*;
        if let Some(t) = &s.totals {
            self.window(TotalsPosts, None, t.posts)?;
            self.window(TotalsLikes, None, t.likes)?;
            self.window(TotalsFollowers, None, t.followers)?;
            self.window(TotalsImpressions, None, t.impressions)?;
            self.window(TotalsComments, None, t.comments)?;
        }
        if let Some(p) = &s.post_performance {
            for (metric, series, name) in [
                (PostPerformanceImpressions, &p.impressions, "impressions"),
                (PostPerformanceLikes, &p.likes, "likes"),
                (PostPerformanceComments, &p.comments, "comments"),
            ] {
                if let Some(series) = series {
                    self.daily(metric, None, &format!("results.postPerformance.{name}"), series)?;
                }
            }
            for (platform, series) in p.posts.iter().flatten() {
                self.daily(
                    PostPerformancePosts,
                    Some(platform),
                    &format!("results.postPerformance.posts.{platform}"),
                    series,
                )?;
            }
        }
        if let Some(b) = &s.breakdowns {
            if let Some(x) = &b.posts {
                self.breakdown(
                    x,
                    [
                        BreakdownPostsTotal,
                        BreakdownPostsTotalChange,
                        BreakdownPostsValue,
                        BreakdownPostsChange,
                    ],
                )?;
            }
            if let Some(x) = &b.impressions {
                self.breakdown(
                    x,
                    [
                        BreakdownImpressionsTotal,
                        BreakdownImpressionsTotalChange,
                        BreakdownImpressionsValue,
                        BreakdownImpressionsChange,
                    ],
                )?;
            }
            if let Some(x) = &b.reach {
                self.breakdown(
                    x,
                    [
                        BreakdownReachTotal,
                        BreakdownReachTotalChange,
                        BreakdownReachValue,
                        BreakdownReachChange,
                    ],
                )?;
            }
            for (platform, e) in b.engagement.iter().flatten() {
                self.window(EngagementLikes, Some(platform), e.likes)?;
                self.window(EngagementComments, Some(platform), e.comments)?;
                self.window(EngagementShares, Some(platform), e.shares)?;
                self.window(EngagementChange, Some(platform), e.change)?;
            }
        }
        if let Some(p) = &s.platform_totals {
            self.platform_series(
                &p.impressions,
                "impressions",
                PlatformImpressions,
                PlatformImpressionsTotal,
            )?;
            self.platform_series(&p.followers, "followers", PlatformFollowers, PlatformFollowersTotal)?;
            self.platform_series(&p.likes, "likes", PlatformLikes, PlatformLikesTotal)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ghl::model::StatisticsEnvelope;

    fn spec_example() -> Statistics {
        let spec: serde_json::Value =
            serde_json::from_str(include_str!("../../../spec/social-media-posting.json")).unwrap();
        let example = &spec["paths"]["/social-media-posting/statistics"]["post"]["responses"]["201"]["content"]
            ["application/json"]["schema"]["example"];
        serde_json::from_value::<StatisticsEnvelope>(example.clone())
            .unwrap()
            .results
    }

    #[test]
    fn spec_example_becomes_daily_and_window_points() {
        let renames = MetricRenames::default();
        let as_of = parse_day("2026-11-28").unwrap();
        let mut b = PointBuilder::new("loc1", as_of, &renames).unwrap();
        b.add(&spec_example()).unwrap();
        let daily: Vec<_> = b
            .points
            .iter()
            .filter(|p| p.metric == "post_performance.impressions")
            .collect();
        assert_eq!(daily.len(), 7);
        assert_eq!(daily[0].timestamp, "2026-11-22T00:00:00Z");
        assert_eq!(daily[6].timestamp, "2026-11-28T00:00:00Z");
        assert!(daily.iter().all(|p| p.scope == "location:loc1"));
        let posts: Vec<_> = b
            .points
            .iter()
            .filter(|p| p.metric == "post_performance.posts")
            .collect();
        assert_eq!(posts.len(), 7);
        assert_eq!(posts[0].scope, "location:loc1/platform:google");
        let totals = b.points.iter().find(|p| p.metric == "totals.followers").unwrap();
        assert_eq!(totals.timestamp, "2026-11-29T00:00:00Z");
        // 3 location series + posts + 3 platform series = 7 series x 7 days;
        // 5 totals + 3x(2 + 2) breakdowns + 4 engagement + 3 platform totals.
        assert_eq!(b.points.len(), 7 * 7 + 5 + 12 + 4 + 3);
        let mut keys: Vec<_> = b.points.iter().map(|p| (&p.scope, &p.metric, &p.timestamp)).collect();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), b.points.len(), "no two points share a key");
    }

    #[test]
    fn renames_apply_and_bad_series_are_named() {
        let renames = MetricRenames::compile(&[("totals.likes".into(), "likes_7d".into())]).unwrap();
        let mut b = PointBuilder::new("l", parse_day("2024-03-01").unwrap(), &renames).unwrap();
        let mut s = spec_example();
        b.add(&s).unwrap();
        assert!(b.points.iter().any(|p| p.metric == "likes_7d"));
        // Leap year: 7 days ending 2024-03-01 start on 2024-02-24.
        assert!(b.points.iter().any(|p| p.timestamp == "2024-02-24T00:00:00Z"));
        let before = b.points.len();
        s.post_performance.as_mut().unwrap().likes = Some(vec![Some(1.0), None, Some(2.0)]);
        b.add(&s).unwrap();
        let likes: Vec<_> = b.points[before..]
            .iter()
            .filter(|p| p.metric == "post_performance.likes")
            .collect();
        assert_eq!(likes.len(), 2, "a null day is no point");
        assert_eq!(likes[0].timestamp, "2024-02-28T00:00:00Z");
        assert_eq!(likes[1].timestamp, "2024-03-01T00:00:00Z");
        s.post_performance.as_mut().unwrap().likes = Some(vec![Some(1.0); 9]);
        let e = b.add(&s).unwrap_err();
        assert_eq!(e.field, "results.postPerformance.likes");
    }

    #[test]
    fn dates() {
        assert!(parse_day("2026-02-30").is_err());
        assert!(parse_day("yesterday").is_err());
        for bad in [
            "2026-1-05",
            "2026-01-5",
            "+2026-01-05",
            "2026/01/05",
            "2026-00-05",
            "2026-13-05",
            "2026-01-00",
            "２026-01-05",
        ] {
            let e = parse_day(bad).unwrap_err();
            assert!(e.contains("YYYY-MM-DD"), "{bad}: {e}");
        }
        assert_eq!(parse_day("2024-02-29").unwrap().to_string(), "2024-02-29");
        assert_eq!(day_of(1_764_288_000_000).unwrap(), parse_day("2025-11-28").unwrap());
        assert_eq!(midnight(parse_day("2026-01-05").unwrap()), "2026-01-05T00:00:00Z");
    }
}
