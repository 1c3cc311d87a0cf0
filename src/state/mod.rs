//! The state blob an operation takes and returns: opaque to the host,
//! versioned, JSON inside. It makes syncs incremental (a content hash per
//! item: only changed items are written) and resumable (a checkpoint where a
//! sync stopped early).
//!
//! `tag-sync` and `tag-details-push` share one state per location;
//! `stats-sync` keeps its own per location and dashboard.

pub mod tag_map;

use crate::client::pace::PaceMemo;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The layout this component writes and reads.
pub const VERSION: u32 = 1;

/// Stats points older than this many days before the window are forgotten.
pub const STATS_KEEP_DAYS: i64 = 35;

/// What is known of one tag: the hash of the Rankr item last confirmed
/// written, and the pass that last saw it in GHL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagEntry {
    /// FNV-1a 64 of the `TagInput` JSON as Rankr confirmed it; 0 = not
    /// (yet) confirmed. Stored as 16 hex digits ("" for 0).
    #[serde(with = "hex_hash")]
    pub h: u64,
    /// The pass that last saw the tag in GHL.
    pub g: u32,
    /// The Rankr external id, when the mapping made it differ from the GHL id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
}

impl TagEntry {
    /// True when Rankr confirmed holding the item as hashed.
    pub fn confirmed(&self) -> bool {
        self.h != 0
    }

    /// The Rankr external id of the tag with GHL id `ghl_id`.
    pub fn external_id<'a>(&'a self, ghl_id: &'a str) -> &'a str {
        self.x.as_deref().unwrap_or(ghl_id)
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

/// The tag state of one location.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TagState {
    pub location: String,
    /// The pass in progress (with a checkpoint) or last completed.
    pub pass: u32,
    /// GHL tag id -> entry.
    pub tags: tag_map::TagMap,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<Checkpoint>,
    /// GHL's burst budget as the last call left it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pace: Option<PaceMemo>,
    /// The last posts whose tags were applied: (post id, hash of the tag
    /// set), newest last, at most [`MAX_APPLIED_POSTS`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub applied_posts: Vec<(String, String)>,
}

/// Posts remembered as applied; older ones are simply applied again.
pub const MAX_APPLIED_POSTS: usize = 1000;

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

/// The stats state of one location and dashboard.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct StatsState {
    pub location: String,
    pub dashboard: String,
    /// Hash of (scope, metric, timestamp), hex -> (day number, value written).
    pub points: BTreeMap<String, (i64, f64)>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum Kind {
    Tags,
    Stats,
}

/// The blob as written. It is read in two passes instead (`Head`, then the
/// body type, which ignores `v` and `kind`): deserializing a flattened field
/// buffers the whole body as a tree first, 100,000 entries of it.
#[derive(Serialize)]
struct Envelope<T> {
    v: u32,
    kind: Kind,
    #[serde(flatten)]
    body: T,
}

#[derive(Deserialize)]
struct Head {
    v: u32,
    kind: Kind,
}

fn head(blob: &[u8]) -> Result<Head, String> {
    crate::json::from_bytes::<Head>(blob).map_err(|e| {
        format!("the state is not a state this component wrote ({e}); pass the blob returned by the previous call, or none to start over")
    })
}

fn check_head(blob: &[u8], want: Kind) -> Result<(), String> {
    let h = head(blob)?;
    if h.v != VERSION {
        return Err(format!(
            "the state has layout version {}, this component reads version {VERSION}; start over without it (a full sync rebuilds it)",
            h.v
        ));
    }
    match (h.kind, want) {
        (Kind::Tags, Kind::Tags) | (Kind::Stats, Kind::Stats) => Ok(()),
        (Kind::Stats, Kind::Tags) => Err("the state is a stats-sync state; tag-sync and tag-details-push need their own (one state per operation family and location)".into()),
        (Kind::Tags, Kind::Stats) => Err("the state is a tag-sync state; stats-sync needs its own (one state per operation family and location)".into()),
    }
}

fn body<T: for<'de> Deserialize<'de>>(blob: &[u8]) -> Result<T, String> {
    crate::json::from_bytes::<T>(blob)
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
    let s: TagState = body(blob)?;
    if s.location != location {
        return Err(format!(
            "the state is for location `{}`, this call is for `{location}`; keep one state per location",
            s.location
        ));
    }
    Ok(s)
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
    let s: StatsState = body(blob)?;
    if s.location != location || s.dashboard != dashboard {
        return Err(format!(
            "the state is for location `{}` and dashboard `{}`, this call is for `{location}` and `{dashboard}`; keep one state per location and dashboard",
            s.location, s.dashboard
        ));
    }
    Ok(s)
}

/// The blob of a tag state: what serializing the envelope with serde_json
/// gives (a test holds the two equal), with the per-tag entries written by
/// hand. Every sync writes the whole state; serde_json escapes strings a
/// byte at a time and the hash went through the formatting machinery, which
/// together cost 5% of the component's instructions per tag.
pub fn encode_tags(s: &TagState) -> Vec<u8> {
    let mut out = Vec::with_capacity(96 + s.tags.len() * 64);
    out.extend_from_slice(b"{\"v\":");
    push_json(&mut out, &VERSION);
    out.extend_from_slice(b",\"kind\":\"tags\",\"location\":");
    crate::json::write_str(&mut out, &s.location);
    out.extend_from_slice(b",\"pass\":");
    push_json(&mut out, &s.pass);
    out.extend_from_slice(b",\"tags\":{");
    for (i, (id, e)) in s.tags.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        crate::json::write_str(&mut out, id);
        out.extend_from_slice(b":{\"h\":\"");
        if e.h != 0 {
            out.extend_from_slice(&hex_hash::digits(e.h));
        }
        out.extend_from_slice(b"\",\"g\":");
        push_json(&mut out, &e.g);
        if let Some(x) = &e.x {
            out.extend_from_slice(b",\"x\":");
            crate::json::write_str(&mut out, x);
        }
        out.push(b'}');
    }
    out.push(b'}');
    if let Some(c) = &s.checkpoint {
        out.extend_from_slice(b",\"checkpoint\":");
        push_json(&mut out, c);
    }
    if let Some(p) = &s.pace {
        out.extend_from_slice(b",\"pace\":");
        push_json(&mut out, p);
    }
    if !s.applied_posts.is_empty() {
        out.extend_from_slice(b",\"applied_posts\":");
        push_json(&mut out, &s.applied_posts);
    }
    out.push(b'}');
    out
}

