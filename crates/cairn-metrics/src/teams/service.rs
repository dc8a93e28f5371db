//! Teams: create, read, change, delete; each change with its audit entry. A member list
//! names people: one already known (by any of their emails) is that person, written anew
//! with what the list says; a new email is a new person. People in no team are forgotten.

use std::collections::{HashMap, HashSet};

use cairn_audit::{Action, Actor, AuditService, NewEntry, Outcome, RequestMeta};
use cairn_domain::{ValidationError, now_ms};
use cairn_store::is_unique_violation;
use cairn_store::sqlx::{self, AnyConnection};
use serde_json::json;

use super::store::{self, Identity, PersonRow, TeamRow};
use super::{Member, MemberInput, Team, TeamDraft, TeamId, TeamPatchDraft};
use crate::day::Day;
use crate::{Metrics, MetricsError};

/// A page of teams in creation order.
#[derive(Debug, Clone)]
pub struct TeamPage {
    pub items: Vec<Team>,
    /// The last team's id when more follow.
    pub next_cursor: Option<String>,
}

/// A unique index refused the write: another change got there first.
fn clash(e: sqlx::Error) -> MetricsError {
    if is_unique_violation(&e) {
        MetricsError::Conflict("another change to teams happened at the same time; try again".into())
    } else {
        MetricsError::Database(e)
    }
}

fn entry(actor: &Actor, action: &'static str, meta: &RequestMeta, id: &str) -> NewEntry {
    NewEntry::new(actor.clone(), Action::fixed(action), Outcome::Success, meta.clone()).resource("metrics_team", id)
}

fn day_text(d: Option<Day>) -> String {
    d.map(|d| d.to_string()).unwrap_or_else(|| "now".into())
}

