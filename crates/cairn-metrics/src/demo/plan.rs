//! The organization's plan: who works there, in which teams, and everything they did over
//! the years — commits, pull requests with reviews and comments, deployments, releases,
//! sprints, issues moving through the workflow, worklogs — drawn from one seed.
//!
//! The plan says what happened, not how any service would serve it: [`super::rows`] turns
//! it into Cairn's collected rows, and the test kit's fixture servers build the GitHub and
//! Jira worlds they serve from the same plan, so both describe the same organization.
//! The Jira side is an ordered list of operations ([`JiraOp`]), as a site records them.

use sha2::{Digest, Sha256};

use super::{OrgSize, Rng};

pub const DAY: i64 = 86_400_000;
pub const HOUR: i64 = 3_600_000;
/// The GitHub organization every repository belongs to.
pub const ORGANIZATION: &str = "acme";
/// The bot whose commits land on default branches (dependency updates).
pub const BOT_LOGIN: &str = "renovate[bot]";
/// The default branch of every repository.
pub const MAIN: &str = "main";

#[derive(Debug, Clone, Copy)]
pub(crate) struct Shape {
    pub(crate) engineers: usize,
    pub(crate) teams: usize,
    pub(crate) repos: usize,
    pub(crate) days: i64,
    commits_per_year: f64,
    pulls_per_year: f64,
    issues_per_year: f64,
    worklogs_per_year: f64,
}

impl OrgSize {
    pub(crate) fn shape(self) -> Shape {
        match self {
            OrgSize::Small => Shape {
                engineers: 8,
                teams: 2,
                repos: 4,
                days: 120,
                commits_per_year: 6_000.0,
                pulls_per_year: 600.0,
                issues_per_year: 450.0,
                worklogs_per_year: 3_900.0,
            },
            OrgSize::Bench => Shape {
                engineers: 200,
                teams: 25,
                repos: 300,
                days: 3 * 365,
                commits_per_year: 200_000.0,
                pulls_per_year: 20_000.0,
                issues_per_year: 15_000.0,
                worklogs_per_year: 130_000.0,
            },
        }
    }

    /// How many days the organization's history spans, ending at its end.
    pub fn days(self) -> i64 {
        self.shape().days
    }
}

/// One engineer, as GitHub, Jira and Cairn's teams know them. `team` is the team whose
/// repositories and board the engineer works on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgPerson {
    pub name: String,
    pub email: String,
    pub github_login: String,
    pub jira_account_id: String,
    pub team: usize,
}

impl OrgPerson {
    /// The address on the engineer's laptop, which GitHub links to no account.
    pub fn laptop_email(&self) -> String {
        format!("{}@laptop.local", self.github_login)
    }
}

/// A team: its name, its Jira project key and board id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgTeam {
    pub name: String,
    pub project_key: String,
    pub board_id: u64,
}

const FIRST: [&str; 20] = [
    "Alice", "Boris", "Chen", "Dana", "Emil", "Fatima", "Goran", "Hana", "Ivan", "Jana", "Karel", "Lena", "Marek",
    "Nina", "Oto", "Petra", "Quinn", "Rita", "Samo", "Tereza",
];
const LAST: [&str; 10] = ["Novak", "Horvat", "Kovac", "Szabo", "Meyer", "Rossi", "Silva", "Berg", "Dvorak", "Lind"];
const TEAM: [&str; 25] = [
    "Platform",
    "Payments",
    "Search",
    "Mobile",
    "Identity",
    "Data",
    "Growth",
    "Billing",
    "Infra",
    "Checkout",
    "Catalog",
    "Insights",
    "Messaging",
    "Security",
    "Tooling",
    "Partners",
    "Support",
    "Ledger",
    "Maps",
    "Media",
    "Orders",
    "Pricing",
    "Risk",
    "Sync",
    "Web",
];

