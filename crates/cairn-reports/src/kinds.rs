//! What every report kind shares: who it is for, its period as the cover says it, its errors.

use cairn_metrics::Day;
use cairn_metrics::panels::Data;

use crate::pdf::{Block, Section, Table};

/// Whose report it is: the tenant's display name and accent colour (`#rrggbb`).
#[derive(Debug, Clone)]
pub struct Letterhead {
    pub tenant: String,
    pub accent: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// What the report is about does not exist: `team "…"`.
    #[error("{0} not found")]
    NotFound(String),
    #[error("metrics: {0}")]
    Metrics(#[from] cairn_metrics::MetricsError),
    #[error("audit: {0}")]
    Audit(#[from] cairn_audit::AuditError),
    #[error(transparent)]
    Render(#[from] crate::pdf::RenderError),
}

/// The local days `[from, to)` as a cover says them: `1 September – 30 November 2026`,
/// `3 – 9 March 2026`, `1 March 2026`.
pub fn period_text(from: Day, to: Day) -> String {
    let (first, last) = (from.date(), Day::from_number(to.number() - 1).max(from).date());
    if first == last {
        return first.strftime("%-d %B %Y").to_string();
    }
    let start = match (first.year() == last.year(), first.month() == last.month()) {
        (true, true) => first.strftime("%-d").to_string(),
        (true, false) => first.strftime("%-d %B").to_string(),
        (false, _) => first.strftime("%-d %B %Y").to_string(),
    };
    format!("{start} \u{2013} {}", last.strftime("%-d %B %Y"))
}

/// A chart's section: its headline, the chart, its numbers, and what it counts.
pub(crate) fn data_section(d: &Data, empty: &str) -> Section {
    let mut blocks = Vec::new();
    if let Some(h) = &d.headline {
        blocks.push(Block::Paragraph(h.clone()));
    }
    let svg = d.svg(720, 250, cairn_charts::Mode::Light, d.empty.unwrap_or(empty));
    blocks.push(Block::Chart { title: d.title.clone(), svg });
    let t = d.table();
    let mut head = t.head.clone();
    if head.first().is_some_and(String::is_empty) {
        head[0] = "".into();
    }
    let rows: Vec<Vec<String>> =
        t.rows.into_iter().map(|r| std::iter::once(r.label).chain(r.cells).collect::<Vec<_>>()).collect();
    if !rows.is_empty() {
        let numeric = (0..head.len()).map(|i| i > 0).collect();
        blocks.push(Block::Table(Table { head, rows, numeric }));
    }
    blocks.push(Block::Paragraph(format!("What this counts: {}", d.what)));
    Section { title: d.title.clone(), blocks }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_period_is_said_as_briefly_as_it_reads() {
        let day = |s: &str| Day::parse(s, "d").unwrap();
        assert_eq!(period_text(day("2026-09-01"), day("2026-12-01")), "1 September \u{2013} 30 November 2026");
        assert_eq!(period_text(day("2026-03-03"), day("2026-03-10")), "3 \u{2013} 9 March 2026");
        assert_eq!(period_text(day("2025-12-29"), day("2026-01-05")), "29 December 2025 \u{2013} 4 January 2026");
        assert_eq!(period_text(day("2026-03-01"), day("2026-03-02")), "1 March 2026");
    }
}
