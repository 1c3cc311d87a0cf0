//! The tag field mapping table: GHL `SocialMediaTagSchema` -> Rankr `TagInput`.
//! A table is checked once, before any request, and then applied per tag.

use super::transform::Transform;
use crate::ghl::model::GhlTag;
use crate::rankr::model::{AttrValue, TagInput, SOURCE};
use std::collections::BTreeMap;

/// One row as given: `source -> target`, then the transforms in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingRow {
    pub source: String,
    pub target: String,
    pub transforms: Vec<Transform>,
}

impl MappingRow {
    /// Shorthand for building tables in code.
    pub fn new(source: &str, target: &str, transforms: Vec<Transform>) -> Self {
        MappingRow {
            source: source.into(),
            target: target.into(),
            transforms,
        }
    }
}

/// Fields of GHL's `SocialMediaTagSchema` (named by the model).
pub use crate::ghl::model::TagField as SourceField;

impl SourceField {
    fn is_bool(self) -> bool {
        self == SourceField::Deleted
    }

    /// The field's value: moved out of the tag when `last` (no later row
    /// reads it), else copied. The id is always copied: the caller keys the
    /// state by it.
    fn read(self, tag: &mut GhlTag, last: bool) -> Option<Value> {
        let text = |field: &mut Option<String>| if last { field.take() } else { field.clone() }.map(Value::Text);
        match self {
            SourceField::Id => Some(Value::Text(tag.id.clone())),
            SourceField::Tag => text(&mut tag.tag),
            SourceField::LocationId => text(&mut tag.location_id),
            SourceField::CreatedBy => text(&mut tag.created_by),
            SourceField::Deleted => tag.deleted.map(Value::Bool),
            SourceField::CreatedAt => text(&mut tag.created_at),
            SourceField::UpdatedAt => text(&mut tag.updated_at),
        }
    }
}

/// Fields of Rankr's `TagInput`; anything else is an attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetField {
    ExternalId,
    Name,
    LocationId,
    Archived,
    SourceCreatedAt,
    SourceUpdatedAt,
    Attribute(String),
}

impl TargetField {
    fn parse(name: &str) -> Result<Self, String> {
        Ok(match name {
            "externalId" => TargetField::ExternalId,
            "name" => TargetField::Name,
            "locationId" => TargetField::LocationId,
            "archived" => TargetField::Archived,
            "sourceCreatedAt" => TargetField::SourceCreatedAt,
            "sourceUpdatedAt" => TargetField::SourceUpdatedAt,
            "source" | "attributes" => return Err(format!("`{name}` cannot be a target (use `attributes.<key>`)")),
            other => {
                let key = other.strip_prefix("attributes.").unwrap_or(other);
                if key.is_empty() || key.len() > 128 || key.chars().any(char::is_control) {
                    return Err(format!("`{other}` is not a usable attribute key"));
                }
                TargetField::Attribute(key.to_string())
            }
        })
    }

    fn canonical(&self) -> String {
        match self {
            TargetField::ExternalId => "externalId".into(),
            TargetField::Name => "name".into(),
            TargetField::LocationId => "locationId".into(),
            TargetField::Archived => "archived".into(),
            TargetField::SourceCreatedAt => "sourceCreatedAt".into(),
            TargetField::SourceUpdatedAt => "sourceUpdatedAt".into(),
            TargetField::Attribute(k) => format!("attributes.{k}"),
        }
    }

    fn wants_bool(&self) -> bool {
        *self == TargetField::Archived
    }

