//! Every JSON document the component reads is parsed here, as text; and
//! the strings of the documents it writes most are written here.
//!
//! Why: serde_json's byte-slice reader checks UTF-8 string by string. Inside
//! wasm that check was 8% of the component's instructions per tag: the
//! strings are short, so `from_utf8` never reaches its word-at-a-time path.
//! Checking the whole body once and then parsing it as `&str` is one pass.
//! One reader for every document also keeps one copy of each model's
//! deserializer in the component (both readers together cost 103 KB).

mod maps_only;
pub mod scan;

use maps_only::MapsOnly;
use serde::Deserialize;
use std::fmt;

/// Why a body could not be read.
#[derive(Debug)]
pub enum JsonError {
    /// Not UTF-8 (so not JSON); the first bad byte is at `offset`.
    NotUtf8 { offset: usize },
    /// Not JSON, or JSON of another shape.
    Json(serde_json::Error),
}

/// Parses `bytes` as JSON text of type `T`.
/// Structs are read from objects only (see `maps_only`).
pub fn from_bytes<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, JsonError> {
    let mut de = serde_json::Deserializer::from_str(utf8(bytes)?);
    let value = T::deserialize(MapsOnly(&mut de)).map_err(JsonError::Json)?;
    de.end().map_err(JsonError::Json)?;
    Ok(value)
}

/// `{"key":["item",…],…}`: the request bodies that are lists of ids. Written
/// here rather than through `json!` and `Value`'s `Display`, which compile a
/// map builder and a pretty-printer for three small bodies.
pub fn object_of_lists(fields: &[(&str, &[String])]) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    out.push(b'{');
    for (i, (key, items)) in fields.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_str(&mut out, key);
        out.extend_from_slice(b":[");
        for (j, item) in items.iter().enumerate() {
            if j > 0 {
                out.push(b',');
            }
            write_str(&mut out, item);
        }
        out.push(b']');
    }
    out.push(b'}');
    out
}

/// `bytes` as text when they are UTF-8 (see [`utf8`]).
pub fn text(bytes: &[u8]) -> Option<&str> {
    utf8(bytes).ok()
}

/// `bytes` as text, as `str::from_utf8` checks it. An ASCII prefix (most of
/// any JSON body) is first checked sixteen bytes a step: in wasm, `usize`
/// is four bytes, so `from_utf8`'s own word-at-a-time path takes eight per
/// step, and each step also pays an epoch check.
fn utf8(bytes: &[u8]) -> Result<&str, JsonError> {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut i = 0;
    while i + 16 <= bytes.len() {
        // SAFETY: i + 16 <= len, so both eight-byte reads are in bounds.
        let (x, y) = unsafe {
            let p = bytes.as_ptr().add(i);
            (
                (p as *const u64).read_unaligned(),
                (p.add(8) as *const u64).read_unaligned(),
            )
        };
        if (x | y) & HIGH != 0 {
            break;
        }
        i += 16;
    }
    match std::str::from_utf8(&bytes[i..]) {
        // SAFETY: bytes[..i] is ASCII (checked above) and bytes[i..] is
        // UTF-8; an ASCII prefix never splits a character.
        Ok(_) => Ok(unsafe { std::str::from_utf8_unchecked(bytes) }),
        Err(e) => Err(JsonError::NotUtf8 {
            offset: i + e.valid_up_to(),
        }),
    }
}

impl JsonError {
    /// The byte offset in `body` where reading stopped.
    pub fn offset(&self, body: &[u8]) -> usize {
        match self {
            JsonError::NotUtf8 { offset } => *offset,
            JsonError::Json(e) => byte_offset(body, e.line(), e.column()),
        }
    }
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JsonError::NotUtf8 { offset } => write!(f, "the body is not UTF-8 (a bad byte sequence at byte {offset})"),
            JsonError::Json(e) => e.fmt(f),
        }
    }
}

