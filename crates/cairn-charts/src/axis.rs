//! Axis ticks: round values for the value axis, calendar-aligned instants for the time axis.

use jiff::civil::{Date, DateTime, Time};
use jiff::tz::TimeZone;
use jiff::{Span, Timestamp};

use crate::format::{Unit, bytes_scale, grouped, plain_axis_scale, seconds_scale};

/// Evenly spaced round values (steps of 1, 2 or 5 × 10ⁿ) covering a range.
#[derive(Clone, Debug, PartialEq)]
pub struct Ticks {
    /// The tick values, ascending; the first is at most the range's low end, the last at least
    /// its high end.
    pub values: Vec<f64>,
    /// The distance between two ticks.
    pub step: f64,
}

/// Round ticks covering `lo..=hi`, at most `max_count` of them (at least 2 are always
/// allowed, 3 for a range across zero).
///
/// The step is the smallest of 1, 2 or 5 × 10ⁿ that keeps the count within bounds. A range of
/// one value is widened around it (`0..=1` for zero); non-finite bounds count as zero.
pub fn nice_ticks(lo: f64, hi: f64, max_count: usize) -> Ticks {
    nice_ticks_with_min_step(lo, hi, max_count, 0.0)
}

fn nice_ticks_with_min_step(lo: f64, hi: f64, max_count: usize, min_step: f64) -> Ticks {
    let (lo, hi) = widened(lo, hi);
    // Ticks are multiples of the step: a range across zero needs three.
    let max_count = max_count.max(if lo < 0.0 && hi > 0.0 { 3 } else { 2 });
    let raw = ((hi - lo) / (max_count - 1) as f64).max(min_step);
    let mut exponent = raw.log10().floor() as i32;
    loop {
        for multiple in [1.0, 2.0, 5.0] {
            let step = scaled(multiple, exponent);
            if step < raw * (1.0 - 1e-9) {
                continue;
            }
            let first = snapped(lo / step, f64::floor);
            let last = snapped(hi / step, f64::ceil);
            if last - first + 1.0 <= max_count as f64 {
                let values = (0..=(last - first) as usize)
                    .map(|k| scaled(multiple * (first + k as f64), exponent))
                    .map(|v| if v == 0.0 { 0.0 } else { v })
                    .collect();
                return Ticks { values, step };
            }
        }
        exponent += 1;
    }
}

/// `q` rounded to the nearest integer if it is one but for rounding errors, else `round(q)`.
fn snapped(q: f64, round: fn(f64) -> f64) -> f64 {
    if (q - q.round()).abs() < 1e-9 { q.round() } else { round(q) }
}

/// `multiple × 10^exponent`, divided rather than multiplied for negative exponents so that
/// `3 × 10⁻¹` is `0.3`, not `0.30000000000000004`.
fn scaled(multiple: f64, exponent: i32) -> f64 {
    if exponent < 0 { multiple / 10f64.powi(-exponent) } else { multiple * 10f64.powi(exponent) }
}

/// The range ordered, finite, within ±1e300 (so that its span is finite) and wide enough to
/// divide.
fn widened(lo: f64, hi: f64) -> (f64, f64) {
    let bounded = |v: f64| if v.is_finite() { v.clamp(-1e300, 1e300) } else { 0.0 };
    let (lo, hi) = (bounded(lo), bounded(hi));
    let (lo, hi) = if lo <= hi { (lo, hi) } else { (hi, lo) };
    let magnitude = lo.abs().max(hi.abs());
    let min_span = (magnitude * 1e-9).max(1e-200);
    if hi - lo >= min_span {
        return (lo, hi);
    }
    if magnitude < 1e-200 {
        return (0.0, 1.0);
    }
    let pad = magnitude * 0.1;
    let mid = (lo + hi) / 2.0;
    // A range of one positive value starts at zero rather than just below it when it can.
    if mid > 0.0 && mid - pad < 0.0 { (0.0, mid + pad) } else { (mid - pad, mid + pad) }
}

