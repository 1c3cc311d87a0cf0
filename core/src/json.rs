//! Reading answers with serde. A 2xx body that does not fit its model is
//! `invalid-response`, naming the JSON path of the first field that does not
//! fit; a body that is not complete JSON may be whole on another try.
//!
//! The path is found after the fact, from where serde_json stopped
//! ([`path_at`]), and only for a body that failed: tracking it during every
//! read would wrap every model's deserializer, for a path wanted only when a
//! server sends something wrong.

use crate::report::{Service, SyncError};
use serde::de::IgnoredAny;
use serde::Deserialize;

/// A 2xx answer that could not be read, and whether another try may help
/// (a truncated body may be whole next time; a wrong shape will not).
#[derive(Debug)]
pub struct Unreadable {
    pub error: SyncError,
    pub retryable: bool,
}

/// Reads `body` as `T` (which may borrow from it).
pub fn read<'a, T: Deserialize<'a>>(service: Service, endpoint: &str, body: &'a [u8]) -> Result<T, Unreadable> {
    parse_at(body).map_err(|(path, e)| {
        let retryable = match e.classify() {
            serde_json::error::Category::Data => !is_json(body),
            _ => true,
        };
        Unreadable {
            error: SyncError::InvalidResponse {
                service,
                endpoint: endpoint.to_string(),
                field: path,
                message: e.to_string(),
            },
            retryable,
        }
    })
}

/// [`read`], when no retry is possible.
pub fn parse<'a, T: Deserialize<'a>>(service: Service, endpoint: &str, body: &'a [u8]) -> Result<T, SyncError> {
    read(service, endpoint, body).map_err(|u| u.error)
}

/// `T` from `body`, or the path of the field being read when it failed
/// (`(body)` for the document itself) and serde_json's error.
pub fn parse_at<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, (String, serde_json::Error)> {
    serde_json::from_slice(body).map_err(|e| {
        let offset = byte_offset(body, e.line(), e.column());
        let path = path_at(body, offset);
        (if path.is_empty() { "(body)".into() } else { path }, e)
    })
}

/// The byte offset of serde_json's 1-based line and column.
fn byte_offset(body: &[u8], line: usize, column: usize) -> usize {
    let line_start = match line {
        0 | 1 => 0,
        _ => body
            .iter()
            .enumerate()
            .filter(|(_, b)| **b == b'\n')
            .nth(line - 2)
            .map_or(body.len(), |(i, _)| i + 1),
    };
    (line_start + column).min(body.len())
}

/// The JSON path (`results.tags[3].tag`) of the value being read at
/// `offset`: the keys of the objects and the indexes of the arrays open
/// there. The text up to `offset` is walked once, skipping strings.
pub fn path_at(body: &[u8], offset: usize) -> String {
    enum Open {
        Object(Option<String>),
        Array(usize),
    }
    let mut open: Vec<Open> = Vec::new();
    let mut expecting_key = false;
    let mut i = 0;
    while i < offset.min(body.len()) {
        match body[i] {
            b'"' => {
                let start = i + 1;
                i += 1;
                while i < body.len() && body[i] != b'"' {
                    i += if body[i] == b'\\' { 2 } else { 1 };
                }
                if expecting_key {
                    if let Some(Open::Object(key)) = open.last_mut() {
                        let end = i.min(body.len());
                        *key = Some(String::from_utf8_lossy(&body[start..end]).into_owned());
                    }
                    expecting_key = false;
                }
            }
            b'{' => {
                open.push(Open::Object(None));
                expecting_key = true;
            }
            b'[' => open.push(Open::Array(0)),
            b'}' | b']' => {
                open.pop();
                expecting_key = false;
            }
            b',' => match open.last_mut() {
                Some(Open::Object(_)) => expecting_key = true,
                Some(Open::Array(n)) => *n += 1,
                None => {}
            },
            _ => {}
        }
        i += 1;
    }
    let mut path = String::new();
    for level in &open {
        match level {
            Open::Object(Some(key)) => {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(key);
            }
            Open::Object(None) => {}
            Open::Array(n) => path.push_str(&format!("[{n}]")),
        }
    }
    path
}

/// Whether `body` is JSON of any shape.
fn is_json(body: &[u8]) -> bool {
    serde_json::from_slice::<IgnoredAny>(body).is_ok()
}

/// serde_json's message without its position (for a value inside a larger
/// document, the position within the value would mislead).
pub fn message_of(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rsplit_once(" at line ") {
        Some((message, _)) => message.to_string(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Outer {
        results: Inner,
    }

    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Inner {
        count: f64,
    }

    #[test]
    fn parse_errors_name_the_field() {
        let e = parse::<Outer>(Service::Ghl, "GET /x", br#"{"results":{"count":"many"}}"#).unwrap_err();
        match e {
            SyncError::InvalidResponse { field, endpoint, .. } => {
                assert_eq!(field, "results.count");
                assert_eq!(endpoint, "GET /x");
            }
            other => panic!("{other:?}"),
        }
        let e = parse::<Outer>(Service::Ghl, "GET /x", br#"{"results":{"count":1}"#).unwrap_err();
        assert!(matches!(e, SyncError::InvalidResponse { .. }));
        let e = parse::<Outer>(Service::Ghl, "GET /x", b"{}").unwrap_err();
        assert!(e.to_string().contains("results"), "{e}");
        // Not UTF-8: still a typed error at the right place.
        let e = parse::<Outer>(Service::Ghl, "GET /x", b"{\"results\":{\"count\":\"\xff\"}}").unwrap_err();
        match e {
            SyncError::InvalidResponse { field, .. } => assert_eq!(field, "results.count"),
            other => panic!("{other:?}"),
        }
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Tags {
            tags: Vec<Outer>,
        }
        let body =
            b"{\"tags\": [{\"results\": {\"count\": 1}},\n {\"results\": {\"x\": \"a,]}\\\"\", \"count\": true}}]}";
        match parse::<Tags>(Service::Ghl, "GET /x", body).unwrap_err() {
            SyncError::InvalidResponse { field, .. } => assert_eq!(field, "tags[1].results.count"),
            other => panic!("{other:?}"),
        }
        match parse::<Tags>(Service::Ghl, "GET /x", br#"{"tags": [{"results": {}}]}"#).unwrap_err() {
            SyncError::InvalidResponse { field, message, .. } => {
                assert_eq!(field, "tags[0].results");
                assert!(message.contains("count"), "{message}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn cut_or_broken_bodies_may_be_whole_next_time_wrong_shapes_not() {
        let retryable = |b: &[u8]| read::<Outer>(Service::Ghl, "x", b).unwrap_err().retryable;
        assert!(retryable(br#"{"results":{"count":1"#), "truncated");
        assert!(retryable(br#"{"results":{"count":1}} trailing"#), "trailing bytes");
        assert!(retryable(b"<html>Bad gateway</html>"), "not JSON");
        assert!(retryable(b"{\"results\":{\"count\":\"\xff\"}}"), "not UTF-8");
        assert!(
            !retryable(br#"{"results":{"count":"many"}}"#),
            "a wrong shape stays wrong"
        );
        assert!(!retryable(b"{}"), "a missing field stays missing");
        // A wrong field before a cut: the cut is what to try again.
        assert!(retryable(br#"{"results":{"count":"many","#));
    }

    #[test]
    fn messages_without_positions() {
        let e = serde_json::from_str::<Inner>(r#"{"count": true}"#).unwrap_err();
        assert_eq!(message_of(&e), "invalid type: boolean `true`, expected f64");
    }
}
