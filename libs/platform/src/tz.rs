//! Time zones: times are stored in UTC, and "today", month ends and midnights follow the
//! tenant's IANA time zone (the database is built into the binary, so it does not depend on the
//! host's).
use crate::error::ApiError;
use time::OffsetDateTime;

pub use jiff::tz::TimeZone;

/// The zone `name` names in the IANA database ("Europe/Vilnius", "UTC").
pub fn zone(name: &str) -> Option<TimeZone> {
    if name.is_empty() {
        return None;
    }
    TimeZone::get(name).ok()
}

/// Reads a zone from the wire; unknown names are INVALID_ARGUMENT on `field`.
pub fn parse(field: &str, name: &str) -> Result<TimeZone, ApiError> {
    zone(name).ok_or_else(|| ApiError::field(field, "is not a time zone of the IANA database, e.g. Europe/Vilnius"))
}

/// A zone stored by the suite, UTC when it is no longer known.
pub fn stored(name: &str) -> TimeZone {
    zone(name).unwrap_or(TimeZone::UTC)
}

fn to_jiff(at: OffsetDateTime) -> jiff::Timestamp {
    // Every OffsetDateTime the suite handles is within jiff's range (years -9999..=9999).
    jiff::Timestamp::from_nanosecond(at.unix_timestamp_nanos()).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
}

fn from_jiff(at: jiff::Timestamp) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(at.as_nanosecond()).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// The calendar date of `at` in `zone`.
pub fn local_date(at: OffsetDateTime, zone: &TimeZone) -> time::Date {
    let d = to_jiff(at).to_zoned(zone.clone()).date();
    time::Date::from_calendar_date(
        i32::from(d.year()),
        time::Month::try_from(d.month() as u8).unwrap_or(time::Month::January),
        d.day() as u8,
    )
    .unwrap_or(time::Date::MIN)
}

/// The first instant of `date` in `zone` (midnight, or the first instant after a DST gap).
pub fn start_of_day(date: time::Date, zone: &TimeZone) -> OffsetDateTime {
    let civil = jiff::civil::date(date.year() as i16, u8::from(date.month()) as i8, date.day() as i8);
    match civil.to_zoned(zone.clone()) {
        Ok(z) => from_jiff(z.start_of_day().map(|s| s.timestamp()).unwrap_or(z.timestamp())),
        Err(_) => date.midnight().assume_utc(),
    }
}

/// The last instant of `date` in `zone` (one nanosecond before the next day starts there).
pub fn end_of_day(date: time::Date, zone: &TimeZone) -> OffsetDateTime {
    let next = date.next_day().unwrap_or(date);
    start_of_day(next, zone) - time::Duration::nanoseconds(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    #[test]
    fn days_follow_the_tenant_s_zone() {
        let vilnius = parse("time_zone", "Europe/Vilnius").expect("a zone");
        // 00:30 in Vilnius on 1 February is 22:30 UTC on 31 January.
        assert_eq!(local_date(datetime!(2026-01-31 22:30 UTC), &vilnius), date!(2026 - 02 - 01));
        assert_eq!(end_of_day(date!(2026 - 02 - 28), &vilnius), datetime!(2026-02-28 21:59:59.999999999 UTC));
        // Summer time: UTC+3.
        assert_eq!(start_of_day(date!(2026 - 07 - 01), &vilnius), datetime!(2026-06-30 21:00 UTC));
        assert!(parse("time_zone", "Europe/Atlantis").is_err());
        assert!(parse("time_zone", "").is_err());
    }
}
