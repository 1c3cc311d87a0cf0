//! GHL response shapes, from the official OpenAPI file
//! (`spec/social-media-posting.json`). Only what the connector reads.

use serde::Deserialize;
use std::collections::BTreeMap;

/// `SocialMediaTagSchema`. The spec marks no field required; the connector
/// needs `_id` and treats every other field as optional.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct GhlTag {
    #[serde(rename = "_id")]
    pub id: String,
    #[serde(default)]
    pub tag: Option<String>,
    #[serde(default, rename = "locationId")]
    pub location_id: Option<String>,
    #[serde(default, rename = "createdBy")]
    pub created_by: Option<String>,
    #[serde(default)]
    pub deleted: Option<bool>,
    #[serde(default, rename = "createdAt")]
    pub created_at: Option<String>,
    #[serde(default, rename = "updatedAt")]
    pub updated_at: Option<String>,
}

/// The fields of `SocialMediaTagSchema`, by their JSON names (the lenient
/// reader and the mapping table both name fields through this).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagField {
    Id,
    Tag,
    LocationId,
    CreatedBy,
    Deleted,
    CreatedAt,
    UpdatedAt,
}

impl TagField {
    pub const ALL: [TagField; 7] = [
        TagField::Id,
        TagField::Tag,
        TagField::LocationId,
        TagField::CreatedBy,
        TagField::Deleted,
        TagField::CreatedAt,
        TagField::UpdatedAt,
    ];

    pub fn name(self) -> &'static str {
        match self {
            TagField::Id => "_id",
            TagField::Tag => "tag",
            TagField::LocationId => "locationId",
            TagField::CreatedBy => "createdBy",
            TagField::Deleted => "deleted",
            TagField::CreatedAt => "createdAt",
            TagField::UpdatedAt => "updatedAt",
        }
    }

    // Inlined into the key visitor, its one caller per key read: a call
    // in wasm also pays a stack and an epoch check (-0.9 M instructions
    // per 10,000 tags).
    #[inline(always)]
    pub fn from_name(name: &str) -> Option<Self> {
        // Guessed from the length and a byte or two, then compared once a
        // word at a time: this runs for every key of every tag read, and a
        // search comparing each name in turn is a byte loop per name in wasm.
        let b = name.as_bytes();
        let guess = match (b.len(), b.first(), b.get(7)) {
            (3, Some(b'_'), _) => TagField::Id,
            (3, _, _) => TagField::Tag,
            (7, _, _) => TagField::Deleted,
            (9, Some(b'u'), _) => TagField::UpdatedAt,
            (9, _, Some(b'B')) => TagField::CreatedBy,
            (9, _, _) => TagField::CreatedAt,
            (10, _, _) => TagField::LocationId,
            _ => return None,
        };
        crate::bytes::same(guess.name().as_bytes(), b).then_some(guess)
    }
}

/// A tag being read field by field. Both readers of a tags page (serde's
/// lenient visitor below and [`super::page_scan`]) fill it, so they put each
/// field in the same place and judge a tag alike.
#[derive(Default)]
pub(crate) struct TagParts {
    id: Option<String>,
    pub tag: GhlTag,
    seen: u8,
}

impl TagParts {
    /// Marks `field` read; false when it was read before (a key twice).
    #[inline]
    pub fn first(&mut self, field: TagField) -> bool {
        let bit = 1u8 << (field as u8);
        let new = self.seen & bit == 0;
        self.seen |= bit;
        new
    }

    /// Where a text field goes; `None` for `deleted`, the one flag.
    #[inline]
    pub fn text(&mut self, field: TagField) -> Option<&mut Option<String>> {
        Some(match field {
            TagField::Id => &mut self.id,
            TagField::Tag => &mut self.tag.tag,
            TagField::LocationId => &mut self.tag.location_id,
            TagField::CreatedBy => &mut self.tag.created_by,
            TagField::CreatedAt => &mut self.tag.created_at,
            TagField::UpdatedAt => &mut self.tag.updated_at,
            TagField::Deleted => return None,
        })
    }

    /// The element read: `wrong` when something was, else the tag when it
    /// has an `_id`.
    #[inline]
    pub fn finish(mut self, wrong: Option<String>) -> TagSlot {
        match (self.id, wrong) {
            (id, Some(why)) => TagSlot::Bad { id, why },
            (None, None) => TagSlot::Bad {
                id: None,
                why: "has no `_id`".into(),
            },
            (Some(id), None) => {
                self.tag.id = id;
                TagSlot::Tag(self.tag)
            }
        }
    }
}

