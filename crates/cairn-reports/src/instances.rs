//! The instances report: every instance of every connected account and region, with its
//! state now and its average CPU over the period, read from CloudWatch.
//!
//! The average is exact over the period: the sum of CPUUtilization's samples divided by their
//! count (`Sum` and `SampleCount` by day), not a mean of daily means. An instance without
//! samples in the period (stopped throughout, or launched after it) has none, and says so.
//! An account or region that does not answer is named, and its instances are missing.

use std::collections::BTreeMap;

use cairn_charts::{Unit, format_value};
use cairn_instances::{Instance, Instances, ListFilter, MetricName, MetricQuery, Stat, Target};
use futures_util::StreamExt;
use jiff::tz::TimeZone;

use crate::kinds::{Letterhead, ReportError};
use crate::pdf::{Block, Report, Section, Table};

/// CloudWatch reads at once.
const CONCURRENT_READS: usize = 8;
const DAY_S: i64 = 86_400;

/// What the instances report covers: the tenant's console, over the instants `[from, to)`,
/// said as `period`, in `zone`.
#[derive(Debug, Clone)]
pub struct InstancesScope<'a> {
    pub instances: Instances<'a>,
    pub from: i64,
    pub to: i64,
    pub period: String,
    pub zone: TimeZone,
}

/// An instance's average CPU over the period, or why there is none.
#[derive(Debug, Clone, PartialEq)]
enum Cpu {
    Average(f64),
    NoSamples,
    Unreadable(String),
}

impl Cpu {
    fn text(&self) -> String {
        match self {
            Cpu::Average(v) => format!("{} %", format_value(*v, &Unit::Plain)),
            Cpu::NoSamples => "no samples".to_owned(),
            Cpu::Unreadable(_) => "not readable".to_owned(),
        }
    }
}

/// The mean of every sample in the period, from each day's sum and count.
fn average(sums: &[cairn_instances::MetricPoint], counts: &[cairn_instances::MetricPoint]) -> Cpu {
    let (sum, n): (f64, f64) = (sums.iter().map(|p| p.value).sum(), counts.iter().map(|p| p.value).sum());
    if n > 0.0 { Cpu::Average(sum / n) } else { Cpu::NoSamples }
}

async fn cpu(scope: &InstancesScope<'_>, i: &Instance, now: i64) -> Cpu {
    let to = scope.to.min(now);
    let query = |stat| MetricQuery::check(MetricName::CpuUtilization, stat, scope.from, to, DAY_S, now);
    let (sum, count) = match (query(Stat::Sum), query(Stat::SampleCount)) {
        (Ok(s), Ok(c)) => (s, c),
        // A period in the future, or older than CloudWatch keeps: nothing to read.
        _ => return Cpu::NoSamples,
    };
    let target = Target { account: i.account.clone(), region: i.region.clone(), id: i.id.clone() };
    match scope.instances.metrics(&target, &[sum, count]).await {
        Ok(read) => match <[_; 2]>::try_from(read) {
            Ok([Ok(sums), Ok(counts)]) => average(&sums, &counts),
            Ok([Err(e), _] | [_, Err(e)]) => Cpu::Unreadable(e.to_string()),
            Err(_) => Cpu::Unreadable("CloudWatch answered in part".to_owned()),
        },
        Err(e) => Cpu::Unreadable(e.to_string()),
    }
}

