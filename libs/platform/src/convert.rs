//! Conversions between wire types and the types services compute with.
use time::OffsetDateTime;

pub fn to_timestamp(at: OffsetDateTime) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: at.unix_timestamp(),
        // Always 0..1e9, so the cast cannot truncate.
        nanos: at.nanosecond() as i32,
    }
}

/// `None` when the timestamp is outside what `time` represents (year beyond ±9999).
pub fn from_timestamp(ts: &prost_types::Timestamp) -> Option<OffsetDateTime> {
    let nanos = i128::from(ts.seconds) * 1_000_000_000 + i128::from(ts.nanos);
    OffsetDateTime::from_unix_timestamp_nanos(nanos).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip() {
        let at = time::macros::datetime!(2026-11-24 13:52:45.123456789 UTC);
        assert_eq!(from_timestamp(&to_timestamp(at)), Some(at));
    }

    #[test]
    fn absurd_timestamps_are_refused() {
        let ts = prost_types::Timestamp { seconds: i64::MAX, nanos: 0 };
        assert_eq!(from_timestamp(&ts), None);
    }
}
