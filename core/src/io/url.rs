//! URL building: ids go into paths and queries percent-encoded, so an id such
//! as `x/../../v1` stays one path segment.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// Characters left as they are in a path segment or query value (RFC 3986
/// unreserved); everything else is encoded, `/`, `?`, `#` and `%` included.
/// Ids that are `.` or `..` are refused earlier (see `settings::check_id`).
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// Encodes one path segment or query value.
pub fn encode(part: &str) -> String {
    utf8_percent_encode(part, COMPONENT).to_string()
}

/// `base` (no trailing slash) + `path` + `?k=v&...` with values encoded.
pub fn build(base: &str, path: &str, query: &[(&str, &str)]) -> String {
    let mut url = String::with_capacity(base.len() + path.len() + 32);
    url.push_str(base.trim_end_matches('/'));
    url.push_str(path);
    for (i, (k, v)) in query.iter().enumerate() {
        url.push(if i == 0 { '?' } else { '&' });
        url.push_str(&encode(k));
        url.push('=');
        url.push_str(&encode(v));
    }
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traversal_stays_one_segment() {
        assert_eq!(encode("x/../../v1"), "x%2F..%2F..%2Fv1");
        assert_eq!(encode("ve9EPM428h8vShlRW1KT"), "ve9EPM428h8vShlRW1KT");
        assert_eq!(encode("a b?c#d"), "a%20b%3Fc%23d");
    }

    #[test]
    fn builds_query() {
        assert_eq!(
            build("https://h/", "/p", &[("limit", "100"), ("skip", "0")]),
            "https://h/p?limit=100&skip=0"
        );
        assert_eq!(
            build("http://h", "/s", &[("locationId", "a&b")]),
            "http://h/s?locationId=a%26b"
        );
    }
}
