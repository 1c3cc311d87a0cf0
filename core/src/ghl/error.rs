//! GHL's error bodies (`BadRequestDTO`, `UnauthorizedDTO`,
//! `UnprocessableDTO` in `spec/common-schemas.json`): `message` is a string
//! or, for 422, a list of strings.

use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct ErrorBody {
    #[serde(default)]
    message: Option<serde_json::Value>,
    #[serde(default)]
    error: Option<String>,
}

/// The server's own words from a GHL error body, when it has that shape.
pub fn message(body: &[u8]) -> Option<String> {
    let body: ErrorBody = serde_json::from_slice(body).ok()?;
    match body.message {
        Some(serde_json::Value::String(text)) => Some(text),
        Some(serde_json::Value::Array(items)) => Some(
            items
                .iter()
                .map(|item| match item.as_str() {
                    Some(s) => s.to_string(),
                    None => item.to_string(),
                })
                .collect::<Vec<_>>()
                .join("; "),
        ),
        _ => body.error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_of_each_shape() {
        assert_eq!(
            message(br#"{"statusCode":401,"message":"Invalid token: access token is invalid","error":"Unauthorized"}"#)
                .as_deref(),
            Some("Invalid token: access token is invalid")
        );
        assert_eq!(
            message(br#"{"statusCode":422,"message":["limit must be a number","skip bad"]}"#).as_deref(),
            Some("limit must be a number; skip bad")
        );
        assert_eq!(
            message(br#"{"statusCode":400,"error":"Bad Request"}"#).as_deref(),
            Some("Bad Request")
        );
        assert_eq!(message(b"<html>Bad gateway</html>"), None);
    }
}
