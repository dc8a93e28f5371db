//! Teams and the people in them over time. A person is known by their email; their GitHub
//! login, Jira account and other emails say which collected events are theirs. A person
//! belongs to at most one team on any day: their membership intervals `[from, to)` (local
//! dates) never overlap, across all teams.

mod service;
pub(crate) mod store;

pub use service::TeamPage;

use cairn_domain::{Id, IdKind, ValidationError};
use cairn_identity::Email;

use crate::day::Day;

/// Most members a team lists (intervals, so a person who left and came back counts twice).
pub const MAX_MEMBERS: usize = 500;
/// Most characters of a team's or a person's name.
pub const MAX_NAME: usize = 100;
/// Most emails a person has besides their primary one.
pub const MAX_OTHER_EMAILS: usize = 10;

/// What a [`TeamId`] names.
#[derive(Debug)]
pub enum TeamKind {}

impl IdKind for TeamKind {
    const WHAT: &'static str = "team";
}

/// A team's id.
pub type TeamId = Id<TeamKind>;

/// A team, with its members in the order they were given.
#[derive(Debug, Clone, PartialEq)]
pub struct Team {
    pub id: String,
    pub name: String,
    /// The Jira board the team owns.
    pub board: Option<i64>,
    pub members: Vec<Member>,
    pub created_at: i64,
    pub created_by: String,
    pub updated_at: i64,
    pub updated_by: String,
}

/// A person's membership of a team: who, and over which local dates `[from, to)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    pub person_id: String,
    pub name: String,
    /// Lower case, as every identity below.
    pub email: String,
    pub other_emails: Vec<String>,
    pub github_login: Option<String>,
    pub jira_account_id: Option<String>,
    pub from: Day,
    /// Exclusive; `None`: still a member.
    pub to: Option<Day>,
}

/// A member as a caller wrote it, before checking.
#[derive(Debug, Clone, Default)]
pub struct MemberDraft {
    pub name: String,
    pub email: String,
    pub other_emails: Vec<String>,
    pub github_login: Option<String>,
    pub jira_account_id: Option<String>,
    pub from: String,
    pub to: Option<String>,
}

/// A new team as a caller wrote it.
#[derive(Debug, Clone, Default)]
pub struct TeamDraft {
    pub name: String,
    pub board: Option<i64>,
    pub members: Vec<MemberDraft>,
}

/// A change to a team: absent fields stay; `board: Some(None)` clears the board; `members`
/// replaces the whole list.
#[derive(Debug, Clone, Default)]
pub struct TeamPatchDraft {
    pub name: Option<String>,
    pub board: Option<Option<i64>>,
    pub members: Option<Vec<MemberDraft>>,
}

/// A member, checked: identities in lower case, the primary email not among the others.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct MemberInput {
    pub name: String,
    pub email: String,
    pub other_emails: Vec<String>,
    pub github_login: Option<String>,
    pub jira_account_id: Option<String>,
    pub from: Day,
    pub to: Option<Day>,
}

impl MemberInput {
    /// The person's fields (everything but the interval).
    fn person(&self) -> (&str, &str, &[String], Option<&str>, Option<&str>) {
        (&self.name, &self.email, &self.other_emails, self.github_login.as_deref(), self.jira_account_id.as_deref())
    }

    pub fn overlaps(&self, from: Day, to: Option<Day>) -> bool {
        overlap((self.from, self.to), (from, to))
    }
}

