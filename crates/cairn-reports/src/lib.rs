//! Reports: PDF documents rendered in Rust from Cairn's own figures — no browser, no
//! external process.
//!
//! - [`pdf`]: a [`pdf::Report`] (cover, contents, sections of paragraphs, facts, charts and
//!   tables) laid out on A4 pages and written as a tagged PDF/A-2b file with krilla;
//! - [`fonts`]: the one vendored font family, for the text and for the charts;
//! - [`audit`]: the audit report of a period.

pub mod audit;
pub mod fonts;
pub mod pdf;

pub use fonts::Fonts;
pub use pdf::{Block, RenderError, Rendered, Report, Section, Table, render};