/// The person each member is: an existing person's id, or a new one. Refuses a member
/// whose identities belong to someone outside the list, and an interval that overlaps the
/// person's membership of another team.
async fn resolve(conn: &mut AnyConnection, team: &str, members: &[MemberInput]) -> Result<Vec<String>, MetricsError> {
    let mut ids: Vec<String> = Vec::with_capacity(members.len());
    let mut known: HashSet<String> = HashSet::new();
    let mut by_email: HashMap<&str, (usize, String)> = HashMap::new();
    for (i, m) in members.iter().enumerate() {
        if let Some((_, id)) = by_email.get(m.email.as_str()) {
            ids.push(id.clone());
            continue;
        }
        let found = store::person_with(conn, Identity::Email(&m.email)).await?.map(|(id, _)| id);
        if let Some(id) = &found
            && let Some((j, _)) = by_email.values().find(|(_, other)| other == id)
        {
            let at = format!("members[{i}].email");
            return Err(ValidationError::new(at, format!("is an email of the same person as members[{j}]")).into());
        }
        let id = match found {
            Some(id) => {
                known.insert(id.clone());
                id
            }
            None => uuid::Uuid::now_v7().to_string(),
        };
        by_email.insert(&m.email, (i, id.clone()));
        ids.push(id);
    }
    let mut checked: HashSet<&str> = HashSet::new();
    for (i, m) in members.iter().enumerate() {
        let me = ids[i].as_str();
        if !checked.insert(me) {
            continue;
        }
        let mut identities: Vec<(String, Identity<'_>)> = Vec::new();
        if let Some(l) = &m.github_login {
            identities.push(("github_login".into(), Identity::GithubLogin(l)));
        }
        if let Some(a) = &m.jira_account_id {
            identities.push(("jira_account_id".into(), Identity::JiraAccount(a)));
        }
        for (k, e) in m.other_emails.iter().enumerate() {
            identities.push((format!("other_emails[{k}]"), Identity::Email(e)));
        }
        for (field, identity) in identities {
            if let Some((holder, email)) = store::person_with(conn, identity).await?
                && holder != me
                && !ids.contains(&holder)
            {
                let at = format!("members[{i}].{field}");
                return Err(ValidationError::new(at, format!("belongs to another person ({email})")).into());
            }
        }
        if !known.contains(me) {
            continue;
        }
        for (team_name, from, to) in store::memberships_elsewhere(conn, me, team).await? {
            let mine = members.iter().enumerate().filter(|(j, _)| ids[*j] == me);
            if let Some((j, _)) = mine.into_iter().find(|(_, x)| x.overlaps(from, to)) {
                let at = format!("members[{j}].from");
                let message =
                    format!("overlaps {}'s membership of {team_name} from {from} to {}", members[j].name, day_text(to));
                return Err(ValidationError::new(at, message).into());
            }
        }
    }
    Ok(ids)
}

/// Writes the people of `members` and makes them the team's membership.
async fn write_members(
    conn: &mut AnyConnection,
    team: &str,
    members: &[MemberInput],
    ids: &[String],
) -> Result<Vec<Member>, MetricsError> {
    let mut people: Vec<String> = ids.to_vec();
    people.sort();
    people.dedup();
    store::release_identities(conn, &people).await?;
    let mut written: HashSet<&str> = HashSet::new();
    for (m, id) in members.iter().zip(ids) {
        if written.insert(id) {
            let person = PersonRow {
                id,
                name: &m.name,
                email: &m.email,
                other_emails: &m.other_emails,
                github_login: m.github_login.as_deref(),
                jira_account_id: m.jira_account_id.as_deref(),
            };
            store::save_person(conn, &person).await.map_err(clash)?;
        }
    }
    let rows: Vec<(String, Day, Option<Day>)> =
        members.iter().zip(ids).map(|(m, id)| (id.clone(), m.from, m.to)).collect();
    store::replace_memberships(conn, team, &rows).await?;
    store::delete_unattached_people(conn).await?;
    Ok(members
        .iter()
        .zip(ids)
        .map(|(m, id)| Member {
            person_id: id.clone(),
            name: m.name.clone(),
            email: m.email.clone(),
            other_emails: m.other_emails.clone(),
            github_login: m.github_login.clone(),
            jira_account_id: m.jira_account_id.clone(),
            from: m.from,
            to: m.to,
        })
        .collect())
}

/// Refuses a name or board another team has.
async fn check_unique(conn: &mut AnyConnection, id: &str, name: &str, board: Option<i64>) -> Result<(), MetricsError> {
    if store::team_named(conn, name).await?.is_some_and(|other| other != id) {
        return Err(MetricsError::Conflict(format!("a team named {name} exists")));
    }
    if let Some(b) = board
        && let Some((other, other_name)) = store::team_of_board(conn, b).await?
        && other != id
    {
        return Err(MetricsError::Conflict(format!("board {b} belongs to the team {other_name}")));
    }
    Ok(())
}

/// Whether `input` says the same as the stored `members`.
fn same_members(members: &[Member], input: &[MemberInput]) -> bool {
    members.len() == input.len()
        && members.iter().zip(input).all(|(m, i)| {
            m.name == i.name
                && m.email == i.email
                && m.other_emails == i.other_emails
                && m.github_login == i.github_login
                && m.jira_account_id == i.jira_account_id
                && m.from == i.from
                && m.to == i.to
        })
}

impl Metrics<'_> {
    pub async fn create_team(
        &self,
        draft: &TeamDraft,
        actor: &Actor,
        meta: &RequestMeta,
    ) -> Result<Team, MetricsError> {
        let input = draft.parse()?;
        let now = now_ms();
        let row = TeamRow {
            id: TeamId::new().to_string(),
            name: input.name,
            board: input.board,
            created_at: now,
            created_by: actor.id.clone(),
            updated_at: now,
            updated_by: actor.id.clone(),
        };
        let mut tx = self.db.begin().await?;
        check_unique(&mut tx, &row.id, &row.name, row.board).await?;
        let ids = resolve(&mut tx, &row.id, &input.members).await?;
        store::insert_team(&mut tx, &row).await.map_err(clash)?;
        let members = write_members(&mut tx, &row.id, &input.members, &ids).await?;
        let details = json!({ "name": row.name, "board": row.board, "members": members.len() });
        AuditService::record(self.db, &mut tx, entry(actor, "metrics.team_created", meta, &row.id).details(details))
            .await?;
        tx.commit().await?;
        Ok(row.with(members))
    }

    pub async fn team(&self, id: &TeamId) -> Result<Team, MetricsError> {
        let mut conn = self.db.reader().acquire().await?;
        team_in(&mut conn, &id.to_string()).await
    }

    /// Up to `limit` teams after the team `after`, in creation order.
    pub async fn teams(&self, limit: i64, after: Option<&TeamId>) -> Result<TeamPage, MetricsError> {
        let mut conn = self.db.reader().acquire().await?;
        let after = after.map(TeamId::to_string);
        let mut rows = store::teams(&mut conn, after.as_deref(), limit + 1).await?;
        let more = rows.len() as i64 > limit;
        rows.truncate(limit as usize);
        let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
        let mut members: HashMap<String, Vec<Member>> = HashMap::new();
        for (team, m) in store::members(&mut conn, &ids).await? {
            members.entry(team).or_default().push(m);
        }
        let next_cursor = if more { rows.last().map(|r| r.id.clone()) } else { None };
        let items = rows
            .into_iter()
            .map(|r| {
                let m = members.remove(&r.id).unwrap_or_default();
                r.with(m)
            })
            .collect();
        Ok(TeamPage { items, next_cursor })
    }

    /// Applies a change. A change that says what is already there writes nothing.
    pub async fn update_team(
        &self,
        id: &TeamId,
        draft: &TeamPatchDraft,
        actor: &Actor,
        meta: &RequestMeta,
    ) -> Result<Team, MetricsError> {
        let patch = draft.parse()?;
        let id = id.to_string();
        let mut tx = self.db.begin().await?;
        let current = team_in(&mut tx, &id).await?;
        let mut changed: Vec<&str> = Vec::new();
        let name = patch.name.filter(|n| *n != current.name);
        if name.is_some() {
            changed.push("name");
        }
        let board = patch.board.filter(|b| *b != current.board);
        if board.is_some() {
            changed.push("board");
        }
        let members = patch.members.filter(|m| !same_members(&current.members, m));
        if members.is_some() {
            changed.push("members");
        }
        if changed.is_empty() {
            return Ok(current);
        }
        let row = TeamRow {
            id: id.clone(),
            name: name.unwrap_or_else(|| current.name.clone()),
            board: board.unwrap_or(current.board),
            created_at: current.created_at,
            created_by: current.created_by.clone(),
            updated_at: now_ms(),
            updated_by: actor.id.clone(),
        };
        check_unique(&mut tx, &id, &row.name, row.board).await?;
        let members = match members {
            Some(members) => {
                let ids = resolve(&mut tx, &id, &members).await?;
                write_members(&mut tx, &id, &members, &ids).await?
            }
            None => current.members,
        };
        store::update_team(&mut tx, &row).await.map_err(clash)?;
        let details = json!({ "changed": changed, "name": row.name, "board": row.board, "members": members.len() });
        AuditService::record(self.db, &mut tx, entry(actor, "metrics.team_updated", meta, &id).details(details))
            .await?;
        tx.commit().await?;
        Ok(row.with(members))
    }

    pub async fn delete_team(&self, id: &TeamId, actor: &Actor, meta: &RequestMeta) -> Result<(), MetricsError> {
        let id = id.to_string();
        let mut tx = self.db.begin().await?;
        let Some(name) = store::delete_team(&mut tx, &id).await? else {
            return Err(MetricsError::NotFound("team"));
        };
        store::delete_unattached_people(&mut tx).await?;
        AuditService::record(
            self.db,
            &mut tx,
            entry(actor, "metrics.team_deleted", meta, &id).details(json!({ "name": name })),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

async fn team_in(conn: &mut AnyConnection, id: &str) -> Result<Team, MetricsError> {
    let row = store::team(conn, id).await?.ok_or(MetricsError::NotFound("team"))?;
    let members = store::members(conn, std::slice::from_ref(&row.id)).await?.into_iter().map(|(_, m)| m).collect();
    Ok(row.with(members))
}