/// One labelled tick of a value axis.
#[derive(Clone, Debug, PartialEq)]
pub struct ValueTick {
    /// The value, in the data's units.
    pub value: f64,
    /// The label, in the unit's readable form (`0`, `2.5k`, `200 MB`, `30 s`, `50%`).
    pub label: String,
}

/// The value axis of a range in a unit: round ticks in the unit's readable multiples.
///
/// All labels share one multiple, chosen from the range's magnitude (bytes in 1024s, durations
/// in ms/s/min/h/d, plain numbers in k/M/G/T from ten thousand), and as many decimals as the
/// step needs. [`Unit::Count`] and [`Unit::Bytes`] never step by less than one.
pub fn value_ticks(lo: f64, hi: f64, max_count: usize, unit: &Unit) -> Vec<ValueTick> {
    let magnitude = lo.abs().max(hi.abs());
    let magnitude = if magnitude.is_finite() { magnitude } else { 0.0 };
    let (divisor, suffix) = match unit {
        Unit::Plain | Unit::Count | Unit::Suffix(_) => plain_axis_scale(magnitude),
        Unit::Percent => (1.0, "%"),
        Unit::Bytes => bytes_scale(magnitude),
        Unit::Seconds => seconds_scale(magnitude),
    };
    let min_step = match unit {
        Unit::Count | Unit::Bytes => 1.0 / divisor,
        _ => 0.0,
    };
    let ticks = nice_ticks_with_min_step(lo / divisor, hi / divisor, max_count, min_step);
    let decimals = if ticks.step >= 1.0 { 0 } else { (-ticks.step.log10() - 1e-9).ceil().max(0.0) as usize };
    ticks
        .values
        .iter()
        .map(|&v| {
            let label = if v == 0.0 && !matches!(unit, Unit::Percent) {
                "0".to_string()
            } else {
                let mut label = grouped(v, decimals);
                label.push_str(suffix);
                if let Unit::Suffix(unit) = unit {
                    label.push(' ');
                    label.push_str(unit);
                }
                label
            };
            ValueTick { value: v * divisor, label }
        })
        .collect()
}

/// One labelled tick of a time axis.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimeTick {
    /// The instant, in milliseconds since the Unix epoch (UTC).
    pub at_ms: i64,
    /// The label in the axis's zone: `14:00`, `Mon 7`, `7 Dec`, `Dec 2026` (`Dec` after the
    /// first month tick, except in January), `2026`.
    pub label: String,
}

/// The steps a time axis may take, finest first.
#[derive(Clone, Copy, Debug)]
enum Step {
    Minutes(i64),
    Hours(i64),
    Days(i64),
    Weeks(i64),
    Months(i64),
    Years(i64),
}

const STEPS: &[Step] = &[
    Step::Minutes(1),
    Step::Minutes(2),
    Step::Minutes(5),
    Step::Minutes(10),
    Step::Minutes(15),
    Step::Minutes(30),
    Step::Hours(1),
    Step::Hours(2),
    Step::Hours(3),
    Step::Hours(6),
    Step::Hours(12),
    Step::Days(1),
    Step::Days(2),
    Step::Weeks(1),
    Step::Weeks(2),
    Step::Months(1),
    Step::Months(2),
    Step::Months(3),
    Step::Months(6),
    Step::Years(1),
    Step::Years(2),
    Step::Years(5),
    Step::Years(10),
    Step::Years(20),
    Step::Years(50),
    Step::Years(100),
    Step::Years(200),
    Step::Years(500),
    Step::Years(1000),
];

impl Step {
    /// The step's length, roughly (months of 30 days): only to skip steps that cannot fit.
    fn approx_ms(self) -> f64 {
        const MINUTE: f64 = 60_000.0;
        const DAY: f64 = 24.0 * 60.0 * MINUTE;
        match self {
            Step::Minutes(n) => n as f64 * MINUTE,
            Step::Hours(n) => n as f64 * 60.0 * MINUTE,
            Step::Days(n) => n as f64 * DAY,
            Step::Weeks(n) => n as f64 * 7.0 * DAY,
            Step::Months(n) => n as f64 * 30.0 * DAY,
            Step::Years(n) => n as f64 * 365.0 * DAY,
        }
    }