/// `GetTagsByLocationIdResponseDTO` / `GetTagsByIdResponseDTO`. Each tag is
/// read leniently ([`TagSlot`]), so one bad tag is reported alone, not the
/// whole page.
#[derive(Debug, PartialEq, Deserialize)]
pub struct TagsEnvelope {
    pub results: TagsResults,
}

#[derive(Debug, PartialEq, Deserialize)]
pub struct TagsResults {
    #[serde(default)]
    pub tags: Vec<TagSlot>,
    #[serde(default)]
    pub count: Option<f64>,
}

/// One element of `results.tags`: a tag, or what is wrong with it. Fields
/// of the wrong type make the element a [`TagSlot::Bad`] while the page
/// reads on, in the same single pass (the tag's JSON is neither copied nor
/// parsed twice). Only JSON that is not JSON fails the page.
#[derive(Debug, PartialEq)]
pub enum TagSlot {
    Tag(GhlTag),
    /// The tag's `_id` when it had a readable one, and what is wrong.
    Bad {
        id: Option<String>,
        why: String,
    },
}

impl<'de> Deserialize<'de> for TagSlot {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(lenient::SlotVisitor)
    }
}

mod lenient {
    //! The visitors behind [`TagSlot`]: every JSON value is accepted and
    //! consumed; what does not fit `SocialMediaTagSchema` is named.

    use super::{TagField, TagParts, TagSlot};
    use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
    use std::fmt;

    /// A field's value: absent or null, the wanted type, or what it was.
    pub enum Loose<T> {
        Null,
        Is(T),
        Not(&'static str),
    }

    /// Visits any value; `found` names what was not wanted.
    macro_rules! found {
        ($($visit:ident($ty:ty) => $what:expr;)*) => {
            $(fn $visit<E: serde::de::Error>(self, _: $ty) -> Result<Self::Value, E> {
                Ok(Loose::Not($what))
            })*
            fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
                Ok(Loose::Null)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Loose::Not("an array"))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Loose::Not("an object"))
            }
        };
    }

    struct TextVisitor;
    impl<'de> Visitor<'de> for TextVisitor {
        type Value = Loose<String>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("any JSON value")
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Loose::Is(crate::bytes::owned(v)))
        }
        fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Self::Value, E> {
            Ok(Loose::Is(v))
        }
        found! {
            visit_bool(bool) => "true/false";
            visit_i64(i64) => "a number";
            visit_u64(u64) => "a number";
            visit_f64(f64) => "a number";
        }
    }

    impl<'de> Deserialize<'de> for Loose<String> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_any(TextVisitor)
        }
    }

    struct FlagVisitor;
    impl<'de> Visitor<'de> for FlagVisitor {
        type Value = Loose<bool>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("any JSON value")
        }
        fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Self::Value, E> {
            Ok(Loose::Is(v))
        }
        found! {
            visit_str(&str) => "a string";
            visit_i64(i64) => "a number";
            visit_u64(u64) => "a number";
            visit_f64(f64) => "a number";
        }
    }

    impl<'de> Deserialize<'de> for Loose<bool> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_any(FlagVisitor)
        }
    }

    /// A field of the schema, or `None` for a key it does not have.
    struct Key(Option<TagField>);

    struct KeyVisitor;
    impl Visitor<'_> for KeyVisitor {
        type Value = Key;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a field name")
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Key, E> {
            Ok(Key(TagField::from_name(v)))
        }
    }

    impl<'de> Deserialize<'de> for Key {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_identifier(KeyVisitor)
        }
    }

    pub struct SlotVisitor;

    impl SlotVisitor {
        fn not_an_object<E>(what: &str) -> Result<TagSlot, E> {
            Ok(TagSlot::Bad {
                id: None,
                why: format!("is {what}, not a tag object"),
            })
        }
    }

    impl<'de> Visitor<'de> for SlotVisitor {
        type Value = TagSlot;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a tag object")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<TagSlot, A::Error> {
            let mut parts = TagParts::default();
            let mut wrong: Option<String> = None;
            while let Some(Key(key)) = map.next_key::<Key>()? {
                let Some(key) = key else {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                };
                if !parts.first(key) {
                    map.next_value::<IgnoredAny>()?;
                    wrong.get_or_insert_with(|| format!("`{}` appears twice", key.name()));
                    continue;
                }
                let Some(slot) = parts.text(key) else {
                    match map.next_value::<Loose<bool>>()? {
                        Loose::Is(b) => parts.tag.deleted = Some(b),
                        Loose::Null => {}
                        Loose::Not(what) => {
                            wrong.get_or_insert_with(|| format!("`deleted` is {what}, not true/false"));
                        }
                    }
                    continue;
                };
                match map.next_value::<Loose<String>>()? {
                    Loose::Is(s) => *slot = Some(s),
                    Loose::Null => {}
                    Loose::Not(what) => {
                        wrong.get_or_insert_with(|| format!("`{}` is {what}, not a string", key.name()));
                    }
                }
            }
            Ok(parts.finish(wrong))
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<TagSlot, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Self::not_an_object("an array")
        }
        fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<TagSlot, E> {
            Self::not_an_object("a string")
        }
        fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<TagSlot, E> {
            Self::not_an_object("true/false")
        }
        fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<TagSlot, E> {
            Self::not_an_object("a number")
        }
        fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<TagSlot, E> {
            Self::not_an_object("a number")
        }
        fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<TagSlot, E> {
            Self::not_an_object("a number")
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<TagSlot, E> {
            Self::not_an_object("null")
        }
    }
}

