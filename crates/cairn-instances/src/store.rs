//! The SQL of cloud accounts (one text for both backends).

use cairn_store::sqlx::{self, AnyConnection, Row, any::AnyRow};

use crate::model::{Account, AccountAuth};

const COLUMNS: &str = "id, name, regions, access_key_id, role_arn, external_id, endpoint_url, aws_account_id, \
                       created_at, created_by, updated_at, updated_by";

/// An account row to write: its fields, the sealed secret (`None` keeps the stored one on
/// update; a role account stores none).
#[derive(Debug)]
pub(crate) struct AccountRow<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub regions: &'a [String],
    pub auth: &'a AccountAuth,
    pub secret_sealed: Option<&'a str>,
    pub endpoint_url: Option<&'a str>,
    pub aws_account_id: &'a str,
    pub by: &'a str,
    pub now: i64,
}

fn account(r: &AnyRow) -> Result<Account, sqlx::Error> {
    let regions: String = r.try_get("regions")?;
    let regions = serde_json::from_str(&regions).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
    let key: Option<String> = r.try_get("access_key_id")?;
    let role: Option<String> = r.try_get("role_arn")?;
    let auth = match (key, role) {
        (Some(access_key_id), None) => AccountAuth::Keys { access_key_id },
        (None, Some(role_arn)) => AccountAuth::Role { role_arn, external_id: r.try_get("external_id")? },
        _ => return Err(sqlx::Error::Decode("an account holds one kind of credentials".into())),
    };
    Ok(Account {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        regions,
        auth,
        endpoint_url: r.try_get("endpoint_url")?,
        aws_account_id: r.try_get("aws_account_id")?,
        created_at: r.try_get("created_at")?,
        created_by: r.try_get("created_by")?,
        updated_at: r.try_get("updated_at")?,
        updated_by: r.try_get("updated_by")?,
    })
}

fn parts(auth: &AccountAuth) -> (Option<&str>, Option<&str>, Option<&str>) {
    match auth {
        AccountAuth::Keys { access_key_id } => (Some(access_key_id), None, None),
        AccountAuth::Role { role_arn, external_id } => (None, Some(role_arn), external_id.as_deref()),
    }
}

/// `sql` with the row's values bound: `$1` id, `$2` name, `$3` regions, `$4` access key id,
/// `$5` sealed secret, `$6` role, `$7` external id, `$8` endpoint, `$9` AWS account, `$10`
/// time, `$11` actor.
fn bound<'q>(sql: &'q str, a: &'q AccountRow<'_>) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    let (key, role, external) = parts(a.auth);
    sqlx::query(sql)
        .bind(a.id)
        .bind(a.name)
        .bind(serde_json::to_string(a.regions).unwrap_or_default())
        .bind(key)
        .bind(a.secret_sealed)
        .bind(role)
        .bind(external)
        .bind(a.endpoint_url)
        .bind(a.aws_account_id)
        .bind(a.now)
        .bind(a.by)
}

pub(crate) async fn insert(conn: &mut AnyConnection, a: &AccountRow<'_>) -> Result<(), sqlx::Error> {
    const SQL: &str = "INSERT INTO instances_accounts (id, name, regions, access_key_id, secret_sealed, role_arn, \
                       external_id, endpoint_url, aws_account_id, created_at, created_by, updated_at, updated_by) \
                       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $10, $11)";
    bound(SQL, a).execute(conn).await?;
    Ok(())
}

/// Replaces the fields of an account still at `version` (its `updated_at` when read); `false`
/// when it changed meanwhile. A role account drops any stored secret; a key account keeps its
/// secret unless a new one is given.
pub(crate) async fn update(conn: &mut AnyConnection, a: &AccountRow<'_>, version: i64) -> Result<bool, sqlx::Error> {
    const SQL: &str = "UPDATE instances_accounts SET name = $2, regions = $3, access_key_id = $4, \
                       secret_sealed = CASE WHEN $6 IS NOT NULL THEN NULL ELSE COALESCE($5, secret_sealed) END, \
                       role_arn = $6, external_id = $7, endpoint_url = $8, aws_account_id = $9, updated_at = $10, \
                       updated_by = $11 WHERE id = $1 AND updated_at = $12";
    Ok(bound(SQL, a).bind(version).execute(conn).await?.rows_affected() == 1)
}

pub(crate) async fn get(conn: &mut AnyConnection, id: &str) -> Result<Option<Account>, sqlx::Error> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM instances_accounts WHERE id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(account).transpose()
}

pub(crate) async fn named(conn: &mut AnyConnection, name: &str) -> Result<Option<Account>, sqlx::Error> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM instances_accounts WHERE name = $1"))
        .bind(name)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(account).transpose()
}

/// Every account, by name.
pub(crate) async fn list(conn: &mut AnyConnection) -> Result<Vec<Account>, sqlx::Error> {
    let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM instances_accounts ORDER BY name")).fetch_all(conn).await?;
    rows.iter().map(account).collect()
}

pub(crate) async fn sealed_secret(conn: &mut AnyConnection, id: &str) -> Result<Option<String>, sqlx::Error> {
    let row =
        sqlx::query("SELECT secret_sealed FROM instances_accounts WHERE id = $1").bind(id).fetch_optional(conn).await?;
    row.map(|r| r.try_get("secret_sealed")).transpose().map(Option::flatten)
}

pub(crate) async fn delete(conn: &mut AnyConnection, id: &str) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query("DELETE FROM instances_accounts WHERE id = $1").bind(id).execute(conn).await?.rows_affected() > 0)
}
