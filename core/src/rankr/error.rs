//! Rankr's error bodies: `Problem` (application/problem+json) in
//! `spec/rankr-api.yaml`, with per-item errors for a refused batch.

use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct Problem {
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    detail: Option<String>,
    #[serde(default)]
    errors: Vec<ProblemItem>,
}

#[derive(Debug, Deserialize)]
struct ProblemItem {
    #[serde(default)]
    index: Option<i64>,
    #[serde(default)]
    field: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

/// `title: detail (items[3].name: too long; …)` from a problem body, when it
/// has that shape (the first ten item errors).
pub fn message(body: &[u8]) -> Option<String> {
    let problem: Problem = serde_json::from_slice(body).ok()?;
    let mut text = problem.title?;
    if let Some(detail) = problem.detail {
        text = format!("{text}: {detail}");
    }
    let items: Vec<String> = problem
        .errors
        .iter()
        .take(10)
        .map(|e| {
            let at = match (e.index, &e.field) {
                (Some(i), Some(f)) => format!("items[{i}].{f}"),
                (None, Some(f)) => f.clone(),
                (Some(i), None) => format!("items[{i}]"),
                (None, None) => "?".into(),
            };
            format!("{at}: {}", e.message.as_deref().unwrap_or(""))
        })
        .collect();
    if !items.is_empty() {
        text = format!("{text} ({})", items.join("; "));
    }
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_with_their_items() {
        assert_eq!(
            message(
                br#"{"title":"Invalid body","status":422,"detail":"2 items","errors":[{"index":3,"field":"name","message":"too long"}]}"#
            )
            .as_deref(),
            Some("Invalid body: 2 items (items[3].name: too long)")
        );
        assert_eq!(
            message(br#"{"title":"Not Found","status":404}"#).as_deref(),
            Some("Not Found")
        );
        assert_eq!(message(br#"{"status":500}"#), None, "a problem needs a title");
        assert_eq!(message(b""), None);
    }
}
