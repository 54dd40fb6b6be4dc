//! Instants on the command line and on screen. Passes store Unix seconds; people type and read
//! local times, in Asia/Shanghai unless told otherwise. Pure: "now" is never read here.

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ZonedDateTime as Zoned};

/// The time zone used when none is configured.
pub const DEFAULT_TZ: &str = "Asia/Shanghai";

/// Why a time or time zone could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TimeError {
    /// Unknown IANA time zone name.
    #[error("unknown time zone {0:?}")]
    UnknownZone(String),
    /// Neither RFC 3339, a local date-time, nor a date.
    #[error(
        "{0:?} is not a time: use RFC 3339 (2022-04-01T08:00:00+08:00), a local time (2022-04-01T08:00) or a date (2022-04-30)"
    )]
    Unparsable(String),
    /// Before 1970 or beyond what a pass can carry.
    #[error("{0:?} is out of range")]
    OutOfRange(String),
}

/// Which end of a day a bare date stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bound {
    /// 00:00:00 of that day (for `--from`).
    StartOfDay,
    /// 23:59:59 of that day (for `--until`; `valid_until` is inclusive).
    EndOfDay,
}

/// Looks up an IANA time zone (the database is bundled, so this works on any machine).
pub fn zone(name: &str) -> Result<TimeZone, TimeError> {
    TimeZone::get(name).map_err(|_| TimeError::UnknownZone(name.to_owned()))
}

/// The default zone, Asia/Shanghai.
pub fn default_zone() -> TimeZone {
    zone(DEFAULT_TZ).unwrap_or(TimeZone::fixed(jiff::tz::offset(8)))
}

/// Parses RFC 3339 (`2022-04-01T08:00:00+08:00`), a local date-time in `tz`
/// (`2022-04-01T08:00`, `2022-04-01 08:00:00`) or a date (`2022-04-30`, read by `bound`).
pub fn parse_instant(text: &str, tz: &TimeZone, bound: Bound) -> Result<u64, TimeError> {
    let text = text.trim();
    let unparsable = || TimeError::Unparsable(text.to_owned());
    let ts = if let Ok(ts) = text.parse::<Timestamp>() {
        ts
    } else if text.len() == 10
        && let Ok(date) = text.parse::<Date>()
    {
        let time = match bound {
            Bound::StartOfDay => jiff::civil::time(0, 0, 0, 0),
            Bound::EndOfDay => jiff::civil::time(23, 59, 59, 0),
        };
        date.to_datetime(time).to_zoned_datetime(tz.clone()).map_err(|_| unparsable())?.timestamp()
    } else if let Ok(dt) = text.parse::<jiff::civil::DateTime>() {
        dt.to_zoned_datetime(tz.clone()).map_err(|_| unparsable())?.timestamp()
    } else {
        return Err(unparsable());
    };
    u64::try_from(ts.as_second()).map_err(|_| TimeError::OutOfRange(text.to_owned()))
}

fn zoned(secs: u64, tz: &TimeZone) -> Option<Zoned> {
    let secs = i64::try_from(secs).ok()?;
    Some(Timestamp::from_second(secs).ok()?.to_zoned_datetime(tz.clone()))
}

/// "45 s", "3 min", "5 h", "2 days": a duration for people.
pub fn age(secs: u64) -> String {
    match secs {
        0..=119 => format!("{secs} s"),
        120..=7199 => format!("{} min", secs / 60),
        7200..=172_799 => format!("{} h", secs / 3600),
        _ => format!("{} days", secs / 86_400),
    }
}

/// `2022-04-01T08:00:00+08:00`: for JSON and logs.
pub fn rfc3339(secs: u64, tz: &TimeZone) -> String {
    zoned(secs, tz).map_or_else(|| format!("@{secs}"), |z| z.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string())
}

/// `2022-04-01 08:00 (UTC+08:00)`: for people. Seconds are shown only when not zero or 59.
pub fn human(secs: u64, tz: &TimeZone) -> String {
    match zoned(secs, tz) {
        None => format!("@{secs}"),
        Some(z) if matches!(z.second(), 0 | 59) => z.strftime("%Y-%m-%d %H:%M (UTC%:z)").to_string(),
        Some(z) => z.strftime("%Y-%m-%d %H:%M:%S (UTC%:z)").to_string(),
    }
}

/// `2026-12-05 20:33`: an instant to the minute in `tz`, for a screen short of room.
pub fn human_minute(secs: u64, tz: &TimeZone) -> String {
    zoned(secs, tz).map_or_else(|| format!("@{secs}"), |z| z.strftime("%Y-%m-%d %H:%M").to_string())
}

/// A validity window on one short line, the zone said once: `2026-12-01 00:00 → 2027-02-28
/// 23:59 (UTC+08:00)`.
pub fn human_span(from: u64, until: u64, tz: &TimeZone) -> String {
    let short = |secs| match zoned(secs, tz) {
        None => format!("@{secs}"),
        Some(z) => z.strftime("%Y-%m-%d %H:%M").to_string(),
    };
    let zone = zoned(until, tz).map_or_else(String::new, |z| z.strftime(" (UTC%:z)").to_string());
    format!("{} → {}{zone}", short(from), short(until))
}

/// `08:12`: a time of day, for "seen before at 08:12".
pub fn clock(secs: u64, tz: &TimeZone) -> String {
    zoned(secs, tz).map_or_else(|| format!("@{secs}"), |z| z.strftime("%H:%M").to_string())
}

/// The start of the local day (in `tz`) that contains `secs`, in Unix seconds.
pub fn day_start(secs: u64, tz: &TimeZone) -> u64 {
    zoned(secs, tz)
        .and_then(|z| z.start_of_day().ok())
        .map_or(0, |z| u64::try_from(z.timestamp().as_second()).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_take_the_named_end_of_the_day_in_shanghai() {
        let tz = default_zone();
        let from = parse_instant("2022-04-01", &tz, Bound::StartOfDay).expect("parses");
        let until = parse_instant("2022-04-30", &tz, Bound::EndOfDay).expect("parses");
        assert_eq!(rfc3339(from, &tz), "2022-04-01T00:00:00+08:00");
        assert_eq!(rfc3339(until, &tz), "2022-04-30T23:59:59+08:00");
        assert_eq!(from, 1_648_742_400);
    }

    #[test]
    fn rfc3339_and_local_times() {
        let tz = default_zone();
        let a = parse_instant("2022-04-01T08:00:00+08:00", &tz, Bound::StartOfDay).expect("parses");
        let b = parse_instant("2022-04-01T00:00:00Z", &tz, Bound::EndOfDay).expect("parses");
        let c = parse_instant("2022-04-01T08:00", &tz, Bound::StartOfDay).expect("parses");
        assert_eq!(a, b);
        assert_eq!(a, c);
        let utc = zone("UTC").expect("utc");
        assert_eq!(parse_instant("2022-04-01", &utc, Bound::StartOfDay).expect("parses"), a);
        assert!(parse_instant("yesterday", &tz, Bound::StartOfDay).is_err());
        assert!(parse_instant("1969-12-31", &utc, Bound::StartOfDay).is_err());
        assert!(zone("Mars/Olympus").is_err());
        assert_eq!(human(a, &tz), "2022-04-01 08:00 (UTC+08:00)");
    }
}
