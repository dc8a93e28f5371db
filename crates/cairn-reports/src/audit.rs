//! The audit report: a period's entries by action, actor and outcome, the denials listed,
//! the chain's verification and its latest signed checkpoint.

use std::collections::BTreeMap;

use cairn_audit::{AuditService, Signer};
use cairn_charts::{BarChart, Mode, Series, Unit, format_value};
use cairn_metrics::panels::count;
use cairn_store::Db;
use jiff::tz::TimeZone;

use crate::kinds::Letterhead;
use crate::kinds::ReportError;
use crate::pdf::{Block, Report, Section, Table};

/// Denials listed one by one; beyond, the report says how many more there are.
pub const DENIALS_LISTED: i64 = 500;
/// Actions the chart shows: the busiest.
const CHART_ACTIONS: usize = 12;

/// What the audit report covers: the chain `scope` names (a tenant id, or `platform`) in
/// `db`, over the instants `[from, to)`, said as `period`, in `zone`.
#[derive(Debug, Clone)]
pub struct AuditScope<'a> {
    pub db: &'a Db,
    pub scope: &'a str,
    pub from: i64,
    pub to: i64,
    pub period: String,
    pub zone: TimeZone,
}

/// Succeeded, failed and denied entries.
#[derive(Debug, Clone, Copy, Default)]
struct Outcomes([i64; 3]);

impl Outcomes {
    fn add(&mut self, outcome: &str, n: i64) {
        let i = match outcome {
            "success" => 0,
            "failure" => 1,
            _ => 2,
        };
        self.0[i] += n;
    }

    fn total(&self) -> i64 {
        self.0.iter().sum()
    }

    fn cells(&self) -> impl Iterator<Item = String> + '_ {
        self.0
            .iter()
            .chain(std::iter::once(&self.total()))
            .map(|n| format_value(*n as f64, &Unit::Count))
            .collect::<Vec<_>>()
            .into_iter()
    }
}

fn by_outcome_table(first: &str, rows: &[(String, Outcomes)]) -> Table {
    Table {
        head: [first, "Succeeded", "Failed", "Denied", "Total"].map(str::to_owned).to_vec(),
        rows: rows.iter().map(|(name, o)| std::iter::once(name.clone()).chain(o.cells()).collect()).collect(),
        numeric: vec![false, true, true, true, true],
    }
}

