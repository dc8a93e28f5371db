//! The SQL of teams, people, their emails and memberships.

use std::collections::HashMap;

use cairn_store::sqlx::{self, AnyConnection, Row, any::AnyRow};

use super::{Member, Team};
use crate::day::Day;
use crate::store::{Sql, bind_all, placeholders};

/// A team's own row, without members.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TeamRow {
    pub id: String,
    pub name: String,
    pub board: Option<i64>,
    pub created_at: i64,
    pub created_by: String,
    pub updated_at: i64,
    pub updated_by: String,
}

impl TeamRow {
    pub fn with(self, members: Vec<Member>) -> Team {
        Team {
            id: self.id,
            name: self.name,
            board: self.board,
            members,
            created_at: self.created_at,
            created_by: self.created_by,
            updated_at: self.updated_at,
            updated_by: self.updated_by,
        }
    }
}

const TEAM_COLUMNS: &str = "id, name, board_id, created_at, created_by, updated_at, updated_by";

fn team_row(r: &AnyRow) -> Result<TeamRow, sqlx::Error> {
    Ok(TeamRow {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        board: r.try_get("board_id")?,
        created_at: r.try_get("created_at")?,
        created_by: r.try_get("created_by")?,
        updated_at: r.try_get("updated_at")?,
        updated_by: r.try_get("updated_by")?,
    })
}

pub(crate) async fn insert_team(conn: &mut AnyConnection, t: &TeamRow) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "INSERT INTO metrics_teams ({TEAM_COLUMNS}, name_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
    ))
    .bind(&t.id)
    .bind(&t.name)
    .bind(t.board)
    .bind(t.created_at)
    .bind(&t.created_by)
    .bind(t.updated_at)
    .bind(&t.updated_by)
    .bind(t.name.to_lowercase())
    .execute(conn)
    .await?;
    Ok(())
}

pub(crate) async fn update_team(conn: &mut AnyConnection, t: &TeamRow) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE metrics_teams SET name = $2, name_key = $3, board_id = $4, updated_at = $5, updated_by = $6 \
         WHERE id = $1",
    )
    .bind(&t.id)
    .bind(&t.name)
    .bind(t.name.to_lowercase())
    .bind(t.board)
    .bind(t.updated_at)
    .bind(&t.updated_by)
    .execute(conn)
    .await?;
    Ok(())
}

/// Deletes the team and its memberships; its name when it existed.
pub(crate) async fn delete_team(conn: &mut AnyConnection, id: &str) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("DELETE FROM metrics_teams WHERE id = $1 RETURNING name").bind(id).fetch_optional(conn).await
}

