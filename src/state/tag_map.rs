//! The per-tag entries of a state, keyed by GHL tag id.
//!
//! Ordered by a fixed hash of the id, then the id: a lookup compares one
//! `u64` per tree level instead of two strings. GHL ids share long prefixes
//! (ObjectIds start with a timestamp), and in wasm a string comparison is a
//! byte loop: with a `BTreeMap<String, _>` the comparisons were 15% of the
//! component's instructions per tag (callgrind, see BENCHMARKS.md). The
//! order stays deterministic, so equal states encode to equal blobs.

use super::TagEntry;
use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;
use std::fmt;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TagMap(BTreeMap<(u64, String), TagEntry>);

/// An id's place in the map: FNV-1a 64 of the id (fixed, so the order is
/// the same in every run; a collision only costs a string comparison).
/// Computed once per tag read and carried along, so the sync's lookups,
/// its insert and its confirmation do not hash the id again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IdHash(u64);

impl IdHash {
    pub fn of(id: &str) -> Self {
        IdHash(crate::ops::fnv1a(&[id.as_bytes()]))
    }

    /// Any value, to make collisions in tests.
    #[cfg(test)]
    pub fn forged(v: u64) -> Self {
        IdHash(v)
    }
}

impl TagMap {
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The first key with this hash; `String::new()` does not allocate.
    fn from(h: IdHash) -> (u64, String) {
        (h.0, String::new())
    }

    pub fn get(&self, id: &str) -> Option<&TagEntry> {
        let h = IdHash::of(id);
        self.0
            .range(Self::from(h)..)
            .take_while(|((kh, _), _)| *kh == h.0)
            .find(|((_, k), _)| crate::bytes::same(k.as_bytes(), id.as_bytes()))
            .map(|(_, e)| e)
    }

    pub fn get_mut(&mut self, id: &str) -> Option<&mut TagEntry> {
        self.get_mut_at(IdHash::of(id), id)
    }

    /// [`Self::get_mut`] with the id's hash already known.
    pub fn get_mut_at(&mut self, h: IdHash, id: &str) -> Option<&mut TagEntry> {
        self.0
            .range_mut(Self::from(h)..)
            .take_while(|((kh, _), _)| *kh == h.0)
            .find(|((_, k), _)| crate::bytes::same(k.as_bytes(), id.as_bytes()))
            .map(|(_, e)| e)
    }

    pub fn insert(&mut self, id: String, entry: TagEntry) -> Option<TagEntry> {
        self.0.insert((IdHash::of(&id).0, id), entry)
    }

    /// The entry of `id` (whose hash is `h`), made with `make` when there is none.
    pub fn get_or_insert_at(&mut self, h: IdHash, id: String, make: impl FnOnce() -> TagEntry) -> &mut TagEntry {
        debug_assert_eq!(h, IdHash::of(&id));
        self.0.entry((h.0, id)).or_insert_with(make)
    }

    pub fn remove(&mut self, id: &str) -> Option<TagEntry> {
        self.0.remove(&(IdHash::of(id).0, id.to_string()))
    }

    /// Entries in the map's (hash) order.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &TagEntry)> {
        self.0.iter().map(|((_, id), e)| (id, e))
    }
}

impl FromIterator<(String, TagEntry)> for TagMap {
    fn from_iter<I: IntoIterator<Item = (String, TagEntry)>>(entries: I) -> Self {
        let mut map = TagMap::default();
        for (id, e) in entries {
            map.insert(id, e);
        }
        map
    }
}

/// A JSON object, id -> entry, as the state has always stored it.
impl Serialize for TagMap {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (id, e) in self.iter() {
            map.serialize_entry(id, e)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for TagMap {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Entries;
        impl<'de> Visitor<'de> for Entries {
            type Value = TagMap;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of tag id to entry")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<TagMap, A::Error> {
                let mut map = TagMap::default();
                while let Some((id, entry)) = access.next_entry::<String, TagEntry>()? {
                    map.insert(id, entry);
                }
                Ok(map)
            }
        }
        d.deserialize_map(Entries)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(h: u64) -> TagEntry {
        TagEntry { h, g: 1, x: None }
    }

    #[test]
    fn lookups_inserts_removals_and_a_stable_order() {
        let mut m = TagMap::default();
        for i in 0..500 {
            assert!(m.insert(format!("65fac446d599990d1313{i:04}"), entry(i + 1)).is_none());
        }
        assert_eq!(m.len(), 500);
        assert_eq!(m.get("65fac446d599990d13130042").map(|e| e.h), Some(43));
        assert!(m.get("65fac446d599990d13139999").is_none());
        m.get_mut("65fac446d599990d13130007").unwrap().g = 9;
        assert_eq!(m.get("65fac446d599990d13130007").unwrap().g, 9);
        let new = IdHash::of("new");
        assert_eq!(m.get_or_insert_at(new, "new".into(), || entry(7)).h, 7);
        assert_eq!(m.get_or_insert_at(new, "new".into(), || entry(8)).h, 7);
        assert_eq!(m.get_mut_at(new, "new").map(|e| e.h), Some(7));
        assert!(m.get_mut_at(new, "other").is_none());
        assert_eq!(m.remove("new").map(|e| e.h), Some(7));
        assert!(m.remove("new").is_none());
        // Same entries in any insertion order: same encoding.
        let mut reversed = TagMap::default();
        for (id, e) in m.iter().collect::<Vec<_>>().into_iter().rev() {
            reversed.insert(id.clone(), e.clone());
        }
        let a = serde_json::to_string(&m).unwrap();
        assert_eq!(a, serde_json::to_string(&reversed).unwrap());
        let back: TagMap = serde_json::from_str(&a).unwrap();
        assert_eq!(back, m);
    }
}
