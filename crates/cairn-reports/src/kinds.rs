//! What every report kind shares: who it is for, its period as the cover says it, its errors,
//! and [`build`], which makes the report a request asks for.

use cairn_identity::Identity;
use cairn_instances::Instances;
use cairn_metrics::figures::{Granularity, Window};
use cairn_metrics::panels::Data;
use cairn_metrics::{Day, Metrics};
use cairn_store::{Db, Tenant};
use jiff::tz::TimeZone;

use crate::audit::AuditScope;
use crate::instances::InstancesScope;
use crate::jobs::{JobRequest, Kind};
use crate::pdf::{Block, Report, Section, Table};

/// Whose report it is: the tenant's display name and accent colour (`#rrggbb`).
#[derive(Debug, Clone)]
pub struct Letterhead {
    pub tenant: String,
    pub accent: Option<String>,
}

impl Letterhead {
    /// The tenant's, from its identity settings (the name and colour its pages and mail use).
    pub async fn read(identity: &Identity, tenant: &Tenant, db: &Db) -> Result<Letterhead, ReportError> {
        let settings = identity.settings(db).await?;
        let b = identity.branding(tenant, &settings);
        Ok(Letterhead { tenant: b.org, accent: Some(b.accent) })
    }
}

/// What reports are made from, for one tenant.
#[derive(Clone, Copy)]
pub struct Sources<'a> {
    pub tenant: &'a Tenant,
    pub db: &'a Db,
    /// Checks the audit chain's checkpoints.
    pub signer: &'a dyn cairn_audit::Signer,
    /// The instances console's AWS connections.
    pub cloud: &'a cairn_instances::Cloud,
    pub key: &'a cairn_domain::MasterKey,
}

/// The report a request asks for, generated at `now` (epoch ms), its days read in the
/// tenant's metrics time zone.
pub async fn build(req: &JobRequest, from: &Sources<'_>, head: &Letterhead, now: i64) -> Result<Report, ReportError> {
    let metrics = Metrics { db: from.db };
    let tenant = from.tenant.id.to_string();
    match req.kind {
        Kind::Team => {
            let window = Window { from: req.from, to: req.to, granularity: Granularity::Week };
            crate::team::team_report(&metrics, req.team_id.as_deref().unwrap_or_default(), window, head, now).await
        }
        Kind::Audit => {
            let (from_ms, to_ms, period, zone) = instants(&metrics, req).await?;
            let scope = AuditScope { db: from.db, scope: &tenant, from: from_ms, to: to_ms, period, zone };
            crate::audit::audit_report(&scope, from.signer, head, now).await
        }
        Kind::Instances => {
            let (from_ms, to_ms, period, zone) = instants(&metrics, req).await?;
            let instances = Instances { db: from.db, tenant: &tenant, cloud: from.cloud, key: from.key };
            let scope = InstancesScope { instances, from: from_ms, to: to_ms, period, zone };
            crate::instances::instances_report(&scope, head, now).await
        }
    }
}

/// The request's period as instants in the tenant's zone, as its cover says it, and the zone.
async fn instants(metrics: &Metrics<'_>, req: &JobRequest) -> Result<(i64, i64, String, TimeZone), ReportError> {
    let zone = metrics.settings().await?.time_zone.zone().clone();
    let (from, to) = (zone.start_ms(req.from), zone.start_ms(req.to));
    Ok((from, to, period_text(req.from, req.to), zone.time_zone().clone()))
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
    #[error("instances: {0}")]
    Instances(#[from] cairn_instances::InstancesError),
    #[error("identity: {0}")]
    Identity(#[from] cairn_identity::IdentityError),
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
