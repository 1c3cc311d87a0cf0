//! The per-tag entries of a state, keyed by GHL tag id.
//!
//! A hash table keyed by a fixed hash of the id ([`IdHash`], computed once
//! per tag read and carried along): a lookup is one probe and one id
//! comparison. It was a `BTreeMap` ordered by (hash, id), whose searches
//! (a scan of up to 11 keys per node, at every level) were 11% of the
//! component's instructions per tag and ran at about four times their
//! native count (callgrind, see BENCHMARKS.md). The order a state is
//! written in is still (hash, id), sorted when asked for, so equal states
//! encode to equal blobs.

use super::TagEntry;
use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::hash_map::{Entry, HashMap};
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};

/// Entries by the hash of their id. Ids whose hashes collide (about one
/// pair in 10^9 at 100,000 tags) go in `more`, so ids are never confused.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TagMap {
    first: HashMap<IdHash, (String, TagEntry), BuildHasherDefault<HashValue>>,
    more: Vec<(IdHash, String, TagEntry)>,
}

/// An id's place in the map: FNV-1a 64 of the id (fixed, so the order is
/// the same in every run). Computed once per tag read and carried along,
/// so the sync's lookups, its insert and its confirmation do not hash the
/// id again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
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

/// A hasher for keys that are hashes already: it passes the value through,
/// folding the high half (FNV's best-mixed bits) into the low half that
/// picks the bucket. No SipHash: it cost 3% of the component's
/// instructions per tag when the ids were hashed again.
#[derive(Default)]
pub struct HashValue(u64);

impl Hasher for HashValue {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Not reached by `IdHash` (it writes one u64); kept correct anyway.
        self.0 = crate::ops::fnv1a(&[&self.0.to_le_bytes(), bytes]);
    }

    fn write_u64(&mut self, v: u64) {
        self.0 = v ^ (v >> 32);
    }
}

impl TagMap {
    pub fn len(&self) -> usize {
        self.first.len() + self.more.len()
    }

    pub fn is_empty(&self) -> bool {
        self.first.is_empty()
    }

    pub fn get(&self, id: &str) -> Option<&TagEntry> {
        let h = IdHash::of(id);
        match self.first.get(&h) {
            Some((k, e)) if crate::bytes::same(k.as_bytes(), id.as_bytes()) => Some(e),
            Some(_) => self
                .more
                .iter()
                .find(|(kh, k, _)| *kh == h && k == id)
                .map(|(_, _, e)| e),
            None => None,
        }
    }

    pub fn get_mut(&mut self, id: &str) -> Option<&mut TagEntry> {
        self.get_mut_at(IdHash::of(id), id)
    }

    /// [`Self::get_mut`] with the id's hash already known.
    pub fn get_mut_at(&mut self, h: IdHash, id: &str) -> Option<&mut TagEntry> {
        match self.first.get_mut(&h) {
            Some((k, e)) if crate::bytes::same(k.as_bytes(), id.as_bytes()) => Some(e),
            Some(_) => self
                .more
                .iter_mut()
                .find(|(kh, k, _)| *kh == h && k == id)
                .map(|(_, _, e)| e),
            None => None,
        }
    }

    /// One probe of the table (a state's every entry comes through here
    /// when it is read).
    pub fn insert(&mut self, id: String, entry: TagEntry) -> Option<TagEntry> {
        let h = IdHash::of(&id);
        match self.first.entry(h) {
            Entry::Vacant(v) => {
                v.insert((id, entry));
                None
            }
            Entry::Occupied(mut o) if crate::bytes::same(o.get().0.as_bytes(), id.as_bytes()) => {
                Some(std::mem::replace(&mut o.get_mut().1, entry))
            }
            Entry::Occupied(_) => match self.more.iter_mut().find(|(kh, k, _)| *kh == h && *k == id) {
                Some((_, _, e)) => Some(std::mem::replace(e, entry)),
                None => {
                    self.more.push((h, id, entry));
                    None
                }
            },
        }
    }

    /// The entry of `id` (whose hash is `h`), made with `make` when there is none.
    pub fn get_or_insert_at(&mut self, h: IdHash, id: String, make: impl FnOnce() -> TagEntry) -> &mut TagEntry {
        match self.first.entry(h) {
            Entry::Vacant(v) => &mut v.insert((id, make())).1,
            Entry::Occupied(o) if crate::bytes::same(o.get().0.as_bytes(), id.as_bytes()) => &mut o.into_mut().1,
            Entry::Occupied(_) => {
                let at = match self.more.iter().position(|(kh, k, _)| *kh == h && *k == id) {
                    Some(at) => at,
                    None => {
                        self.more.push((h, id, make()));
                        self.more.len() - 1
                    }
                };
                &mut self.more[at].2
            }
        }
    }