    fn takes_any(&self) -> bool {
        matches!(self, TargetField::Attribute(_))
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Value {
    Text(String),
    Bool(bool),
}

#[derive(Debug, Clone)]
struct CompiledRow {
    source: SourceField,
    /// No later row reads `source`.
    last_reader: bool,
    source_name: String,
    target: TargetField,
    transforms: Vec<Transform>,
}

/// A checked mapping table.
#[derive(Debug, Clone)]
pub struct TagMapping {
    rows: Vec<CompiledRow>,
}

/// The table used when settings give none.
pub fn default_table() -> Vec<MappingRow> {
    vec![
        MappingRow::new("_id", "externalId", vec![]),
        MappingRow::new("tag", "name", vec![Transform::Trim]),
        MappingRow::new("locationId", "locationId", vec![]),
        MappingRow::new("deleted", "archived", vec![]),
        MappingRow::new("createdAt", "sourceCreatedAt", vec![]),
        MappingRow::new("updatedAt", "sourceUpdatedAt", vec![]),
        MappingRow::new("createdBy", "attributes.createdBy", vec![]),
    ]
}

impl TagMapping {
    /// Checks a table; an empty table means [`default_table`]. The error names
    /// the row (1-based) and says what to fix.
    pub fn compile(rows: &[MappingRow]) -> Result<Self, String> {
        let defaults;
        let rows = if rows.is_empty() {
            defaults = default_table();
            &defaults[..]
        } else {
            rows
        };
        let mut compiled: Vec<CompiledRow> = Vec::with_capacity(rows.len());
        for (i, row) in rows.iter().enumerate() {
            let at = format!("tag-mapping row {} (`{} -> {}`)", i + 1, row.source, row.target);
            let source = SourceField::from_name(&row.source).ok_or_else(|| {
                let known: Vec<&str> = SourceField::ALL.iter().map(|f| f.name()).collect();
                format!(
                    "{at}: unknown source field `{}`; GHL tags have {}",
                    row.source,
                    known.join(", ")
                )
            })?;
            let target = TargetField::parse(&row.target).map_err(|e| format!("{at}: {e}"))?;
            if let Some(prev) = compiled.iter().position(|c| c.target == target) {
                return Err(format!(
                    "{at}: target `{}` is already set by row {}; each target may appear once",
                    target.canonical(),
                    prev + 1
                ));
            }
            if source.is_bool() && !(target.wants_bool() || target.takes_any()) {
                return Err(format!(
                    "{at}: `{}` is true/false but `{}` needs text",
                    row.source,
                    target.canonical()
                ));
            }
            if !source.is_bool() && target.wants_bool() {
                return Err(format!(
                    "{at}: `{}` needs true/false; map `deleted` to it",
                    target.canonical()
                ));
            }
            for t in &row.transforms {
                t.check().map_err(|e| format!("{at}: {e}"))?;
                if source.is_bool() {
                    return Err(format!(
                        "{at}: transform `{}` works on text, `{}` is true/false",
                        t.name(),
                        row.source
                    ));
                }
            }
            compiled.push(CompiledRow {
                source,
                last_reader: !rows[i + 1..].iter().any(|r| r.source == row.source),
                source_name: row.source.clone(),
                target,
                transforms: row.transforms.clone(),
            });
        }
        for (needed, why) in [
            (TargetField::ExternalId, "Rankr keys tags by it"),
            (TargetField::Name, "Rankr requires it"),
        ] {
            if !compiled.iter().any(|c| c.target == needed) {
                return Err(format!(
                    "tag-mapping has no row with target `{}` ({why}); add one, e.g. `{} -> {}`",
                    needed.canonical(),
                    if needed == TargetField::ExternalId {
                        "_id"
                    } else {
                        "tag"
                    },
                    needed.canonical()
                ));
            }
        }
        Ok(TagMapping { rows: compiled })
    }

    /// Maps one tag. `location_id` fills `locationId` when no row sets it.
    /// The error says why this tag cannot be sent; other tags go on. The
    /// fields read are moved out of `tag`; its id stays.
    pub fn apply(&self, tag: &mut GhlTag, location_id: &str) -> Result<TagInput, String> {
        let mut input = TagInput {
            external_id: String::new(),
            source: SOURCE,
            location_id: String::new(),
            name: String::new(),
            archived: false,
            source_created_at: None,
            source_updated_at: None,
            attributes: BTreeMap::new(),
        };
        for row in &self.rows {
            let value = match row.source.read(tag, row.last_reader) {
                Some(Value::Bool(b)) => Some(Value::Bool(b)),
                other => {
                    // Steps run on a missing value too: `default` may fill it.
                    let start = match other {
                        Some(Value::Text(t)) => Some(t),
                        _ => None,
                    };
                    row.transforms
                        .iter()
                        .fold(start, |v, step| step.apply(v))
                        .map(Value::Text)
                }
            };
            let text = |v: Option<Value>| match v {
                Some(Value::Text(t)) => Some(t),
                _ => None,
            };
            match &row.target {
                TargetField::ExternalId => input.external_id = text(value).unwrap_or_default(),
                TargetField::Name => input.name = text(value).unwrap_or_default(),
                TargetField::LocationId => input.location_id = text(value).unwrap_or_default(),
                TargetField::Archived => input.archived = matches!(value, Some(Value::Bool(true))),
                TargetField::SourceCreatedAt => input.source_created_at = text(value).filter(|s| !s.is_empty()),
                TargetField::SourceUpdatedAt => input.source_updated_at = text(value).filter(|s| !s.is_empty()),
                TargetField::Attribute(key) => match value {
                    Some(Value::Text(t)) => {
                        input.attributes.insert(key.clone(), AttrValue::Text(t));
                    }
                    Some(Value::Bool(b)) => {
                        input.attributes.insert(key.clone(), AttrValue::Bool(b));
                    }
                    None => {}
                },
            }
        }
        if input.location_id.is_empty() {
            input.location_id = location_id.to_string();
        }
        let source_of = |t: TargetField| {
            self.rows
                .iter()
                .find(|r| r.target == t)
                .map(|r| r.source_name.as_str())
                .unwrap_or("?")
        };
        if input.external_id.is_empty() {
            return Err(format!(
                "externalId is empty after mapping (from `{}`)",
                source_of(TargetField::ExternalId)
            ));
        }
        if longer_than(&input.external_id, 128) {
            return Err("externalId is longer than Rankr's 128 characters".into());
        }
        if input.name.is_empty() {
            return Err(format!(
                "name is empty after mapping (from `{}`); add a `default` transform to name such tags",
                source_of(TargetField::Name)
            ));
        }
        if longer_than(&input.name, 100) {
            let len = input.name.chars().count();
            return Err(format!(
                "name is {len} characters, Rankr takes at most 100; add a `truncate(100)` transform"
            ));
        }
        Ok(input)
    }
}

/// More than `n` characters; a string of at most `n` bytes is not counted.
fn longer_than(s: &str, n: usize) -> bool {
    s.len() > n && s.chars().count() > n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longer_than_counts_characters_not_bytes() {
        assert!(!longer_than("", 0));
        assert!(longer_than("a", 0));
        assert!(!longer_than(&"é".repeat(100), 100)); // 200 bytes, 100 characters
        assert!(longer_than(&"é".repeat(101), 100));
        assert!(!longer_than(&"a".repeat(100), 100));
        assert!(longer_than(&"a".repeat(101), 100));
    }

    fn tag() -> GhlTag {
        GhlTag {
            id: "t1".into(),
            tag: Some("  Summer Sale ".into()),
            location_id: Some("loc".into()),
            created_by: Some("u1".into()),
            deleted: Some(true),
            created_at: Some("2024-01-01T00:00:00.000Z".into()),
            updated_at: None,
        }
    }

    #[test]
    fn default_table_maps_every_field() {
        let m = TagMapping::compile(&[]).unwrap();
        let t = m.apply(&mut tag(), "fallback").unwrap();
        assert_eq!(t.external_id, "t1");
        assert_eq!(t.name, "Summer Sale");
        assert_eq!(t.location_id, "loc");
        assert!(t.archived);
        assert_eq!(t.source_created_at.as_deref(), Some("2024-01-01T00:00:00.000Z"));
        assert_eq!(t.source_updated_at, None);
        assert_eq!(t.attributes.get("createdBy"), Some(&AttrValue::Text("u1".into())));
        let json = serde_json::to_value(&t).unwrap();
        assert_eq!(json["source"], "ghl");
        assert!(json.get("sourceUpdatedAt").is_none());
    }

    #[test]
    fn custom_table_with_transforms_and_bare_attribute() {
        let rows = vec![
            MappingRow::new("_id", "externalId", vec![Transform::Prefix("ghl-".into())]),
            MappingRow::new("tag", "name", vec![Transform::Slugify]),
            MappingRow::new("deleted", "isDeleted", vec![]),
            MappingRow::new(
                "updatedAt",
                "attributes.updated",
                vec![Transform::Default("never".into())],
            ),
        ];
        let m = TagMapping::compile(&rows).unwrap();
        let t = m.apply(&mut tag(), "fallback").unwrap();
        assert_eq!(t.external_id, "ghl-t1");
        assert_eq!(t.name, "summer-sale");
        assert_eq!(t.location_id, "fallback");
        assert!(!t.archived);
        assert_eq!(t.attributes.get("isDeleted"), Some(&AttrValue::Bool(true)));
        assert_eq!(t.attributes.get("updated"), Some(&AttrValue::Text("never".into())));
    }

    /// A field read by two rows reaches both (the last reader moves it out).
    #[test]
    fn one_source_feeds_two_targets() {
        let rows = vec![
            MappingRow::new("_id", "externalId", vec![]),
            MappingRow::new("tag", "attributes.raw", vec![]),
            MappingRow::new("tag", "name", vec![Transform::Lowercase]),
            MappingRow::new("_id", "attributes.ghlId", vec![]),
        ];
        let m = TagMapping::compile(&rows).unwrap();
        let mut t = tag();
        let out = m.apply(&mut t, "l").unwrap();
        assert_eq!(out.name, "  summer sale ");
        assert_eq!(
            out.attributes.get("raw"),
            Some(&AttrValue::Text("  Summer Sale ".into()))
        );
        assert_eq!(out.attributes.get("ghlId"), Some(&AttrValue::Text("t1".into())));
        assert_eq!(t.id, "t1", "the id stays for the caller");
    }

    #[test]
    fn bad_tables_are_refused_naming_the_row() {
        let e = TagMapping::compile(&[MappingRow::new("nope", "name", vec![])]).unwrap_err();
        assert!(e.contains("row 1") && e.contains("unknown source field `nope`"), "{e}");
        let e = TagMapping::compile(&[MappingRow::new("tag", "name", vec![])]).unwrap_err();
        assert!(e.contains("no row with target `externalId`"), "{e}");
        let e = TagMapping::compile(&[MappingRow::new("_id", "externalId", vec![])]).unwrap_err();
        assert!(e.contains("target `name`"), "{e}");
        let e = TagMapping::compile(&[
            MappingRow::new("_id", "externalId", vec![]),
            MappingRow::new("tag", "name", vec![]),
            MappingRow::new("createdBy", "name", vec![]),
        ])
        .unwrap_err();
        assert!(e.contains("row 3") && e.contains("already set by row 2"), "{e}");
        let e = TagMapping::compile(&[
            MappingRow::new("_id", "externalId", vec![]),
            MappingRow::new("tag", "name", vec![]),
            MappingRow::new("createdBy", "attributes.x", vec![]),
            MappingRow::new("locationId", "x", vec![]),
        ])
        .unwrap_err();
        assert!(e.contains("row 4") && e.contains("attributes.x"), "{e}");
        let e = TagMapping::compile(&[MappingRow::new("deleted", "name", vec![])]).unwrap_err();
        assert!(e.contains("row 1") && e.contains("needs text"), "{e}");
        let e = TagMapping::compile(&[MappingRow::new("tag", "name", vec![Transform::Truncate(0)])]).unwrap_err();
        assert!(e.contains("row 1") && e.contains("truncate"), "{e}");
        let e = TagMapping::compile(&[MappingRow::new("_id", "source", vec![])]).unwrap_err();
        assert!(e.contains("cannot be a target"), "{e}");
    }

    #[test]
    fn unusable_tags_are_item_errors() {
        let m = TagMapping::compile(&[]).unwrap();
        let mut t = tag();
        t.tag = Some("   ".into());
        assert!(m.apply(&mut t.clone(), "l").unwrap_err().contains("name is empty"));
        t.tag = Some("x".repeat(101));
        assert!(m.apply(&mut t.clone(), "l").unwrap_err().contains("truncate(100)"));
        t.tag = None;
        assert!(m.apply(&mut t.clone(), "l").is_err());
    }
}
