//! Line and area charts, over time or over categories.

use std::fmt::Write as _;

use jiff::Timestamp;
use jiff::tz::TimeZone;

use crate::axis::time_ticks;
use crate::chart::{
    Common, Layout, Swatch, YScale, category_labels, common_setters, draw_x_labels, draw_y_axis, line_path,
    render_empty, usable, y_label_width, y_ticks,
};
use crate::svg::{Doc, N, Role};
use crate::theme::Mode;

/// The least room one time tick gets, in px (a `Dec 2026` label and its margin).
const TIME_TICK_SPACING: f64 = 72.0;

/// Where an x (milliseconds or category index) goes on the plot.
enum XScale {
    Time { start: f64, span: f64, left: f64, width: f64 },
    Bands { left: f64, band: f64 },
}

impl XScale {
    fn x(&self, x: f64) -> f64 {
        match *self {
            XScale::Time { start, span, left, width } => left + (x - start) / span * width,
            XScale::Bands { left, band } => left + (x + 0.5) * band,
        }
    }
}

/// A line chart: one or more series over time (or over categories), lines broken where points
/// are missing; with [`LineChart::area`], each line filled down to zero.
///
/// ```
/// use cairn_charts::{LineChart, Mode, Series, Unit};
///
/// let hour = 3_600_000;
/// let cpu = Series::new("CPU", (0..24).map(|h| (h * hour, Some(20.0 + h as f64))));
/// let svg = LineChart::new("CPU utilisation, last 24 hours")
///     .size(800, 240)
///     .series(cpu)
///     .y_unit(Unit::Percent)
///     .render(Mode::Adaptive);
/// assert!(svg.starts_with("<svg"));
/// ```
#[derive(Clone, Debug)]
pub struct LineChart {
    common: Common,
    area: bool,
    zero_based: bool,
    categories: Option<Vec<String>>,
    time_zone: TimeZone,
    period: Option<(i64, i64)>,
}

impl LineChart {
    /// A chart titled `title` (its `<title>`, read by screen readers), 800 × 240, over time in
    /// UTC.
    pub fn new(title: impl Into<String>) -> Self {
        Self {
            common: Common::new(title.into()),
            area: false,
            zero_based: true,
            categories: None,
            time_zone: TimeZone::UTC,
            period: None,
        }
    }

    common_setters!();

    /// Fills each line down to zero (or to the bottom of the axis), translucent, so that
    /// overlapping series stay visible.
    pub fn area(mut self, fill: bool) -> Self {
        self.area = fill;
        self
    }

    /// Whether the value axis always includes zero (default yes: a line's height then reads
    /// as its size). Without it the axis fits the data, for values far from zero.
    pub fn zero_based(mut self, include_zero: bool) -> Self {
        self.zero_based = include_zero;
        self
    }

    /// Makes the x axis categorical: the n-th point of each series sits on the n-th label,
    /// evenly spaced (the points' `x` is ignored).
    pub fn categories<S: Into<String>>(mut self, labels: impl IntoIterator<Item = S>) -> Self {
        self.categories = Some(labels.into_iter().map(Into::into).collect());
        self
    }

    /// The zone time ticks are placed and labelled in (default UTC): the viewer's or the
    /// organization's, so that midnights and `14:00` are theirs. Points stay in UTC
    /// milliseconds.
    pub fn time_zone(mut self, tz: TimeZone) -> Self {
        self.time_zone = tz;
        self
    }

    /// The period shown, in UTC milliseconds (default: from the first point to the last).
    /// Points outside are left out; a period with missing data at its ends shows it empty
    /// there.
    pub fn period(mut self, start_ms: i64, end_ms: i64) -> Self {
        self.period = Some((start_ms.min(end_ms), start_ms.max(end_ms)));
        self
    }

