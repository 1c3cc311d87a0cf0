//! The field mapping tables: tags (GHL -> Rankr `TagInput`) and metric renames.

pub mod metrics;
pub mod tags;
pub mod transform;

pub use metrics::MetricRenames;
pub use tags::{default_table, MappingRow, TagMapping};
pub use transform::Transform;
