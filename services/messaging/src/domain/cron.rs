//! Recurring schedules (ME-4): five-field cron (minute hour day-of-month month day-of-week) in the
//! tenant's time zone. Each field takes `*`, a number, a range `a-b`, a step `*/n` or `a-b/n`, and
//! comma lists; months and weekdays also take names (JAN, MON); weekday 0 and 7 are Sunday. When
//! both day fields are restricted, a day matching either fires (as in Vixie cron). Local times
//! that a DST change skips fire at the shifted instant; times that happen twice fire once, first.
use jiff::civil;
use jiff::tz::TimeZone;
use time::OffsetDateTime;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cron {
    minutes: Vec<u8>,
    hours: Vec<u8>,
    days: Vec<u8>,
    months: Vec<u8>,
    weekdays: Vec<u8>,
    days_restricted: bool,
    weekdays_restricted: bool,
}

const MONTHS: [&str; 12] = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
const WEEKDAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

fn field(text: &str, what: &str, (low, high): (u8, u8), names: &[&str], name_base: u8) -> Result<Vec<u8>, String> {
    let value = |v: &str| -> Result<u8, String> {
        let upper = v.to_ascii_uppercase();
        if let Some(i) = names.iter().position(|n| *n == upper) {
            return Ok(i as u8 + name_base);
        }
        match v.parse::<u8>() {
            Ok(n) if (low..=high).contains(&n) => Ok(n),
            _ => Err(format!("the {what} {v:?} is not from {low} to {high}")),
        }
    };
    let mut out = Vec::new();
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (
                r,
                s.parse::<u8>()
                    .ok()
                    .filter(|s| *s > 0)
                    .ok_or(format!("the step {s:?} of the {what} is not a positive number"))?,
            ),
            None => (part, 1),
        };
        let (from, to) = match range {
            "*" => (low, high),
            r => match r.split_once('-') {
                Some((a, b)) => (value(a)?, value(b)?),
                None if part.contains('/') => (value(r)?, high),
                None => (value(r)?, value(r)?),
            },
        };
        if from > to {
            return Err(format!("the {what} range {range:?} runs backwards"));
        }
        out.extend((from..=to).step_by(step as usize));
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

impl Cron {
    /// Parses `text`; the error names the field and what is wrong, in words.
    pub fn parse(text: &str) -> Result<Cron, String> {
        let parts: Vec<&str> = text.split_whitespace().collect();
        let [minute, hour, day, month, weekday] = parts[..] else {
            return Err(format!(
                "a schedule has five fields (minute hour day month weekday), this one has {}",
                parts.len()
            ));
        };
        let mut weekdays = field(weekday, "weekday", (0, 7), &WEEKDAYS, 0)?;
        if weekdays.contains(&7) {
            weekdays.retain(|d| *d != 7);
            if !weekdays.contains(&0) {
                weekdays.insert(0, 0);
            }
        }
        Ok(Cron {
            minutes: field(minute, "minute", (0, 59), &[], 0)?,
            hours: field(hour, "hour", (0, 23), &[], 0)?,
            days: field(day, "day of month", (1, 31), &[], 0)?,
            months: field(month, "month", (1, 12), &MONTHS, 1)?,
            weekdays,
            days_restricted: day != "*",
            weekdays_restricted: weekday != "*",
        })
    }

    fn day_matches(&self, d: civil::Date) -> bool {
        if !self.months.contains(&(d.month() as u8)) {
            return false;
        }
        let by_day = self.days.contains(&(d.day() as u8));
        let by_weekday = self.weekdays.contains(&(d.weekday().to_sunday_zero_offset() as u8));
        match (self.days_restricted, self.weekdays_restricted) {
            (true, true) => by_day || by_weekday,
            (true, false) => by_day,
            (false, true) => by_weekday,
            (false, false) => true,
        }
    }

