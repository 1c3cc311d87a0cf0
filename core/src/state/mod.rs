//! The state blob an operation takes and returns: opaque to the host,
//! versioned, JSON inside. It makes syncs incremental (a content hash per
//! item: only changed items are written) and resumable (a checkpoint where a
//! sync stopped early).
//!
//! `tag-sync` and `tag-details-push` share one state per location;
//! `stats-sync` keeps its own per location and dashboard; each trigger
//! (`new-posts`, `posts-published`) its own per location. The layout is a
//! contract with every state a host keeps: its field names stay as written
//! by earlier versions (short, since there is one entry per tag).

use crate::hash::fnv1a;
use serde::{Deserialize, Serialize, Serializer};
use std::collections::{BTreeMap, HashMap};

/// The layout this component writes and reads.
pub const VERSION: u32 = 1;

/// Stats points older than this many days before the window are forgotten.
pub const STATS_KEEP_DAYS: i64 = 35;

/// Posts remembered as applied; older ones are simply applied again.
pub const MAX_APPLIED_POSTS: usize = 1000;

/// What is known of one tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagEntry {
    /// The [`item_hash`] of the `TagInput` JSON as Rankr confirmed it; 0 =
    /// not (yet) confirmed. Stored as 16 hex digits ("" for 0).
    #[serde(rename = "h", with = "hex_hash")]
    pub content_hash: u64,
    /// The pass that last saw the tag in GHL.
    #[serde(rename = "g")]
    pub seen_in_pass: u32,
    /// The Rankr external id, when the mapping made it differ from the GHL id.
    #[serde(rename = "x", default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
}

impl TagEntry {
    /// True when Rankr confirmed holding the item as hashed.
    pub fn confirmed(&self) -> bool {
        self.content_hash != 0
    }

    /// The Rankr external id of the tag with GHL id `ghl_id`.
    pub fn external_id<'a>(&'a self, ghl_id: &'a str) -> &'a str {
        self.external_id.as_deref().unwrap_or(ghl_id)
    }
}

/// A post whose tags wait for the pass to complete.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingPost {
    pub post: String,
    pub tags: Vec<String>,
}

/// Where an incomplete pass stopped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The GHL offset to read next: every tag before it is written (or
    /// known unchanged) and marked with the pass.
    pub skip: u64,
    /// Posts to apply tags to once the pass completes.
    #[serde(default)]
    pub posts: Vec<PendingPost>,
}

/// GHL's burst budget as the last call left it, so a resumed sync starts
/// paced instead of meeting a 429.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaceRecord {
    pub max: Option<u32>,
    pub remaining: Option<u32>,
    pub interval_ms: Option<u64>,
    /// When our requests in the last window left (ms since the epoch).
    pub sent: Vec<u64>,
}

/// The tag state of one location.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TagState {
    pub location: String,
    /// The pass in progress (with a checkpoint) or last completed.
    pub pass: u32,
    /// GHL tag id -> entry. Written sorted by id, so equal states encode
    /// to equal blobs.
    #[serde(serialize_with = "sorted_by_id")]
    pub tags: HashMap<String, TagEntry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<Checkpoint>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pace: Option<PaceRecord>,
    /// The last posts whose tags were applied: (post id, hash of the tag
    /// set), newest last, at most [`MAX_APPLIED_POSTS`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub applied_posts: Vec<(String, String)>,
}

impl TagState {
    /// Whether `post` already carries exactly this tag set in Rankr.
    pub fn post_applied(&self, post: &str, hash: &str) -> bool {
        self.applied_posts.iter().any(|(p, h)| p == post && h == hash)
    }

    /// Records that `post` now carries the tag set hashed `hash`.
    pub fn record_post(&mut self, post: &str, hash: String) {
        self.applied_posts.retain(|(p, _)| p != post);
        self.applied_posts.push((post.to_string(), hash));
        let over = self.applied_posts.len().saturating_sub(MAX_APPLIED_POSTS);
        self.applied_posts.drain(..over);
    }
}

fn sorted_by_id<S: Serializer, V: Serialize>(map: &HashMap<String, V>, serializer: S) -> Result<S::Ok, S::Error> {
    let mut entries: Vec<(&String, &V)> = map.iter().collect();
    entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
    serializer.collect_map(entries)
}

/// The stats state of one location and dashboard.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct StatsState {
    pub location: String,
    pub dashboard: String,
    /// Hash of (scope, metric, timestamp), hex -> (day number, value written).
    pub points: BTreeMap<String, (i64, f64)>,
}

