//! The metrics the connector derives from GHL statistics. Names are stable:
//! they are what Rankr dashboards see unless a rename table says otherwise.

macro_rules! metrics {
    ($($variant:ident => $name:literal, $kind:ident;)*) => {
        /// A metric the connector writes.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
        pub enum Metric { $($variant,)* }

        impl Metric {
            /// Every metric, in a fixed order.
            pub const ALL: &'static [Metric] = &[$(Metric::$variant,)*];

            /// The canonical name.
            pub fn as_str(self) -> &'static str {
                match self { $(Metric::$variant => $name,)* }
            }

            /// Daily series point, or a whole-window value.
            pub fn kind(self) -> Kind {
                match self { $(Metric::$variant => Kind::$kind,)* }
            }

            /// The metric of that canonical name.
            pub fn parse(name: &str) -> Option<Metric> {
                Metric::ALL.iter().copied().find(|m| m.as_str() == name)
            }
        }
    };
}

/// Whether a point is one day of a series or a value for the whole window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Daily,
    Window,
}

metrics! {
    PostPerformanceImpressions => "post_performance.impressions", Daily;
    PostPerformanceLikes => "post_performance.likes", Daily;
    PostPerformanceComments => "post_performance.comments", Daily;
    PostPerformancePosts => "post_performance.posts", Daily;
    PlatformImpressions => "platform_totals.impressions", Daily;
    PlatformFollowers => "platform_totals.followers", Daily;
    PlatformLikes => "platform_totals.likes", Daily;
    PlatformImpressionsTotal => "platform_totals.impressions.total", Window;
    PlatformFollowersTotal => "platform_totals.followers.total", Window;
    PlatformLikesTotal => "platform_totals.likes.total", Window;
    TotalsPosts => "totals.posts", Window;
    TotalsLikes => "totals.likes", Window;
    TotalsFollowers => "totals.followers", Window;
    TotalsImpressions => "totals.impressions", Window;
    TotalsComments => "totals.comments", Window;
    BreakdownPostsTotal => "breakdowns.posts.total", Window;
    BreakdownPostsTotalChange => "breakdowns.posts.total_change", Window;
    BreakdownPostsValue => "breakdowns.posts.value", Window;
    BreakdownPostsChange => "breakdowns.posts.change", Window;
    BreakdownImpressionsTotal => "breakdowns.impressions.total", Window;
    BreakdownImpressionsTotalChange => "breakdowns.impressions.total_change", Window;
    BreakdownImpressionsValue => "breakdowns.impressions.value", Window;
    BreakdownImpressionsChange => "breakdowns.impressions.change", Window;
    BreakdownReachTotal => "breakdowns.reach.total", Window;
    BreakdownReachTotalChange => "breakdowns.reach.total_change", Window;
    BreakdownReachValue => "breakdowns.reach.value", Window;
    BreakdownReachChange => "breakdowns.reach.change", Window;
    EngagementLikes => "breakdowns.engagement.likes", Window;
    EngagementComments => "breakdowns.engagement.comments", Window;
    EngagementShares => "breakdowns.engagement.shares", Window;
    EngagementChange => "breakdowns.engagement.change", Window;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_parse_back() {
        let mut names: Vec<&str> = Metric::ALL.iter().map(|m| m.as_str()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), Metric::ALL.len());
        for m in Metric::ALL {
            assert_eq!(Metric::parse(m.as_str()), Some(*m));
        }
    }
}
