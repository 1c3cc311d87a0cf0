//! The tag field mapping table (GHL `SocialMediaTagSchema` -> Rankr
//! `TagInput`) and its transforms.

pub mod tags;
pub mod transform;

pub use tags::{default_table, MappingRow, TagMapping};
pub use transform::Transform;
