//! Timestamps for delivery latency, as microseconds since the Unix epoch:
//! the server's `server_time` (RFC 3339) read without a general date parser,
//! and the receipt time from the system clock. Every watcher reads every
//! event, so this runs 100,000 times a second in a big run.

use std::time::{SystemTime, UNIX_EPOCH};

use chrono::DateTime;

/// Now, in microseconds since the epoch.
pub fn now_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| {
            i64::try_from(since.as_micros()).unwrap_or(i64::MAX)
        })
}

/// `text` (RFC 3339) in microseconds since the epoch. The server's own shape,
/// `YYYY-MM-DDTHH:MM:SS.fffZ`, is read directly; anything else goes through
/// chrono.
pub fn rfc3339_micros(text: &str) -> Option<i64> {
    fast_utc_millis(text.as_bytes())
        .map(|millis| millis * 1000)
        .or_else(|| {
            DateTime::parse_from_rfc3339(text)
                .ok()
                .map(|t| t.timestamp_micros())
        })
}

/// `YYYY-MM-DDTHH:MM:SS.fffZ` exactly, in milliseconds since the epoch.
fn fast_utc_millis(bytes: &[u8]) -> Option<i64> {
    if bytes.len() != 24
        || bytes[4] != b'-'
        || bytes[7] != b'-'
        || bytes[10] != b'T'
        || bytes[13] != b':'
        || bytes[16] != b':'
        || bytes[19] != b'.'
        || bytes[23] != b'Z'
    {
        return None;
    }
    let number = |range: std::ops::Range<usize>| -> Option<i64> {
        bytes[range].iter().try_fold(0i64, |acc, byte| {
            byte.is_ascii_digit()
                .then(|| acc * 10 + i64::from(byte - b'0'))
        })
    };
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
    let millis = number(20..23)?;
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let days = days_from_civil(year, month, day);
    Some((((days * 24 + hour) * 60 + minute) * 60 + second) * 1000 + millis)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = (month + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{SecondsFormat, TimeZone as _, Utc};
    use proptest::prelude::*;

    #[test]
    fn the_epoch_and_a_known_instant() {
        assert_eq!(rfc3339_micros("1970-01-01T00:00:00.000Z"), Some(0));
        assert_eq!(
            rfc3339_micros("2023-11-14T22:13:20.123Z"),
            Some(1_700_000_000_123_000)
        );
        // Other shapes go through chrono.
        assert_eq!(
            rfc3339_micros("2023-11-14T23:13:20.123456+01:00"),
            Some(1_700_000_000_123_456)
        );
        assert_eq!(rfc3339_micros("2023-13-14T22:13:20.123Z"), None);
        assert_eq!(rfc3339_micros("not a time"), None);
    }

    proptest! {
        #[test]
        fn agrees_with_chrono(millis in 0i64..8_000_000_000_000) {
            let time = Utc.timestamp_millis_opt(millis).single().ok_or_else(|| TestCaseError::fail("range"))?;
            let text = time.to_rfc3339_opts(SecondsFormat::Millis, true);
            prop_assert_eq!(fast_utc_millis(text.as_bytes()), Some(millis));
        }
    }
}
