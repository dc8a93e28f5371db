//! What line and bar charts share: series, settings, layout, legend, value axis, empty frame.

use crate::axis::{ValueTick, value_ticks};
use crate::format::{Unit, format_value};
use crate::svg::{Doc, FONT_SIZE, N, Role, Slot, text_width, truncate};
use crate::theme::{Mode, Themes};

/// Values beyond ± this are treated as missing: nothing Cairn charts reads there, and the
/// arithmetic of scales would overflow near `f64::MAX`.
pub(crate) const VALUE_LIMIT: f64 = 1e300;

/// The space around the chart, in px.
pub(crate) const PAD: f64 = 8.0;
/// The height of a legend row and of the title row.
const ROW: f64 = 18.0;
/// The space under the plot for the x labels.
const X_LABELS: f64 = 20.0;
/// The least room one y tick gets.
const Y_TICK_SPACING: f64 = 40.0;

/// One named series of points.
///
/// Points are `(x, value)`: for time axes `x` is milliseconds since the Unix epoch (UTC); for
/// categorical charts a point's position in the series is its category (built with
/// [`Series::categorical`], `x` is that position). A `None`, NaN or infinite value is a
/// missing point: lines break there and bars are left out.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub(crate) name: String,
    pub(crate) points: Vec<(i64, Option<f64>)>,
}

impl Series {
    /// A series over time: `(UTC milliseconds, value)`, in any order (charts sort them).
    pub fn new(name: impl Into<String>, points: impl IntoIterator<Item = (i64, Option<f64>)>) -> Self {
        Self { name: name.into(), points: points.into_iter().collect() }
    }

    /// A series over categories: the n-th value belongs to the n-th category.
    pub fn categorical(name: impl Into<String>, values: impl IntoIterator<Item = Option<f64>>) -> Self {
        Self { name: name.into(), points: values.into_iter().enumerate().map(|(i, v)| (i as i64, v)).collect() }
    }

    /// The series' name, as the legend and the description show it.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// A value that can be drawn, or `None`.
pub(crate) fn usable(value: Option<f64>) -> Option<f64> {
    value.filter(|v| v.is_finite() && v.abs() <= VALUE_LIMIT)
}

/// The settings every chart has.
#[derive(Clone, Debug)]
pub(crate) struct Common {
    pub(crate) title: String,
    pub(crate) description: Option<String>,
    pub(crate) width: u32,
    pub(crate) height: u32,
    pub(crate) unit: Unit,
    pub(crate) themes: Themes,
    pub(crate) empty_message: String,
    pub(crate) show_title: bool,
    pub(crate) background: bool,
    pub(crate) y_include: Vec<f64>,
    pub(crate) series: Vec<Series>,
}

impl Common {
    pub(crate) fn new(title: String) -> Self {
        Self {
            title,
            description: None,
            width: 800,
            height: 240,
            unit: Unit::Plain,
            themes: Themes::default(),
            empty_message: "No data for this period".to_string(),
            show_title: false,
            background: true,
            y_include: Vec::new(),
            series: Vec::new(),
        }
    }

    /// The colour slot of series `index`: the accent when it is alone.
    pub(crate) fn slot(&self, index: usize) -> Slot {
        if self.series.len() == 1 { Slot::Accent } else { Slot::Series(index) }
    }

    /// Whether series `index` is past the palette and draws its line dashed.
    pub(crate) fn dashed(&self, index: usize) -> bool {
        self.series.len() > 1 && index >= self.themes.light.series.len().max(1)
    }

    /// The caller's description followed by `generated`.
    pub(crate) fn desc(&self, generated: &str) -> String {
        match &self.description {
            Some(own) if generated.is_empty() => own.clone(),
            Some(own) => format!("{own} {generated}"),
            None => generated.to_string(),
        }
    }

