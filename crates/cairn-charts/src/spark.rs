//! Sparklines: a series' shape in a table cell, without axes or text.

use std::fmt::Write as _;

use crate::chart::{area_path, line_path, usable};
use crate::format::{Unit, format_value};
use crate::svg::{Doc, N, Role, Slot};
use crate::theme::{Color, Mode, Theme, Themes};

/// A sparkline of evenly spaced values, in the accent colour, with the last value marked.
///
/// The vertical scale fits the values (not from zero: a sparkline shows a shape, not sizes);
/// missing values break the line; without any value a dashed line says so. No background by
/// default: it takes the table's.
pub fn sparkline(values: &[Option<f64>], width: u32, height: u32, mode: Mode) -> String {
    Sparkline::new(values.iter().copied()).size(width, height).render(mode)
}

/// A sparkline with its settings; [`sparkline`] is the short way.
#[derive(Clone, Debug)]
pub struct Sparkline {
    values: Vec<Option<f64>>,
    width: u32,
    height: u32,
    title: Option<String>,
    unit: Unit,
    themes: Themes,
    area: bool,
    background: bool,
}

impl Sparkline {
    /// A sparkline of `values` (`None`, NaN and infinities are missing), 100 × 24.
    pub fn new(values: impl IntoIterator<Item = Option<f64>>) -> Self {
        Self {
            values: values.into_iter().collect(),
            width: 100,
            height: 24,
            title: None,
            unit: Unit::Plain,
            themes: Themes::default(),
            area: true,
            background: false,
        }
    }

    /// The size in px (default 100 × 24).
    pub fn size(mut self, width: u32, height: u32) -> Self {
        self.width = width;
        self.height = height;
        self
    }

    /// The `<title>` (default "Trend"); the `<desc>` gives the minimum, maximum and last value.
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }

    /// The unit of the values, for the description.
    pub fn y_unit(mut self, unit: Unit) -> Self {
        self.unit = unit;
        self
    }

    /// The themes to draw with (default [`Theme::light`] and [`Theme::dark`]).
    pub fn themes(mut self, light: Theme, dark: Theme) -> Self {
        self.themes = Themes { light, dark };
        self
    }

    /// The accent of both themes.
    pub fn accent(mut self, color: Color) -> Self {
        self.themes.light.accent = color;
        self.themes.dark.accent = color;
        self
    }

    /// Whether to fill under the line, faintly (default yes).
    pub fn area(mut self, fill: bool) -> Self {
        self.area = fill;
        self
    }

    /// Whether to paint the theme's surface behind the line (default no).
    pub fn background(mut self, paint: bool) -> Self {
        self.background = paint;
        self
    }

    /// The sparkline as a standalone SVG document (also valid inline in HTML).
    pub fn render(&self, mode: Mode) -> String {
        let (w, h) = (f64::from(self.width), f64::from(self.height));
        let title = self.title.as_deref().unwrap_or("Trend");
        let mut doc = Doc::new(self.width, self.height, mode, &self.themes);
        if self.background {
            doc.rect(0.0, 0.0, w, h, Role::Surface, "");
        }
        let values: Vec<Option<f64>> = self.values.iter().map(|&v| usable(v)).collect();
        let present: Vec<f64> = values.iter().filter_map(|&v| v).collect();
        let Some(&last) = present.last() else {
            let y = (h / 2.0).floor() + 0.5;
            let paint = doc.painter.paint(Role::Axis);
            let _ = write!(
                doc.body,
                r#"<line x1="2" y1="{}" x2="{}" y2="{}"{paint} stroke-dasharray="2 3"/>"#,
                N(y),
                N((w - 2.0).max(2.0)),
                N(y)
            );
            return doc.finish(title, "No data.");
        };
        let min = present.iter().copied().fold(f64::INFINITY, f64::min);
        let max = present.iter().copied().fold(f64::NEG_INFINITY, f64::max);

        // Room for the end dot and the line's width.
        let pad = 3.0;
        let (left, right, top, bottom) = (pad, (w - pad).max(pad), pad, (h - pad).max(pad));
        let n = values.len();
        let x = |i: usize| if n < 2 { (left + right) / 2.0 } else { left + i as f64 * (right - left) / (n - 1) as f64 };
        let y = |v: f64| {
            if max > min { bottom - (v - min) / (max - min) * (bottom - top) } else { (top + bottom) / 2.0 }
        };
        let points: Vec<(f64, Option<f64>)> = values.iter().enumerate().map(|(i, v)| (x(i), v.map(y))).collect();

        let slot = Slot::Accent;
        if self.area {
            let d = area_path(&points, bottom);
            if !d.is_empty() {
                let paint = doc.painter.paint(Role::Fill(slot));
                let _ = write!(doc.body, r#"<path d="{d}"{paint} fill-opacity="0.14"/>"#);
            }
        }
        let (d, lone) = line_path(&points);
        if !d.is_empty() {
            let paint = doc.painter.paint(Role::Line(slot));
            let _ = write!(
                doc.body,
                r#"<path d="{d}" fill="none"{paint} stroke-width="1.5" stroke-linejoin="round" stroke-linecap="round"/>"#
            );
        }
        let last_index = values.iter().rposition(Option::is_some).unwrap_or(0);
        let mut dots: Vec<(f64, f64)> = lone;
        let end = (x(last_index), y(last));
        if !dots.contains(&end) {
            dots.push(end);
        }
        for (cx, cy) in dots {
            let paint = doc.painter.paint(Role::Fill(slot));
            let _ = write!(doc.body, r#"<circle cx="{}" cy="{}" r="2"{paint}/>"#, N(cx), N(cy));
        }

        let desc = format!(
            "Min {}, max {}, last {}.",
            format_value(min, &self.unit),
            format_value(max, &self.unit),
            format_value(last, &self.unit)
        );
        doc.finish(title, &desc)
    }
}
