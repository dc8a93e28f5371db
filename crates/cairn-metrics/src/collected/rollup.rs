//! The daily rollups: per source, person and local day, what the collected rows add up to,
//! so readers take one row per person-day instead of summing events.
//!
//! A person is the upstream identity (`gh:<login>`, `email:<address>` for a commit without
//! a GitHub author, `jira:<account id>`); which team member that is, and whether it is a
//! bot, is decided when reading, by the teams and settings of the day. The rollups only
//! follow facts of the rows (which day, which commits count), so neither a change of teams
//! nor of the bot list touches them; a change of time zone rebuilds them.

use std::collections::{BTreeSet, HashMap};

use crate::day::Day;

/// What one person did on one day (or the change to it a page makes).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DayFigures {
    /// Commits counted (default branch, one parent), with their lines.
    pub commits: i64,
    pub additions: i64,
    pub deletions: i64,
    pub changed_files: i64,
    /// The counted commits' impact, in millionths of millionths (see [`super::impact`]);
    /// kept by the scoring of their repositories, not by the commits' own rows.
    pub impact: i64,
    /// Pull-request comments (review and conversation) on their own pull requests and on
    /// others'.
    pub comments_on_own: i64,
    pub comments_on_others: i64,
    pub prs_opened: i64,
    pub prs_merged: i64,
    pub reviews: i64,
    pub worklog_seconds: i64,
}

impl DayFigures {
    pub const ZERO: DayFigures = DayFigures {
        commits: 0,
        additions: 0,
        deletions: 0,
        changed_files: 0,
        impact: 0,
        comments_on_own: 0,
        comments_on_others: 0,
        prs_opened: 0,
        prs_merged: 0,
        reviews: 0,
        worklog_seconds: 0,
    };

    /// In the order the table stores them.
    pub(crate) fn fields(&self) -> [i64; 11] {
        [
            self.commits,
            self.additions,
            self.deletions,
            self.changed_files,
            self.impact,
            self.comments_on_own,
            self.comments_on_others,
            self.prs_opened,
            self.prs_merged,
            self.reviews,
            self.worklog_seconds,
        ]
    }

    pub(crate) fn from_fields(f: [i64; 11]) -> DayFigures {
        let [
            commits,
            additions,
            deletions,
            changed_files,
            impact,
            comments_on_own,
            comments_on_others,
            prs_opened,
            prs_merged,
            reviews,
            worklog_seconds,
        ] = f;
        DayFigures {
            commits,
            additions,
            deletions,
            changed_files,
            impact,
            comments_on_own,
            comments_on_others,
            prs_opened,
            prs_merged,
            reviews,
            worklog_seconds,
        }
    }

    fn add(&mut self, sign: i64, other: DayFigures) {
        let mine = self.fields();
        let theirs = other.fields();
        *self = DayFigures::from_fields(std::array::from_fn(|i| mine[i] + sign * theirs[i]));
    }

    /// Adds `other`'s figures to these.
    pub fn add_all(&mut self, other: DayFigures) {
        self.add(1, other);
    }

    pub fn is_zero(&self) -> bool {
        *self == DayFigures::ZERO
    }

    /// Whether any figure goes down: a row left this day or lost something.
    pub(crate) fn any_negative(&self) -> bool {
        self.fields().iter().any(|v| *v < 0)
    }

    /// Active: at least one counted commit.
    pub fn active(&self) -> bool {
        self.commits > 0
    }
}

/// One stored rollup row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonDay {
    pub source_id: String,
    pub person_key: String,
    pub day: Day,
    pub figures: DayFigures,
    pub active: bool,
}

/// Changes to a source's rollups, by person and day.
#[derive(Debug, Default)]
pub(crate) struct Rollup(HashMap<(String, i64), DayFigures>);

impl Rollup {
    pub fn add(&mut self, person: String, day: Day, sign: i64, figures: DayFigures) {
        self.0.entry((person, day.number())).or_default().add(sign, figures);
    }

    /// The changes that change something, in a stable order.
    pub fn into_changes(self) -> Vec<(String, i64, DayFigures)> {
        let mut out: Vec<_> = self.0.into_iter().filter(|(_, f)| !f.is_zero()).map(|((p, d), f)| (p, d, f)).collect();
        out.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
        out
    }
}

/// `gh:<login>`.
pub fn github(login: Option<&str>) -> Option<String> {
    login.filter(|l| !l.is_empty()).map(|l| format!("gh:{}", l.to_lowercase()))
}

/// `jira:<account id>`.
pub fn jira(account: Option<&str>) -> Option<String> {
    account.filter(|a| !a.is_empty()).map(|a| format!("jira:{a}"))
}

/// A commit's author: the GitHub login, else the author email (`email:<address>`).
pub fn commit_author(login: Option<&str>, email: Option<&str>) -> Option<String> {
    github(login).or_else(|| email.filter(|e| !e.is_empty()).map(|e| format!("email:{}", e.to_lowercase())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn people_are_keyed_by_their_upstream_identity() {
        assert_eq!(github(Some("Alice")).as_deref(), Some("gh:alice"));
        assert_eq!(commit_author(None, Some("Alice@Acme.com")).as_deref(), Some("email:alice@acme.com"));
        assert_eq!(commit_author(Some("bob"), Some("alice@acme.com")).as_deref(), Some("gh:bob"));
        assert_eq!(commit_author(None, None), None);
        assert_eq!(commit_author(Some(""), Some("")), None);
        assert_eq!(jira(Some("5b10")).as_deref(), Some("jira:5b10"));
    }

    #[test]
    fn a_change_that_cancels_out_is_no_change() {
        let mut r = Rollup::default();
        let d = Day::from_number(20_000);
        let one = DayFigures { commits: 1, additions: 10, ..DayFigures::ZERO };
        r.add("gh:a".into(), d, 1, one);
        r.add("gh:a".into(), d, -1, one);
        r.add("gh:b".into(), d, -1, one);
        let changes = r.into_changes();
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].2, DayFigures { commits: -1, additions: -10, ..DayFigures::ZERO });
        assert!(changes[0].2.any_negative());
    }
}

/// The logins that are bots: `…[bot]` ones, and those the settings name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Bots(BTreeSet<String>);

impl Bots {
    pub fn new(logins: &[String]) -> Bots {
        Bots(logins.iter().map(|l| l.to_lowercase()).collect())
    }

    /// Whether a person key is a bot: a `[bot]` login, a configured one, or a bot's GitHub
    /// no-reply address (`<id>+<login>@users.noreply.github.com`).
    pub fn contains(&self, person_key: &str) -> bool {
        let login = match person_key.split_once(':') {
            Some(("gh", login)) => login.to_lowercase(),
            Some(("email", email)) => {
                let local = email.split('@').next().unwrap_or_default();
                local.split_once('+').map_or(local, |(_, l)| l).to_lowercase()
            }
            _ => return false,
        };
        login.ends_with("[bot]") || self.0.contains(&login)
    }
}
