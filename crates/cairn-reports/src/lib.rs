//! Reports: PDF documents rendered in Rust from Cairn's own figures — no browser, no
//! external process.
//!
//! - [`pdf`]: a [`pdf::Report`] (cover, contents, sections of paragraphs, facts, charts and
//!   tables) laid out on A4 pages and written as a tagged PDF/A-2b file with krilla;
//! - [`fonts`]: the one vendored font family, for the text and for the charts;
//! - [`kinds`]: what every kind shares (the letterhead, the period, errors);
//! - [`team`]: the team engineering report, the dashboard's charts and tables;
//! - [`audit`]: the audit report of a period;
//! - [`jobs`]: reports requested over the API, rendered by workers under a lease;
//! - [`objects`]: where rendered reports are kept;
//! - [`links`]: expiring signed download links.

pub mod audit;
pub mod fonts;
pub mod jobs;
pub mod kinds;
pub mod links;
pub mod objects;
pub mod pdf;
pub mod team;

use cairn_store::Migration;

pub fn tenant_migrations() -> Vec<Migration> {
    const REPORTS: &str = include_str!("../migrations/tenant_0001_reports.sql");
    vec![Migration { component: "reports", version: 1, name: "reports", sqlite: REPORTS, postgres: REPORTS }]
}

pub use fonts::Fonts;
pub use kinds::{Letterhead, ReportError, period_text};
pub use pdf::{Block, RenderError, Rendered, Report, Section, Table, render};
