//! Reports: PDF documents rendered in Rust from Cairn's own figures — no browser, no
//! external process.
//!
//! - [`pdf`]: a [`pdf::Report`] (cover, contents, sections of paragraphs, facts, charts and
//!   tables) laid out on A4 pages and written as a tagged PDF/A-2b file with krilla;
//! - [`fonts`]: the one vendored font family, for the text and for the charts;
//! - [`kinds`]: what every kind shares (the letterhead, the period, errors);
//! - [`team`]: the team engineering report, the dashboard's charts and tables;
//! - [`audit`]: the audit report of a period;
//! - [`instances`]: the instances report, every instance's state and average CPU;
//! - [`jobs`]: reports requested over the API, rendered by workers under a lease;
//! - [`schedules`]: reports queued by a cron expression and mailed to their recipients;
//! - [`mail`]: the mail of a scheduled report, through the event outbox;
//! - [`settings`]: how long a tenant's reports are kept and their links last;
//! - [`objects`]: where rendered reports are kept;
//! - [`links`]: expiring signed download links.

pub mod audit;
pub mod fonts;
pub mod instances;
pub mod jobs;
pub mod kinds;
pub mod links;
pub mod mail;
pub mod objects;
pub mod pdf;
pub mod schedules;
pub mod settings;
pub mod team;

use cairn_store::Migration;

pub fn tenant_migrations() -> Vec<Migration> {
    const REPORTS: &str = include_str!("../migrations/tenant_0001_reports.sql");
    const SCHEDULES: &str = include_str!("../migrations/tenant_0002_schedules.sql");
    const SETTINGS: &str = include_str!("../migrations/tenant_0003_settings.sql");
    vec![
        Migration { component: "reports", version: 1, name: "reports", sqlite: REPORTS, postgres: REPORTS },
        Migration { component: "reports", version: 2, name: "schedules", sqlite: SCHEDULES, postgres: SCHEDULES },
        Migration { component: "reports", version: 3, name: "settings", sqlite: SETTINGS, postgres: SETTINGS },
    ]
}

pub use fonts::Fonts;
pub use kinds::{Letterhead, ReportError, Sources, build, period_text};
pub use pdf::{Block, RenderError, Rendered, Report, Section, Table, render};