    /// The aligned civil instant at or before `local`: a multiple of the step on the clock
    /// (minutes and hours), midnight, Monday's midnight, the first of a month whose number
    /// minus one is a multiple of the step, the first of January of a multiple of years.
    fn floor(self, local: DateTime) -> Option<DateTime> {
        let midnight = |date: Date| date.to_datetime(Time::midnight());
        Some(match self {
            Step::Minutes(n) => {
                let minute = local.minute() - local.minute() % n as i8;
                local.date().to_datetime(Time::new(local.hour(), minute, 0, 0).ok()?)
            }
            Step::Hours(n) => {
                let hour = local.hour() - local.hour() % n as i8;
                local.date().to_datetime(Time::new(hour, 0, 0, 0).ok()?)
            }
            Step::Days(_) => midnight(local.date()),
            Step::Weeks(_) => {
                let back = i64::from(local.date().weekday().to_monday_zero_offset());
                midnight(local.date().checked_sub(Span::new().days(back)).ok()?)
            }
            Step::Months(n) => {
                let month = local.month() - (local.month() - 1) % n as i8;
                midnight(Date::new(local.year(), month, 1).ok()?)
            }
            Step::Years(n) => {
                let year = local.year() - (i64::from(local.year()).rem_euclid(n)) as i16;
                midnight(Date::new(year, 1, 1).ok()?)
            }
        })
    }

    /// `k` steps after `first`, in civil time (so hour ticks stay on the clock across DST).
    fn nth(self, first: DateTime, k: i64) -> Option<DateTime> {
        let span = match self {
            Step::Minutes(n) => Span::new().try_minutes(n * k).ok()?,
            Step::Hours(n) => Span::new().try_hours(n * k).ok()?,
            Step::Days(n) => Span::new().try_days(n * k).ok()?,
            Step::Weeks(n) => Span::new().try_weeks(n * k).ok()?,
            Step::Months(n) => Span::new().try_months(n * k).ok()?,
            Step::Years(n) => Span::new().try_years(n * k).ok()?,
        };
        first.checked_add(span).ok()
    }

    fn label(self, local: DateTime, first: bool) -> String {
        let weekday = WEEKDAYS[local.weekday().to_monday_zero_offset() as usize];
        let month = MONTHS[(local.month() - 1) as usize];
        match self {
            Step::Minutes(_) | Step::Hours(_) if local.hour() == 0 && local.minute() == 0 => {
                format!("{weekday} {}", local.day())
            }
            Step::Minutes(_) | Step::Hours(_) => format!("{:02}:{:02}", local.hour(), local.minute()),
            Step::Days(_) => format!("{weekday} {}", local.day()),
            Step::Weeks(_) => format!("{} {month}", local.day()),
            Step::Months(_) if first || local.month() == 1 => format!("{month} {}", local.year()),
            Step::Months(_) => month.to_string(),
            Step::Years(_) => local.year().to_string(),
        }
    }
}