/// The organization's people and teams for `seed` and `size`.
pub fn organization_people(seed: u64, size: OrgSize) -> (Vec<OrgPerson>, Vec<OrgTeam>) {
    let shape = size.shape();
    let mut rng = Rng::new(seed);
    let teams: Vec<OrgTeam> = (0..shape.teams)
        .map(|t| {
            let name = TEAM[t % TEAM.len()].to_owned()
                + &if t >= TEAM.len() { format!(" {}", t / TEAM.len() + 1) } else { String::new() };
            let key: String =
                name.chars().filter(char::is_ascii_alphabetic).take(4).collect::<String>().to_ascii_uppercase()
                    + &if t >= TEAM.len() { (t / TEAM.len()).to_string() } else { String::new() };
            OrgTeam { name, project_key: key, board_id: t as u64 + 1 }
        })
        .collect();
    let people = (0..shape.engineers)
        .map(|i| {
            let first = FIRST[(i + rng.below(3) as usize) % FIRST.len()];
            let last = LAST[(i / FIRST.len() + i) % LAST.len()];
            let login = format!("{}{}{i}", first.to_ascii_lowercase(), &last[..1].to_ascii_lowercase());
            OrgPerson {
                name: format!("{first} {last}"),
                email: format!("{}.{}{i}@acme.test", first.to_ascii_lowercase(), last.to_ascii_lowercase()),
                github_login: login,
                jira_account_id: format!("5b10ac8d82e05b22cc7d{:04x}", i + 1),
                team: i % shape.teams,
            }
        })
        .collect();
    (people, teams)
}

/// A person's time in a team: `[from, to)` in epoch milliseconds, `to` `None` while it lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stint {
    pub team: usize,
    pub from: i64,
    pub to: Option<i64>,
}

/// Each person's teams over `[start, end)`: everyone starts in the team they work with; about
/// one in eight moved to another team once, on a day in the middle of the span (their work
/// counts for the team they were in when they did it).
pub fn stints(seed: u64, size: OrgSize, start: i64, end: i64) -> Vec<Vec<Stint>> {
    let (people, teams) = organization_people(seed, size);
    let mut rng = Rng::new(seed.wrapping_mul(977).wrapping_add(11));
    let span = (end - start).max(DAY);
    people
        .iter()
        .map(|p| {
            if teams.len() < 2 || !rng.chance(0.125) {
                return vec![Stint { team: p.team, from: start, to: None }];
            }
            let day = (span / DAY) / 4 + rng.below((span / DAY / 2).max(1) as u64) as i64;
            let moved = start + day * DAY;
            let to = (p.team + 1 + rng.below(teams.len() as u64 - 1) as usize) % teams.len();
            vec![Stint { team: p.team, from: start, to: Some(moved) }, Stint { team: to, from: moved, to: None }]
        })
        .collect()
}

/// Who authored a commit, as Git recorded it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitAuthor {
    /// The person's GitHub-linked address.
    Person(usize),
    /// The person's laptop address, which GitHub links to no account.
    Laptop(usize),
    /// The dependency bot.
    Bot,
}

#[derive(Debug, Clone)]
pub struct PlannedCommit {
    pub sha: [u8; 20],
    /// Indexes of the parents in the repository's commits.
    pub parents: [u32; 2],
    pub n_parents: u8,
    pub author: CommitAuthor,
    pub authored: i64,
    pub committed: i64,
    /// The author's UTC offset in minutes.
    pub offset: i16,
    pub additions: u32,
    pub deletions: u32,
    /// `None`: GitHub could not count the files.
    pub changed_files: Option<u32>,
}

impl PlannedCommit {
    pub fn parents(&self) -> &[u32] {
        &self.parents[..self.n_parents as usize]
    }

