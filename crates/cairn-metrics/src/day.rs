//! Local dates. Metrics count by the tenant's local day: an event at instant `t` falls on
//! the date `t` has in the tenant's time zone. A [`Day`] is such a date as days since
//! 1970-01-01, the form the tables store (so ISO weeks and windows are arithmetic).

use cairn_domain::ValidationError;
use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;

const DAY_MS: i64 = 86_400_000;

/// A local date, as days since 1970-01-01.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Day(i64);

impl Day {
    pub fn from_number(n: i64) -> Day {
        Day(n)
    }

    pub fn number(self) -> i64 {
        self.0
    }

    /// `2026-01-01`; `field` names it in the error.
    pub fn parse(s: &str, field: &str) -> Result<Day, ValidationError> {
        let bad = || ValidationError::new(field, "must be a date like 2026-01-01");
        // jiff also reads a date with a time; a day is only the date.
        if s.len() != 10 {
            return Err(bad());
        }
        let date: Date = s.parse().map_err(|_| bad())?;
        Ok(Day::of_date(date))
    }

    pub fn of_date(date: Date) -> Day {
        let midnight = date.to_datetime(jiff::civil::Time::midnight());
        let secs = TimeZone::UTC.to_timestamp(midnight).map(|t| t.as_second()).unwrap_or(0);
        Day(secs.div_euclid(86_400))
    }

    pub fn date(self) -> Date {
        Timestamp::from_second(self.0.saturating_mul(86_400))
            .map(|t| t.to_zoned(TimeZone::UTC).date())
            .unwrap_or(Date::MIN)
    }
}

/// `2026-01-01`.
impl std::fmt::Display for Day {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.date().fmt(f)
    }
}

/// The time zone days are counted in.
#[derive(Debug, Clone, PartialEq)]
pub struct Zone(TimeZone);

impl Zone {
    pub fn new(tz: TimeZone) -> Zone {
        Zone(tz)
    }

    pub fn time_zone(&self) -> &TimeZone {
        &self.0
    }

    /// The local date of the instant `ms` (epoch milliseconds).
    pub fn day(&self, ms: i64) -> Day {
        let offset_ms =
            Timestamp::from_millisecond(ms).map(|t| i64::from(self.0.to_offset(t).seconds()) * 1000).unwrap_or(0);
        Day(ms.saturating_add(offset_ms).div_euclid(DAY_MS))
    }

    /// The first instant of `day` (the zone's midnight, or the first moment after a gap).
    pub fn start_ms(&self, day: Day) -> i64 {
        day.date()
            .to_zoned(self.0.clone())
            .map(|z| z.timestamp().as_millisecond())
            .unwrap_or(day.0.saturating_mul(DAY_MS))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zone(name: &str) -> Zone {
        Zone::new(TimeZone::get(name).unwrap())
    }

    fn ms(rfc3339: &str) -> i64 {
        rfc3339.parse::<Timestamp>().unwrap().as_millisecond()
    }

    #[test]
    fn days_are_dates_counted_from_1970() {
        assert_eq!(Day::parse("1970-01-01", "from").unwrap().number(), 0);
        assert_eq!(Day::parse("1970-01-02", "from").unwrap().number(), 1);
        assert_eq!(Day::parse("1969-12-31", "from").unwrap().number(), -1);
        let d = Day::parse("2026-03-29", "from").unwrap();
        assert_eq!(d.to_string(), "2026-03-29");
        for bad in ["2026-02-30", "2026-1-1", "26-01-01", "2026-01-01T00:00", "", "tomorrow"] {
            assert_eq!(Day::parse(bad, "members[0].from").unwrap_err().field, "members[0].from", "{bad}");
        }
    }

    #[test]
    fn an_instant_falls_on_its_local_date() {
        let bratislava = zone("Europe/Bratislava");
        // 23:30 UTC on 31 December is already 1 January in Bratislava (UTC+1).
        assert_eq!(bratislava.day(ms("2025-12-31T23:30:00Z")).to_string(), "2026-01-01");
        assert_eq!(zone("UTC").day(ms("2025-12-31T23:30:00Z")).to_string(), "2025-12-31");
        assert_eq!(zone("America/Los_Angeles").day(ms("2026-01-01T07:59:59Z")).to_string(), "2025-12-31");
        // Summer time: UTC+2.
        assert_eq!(bratislava.day(ms("2026-07-01T22:00:00Z")).to_string(), "2026-07-02");
        assert_eq!(bratislava.day(ms("2026-07-01T21:59:59.999Z")).to_string(), "2026-07-01");
    }

    #[test]
    fn a_day_starts_at_the_zones_midnight() {
        let bratislava = zone("Europe/Bratislava");
        let d = Day::parse("2026-03-29", "from").unwrap();
        assert_eq!(bratislava.start_ms(d), ms("2026-03-28T23:00:00Z"));
        // The next day starts after a 23-hour day (summer time began at 02:00).
        let next = Day::from_number(d.number() + 1);
        assert_eq!(bratislava.start_ms(next), ms("2026-03-29T22:00:00Z"));
        assert_eq!(bratislava.day(bratislava.start_ms(next)), next);
        assert_eq!(bratislava.day(bratislava.start_ms(next) - 1), d);
    }
}
