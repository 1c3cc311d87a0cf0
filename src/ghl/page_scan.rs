//! A one-pass reader for the plain shape of a tags page, tried before serde.
//!
//! Why: reading GHL's pages was the connector's costliest work in wasm and
//! the part that ran furthest from native speed (about 2.4× its native
//! instruction count, against 1.6× for the rest): serde_json reads each key
//! and value through a chain of visitor and accessor calls, and inside wasm
//! every call and every loop turn also pays an epoch check. Here a page is
//! read by one cursor with no calls per value but the copy of each string.
//!
//! It reads only what it can read exactly as serde does, and gives up
//! (`None`) on anything else — an escape in a string, a field of the wrong
//! type, a key twice, a value that is not a tag object, JSON that is not
//! JSON — so that the page is read again by serde ([`super::model`]), which
//! names the problem. `None` never means "wrong": the two readers agree on
//! every page this one accepts (tested against serde on the pages of every
//! case below and on random pages).

use super::model::{GhlTag, TagField, TagSlot, TagsEnvelope, TagsResults};

/// Deeper than this, unknown values are left to serde (whose own limit is 128).
const MAX_DEPTH: u32 = 64;

/// `text` as a tags page, when it has the plain shape; `None` = ask serde.
pub fn read(text: &str) -> Option<TagsEnvelope> {
    let mut c = Cursor {
        b: text.as_bytes(),
        i: 0,
    };
    let mut results = None;
    c.ws();
    c.object(|c, key| {
        if key == b"results" && results.is_none() {
            results = Some(c.results()?);
            Some(())
        } else if key == b"results" {
            None
        } else {
            c.skip(1)
        }
    })?;
    c.ws();
    (c.i == c.b.len()).then_some(())?;
    Some(TagsEnvelope { results: results? })
}

/// A string's bytes as `string` returns them, as text.
#[inline]
fn text(bytes: &[u8]) -> &str {
    // SAFETY: `string` returns the bytes between two quotes of a `str`
    // (`read` takes one): quotes are ASCII, so no character is split.
    unsafe { std::str::from_utf8_unchecked(bytes) }
}