/// Whether `[a.0, a.1)` and `[b.0, b.1)` share a day (`None`: open-ended).
pub(crate) fn overlap(a: (Day, Option<Day>), b: (Day, Option<Day>)) -> bool {
    b.1.is_none_or(|end| a.0 < end) && a.1.is_none_or(|end| b.0 < end)
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TeamInput {
    pub name: String,
    pub board: Option<i64>,
    pub members: Vec<MemberInput>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct TeamPatch {
    pub name: Option<String>,
    pub board: Option<Option<i64>>,
    pub members: Option<Vec<MemberInput>>,
}

/// A name people read: 1–100 characters as given, not blank, no control characters;
/// stored trimmed.
fn parse_name(raw: &str, field: &str) -> Result<String, ValidationError> {
    let t = raw.trim();
    if t.is_empty() {
        return Err(ValidationError::new(field, "must not be empty"));
    }
    if raw.chars().count() > MAX_NAME || raw.chars().any(char::is_control) {
        return Err(ValidationError::new(field, format!("at most {MAX_NAME} characters, no control characters")));
    }
    Ok(t.to_owned())
}

/// A GitHub login (GitHub Enterprise's too: underscores and dots), possibly a bot's
/// (`renovate[bot]`): 1–100 characters; lower case, as logins compare.
pub fn parse_login(raw: &str, field: &str) -> Result<String, ValidationError> {
    let name = raw.strip_suffix("[bot]").unwrap_or(raw);
    let ok = !name.is_empty()
        && raw.len() <= 100
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        && !name.starts_with(['-', '.']);
    if !ok {
        return Err(ValidationError::new(field, "must be a GitHub login: letters, digits, - _ and ."));
    }
    Ok(raw.to_lowercase())
}

fn parse_email(raw: &str, field: &str) -> Result<String, ValidationError> {
    Email::parse(raw).map(|e| e.as_str().to_lowercase()).map_err(|e| ValidationError::new(field, e.message))
}

/// A Jira Cloud account id (`5b10ac8d82e05b22cc7d4ef5`, `557058:f58131cb-…`).
fn parse_account_id(raw: &str, field: &str) -> Result<String, ValidationError> {
    let ok =
        !raw.is_empty() && raw.len() <= 128 && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b":-_".contains(&b));
    if !ok {
        return Err(ValidationError::new(field, "must be a Jira account id: letters, digits, : - and _"));
    }
    Ok(raw.to_owned())
}

/// A Jira board id: a whole number from 1.
fn parse_board(board: i64) -> Result<i64, ValidationError> {
    if board >= 1 { Ok(board) } else { Err(ValidationError::new("board", "must be a Jira board id (1 or more)")) }
}

impl MemberDraft {
    fn parse(&self, at: &str) -> Result<MemberInput, ValidationError> {
        let f = |name: &str| format!("{at}.{name}");
        let email = parse_email(&self.email, &f("email"))?;
        if self.other_emails.len() > MAX_OTHER_EMAILS {
            return Err(ValidationError::new(f("other_emails"), format!("at most {MAX_OTHER_EMAILS} emails")));
        }
        let mut other_emails: Vec<String> = Vec::new();
        for (i, e) in self.other_emails.iter().enumerate() {
            let e = parse_email(e, &format!("{at}.other_emails[{i}]"))?;
            if e != email && !other_emails.contains(&e) {
                other_emails.push(e);
            }
        }
        other_emails.sort();
        let from = Day::parse(&self.from, &f("from"))?;
        let to = self.to.as_deref().map(|t| Day::parse(t, &f("to"))).transpose()?;
        if to.is_some_and(|to| to <= from) {
            return Err(ValidationError::new(f("to"), "must be after from"));
        }
        Ok(MemberInput {
            name: parse_name(&self.name, &f("name"))?,
            email,
            other_emails,
            github_login: self.github_login.as_deref().map(|l| parse_login(l, &f("github_login"))).transpose()?,
            jira_account_id: self
                .jira_account_id
                .as_deref()
                .map(|a| parse_account_id(a, &f("jira_account_id")))
                .transpose()?,
            from,
            to,
        })
    }
}

/// Checks a member list: each member alone, then against the members before it (a person
/// listed twice must be written the same and in intervals that do not overlap; two people
/// share no identity).
fn parse_members(drafts: &[MemberDraft]) -> Result<Vec<MemberInput>, ValidationError> {
    if drafts.len() > MAX_MEMBERS {
        return Err(ValidationError::new("members", format!("at most {MAX_MEMBERS} members")));
    }
    let mut members: Vec<MemberInput> = Vec::with_capacity(drafts.len());
    for (i, d) in drafts.iter().enumerate() {
        let at = format!("members[{i}]");
        let m = d.parse(&at)?;
        for (j, earlier) in members.iter().enumerate() {
            let said =
                |what: &str, field: &str| ValidationError::new(format!("{at}.{field}"), format!("{what} members[{j}]"));
            if earlier.email == m.email {
                if earlier.person() != m.person() {
                    return Err(said("lists the same person (by email) differently from", "email"));
                }
                if earlier.overlaps(m.from, m.to) {
                    return Err(said("overlaps the interval of the same person at", "from"));
                }
                continue;
            }
            if m.github_login.is_some() && m.github_login == earlier.github_login {
                return Err(said("is also the GitHub login of", "github_login"));
            }
            if m.jira_account_id.is_some() && m.jira_account_id == earlier.jira_account_id {
                return Err(said("is also the Jira account of", "jira_account_id"));
            }
            let theirs = |e: &String| *e == earlier.email || earlier.other_emails.contains(e);
            if theirs(&m.email) {
                return Err(said("is also an email of", "email"));
            }
            if let Some(k) = m.other_emails.iter().position(theirs) {
                return Err(said("is also an email of", &format!("other_emails[{k}]")));
            }
        }
        members.push(m);
    }
    Ok(members)
}

impl TeamDraft {
    pub(crate) fn parse(&self) -> Result<TeamInput, ValidationError> {
        Ok(TeamInput {
            name: parse_name(&self.name, "name")?,
            board: self.board.map(parse_board).transpose()?,
            members: parse_members(&self.members)?,
        })
    }
}

impl TeamPatchDraft {
    pub(crate) fn parse(&self) -> Result<TeamPatch, ValidationError> {
        Ok(TeamPatch {
            name: self.name.as_deref().map(|n| parse_name(n, "name")).transpose()?,
            board: self.board.map(|b| b.map(parse_board).transpose()).transpose()?,
            members: self.members.as_deref().map(parse_members).transpose()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alice() -> MemberDraft {
        MemberDraft {
            name: " Alice Novak ".into(),
            email: "Alice@Acme.com".into(),
            other_emails: vec!["alice@home.example".into(), "ALICE@acme.com".into()],
            github_login: Some("Alice".into()),
            jira_account_id: Some("5b10ac8d82e05b22cc7d4ef5".into()),
            from: "2026-01-01".into(),
            to: None,
        }
    }

    fn bob() -> MemberDraft {
        MemberDraft {
            name: "Bob".into(),
            email: "bob@acme.com".into(),
            github_login: Some("bob".into()),
            from: "2026-01-01".into(),
            ..MemberDraft::default()
        }
    }

    fn field(members: Vec<MemberDraft>) -> String {
        TeamDraft { name: "Platform".into(), board: None, members }.parse().unwrap_err().field
    }

    #[test]
    fn a_member_is_read_in_lower_case_and_trimmed() {
        let t = TeamDraft { name: " Platform ".into(), board: Some(7), members: vec![alice()] }.parse().unwrap();
        assert_eq!((t.name.as_str(), t.board), ("Platform", Some(7)));
        let m = &t.members[0];
        assert_eq!((m.name.as_str(), m.email.as_str()), ("Alice Novak", "alice@acme.com"));
        assert_eq!(m.other_emails, ["alice@home.example"]);
        assert_eq!(m.github_login.as_deref(), Some("alice"));
        assert_eq!((m.from.to_string(), m.to), ("2026-01-01".to_owned(), None));
    }

    #[test]
    fn each_mistake_names_its_field() {
        let with = |f: fn(&mut MemberDraft)| {
            let mut m = alice();
            f(&mut m);
            field(vec![bob(), m])
        };
        assert_eq!(with(|m| m.name = " ".into()), "members[1].name");
        assert_eq!(with(|m| m.email = "alice".into()), "members[1].email");
        assert_eq!(with(|m| m.other_emails = vec!["x@y.z".into(), "nope".into()]), "members[1].other_emails[1]");
        assert_eq!(with(|m| m.github_login = Some("not a login".into())), "members[1].github_login");
        assert_eq!(with(|m| m.jira_account_id = Some("a b".into())), "members[1].jira_account_id");
        assert_eq!(with(|m| m.from = "2026-13-01".into()), "members[1].from");
        assert_eq!(with(|m| m.to = Some("soon".into())), "members[1].to");
        assert_eq!(with(|m| m.to = Some("2026-01-01".into())), "members[1].to");
        assert_eq!(TeamDraft { name: "".into(), ..TeamDraft::default() }.parse().unwrap_err().field, "name");
        let board = TeamDraft { name: "P".into(), board: Some(0), members: vec![] }.parse().unwrap_err();
        assert_eq!(board.field, "board");
        assert_eq!(field(vec![MemberDraft::default(); MAX_MEMBERS + 1]), "members");
    }

    #[test]
    fn a_person_is_in_one_place_at_a_time_and_identities_are_theirs_alone() {
        let spring = MemberDraft { to: Some("2026-04-01".into()), ..alice() };
        let autumn = MemberDraft { from: "2026-09-01".into(), ..alice() };
        assert!(TeamDraft { name: "P".into(), board: None, members: vec![spring.clone(), autumn] }.parse().is_ok());
        let overlapping = MemberDraft { from: "2026-03-31".into(), ..alice() };
        assert_eq!(field(vec![spring.clone(), overlapping]), "members[1].from");
        let renamed = MemberDraft { name: "A. Novak".into(), from: "2026-09-01".into(), ..alice() };
        assert_eq!(field(vec![spring, renamed]), "members[1].email");
        let same_login = MemberDraft { github_login: Some("ALICE".into()), ..bob() };
        assert_eq!(field(vec![alice(), same_login]), "members[1].github_login");
        let same_account = MemberDraft { jira_account_id: alice().jira_account_id, ..bob() };
        assert_eq!(field(vec![alice(), same_account]), "members[1].jira_account_id");
        let her_email = MemberDraft { other_emails: vec!["alice@home.example".into()], ..bob() };
        assert_eq!(field(vec![alice(), her_email]), "members[1].other_emails[0]");
    }

    #[test]
    fn intervals_are_half_open() {
        let d = |s: &str| Day::parse(s, "d").unwrap();
        assert!(!overlap((d("2026-01-01"), Some(d("2026-02-01"))), (d("2026-02-01"), None)));
        assert!(overlap((d("2026-01-01"), None), (d("2025-01-01"), Some(d("2026-01-02")))));
        assert!(overlap((d("2026-01-01"), None), (d("2027-01-01"), None)));
        assert!(!overlap((d("2026-03-01"), None), (d("2025-01-01"), Some(d("2026-03-01")))));
    }

    #[test]
    fn logins_allow_what_github_and_its_enterprise_server_do() {
        for ok in ["alice", "Alice-B", "a_b", "a.b", "dependabot[bot]", "x"] {
            assert!(parse_login(ok, "l").is_ok(), "{ok}");
        }
        for bad in ["", "-a", "a b", "[bot]", "é", &"a".repeat(101)] {
            assert!(parse_login(bad, "l").is_err(), "{bad}");
        }
    }
}