    pub fn remove(&mut self, id: &str) -> Option<TagEntry> {
        self.remove_at(IdHash::of(id), id)
    }

    /// [`Self::remove`] with the id's hash already known.
    pub fn remove_at(&mut self, h: IdHash, id: &str) -> Option<TagEntry> {
        if let Some(at) = self.more.iter().position(|(kh, k, _)| *kh == h && k == id) {
            return Some(self.more.swap_remove(at).2);
        }
        match self.first.entry(h) {
            Entry::Occupied(o) if crate::bytes::same(o.get().0.as_bytes(), id.as_bytes()) => {
                let (_, e) = o.remove();
                // An id that collided takes the freed place.
                if let Some(at) = self.more.iter().position(|(kh, _, _)| *kh == h) {
                    let (_, k, moved) = self.more.swap_remove(at);
                    self.first.insert(h, (k, moved));
                }
                Some(e)
            }
            _ => None,
        }
    }

    /// Entries in (hash, id) order: the order a state is written in.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &TagEntry)> {
        self.sorted(|_| true).into_iter().map(|(_, k, e)| (k, e))
    }

    /// The ids whose entries `keep` selects, in (hash, id) order.
    pub fn ids_where(&self, keep: impl Fn(&TagEntry) -> bool) -> Vec<String> {
        self.sorted(keep).into_iter().map(|(_, k, _)| k.clone()).collect()
    }

    /// The entries `keep` selects, sorted once (one sort compiled, not one
    /// per caller).
    fn sorted(&self, keep: impl Fn(&TagEntry) -> bool) -> Vec<(IdHash, &String, &TagEntry)> {
        let mut all: Vec<(IdHash, &String, &TagEntry)> = self
            .first
            .iter()
            .map(|(h, (k, e))| (*h, k, e))
            .chain(self.more.iter().map(|(h, k, e)| (*h, k, e)))
            .filter(|(_, _, e)| keep(e))
            .collect();
        all.sort_unstable_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(b.1)));
        all
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
        let mut map = s.serialize_map(Some(self.len()))?;
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
        // Inserting an id again replaces its entry and gives the old one back.
        let again = m.insert("65fac446d599990d13130042".into(), entry(9));
        assert_eq!(again.map(|e| e.h), Some(43));
        assert_eq!(
            m.insert("65fac446d599990d13130042".into(), entry(43)).map(|e| e.h),
            Some(9)
        );
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

    #[test]
    fn ids_whose_hashes_collide_stay_apart() {
        let h = IdHash::forged(42);
        let mut m = TagMap::default();
        for (i, id) in ["a", "b", "c"].into_iter().enumerate() {
            assert_eq!(m.get_or_insert_at(h, id.into(), || entry(i as u64 + 1)).h, i as u64 + 1);
        }
        assert_eq!(m.len(), 3);
        for (i, id) in ["a", "b", "c"].into_iter().enumerate() {
            assert_eq!(m.get_mut_at(h, id).map(|e| e.h), Some(i as u64 + 1), "{id}");
            assert_eq!(m.get_or_insert_at(h, id.into(), || entry(99)).h, i as u64 + 1);
        }
        assert!(m.get_mut_at(h, "d").is_none());
        assert!(m.get_mut_at(IdHash::forged(43), "a").is_none());
        // Same hash, then the id: the written order.
        let order: Vec<&String> = m.iter().map(|(k, _)| k).collect();
        assert_eq!(order, ["a", "b", "c"]);
        assert_eq!(m.ids_where(|e| e.h != 2), ["a", "c"]);
        // Removing the one in the table lets a colliding one take its place.
        assert_eq!(m.remove_at(h, "a").map(|e| e.h), Some(1));
        assert_eq!(m.len(), 2);
        assert!(m.get_mut_at(h, "a").is_none());
        assert_eq!(m.get_mut_at(h, "b").map(|e| e.h), Some(2));
        assert_eq!(m.remove_at(h, "c").map(|e| e.h), Some(3));
        assert_eq!(m.remove_at(h, "b").map(|e| e.h), Some(2));
        assert!(m.is_empty());
        assert!(m.remove_at(h, "b").is_none());
    }
}