    /// The summary of one series: `name: min …, max …, last …` (and how many are missing).
    pub(crate) fn summary(&self, name: &str, values: &[Option<f64>]) -> String {
        let present: Vec<f64> = values.iter().filter_map(|&v| usable(v)).collect();
        let missing = values.len() - present.len();
        let unit = &self.unit;
        let mut out = format!("{name}: ");
        match present.as_slice() {
            [] => out.push_str("no data"),
            [only] => out.push_str(&format_value(*only, unit)),
            _ => {
                let min = present.iter().copied().fold(f64::INFINITY, f64::min);
                let max = present.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let last = present[present.len() - 1];
                out.push_str(&format!(
                    "min {}, max {}, last {}",
                    format_value(min, unit),
                    format_value(max, unit),
                    format_value(last, unit)
                ));
            }
        }
        if missing > 0 && !present.is_empty() {
            out.push_str(&format!(", {missing} missing"));
        }
        out.push('.');
        out
    }
}

/// The setters every chart has, with their documentation (expanded inside each chart's
/// `impl`; the chart keeps its settings in a `common` field).
macro_rules! common_setters {
    () => {
        /// The size in px (default 800 × 240). Text stays 11 px; the number of ticks follows
        /// the room (about 350 × 200 suits a phone).
        pub fn size(mut self, width: u32, height: u32) -> Self {
            self.common.width = width;
            self.common.height = height;
            self
        }

        /// Adds a series. With more than one, each takes a palette colour and a legend shows
        /// their names; a single series wears the accent and has no legend.
        pub fn series(mut self, series: $crate::Series) -> Self {
            self.common.series.push(series);
            self
        }

        /// The unit of the values, for axis labels and the description (default
        /// [`Unit::Plain`](crate::Unit::Plain)).
        pub fn y_unit(mut self, unit: $crate::Unit) -> Self {
            self.common.unit = unit;
            self
        }

        /// Widens the value axis to include `value` (say 100 for a percentage that should
        /// read against the whole scale). May be called several times.
        pub fn y_include(mut self, value: f64) -> Self {
            self.common.y_include.push(value);
            self
        }

        /// Text put before the generated description (the `<desc>`: the period and each
        /// series' minimum, maximum and last value).
        pub fn description(mut self, text: impl Into<String>) -> Self {
            self.common.description = Some(text.into());
            self
        }

        /// The message of a chart without any value (default "No data for this period").
        pub fn empty_message(mut self, text: impl Into<String>) -> Self {
            self.common.empty_message = text.into();
            self
        }

        /// Whether the title is also drawn at the top (default: only the `<title>`, for pages
        /// that head the chart themselves).
        pub fn show_title(mut self, show: bool) -> Self {
            self.common.show_title = show;
            self
        }

        /// Whether to paint the theme's surface behind the chart (default yes; without it
        /// the chart shows what is under it).
        pub fn background(mut self, paint: bool) -> Self {
            self.common.background = paint;
            self
        }

        /// The themes to draw with (default [`Theme::light`](crate::Theme::light) and
        /// [`Theme::dark`](crate::Theme::dark)).
        pub fn themes(mut self, light: $crate::Theme, dark: $crate::Theme) -> Self {
            self.common.themes = $crate::Themes { light, dark };
            self
        }

        /// The accent of both themes (an organization's colour, chosen to read on both
        /// surfaces).
        pub fn accent(mut self, color: $crate::Color) -> Self {
            self.common.themes.light.accent = color;
            self.common.themes.dark.accent = color;
            self
        }
    };
}
pub(crate) use common_setters;

/// A rectangle in px.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Rect {
    pub(crate) x: f64,
    pub(crate) y: f64,
    pub(crate) w: f64,
    pub(crate) h: f64,
}

impl Rect {
    pub(crate) fn bottom(&self) -> f64 {
        self.y + self.h
    }
    pub(crate) fn right(&self) -> f64 {
        self.x + self.w
    }
}

/// How a legend entry shows its series.
#[derive(Clone, Copy)]
pub(crate) enum Swatch {
    /// A short thick line (line and area charts).
    Line,
    /// A square (bar charts).
    Square,
}

/// The legend, laid out in rows from the left.
pub(crate) struct Legend {
    /// `(x, row, text, series index)`.
    items: Vec<(f64, usize, String, usize)>,
    /// `(x, row, "+3 more")` when not every series fit.
    more: Option<(f64, usize, String)>,
    pub(crate) rows: usize,
}

const LEGEND_MAX_ROWS: usize = 3;
const SWATCH: f64 = 12.0;
const SWATCH_GAP: f64 = 5.0;
const ITEM_GAP: f64 = 16.0;