/// Appends `v` as serde_json writes it (writing to a `Vec` cannot fail).
fn push_json<T: Serialize + ?Sized>(out: &mut Vec<u8>, v: &T) {
    let _ = serde_json::to_writer(&mut *out, v);
}

/// The blob of a stats state.
pub fn encode_stats(s: &StatsState) -> Vec<u8> {
    encode(Kind::Stats, s)
}

fn encode<T: Serialize>(kind: Kind, body: &T) -> Vec<u8> {
    serde_json::to_vec(&Envelope { v: VERSION, kind, body }).unwrap_or_default()
}

/// The hash of an item's bytes as the state keeps it: never 0 (0 means
/// "not confirmed").
pub fn item_hash(bytes: &[u8]) -> u64 {
    crate::ops::fnv1a(&[bytes]).max(1)
}

/// A hash as 16 hex digits in the blob ("" for none), a `u64` in memory.
mod hex_hash {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(h: &u64, s: S) -> Result<S::Ok, S::Error> {
        if *h == 0 {
            return s.serialize_str("");
        }
        s.serialize_str(std::str::from_utf8(&digits(*h)).unwrap_or_default())
    }

    /// 16 lower-case hex digits; by hand, as `format!` runs the formatting
    /// machinery and allocates, once per tag of every state written.
    pub fn digits(h: u64) -> [u8; 16] {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut hex = [0u8; 16];
        for (i, d) in hex.iter_mut().enumerate() {
            *d = DIGITS[((h >> (60 - 4 * i)) & 0xf) as usize];
        }
        hex
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        let text = <&str>::deserialize(d)?;
        if text.is_empty() {
            return Ok(0);
        }
        u64::from_str_radix(text, 16).map_err(|_| serde::de::Error::custom(format!("`{text}` is not a hash")))
    }
}

/// The hex content hash stored per item.
pub fn content_hash(bytes: &[u8]) -> String {
    format!("{:016x}", crate::ops::fnv1a(&[bytes]))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The hand-written tag blob is byte for byte serde_json's.
    #[test]
    fn tag_blob_is_what_serde_json_writes() {
        let mut s = decode_tags(None, "lo\"c\\é").unwrap();
        let serde = |s: &TagState| encode(Kind::Tags, s);
        assert_eq!(encode_tags(&s), serde(&s));
        s.pass = 7;
        for (i, id) in ["a", "65fac446d599990d13130042", "q\"uote", "ctl\u{1}", "ünï", ""]
            .iter()
            .enumerate()
        {
            let x = (i % 2 == 0).then(|| format!("ext-{id}-\n"));
            s.tags.insert(
                id.to_string(),
                TagEntry {
                    h: (i as u64) << 60 | i as u64,
                    g: i as u32,
                    x,
                },
            );
        }
        assert_eq!(encode_tags(&s), serde(&s));
        s.checkpoint = Some(Checkpoint {
            skip: 300,
            posts: vec![PendingPost {
                post: "p\"1".into(),
                tags: vec!["a".into(), "b".into()],
            }],
        });
        s.pace = Some(PaceMemo {
            max: Some(100),
            remaining: None,
            interval_ms: Some(10_000),
            sent: vec![1, 2, 3],
        });
        s.applied_posts = vec![("p".into(), "0123".into())];
        assert_eq!(encode_tags(&s), serde(&s));
        assert_eq!(decode_tags(Some(&encode_tags(&s)), "lo\"c\\é").unwrap(), s);
    }

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
            let e = TagEntry { h, g: 3, x: None };
            let json = serde_json::to_string(&e).unwrap();
            assert_eq!(json, format!(r#"{{"h":"{h:016x}","g":3}}"#));
            assert_eq!(serde_json::from_str::<TagEntry>(&json).unwrap(), e);
        }
        let none = TagEntry { h: 0, g: 1, x: None };
        assert_eq!(serde_json::to_string(&none).unwrap(), r#"{"h":"","g":1}"#);
    }

    #[test]
    fn round_trip_and_refusals() {
        let mut s = decode_tags(None, "loc").unwrap();
        s.pass = 2;
        s.tags.insert(
            "t1".into(),
            TagEntry {
                h: item_hash(b"x"),
                g: 2,
                x: None,
            },
        );
        s.checkpoint = Some(Checkpoint {
            skip: 100,
            posts: vec![PendingPost {
                post: "p".into(),
                tags: vec!["t1".into()],
            }],
        });
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
        let st = decode_stats(None, "loc", "d").unwrap();
        assert_eq!(decode_stats(Some(&encode_stats(&st)), "loc", "d").unwrap(), st);
    }
}