/// The instances report of `scope`, generated at `now` (epoch ms).
pub async fn instances_report(scope: &InstancesScope<'_>, head: &Letterhead, now: i64) -> Result<Report, ReportError> {
    let listing = scope.instances.list(&ListFilter::default(), true).await?;
    let all: Vec<&Instance> = listing.iter().collect();
    let reads: Vec<_> = all.iter().map(|i| cpu(scope, i, now)).collect();
    let cpus: Vec<Cpu> = futures_util::stream::iter(reads).buffered(CONCURRENT_READS).collect().await;
    let n = |v: usize| format_value(v as f64, &Unit::Count);

    let mut by_state: BTreeMap<&str, usize> = BTreeMap::new();
    for i in &all {
        *by_state.entry(i.state.as_str()).or_default() += 1;
    }
    let averages: Vec<f64> =
        cpus.iter().filter_map(|c| if let Cpu::Average(v) = c { Some(*v) } else { None }).collect();
    let mut facts = vec![
        ("Instances".to_owned(), n(all.len())),
        ("Accounts".to_owned(), n(listing.accounts.len())),
        ("Running".to_owned(), n(by_state.get("running").copied().unwrap_or(0))),
        ("Stopped".to_owned(), n(by_state.get("stopped").copied().unwrap_or(0))),
    ];
    if !averages.is_empty() {
        let mean = averages.iter().sum::<f64>() / averages.len() as f64;
        facts.push(("Mean of average CPU".to_owned(), format!("{} %", format_value(mean, &Unit::Plain))));
    }
    let mut summary = vec![
        Block::Facts(facts),
        Block::Paragraph(
            "Each instance's state is as AWS reported it when the report was generated; its CPU is the average of every CPUUtilization sample CloudWatch holds for the period.".to_owned(),
        ),
    ];
    if !listing.unavailable.is_empty() {
        let missing: Vec<String> =
            listing.unavailable.iter().map(|u| format!("{} in {} ({})", u.account, u.region, u.error)).collect();
        summary.push(Block::Paragraph(format!("Not included, because AWS did not answer: {}.", missing.join("; "))));
    }
    let states = Section {
        title: "Summary".to_owned(),
        blocks: {
            let mut b = summary;
            b.push(Block::Table(Table {
                head: vec!["State".to_owned(), "Instances".to_owned()],
                rows: by_state.iter().map(|(s, c)| vec![(*s).to_owned(), n(*c)]).collect(),
                numeric: vec![false, true],
            }));
            b
        },
    };

    let mut sections = vec![states];
    let unreadable = cpus.iter().filter(|c| matches!(c, Cpu::Unreadable(_))).count();
    let mut accounts: BTreeMap<&str, Vec<Vec<String>>> = BTreeMap::new();
    for (i, c) in all.iter().zip(&cpus) {
        accounts.entry(i.account.as_str()).or_default().push(vec![
            i.name.clone().map_or_else(|| i.id.clone(), |name| format!("{name} ({})", i.id)),
            i.region.clone(),
            i.instance_type.clone(),
            i.state.clone(),
            c.text(),
        ]);
    }
    if accounts.is_empty() {
        sections.push(Section {
            title: "Instances".to_owned(),
            blocks: vec![Block::Paragraph("No instance in any connected account.".to_owned())],
        });
    }
    for (account, rows) in accounts {
        sections.push(Section {
            title: format!("Account {account}"),
            blocks: vec![Block::Table(Table {
                head: ["Instance", "Region", "Type", "State", "Average CPU"].map(str::to_owned).to_vec(),
                rows,
                numeric: vec![false, false, false, false, true],
            })],
        });
    }
    if unreadable > 0 {
        let why = cpus.iter().find_map(|c| if let Cpu::Unreadable(e) = c { Some(e.clone()) } else { None });
        sections[0].blocks.push(Block::Paragraph(format!(
            "CloudWatch did not give the CPU of {}: {}.",
            cairn_metrics::panels::count(unreadable as f64, "instance", "instances"),
            why.unwrap_or_default()
        )));
    }
    // The accounts it covers: by name when there are a few.
    let names: Vec<&str> = listing.accounts.iter().map(|a| a.name.as_str()).collect();
    let subject = match names.len() {
        0 => "No accounts".to_owned(),
        1..=3 => names.join(", "),
        n => format!("{n} accounts"),
    };
    Ok(Report {
        title: "Instances report".to_owned(),
        subject,
        tenant: head.tenant.clone(),
        accent: head.accent.clone(),
        period: scope.period.clone(),
        generated: jiff::Timestamp::from_millisecond(now).unwrap_or_default().to_zoned(scope.zone.clone()),
        sections,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_instances::MetricPoint;

    #[test]
    fn the_average_weighs_every_sample_alike() {
        let p = |value| MetricPoint { time: 0, value };
        // Day one: 2 samples summing to 20; day two: 8 samples summing to 400.
        assert_eq!(average(&[p(20.0), p(400.0)], &[p(2.0), p(8.0)]), Cpu::Average(42.0));
        assert_eq!(average(&[], &[]), Cpu::NoSamples);
        assert_eq!(Cpu::Average(42.0).text(), "42 %");
    }
}