    /// The first time after `after` the schedule fires in `zone` (within five years).
    pub fn next_after(&self, after: OffsetDateTime, zone: &TimeZone) -> Option<OffsetDateTime> {
        let after = jiff::Timestamp::from_nanosecond(after.unix_timestamp_nanos()).ok()?;
        let mut day = after.to_zoned(zone.clone()).date();
        for _ in 0..(5 * 366) {
            if self.day_matches(day) {
                for hour in &self.hours {
                    for minute in &self.minutes {
                        let local = day.at(*hour as i8, *minute as i8, 0, 0);
                        let Ok(at) = local.to_zoned(zone.clone()) else { continue };
                        // A time the clocks skipped resolves to the instant after the jump; keep
                        // only the first instant a local time names.
                        if at.timestamp() > after {
                            return OffsetDateTime::from_unix_timestamp_nanos(at.timestamp().as_nanosecond()).ok();
                        }
                    }
                }
            }
            day = day.tomorrow().ok()?;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn vilnius() -> TimeZone {
        TimeZone::get("Europe/Vilnius").expect("zone")
    }

    #[test]
    fn mondays_at_ten_in_vilnius_are_utc_seven_in_summer_and_eight_in_winter() {
        let c = Cron::parse("0 10 * * MON").expect("parses");
        let after = datetime!(2026-07-01 00:00 UTC); // a Wednesday
        assert_eq!(c.next_after(after, &vilnius()), Some(datetime!(2026-07-06 07:00 UTC)));
        assert_eq!(c.next_after(datetime!(2026-12-01 00:00 UTC), &vilnius()), Some(datetime!(2026-12-07 08:00 UTC)));
        let next = c.next_after(datetime!(2026-07-06 07:00 UTC), &vilnius());
        assert_eq!(next, Some(datetime!(2026-07-13 07:00 UTC)), "strictly after");
    }

    #[test]
    fn daylight_saving_neither_skips_nor_doubles_a_run() {
        let c = Cron::parse("30 3 * * *").expect("parses");
        // 2026-03-29: 03:00 jumps to 04:00 in Vilnius; the 03:30 run happens at 04:30 local time.
        assert_eq!(c.next_after(datetime!(2026-03-28 23:00 UTC), &vilnius()), Some(datetime!(2026-03-29 01:30 UTC)));
        // 2026-10-25: 03:00–04:00 happens twice; the run is once, at the first 03:30 (+03:00).
        let first = c.next_after(datetime!(2026-10-24 23:00 UTC), &vilnius()).expect("a run");
        assert_eq!(first, datetime!(2026-10-25 00:30 UTC));
        assert_eq!(c.next_after(first, &vilnius()), Some(datetime!(2026-10-26 01:30 UTC)), "not again an hour later");
    }

    #[test]
    fn lists_ranges_steps_and_either_day_field() {
        let c = Cron::parse("*/15 9-17 1,15 * FRI").expect("parses");
        // 2026-05-02 is a Saturday: the next is Friday the 8th at 09:00 (UTC here).
        assert_eq!(
            c.next_after(datetime!(2026-05-02 00:00 UTC), &TimeZone::UTC),
            Some(datetime!(2026-05-08 09:00 UTC))
        );
        assert_eq!(
            c.next_after(datetime!(2026-05-08 09:00 UTC), &TimeZone::UTC),
            Some(datetime!(2026-05-08 09:15 UTC))
        );
        let sundays = Cron::parse("0 12 * * 7").expect("7 is Sunday");
        assert_eq!(
            sundays.next_after(datetime!(2026-05-02 00:00 UTC), &TimeZone::UTC),
            Some(datetime!(2026-05-03 12:00 UTC))
        );
        let leap = Cron::parse("0 0 29 FEB *").expect("parses");
        assert_eq!(
            leap.next_after(datetime!(2026-03-01 00:00 UTC), &TimeZone::UTC),
            Some(datetime!(2028-02-29 00:00 UTC))
        );
    }

    #[test]
    fn mistakes_are_named() {
        assert!(Cron::parse("0 10 * *").expect_err("four").contains("five fields"));
        assert!(Cron::parse("60 10 * * *").expect_err("minute").contains("minute \"60\""));
        assert!(Cron::parse("0 10 * * FUN").expect_err("weekday").contains("weekday"));
        assert!(Cron::parse("0 10-5 * * *").expect_err("backwards").contains("backwards"));
        assert!(Cron::parse("*/0 * * * *").expect_err("step").contains("step"));
        assert_eq!(
            Cron::parse("0 0 31 2 *").map(|c| c.next_after(datetime!(2026-01-01 0:00 UTC), &TimeZone::UTC)),
            Ok(None)
        );
    }
}