    pub fn sha_hex(&self) -> String {
        self.sha.iter().map(|b| format!("{b:02x}")).collect()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommentPlace {
    /// On the diff (a review comment), possibly a reply.
    Diff,
    /// On the conversation.
    Conversation,
}

#[derive(Debug, Clone)]
pub struct PlannedComment {
    pub place: CommentPlace,
    pub author: usize,
    pub at: i64,
    /// The index (among the pull request's comments) of the diff comment this one answers.
    pub reply_to: Option<usize>,
    pub path: String,
}

#[derive(Debug, Clone)]
pub struct PlannedReview {
    pub reviewer: usize,
    /// Approved (the pull request was merged), or only commented.
    pub approved: bool,
    pub at: i64,
}

#[derive(Debug, Clone)]
pub struct PlannedDeployment {
    /// The deployed commit: the default branch's head after the merge.
    pub commit: u32,
    pub author: usize,
    pub at: i64,
    /// Its latest status, in GitHub's words: `SUCCESS`, or `FAILURE` for one in ten
    /// (what delivery metrics count as a failed change), ten minutes after it started.
    pub status: &'static str,
    pub status_at: i64,
}

#[derive(Debug, Clone)]
pub struct PlannedPull {
    pub number: u64,
    pub author: usize,
    pub branch: String,
    /// Its commits, oldest first; the last is the head.
    pub commits: Vec<u32>,
    pub created: i64,
    pub updated: i64,
    pub closed: Option<i64>,
    pub merged: Option<i64>,
    pub merged_by: Option<usize>,
    pub merge_commit: Option<u32>,
    pub review: PlannedReview,
    pub comments: Vec<PlannedComment>,
    pub deployment: Option<PlannedDeployment>,
}

impl PlannedPull {
    pub fn head(&self) -> u32 {
        *self.commits.last().expect("a pull request has commits")
    }
}

#[derive(Debug, Clone)]
pub struct PlannedRelease {
    pub tag: String,
    pub author: usize,
    pub at: i64,
}

/// A repository and its history: a line of merges and direct commits on the default branch,
/// pull requests (the last one, and a few abandoned, left on their branches).
#[derive(Debug, Clone)]
pub struct RepoPlan {
    /// `acme/service-000`.
    pub full_name: String,
    pub team: usize,
    pub commits: Vec<PlannedCommit>,
    pub pulls: Vec<PlannedPull>,
    pub releases: Vec<PlannedRelease>,
    /// The default branch's head.
    pub main: Option<u32>,
}

impl RepoPlan {
    /// Indexes of the commits the default branch reaches.
    pub fn on_main(&self) -> Vec<bool> {
        let mut seen = vec![false; self.commits.len()];
        let mut stack: Vec<u32> = self.main.into_iter().collect();
        while let Some(c) = stack.pop() {
            if std::mem::replace(&mut seen[c as usize], true) {
                continue;
            }
            stack.extend(self.commits[c as usize].parents().iter().copied().filter(|p| !seen[*p as usize]));
        }
        seen
    }
}

/// The repositories of the organization ending at `end`.
pub fn repositories(seed: u64, size: OrgSize, end: i64) -> Vec<RepoPlan> {
    let shape = size.shape();
    let (people, _) = organization_people(seed, size);
    let start = end - shape.days * DAY;
    let years = shape.days as f64 / 365.0;
    let mut rng = Rng::new(seed.wrapping_mul(31).wrapping_add(7));
    // Repository weights: a few large repositories, a long tail.
    let weights: Vec<f64> = (0..shape.repos).map(|_| rng.skewed(1.0, 0.6)).collect();
    let total_w: f64 = weights.iter().sum();
    let mut shas = Shas { seed, n: 0 };
    weights
        .iter()
        .enumerate()
        .map(|(r, weight)| {
            let team = r % shape.teams;
            let members: Vec<usize> = (0..people.len()).filter(|&p| people[p].team == team).collect();
            let share = weight / total_w;
            let n_pulls = ((shape.pulls_per_year * years * share).round() as usize).max(1);
            let n_commits = ((shape.commits_per_year * years * share).round() as usize).max(n_pulls + 1);
            let mut repo_rng = Rng::new(seed ^ (r as u64).wrapping_mul(0x9E37_79B9));
            let mut repo = RepoPlan {
                full_name: format!("{ORGANIZATION}/service-{r:03}"),
                team,
                commits: Vec::new(),
                pulls: Vec::new(),
                releases: Vec::new(),
                main: None,
            };
            let plan = Budget { start, end, n_pulls, n_commits, members: &members, people: people.len() };
            build_repo(&mut repo, &mut repo_rng, &mut shas, plan);
            repo
        })
        .collect()
}

/// Commit ids: SHA-256 of the seed and the commit's number in the organization, cut to a
/// Git object id's 20 bytes.
struct Shas {
    seed: u64,
    n: u64,
}

impl Shas {
    fn next(&mut self) -> [u8; 20] {
        self.n += 1;
        let digest = Sha256::new().chain_update(self.seed.to_le_bytes()).chain_update(self.n.to_le_bytes()).finalize();
        let mut o = [0u8; 20];
        o.copy_from_slice(&digest[..20]);
        o
    }
}

struct Budget<'a> {
    start: i64,
    end: i64,
    n_pulls: usize,
    n_commits: usize,
    members: &'a [usize],
    /// How many people the organization has.
    people: usize,
}

fn push_commit(
    r: &mut RepoPlan,
    (shas, people): (&mut Shas, usize),
    parents: &[u32],
    author: CommitAuthor,
    at: i64,
    rng: &mut Rng,
) -> u32 {
    let sha = shas.next();
    let additions = rng.skewed(25.0, 1.1).round() as u32;
    let deletions = rng.skewed(8.0, 1.2).round() as u32;
    let files = Some(1 + rng.below(6) as u32).filter(|_| !rng.chance(0.002));
    let mut p = [0u32; 2];
    for (i, &x) in parents.iter().take(2).enumerate() {
        p[i] = x;
    }
    let idx = r.commits.len() as u32;
    // A third of the Git identities (people's, then laptops', then the bot's) write their
    // times an hour ahead of UTC.
    let identity = match author {
        CommitAuthor::Person(i) => i,
        CommitAuthor::Laptop(i) => people + i,
        CommitAuthor::Bot => 2 * people,
    };
    let offset = if identity.is_multiple_of(3) { 60 } else { 0 };
    r.commits.push(PlannedCommit {
        sha,
        parents: p,
        n_parents: parents.len().min(2) as u8,
        author,
        authored: at,
        committed: at + rng.below(3 * HOUR as u64) as i64,
        offset,
        additions,
        deletions,
        changed_files: files,
    });
    idx
}

fn build_repo(r: &mut RepoPlan, rng: &mut Rng, shas: &mut Shas, plan: Budget<'_>) {
    let span = (plan.end - plan.start).max(DAY);
    // Pull requests open at sorted random instants; each is merged before the next one opens
    // (or stays open at the end), so the default branch is a line of merges and direct commits.
    let mut opens: Vec<i64> = (0..plan.n_pulls).map(|_| plan.start + rng.below(span as u64) as i64).collect();
    opens.sort_unstable();
    // A tenth of the commits go straight to main; the rest come in pull requests, each merged
    // with a merge commit. The skewed draw's mean is about 1.09 times its median.
    let per_pull = ((plan.n_commits as f64 * 0.9 - plan.n_pulls as f64) / plan.n_pulls as f64 / 1.09).max(1.0);
    let direct_total = plan.n_commits / 10;
    let direct_per_gap = direct_total as f64 / plan.n_pulls as f64;
    let pick = |rng: &mut Rng| plan.members[rng.below(plan.members.len() as u64) as usize];
    let mut head: Option<u32> = None;
    let mut t = plan.start;
    let mut direct_carry = 0.0;
    for (k, &open) in opens.iter().enumerate() {
        let next_open = opens.get(k + 1).copied().unwrap_or(plan.end);
        // Direct commits on main before this pull request opens.
        direct_carry += direct_per_gap;
        while direct_carry >= 1.0 {
            direct_carry -= 1.0;
            let at = t + rng.below(((open - t).max(1)) as u64) as i64;
            let who = pick(rng);
            let author = if rng.chance(0.03) {
                CommitAuthor::Bot
            } else if rng.chance(0.05) {
                CommitAuthor::Laptop(who)
            } else {
                CommitAuthor::Person(who)
            };
            let parents: Vec<u32> = head.into_iter().collect();
            head = Some(push_commit(r, (shas, plan.people), &parents, author, at, rng));
            t = t.max(at);
        }
        let author = pick(rng);
        let n = (rng.skewed(per_pull, 0.5).round() as usize).clamp(1, 40);
        let gap = (next_open - open).max(HOUR);
        let merge_at = open + (gap as f64 * (0.3 + 0.6 * rng.unit())) as i64;
        let mut branch_head = head;
        let mut commits = Vec::with_capacity(n);
        for j in 0..n {
            let at = open + (merge_at - open) * j as i64 / (n as i64 + 1);
            let parents: Vec<u32> = branch_head.into_iter().collect();
            let c = push_commit(r, (shas, plan.people), &parents, CommitAuthor::Person(author), at, rng);
            commits.push(c);
            branch_head = Some(c);
        }
        let last = k + 1 == opens.len();
        let stays_open = last || merge_at > plan.end;
        let abandoned = !stays_open && rng.chance(0.05);
        let number = k as u64 + 1;
        let mut merge_commit = None;
        if !stays_open && !abandoned {
            let parents: Vec<u32> = head.into_iter().chain(branch_head).collect();
            let mc = push_commit(r, (shas, plan.people), &parents, CommitAuthor::Person(author), merge_at, rng);
            let m = &mut r.commits[mc as usize];
            m.additions = 0;
            m.deletions = 0;
            merge_commit = Some(mc);
            head = Some(mc);
            t = merge_at;
        }
        let closed = if stays_open { None } else { Some(merge_at) };
        let merged = merge_commit.map(|_| merge_at);
        // A review by a teammate, review comments (some replies) and conversation comments.
        let reviewer = plan.members.iter().copied().find(|&m| m != author).unwrap_or(author);
        let review_at = open + (merge_at - open) / 2;
        let n_comments = rng.skewed(5.0, 0.5).round() as usize;
        let mut comments = Vec::with_capacity(n_comments);
        let mut thread_root = None;
        for c in 0..n_comments {
            let at = open + (merge_at - open) * (c as i64 + 1) / (n_comments as i64 + 2);
            if c % 2 == 0 {
                let (user, reply) =
                    if c % 4 == 2 && thread_root.is_some() { (author, thread_root) } else { (reviewer, None) };
                if reply.is_none() {
                    thread_root = Some(c);
                }
                comments.push(PlannedComment {
                    place: CommentPlace::Diff,
                    author: user,
                    at,
                    reply_to: reply,
                    path: format!("src/module_{}.rs", c % 5),
                });
            } else {
                let user = if c % 3 == 0 { author } else { reviewer };
                comments.push(PlannedComment {
                    place: CommentPlace::Conversation,
                    author: user,
                    at,
                    reply_to: None,
                    path: String::new(),
                });
            }
        }
        let updated = [
            closed,
            Some(review_at),
            comments.iter().rev().find(|c| c.place == CommentPlace::Diff).map(|c| c.at),
            comments.iter().rev().find(|c| c.place == CommentPlace::Conversation).map(|c| c.at),
        ]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or(open);
        let deployment = (merged.is_some() && rng.chance(0.3)).then(|| PlannedDeployment {
            commit: head.expect("merged"),
            author,
            at: merge_at + HOUR,
            status: if number.is_multiple_of(10) { "FAILURE" } else { "SUCCESS" },
            status_at: merge_at + HOUR + 10 * 60_000,
        });
        r.pulls.push(PlannedPull {
            number,
            author,
            branch: format!("feature/{number}"),
            commits,
            created: open,
            updated: updated.min(plan.end.max(open)),
            closed,
            merged,
            merged_by: merged.map(|_| reviewer),
            merge_commit,
            review: PlannedReview { reviewer, approved: merged.is_some(), at: review_at },
            comments,
            deployment,
        });
    }
    r.main = head;
    // A release every four weeks.
    let mut at = plan.start + 28 * DAY;
    let mut n = 1;
    while at < plan.end {
        r.releases.push(PlannedRelease { tag: format!("v1.{n}.0"), author: plan.members[n % plan.members.len()], at });
        at += 28 * DAY;
        n += 1;
    }
}

// Jira --------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IssueKind {
    Story,
    Bug,
    Task,
    SubTask,
}