impl Legend {
    /// The legend of `names` in a chart `width` wide; none for fewer than two series.
    pub(crate) fn new(names: &[&str], width: f64) -> Self {
        let mut legend = Legend { items: Vec::new(), more: None, rows: 0 };
        if names.len() < 2 {
            return legend;
        }
        let (left, right) = (PAD, (width - PAD).max(PAD + 1.0));
        let max_text = (right - left - SWATCH - SWATCH_GAP).max(0.0);
        let (mut x, mut row) = (left, 0);
        for (index, name) in names.iter().enumerate() {
            let text = truncate(name, max_text.min(180.0), FONT_SIZE);
            let w = SWATCH + SWATCH_GAP + text_width(&text, FONT_SIZE);
            if x > left && x + w > right {
                row += 1;
                x = left;
            }
            if row == LEGEND_MAX_ROWS {
                break;
            }
            legend.items.push((x, row, text, index));
            x += w + ITEM_GAP;
        }
        let left_out = names.len() - legend.items.len();
        if left_out > 0 {
            let more = format!("+{left_out} more");
            let w = text_width(&more, FONT_SIZE);
            // Room on the last row: take it from the last entries if needed.
            while let Some(&(x, row, ref text, _)) = legend.items.last() {
                let end = x + SWATCH + SWATCH_GAP + text_width(text, FONT_SIZE) + ITEM_GAP;
                if end + w <= right || legend.items.len() == 1 {
                    legend.more = Some((end, row, format!("+{} more", names.len() - legend.items.len())));
                    break;
                }
                legend.items.pop();
            }
        }
        legend.rows = legend.items.iter().map(|item| item.1 + 1).max().unwrap_or(0);
        legend
    }

