//! Server-rendered SVG charts: line, area, bar (grouped or stacked) and sparkline, for Cairn's pages (instance
//! metrics, engineering-metrics dashboards) and PDF reports.
//!
//! # Why hand-written SVG
//!
//! The charts are few and simple, and they must render in two very different places: inline
//! in a page (a browser, without JavaScript) and inside a PDF (through `usvg`, which has no
//! browser engine). Writing the SVG by hand with `std::fmt::Write` keeps the crate free of
//! dependencies beyond `jiff` (for time axes in the viewer's zone) and keeps the output to
//! what every renderer understands: a root `<svg>` with its namespace, `width`, `height` and
//! `viewBox`; `rect`, `line`, `path`, `circle` and `text`; colours as `#rrggbb`; generic font
//! families; no scripts, no external resources, no `foreignObject`, no ids. Every text from a
//! caller (titles, series names, categories) is XML-escaped, and characters XML forbids are
//! dropped, so a document is always well-formed XML.
//!
//! # Modes
//!
//! [`Mode::Light`] and [`Mode::Dark`] write the colours of one [`Theme`] as presentation
//! attributes (`fill="#…"`), which PDF renderers read. [`Mode::Adaptive`] is for pages: it
//! writes the light colours as attributes too, gives every painted element a class naming its
//! role (grid, muted text, series 2's line…) and adds a `<style>` with the light rules and the
//! dark ones inside `@media (prefers-color-scheme: dark)`, the same switch as Cairn's
//! stylesheet; one inline SVG then follows the page's theme. The class names carry a hash of
//! the themes, so charts drawn with other themes on the same page do not restyle each other.
//!
//! # Data
//!
//! A [`Series`] is named points: over time, `(UTC milliseconds, value)`, with ticks placed
//! and labelled in a [`jiff::tz::TimeZone`] the caller gives (UTC by default); over
//! categories, values in the order of the labels. A value that is `None`, NaN or infinite is
//! missing: lines break there rather than drop to zero, a lone point between gaps is a dot.
//! A chart without any value shows its frame and "No data for this period".
//!
//! # Accessibility
//!
//! Every chart has `role="img"`, a `<title>` (the caller's) and a `<desc>` generated from the
//! data (the period, each series' minimum, maximum and last value, or each bar's value). More
//! than one series get a legend; colours come from a palette distinguishable with the common
//! colour-vision deficiencies, each at 4.5:1 or more on its surface.
//!
//! ```
//! use cairn_charts::{BarChart, LineChart, Mode, Series, Unit, sparkline};
//!
//! let minute = 60_000;
//! let latency = Series::new("p95", (0..60).map(|m| (m * minute, Some(0.2 + (m % 7) as f64 / 50.0))));
//! let page_svg = LineChart::new("Latency").series(latency).y_unit(Unit::Seconds).render(Mode::Adaptive);
//! let cell_svg = sparkline(&[Some(3.0), None, Some(5.0), Some(4.0)], 80, 20, Mode::Light);
//! # assert!(page_svg.contains("prefers-color-scheme") && cell_svg.contains("<path"));
//! ```

#![warn(missing_docs)]

pub mod axis;
mod bar;
mod chart;
pub mod format;
mod line;
mod spark;
mod svg;
mod theme;

pub use bar::BarChart;
pub use chart::Series;
pub use format::{Unit, format_value};
pub use line::LineChart;
pub use spark::{Sparkline, sparkline};
pub use theme::{Color, DEFAULT_ACCENT, Mode, Theme, Themes};