impl IssueKind {
    /// The issue type's name as Jira shows it.
    pub fn name(self) -> &'static str {
        match self {
            IssueKind::Story => "Story",
            IssueKind::Bug => "Bug",
            IssueKind::Task => "Task",
            IssueKind::SubTask => "Sub-task",
        }
    }
}

/// A status's category, as Jira groups every status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    ToDo,
    InProgress,
    Done,
}

/// The workflow: each status's name and category; issues start in the first.
pub const STATUSES: [(&str, Category); 4] = [
    ("To Do", Category::ToDo),
    ("In Progress", Category::InProgress),
    ("In Review", Category::InProgress),
    ("Done", Category::Done),
];

/// An issue as it is created.
#[derive(Debug, Clone)]
pub struct PlannedIssue {
    /// The team whose project it is in.
    pub team: usize,
    pub kind: IssueKind,
    pub summary: String,
    pub created: i64,
    pub assignee: usize,
    pub points: Option<f64>,
    /// Original estimate, in seconds.
    pub estimate: Option<i64>,
    /// A sub-task's story (an index into the created issues).
    pub parent: Option<usize>,
    /// The sprints it is created in (no change is recorded for these).
    pub sprints: Vec<u64>,
    /// Jira labels: a bug that is one of the sprint's items 0, 4, 8, … is an incident (about
    /// one bug in four).
    pub labels: Vec<String>,
}

