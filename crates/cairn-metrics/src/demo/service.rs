//! Seeding a tenant with the demo organization: its teams, two demo sources, and every
//! collected row, written page by page through [`Page`] (each page its own transaction,
//! with the rollups it moves), so the tables look as if collectors had read the
//! organization's whole history.

use std::collections::BTreeMap;

use cairn_audit::{Action, Actor, AuditService, NewEntry, Outcome, RequestMeta};
use cairn_domain::now_ms;
use serde_json::json;

use super::plan::{self, DAY, ORGANIZATION};
use super::rows::{JiraRows, RepoRows};
use super::{OrgSize, today_midnight};
use crate::collected::{
    Board, Comment, Commit, CommitPullRequest, CommitmentItem, CompletionItem, Counts, Deployment, Issue, Page,
    PullRequest, Release, Repository, Review, Sprint, SprintMembership, Worklog,
};
use crate::sources::{NewSource, Source, SourceId, SourceKind, store as sources};
use crate::teams::{MemberDraft, TeamDraft};
use crate::{Metrics, MetricsError};

/// The demo sources' names.
pub const DEMO_GITHUB: &str = "Demo GitHub";
pub const DEMO_JIRA: &str = "Demo Jira";
/// The cursor on the demo GitHub source saying which organization was seeded.
const PLAN_CURSOR: &str = "demo:plan";
/// Rows per page: each page is one transaction.
const PAGE_ROWS: usize = 2_000;
/// Sprints whose commitment (or completion) one page takes.
const SNAPSHOTS_PER_PAGE: usize = 100;

/// Where a seed stands: `done` of `total` rows written, in `step`.
#[derive(Debug, Clone, Copy)]
pub struct SeedProgress<'a> {
    pub step: &'a str,
    pub done: u64,
    pub total: u64,
}

/// What a seed did.
#[derive(Debug, Clone, Default)]
pub struct SeedReport {
    /// The end of the organization's history (the first seed's midnight, UTC).
    pub end: i64,
    pub teams_created: usize,
    pub sources_created: bool,
    /// What the pages did, per table.
    pub counts: BTreeMap<&'static str, Counts>,
}

impl SeedReport {
    /// Whether anything was written.
    pub fn changed(&self) -> bool {
        self.sources_created || self.teams_created > 0 || self.counts.values().any(Counts::touched)
    }
}

/// Which organization the demo sources hold: `seed=…;size=…;end=…`.
fn plan_text(seed: u64, size: OrgSize, end: i64) -> String {
    format!("seed={seed};size={};end={end}", size.as_str())
}

fn parse_plan(text: &str) -> Option<(u64, OrgSize, i64)> {
    let mut seed = None;
    let mut size = None;
    let mut end = None;
    for part in text.split(';') {
        match part.split_once('=')? {
            ("seed", v) => seed = v.parse().ok(),
            ("size", v) => size = OrgSize::parse(v),
            ("end", v) => end = v.parse().ok(),
            _ => return None,
        }
    }
    Some((seed?, size?, end?))
}

