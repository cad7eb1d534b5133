//! Wall-clock times as a container's state records them: RFC 3339 in UTC
//! (`2024-05-01T12:34:56.123456789Z`), the form `docker inspect` prints.
//!
//! The state outlives the process that wrote it, so a time is kept as a calendar date and not as a
//! monotonic instant (which means nothing to the next process). A formatter of a few lines does
//! it; the days-to-date arithmetic is Howard Hinnant's `civil_from_days`
//! (<https://howardhinnant.github.io/date_algorithms.html>), the one C++20's `<chrono>` is built on.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A moment in UTC, to the nanosecond, since 1970 (nothing in the workshop happened before that).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    secs: u64,
    nanos: u32,
}

impl Timestamp {
    pub fn now() -> Timestamp {
        Timestamp::from(SystemTime::now())
    }

    /// `secs` seconds and `nanos` nanoseconds after 1970-01-01T00:00:00Z.
    pub fn from_unix(secs: u64, nanos: u32) -> Timestamp {
        let nanos = nanos.min(999_999_999);
        Timestamp { secs, nanos }
    }

    pub fn unix_secs(&self) -> u64 {
        self.secs
    }

    /// How long after `earlier` this is; zero when it is not after (a clock set back, say).
    pub fn since(&self, earlier: Timestamp) -> Duration {
        let this = Duration::new(self.secs, self.nanos);
        this.saturating_sub(Duration::new(earlier.secs, earlier.nanos))
    }

    /// `2024-05-01T12:34:56.123456789Z`: nanoseconds always written, as `docker inspect` does.
    pub fn rfc3339(&self) -> String {
        let days = (self.secs / 86_400) as i64;
        let rest = self.secs % 86_400;
        let (y, m, d) = civil_from_days(days);
        let (hh, mm, ss) = (rest / 3600, rest / 60 % 60, rest % 60);
        format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}.{:09}Z", self.nanos)
    }

    /// Reads what [`Timestamp::rfc3339`] writes, with or without the fraction (1 to 9 digits).
    /// Only UTC (`Z`): the workshop never writes an offset, so one means the file was edited.
    pub fn parse_rfc3339(text: &str) -> Result<Timestamp, String> {
        let bad = || format!("{text:?} is not a UTC time like 2024-05-01T12:34:56.000000000Z");
        let b = text.as_bytes();
        if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' {
            return Err(bad());
        }
        if b[13] != b':' || b[16] != b':' || b.last() != Some(&b'Z') {
            return Err(bad());
        }
        let num = |r: std::ops::Range<usize>| -> Result<u64, String> {
            let s = &text[r];
            if s.bytes().all(|c| c.is_ascii_digit()) {
                s.parse().map_err(|_| bad())
            } else {
                Err(bad())
            }
        };
        let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
        let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
        if y < 1970 || !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 {
            return Err(bad());
        }
        if s > 59 || civil_from_days(days_from_civil(y as i64, mo as u32, d as u32)).2 != d as u32 {
            return Err(bad());
        }
        let frac = &text[19..text.len() - 1];
        let nanos = match frac.strip_prefix('.') {
            None if frac.is_empty() => 0,
            Some(digits) if (1..=9).contains(&digits.len()) => {
                num(20..20 + digits.len())? as u32 * 10u32.pow(9 - digits.len() as u32)
            }
            _ => return Err(bad()),
        };
        let days = days_from_civil(y as i64, mo as u32, d as u32) as u64;
        Ok(Timestamp { secs: days * 86_400 + h * 3600 + mi * 60 + s, nanos })
    }
}

impl From<SystemTime> for Timestamp {
    fn from(t: SystemTime) -> Timestamp {
        let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
        Timestamp { secs: d.as_secs(), nanos: d.subsec_nanos() }
    }
}

impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.rfc3339())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.rfc3339())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        let text = String::deserialize(d)?;
        Timestamp::parse_rfc3339(&text).map_err(serde::de::Error::custom)
    }
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // day of the 400-year era
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // day of the year, from March 1st
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// The inverse: (year, month, day) to days since 1970-01-01.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from(if m > 2 { m - 3 } else { m + 9 });
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_epoch_and_known_dates_format_as_rfc3339() {
        assert_eq!(Timestamp::from_unix(0, 0).rfc3339(), "1970-01-01T00:00:00.000000000Z");
        // `date -u -d @1714566896` → Wed May  1 12:34:56 UTC 2024
        let t = Timestamp::from_unix(1_714_566_896, 123_456_789);
        assert_eq!(t.rfc3339(), "2024-05-01T12:34:56.123456789Z");
        // A leap day, and the day after the year's last.
        assert_eq!(
            Timestamp::from_unix(951_782_400, 0).rfc3339(),
            "2000-02-29T00:00:00.000000000Z"
        );
        assert_eq!(
            Timestamp::from_unix(1_735_689_600, 0).rfc3339(),
            "2025-01-01T00:00:00.000000000Z"
        );
    }

    #[test]
    fn parsing_reads_back_what_formatting_writes() {
        for secs in [0, 951_782_400, 1_714_566_896, 4_102_444_799] {
            let t = Timestamp::from_unix(secs, 7);
            assert_eq!(Timestamp::parse_rfc3339(&t.rfc3339()), Ok(t));
        }
        let short = Timestamp::parse_rfc3339("2024-05-01T12:34:56.5Z").unwrap();
        assert_eq!(short, Timestamp::from_unix(1_714_566_896, 500_000_000));
        let none = Timestamp::parse_rfc3339("2024-05-01T12:34:56Z").unwrap();
        assert_eq!(none, Timestamp::from_unix(1_714_566_896, 0));
    }

    #[test]
    fn parsing_refuses_what_the_workshop_never_writes() {
        for bad in [
            "",
            "yesterday",
            "2024-05-01 12:34:56Z",
            "2024-05-01T12:34:56+02:00",
            "2024-02-30T00:00:00Z",
            "2024-13-01T00:00:00Z",
            "2024-05-01T24:00:00Z",
            "2024-05-01T12:34:56.Z",
            "2024-05-01T12:34:56.1234567890Z",
            "1969-12-31T23:59:59Z",
            "2024-05-01T12:34:5xZ",
        ] {
            assert!(Timestamp::parse_rfc3339(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn since_is_never_negative() {
        let a = Timestamp::from_unix(100, 500);
        let b = Timestamp::from_unix(103, 400);
        assert_eq!(b.since(a), Duration::new(2, 999_999_900));
        assert_eq!(a.since(b), Duration::ZERO);
    }

    #[test]
    fn it_serializes_as_a_json_string() {
        let t = Timestamp::from_unix(1_714_566_896, 0);
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(json, r#""2024-05-01T12:34:56.000000000Z""#);
        assert_eq!(serde_json::from_str::<Timestamp>(&json).unwrap(), t);
    }
}
