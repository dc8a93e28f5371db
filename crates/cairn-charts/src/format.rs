//! Numbers as people read them: thousand separators, k/M/G, bytes, durations.

/// What the values of a chart measure; decides how axis labels and summaries are written.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Unit {
    /// A plain number: `1,234`, `0.25`; axis labels abbreviate from ten thousand (`25k`, `1.5M`).
    #[default]
    Plain,
    /// Things counted: written like [`Unit::Plain`], but the axis never has fractional steps.
    Count,
    /// A percentage given as 0–100 (not 0–1): `45%`.
    Percent,
    /// Bytes, in binary multiples written the way most tools write them: `512 B`, `1.5 KB`,
    /// `200 MB`, `1.2 GB` (1 KB = 1024 B).
    Bytes,
    /// A duration in seconds: `350 ms`, `12 s`, `2.5 min`, `1.5 h`, `3 d`.
    Seconds,
    /// A plain number followed by a space and this unit (`12 req/s`); escaped when written.
    Suffix(String),
}

/// The typographic minus sign, used for negative numbers.
pub(crate) const MINUS: char = '\u{2212}';

/// One value in full, for descriptions and summaries: three significant digits at most after
/// the point, thousand separators, the unit's own multiples (`1,234,567`, `45.2%`, `1.5 GB`,
/// `350 ms`). Non-finite values are written `–`.
pub fn format_value(value: f64, unit: &Unit) -> String {
    if !value.is_finite() {
        return "\u{2013}".to_string();
    }
    let (divisor, suffix) = match unit {
        Unit::Plain | Unit::Count => (1.0, ""),
        Unit::Percent => (1.0, "%"),
        Unit::Suffix(_) => (1.0, ""),
        Unit::Bytes => bytes_scale(value.abs()),
        Unit::Seconds => seconds_scale(value.abs()),
    };
    let scaled = value / divisor;
    let magnitude = scaled.abs();
    let decimals = if magnitude == 0.0 { 0 } else { (2.0 - magnitude.log10().floor()).clamp(0.0, 12.0) as usize };
    let mut out = grouped(scaled, decimals);
    out.push_str(suffix);
    if let Unit::Suffix(unit) = unit {
        out.push(' ');
        out.push_str(unit);
    }
    out
}

/// The divisor and suffix of a bytes value of this magnitude.
pub(crate) fn bytes_scale(magnitude: f64) -> (f64, &'static str) {
    const UNITS: [&str; 7] = [" B", " KB", " MB", " GB", " TB", " PB", " EB"];
    let mut divisor = 1.0;
    for (i, suffix) in UNITS.iter().enumerate() {
        if magnitude < divisor * 1024.0 || i == UNITS.len() - 1 {
            return (divisor, suffix);
        }
        divisor *= 1024.0;
    }
    unreachable!("the last unit returns")
}

/// The divisor and suffix of a seconds value of this magnitude.
pub(crate) fn seconds_scale(magnitude: f64) -> (f64, &'static str) {
    if magnitude != 0.0 && magnitude < 1.0 {
        (0.001, " ms")
    } else if magnitude < 120.0 {
        (1.0, " s")
    } else if magnitude < 7_200.0 {
        (60.0, " min")
    } else if magnitude < 172_800.0 {
        (3_600.0, " h")
    } else {
        (86_400.0, " d")
    }
}

/// The divisor and suffix of plain numbers on an axis reaching this magnitude: none below ten
/// thousand, then k, M, G, T.
pub(crate) fn plain_axis_scale(magnitude: f64) -> (f64, &'static str) {
    if magnitude >= 1e13 {
        (1e12, "T")
    } else if magnitude >= 1e10 {
        (1e9, "G")
    } else if magnitude >= 1e7 {
        (1e6, "M")
    } else if magnitude >= 1e4 {
        (1e3, "k")
    } else {
        (1.0, "")
    }
}

/// `value` with `decimals` digits after the point (trailing zeros dropped), thousand
/// separators and a typographic minus; never `-0`.
pub(crate) fn grouped(value: f64, decimals: usize) -> String {
    let text = format!("{:.*}", decimals, value.abs());
    let (int, frac) = match text.split_once('.') {
        Some((int, frac)) => (int, frac.trim_end_matches('0')),
        None => (text.as_str(), ""),
    };
    let mut out = String::with_capacity(text.len() + 4);
    if value < 0.0 && (int.bytes().any(|b| b != b'0') || !frac.is_empty()) {
        out.push(MINUS);
    }
    let digits = int.len();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (digits - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if !frac.is_empty() {
        out.push('.');
        out.push_str(frac);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grouped_separates_thousands_and_trims() {
        assert_eq!(grouped(1234567.0, 0), "1,234,567");
        assert_eq!(grouped(999.0, 0), "999");
        assert_eq!(grouped(1000.0, 0), "1,000");
        assert_eq!(grouped(1.50, 2), "1.5");
        assert_eq!(grouped(2.0, 2), "2");
        assert_eq!(grouped(-1234.5, 1), "\u{2212}1,234.5");
        assert_eq!(grouped(-0.0001, 2), "0");
    }

    #[test]
    fn values_in_full() {
        assert_eq!(format_value(1234567.0, &Unit::Plain), "1,234,567");
        assert_eq!(format_value(12.345, &Unit::Plain), "12.3");
        assert_eq!(format_value(0.000512, &Unit::Plain), "0.000512");
        assert_eq!(format_value(0.0, &Unit::Count), "0");
        assert_eq!(format_value(45.26, &Unit::Percent), "45.3%");
        assert_eq!(format_value(512.0, &Unit::Bytes), "512 B");
        assert_eq!(format_value(1536.0, &Unit::Bytes), "1.5 KB");
        assert_eq!(format_value(200.0 * 1024.0 * 1024.0, &Unit::Bytes), "200 MB");
        assert_eq!(format_value(1.25 * 1024.0 * 1024.0 * 1024.0, &Unit::Bytes), "1.25 GB");
        assert_eq!(format_value(0.35, &Unit::Seconds), "350 ms");
        assert_eq!(format_value(12.0, &Unit::Seconds), "12 s");
        assert_eq!(format_value(150.0, &Unit::Seconds), "2.5 min");
        assert_eq!(format_value(5400.0, &Unit::Seconds), "90 min");
        assert_eq!(format_value(9000.0, &Unit::Seconds), "2.5 h");
        assert_eq!(format_value(3.0 * 86_400.0, &Unit::Seconds), "3 d");
        assert_eq!(format_value(-3.0, &Unit::Plain), "\u{2212}3");
        assert_eq!(format_value(12.0, &Unit::Suffix("req/s".into())), "12 req/s");
        assert_eq!(format_value(f64::NAN, &Unit::Plain), "\u{2013}");
    }
}