/// The byte offset of serde_json's 1-based line and column.
fn byte_offset(body: &[u8], line: usize, column: usize) -> usize {
    let line_start = if line <= 1 {
        0
    } else {
        body.iter()
            .enumerate()
            .filter(|(_, b)| **b == b'\n')
            .nth(line - 2)
            .map_or(body.len(), |(i, _)| i + 1)
    };
    (line_start + column).min(body.len())
}

/// Appends `s` as a JSON string, byte for byte as serde_json writes it
/// (a proptest holds the two equal). When nothing in `s` needs escaping (the usual case) its
/// bytes are copied as they are, eight at a time, checked as they are
/// copied; otherwise serde_json escapes it. Copying by hand also keeps the
/// short copy out of wasm's `memory.copy`, which is a call into the host.
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    let b = s.as_bytes();
    let n = b.len();
    out.reserve(n + 2);
    let start = out.len();
    // SAFETY: `reserve` made room for n + 2 bytes past `start`; every write
    // below stays within it, reads stay within `b`, and the length is set
    // only once all n + 2 bytes are written.
    unsafe {
        let dst = out.as_mut_ptr().add(start);
        dst.write(b'"');
        let mut i = 0;
        // Whole words, then the last (overlapping) word; short strings are
        // read in two overlapping halves or three bytes: no byte loop, so
        // no epoch check per byte in wasm.
        if n >= 8 {
            while i + 8 < n {
                let x = (b.as_ptr().add(i) as *const u64).read_unaligned();
                if escapes(x) {
                    return escaped(out, s);
                }
                (dst.add(1 + i) as *mut u64).write_unaligned(x);
                i += 8;
            }
            let x = (b.as_ptr().add(n - 8) as *const u64).read_unaligned();
            if escapes(x) {
                return escaped(out, s);
            }
            (dst.add(1 + n - 8) as *mut u64).write_unaligned(x);
        } else if n >= 4 {
            let lo = (b.as_ptr() as *const u32).read_unaligned();
            let hi = (b.as_ptr().add(n - 4) as *const u32).read_unaligned();
            if escapes(u64::from(lo) | u64::from(hi) << 32) {
                return escaped(out, s);
            }
            (dst.add(1) as *mut u32).write_unaligned(lo);
            (dst.add(1 + n - 4) as *mut u32).write_unaligned(hi);
        } else if n > 0 {
            let (first, mid, last) = (b[0], b[n / 2], b[n - 1]);
            if escapes_byte(first) || escapes_byte(mid) || escapes_byte(last) {
                return escaped(out, s);
            }
            dst.add(1).write(first);
            dst.add(1 + n / 2).write(mid);
            dst.add(n).write(last);
        }
        dst.add(1 + n).write(b'"');
        out.set_len(start + n + 2);
    }
}

/// `s` written by serde_json, escapes and all (`out` is as it was).
fn escaped(out: &mut Vec<u8>, s: &str) {
    if serde_json::to_writer(&mut *out, s).is_err() {
        out.extend_from_slice(b"\"\"");
    }
}

/// Whether JSON escapes this byte: a control byte, `"` or `\`.
fn escapes_byte(c: u8) -> bool {
    c < 0x20 || c == b'"' || c == b'\\'
}

/// Whether any byte of the word is one JSON escapes: a byte-wise zero test,
/// with the quote and the backslash turned into zeros by an xor.
fn escapes(x: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero_byte = |v: u64| v.wrapping_sub(ONES) & !v & HIGH != 0;
    // A byte below 0x20 borrows in `x - 0x20..`; the high bit of `!x` keeps
    // bytes >= 0x80 (UTF-8) out.
    let control = x.wrapping_sub(ONES * 0x20) & !x & HIGH != 0;
    control || zero_byte(x ^ (ONES * u64::from(b'"'))) || zero_byte(x ^ (ONES * u64::from(b'\\')))
}