pub(crate) async fn team(conn: &mut AnyConnection, id: &str) -> Result<Option<TeamRow>, sqlx::Error> {
    let row = sqlx::query(&format!("SELECT {TEAM_COLUMNS} FROM metrics_teams WHERE id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(team_row).transpose()
}

/// Up to `limit` teams after the id `after`, in id (creation) order.
pub(crate) async fn teams(
    conn: &mut AnyConnection,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<TeamRow>, sqlx::Error> {
    let rows = sqlx::query(&format!("SELECT {TEAM_COLUMNS} FROM metrics_teams WHERE id > $1 ORDER BY id LIMIT $2"))
        .bind(after.unwrap_or(""))
        .bind(limit)
        .fetch_all(conn)
        .await?;
    rows.iter().map(team_row).collect()
}

/// The team called `name` (in any case), and the team owning `board`, when there are.
pub(crate) async fn team_named(conn: &mut AnyConnection, name: &str) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM metrics_teams WHERE name_key = $1")
        .bind(name.to_lowercase())
        .fetch_optional(conn)
        .await
}

pub(crate) async fn team_of_board(
    conn: &mut AnyConnection,
    board: i64,
) -> Result<Option<(String, String)>, sqlx::Error> {
    let row =
        sqlx::query("SELECT id, name FROM metrics_teams WHERE board_id = $1").bind(board).fetch_optional(conn).await?;
    row.map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).transpose()
}

/// The members of `teams`, each team's in the order given: `(team id, member)`.
pub(crate) async fn members(conn: &mut AnyConnection, teams: &[String]) -> Result<Vec<(String, Member)>, sqlx::Error> {
    if teams.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Sql> = teams.iter().map(Sql::from).collect();
    let sql = format!(
        "SELECT m.team_id, m.from_day, m.to_day, p.id, p.name, p.email, p.github_login, p.jira_account_id \
         FROM metrics_memberships m JOIN metrics_people p ON p.id = m.person_id \
         WHERE m.team_id IN ({}) ORDER BY m.team_id, m.position",
        placeholders(1, ids.len())
    );
    let rows = bind_all(sqlx::query(&sql), &ids).fetch_all(&mut *conn).await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        out.push((
            r.try_get::<String, _>(0)?,
            Member {
                person_id: r.try_get(3)?,
                name: r.try_get(4)?,
                email: r.try_get(5)?,
                other_emails: Vec::new(),
                github_login: r.try_get(6)?,
                jira_account_id: r.try_get(7)?,
                from: Day::from_number(r.try_get(1)?),
                to: r.try_get::<Option<i64>, _>(2)?.map(Day::from_number),
            },
        ));
    }
    let people: Vec<String> = out.iter().map(|(_, m)| m.person_id.clone()).collect();
    let emails = other_emails(conn, &people).await?;
    for (_, m) in &mut out {
        m.other_emails = emails.get(&m.person_id).cloned().unwrap_or_default();
    }
    Ok(out)
}

/// Each person's emails besides the primary one, sorted.
async fn other_emails(
    conn: &mut AnyConnection,
    people: &[String],
) -> Result<HashMap<String, Vec<String>>, sqlx::Error> {
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    let mut ids: Vec<Sql> = people.iter().map(Sql::from).collect();
    ids.dedup();
    if ids.is_empty() {
        return Ok(out);
    }
    let sql = format!(
        "SELECT e.person_id, e.email FROM metrics_person_emails e JOIN metrics_people p ON p.id = e.person_id \
         WHERE e.person_id IN ({}) AND e.email <> p.email ORDER BY e.email",
        placeholders(1, ids.len())
    );
    for r in bind_all(sqlx::query(&sql), &ids).fetch_all(conn).await? {
        out.entry(r.try_get(0)?).or_default().push(r.try_get(1)?);
    }
    Ok(out)
}

/// Which person an identity belongs to: `(person id, primary email)`.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Identity<'a> {
    Email(&'a str),
    GithubLogin(&'a str),
    JiraAccount(&'a str),
}

pub(crate) async fn person_with(
    conn: &mut AnyConnection,
    identity: Identity<'_>,
) -> Result<Option<(String, String)>, sqlx::Error> {
    let (sql, value) = match identity {
        Identity::Email(e) => (
            "SELECT p.id, p.email FROM metrics_person_emails e JOIN metrics_people p ON p.id = e.person_id \
             WHERE e.email = $1",
            e,
        ),
        Identity::GithubLogin(l) => ("SELECT id, email FROM metrics_people WHERE github_login = $1", l),
        Identity::JiraAccount(a) => ("SELECT id, email FROM metrics_people WHERE jira_account_id = $1", a),
    };
    let row = sqlx::query(sql).bind(value).fetch_optional(conn).await?;
    row.map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).transpose()
}

/// A membership of `person` in a team other than `except`: `(team name, from, to)`.
pub(crate) async fn memberships_elsewhere(
    conn: &mut AnyConnection,
    person: &str,
    except: &str,
) -> Result<Vec<(String, Day, Option<Day>)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT t.name, m.from_day, m.to_day FROM metrics_memberships m JOIN metrics_teams t ON t.id = m.team_id \
         WHERE m.person_id = $1 AND m.team_id <> $2 ORDER BY m.from_day",
    )
    .bind(person)
    .bind(except)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok((r.try_get(0)?, Day::from_number(r.try_get(1)?), r.try_get::<Option<i64>, _>(2)?.map(Day::from_number)))
        })
        .collect()
}