    /// Draws the legend with its first row's top at `top`.
    pub(crate) fn draw(&self, doc: &mut Doc, common: &Common, top: f64, swatch: Swatch) {
        for (x, row, text, index) in &self.items {
            let baseline = top + *row as f64 * ROW + 11.0;
            let slot = common.slot(*index);
            match swatch {
                Swatch::Line => doc.rect(*x, baseline - 5.5, SWATCH, 3.0, Role::Fill(slot), r#" rx="1.5""#),
                Swatch::Square => doc.rect(*x + 1.0, baseline - 9.0, 10.0, 10.0, Role::Fill(slot), r#" rx="2""#),
            }
            doc.text(x + SWATCH + SWATCH_GAP, baseline, "start", Role::Text, "", text);
        }
        if let Some((x, row, text)) = &self.more {
            doc.text(*x, top + *row as f64 * ROW + 11.0, "start", Role::Muted, "", text);
        }
    }
}

/// Where things go: the plot area and the top of the legend.
pub(crate) struct Layout {
    pub(crate) legend: Legend,
    pub(crate) legend_top: f64,
    /// The plot's top and bottom (its left and width wait for the y labels).
    pub(crate) top: f64,
    pub(crate) bottom: f64,
}

impl Layout {
    pub(crate) fn new(common: &Common, with_legend: bool) -> Self {
        let (w, h) = (f64::from(common.width), f64::from(common.height));
        let names: Vec<&str> = common.series.iter().map(|s| s.name.as_str()).collect();
        let legend = if with_legend { Legend::new(&names, w) } else { Legend::new(&[], w) };
        let legend_top = PAD + if common.show_title { ROW } else { 0.0 };
        // Room for the top y label's upper half, more under a legend.
        let top = legend_top + legend.rows as f64 * ROW + if legend.rows > 0 { 10.0 } else { 6.0 };
        let bottom = (h - X_LABELS).max(top + 1.0);
        Self { legend, legend_top, top, bottom }
    }

    /// The plot's rectangle once the y labels' width is known.
    pub(crate) fn plot(&self, common: &Common, y_label_width: f64) -> Rect {
        let x = PAD + y_label_width + if y_label_width > 0.0 { 6.0 } else { 0.0 };
        let right = f64::from(common.width) - PAD - 4.0;
        Rect { x, y: self.top, w: (right - x).max(1.0), h: self.bottom - self.top }
    }

    /// Draws the background, the title and the legend.
    pub(crate) fn draw_frame(&self, doc: &mut Doc, common: &Common, swatch: Swatch) {
        if common.background {
            let (w, h) = (f64::from(common.width), f64::from(common.height));
            doc.rect(0.0, 0.0, w, h, Role::Surface, "");
        }
        if common.show_title {
            let title = truncate(&common.title, f64::from(common.width) - 2.0 * PAD, 12.0);
            doc.text(PAD, PAD + 12.0, "start", Role::Text, r#" font-size="12" font-weight="600""#, &title);
        }
        self.legend.draw(doc, common, self.legend_top, swatch);
    }
}

/// A linear value scale from data to the plot's vertical px.
#[derive(Clone, Copy, Debug)]
pub(crate) struct YScale {
    pub(crate) min: f64,
    pub(crate) max: f64,
    pub(crate) top: f64,
    pub(crate) bottom: f64,
}

impl YScale {
    pub(crate) fn y(&self, value: f64) -> f64 {
        let span = self.max - self.min;
        if span <= 0.0 || !span.is_finite() {
            return (self.top + self.bottom) / 2.0;
        }
        self.bottom - (value - self.min) / span * (self.bottom - self.top)
    }

    /// The y of the zero line, or of the bottom when zero is out of range.
    pub(crate) fn base(&self) -> f64 {
        if self.min <= 0.0 && self.max >= 0.0 { self.y(0.0) } else { self.y(self.min) }
    }
}

/// The value axis of the data in `lo..=hi` for a plot `height` px tall: about one tick per
/// 40 px, 2 to 8 of them.
pub(crate) fn y_ticks(lo: f64, hi: f64, height: f64, unit: &Unit) -> Vec<ValueTick> {
    let count = ((height / Y_TICK_SPACING).floor() as usize + 1).clamp(2, 8);
    value_ticks(lo, hi, count, unit)
}

/// The width the y labels need.
pub(crate) fn y_label_width(ticks: &[ValueTick]) -> f64 {
    ticks.iter().map(|t| text_width(&t.label, FONT_SIZE)).fold(0.0, f64::max)
}

/// Draws the horizontal grid, the y labels and the zero (or bottom) line.
pub(crate) fn draw_y_axis(doc: &mut Doc, ticks: &[ValueTick], scale: YScale, plot: Rect) {
    let base = scale.base();
    for tick in ticks {
        let y = crisp(scale.y(tick.value));
        if (y - crisp(base)).abs() > 0.5 {
            doc.line(plot.x, y, plot.right(), y, Role::Grid);
        }
        doc.text(plot.x - 6.0, scale.y(tick.value) + 4.0, "end", Role::Muted, "", &tick.label);
    }
    let y = crisp(base);
    doc.line(plot.x, y, plot.right(), y, Role::Axis);
}

/// `y` on a half pixel, so a 1-px line is sharp.
pub(crate) fn crisp(y: f64) -> f64 {
    y.floor() + 0.5
}

/// Draws x labels centred on their positions, kept inside the chart, each left out if it
/// would touch the previous one; with a short tick mark under the plot.
pub(crate) fn draw_x_labels(doc: &mut Doc, labels: &[(f64, String)], plot: Rect, width: f64, marks: bool) {
    let mut previous_end = f64::NEG_INFINITY;
    for (x, label) in labels {
        let w = text_width(label, FONT_SIZE);
        let centre = x.clamp(w / 2.0 + 2.0, (width - w / 2.0 - 2.0).max(w / 2.0 + 2.0));
        if centre - w / 2.0 < previous_end + 6.0 {
            continue;
        }
        previous_end = centre + w / 2.0;
        if marks {
            let mx = crisp(*x);
            doc.line(mx, plot.bottom(), mx, plot.bottom() + 4.0, Role::Axis);
        }
        doc.text(centre, plot.bottom() + 15.0, "middle", Role::Muted, "", label);
    }
}

/// The x labels of `count` categories in a plot: every k-th label, so that they fit, cut to
/// the room they have.
pub(crate) fn category_labels(categories: &[String], count: usize, plot: Rect) -> Vec<(f64, String)> {
    if count == 0 {
        return Vec::new();
    }
    let band = plot.w / count as f64;
    let widest = categories.iter().take(count).map(|c| text_width(c, FONT_SIZE)).fold(0.0, f64::max);
    let every = (((widest.min(120.0) + 8.0) / band).ceil() as usize).max(1);
    let room = every as f64 * band - 8.0;
    (0..count)
        .step_by(every)
        .filter_map(|i| {
            let label = truncate(categories.get(i)?, room, FONT_SIZE);
            (!label.is_empty()).then_some((plot.x + (i as f64 + 0.5) * band, label))
        })
        .collect()
}

/// A chart with nothing to show: the frame and a centred message.
pub(crate) fn render_empty(common: &Common, mode: Mode, swatch: Swatch) -> String {
    let mut doc = Doc::new(common.width, common.height, mode, &common.themes);
    let layout = Layout::new(common, false);
    layout.draw_frame(&mut doc, common, swatch);
    let plot = layout.plot(common, 0.0);
    let bottom = crisp(plot.bottom());
    doc.line(plot.x, bottom, plot.right(), bottom, Role::Axis);
    let message = truncate(&common.empty_message, plot.w - 8.0, 12.0);
    let (cx, cy) = (plot.x + plot.w / 2.0, plot.y + plot.h / 2.0 + 4.0);
    doc.text(cx, cy, "middle", Role::Muted, r#" font-size="12""#, &message);
    doc.finish(&common.title, &common.desc(&common.empty_message))
}

/// A path's `d` for points, one subpath per run without gaps; lone points are returned apart
/// (they get a dot).
pub(crate) fn line_path(points: &[(f64, Option<f64>)]) -> (String, Vec<(f64, f64)>) {
    let mut d = String::new();
    let mut lone = Vec::new();
    for run in runs(points) {
        match run.as_slice() {
            [] => {}
            [(x, y)] => lone.push((*x, *y)),
            [(x0, y0), rest @ ..] => {
                d.push_str(&format!("M{} {}", N(*x0), N(*y0)));
                for (x, y) in rest {
                    d.push_str(&format!("L{} {}", N(*x), N(*y)));
                }
            }
        }
    }
    (d, lone)
}

/// A path's `d` filling each run of two points or more down to `base`.
pub(crate) fn area_path(points: &[(f64, Option<f64>)], base: f64) -> String {
    let mut d = String::new();
    for run in runs(points) {
        if let [(x0, _), .., (xn, _)] = run.as_slice() {
            d.push_str(&format!("M{} {}", N(*x0), N(base)));
            for (x, y) in &run {
                d.push_str(&format!("L{} {}", N(*x), N(*y)));
            }
            d.push_str(&format!("L{} {}Z", N(*xn), N(base)));
        }
    }
    d
}

/// The runs of present points between missing ones.
fn runs(points: &[(f64, Option<f64>)]) -> Vec<Vec<(f64, f64)>> {
    let mut runs = vec![Vec::new()];
    for &(x, y) in points {
        match y {
            Some(y) => runs.last_mut().expect("never empty").push((x, y)),
            None if runs.last().is_some_and(|r| !r.is_empty()) => runs.push(Vec::new()),
            None => {}
        }
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gap_splits_the_path() {
        let points = [(0.0, Some(1.0)), (1.0, Some(2.0)), (2.0, None), (3.0, Some(3.0)), (4.0, Some(4.0))];
        let (d, lone) = line_path(&points);
        assert_eq!(d, "M0 1L1 2M3 3L4 4");
        assert!(lone.is_empty());
        assert_eq!(area_path(&points, 9.0).matches('Z').count(), 2);
    }

    #[test]
    fn a_lone_point_is_a_dot() {
        let points = [(0.0, Some(1.0)), (1.0, None), (2.0, Some(3.0)), (3.0, Some(4.0))];
        let (d, lone) = line_path(&points);
        assert_eq!(d, "M2 3L3 4");
        assert_eq!(lone, vec![(0.0, 1.0)]);
    }

    #[test]
    fn legend_wraps_and_counts_what_is_left_out() {
        let names: Vec<String> = (0..40).map(|i| format!("Series number {i}")).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let legend = Legend::new(&names, 350.0);
        assert_eq!(legend.rows, LEGEND_MAX_ROWS);
        let (_, _, more) = legend.more.as_ref().expect("some left out");
        assert_eq!(more, &format!("+{} more", 40 - legend.items.len()));
        for (x, _, text, _) in &legend.items {
            assert!(x + SWATCH + SWATCH_GAP + text_width(text, FONT_SIZE) <= 350.0 - PAD + 0.01);
        }
    }
}