/// The test `write_str` applies to a whole string.
#[cfg(test)]
fn needs_escape(b: &[u8]) -> bool {
    let mut words = b.chunks_exact(8);
    let any_word = words
        .by_ref()
        .any(|w| escapes(u64::from_ne_bytes(w.try_into().unwrap_or_default())));
    any_word || words.remainder().iter().any(|&c| escapes_byte(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_of_lists_is_what_json_macro_writes() {
        let ids: Vec<String> = vec!["a".into(), "q\"uote\\é\n".into(), String::new()];
        let none: Vec<String> = vec![];
        let body = object_of_lists(&[("tagIds", &ids)]);
        assert_eq!(body, serde_json::json!({ "tagIds": ids }).to_string().into_bytes());
        let body = object_of_lists(&[("profileIds", &ids), ("platforms", &none)]);
        let back: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(back, serde_json::json!({ "profileIds": ids, "platforms": [] }));
    }

    #[test]
    fn needs_escape_finds_every_escaped_byte_anywhere() {
        for len in 0..20 {
            for at in 0..len {
                for bad in (0u8..0x20).chain([b'"', b'\\']) {
                    let mut v = vec![b'a'; len];
                    v[at] = bad;
                    assert!(needs_escape(&v), "{bad:#x} at {at} of {len}");
                }
                for good in [0x20u8, b'!', b'#', b'[', b']', 0x7f, 0x80, 0xc3, 0xff] {
                    let mut v = vec![b'a'; len];
                    v[at] = good;
                    assert!(!needs_escape(&v), "{good:#x} at {at} of {len}");
                }
            }
        }
    }

    #[test]
    fn text_bytes_and_their_errors() {
        let v: Vec<String> = from_bytes(b"[\"a\",\"\\u00e9\",\"\xc3\xa9\"]").unwrap();
        assert_eq!(v, ["a", "é", "é"]);
        let borrowed: Vec<&str> = from_bytes(br#"["plain"]"#).unwrap();
        assert_eq!(borrowed, ["plain"]);
        let e = from_bytes::<Vec<String>>(b"[\"ok\", \"\xff\"]").unwrap_err();
        assert!(matches!(e, JsonError::NotUtf8 { offset: 8 }), "{e:?}");
        assert!(e.to_string().contains("not UTF-8"), "{e}");
        // A syntax error on the second line: the offset is where it stopped.
        let body = b"[1,\n 2,, 3]";
        let e = from_bytes::<Vec<u32>>(body).unwrap_err();
        assert!(matches!(e, JsonError::Json(_)));
        assert_eq!(&body[..e.offset(body)], b"[1,\n 2,,");
    }

    /// Every length up to 40 (each of the word, half-word and byte paths,
    /// and every overlap), with an escaped or a non-ASCII character at each
    /// position: the same bytes as serde_json.
    #[test]
    fn write_str_is_what_serde_json_writes_at_every_length() {
        for len in 0..40 {
            let plain = "a".repeat(len);
            let mut cases = vec![plain.clone()];
            for at in 0..len {
                for c in ['"', '\\', '\n', '\u{1}', '\u{7f}', 'é', '€'] {
                    let mut s: Vec<char> = plain.chars().collect();
                    s[at] = c;
                    cases.push(s.into_iter().collect());
                }
            }
            for s in cases {
                let mut out = b"x".to_vec();
                write_str(&mut out, &s);
                assert_eq!(out[1..], serde_json::to_vec(&s).unwrap()[..], "{s:?}");
            }
        }
    }

    /// The sixteen-byte ASCII steps give `from_utf8`'s answer and offset
    /// for a bad or a multi-byte sequence at every position.
    #[test]
    fn utf8_agrees_with_from_utf8_everywhere() {
        let bad: [&[u8]; 5] = [b"\xff", b"\xc3", b"\xe2\x82", b"\xed\xa0\x80", b"\xc3\xa9"];
        for len in 0..70 {
            for at in 0..=len {
                for b in bad {
                    let mut v = vec![b'a'; len];
                    v.splice(at..at, b.iter().copied());
                    match (utf8(&v), std::str::from_utf8(&v)) {
                        (Ok(a), Ok(b)) => assert_eq!(a, b),
                        (Err(JsonError::NotUtf8 { offset }), Err(e)) => assert_eq!(offset, e.valid_up_to()),
                        (a, b) => panic!("{len} {at} {b:?}: {a:?} vs {b:?}"),
                    }
                }
            }
        }
    }
}