    /// The chart as a standalone SVG document (also valid inline in HTML).
    pub fn render(&self, mode: Mode) -> String {
        let common = &self.common;
        let swatch = Swatch::Line;
        // Each series as (x, value), x in ms or in category index, sorted, values usable.
        let series: Vec<Vec<(f64, Option<f64>)>> = match &self.categories {
            Some(categories) => {
                let count = if categories.is_empty() {
                    common.series.iter().map(|s| s.points.len()).max().unwrap_or(0)
                } else {
                    categories.len()
                };
                common
                    .series
                    .iter()
                    .map(|s| s.points.iter().take(count).enumerate().map(|(i, p)| (i as f64, usable(p.1))).collect())
                    .collect()
            }
            None => common
                .series
                .iter()
                .map(|s| {
                    let mut points: Vec<(i64, Option<f64>)> = s
                        .points
                        .iter()
                        .filter(|(t, _)| Timestamp::from_millisecond(*t).is_ok())
                        .filter(|(t, _)| self.period.is_none_or(|(a, b)| (a..=b).contains(t)))
                        .map(|&(t, v)| (t, usable(v)))
                        .collect();
                    points.sort_by_key(|p| p.0);
                    points.into_iter().map(|(t, v)| (t as f64, v)).collect()
                })
                .collect(),
        };
        let values: Vec<f64> = series.iter().flatten().filter_map(|p| p.1).collect();
        if values.is_empty() {
            return render_empty(common, mode, swatch);
        }

        let mut lo = values.iter().copied().fold(f64::INFINITY, f64::min);
        let mut hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if self.zero_based {
            lo = lo.min(0.0);
            hi = hi.max(0.0);
        }
        for &v in common.y_include.iter().filter(|v| usable(Some(**v)).is_some()) {
            lo = lo.min(v);
            hi = hi.max(v);
        }

        let layout = Layout::new(common, common.series.len() > 1);
        let ticks = y_ticks(lo, hi, layout.bottom - layout.top, &common.unit);
        let plot = layout.plot(common, y_label_width(&ticks));
        let scale = YScale {
            min: ticks.first().map_or(lo, |t| t.value),
            max: ticks.last().map_or(hi, |t| t.value),
            top: plot.y,
            bottom: plot.bottom(),
        };

        // The x scale and labels.
        let (x_scale, x_labels, period_text) = match &self.categories {
            Some(categories) => {
                let count = series.iter().map(Vec::len).max().unwrap_or(0).max(categories.len());
                let band = plot.w / count.max(1) as f64;
                let labels = category_labels(categories, count, plot);
                let text = match (categories.first(), categories.last()) {
                    (Some(first), Some(last)) if count > 1 => format!("{first} to {last}."),
                    _ => String::new(),
                };
                (XScale::Bands { left: plot.x, band }, labels, text)
            }
            None => {
                let xs = || series.iter().flatten().map(|p| p.0);
                let (t0, t1) = self.period.unwrap_or_else(|| {
                    (xs().fold(f64::INFINITY, f64::min) as i64, xs().fold(f64::NEG_INFINITY, f64::max) as i64)
                });
                // One instant: an hour either side, the point in the middle.
                let (t0, t1) = if t0 == t1 { (t0 - 3_600_000, t1 + 3_600_000) } else { (t0, t1) };
                let count = (plot.w / TIME_TICK_SPACING).floor() as usize + 1;
                let scale = XScale::Time { start: t0 as f64, span: (t1 - t0) as f64, left: plot.x, width: plot.w };
                let labels = time_ticks(t0, t1, &self.time_zone, count.max(2))
                    .into_iter()
                    .map(|tick| (scale.x(tick.at_ms as f64), tick.label))
                    .collect();
                let text = format!("From {} to {}.", self.moment(t0), self.moment(t1));
                (scale, labels, text)
            }
        };

        let mut doc = Doc::new(common.width, common.height, mode, &common.themes);
        layout.draw_frame(&mut doc, common, swatch);
        draw_y_axis(&mut doc, &ticks, scale, plot);
        draw_x_labels(&mut doc, &x_labels, plot, f64::from(common.width), true);

        let placed: Vec<Vec<(f64, Option<f64>)>> =
            series.iter().map(|s| s.iter().map(|&(x, v)| (x_scale.x(x), v.map(|v| scale.y(v)))).collect()).collect();
        if self.area {
            for (index, points) in placed.iter().enumerate() {
                let d = crate::chart::area_path(points, scale.base());
                if !d.is_empty() {
                    let paint = doc.painter.paint(Role::Fill(common.slot(index)));
                    let _ = write!(doc.body, r#"<path d="{d}"{paint} fill-opacity="0.16"/>"#);
                }
            }
        }
        let mut dots = Vec::new();
        for (index, points) in placed.iter().enumerate() {
            let (d, lone) = line_path(points);
            if !d.is_empty() {
                let paint = doc.painter.paint(Role::Line(common.slot(index)));
                let dash = if common.dashed(index) { r#" stroke-dasharray="6 3""# } else { "" };
                let _ = write!(
                    doc.body,
                    r#"<path d="{d}" fill="none"{paint} stroke-width="2" stroke-linejoin="round" stroke-linecap="round"{dash}/>"#
                );
            }
            dots.extend(lone.into_iter().map(|p| (index, p)));
        }
        for (index, (x, y)) in dots {
            let paint = doc.painter.paint(Role::Dot(common.slot(index)));
            let _ = write!(doc.body, r#"<circle cx="{}" cy="{}" r="3.5"{paint} stroke-width="1.5"/>"#, N(x), N(y));
        }

        let mut desc = period_text;
        for (s, points) in common.series.iter().zip(&series) {
            let values: Vec<Option<f64>> = points.iter().map(|p| p.1).collect();
            if !desc.is_empty() {
                desc.push(' ');
            }
            desc.push_str(&common.summary(&s.name, &values));
        }
        doc.finish(&common.title, &common.desc(&desc))
    }

    /// An instant for the description: `7 Dec 2026 14:00` in the chart's zone.
    fn moment(&self, ms: i64) -> String {
        match Timestamp::from_millisecond(ms) {
            Ok(ts) => ts.to_zoned(self.time_zone.clone()).strftime("%-d %b %Y %H:%M").to_string(),
            Err(_) => String::new(),
        }
    }
}
