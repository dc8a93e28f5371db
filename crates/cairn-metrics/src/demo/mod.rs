//! Demo data: a realistic engineering organization written straight into a tenant's tables,
//! so dashboards and benchmarks have data without any upstream.
//!
//! One generator serves everything that needs this organization: [`plan`] draws it from a
//! seed (people and teams, repositories with their histories, the Jira site's history),
//! [`rows`] turns the plan into the rows the collectors would store from it, and
//! [`Metrics::seed_demo`](crate::Metrics::seed_demo) writes them through the collected
//! store's pages (so the rollups stay right) under two sources marked demo, which no
//! collector or schedule ever reaches. The test kit's GitHub and Jira fixtures build the
//! worlds they serve from the same plan, so collecting those worlds gives the same rows.

pub mod plan;
pub mod rows;
mod service;

pub use plan::{OrgPerson, OrgTeam, organization_people};
pub use service::{DEMO_GITHUB, DEMO_JIRA, SeedProgress, SeedReport};

/// How big an organization to build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrgSize {
    /// 8 engineers in 2 teams, 4 repositories, 120 days: for trying things and tests.
    Small,
    /// The reference organization: 200 engineers, 25 teams, 300 repositories, three years
    /// (about 200k commits and 20k pull requests with ≈5 comments each, 15k issues with up
    /// to 130k worklogs and ≈650 sprints a year).
    Bench,
}

impl OrgSize {
    pub fn as_str(self) -> &'static str {
        match self {
            OrgSize::Small => "small",
            OrgSize::Bench => "bench",
        }
    }

    pub fn parse(s: &str) -> Option<OrgSize> {
        match s {
            "small" => Some(OrgSize::Small),
            "bench" => Some(OrgSize::Bench),
            _ => None,
        }
    }
}

/// The end of an organization's history that starts being seeded now: today's midnight UTC.
pub fn today_midnight() -> i64 {
    let now = cairn_domain::now_ms();
    now - now.rem_euclid(plan::DAY)
}

/// A small deterministic generator (SplitMix64): the same seed draws the same organization.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// A rough log-normal count around `median`.
    pub fn skewed(&mut self, median: f64, spread: f64) -> f64 {
        let normal = (0..6).map(|_| self.unit()).sum::<f64>() - 3.0;
        median * (normal * spread).exp()
    }
}

#[cfg(test)]
mod tests {
    use super::plan::*;
    use super::rows::{JiraRows, RepoRows};
    use super::*;
    use crate::collected::SprintState;

    const END: i64 = 1_767_225_600_000; // 2026-01-01

    #[test]
    fn the_small_organization_is_realistic() {
        let (people, teams) = organization_people(1, OrgSize::Small);
        assert_eq!((people.len(), teams.len()), (8, 2));
        let repos = repositories(1, OrgSize::Small, END);
        let all: Vec<RepoRows> = repos.iter().enumerate().map(|(i, r)| RepoRows::of(i, r, &people)).collect();
        let commits: Vec<_> = all.iter().flat_map(|r| &r.commits).collect();
        let counted = commits.iter().filter(|c| c.counted()).count();
        let merges = commits.iter().filter(|c| c.parent_count > 1).count();
        assert!(merges > 0 && counted > merges, "{counted} counted commits, {merges} merges");
        let linked: std::collections::HashSet<(&str, &str)> =
            all.iter().flat_map(|r| &r.links).map(|l| (l.repository_id.as_str(), l.sha.as_str())).collect();
        let without = commits
            .iter()
            .filter(|c| c.counted() && !linked.contains(&(c.repository_id.as_str(), c.sha.as_str())))
            .count();
        let share = without as f64 / counted as f64;
        assert!((0.05..=0.15).contains(&share), "{share:.3} of counted commits without a pull request");
        assert!(
            commits.iter().any(|c| c.author_email.as_deref().is_some_and(|e| e.contains(BOT_LOGIN))),
            "the bot commits"
        );
        assert!(commits.iter().any(|c| c.author_login.is_none()), "some commits have no GitHub author");
        assert!(all.iter().all(|r| !r.releases.is_empty()), "every repository releases");
        assert!(all.iter().any(|r| !r.deployments.is_empty()), "merges are deployed");
        let comments = all.iter().flat_map(|r| &r.comments);
        assert!(comments.clone().any(|c| c.on_own()) && comments.clone().any(|c| !c.on_own()));

        let jira = JiraRows::of(&jira(1, OrgSize::Small, END), &people, &teams);
        let resolved: Vec<_> = jira.issues.iter().filter(|i| i.resolved_at.is_some()).collect();
        assert!(resolved.iter().any(|i| i.issue_type == "Bug"), "bugs are resolved");
        assert!(resolved.iter().any(|i| i.original_estimate_seconds.is_some() && i.time_spent_seconds.is_some()));
        assert!(jira.worklogs.iter().any(|w| w.updated_at - w.started_at > DAY), "some work is logged late");
        let carried = jira.memberships.iter().filter(|m| m.removed_at.is_none()).fold(
            std::collections::HashMap::<&str, usize>::new(),
            |mut n, m| {
                *n.entry(m.issue_id.as_str()).or_default() += 1;
                n
            },
        );
        assert!(carried.values().any(|n| *n > 1), "work is carried over");
        assert!(jira.commitments.iter().all(|(_, items)| !items.is_empty()), "every started sprint has a commitment");
        let closed = jira.sprints.iter().filter(|s| s.state == SprintState::Closed).count();
        assert_eq!(jira.completions.len(), closed, "every closed sprint has a completion");
        let items: Vec<_> = jira.completions.iter().flat_map(|(_, items)| items).collect();
        assert!(items.iter().any(|i| i.done) && items.iter().any(|i| !i.done), "sprints close with work left");
        let stints = stints(1, OrgSize::Bench, END - 3 * 365 * DAY, END);
        let moved = stints.iter().filter(|s| s.len() > 1).count();
        assert!((10..=50).contains(&moved), "{moved} of 200 people moved team");
    }

    #[test]
    fn the_same_seed_plans_the_same_organization() {
        let a = repositories(7, OrgSize::Small, END);
        let b = repositories(7, OrgSize::Small, END);
        let shas = |r: &[RepoPlan]| -> Vec<String> {
            r.iter().flat_map(|r| r.commits.iter().map(PlannedCommit::sha_hex)).collect()
        };
        assert_eq!(shas(&a), shas(&b));
        assert_ne!(shas(&a), shas(&repositories(8, OrgSize::Small, END)));
        assert_eq!(jira(7, OrgSize::Small, END).len(), jira(7, OrgSize::Small, END).len());
    }
}
