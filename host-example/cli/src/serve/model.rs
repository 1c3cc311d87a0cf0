//! The service's vocabulary: operations, what started a run, how it ended.

use std::fmt;

/// An operation the service runs for a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Op {
    NewPosts,
    TagSync,
    TagDetailsPush,
    StatsSync,
    /// The trigger of posts going live, which queues follow-up statistics.
    PostsPublished,
    /// The connection test: reads only.
    Check,
}

impl Op {
    pub const ALL: [Op; 6] = [
        Op::NewPosts,
        Op::TagSync,
        Op::TagDetailsPush,
        Op::StatsSync,
        Op::PostsPublished,
        Op::Check,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Op::NewPosts => "new-posts",
            Op::TagSync => "tag-sync",
            Op::TagDetailsPush => "tag-details-push",
            Op::StatsSync => "stats-sync",
            Op::PostsPublished => "posts-published",
            Op::Check => "check",
        }
    }

    pub fn parse(name: &str) -> Option<Op> {
        Op::ALL.into_iter().find(|op| op.as_str() == name)
    }

    /// The state slot the operation reads and writes: `tag-details-push`
    /// updates the same tag state as `tag-sync`; the check keeps none.
    pub fn state_slot(self) -> Option<&'static str> {
        match self {
            Op::NewPosts => Some("new-posts"),
            Op::TagSync | Op::TagDetailsPush => Some("tags"),
            Op::StatsSync => Some("stats"),
            Op::PostsPublished => Some("published"),
            Op::Check => None,
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What started a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    Schedule,
    /// A post the trigger found, from the queue.
    Queue,
    /// `POST /connections/{name}/run/{operation}`.
    Event,
    /// Statistics due after posts went live.
    FollowUp,
    /// The connection test at start.
    Start,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Schedule => "schedule",
            Trigger::Queue => "queue",
            Trigger::Event => "event",
            Trigger::FollowUp => "follow-up",
            Trigger::Start => "start",
        }
    }

    pub fn parse(name: &str) -> Option<Trigger> {
        [
            Trigger::Schedule,
            Trigger::Queue,
            Trigger::Event,
            Trigger::FollowUp,
            Trigger::Start,
        ]
        .into_iter()
        .find(|t| t.as_str() == name)
    }
}

impl fmt::Display for Trigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a run is, or how it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// An event's run, waiting for its connection.
    Queued,
    Running,
    Ok,
    /// Stopped at its deadline or budget with a checkpoint; continues next.
    Incomplete,
    Failed,
    /// The process stopped (or died) while it ran; its last committed
    /// checkpoint stands.
    Interrupted,
}

impl Outcome {
    pub const ALL: [Outcome; 6] = [
        Outcome::Queued,
        Outcome::Running,
        Outcome::Ok,
        Outcome::Incomplete,
        Outcome::Failed,
        Outcome::Interrupted,
    ];

    pub fn parse(name: &str) -> Option<Outcome> {
        Outcome::ALL.into_iter().find(|o| o.as_str() == name)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Queued => "queued",
            Outcome::Running => "running",
            Outcome::Ok => "ok",
            Outcome::Incomplete => "incomplete",
            Outcome::Failed => "failed",
            Outcome::Interrupted => "interrupted",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The optional JSON body of `POST /connections/{name}/run/{operation}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct EventInput {
    /// Acknowledged once: a repeat within 24 h is not run again (the
    /// `Idempotency-Key` header is the same thing).
    #[serde(default, skip_serializing)]
    pub event_id: Option<String>,
    /// `tag-sync`: the post whose tags to apply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_id: Option<String>,
    /// `tag-details-push` (required) and `tag-sync` (the post's tags).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag_ids: Option<Vec<String>>,
    /// `stats-sync`: the last day of its window, YYYY-MM-DD.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_of: Option<String>,
}
