//! Instants as GHL writes them (RFC 3339, e.g. `2024-01-22T05:32:49.463Z`)
//! and as the connector keeps them (milliseconds since the Unix epoch).

use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, PrimitiveDateTime, Time};

/// Milliseconds since the epoch of an RFC 3339 date-time, or of a day
/// (`YYYY-MM-DD`, midnight UTC). Instants before the epoch are refused.
pub fn parse_ms(text: &str) -> Result<u64, String> {
    let at = match OffsetDateTime::parse(text, &Rfc3339) {
        Ok(at) => at,
        Err(_) => {
            let day = crate::stats::parse_day(text).map_err(|_| {
                format!("`{text}` is not an RFC 3339 date-time (e.g. 2026-11-01T00:00:00Z) or a day (2026-11-01)")
            })?;
            PrimitiveDateTime::new(day, Time::MIDNIGHT).assume_utc()
        }
    };
    u64::try_from(at.unix_timestamp_nanos() / 1_000_000).map_err(|_| format!("`{text}` is before 1970"))
}

/// The RFC 3339 text of an instant, in UTC (`2024-01-22T05:32:49.463Z`;
/// a whole second has no fraction).
pub fn format_ms(ms: u64) -> String {
    let nanos = i128::from(ms) * 1_000_000;
    let at = OffsetDateTime::from_unix_timestamp_nanos(nanos).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    at.format(&Rfc3339).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses() {
        let ms = parse_ms("2024-01-22T05:32:49.463Z").unwrap();
        assert_eq!(ms, 1_705_901_569_463);
        assert_eq!(format_ms(ms), "2024-01-22T05:32:49.463Z");
        assert_eq!(parse_ms("2024-01-22T07:32:49.463+02:00").unwrap(), ms);
        assert_eq!(parse_ms("1970-01-02").unwrap(), 86_400_000);
        assert_eq!(format_ms(0), "1970-01-01T00:00:00Z");
        for bad in [
            "",
            "yesterday",
            "2024-13-01",
            "2024-01-22 05:32:49",
            "1969-12-31T23:59:59Z",
        ] {
            assert!(parse_ms(bad).is_err(), "{bad}");
        }
    }
}
