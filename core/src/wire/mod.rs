//! The JSON forms of the operations' inputs and outputs: what the catalog
//! (`describe`) documents with JSON Schemas, and what a platform that speaks
//! JSON rather than WIT sends and receives. Field names are the WIT names
//! (kebab-case); an `option` may be absent or `null`; a `variant` is an
//! object with one key (`{"api-key": "..."}`), or its name alone when it
//! carries nothing (`"trim"`).
//!
//! Reading is strict: an unknown key, a wrong type or a value out of range
//! is `invalid-config`, with the JSON path of the offending field.

mod input;
mod output;

pub use input::{parse_event, parse_settings, Event};
pub use output::{failure_json, new_posts_json, report_json};

/// The operations and the trigger, as the catalog names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    TagSync,
    TagDetailsPush,
    StatsSync,
    NewPosts,
}

/// An action runs when called; a trigger is polled and emits events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Action,
    Trigger,
}

impl Operation {
    pub const ALL: [Operation; 4] = [
        Operation::TagSync,
        Operation::TagDetailsPush,
        Operation::StatsSync,
        Operation::NewPosts,
    ];

    /// The WIT export's name.
    pub fn name(self) -> &'static str {
        match self {
            Operation::TagSync => "tag-sync",
            Operation::TagDetailsPush => "tag-details-push",
            Operation::StatsSync => "stats-sync",
            Operation::NewPosts => "new-posts",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.name() == name)
    }

    pub fn kind(self) -> Kind {
        match self {
            Operation::NewPosts => Kind::Trigger,
            _ => Kind::Action,
        }
    }
}
