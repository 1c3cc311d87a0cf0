//! A one-pass reader for the plain shape of a `batch-upsert-tags` answer,
//! tried before serde (see [`crate::json::scan`] for why, and for what
//! "plain" is). It reads an answer only as serde reads it and gives up on
//! anything else (an unknown status, a field twice or missing, a wrong
//! type), so that serde reads the answer again and names the problem.

use super::model::{TagBatchResponse, TagResult, TagStatus};
use crate::json::scan::Cursor;

/// `text` as a batch answer, when it has the plain shape; `None` = ask serde.
pub fn read(text: &str) -> Option<TagBatchResponse> {
    let mut c = Cursor::new(text);
    let mut results = None;
    c.object(|c, key| match key {
        "results" if results.is_none() => {
            let mut all = Vec::new();
            c.array(|c| {
                all.push(read_result(c)?);
                Some(())
            })?;
            results = Some(all);
            Some(())
        }
        "results" => None,
        _ => c.skip(),
    })?;
    c.end()?;
    Some(TagBatchResponse { results: results? })
}

fn read_result(c: &mut Cursor<'_>) -> Option<TagResult> {
    let (mut external_id, mut status, mut error) = (None, None, None);
    c.object(|c, key| match key {
        "externalId" if external_id.is_none() => {
            external_id = Some(crate::bytes::owned(c.string()?));
            Some(())
        }
        "status" if status.is_none() => {
            status = Some(match c.string()? {
                "created" => TagStatus::Created,
                "updated" => TagStatus::Updated,
                "unchanged" => TagStatus::Unchanged,
                "rejected" => TagStatus::Rejected,
                _ => return None,
            });
            Some(())
        }
        "error" if error.is_none() => {
            error = Some(c.string_or_null()?.map(crate::bytes::owned));
            Some(())
        }
        "externalId" | "status" | "error" => None,
        _ => c.skip(),
    })?;
    Some(TagResult {
        external_id: external_id?,
        status: status?,
        error: error.flatten(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The one rule: when the scanner reads an answer, serde reads the same.
    fn agrees(text: &str) -> Option<TagBatchResponse> {
        let fast = read(text);
        if let Some(fast) = &fast {
            let serde = crate::json::from_bytes::<TagBatchResponse>(text.as_bytes());
            assert_eq!(Ok(fast), serde.as_ref().map_err(|e| e.to_string()), "{text}");
        }
        fast
    }

    #[test]
    fn plain_answers_are_read_here_and_the_rest_left_to_serde() {
        for text in [
            r#"{"results":[{"externalId":"ghl:l1:a","id":"rk_1","status":"created"},{"externalId":"b","status":"rejected","error":"name too long"},{"externalId":"c","status":"unchanged","error":null},{"status":"updated","externalId":"é 夏"}]}"#,
            " { \"results\" : [ ] , \"trace\" : { \"n\" : [ 1 , 2.5 ] } } \n",
        ] {
            assert!(agrees(text).is_some(), "{text}");
        }
        for text in [
            r#"{"results":[{"externalId":"a","status":"archived"}]}"#,
            r#"{"results":[{"externalId":"a","status":"Created"}]}"#,
            r#"{"results":[{"externalId":"a"}]}"#,
            r#"{"results":[{"status":"created"}]}"#,
            r#"{"results":[{"externalId":null,"status":"created"}]}"#,
            r#"{"results":[{"externalId":"a","externalId":"b","status":"created"}]}"#,
            r#"{"results":[{"externalId":"a\"b","status":"created"}]}"#,
            r#"{"results":[{"externalId":"a","status":"created","error":5}]}"#,
            r#"{"results":[{"externalId":"a","status":"created"}]"#,
            r#"{"results":[]} []"#,
            r#"{"results":null}"#,
            r#"{}"#,
        ] {
            assert_eq!(agrees(text), None, "{text}");
        }
    }

    fn field() -> impl Strategy<Value = String> {
        let key = prop::sample::select(vec!["externalId", "status", "error", "id", "x"]);
        let value = prop::sample::select(vec![
            r#""a""#,
            r#""created""#,
            r#""updated""#,
            r#""unchanged""#,
            r#""rejected""#,
            r#""nope""#,
            "null",
            "3",
            r#""q\"""#,
            "[1,{}]",
        ]);
        (key, value).prop_map(|(k, v)| format!("\"{k}\":{v}"))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn random_and_broken_answers_read_alike(
            results in prop::collection::vec(prop::collection::vec(field(), 0..5), 0..4),
            at in any::<prop::sample::Index>(),
            byte in prop::sample::select(b"{}[]\":,\\ 0n".to_vec()),
            how in 0..3u8,
        ) {
            let items: Vec<String> = results.iter().map(|f| format!("{{{}}}", f.join(","))).collect();
            let mut bytes = format!("{{\"results\":[{}]}}", items.join(",")).into_bytes();
            let at = at.index(bytes.len());
            match how {
                0 => {}
                1 => bytes.truncate(at),
                _ => bytes[at] = byte,
            }
            if let Ok(text) = String::from_utf8(bytes) {
                agrees(&text);
            }
        }
    }
}