/// Post ids a trigger remembers as emitted, at most.
pub const MAX_SEEN_POSTS: usize = 10_000;

/// `posts-published` remembers a post this many days after it first went
/// live, whatever the overlap: the horizon over which the connector follows
/// a post (its statistics points are kept as long).
pub const PUBLISHED_KEEP_DAYS: i64 = STATS_KEEP_DAYS;

/// A poll window being read across calls.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostWindow {
    /// `fromDate` and `toDate`, ms since the epoch.
    pub from: u64,
    pub to: u64,
    /// The offset to read next in the window.
    pub skip: u64,
    /// The first call's window: its posts are recorded, not emitted.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub baseline: bool,
}

/// The state of one trigger for one location (`new-posts` and
/// `posts-published` each keep their own, of their own kind).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PostsState {
    pub location: String,
    /// Where the last completed window ended (ms, without the clock-skew
    /// margin); each poll looks back from here by the overlap.
    pub watermark: u64,
    /// Post id -> the instant it was first placed at (ms; `createdAt` for
    /// `new-posts`, the first `publishedAt` for `posts-published`): the ids
    /// already emitted, or recorded by the baseline, and not yet forgotten
    /// (out of the overlap window; for `posts-published`, also older than
    /// [`PUBLISHED_KEEP_DAYS`]). Written sorted by id.
    #[serde(serialize_with = "sorted_by_id")]
    pub seen: HashMap<String, u64>,
    /// The window a call stopped in (deadline, rate budget, or the cap on
    /// posts per call); the next call carries on with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<PostWindow>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum Kind {
    Tags,
    Stats,
    Posts,
    Published,
}

/// The blob as written: `v` and `kind`, then the body's fields.
#[derive(Serialize)]
struct Envelope<'a, T> {
    v: u32,
    kind: Kind,
    #[serde(flatten)]
    body: &'a T,
}

/// The blob is read in two passes, this head and then the body (whose type
/// ignores `v` and `kind`): reading a flattened field would first buffer the
/// whole body, one entry per tag, as a tree.
#[derive(Deserialize)]
struct Head {
    v: u32,
    kind: Kind,
}

fn check_head(blob: &[u8], want: Kind) -> Result<(), String> {
    let head: Head = serde_json::from_slice(blob).map_err(|e| {
        format!("the state is not a state this component wrote ({e}); pass the blob returned by the previous call, or none to start over")
    })?;
    if head.v != VERSION {
        return Err(format!(
            "the state has layout version {}, this component reads version {VERSION}; start over without it (a full sync rebuilds it)",
            head.v
        ));
    }
    let name = |k: &Kind| match k {
        Kind::Tags => "a tag-sync state",
        Kind::Stats => "a stats-sync state",
        Kind::Posts => "a new-posts state",
        Kind::Published => "a posts-published state",
    };
    if std::mem::discriminant(&head.kind) == std::mem::discriminant(&want) {
        return Ok(());
    }
    Err(format!(
        "the state is {}, this operation needs {}: keep one state per operation family and location (tag-sync and tag-details-push share theirs; each trigger keeps its own)",
        name(&head.kind),
        name(&want)
    ))
}

fn body<T: for<'de> Deserialize<'de>>(blob: &[u8]) -> Result<T, String> {
    serde_json::from_slice::<T>(blob)
        .map_err(|e| format!("the state is damaged ({e}); start over without it (a full sync rebuilds it)"))
}

/// Reads a tag state for `location`; none or empty = a fresh state.
pub fn decode_tags(blob: Option<&[u8]>, location: &str) -> Result<TagState, String> {
    let Some(blob) = blob.filter(|b| !b.is_empty()) else {
        return Ok(TagState {
            location: location.to_string(),
            ..TagState::default()
        });
    };
    check_head(blob, Kind::Tags)?;
    let state: TagState = body(blob)?;
    if state.location != location {
        return Err(format!(
            "the state is for location `{}`, this call is for `{location}`; keep one state per location",
            state.location
        ));
    }
    Ok(state)
}

/// Reads a stats state for `location` and `dashboard`.
pub fn decode_stats(blob: Option<&[u8]>, location: &str, dashboard: &str) -> Result<StatsState, String> {
    let Some(blob) = blob.filter(|b| !b.is_empty()) else {
        return Ok(StatsState {
            location: location.to_string(),
            dashboard: dashboard.to_string(),
            ..StatsState::default()
        });
    };
    check_head(blob, Kind::Stats)?;
    let state: StatsState = body(blob)?;
    if state.location != location || state.dashboard != dashboard {
        return Err(format!(
            "the state is for location `{}` and dashboard `{}`, this call is for `{location}` and `{dashboard}`; keep one state per location and dashboard",
            state.location, state.dashboard
        ));
    }
    Ok(state)
}

