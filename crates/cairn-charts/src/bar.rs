//! Bar charts: categories along the bottom, one bar per series in each, grouped.

use crate::chart::{
    Common, Layout, Swatch, YScale, category_labels, common_setters, draw_x_labels, draw_y_axis, render_empty, usable,
    y_label_width, y_ticks,
};
use crate::format::format_value;
use crate::svg::{Doc, Role};
use crate::theme::Mode;

/// Categories described one by one in the description up to this many; beyond, each series is
/// summarised.
const LISTED_CATEGORIES: usize = 12;

/// A bar chart: categories (weeks, people, repositories…) along the bottom, one bar per series
/// in each, side by side, from zero (negative values go down). A missing value leaves its
/// place empty.
///
/// ```
/// use cairn_charts::{BarChart, Mode, Series, Unit};
///
/// let svg = BarChart::new("Pull requests merged per week")
///     .categories(["1 Dec", "8 Dec", "15 Dec"])
///     .series(Series::categorical("Merged", [Some(12.0), Some(9.0), None]))
///     .y_unit(Unit::Count)
///     .render(Mode::Light);
/// assert!(svg.contains("<rect"));
/// ```
#[derive(Clone, Debug)]
pub struct BarChart {
    common: Common,
    categories: Vec<String>,
    stacked: bool,
}

impl BarChart {
    /// A chart titled `title` (its `<title>`, read by screen readers), 800 × 240.
    pub fn new(title: impl Into<String>) -> Self {
        Self { common: Common::new(title.into()), categories: Vec::new(), stacked: false }
    }

    common_setters!();

    /// The category labels, in order; the n-th value of each series belongs to the n-th.
    /// Without labels the categories are as many as the longest series, unlabelled; values
    /// beyond the labels are left out.
    pub fn categories<S: Into<String>>(mut self, labels: impl IntoIterator<Item = S>) -> Self {
        self.categories = labels.into_iter().map(Into::into).collect();
        self
    }

    /// Whether the series stack in one bar per category (positive values up from zero,
    /// negative ones down), rather than standing side by side (the default).
    pub fn stacked(mut self, stacked: bool) -> Self {
        self.stacked = stacked;
        self
    }

    /// The chart as a standalone SVG document (also valid inline in HTML).
    pub fn render(&self, mode: Mode) -> String {
        let common = &self.common;
        let count = if self.categories.is_empty() {
            common.series.iter().map(|s| s.points.len()).max().unwrap_or(0)
        } else {
            self.categories.len()
        };
        let series: Vec<Vec<Option<f64>>> =
            common.series.iter().map(|s| s.points.iter().take(count).map(|p| usable(p.1)).collect()).collect();
        let mut values: Vec<f64> = series.iter().flatten().filter_map(|v| *v).collect();
        if values.is_empty() {
            return render_empty(common, mode, Swatch::Square);
        }
        if self.stacked {
            // The scale holds each category's positive and negative sums.
            for i in 0..count {
                let column = series.iter().filter_map(|s| s.get(i).copied().flatten());
                let (up, down) = column.fold((0.0, 0.0), |(u, d), v| if v > 0.0 { (u + v, d) } else { (u, d + v) });
                values.extend([up, down]);
            }
        }

        let mut lo = values.iter().copied().fold(0.0, f64::min);
        let mut hi = values.iter().copied().fold(0.0, f64::max);
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

        let mut doc = Doc::new(common.width, common.height, mode, &common.themes);
        layout.draw_frame(&mut doc, common, Swatch::Square);
        draw_y_axis(&mut doc, &ticks, scale, plot);

        let band = plot.w / count.max(1) as f64;
        let groups = if self.stacked { 1.0 } else { series.len().max(1) as f64 };
        let group = band * if groups > 1.0 { 0.8 } else { 0.65 };
        let gap = if group / groups > 6.0 { 1.0 } else { 0.0 };
        let bar = (group / groups - gap).max(1.0);
        let zero = scale.base();
        // Where each category's next stacked segment starts, up and down, as values.
        let mut stacks = vec![(0.0, 0.0); count];
        for (index, values) in series.iter().enumerate() {
            let slot = common.slot(index);
            for (i, value) in values.iter().enumerate() {
                let Some(value) = *value else { continue };
                if value == 0.0 {
                    continue;
                }
                let (x, base, y) = if self.stacked {
                    let (up, down) = &mut stacks[i];
                    let from = if value > 0.0 { up } else { down };
                    let (start, end) = (*from, *from + value);
                    *from = end;
                    (plot.x + i as f64 * band + (band - group) / 2.0, scale.y(start), scale.y(end))
                } else {
                    let x = plot.x + i as f64 * band + (band - group) / 2.0 + index as f64 * (bar + gap);
                    (x, zero, scale.y(value))
                };
                // A value too small to see still gets a pixel.
                let (top, height) = if value > 0.0 {
                    (y.min(base - 1.0), base - y.min(base - 1.0))
                } else {
                    (base, (y - base).max(1.0))
                };
                let radius = if bar >= 6.0 { r#" rx="1.5""# } else { "" };
                doc.rect(x, top, bar, height, Role::Fill(slot), radius);
            }
        }
        let labels = category_labels(&self.categories, count, plot);
        draw_x_labels(&mut doc, &labels, plot, f64::from(common.width), false);

        doc.finish(&common.title, &common.desc(&self.describe(&series)))
    }

    /// Each series' values by category when there are few categories, else its summary.
    fn describe(&self, series: &[Vec<Option<f64>>]) -> String {
        let common = &self.common;
        let mut out = String::new();
        for (s, values) in common.series.iter().zip(series) {
            if !out.is_empty() {
                out.push(' ');
            }
            if self.categories.is_empty() || self.categories.len() > LISTED_CATEGORIES {
                out.push_str(&common.summary(&s.name, values));
                continue;
            }
            let listed: Vec<String> = self
                .categories
                .iter()
                .zip(values.iter().copied().chain(std::iter::repeat(None)))
                .map(|(category, value)| match value {
                    Some(v) => format!("{category} {}", format_value(v, &common.unit)),
                    None => format!("{category} no data"),
                })
                .collect();
            out.push_str(&format!("{}: {}.", s.name, listed.join(", ")));
        }
        out
    }
}