/// Who made a change: a person, or the site's automation (the account that collects).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    Person(usize),
    Automation,
}

/// One thing that happened on the Jira site, in the order it happened there. Sprints and
/// issues are numbered by creation: sprint ids from 1, issues by their index.
#[derive(Debug, Clone)]
pub enum JiraOp {
    /// A future sprint of the team's board, with planned dates.
    Sprint {
        team: usize,
        name: String,
        start: i64,
        end: i64,
    },
    StartSprint {
        sprint: u64,
        at: i64,
    },
    CloseSprint {
        sprint: u64,
        at: i64,
    },
    Issue(PlannedIssue),
    /// The issue's Sprint field becomes `to`.
    Sprints {
        issue: usize,
        to: Vec<u64>,
        at: i64,
        by: Actor,
    },
    /// The issue moves to `STATUSES[to]`.
    Status {
        issue: usize,
        to: usize,
        at: i64,
        by: usize,
    },
    Points {
        issue: usize,
        to: Option<f64>,
        at: i64,
        by: usize,
    },
    /// Work logged on the issue at `logged` (maybe long after it was done).
    Worklog {
        issue: usize,
        author: usize,
        started: i64,
        seconds: i64,
        logged: i64,
    },
}

/// What the plan needs to know of an issue while it writes the site's history.
#[derive(Debug, Clone)]
struct IssueNow {
    kind: IssueKind,
    created: i64,
    status: usize,
    points: Option<f64>,
    sprints: Vec<u64>,
    assignee: usize,
}