const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// Ticks for a time axis from `start_ms` to `end_ms` (milliseconds since the Unix epoch, UTC),
/// placed and labelled in `tz`, at most `max_count` of them.
///
/// The step is the finest that fits: minutes (1–30), hours (1–12), days (1, 2), weeks (1, 2,
/// from Mondays), months (1, 2, 3, 6) or years. Ticks fall on the zone's clock (03:00, 06:00…,
/// midnights, the first of a month), so a DST change moves them in UTC, not on the clock.
/// Labels: `14:00` for minutes and hours (a midnight reads `Mon 7`), `Mon 7` for days, `7 Dec`
/// for weeks, `Dec 2026` then `Jan`, `Feb`… for months, `2026` for years.
/// Instants outside the zone database's range (years beyond ±9999) give no ticks.
pub fn time_ticks(start_ms: i64, end_ms: i64, tz: &TimeZone, max_count: usize) -> Vec<TimeTick> {
    let (start_ms, end_ms) = if start_ms <= end_ms { (start_ms, end_ms) } else { (end_ms, start_ms) };
    let (Ok(start), Ok(end)) = (Timestamp::from_millisecond(start_ms), Timestamp::from_millisecond(end_ms)) else {
        return Vec::new();
    };
    if max_count == 0 {
        return Vec::new();
    }
    let span = (end_ms - start_ms) as f64;
    // The rough length of a step only skips the steps that cannot fit (one tick of slack for
    // months of 28 to 31 days); counting the generated ticks decides.
    STEPS
        .iter()
        .filter(|step| span / step.approx_ms() <= max_count as f64)
        .find_map(|&step| generate(step, start, end, tz, max_count))
        .unwrap_or_default()
}

/// The ticks of one step, or `None` if there are more than `limit`.
fn generate(step: Step, start: Timestamp, end: Timestamp, tz: &TimeZone, limit: usize) -> Option<Vec<TimeTick>> {
    let first = step.floor(tz.to_datetime(start))?;
    let mut ticks: Vec<TimeTick> = Vec::new();
    // The first civil instant is at most one step before `start`; a DST repeat or skip adds
    // at most one more per tick.
    for k in 0..(2 * limit as i64 + 4) {
        let Some(local) = step.nth(first, k) else { break };
        let Ok(zoned) = tz.to_ambiguous_zoned(local).compatible() else { break };
        let at = zoned.timestamp();
        if at > end {
            return Some(ticks);
        }
        if at < start || ticks.last().is_some_and(|last| last.at_ms >= at.as_millisecond()) {
            continue;
        }
        if ticks.len() == limit {
            return None;
        }
        let label = step.label(zoned.datetime(), ticks.is_empty());
        ticks.push(TimeTick { at_ms: at.as_millisecond(), label });
    }
    Some(ticks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_one_two_five() {
        assert_eq!(nice_ticks(0.0, 10.0, 6).values, vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
        assert_eq!(nice_ticks(0.0, 10.0, 3).values, vec![0.0, 5.0, 10.0]);
        assert_eq!(nice_ticks(0.0, 0.3, 4).values, vec![0.0, 0.1, 0.2, 0.3]);
        assert_eq!(nice_ticks(-3.0, 7.0, 6).values, vec![-5.0, 0.0, 5.0, 10.0]);
    }

    #[test]
    fn extreme_bounds_do_not_break() {
        for (lo, hi) in [(-f64::MAX, f64::MAX), (f64::NAN, f64::INFINITY), (0.0, 1e-310), (1e300, 1e300 + 1.0)] {
            let ticks = nice_ticks(lo, hi, 5);
            assert!(ticks.values.len() >= 2 && ticks.values.iter().all(|v| v.is_finite()), "{lo}..{hi}: {ticks:?}");
        }
    }

    #[test]
    fn equal_bounds_are_widened() {
        assert_eq!(nice_ticks(0.0, 0.0, 5).values.first(), Some(&0.0));
        assert_eq!(nice_ticks(0.0, 0.0, 5).values.last(), Some(&1.0));
        let ticks = nice_ticks(5.0, 5.0, 5);
        assert!(ticks.values.first().unwrap() < &5.0 && ticks.values.last().unwrap() > &5.0);
    }

    #[test]
    fn count_axis_has_no_fractions() {
        let labels: Vec<_> = value_ticks(0.0, 3.0, 8, &Unit::Count).into_iter().map(|t| t.label).collect();
        assert_eq!(labels, ["0", "1", "2", "3"]);
        let labels: Vec<_> = value_ticks(0.0, 3.0, 8, &Unit::Plain).into_iter().map(|t| t.label).collect();
        assert_eq!(labels, ["0", "0.5", "1", "1.5", "2", "2.5", "3"]);
    }
}
