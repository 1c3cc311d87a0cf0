//! Every JSON document the component reads is parsed here, as text.
//!
//! Why: serde_json's byte-slice reader checks UTF-8 string by string. Inside
//! wasm that check was 8% of the component's instructions per tag: the
//! strings are short, so `from_utf8` never reaches its word-at-a-time path.
//! Checking the whole body once and then parsing it as `&str` is one pass.
//! One reader for every document also keeps one copy of each model's
//! deserializer in the component (both readers together cost 103 KB).

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
pub fn from_bytes<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, JsonError> {
    let text = std::str::from_utf8(bytes).map_err(|e| JsonError::NotUtf8 {
        offset: e.valid_up_to(),
    })?;
    serde_json::from_str(text).map_err(JsonError::Json)
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
