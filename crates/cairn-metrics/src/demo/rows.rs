//! The plan as Cairn stores it: the rows the GitHub and Jira collectors would write after
//! reading the planned organization's whole history (the same tables, the same rules —
//! default-branch commits only, links to merged pull requests, memberships and commitments
//! from the Sprint field's history, time spent as the sum of the worklogs).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::plan::{
    BOT_LOGIN, Category, CommentPlace, CommitAuthor, IssueKind, JiraOp, MAIN, OrgPerson, OrgTeam, RepoPlan, STATUSES,
};
use crate::collected::{
    Board, Comment, CommentKind, Commit, CommitPullRequest, CommitmentItem, CompletionItem, Deployment, Issue, PrState,
    PullRequest, Release, Repository, Review, Sprint, SprintMembership, SprintState, StatusCategory, Worklog,
    sprint_intervals,
};

/// The GitHub address of the bot's commits, as GitHub gives a bot account (its user id is
/// the next after the organization's people and the collecting account's).
pub fn bot_email(people: usize) -> String {
    format!("{}+{}@users.noreply.github.com", 1002 + people, BOT_LOGIN)
}

/// One repository's rows.
#[derive(Debug, Clone, Default)]
pub struct RepoRows {
    pub repository: Option<Repository>,
    pub commits: Vec<Commit>,
    pub links: Vec<CommitPullRequest>,
    pub pulls: Vec<PullRequest>,
    pub reviews: Vec<Review>,
    pub comments: Vec<Comment>,
    pub deployments: Vec<Deployment>,
    pub releases: Vec<Release>,
}

impl RepoRows {
    /// The rows of repository number `index`.
    pub fn of(index: usize, r: &RepoPlan, people: &[OrgPerson]) -> RepoRows {
        let repo_id = format!("demo-repository-{index:03}");
        let login = |p: usize| Some(people[p].github_login.clone());
        let on_main = r.on_main();
        let commits = r
            .commits
            .iter()
            .zip(&on_main)
            .filter(|(_, on)| **on)
            .map(|(c, _)| {
                let (author_login, author_email) = match c.author {
                    CommitAuthor::Person(p) => (login(p), people[p].email.to_lowercase()),
                    CommitAuthor::Laptop(p) => (None, people[p].laptop_email()),
                    // GitHub's commit author is a user: a bot's commits carry its address only.
                    CommitAuthor::Bot => (None, bot_email(people.len())),
                };
                Commit {
                    repository_id: repo_id.clone(),
                    sha: c.sha_hex(),
                    author_login,
                    author_email: Some(author_email),
                    authored_at: c.authored,
                    additions: i64::from(c.additions),
                    deletions: i64::from(c.deletions),
                    changed_files: i64::from(c.changed_files.unwrap_or(0)),
                    parent_count: i64::from(c.n_parents),
                    on_default_branch: true,
                }
            })
            .collect();
        let mut rows = RepoRows {
            repository: Some(Repository {
                id: repo_id.clone(),
                full_name: r.full_name.clone(),
                default_branch: Some(MAIN.to_owned()),
                archived: false,
            }),
            commits,
            ..RepoRows::default()
        };
        for p in &r.pulls {
            let number = p.number as i64;
            if p.merged.is_some() {
                // What the default branch reaches of a merged pull request is associated with it.
                for &c in p.commits.iter().chain(&p.merge_commit) {
                    let sha = r.commits[c as usize].sha_hex();
                    rows.links.push(CommitPullRequest { repository_id: repo_id.clone(), sha, pr_number: number });
                }
            }
            let (additions, deletions) = p
                .commits
                .iter()
                .map(|&c| &r.commits[c as usize])
                .filter(|c| c.n_parents <= 1)
                .fold((0, 0), |(a, d), c| (a + i64::from(c.additions), d + i64::from(c.deletions)));
            let state = match (p.merged, p.closed) {
                (Some(_), _) => PrState::Merged,
                (None, Some(_)) => PrState::Closed,
                (None, None) => PrState::Open,
            };
            rows.pulls.push(PullRequest {
                repository_id: repo_id.clone(),
                number,
                author_login: login(p.author),
                state,
                created_at: p.created,
                merged_at: p.merged,
                closed_at: p.closed,
                first_review_at: (p.review.reviewer != p.author).then_some(p.review.at),
                additions,
                deletions,
                merge_commit_sha: p.merge_commit.map(|c| r.commits[c as usize].sha_hex()),
                updated_at: p.updated,
            });
            rows.reviews.push(Review {
                id: format!("review-{index}-{number}"),
                repository_id: repo_id.clone(),
                pr_number: number,
                author_login: login(p.review.reviewer),
                state: if p.review.approved { "APPROVED" } else { "COMMENTED" }.to_owned(),
                submitted_at: p.review.at,
            });
            for (k, c) in p.comments.iter().enumerate() {
                rows.comments.push(Comment {
                    kind: match c.place {
                        CommentPlace::Diff => CommentKind::Review,
                        CommentPlace::Conversation => CommentKind::Conversation,
                    },
                    id: format!("comment-{index}-{number}-{k}"),
                    repository_id: repo_id.clone(),
                    pr_number: number,
                    author_login: login(c.author),
                    pr_author_login: login(p.author),
                    created_at: c.at,
                    updated_at: c.at,
                });
            }
            if let Some(d) = &p.deployment {
                rows.deployments.push(Deployment {
                    id: format!("deployment-{index}-{number}"),
                    repository_id: repo_id.clone(),
                    environment: "production".to_owned(),
                    sha: r.commits[d.commit as usize].sha_hex(),
                    git_ref: Some(MAIN.to_owned()),
                    created_at: d.at,
                    status: Some(d.status.to_lowercase()),
                    status_at: Some(d.status_at),
                });
            }
        }
        for (n, rel) in r.releases.iter().enumerate() {
            rows.releases.push(Release {
                id: format!("release-{index}-{n}"),
                repository_id: repo_id.clone(),
                tag_name: rel.tag.clone(),
                name: Some(rel.tag.clone()),
                created_at: rel.at,
                published_at: Some(rel.at),
                draft: false,
                prerelease: false,
            });
        }
        rows
    }

