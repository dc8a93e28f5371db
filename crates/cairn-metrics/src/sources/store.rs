//! The SQL of sources, their cursors, and the removal of a deleted source's rows.

use cairn_domain::now_ms;
use cairn_store::sqlx::{self, AnyConnection, Row, any::AnyRow};

use super::{NewSource, Source, SourceId, SourceKind};
use crate::store::decode_json;

const COLUMNS: &str = "id, kind, name, base_url, graphql_url, url, branch, organization, repositories, boards, email, \
                       story_points_field, CAST(CASE WHEN token_sealed IS NULL THEN 0 ELSE 1 END AS BIGINT) AS has_token, state, demo, \
                       created_at, created_by, updated_at, updated_by";

fn source(r: &AnyRow) -> Result<Source, sqlx::Error> {
    let kind: String = r.try_get("kind")?;
    let list = |col: &str| -> Result<Option<String>, sqlx::Error> { r.try_get(col) };
    Ok(Source {
        id: r.try_get("id")?,
        kind: SourceKind::parse(&kind).ok_or_else(|| sqlx::Error::Decode(format!("source kind {kind:?}").into()))?,
        name: r.try_get("name")?,
        base_url: r.try_get("base_url")?,
        graphql_url: r.try_get("graphql_url")?,
        url: r.try_get("url")?,
        branch: r.try_get("branch")?,
        organization: r.try_get("organization")?,
        repositories: list("repositories")?.map(|t| decode_json(&t)).transpose()?.unwrap_or_default(),
        boards: list("boards")?.map(|t| decode_json(&t)).transpose()?.unwrap_or_default(),
        email: r.try_get("email")?,
        story_points_field: r.try_get("story_points_field")?,
        has_token: r.try_get::<i64, _>("has_token")? != 0,
        deleting: r.try_get::<String, _>("state")? == "deleting",
        demo: r.try_get::<i64, _>("demo")? != 0,
        created_at: r.try_get("created_at")?,
        created_by: r.try_get("created_by")?,
        updated_at: r.try_get("updated_at")?,
        updated_by: r.try_get("updated_by")?,
    })
}

pub(crate) async fn named(conn: &mut AnyConnection, name: &str) -> Result<bool, sqlx::Error> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM metrics_sources WHERE name_key = $1")
        .bind(name.to_lowercase())
        .fetch_one(conn)
        .await?;
    Ok(n > 0)
}

/// Stores a source; `demo`: a source of demo data, which no collector reads.
pub(crate) async fn insert(
    conn: &mut AnyConnection,
    id: &str,
    (s, demo): (&NewSource, bool),
    token_sealed: Option<&str>,
    by: &str,
    now: i64,
) -> Result<Source, sqlx::Error> {
    let json_list = |empty: bool, text: String| (!empty).then_some(text);
    sqlx::query(
        "INSERT INTO metrics_sources (id, kind, name, name_key, base_url, graphql_url, url, branch, organization, \
         repositories, boards, email, story_points_field, token_sealed, state, demo, created_at, created_by, updated_at, \
         updated_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, 'active', $17, $15, $16, $15, $16)",
    )
    .bind(id)
    .bind(s.kind.as_str())
    .bind(&s.name)
    .bind(s.name.to_lowercase())
    .bind(s.base_url.as_deref())
    .bind(s.graphql_url.as_deref())
    .bind(s.url.as_deref())
    .bind(s.branch.as_deref())
    .bind(s.organization.as_deref())
    .bind(json_list(s.repositories.is_empty(), serde_json::to_string(&s.repositories).unwrap_or_default()))
    .bind(json_list(s.boards.is_empty(), serde_json::to_string(&s.boards).unwrap_or_default()))
    .bind(s.email.as_deref())
    .bind(s.story_points_field.as_deref())
    .bind(token_sealed)
    .bind(now)
    .bind(by)
    .bind(i64::from(demo))
    .execute(&mut *conn)
    .await?;
    get(conn, id).await?.ok_or(sqlx::Error::RowNotFound)
}

/// Replaces a source's fields (and its sealed token when one is given).
pub(crate) async fn update(
    conn: &mut AnyConnection,
    id: &str,
    s: &NewSource,
    token_sealed: Option<&str>,
    by: &str,
    now: i64,
) -> Result<Source, sqlx::Error> {
    let json_list = |empty: bool, text: String| (!empty).then_some(text);
    sqlx::query(
        "UPDATE metrics_sources SET name = $2, name_key = $3, base_url = $4, graphql_url = $5, url = $6, branch = $7, \
         organization = $8, repositories = $9, boards = $10, email = $11, story_points_field = $12, \
         token_sealed = COALESCE($13, token_sealed), updated_at = $14, updated_by = $15 WHERE id = $1",
    )
    .bind(id)
    .bind(&s.name)
    .bind(s.name.to_lowercase())
    .bind(s.base_url.as_deref())
    .bind(s.graphql_url.as_deref())
    .bind(s.url.as_deref())
    .bind(s.branch.as_deref())
    .bind(s.organization.as_deref())
    .bind(json_list(s.repositories.is_empty(), serde_json::to_string(&s.repositories).unwrap_or_default()))
    .bind(json_list(s.boards.is_empty(), serde_json::to_string(&s.boards).unwrap_or_default()))
    .bind(s.email.as_deref())
    .bind(s.story_points_field.as_deref())
    .bind(token_sealed)
    .bind(now)
    .bind(by)
    .execute(&mut *conn)
    .await?;
    get(conn, id).await?.ok_or(sqlx::Error::RowNotFound)
}