/// Moves issue `i` to status `to` at `at` (nothing when it is there already).
fn status(ops: &mut Vec<JiraOp>, issues: &mut [IssueNow], i: usize, to: usize, at: i64) {
    if issues[i].status != to {
        issues[i].status = to;
        ops.push(JiraOp::Status { issue: i, to, at, by: issues[i].assignee });
    }
}

/// The Jira site of the organization ending at `end`: one project and scrum board per team,
/// two-week sprints (the current one active, one future), issues moving through the
/// workflow, points changed after the start, worklogs (some logged days late), unfinished
/// work carried over to the next sprint.
pub fn jira(seed: u64, size: OrgSize, end: i64) -> Vec<JiraOp> {
    let shape = size.shape();
    let (people, teams) = organization_people(seed, size);
    let start = end - shape.days * DAY;
    let sprint_len = 14 * DAY;
    let sprints_per_team = (shape.days * DAY / sprint_len).max(1) as usize + 1;
    let issues_per_sprint =
        shape.issues_per_year * (shape.days as f64 / 365.0) / (teams.len() * sprints_per_team) as f64;
    // Carried-over issues log work in every sprint they are in: the median per sprint is lower.
    let worklogs_per_issue = 0.65 * shape.worklogs_per_year / shape.issues_per_year;
    let mut rng = Rng::new(seed.wrapping_mul(131).wrapping_add(3));
    let mut ops = Vec::new();
    let mut issues: Vec<IssueNow> = Vec::new();
    let mut sprint_count = 0u64;
    let mut new_sprint = |ops: &mut Vec<JiraOp>, team: usize, name: String, start: i64, end: i64| {
        ops.push(JiraOp::Sprint { team, name, start, end });
        sprint_count += 1;
        sprint_count
    };
    for (ti, team) in teams.iter().enumerate() {
        let members: Vec<usize> = (0..people.len()).filter(|&p| people[p].team == ti).collect();
        let offset = (ti as i64 % 7) * DAY;
        let mut carry: Vec<usize> = Vec::new();
        // Sprints until the one running at `end` (active), then one future sprint.
        for k in 0.. {
            let s_start = start + offset + k as i64 * sprint_len;
            let s_end = s_start + sprint_len;
            let sid = new_sprint(&mut ops, ti, format!("{} Sprint {}", team.project_key, k + 1), s_start, s_end);
            // Carried-over work joins at the start (the field keeps the closed sprint).
            for &i in &carry {
                let mut to = issues[i].sprints.clone();
                to.push(sid);
                issues[i].sprints = to.clone();
                ops.push(JiraOp::Sprints { issue: i, to, at: s_start, by: Actor::Automation });
            }
            ops.push(JiraOp::StartSprint { sprint: sid, at: s_start });
            let mut in_sprint: Vec<usize> = std::mem::take(&mut carry);
            let n = rng.skewed(issues_per_sprint, 0.25).round() as usize;
            for j in 0..n {
                let planned = !rng.chance(0.12);
                let created = if planned {
                    s_start - (1 + rng.below(20) as i64) * DAY
                } else {
                    s_start + rng.below((sprint_len - DAY) as u64) as i64
                };
                let kind = match rng.below(10) {
                    0..=4 => IssueKind::Story,
                    5 | 6 => IssueKind::Bug,
                    7 => IssueKind::Task,
                    _ => IssueKind::SubTask,
                };
                let assignee = members[rng.below(members.len() as u64) as usize];
                let parent_story = in_sprint.iter().rev().copied().find(|&i| issues[i].kind == IssueKind::Story);
                let kind = if kind == IssueKind::SubTask && parent_story.is_none() { IssueKind::Task } else { kind };
                let mut points = None;
                let mut parent = None;
                if kind != IssueKind::SubTask {
                    points = [1.0, 2.0, 3.0, 5.0, 8.0, 13.0]
                        .get(rng.below(6) as usize)
                        .copied()
                        .filter(|_| !rng.chance(0.08));
                } else {
                    parent = parent_story;
                }
                let estimate = rng.chance(0.7).then(|| (1 + rng.below(16) as i64) * 3600);
                let sprints = if planned { Vec::new() } else { vec![sid] };
                let i = issues.len();
                issues.push(IssueNow { kind, created, status: 0, points, sprints: sprints.clone(), assignee });
                ops.push(JiraOp::Issue(PlannedIssue {
                    team: ti,
                    kind,
                    summary: format!("Work item {j} of sprint {}", k + 1),
                    created,
                    assignee,
                    points,
                    estimate,
                    parent,
                    sprints,
                    labels: if kind == IssueKind::Bug && j % 4 == 0 { vec!["incident".to_owned()] } else { Vec::new() },
                }));
                if planned {
                    issues[i].sprints = vec![sid];
                    ops.push(JiraOp::Sprints { issue: i, to: vec![sid], at: s_start - HOUR, by: Actor::Automation });
                }
                in_sprint.push(i);
            }
            // Work happens: transitions, points changes, worklogs.
            let close_at = s_end.min(end);
            let closing = s_end <= end;
            for &i in &in_sprint {
                if STATUSES[issues[i].status].1 == Category::Done {
                    continue;
                }
                let begin = s_start.max(issues[i].created) + rng.below(3 * DAY as u64) as i64;
                if begin >= close_at {
                    continue;
                }
                let assignee = issues[i].assignee;
                status(&mut ops, &mut issues, i, 1, begin);
                if rng.chance(0.1) && issues[i].kind != IssueKind::SubTask {
                    let p = issues[i].points.unwrap_or(3.0);
                    issues[i].points = Some(p + 2.0);
                    ops.push(JiraOp::Points { issue: i, to: Some(p + 2.0), at: begin + HOUR, by: assignee });
                }
                let finish = begin + (rng.unit() * (close_at - begin) as f64 * 1.3) as i64;
                let logs = rng.skewed(worklogs_per_issue, 0.6).round() as usize;
                let work_end = finish.min(close_at);
                for l in 0..logs {
                    let started = begin + (work_end - begin) * l as i64 / (logs as i64 + 1);
                    let seconds = (1 + rng.below(12) as i64) * 1800;
                    let logged = (started + seconds * 1000 + rng.below(2 * DAY as u64) as i64).min(end);
                    ops.push(JiraOp::Worklog { issue: i, author: assignee, started, seconds, logged });
                }
                if finish < close_at {
                    status(&mut ops, &mut issues, i, 2, begin + (finish - begin) / 2);
                    status(&mut ops, &mut issues, i, 3, finish);
                }
            }
            if closing {
                carry = in_sprint.iter().copied().filter(|&i| STATUSES[issues[i].status].1 != Category::Done).collect();
                ops.push(JiraOp::CloseSprint { sprint: sid, at: s_end });
            } else {
                new_sprint(&mut ops, ti, format!("{} Sprint {}", team.project_key, k + 2), s_end, s_end + sprint_len);
                break;
            }
        }
    }
    ops
}