    /// How many rows it holds.
    pub fn len(&self) -> u64 {
        (usize::from(self.repository.is_some())
            + self.commits.len()
            + self.links.len()
            + self.pulls.len()
            + self.reviews.len()
            + self.comments.len()
            + self.deployments.len()
            + self.releases.len()) as u64
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The Jira site's rows.
#[derive(Debug, Clone, Default)]
pub struct JiraRows {
    pub boards: Vec<Board>,
    pub sprints: Vec<Sprint>,
    pub issues: Vec<Issue>,
    /// Every issue's intervals in sprints, by issue.
    pub memberships: Vec<SprintMembership>,
    /// Each started sprint's commitment: the issues in it at its start, their points then.
    pub commitments: Vec<(i64, Vec<CommitmentItem>)>,
    /// Each closed sprint's completion: the issues in it when it was completed, their points
    /// then and whether they were done.
    pub completions: Vec<(i64, Vec<CompletionItem>)>,
    pub worklogs: Vec<Worklog>,
}

/// A change of a field: when, in which order, the value it replaced.
#[derive(Debug, Clone)]
struct Change<T> {
    at: i64,
    order: usize,
    from: T,
}

/// The value at `t`: `current` with every change after `t` undone, newest first.
fn value_at<T: Clone>(current: &T, changes: &[Change<T>], t: i64) -> T {
    let mut value = current.clone();
    for c in changes.iter().rev().take_while(|c| c.at > t) {
        value = c.from.clone();
    }
    value
}

/// An issue while the site's history is replayed.
#[derive(Debug, Clone)]
struct Replayed {
    row: Issue,
    sprints: BTreeSet<i64>,
    sprint_changes: Vec<Change<BTreeSet<i64>>>,
    points_changes: Vec<Change<Option<f64>>>,
    /// Changes of whether the status was in the done category.
    done_changes: Vec<Change<bool>>,
    spent: i64,
}

impl JiraRows {
    /// Replays the site's history: every issue as it is at the end, its sprint intervals,
    /// the commitments of the sprints that started and the completions of those closed,
    /// every worklog.
    pub fn of(ops: &[JiraOp], people: &[OrgPerson], teams: &[OrgTeam]) -> JiraRows {
        let mut rows = JiraRows {
            boards: teams
                .iter()
                .map(|t| Board {
                    id: t.board_id as i64,
                    name: format!("{} board", t.name),
                    kind: "scrum".to_owned(),
                    project_key: Some(t.project_key.clone()),
                })
                .collect(),
            ..JiraRows::default()
        };
        let mut issues: Vec<Replayed> = Vec::new();
        let mut numbers: HashMap<usize, u64> = HashMap::new();
        let mut started: Vec<(i64, i64)> = Vec::new();
        let mut closed: Vec<(i64, i64)> = Vec::new();
        for (order, op) in ops.iter().enumerate() {
            match op {
                JiraOp::Sprint { team, name, start, end } => rows.sprints.push(Sprint {
                    id: rows.sprints.len() as i64 + 1,
                    board_id: teams[*team].board_id as i64,
                    name: name.clone(),
                    state: SprintState::Future,
                    start_at: Some(*start),
                    end_at: Some(*end),
                    complete_at: None,
                }),
                JiraOp::StartSprint { sprint, at } => {
                    let s = &mut rows.sprints[*sprint as usize - 1];
                    s.state = SprintState::Active;
                    s.start_at = Some(*at);
                    started.push((*sprint as i64, *at));
                }
                JiraOp::CloseSprint { sprint, at } => {
                    let s = &mut rows.sprints[*sprint as usize - 1];
                    s.state = SprintState::Closed;
                    s.complete_at = Some(*at);
                    closed.push((*sprint as i64, *at));
                }
                JiraOp::Issue(p) => {
                    let n = numbers.entry(p.team).or_default();
                    *n += 1;
                    let (name, category) = STATUSES[0];
                    issues.push(Replayed {
                        row: Issue {
                            id: issue_id(issues.len()),
                            key: format!("{}-{n}", teams[p.team].project_key),
                            project_key: teams[p.team].project_key.clone(),
                            issue_type: p.kind.name().to_owned(),
                            is_subtask: p.kind == IssueKind::SubTask,
                            status: name.to_owned(),
                            status_category: category_of(category),
                            created_at: p.created,
                            resolved_at: None,
                            points: p.points,
                            original_estimate_seconds: p.estimate,
                            time_spent_seconds: None,
                            assignee_account_id: Some(people[p.assignee].jira_account_id.clone()),
                            parent_id: p.parent.map(issue_id),
                            updated_at: p.created,
                            labels: p.labels.clone(),
                        },
                        sprints: p.sprints.iter().map(|s| *s as i64).collect(),
                        sprint_changes: Vec::new(),
                        points_changes: Vec::new(),
                        done_changes: Vec::new(),
                        spent: 0,
                    });
                }
                JiraOp::Sprints { issue, to, at, .. } => {
                    let i = &mut issues[*issue];
                    let to: BTreeSet<i64> = to.iter().map(|s| *s as i64).collect();
                    let from = std::mem::replace(&mut i.sprints, to);
                    i.sprint_changes.push(Change { at: *at, order, from });
                    i.row.updated_at = i.row.updated_at.max(*at);
                }
                JiraOp::Status { issue, to, at, .. } => {
                    let i = &mut issues[*issue];
                    let (name, category) = STATUSES[*to];
                    let was_done = i.row.status_category == StatusCategory::Done;
                    i.done_changes.push(Change { at: *at, order, from: was_done });
                    i.row.status = name.to_owned();
                    i.row.status_category = category_of(category);
                    match (was_done, category == Category::Done) {
                        (false, true) => i.row.resolved_at = Some(*at),
                        (true, false) => i.row.resolved_at = None,
                        _ => {}
                    }
                    i.row.updated_at = i.row.updated_at.max(*at);
                }
                JiraOp::Points { issue, to, at, .. } => {
                    let i = &mut issues[*issue];
                    let from = std::mem::replace(&mut i.row.points, *to);
                    i.points_changes.push(Change { at: *at, order, from });
                    i.row.updated_at = i.row.updated_at.max(*at);
                }
                JiraOp::Worklog { issue, author, started, seconds, logged } => {
                    let i = &mut issues[*issue];
                    i.spent += seconds;
                    i.row.updated_at = i.row.updated_at.max(*logged);
                    rows.worklogs.push(Worklog {
                        id: (1_000_000 + rows.worklogs.len()).to_string(),
                        issue_id: i.row.id.clone(),
                        author_account_id: Some(people[*author].jira_account_id.clone()),
                        started_at: *started,
                        seconds: *seconds,
                        updated_at: *logged,
                    });
                }
            }
        }
        let mut ever_in: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
        for (n, i) in issues.iter_mut().enumerate() {
            i.row.time_spent_seconds = (i.spent > 0).then_some(i.spent);
            i.sprint_changes.sort_by_key(|c| (c.at, c.order));
            i.points_changes.sort_by_key(|c| (c.at, c.order));
            i.done_changes.sort_by_key(|c| (c.at, c.order));
            let replaced: Vec<(i64, BTreeSet<i64>)> = i.sprint_changes.iter().map(|c| (c.at, c.from.clone())).collect();
            let intervals = sprint_intervals(&i.row.id, i.row.created_at, &i.sprints, &replaced);
            for s in intervals.iter().map(|m| m.sprint_id).collect::<BTreeSet<_>>() {
                ever_in.entry(s).or_default().push(n);
            }
            rows.memberships.extend(intervals);
        }
        // The issues in `sprint` at `t`, as the Sprint field's history says.
        let in_sprint_at =
            |sprint: i64, t: i64| {
                ever_in.get(&sprint).into_iter().flatten().map(|&n| &issues[n]).filter(move |i| {
                    i.row.created_at <= t && value_at(&i.sprints, &i.sprint_changes, t).contains(&sprint)
                })
            };
        let points_at =
            |i: &Replayed, t: i64| if i.row.is_subtask { None } else { value_at(&i.row.points, &i.points_changes, t) };
        for (sprint, start) in started {
            let items = in_sprint_at(sprint, start)
                .map(|i| CommitmentItem { issue_id: i.row.id.clone(), points: points_at(i, start) })
                .collect();
            rows.commitments.push((sprint, items));
        }
        for (sprint, close) in closed {
            let items = in_sprint_at(sprint, close)
                .map(|i| CompletionItem {
                    issue_id: i.row.id.clone(),
                    points: points_at(i, close),
                    done: value_at(&(i.row.status_category == StatusCategory::Done), &i.done_changes, close),
                })
                .collect();
            rows.completions.push((sprint, items));
        }
        rows.issues = issues.into_iter().map(|i| i.row).collect();
        rows
    }

    /// How many rows it holds (a commitment or a completion counts its issues).
    pub fn len(&self) -> u64 {
        (self.boards.len()
            + self.sprints.len()
            + self.issues.len()
            + self.memberships.len()
            + self.commitments.iter().map(|(_, items)| items.len()).sum::<usize>()
            + self.completions.iter().map(|(_, items)| items.len()).sum::<usize>()
            + self.worklogs.len()) as u64
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn issue_id(index: usize) -> String {
    (100_000 + index).to_string()
}

fn category_of(c: Category) -> StatusCategory {
    match c {
        Category::ToDo => StatusCategory::New,
        Category::InProgress => StatusCategory::Indeterminate,
        Category::Done => StatusCategory::Done,
    }
}