/// A person's fields, as a team's member list gives them.
#[derive(Debug, Clone)]
pub(crate) struct PersonRow<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub email: &'a str,
    pub other_emails: &'a [String],
    pub github_login: Option<&'a str>,
    pub jira_account_id: Option<&'a str>,
}

/// Writes a person (new or changed) with the full set of their emails.
pub(crate) async fn save_person(conn: &mut AnyConnection, p: &PersonRow<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO metrics_people (id, name, email, github_login, jira_account_id) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (id) DO UPDATE SET name = excluded.name, email = excluded.email, \
         github_login = excluded.github_login, jira_account_id = excluded.jira_account_id",
    )
    .bind(p.id)
    .bind(p.name)
    .bind(p.email)
    .bind(p.github_login)
    .bind(p.jira_account_id)
    .execute(&mut *conn)
    .await?;
    sqlx::query("DELETE FROM metrics_person_emails WHERE person_id = $1").bind(p.id).execute(&mut *conn).await?;
    let mut values = vec![Sql::from(p.id)];
    values.extend(std::iter::once(p.email).chain(p.other_emails.iter().map(String::as_str)).map(Sql::from));
    let tuples: Vec<String> = (2..=values.len()).map(|i| format!("(${i}, $1)")).collect();
    let sql = format!("INSERT INTO metrics_person_emails (email, person_id) VALUES {}", tuples.join(", "));
    bind_all(sqlx::query(&sql), &values).execute(conn).await?;
    Ok(())
}

/// Clears the identities of `people` before they are written again, so that an email, login
/// or account id can move from one of them to another in one change.
pub(crate) async fn release_identities(conn: &mut AnyConnection, people: &[String]) -> Result<(), sqlx::Error> {
    if people.is_empty() {
        return Ok(());
    }
    let ids: Vec<Sql> = people.iter().map(Sql::from).collect();
    let list = placeholders(1, ids.len());
    let sql = format!(
        "UPDATE metrics_people SET github_login = NULL, jira_account_id = NULL, email = 'moving:' || id \
         WHERE id IN ({list})"
    );
    bind_all(sqlx::query(&sql), &ids).execute(&mut *conn).await?;
    bind_all(sqlx::query(&format!("DELETE FROM metrics_person_emails WHERE person_id IN ({list})")), &ids)
        .execute(conn)
        .await?;
    Ok(())
}

/// One membership row: `(person id, from, to)`, in the team's order.
pub(crate) async fn replace_memberships(
    conn: &mut AnyConnection,
    team: &str,
    members: &[(String, Day, Option<Day>)],
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM metrics_memberships WHERE team_id = $1").bind(team).execute(&mut *conn).await?;
    const ROWS: usize = 1000;
    for (c, chunk) in members.chunks(ROWS).enumerate() {
        let mut values = vec![Sql::from(team)];
        let mut tuples = Vec::with_capacity(chunk.len());
        for (i, (person, from, to)) in chunk.iter().enumerate() {
            let position = c * ROWS + i;
            let n = values.len();
            tuples.push(format!("($1, ${}, ${}, ${}, ${})", n + 1, n + 2, n + 3, n + 4));
            values.extend([
                Sql::from(person),
                Sql::Int(from.number()),
                Sql::OptInt(to.map(Day::number)),
                Sql::Int(position as i64),
            ]);
        }
        let sql = format!(
            "INSERT INTO metrics_memberships (team_id, person_id, from_day, to_day, position) VALUES {}",
            tuples.join(", ")
        );
        bind_all(sqlx::query(&sql), &values).execute(&mut *conn).await?;
    }
    Ok(())
}

/// Deletes people who belong to no team any more (with their emails).
pub(crate) async fn delete_unattached_people(conn: &mut AnyConnection) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "DELETE FROM metrics_people WHERE NOT EXISTS \
         (SELECT 1 FROM metrics_memberships m WHERE m.person_id = metrics_people.id)",
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}
