//! Who is who: the tenant's teams and their members over time, and the bots, read once per
//! figure. A person is found from an upstream identity — a rollup's person key
//! (`gh:<login>`, `email:<address>`, `jira:<account id>`), or what a caller names in `user`.

use std::collections::{BTreeSet, HashMap};

use crate::collected::rollup::Bots;
use crate::day::Day;
use crate::teams::{Member, Team};
use crate::{Metrics, MetricsError};

/// A team member, as figures name them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub id: String,
    pub name: String,
    /// What the series is keyed by: the GitHub login, else the primary email.
    pub key: String,
    /// Its place in [`Roster::people`].
    pub index: usize,
    github_login: Option<String>,
    jira_account_id: Option<String>,
    emails: Vec<String>,
}

/// The teams, their members' intervals, and the bots.
#[derive(Debug, Clone)]
pub struct Roster {
    pub teams: Vec<Team>,
    people: Vec<Person>,
    by_identity: HashMap<String, usize>,
    bots: Bots,
}

impl Roster {
    pub async fn load(metrics: &Metrics<'_>) -> Result<Roster, MetricsError> {
        Ok(Roster::load_with_settings(metrics).await?.0)
    }

    /// The roster and the settings it takes its bots from, read at the same time.
    pub async fn load_with_settings(metrics: &Metrics<'_>) -> Result<(Roster, crate::Settings), MetricsError> {
        let teams = async {
            let mut teams = Vec::new();
            let mut after = None;
            loop {
                let page = metrics.teams(500, after.as_ref()).await?;
                teams.extend(page.items);
                match page.next_cursor {
                    Some(c) => after = Some(crate::TeamId::parse(&c, "cursor")?),
                    None => break,
                }
            }
            Ok::<_, MetricsError>(teams)
        };
        let (teams, settings) = tokio::try_join!(teams, metrics.settings())?;
        let bots = Bots::new(&settings.bots);
        Ok((Roster::new(teams, bots), settings))
    }

    pub fn new(teams: Vec<Team>, bots: Bots) -> Roster {
        let mut people: Vec<Person> = Vec::new();
        let mut by_id: HashMap<String, usize> = HashMap::new();
        let mut by_identity = HashMap::new();
        for m in teams.iter().flat_map(|t| &t.members) {
            let i = *by_id.entry(m.person_id.clone()).or_insert_with(|| {
                people.push(person(m, people.len()));
                people.len() - 1
            });
            let p = &people[i];
            if let Some(login) = &p.github_login {
                by_identity.insert(format!("gh:{login}"), i);
            }
            if let Some(account) = &p.jira_account_id {
                by_identity.insert(format!("jira:{account}"), i);
            }
            for email in &p.emails {
                by_identity.insert(format!("email:{email}"), i);
            }
        }
        Roster { teams, people, by_identity, bots }
    }

    pub fn people(&self) -> &[Person] {
        &self.people
    }

    /// Whether a rollup's person key is a bot: a `[bot]` login, a configured one, or a
    /// bot's GitHub no-reply address (`<id>+<login>@users.noreply.github.com`).
    pub fn is_bot(&self, person_key: &str) -> bool {
        self.bots.contains(person_key)
    }

    /// The member a rollup's person key names, unless it is a bot.
    pub fn person_of(&self, person_key: &str) -> Option<&Person> {
        if self.is_bot(person_key) {
            return None;
        }
        let (kind, id) = person_key.split_once(':')?;
        self.by_identity.get(&format!("{kind}:{}", id.to_lowercase())).map(|&i| &self.people[i])
    }

    /// The member a caller names: a GitHub login, a Jira account id or an email.
    pub fn find(&self, user: &str) -> Option<&Person> {
        let user = user.trim().to_lowercase();
        ["gh", "jira", "email"]
            .iter()
            .find_map(|kind| self.by_identity.get(&format!("{kind}:{user}")))
            .map(|&i| &self.people[i])
    }

    /// The team `person` was in on `day`.
    pub fn team_on(&self, person: &Person, day: Day) -> Option<&Team> {
        self.teams.iter().find(|t| {
            t.members.iter().any(|m| m.person_id == person.id && m.from <= day && m.to.is_none_or(|to| day < to))
        })
    }

    /// Whether `person` was in `team` on `day`.
    pub fn member_on(&self, team: &Team, person: &Person, day: Day) -> bool {
        team.members.iter().any(|m| m.person_id == person.id && m.from <= day && m.to.is_none_or(|to| day < to))
    }

    /// The people a per-person figure lists, with their index in [`Roster::people`]:
    /// `user`, else `team`'s members on some day of `[from, to)`, else everyone; by key.
    pub fn people_in(&self, user: Option<&Person>, team: Option<&Team>, from: Day, to: Day) -> Vec<(usize, &Person)> {
        let members: Option<Vec<&Person>> = team.map(|t| self.members_between(t, from, to));
        let mut out: Vec<(usize, &Person)> = self
            .people
            .iter()
            .enumerate()
            .filter(|(_, p)| user.is_none_or(|u| u.id == p.id))
            .filter(|(_, p)| members.as_ref().is_none_or(|ms| ms.iter().any(|m| m.id == p.id)))
            .collect();
        out.sort_by(|a, b| a.1.key.cmp(&b.1.key));
        out
    }

    /// The teams a per-team figure lists: `team`, else every team; by name.
    pub fn teams_in(&self, team: Option<&Team>) -> Vec<&Team> {
        let mut out: Vec<&Team> = self.teams.iter().filter(|t| team.is_none_or(|x| x.id == t.id)).collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    /// The rollup person keys (`gh:<login>`, `jira:<account id>`, `email:<address>`) of the
    /// people a figure scoped to `user` and `team` over `[from, to)` counts; `None` when it
    /// counts everyone. Lower case, as the roster compares them.
    pub fn keys_of(&self, user: Option<&Person>, team: Option<&Team>, from: Day, to: Day) -> Option<Vec<String>> {
        if user.is_none() && team.is_none() {
            return None;
        }
        let people = self.people_in(user, team, from, to);
        let mut keys = Vec::new();
        for (_, p) in people {
            keys.extend(p.github_login.iter().map(|l| format!("gh:{l}")));
            keys.extend(p.jira_account_id.iter().map(|a| format!("jira:{a}")));
            keys.extend(p.emails.iter().map(|e| format!("email:{e}")));
        }
        Some(keys)
    }

    /// The people who were in `team` on some day of `[from, to)`.
    pub fn members_between(&self, team: &Team, from: Day, to: Day) -> Vec<&Person> {
        let ids: BTreeSet<&str> = team
            .members
            .iter()
            .filter(|m| m.from < to && m.to.is_none_or(|end| from < end))
            .map(|m| m.person_id.as_str())
            .collect();
        self.people.iter().filter(|p| ids.contains(p.id.as_str())).collect()
    }
}

fn person(m: &Member, index: usize) -> Person {
    let mut emails = vec![m.email.to_lowercase()];
    emails.extend(m.other_emails.iter().map(|e| e.to_lowercase()));
    Person {
        id: m.person_id.clone(),
        name: m.name.clone(),
        key: m.github_login.clone().unwrap_or_else(|| m.email.clone()),
        index,
        github_login: m.github_login.as_ref().map(|l| l.to_lowercase()),
        jira_account_id: m.jira_account_id.as_ref().map(|a| a.to_lowercase()),
        emails,
    }
}
