//! A one-pass reader for the plain shape of a tags page, tried before serde
//! (see [`crate::json::scan`] for why, and for what "plain" is).
//!
//! It reads a page only as serde reads it: where serde would make a tag a
//! per-item error (a field of the wrong type, a key twice, an element that
//! is not an object) or fail the page, it gives up and serde reads the page
//! again. The two readers agree on every page this one accepts (tested on
//! the cases below, on random pages and on pages broken by one byte).

use super::model::{TagField, TagParts, TagSlot, TagsEnvelope, TagsResults};
use crate::json::scan::Cursor;

/// `text` as a tags page, when it has the plain shape; `None` = ask serde.
pub fn read(text: &str) -> Option<TagsEnvelope> {
    let mut c = Cursor::new(text);
    let mut results = None;
    c.object(|c, key| match key {
        "results" if results.is_none() => {
            results = Some(read_results(c)?);
            Some(())
        }
        "results" => None,
        _ => c.skip(),
    })?;
    c.end()?;
    Some(TagsEnvelope { results: results? })
}

fn read_results(c: &mut Cursor<'_>) -> Option<TagsResults> {
    let (mut tags, mut count) = (None, None);
    c.object(|c, key| match key {
        "tags" if tags.is_none() => {
            let mut slots = Vec::new();
            c.array(|c| {
                slots.push(read_tag(c)?);
                Some(())
            })?;
            tags = Some(slots);
            Some(())
        }
        // Read by serde itself (once a page), so the number is exactly the
        // one serde reads.
        "count" if count.is_none() => {
            count = Some(crate::json::from_bytes::<Option<f64>>(c.raw()?).ok()?);
            Some(())
        }
        "tags" | "count" => None,
        _ => c.skip(),
    })?;
    Some(TagsResults {
        tags: tags.unwrap_or_default(),
        count: count.flatten(),
    })
}

/// One element of `results.tags`: an object whose schema fields are
/// strings (`deleted` true or false) or null.
fn read_tag(c: &mut Cursor<'_>) -> Option<TagSlot> {
    let mut parts = TagParts::default();
    c.object(|c, key| {
        let Some(field) = TagField::from_name(key) else {
            return c.skip();
        };
        if !parts.first(field) {
            return None;
        }
        match parts.text(field) {
            Some(slot) => *slot = c.string_or_null()?.map(crate::bytes::owned),
            None => parts.tag.deleted = c.bool_or_null()?,
        }
        Some(())
    })?;
    Some(parts.finish(None))
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
