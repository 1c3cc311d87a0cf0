//! The operations, the trigger and the check by their catalog names: what
//! the catalog lists, what the JSON forms and the routes of the `wasi:http`
//! component are named by, and what `check` takes as the operations to
//! prove access for.

/// An export of the `sync` interface that runs against GHL and Rankr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Operation {
    TagSync,
    TagDetailsPush,
    StatsSync,
    NewPosts,
    PostsPublished,
    Check,
}

/// An action runs when called and may write; a trigger is polled and emits
/// events; a check proves access and writes nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Action,
    Trigger,
    Check,
}

impl Kind {
    /// The name in the catalog.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Action => "action",
            Kind::Trigger => "trigger",
            Kind::Check => "check",
        }
    }
}

impl Operation {
    /// In the catalog's order.
    pub const ALL: [Operation; 6] = [
        Operation::TagSync,
        Operation::TagDetailsPush,
        Operation::StatsSync,
        Operation::NewPosts,
        Operation::PostsPublished,
        Operation::Check,
    ];

    /// The WIT export's name.
    pub fn name(self) -> &'static str {
        match self {
            Operation::TagSync => "tag-sync",
            Operation::TagDetailsPush => "tag-details-push",
            Operation::StatsSync => "stats-sync",
            Operation::NewPosts => "new-posts",
            Operation::PostsPublished => "posts-published",
            Operation::Check => "check",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.name() == name)
    }

    pub fn kind(self) -> Kind {
        match self {
            Operation::NewPosts | Operation::PostsPublished => Kind::Trigger,
            Operation::Check => Kind::Check,
            _ => Kind::Action,
        }
    }
}