pub(crate) async fn get(conn: &mut AnyConnection, id: &str) -> Result<Option<Source>, sqlx::Error> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM metrics_sources WHERE id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(source).transpose()
}

pub(crate) async fn list(conn: &mut AnyConnection) -> Result<Vec<Source>, sqlx::Error> {
    let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM metrics_sources ORDER BY id")).fetch_all(conn).await?;
    rows.iter().map(source).collect()
}

pub(crate) async fn sealed_token(conn: &mut AnyConnection, id: &str) -> Result<Option<String>, sqlx::Error> {
    let token: Option<Option<String>> = sqlx::query_scalar("SELECT token_sealed FROM metrics_sources WHERE id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await?;
    Ok(token.flatten())
}

pub(crate) async fn mark_deleting(conn: &mut AnyConnection, id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE metrics_sources SET state = 'deleting', updated_at = $2 WHERE id = $1 AND state <> 'deleting'")
        .bind(id)
        .bind(now_ms())
        .execute(conn)
        .await?;
    Ok(())
}

pub(crate) async fn delete(conn: &mut AnyConnection, id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM metrics_sources WHERE id = $1").bind(id).execute(conn).await?;
    Ok(())
}

/// Every table holding a source's rows, with its key after `source_id`.
const SOURCE_TABLES: [(&str, &str); 20] = [
    ("metrics_person_days", "person_key, day"),
    ("metrics_commit_pull_requests", "repository_id, sha, pr_number"),
    ("metrics_commits", "repository_id, sha"),
    ("metrics_pull_requests", "repository_id, number"),
    ("metrics_reviews", "review_id"),
    ("metrics_comments", "kind, comment_id"),
    ("metrics_deployments", "deployment_id"),
    ("metrics_releases", "release_id"),
    ("metrics_repositories", "repository_id"),
    ("metrics_sprint_issues", "sprint_id, issue_id, added_at"),
    ("metrics_sprint_commitments", "sprint_id, issue_id"),
    ("metrics_sprint_snapshots", "sprint_id"),
    ("metrics_sprint_completions", "sprint_id, issue_id"),
    ("metrics_sprint_completion_snapshots", "sprint_id"),
    ("metrics_sprints", "sprint_id"),
    ("metrics_boards", "board_id"),
    ("metrics_worklogs", "worklog_id"),
    ("metrics_issues", "issue_id"),
    ("metrics_source_cursors", "name"),
    ("metrics_runs", "id"),
];

/// Deletes up to `batch` of the source's rows, table by table (its rollups first, so that
/// no rollup outlives the rows it sums); how many went.
pub(crate) async fn purge_batch(conn: &mut AnyConnection, id: &str, batch: i64) -> Result<u64, sqlx::Error> {
    let mut left = batch.max(1);
    let mut removed = 0;
    for (table, key) in SOURCE_TABLES {
        if left == 0 {
            break;
        }
        // `metrics_runs` names its source in `source_id` too; its key is `id`.
        let sql = format!(
            "DELETE FROM {table} WHERE source_id = $1 AND ({key}) IN \
             (SELECT {key} FROM {table} WHERE source_id = $1 LIMIT $2)"
        );
        let n = sqlx::query(&sql).bind(id).bind(left).execute(&mut *conn).await?.rows_affected();
        removed += n;
        left -= n as i64;
    }
    Ok(removed)
}

pub(crate) async fn cursor(conn: &mut AnyConnection, source: &str, name: &str) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT value FROM metrics_source_cursors WHERE source_id = $1 AND name = $2")
        .bind(source)
        .bind(name)
        .fetch_optional(conn)
        .await
}

/// Removes a collector's named value for the source, on the page's transaction.
pub async fn remove_cursor(conn: &mut AnyConnection, source: &SourceId, name: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM metrics_source_cursors WHERE source_id = $1 AND name = $2")
        .bind(source.to_string())
        .bind(name)
        .execute(conn)
        .await?;
    Ok(())
}

/// Sets a collector's named value for the source, on the page's transaction.
pub async fn set_cursor(
    conn: &mut AnyConnection,
    source: &SourceId,
    name: &str,
    value: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO metrics_source_cursors (source_id, name, value, updated_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (source_id, name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
    )
    .bind(source.to_string())
    .bind(name)
    .bind(value)
    .bind(now_ms())
    .execute(conn)
    .await?;
    Ok(())
}