/// The first quote, backslash or byte below 0x20 at or after `i` (else the
/// length), eight bytes a step. Plain indices in and out: in wasm a slice or
/// an `Option` returned goes through memory, and this runs for every key
/// and value of every tag.
fn stop(b: &[u8], mut i: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    while i + 8 <= b.len() {
        // SAFETY: i + 8 <= len: the eight-byte read is in bounds.
        let x = unsafe { (b.as_ptr().add(i) as *const u64).read_unaligned() };
        let zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
        let hits = (x.wrapping_sub(ONES * 0x20) & !x & HIGH)
            | zero(x ^ (ONES * u64::from(b'"')))
            | zero(x ^ (ONES * u64::from(b'\\')));
        if hits != 0 {
            // The lowest flagged byte is exact (borrows only run upward).
            return i + (hits.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < b.len() && b[i] >= 0x20 && b[i] != b'"' && b[i] != b'\\' {
        i += 1;
    }
    i
}

struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Cursor<'a> {
    /// JSON's four white-space bytes.
    #[inline]
    fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.b.get(self.i) {
            self.i += 1;
        }
    }

    #[inline]
    fn eat(&mut self, byte: u8) -> bool {
        let hit = self.b.get(self.i) == Some(&byte);
        self.i += usize::from(hit);
        hit
    }

    /// `{ "key": value, … }`: `value` reads the value after each key (white
    /// space before it skipped).
    fn object(&mut self, mut value: impl FnMut(&mut Self, &'a [u8]) -> Option<()>) -> Option<()> {
        self.eat(b'{').then_some(())?;
        self.ws();
        if self.eat(b'}') {
            return Some(());
        }
        loop {
            self.eat(b'"').then_some(())?;
            let key = self.string()?;
            self.ws();
            self.eat(b':').then_some(())?;
            self.ws();
            value(self, key)?;
            self.ws();
            if self.eat(b',') {
                self.ws();
                continue;
            }
            return self.eat(b'}').then_some(());
        }
    }

    /// `[ value, … ]`.
    fn array(&mut self, mut value: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        self.eat(b'[').then_some(())?;
        self.ws();
        if self.eat(b']') {
            return Some(());
        }
        loop {
            value(self)?;
            self.ws();
            if self.eat(b',') {
                self.ws();
                continue;
            }
            return self.eat(b']').then_some(());
        }
    }

    fn results(&mut self) -> Option<TagsResults> {
        let (mut tags, mut count) = (None, None);
        self.object(|c, key| match key {
            b"tags" if tags.is_none() => {
                let mut slots = Vec::new();
                c.array(|c| {
                    slots.push(c.tag()?);
                    Some(())
                })?;
                tags = Some(slots);
                Some(())
            }
            b"count" if count.is_none() => {
                // Read by serde itself (once a page), so the number is
                // exactly the one serde reads.
                let start = c.i;
                c.skip(2)?;
                count = Some(crate::json::from_bytes::<Option<f64>>(&c.b[start..c.i]).ok()?);
                Some(())
            }
            b"tags" | b"count" => None,
            _ => c.skip(2),
        })?;
        Some(TagsResults {
            tags: tags.unwrap_or_default(),
            count: count.flatten(),
        })
    }

    /// One element of `results.tags`: an object whose schema fields are
    /// strings (`deleted` true or false) or null.
    fn tag(&mut self) -> Option<TagSlot> {
        let mut id = None;
        let mut tag = GhlTag::default();
        let mut seen = 0u8;
        self.object(|c, key| {
            let Some(field) = TagField::from_name(text(key)) else {
                return c.skip(3);
            };
            let bit = 1u8 << (field as u8);
            if seen & bit != 0 {
                return None;
            }
            seen |= bit;
            let slot = match field {
                TagField::Id => &mut id,
                TagField::Tag => &mut tag.tag,
                TagField::LocationId => &mut tag.location_id,
                TagField::CreatedBy => &mut tag.created_by,
                TagField::CreatedAt => &mut tag.created_at,
                TagField::UpdatedAt => &mut tag.updated_at,
                TagField::Deleted => {
                    tag.deleted = match c.b.get(c.i)? {
                        b't' => c.literal(b"true").then_some(Some(true))?,
                        b'f' => c.literal(b"false").then_some(Some(false))?,
                        _ => c.literal(b"null").then_some(None)?,
                    };
                    return Some(());
                }
            };
            if c.eat(b'"') {
                *slot = Some(crate::bytes::owned(text(c.string()?)));
                Some(())
            } else {
                c.literal(b"null").then_some(())
            }
        })?;
        Some(match id {
            Some(id) => {
                tag.id = id;
                TagSlot::Tag(tag)
            }
            None => TagSlot::Bad {
                id: None,
                why: "has no `_id`".into(),
            },
        })
    }

    /// The rest of a string after its opening quote, up to the closing one
    /// (consumed). Gives up on an escape or a control byte.
    #[inline]
    fn string(&mut self) -> Option<&'a [u8]> {
        let start = self.i;
        let at = stop(self.b, start);
        (self.b.get(at) == Some(&b'"')).then_some(())?;
        self.i = at + 1;
        self.b.get(start..at)
    }

    #[inline]
    fn literal(&mut self, word: &[u8]) -> bool {
        let hit = self.b.get(self.i..self.i + word.len()) == Some(word);
        self.i += if hit { word.len() } else { 0 };
        hit
    }

    /// Steps over any JSON value that has no escaped string in it, checking
    /// it as serde_json does.
    fn skip(&mut self, depth: u32) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        match *self.b.get(self.i)? {
            b'"' => {
                self.i += 1;
                self.string().map(drop)
            }
            b'{' => self.object(|c, _| c.skip(depth + 1)),
            b'[' => self.array(|c| c.skip(depth + 1)),
            b't' => self.literal(b"true").then_some(()),
            b'f' => self.literal(b"false").then_some(()),
            b'n' => self.literal(b"null").then_some(()),
            _ => self.number(),
        }
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
    fn number(&mut self) -> Option<()> {
        self.eat(b'-');
        match *self.b.get(self.i)? {
            b'0' => self.i += 1,
            b'1'..=b'9' => self.digits(),
            _ => return None,
        }
        if self.eat(b'.') {
            self.b.get(self.i)?.is_ascii_digit().then_some(())?;
            self.digits();
        }
        if self.eat(b'e') || self.eat(b'E') {
            let _ = self.eat(b'+') || self.eat(b'-');
            self.b.get(self.i)?.is_ascii_digit().then_some(())?;
            self.digits();
        }
        Some(())
    }

    fn digits(&mut self) {
        while self.b.get(self.i).is_some_and(u8::is_ascii_digit) {
            self.i += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// What serde reads from `page` (the reader of record).
    fn serde(page: &str) -> Result<TagsEnvelope, String> {
        crate::json::from_bytes::<TagsEnvelope>(page.as_bytes()).map_err(|e| e.to_string())
    }

    /// The one rule: when the scanner reads a page, serde reads the same.
    fn agrees(page: &str) -> Option<TagsEnvelope> {
        let fast = read(page);
        if let Some(fast) = &fast {
            assert_eq!(Ok(fast), serde(page).as_ref(), "{page}");
        }
        fast
    }

    const PLAIN: &str = r#"{"results":{"tags":[{"_id":"65fac446d599990d13130001","tag":"Summer Sale 2024","locationId":"loc1","createdBy":"u1","deleted":false,"createdAt":"2024-03-20T10:00:00.000Z","updatedAt":"2024-03-21T10:00:00.000Z"},{"_id":"b","tag":"Été — 夏","deleted":true}],"count":2},"traceId":"x"}"#;

    #[test]
    fn plain_pages_are_read_here_as_serde_reads_them() {
        let env = agrees(PLAIN).expect("a plain page is read here");
        assert_eq!(env.results.tags.len(), 2);
        assert_eq!(env.results.count, Some(2.0));
        for page in [
            // White space everywhere JSON allows it.
            "\n{ \"results\" :\t{ \"tags\" : [ { \"_id\" : \"a\" , \"tag\" : \"x\" } ] , \"count\" : 1 } }\r\n ",
            // Unknown fields of every kind, at every level.
            r#"{"meta":{"a":[1,-2.5e+3,0,true,false,null,{"b":[]}]},"results":{"x":{},"tags":[{"_id":"a","__v":0,"extra":{"n":[1E2,-0.5]},"tag":"t"}],"count":null}}"#,
            // Nulls, no `_id`, an empty tag, no tags, no count.
            r#"{"results":{"tags":[{"_id":"a","tag":null,"deleted":null,"createdAt":null},{"tag":"no id"},{}]}}"#,
            r#"{"results":{"tags":[{"_id":null}]}}"#,
            r#"{"results":{}}"#,
            r#"{"results":{"tags":[],"count":2.5e2}}"#,
            r#"{"results":{"tags":[],"count":-0}}"#,
            // Strings around the eight-byte steps, and UTF-8 in them.
            r#"{"results":{"tags":[{"_id":"1234567","tag":"12345678"},{"_id":"123456789","tag":"ééééééééé"}]}}"#,
        ] {
            assert!(agrees(page).is_some(), "{page}");
        }
    }

    #[test]
    fn anything_else_is_left_to_serde() {
        for page in [
            // Escapes, in values and keys.
            r#"{"results":{"tags":[{"_id":"a","tag":"say \"hi\""}]}}"#,
            r#"{"results":{"tags":[{"_id":"a","t\u0061g":"x"}]}}"#,
            r#"{"results":{"tags":[{"_id":"a","skip":"\n"}]}}"#,
            // Wrong types (serde makes these per-tag errors).
            r#"{"results":{"tags":[{"_id":"a","tag":5}]}}"#,
            r#"{"results":{"tags":[{"_id":"a","deleted":"yes"}]}}"#,
            r#"{"results":{"tags":[{"_id":["a"]}]}}"#,
            r#"{"results":{"tags":["just text",{"_id":"a"}]}}"#,
            r#"{"results":{"tags":null}}"#,
            r#"{"results":{"tags":[],"count":"5"}}"#,
            // A key twice.
            r#"{"results":{"tags":[{"_id":"a","_id":"b"}]}}"#,
            r#"{"results":{"tags":[]},"results":{"tags":[]}}"#,
            // Not JSON, or not this shape.
            r#"{"results":{"tags":[{"_id":"a",}]}}"#,
            r#"{"results":{"tags":[{"_id":"a"}]}} x"#,
            r#"{"results":{"tags":[{"_id":"a"}]}"#,
            r#"{"results":{"tags":[],"n":01}}"#,
            r#"{"results":{"tags":[],"n":1.}}"#,
            r#"{"results":{"tags":[],"n":-}}"#,
            r#"{"results":{"tags":[],"n":tru}}"#,
            "{\"results\":{\"tags\":[{\"_id\":\"a\tb\"}]}}",
            r#"{"tags":[]}"#,
            "[]",
            "",
        ] {
            assert_eq!(agrees(page), None, "{page}");
        }
        let deep = format!(
            r#"{{"results":{{"tags":[],"x":{}1{}}}}}"#,
            "[".repeat(80),
            "]".repeat(80)
        );
        assert_eq!(agrees(&deep), None);
        assert!(serde(&deep).is_ok(), "serde still reads it");
    }

    /// Pieces random pages are made of: mostly plain ones, and every kind
    /// the scanner leaves to serde.
    fn value() -> impl Strategy<Value = String> {
        let plain = prop::sample::select(vec![r#""text""#, r#""""#, r#""é 夏 😀 12345678""#, "null", "false"]);
        let other = prop::sample::select(vec![
            r#""a\"b""#,
            r#""\u00e9""#,
            "true",
            "0",
            "-12.5e-3",
            "1e400",
            "[]",
            r#"{"k":[1,{"z":null}]}"#,
            "01",
        ]);
        prop_oneof![6 => plain, 1 => other].prop_map(str::to_string)
    }

    fn key() -> impl Strategy<Value = String> {
        let schema = prop::sample::select(TagField::ALL.map(TagField::name).to_vec());
        let other = prop::sample::select(vec!["other", "__v", "t\\u0061g"]);
        prop_oneof![6 => schema, 1 => other].prop_map(str::to_string)
    }

    fn page() -> impl Strategy<Value = String> {
        // Mostly distinct keys (a key twice is left to serde).
        let tag = prop::collection::btree_map(key(), value(), 0..7).prop_map(|fields| {
            let body: Vec<String> = fields.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
            format!("{{{}}}", body.join(","))
        });
        let count = prop::sample::select(vec!["2", "null", "2.5e2", "-0", "1e400", r#""5""#]);
        let ws = prop::sample::select(vec!["", " ", "\n\t"]);
        (prop::collection::vec(tag, 0..4), count, ws).prop_map(|(tags, count, ws)| {
            format!(
                "{{{ws}\"results\"{ws}:{{\"tags\":[{}],{ws}\"count\":{count}}}}}{ws}",
                tags.join(&format!(",{ws}"))
            )
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn random_pages_read_alike(page in page()) {
            agrees(&page);
        }

        /// Pages broken by one byte, or cut short.
        #[test]
        fn broken_pages_read_alike(page in page(), at in any::<prop::sample::Index>(),
                                   byte in prop::sample::select(b"{}[]\":,\\ 0-.eta\x01".to_vec()),
                                   cut in any::<bool>()) {
            let mut bytes = page.into_bytes();
            let at = at.index(bytes.len().max(1)).min(bytes.len().saturating_sub(1));
            if cut {
                bytes.truncate(at);
            } else if !bytes.is_empty() && bytes[at].is_ascii() {
                bytes[at] = byte;
            }
            if let Ok(page) = String::from_utf8(bytes) {
                agrees(&page);
            }
        }
    }
}