/// `GetPostSuccessfulResponseDTO`, reduced to the post's tag ids.
#[derive(Debug, Deserialize)]
pub struct PostEnvelope {
    pub results: PostResults,
}

#[derive(Debug, Deserialize)]
pub struct PostResults {
    pub post: Post,
}

#[derive(Debug, Deserialize)]
pub struct Post {
    #[serde(default)]
    pub tags: Option<Vec<String>>,
}

/// The 201 answer of `get-social-media-statistics`.
#[derive(Debug, Deserialize)]
pub struct StatisticsEnvelope {
    pub results: Statistics,
}

/// `results` of the statistics answer: last 7 days.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Statistics {
    #[serde(default)]
    pub day_range: Option<Vec<String>>,
    #[serde(default)]
    pub totals: Option<Totals>,
    #[serde(default)]
    pub post_performance: Option<PostPerformance>,
    #[serde(default)]
    pub breakdowns: Option<Breakdowns>,
    #[serde(default)]
    pub platform_totals: Option<PlatformTotals>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Totals {
    pub posts: Option<f64>,
    pub likes: Option<f64>,
    pub followers: Option<f64>,
    pub impressions: Option<f64>,
    pub comments: Option<f64>,
}

/// A daily series, oldest first. A `null` day is a day without data: it
/// becomes no point (not a zero).
pub type Series = Vec<Option<f64>>;

/// Daily series: location-wide for impressions, likes and comments; per
/// platform for posts.
#[derive(Debug, Default, Deserialize)]
pub struct PostPerformance {
    pub posts: Option<BTreeMap<String, Series>>,
    pub impressions: Option<Series>,
    pub likes: Option<Series>,
    pub comments: Option<Series>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Breakdown {
    pub total: Option<f64>,
    pub total_change: Option<f64>,
    pub platforms: Option<BTreeMap<String, PlatformValue>>,
}

#[derive(Debug, Default, Deserialize)]
pub struct PlatformValue {
    pub value: Option<f64>,
    pub change: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Engagement {
    pub likes: Option<f64>,
    pub comments: Option<f64>,
    pub shares: Option<f64>,
    pub change: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Breakdowns {
    pub posts: Option<Breakdown>,
    pub impressions: Option<Breakdown>,
    pub reach: Option<Breakdown>,
    pub engagement: Option<BTreeMap<String, Engagement>>,
}

#[derive(Debug, Default, Deserialize)]
pub struct PlatformSeries {
    pub total: Option<f64>,
    pub series: Option<Series>,
}

#[derive(Debug, Default, Deserialize)]
pub struct PlatformTotals {
    pub impressions: Option<BTreeMap<String, PlatformSeries>>,
    pub followers: Option<BTreeMap<String, PlatformSeries>>,
    pub likes: Option<BTreeMap<String, PlatformSeries>>,
}

/// GHL error bodies (`BadRequestDTO`, `UnauthorizedDTO`, `UnprocessableDTO`):
/// `message` is a string or, for 422, a list of strings.
#[derive(Debug, Deserialize)]
pub struct GhlErrorBody {
    #[serde(default)]
    pub message: Option<serde_json::Value>,
    #[serde(default)]
    pub error: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::TagField;

    #[test]
    fn field_names_round_trip() {
        for f in TagField::ALL {
            assert_eq!(TagField::from_name(f.name()), Some(f));
        }
        let near = [
            "_ix",
            "taG",
            "deletex",
            "createdAx",
            "createdBX",
            "updatedBy",
            "xpdatedAt",
            "locationIx",
        ];
        for other in ["", "id", "_ID", "tags", "locationid", "deleted "]
            .into_iter()
            .chain(near)
        {
            assert_eq!(TagField::from_name(other), None, "{other}");
        }
    }
}