/// Reads a `new-posts` state for `location`; none or empty = no state (the
/// first call).
pub fn decode_posts(blob: Option<&[u8]>, location: &str) -> Result<Option<PostsState>, String> {
    decode_trigger(blob, location, Kind::Posts)
}

/// Reads a `posts-published` state for `location`; none or empty = no
/// state (the first call).
pub fn decode_published(blob: Option<&[u8]>, location: &str) -> Result<Option<PostsState>, String> {
    decode_trigger(blob, location, Kind::Published)
}

fn decode_trigger(blob: Option<&[u8]>, location: &str, kind: Kind) -> Result<Option<PostsState>, String> {
    let Some(blob) = blob.filter(|b| !b.is_empty()) else {
        return Ok(None);
    };
    check_head(blob, kind)?;
    let state: PostsState = body(blob)?;
    if state.location != location {
        return Err(format!(
            "the state is for location `{}`, this call is for `{location}`; keep one state per location",
            state.location
        ));
    }
    Ok(Some(state))
}

/// The blob of a `new-posts` state.
pub fn encode_posts(state: &PostsState) -> Vec<u8> {
    encode(Kind::Posts, state)
}

/// The blob of a `posts-published` state.
pub fn encode_published(state: &PostsState) -> Vec<u8> {
    encode(Kind::Published, state)
}

/// The blob of a tag state.
pub fn encode_tags(state: &TagState) -> Vec<u8> {
    encode(Kind::Tags, state)
}

/// The blob of a stats state.
pub fn encode_stats(state: &StatsState) -> Vec<u8> {
    encode(Kind::Stats, state)
}

fn encode<T: Serialize>(kind: Kind, body: &T) -> Vec<u8> {
    // Serializing these types cannot fail: their map keys are strings.
    serde_json::to_vec(&Envelope { v: VERSION, kind, body }).unwrap_or_default()
}

/// The hash of an item's bytes as the state keeps it: never 0 (0 means
/// "not confirmed").
pub fn item_hash(bytes: &[u8]) -> u64 {
    fnv1a(&[bytes]).max(1)
}

/// The hex content hash of a post's tag set.
pub fn content_hash(bytes: &[u8]) -> String {
    format!("{:016x}", fnv1a(&[bytes]))
}

