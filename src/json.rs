//! Reading answers with serde. A 2xx body that does not fit its model is
//! `invalid-response`, naming the JSON path of the first field that does not
//! fit; a body that is not complete JSON may be whole on another try.

use crate::report::{Service, SyncError};
use serde::de::{DeserializeOwned, IgnoredAny};

/// A 2xx answer that could not be read, and whether another try may help
/// (a truncated body may be whole next time; a wrong shape will not).
#[derive(Debug)]
pub struct Unreadable {
    pub error: SyncError,
    pub retryable: bool,
}

/// Reads `body` as `T`.
pub fn read<T: DeserializeOwned>(service: Service, endpoint: &str, body: &[u8]) -> Result<T, Unreadable> {
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
pub fn parse<T: DeserializeOwned>(service: Service, endpoint: &str, body: &[u8]) -> Result<T, SyncError> {
    read(service, endpoint, body).map_err(|u| u.error)
}

/// `T` from `body`, or the path of the field being read when it failed
/// (`(body)` for the document itself) and serde_json's error.
pub fn parse_at<T: DeserializeOwned>(body: &[u8]) -> Result<T, (String, serde_json::Error)> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        (field_name(path), e.into_inner())
    })?;
    de.end().map_err(|e| ("(body)".to_string(), e))?;
    Ok(value)
}

/// serde_path_to_error names the document `.` (or `?` where it stopped
/// inside one it had not yet seen a key of).
fn field_name(path: String) -> String {
    match path.as_str() {
        "" | "." | "?" => "(body)".into(),
        _ => path,
    }
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