/// The audit report of `scope`, generated at `now` (epoch ms); `signer` checks checkpoints.
pub async fn audit_report(
    scope: &AuditScope<'_>,
    signer: &dyn Signer,
    head: &Letterhead,
    now: i64,
) -> Result<Report, ReportError> {
    let db = scope.db;
    let (tally, denied, verify, checkpoint) = tokio::try_join!(
        AuditService::tally(db, scope.from, scope.to),
        AuditService::denied(db, scope.from, scope.to, DENIALS_LISTED + 1),
        AuditService::verify(db, signer, scope.scope),
        AuditService::latest_checkpoint(db),
    )?;
    let mut all = Outcomes::default();
    let mut actions: BTreeMap<String, Outcomes> = BTreeMap::new();
    let mut actors: BTreeMap<String, Outcomes> = BTreeMap::new();
    for t in &tally {
        all.add(&t.outcome, t.entries);
        actions.entry(t.action.clone()).or_default().add(&t.outcome, t.entries);
        let who = t.actor_email.clone().unwrap_or_else(|| t.actor_id.clone());
        actors.entry(who).or_default().add(&t.outcome, t.entries);
    }
    let busiest = |m: BTreeMap<String, Outcomes>| {
        let mut v: Vec<(String, Outcomes)> = m.into_iter().collect();
        v.sort_by(|a, b| b.1.total().cmp(&a.1.total()).then_with(|| a.0.cmp(&b.0)));
        v
    };
    let (actions, actors) = (busiest(actions), busiest(actors));
    let n = |v: i64| format_value(v as f64, &Unit::Count);

    let summary = Section {
        title: "Summary".to_owned(),
        blocks: vec![
            Block::Facts(vec![
                ("Entries".to_owned(), n(all.total())),
                ("Succeeded".to_owned(), n(all.0[0])),
                ("Failed".to_owned(), n(all.0[1])),
                ("Denied".to_owned(), n(all.0[2])),
                ("Actors".to_owned(), n(actors.len() as i64)),
                ("Actions".to_owned(), n(actions.len() as i64)),
            ]),
            Block::Paragraph(
                "Every change and every refused request is an entry of the audit trail, chained by hash to the one before; a signed checkpoint vouches for the chain up to its entry.".to_owned(),
            ),
        ],
    };

    let shown: Vec<&(String, Outcomes)> = actions.iter().take(CHART_ACTIONS).collect();
    let mut chart = BarChart::new("Entries by action and outcome")
        .categories(shown.iter().map(|(a, _)| a.clone()))
        .stacked(true)
        .y_unit(Unit::Count)
        .show_title(false)
        .empty_message("No entry in this period");
    for (i, name) in ["Succeeded", "Failed", "Denied"].iter().enumerate() {
        chart = chart.series(Series::categorical(*name, shown.iter().map(|(_, o)| Some(o.0[i] as f64))));
    }
    let by_action = Section {
        title: "Entries by action".to_owned(),
        blocks: vec![
            Block::Chart {
                title: "Entries by action and outcome (the busiest)".to_owned(),
                svg: chart.size(720, 280).render(Mode::Light),
            },
            Block::Table(by_outcome_table("Action", &actions)),
        ],
    };
    let by_actor = Section {
        title: "Entries by actor".to_owned(),
        blocks: vec![Block::Table(by_outcome_table("Actor", &actors))],
    };

    let listed = denied.len().min(DENIALS_LISTED as usize);
    let mut denial_blocks = Vec::new();
    if denied.is_empty() {
        denial_blocks.push(Block::Paragraph("No request was denied in this period.".to_owned()));
    } else {
        let rows = denied
            .iter()
            .take(listed)
            .map(|e| {
                let when = jiff::Timestamp::from_millisecond(e.time).unwrap_or_default().to_zoned(scope.zone.clone());
                vec![
                    when.strftime("%Y-%m-%d %H:%M:%S").to_string(),
                    e.actor_email.clone().unwrap_or_else(|| e.actor_id.clone()),
                    e.action.clone(),
                    match (&e.resource_type, &e.resource_id) {
                        (Some(t), Some(id)) => format!("{t} {id}"),
                        (Some(t), None) => t.clone(),
                        _ => String::new(),
                    },
                    e.ip.clone().unwrap_or_default(),
                ]
            })
            .collect();
        denial_blocks.push(Block::Table(Table {
            head: ["Time", "Actor", "Action", "Resource", "Address"].map(str::to_owned).to_vec(),
            rows,
            numeric: vec![false; 5],
        }));
        if denied.len() > listed {
            denial_blocks.push(Block::Paragraph(format!(
                "The first {listed} of {} denials are listed; the audit log's export has them all.",
                n(all.0[2])
            )));
        }
    }
    let denials = Section { title: "Denials".to_owned(), blocks: denial_blocks };

    let verdict = match &verify.violation {
        None => format!(
            "The chain is intact: {} verified, from entry {} to entry {}, against {}.",
            count(verify.entries as f64, "entry", "entries"),
            verify.first_seq.map_or("\u{2013}".to_owned(), |s| s.to_string()),
            verify.head_seq,
            count(verify.checkpoints as f64, "signed checkpoint", "signed checkpoints")
        ),
        Some(v) => format!("The chain is broken at {v}. Entries from there on cannot be vouched for."),
    };
    let checkpoint_text = match checkpoint {
        Some(c) => {
            let when = jiff::Timestamp::from_millisecond(c.time).unwrap_or_default().to_zoned(scope.zone.clone());
            format!(
                "The latest signed checkpoint covers the chain up to entry {}, signed {}.",
                c.seq,
                when.strftime("%-d %B %Y, %H:%M %Z")
            )
        }
        None => "No checkpoint has been signed yet.".to_owned(),
    };
    let chain = Section {
        title: "Chain verification".to_owned(),
        blocks: vec![
            Block::Facts(vec![
                (
                    "Verification".to_owned(),
                    if verify.violation.is_none() { "Intact".to_owned() } else { "Broken".to_owned() },
                ),
                ("Entries verified".to_owned(), n(verify.entries as i64)),
                ("Latest checkpoint".to_owned(), checkpoint.map_or("None".to_owned(), |c| format!("Entry {}", c.seq))),
            ]),
            Block::Paragraph(verdict),
            Block::Paragraph(checkpoint_text),
        ],
    };
    Ok(Report {
        title: "Audit report".to_owned(),
        subject: "Audit trail".to_owned(),
        tenant: head.tenant.clone(),
        accent: head.accent.clone(),
        period: scope.period.clone(),
        generated: jiff::Timestamp::from_millisecond(now).unwrap_or_default().to_zoned(scope.zone.clone()),
        sections: vec![summary, by_action, by_actor, denials, chain],
    })
}