/// A hash as 16 hex digits in the blob ("" for none), a `u64` in memory.
mod hex_hash {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(hash: &u64, s: S) -> Result<S::Ok, S::Error> {
        if *hash == 0 {
            return s.serialize_str("");
        }
        s.serialize_str(&format!("{hash:016x}"))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        let text = String::deserialize(d)?;
        if text.is_empty() {
            return Ok(0);
        }
        u64::from_str_radix(&text, 16).map_err(|_| serde::de::Error::custom(format!("`{text}` is not a hash")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_sixteen_hex_digits_both_ways() {
        for h in [
            1u64,
            0xf,
            0x0123_4567_89ab_cdef,
            0xfedc_ba98_7654_3210,
            u64::MAX,
            1 << 63,
        ] {
            let e = TagEntry {
                content_hash: h,
                seen_in_pass: 3,
                external_id: None,
            };
            let json = serde_json::to_string(&e).unwrap();
            assert_eq!(json, format!(r#"{{"h":"{h:016x}","g":3}}"#));
            assert_eq!(serde_json::from_str::<TagEntry>(&json).unwrap(), e);
        }
        let none = TagEntry {
            content_hash: 0,
            seen_in_pass: 1,
            external_id: None,
        };
        assert_eq!(serde_json::to_string(&none).unwrap(), r#"{"h":"","g":1}"#);
        assert!(serde_json::from_str::<TagEntry>(r#"{"h":"xyz","g":1}"#).is_err());
    }

    #[test]
    fn round_trip_and_refusals() {
        let mut s = decode_tags(None, "loc").unwrap();
        s.pass = 2;
        s.tags.insert(
            "t1".into(),
            TagEntry {
                content_hash: item_hash(b"x"),
                seen_in_pass: 2,
                external_id: None,
            },
        );
        s.checkpoint = Some(Checkpoint {
            skip: 100,
            posts: vec![PendingPost {
                post: "p".into(),
                tags: vec!["t1".into()],
            }],
        });
        s.pace = Some(PaceRecord {
            max: Some(100),
            remaining: None,
            interval_ms: Some(10_000),
            sent: vec![1, 2, 3],
        });
        s.applied_posts = vec![("p".into(), "0123".into())];
        let blob = encode_tags(&s);
        let text = String::from_utf8(blob.clone()).unwrap();
        assert!(text.starts_with(r#"{"v":1,"kind":"tags","location":"loc""#), "{text}");
        assert_eq!(decode_tags(Some(&blob), "loc").unwrap(), s);
        assert!(decode_tags(Some(&blob), "other")
            .unwrap_err()
            .contains("one state per location"));
        assert!(decode_stats(Some(&blob), "loc", "d")
            .unwrap_err()
            .contains("tag-sync state"));
        let v9 = text.replacen(r#""v":1"#, r#""v":9"#, 1);
        assert!(decode_tags(Some(v9.as_bytes()), "loc")
            .unwrap_err()
            .contains("version 9"));
        assert!(decode_tags(Some(b"garbage"), "loc")
            .unwrap_err()
            .contains("not a state"));
        let cut = &blob[..blob.len() - 5];
        assert!(decode_tags(Some(cut), "loc").is_err());
        assert_eq!(decode_tags(Some(b""), "loc").unwrap().pass, 0);
        let stats = decode_stats(None, "loc", "d").unwrap();
        assert_eq!(decode_stats(Some(&encode_stats(&stats)), "loc", "d").unwrap(), stats);
    }

    #[test]
    fn the_two_triggers_keep_states_of_their_own_kind() {
        let mut st = PostsState {
            location: "loc".into(),
            watermark: 5,
            ..PostsState::default()
        };
        st.seen.insert("p1".into(), 4);
        let published = encode_published(&st);
        let text = String::from_utf8(published.clone()).unwrap();
        assert!(
            text.starts_with(r#"{"v":1,"kind":"published","location":"loc""#),
            "{text}"
        );
        assert_eq!(decode_published(Some(&published), "loc").unwrap(), Some(st.clone()));
        let e = decode_posts(Some(&published), "loc").unwrap_err();
        assert!(
            e.contains("a posts-published state") && e.contains("needs a new-posts state"),
            "{e}"
        );
        let e = decode_published(Some(&encode_posts(&st)), "loc").unwrap_err();
        assert!(e.contains("needs a posts-published state"), "{e}");
        assert_eq!(decode_published(Some(b""), "loc").unwrap(), None);
    }

    #[test]
    fn equal_states_encode_to_equal_blobs() {
        let entry = |h: u64| TagEntry {
            content_hash: h,
            seen_in_pass: 1,
            external_id: None,
        };
        let mut a = decode_tags(None, "loc").unwrap();
        let mut b = decode_tags(None, "loc").unwrap();
        for i in 0..200u64 {
            a.tags.insert(format!("t{i}"), entry(i + 1));
        }
        for i in (0..200u64).rev() {
            b.tags.insert(format!("t{i}"), entry(i + 1));
        }
        let blob = encode_tags(&a);
        assert_eq!(blob, encode_tags(&b));
        let text = String::from_utf8(blob).unwrap();
        assert!(
            text.contains(r#""tags":{"t0":"#) && text.find("\"t10\"") < text.find("\"t2\""),
            "{text}"
        );
    }

    /// A state written by the previous release (its own encoder, entries in
    /// another order) still reads, with the same meaning.
    #[test]
    fn states_written_by_earlier_versions_still_read() {
        let old = br#"{"v":1,"kind":"tags","location":"loc","pass":3,"tags":{"b":{"h":"00000000000000ff","g":3},"a":{"h":"","g":2,"x":"ext-a"}},"checkpoint":{"skip":200,"posts":[{"post":"p","tags":["a"]}]},"pace":{"max":100,"remaining":97,"interval_ms":10000,"sent":[5,6]},"applied_posts":[["p","0123"]]}"#;
        let s = decode_tags(Some(old), "loc").unwrap();
        assert_eq!(s.pass, 3);
        assert_eq!(s.tags["b"].content_hash, 0xff);
        assert!(!s.tags["a"].confirmed());
        assert_eq!(s.tags["a"].external_id("a"), "ext-a");
        assert_eq!(s.checkpoint.as_ref().unwrap().skip, 200);
        assert_eq!(s.pace.as_ref().unwrap().sent, vec![5, 6]);
        assert!(s.post_applied("p", "0123"));
        assert_eq!(decode_tags(Some(&encode_tags(&s)), "loc").unwrap(), s);
    }
}