/// One page of rows of one table (or of a table and the rows it owns).
enum Batch<'r> {
    Repositories(&'r [Repository]),
    Commits(&'r [Commit], Vec<CommitPullRequest>),
    PullRequests(&'r [PullRequest]),
    Reviews(&'r [Review]),
    Comments(&'r [Comment]),
    Deployments(&'r [Deployment]),
    Releases(&'r [Release]),
    Boards(&'r [Board]),
    Sprints(&'r [Sprint]),
    Issues(&'r [Issue]),
    Memberships(Vec<String>, &'r [SprintMembership]),
    Commitments(&'r [(i64, Vec<CommitmentItem>)]),
    Completions(&'r [(i64, Vec<CompletionItem>)]),
    Worklogs(&'r [Worklog]),
}

impl Batch<'_> {
    fn rows(&self) -> u64 {
        (match self {
            Batch::Repositories(r) => r.len(),
            Batch::Commits(c, l) => c.len() + l.len(),
            Batch::PullRequests(r) => r.len(),
            Batch::Reviews(r) => r.len(),
            Batch::Comments(r) => r.len(),
            Batch::Deployments(r) => r.len(),
            Batch::Releases(r) => r.len(),
            Batch::Boards(r) => r.len(),
            Batch::Sprints(r) => r.len(),
            Batch::Issues(r) => r.len(),
            Batch::Memberships(_, r) => r.len(),
            Batch::Commitments(r) => r.iter().map(|(_, items)| items.len()).sum(),
            Batch::Completions(r) => r.iter().map(|(_, items)| items.len()).sum(),
            Batch::Worklogs(r) => r.len(),
        }) as u64
    }
}

/// Writes batches and reports the progress.
struct Writer<'m, 'p> {
    metrics: &'m Metrics<'m>,
    report: SeedReport,
    done: u64,
    total: u64,
    progress: &'p mut (dyn FnMut(SeedProgress<'_>) + Send),
}

impl Writer<'_, '_> {
    async fn write(&mut self, source: &SourceId, step: &str, batch: Batch<'_>) -> Result<(), MetricsError> {
        if batch.rows() == 0 {
            return Ok(());
        }
        let db = self.metrics.db;
        let mut tx = db.begin().await?;
        let mut page = Page::open(db, &mut tx, source).await?;
        let written: Vec<(&'static str, Counts)> = match &batch {
            Batch::Repositories(r) => vec![("repositories", page.repositories(r).await?)],
            Batch::Commits(c, links) => {
                let keys: Vec<(String, String)> = c.iter().map(|c| (c.repository_id.clone(), c.sha.clone())).collect();
                vec![
                    ("commits", page.commits(c).await?),
                    ("commit_pull_requests", page.commit_pull_requests(&keys, links).await?),
                ]
            }
            Batch::PullRequests(r) => vec![("pull_requests", page.pull_requests(r).await?)],
            Batch::Reviews(r) => vec![("reviews", page.reviews(r).await?)],
            Batch::Comments(r) => vec![("comments", page.comments(r).await?)],
            Batch::Deployments(r) => vec![("deployments", page.deployments(r).await?)],
            Batch::Releases(r) => vec![("releases", page.releases(r).await?)],
            Batch::Boards(r) => vec![("boards", page.boards(r).await?)],
            Batch::Sprints(r) => vec![("sprints", page.sprints(r).await?)],
            Batch::Issues(r) => vec![("issues", page.issues(r).await?)],
            Batch::Memberships(issues, r) => vec![("sprint_issues", page.sprint_memberships(issues, r).await?)],
            Batch::Commitments(r) => {
                let mut counts = Counts::default();
                for (sprint, items) in r.iter() {
                    if page.commitment(*sprint, items).await? {
                        counts.new += items.len() as u64;
                    } else {
                        counts.unchanged += items.len() as u64;
                    }
                }
                vec![("sprint_commitments", counts)]
            }
            Batch::Completions(r) => {
                let mut counts = Counts::default();
                for (sprint, items) in r.iter() {
                    if page.completion(*sprint, items).await? {
                        counts.new += items.len() as u64;
                    } else {
                        counts.unchanged += items.len() as u64;
                    }
                }
                vec![("sprint_completions", counts)]
            }
            Batch::Worklogs(r) => vec![("worklogs", page.worklogs(r).await?)],
        };
        drop(page);
        tx.commit().await?;
        for (table, counts) in written {
            self.report.counts.entry(table).or_default().add(counts);
        }
        self.done += batch.rows();
        (self.progress)(SeedProgress { step, done: self.done, total: self.total });
        Ok(())
    }

    /// Writes `rows` a page at a time.
    async fn pages<'r, T>(
        &mut self,
        source: &SourceId,
        step: &str,
        rows: &'r [T],
        batch: impl Fn(&'r [T]) -> Batch<'r>,
    ) -> Result<(), MetricsError> {
        for chunk in rows.chunks(PAGE_ROWS) {
            self.write(source, step, batch(chunk)).await?;
        }
        Ok(())
    }
}

/// Stores a demo source: no upstream, no token.
async fn insert_demo(
    conn: &mut cairn_store::sqlx::AnyConnection,
    kind: SourceKind,
    name: &str,
    by: &str,
    now: i64,
) -> Result<Source, MetricsError> {
    let new = NewSource {
        kind,
        name: name.to_owned(),
        base_url: None,
        graphql_url: None,
        url: None,
        branch: None,
        organization: (kind == SourceKind::Github).then(|| ORGANIZATION.to_owned()),
        repositories: Vec::new(),
        boards: Vec::new(),
        email: None,
        story_points_field: None,
        token: None,
    };
    Ok(sources::insert(conn, &SourceId::new().to_string(), (&new, true), None, by, now).await?)
}

impl Metrics<'_> {
    /// Writes the demo organization of `seed` and `size` into the tenant: its teams (each
    /// person's membership over time), two demo sources (`Demo GitHub`, `Demo Jira`) that no
    /// collector reads, and every row the collectors would have stored from its history,
    /// page by page with the rollups. The audit entry `metrics.demo_seeded` is written with
    /// the demo sources (or, when they exist, on its own) before any row.
    ///
    /// Seeding again changes nothing: the organization's history ends where the first seed
    /// ended it (its midnight, UTC), and rows equal to the stored ones are left as they are.
    /// Refused, before anything is written, when the tenant has sources of its own (demo
    /// data would mix with collected data) or demo data of another seed or size.
    pub async fn seed_demo(
        &self,
        seed: u64,
        size: OrgSize,
        actor: &Actor,
        meta: &RequestMeta,
        progress: &mut (dyn FnMut(SeedProgress<'_>) + Send),
    ) -> Result<SeedReport, MetricsError> {
        let all = self.sources().await?;
        if let Some(own) = all.iter().find(|s| !s.demo) {
            return Err(MetricsError::Conflict(format!(
                "the tenant collects from its own sources ({}); demo data goes only into a tenant without any",
                own.name
            )));
        }
        if all.iter().any(|s| s.deleting) {
            return Err(MetricsError::Conflict(
                "the demo sources are being deleted; seed again once they are gone".into(),
            ));
        }
        let github = all.iter().find(|s| s.kind == SourceKind::Github).cloned();
        let jira = all.iter().find(|s| s.kind == SourceKind::Jira).cloned();
        let end = match &github {
            Some(g) => {
                let id = SourceId::parse(&g.id, "source")?;
                let stored = self.source_cursor(&id, PLAN_CURSOR).await?;
                match stored.as_deref().and_then(parse_plan) {
                    Some((s, z, end)) if s == seed && z == size => end,
                    Some((s, z, _)) => {
                        return Err(MetricsError::Conflict(format!(
                            "the tenant holds the demo organization of seed {s} and size {}; delete the demo sources \
                             to seed another",
                            z.as_str()
                        )));
                    }
                    None => today_midnight(),
                }
            }
            None => today_midnight(),
        };
        let (github, jira, sources_created) = self.demo_sources(github, jira, (seed, size, end), actor, meta).await?;
        let github = SourceId::parse(&github.id, "source")?;
        let jira = SourceId::parse(&jira.id, "source")?;

        let start = end - size.days() * DAY;
        let (people, teams) = plan::organization_people(seed, size);
        let teams_created = self.demo_teams(seed, size, (start, end), actor, meta).await?;

        let repositories = plan::repositories(seed, size, end);
        let jira_rows = JiraRows::of(&plan::jira(seed, size, end), &people, &teams);
        let github_total: u64 =
            repositories.iter().enumerate().map(|(i, r)| RepoRows::of(i, r, &people).len()).sum::<u64>();
        let mut w = Writer {
            metrics: self,
            report: SeedReport { end, teams_created, sources_created, counts: BTreeMap::new() },
            done: 0,
            total: github_total + jira_rows.len(),
            progress,
        };
        (w.progress)(SeedProgress { step: "plan", done: 0, total: w.total });

        for (i, plan) in repositories.iter().enumerate() {
            let rows = RepoRows::of(i, plan, &people);
            let step = plan.full_name.as_str();
            let repository: Vec<Repository> = rows.repository.iter().cloned().collect();
            w.write(&github, step, Batch::Repositories(&repository)).await?;
            for chunk in rows.commits.chunks(PAGE_ROWS) {
                let shas: std::collections::HashSet<&str> = chunk.iter().map(|c| c.sha.as_str()).collect();
                let links = rows.links.iter().filter(|l| shas.contains(l.sha.as_str())).cloned().collect();
                w.write(&github, step, Batch::Commits(chunk, links)).await?;
            }
            w.pages(&github, step, &rows.pulls, Batch::PullRequests).await?;
            w.pages(&github, step, &rows.reviews, Batch::Reviews).await?;
            w.pages(&github, step, &rows.comments, Batch::Comments).await?;
            w.pages(&github, step, &rows.deployments, Batch::Deployments).await?;
            w.pages(&github, step, &rows.releases, Batch::Releases).await?;
        }

        let j = &jira_rows;
        w.pages(&jira, "boards", &j.boards, Batch::Boards).await?;
        w.pages(&jira, "sprints", &j.sprints, Batch::Sprints).await?;
        w.pages(&jira, "issues", &j.issues, Batch::Issues).await?;
        let mut by_issue: BTreeMap<&str, Vec<SprintMembership>> = BTreeMap::new();
        for m in &j.memberships {
            by_issue.entry(m.issue_id.as_str()).or_default().push(m.clone());
        }
        for chunk in j.issues.chunks(PAGE_ROWS / 2) {
            let ids: Vec<String> = chunk.iter().map(|i| i.id.clone()).collect();
            let rows: Vec<SprintMembership> =
                ids.iter().flat_map(|id| by_issue.get(id.as_str()).into_iter().flatten().cloned()).collect();
            w.write(&jira, "sprint memberships", Batch::Memberships(ids, &rows)).await?;
        }
        for chunk in j.commitments.chunks(SNAPSHOTS_PER_PAGE) {
            w.write(&jira, "commitments", Batch::Commitments(chunk)).await?;
        }
        for chunk in j.completions.chunks(SNAPSHOTS_PER_PAGE) {
            w.write(&jira, "completions", Batch::Completions(chunk)).await?;
        }
        w.pages(&jira, "worklogs", &j.worklogs, Batch::Worklogs).await?;
        // Many rows were written: the planner's statistics are refreshed.
        self.db.optimize().await?;
        Ok(w.report)
    }

    /// The demo sources, created when missing, with the seed's audit entry.
    async fn demo_sources(
        &self,
        github: Option<Source>,
        jira: Option<Source>,
        (seed, size, end): (u64, OrgSize, i64),
        actor: &Actor,
        meta: &RequestMeta,
    ) -> Result<(Source, Source, bool), MetricsError> {
        let now = now_ms();
        let mut tx = self.db.begin().await?;
        let created = github.is_none() || jira.is_none();
        let github = match github {
            Some(s) => s,
            None => insert_demo(&mut tx, SourceKind::Github, DEMO_GITHUB, &actor.id, now).await?,
        };
        let jira = match jira {
            Some(s) => s,
            None => insert_demo(&mut tx, SourceKind::Jira, DEMO_JIRA, &actor.id, now).await?,
        };
        let id = SourceId::parse(&github.id, "source")?;
        sources::set_cursor(&mut tx, &id, PLAN_CURSOR, &plan_text(seed, size, end)).await?;
        let entry = NewEntry::new(actor.clone(), Action::fixed("metrics.demo_seeded"), Outcome::Success, meta.clone())
            .resource("metrics_source", &github.id)
            .details(json!({
                "seed": seed,
                "size": size.as_str(),
                "end": cairn_domain::rfc3339(end),
                "sources": [github.id, jira.id],
                "sources_created": created,
            }));
        AuditService::record(self.db, &mut tx, entry).await?;
        tx.commit().await?;
        Ok((github, jira, created))
    }

    /// The organization's teams, each with its members over time; a team whose name exists
    /// is left as it is. How many were created.
    async fn demo_teams(
        &self,
        seed: u64,
        size: OrgSize,
        (start, end): (i64, i64),
        actor: &Actor,
        meta: &RequestMeta,
    ) -> Result<usize, MetricsError> {
        let (people, teams) = plan::organization_people(seed, size);
        let stints = plan::stints(seed, size, start, end);
        let zone = self.settings().await?.time_zone.zone().clone();
        let mut existing = Vec::new();
        let mut after = None;
        loop {
            let page = self.teams(500, after.as_ref()).await?;
            existing.extend(page.items.into_iter().map(|t| t.name.to_lowercase()));
            match page.next_cursor {
                Some(c) => after = Some(crate::TeamId::parse(&c, "cursor")?),
                None => break,
            }
        }
        let mut created = 0;
        for (t, team) in teams.iter().enumerate() {
            if existing.contains(&team.name.to_lowercase()) {
                continue;
            }
            let members = people
                .iter()
                .zip(&stints)
                .flat_map(|(p, stints)| stints.iter().filter(move |s| s.team == t).map(move |s| (p, s)))
                .map(|(p, s)| MemberDraft {
                    name: p.name.clone(),
                    email: p.email.clone(),
                    other_emails: vec![p.laptop_email()],
                    github_login: Some(p.github_login.clone()),
                    jira_account_id: Some(p.jira_account_id.clone()),
                    from: zone.day(s.from).to_string(),
                    to: s.to.map(|to| zone.day(to).to_string()),
                })
                .collect();
            let draft = TeamDraft { name: team.name.clone(), board: Some(team.board_id as i64), members };
            self.create_team(&draft, actor, meta).await?;
            created += 1;
        }
        Ok(created)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seeded_plan_reads_back() {
        let text = plan_text(2026, OrgSize::Bench, 1_767_225_600_000);
        assert_eq!(parse_plan(&text), Some((2026, OrgSize::Bench, 1_767_225_600_000)));
        assert_eq!(parse_plan("seed=1;size=huge;end=0"), None);
    }
}
