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
pub use output::{check_json, failure_json, new_posts_json, published_posts_json, report_json};

/// The operations by their catalog names (defined beside them, in `ops`).
pub use crate::ops::{Kind, Operation};
