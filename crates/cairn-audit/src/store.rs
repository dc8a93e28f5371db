//! SQL for the audit tables; one text for both backends except where noted.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use cairn_store::sqlx::any::{AnyArguments, AnyRow};
use cairn_store::sqlx::query::Query;
use cairn_store::sqlx::{self, Any, AnyConnection, Row};
use cairn_store::{Backend, Db};

use crate::model::{ActionPattern, AuditCursor, AuditEntry, AuditFilter, Change, Param};

const COLUMNS: &str = "seq, id, time, actor_id, actor_email, action, resource_type, resource_id, outcome, details, \
                       ip, user_agent, request_id, prev_hash, hash";

fn entry(row: &AnyRow) -> Result<AuditEntry, sqlx::Error> {
    Ok(AuditEntry {
        seq: row.try_get("seq")?,
        id: row.try_get("id")?,
        time: row.try_get("time")?,
        actor_id: row.try_get("actor_id")?,
        actor_email: row.try_get("actor_email")?,
        action: row.try_get("action")?,
        resource_type: row.try_get("resource_type")?,
        resource_id: row.try_get("resource_id")?,
        outcome: row.try_get("outcome")?,
        details: row.try_get("details")?,
        ip: row.try_get("ip")?,
        user_agent: row.try_get("user_agent")?,
        request_id: row.try_get("request_id")?,
        prev_hash: row.try_get("prev_hash")?,
        hash: row.try_get("hash")?,
    })
}

/// SQLite: the entries not yet in the filter indexes (migration 0002 adds each run of
/// [`INDEX_BATCH`] entries to them when its last entry is appended). A listing reads them
/// through the primary key: a range of at most `INDEX_BATCH - 1` rows at the chain's end.
const SQLITE_UNINDEXED: &str = "seq > (SELECT seq - seq % 32 FROM audit_head WHERE id = 1) AND indexed = 0";

/// SQLite: the entries in the batched indexes, the predicate of those partial indexes
/// (which a query must repeat to use them).
const SQLITE_INDEXED: &str = "indexed = 1";

/// A query for `columns` of every entry matching `condition`: on SQLite, the indexed
/// entries and the newest, unindexed ones.
fn every_entry(backend: Backend, columns: &str, condition: &str) -> String {
    match backend {
        Backend::Postgres => format!("SELECT {columns} FROM audit_entries WHERE {condition}"),
        Backend::Sqlite => format!(
            "SELECT {columns} FROM audit_entries WHERE {SQLITE_INDEXED} AND {condition} \
             UNION ALL SELECT {columns} FROM audit_entries WHERE {SQLITE_UNINDEXED} AND {condition}"
        ),
    }
}

/// The run length of SQLite's batched indexes; the `32` of migration 0002's trigger and
/// of [`SQLITE_UNINDEXED`].
pub(crate) const INDEX_BATCH: i64 = 32;

/// Makes the transaction just begun on `conn` one consistent, read-only snapshot (SQLite's
/// transactions already are: one writer, and readers see the state they began in).
pub(crate) async fn snapshot(conn: &mut AnyConnection, backend: Backend) -> Result<(), sqlx::Error> {
    if backend == Backend::Postgres {
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY").execute(conn).await?;
    }
    Ok(())
}

pub(crate) async fn head(conn: &mut AnyConnection) -> Result<(i64, String), sqlx::Error> {
    let row = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1").fetch_one(&mut *conn).await?;
    Ok((row.try_get("seq")?, row.try_get("hash")?))
}

/// `$from, $from+1, …` for `count` parameters.
fn params(from: usize, count: usize) -> String {
    (from..from + count).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

fn bind_change<'q>(
    mut q: Query<'q, Any, AnyArguments<'q>>,
    change: Option<&'q Change>,
) -> Query<'q, Any, AnyArguments<'q>> {
    for p in change.map(|c| c.params.as_slice()).unwrap_or_default() {
        q = match p {
            Param::Text(v) => q.bind(v.as_str()),
            Param::OptText(v) => q.bind(v.as_deref()),
            Param::Int(v) => q.bind(*v),
            Param::Float(v) => q.bind(*v),
        };
    }
    q
}

/// The text of the append statement after `change`'s (or alone), built once per change
/// statement and backend.
///
/// PostgreSQL: one statement locks and moves the head (computing the link hash from the
/// entry's content digest), and inserts the entry; the change's own statement runs first
/// in the same statement (a data-modifying `WITH`), so a change and its audit entry cost
/// one round trip. SQLite: the change's statement, then the insert, in one call.
fn append_sql(backend: Backend, change: Option<&Change>) -> Arc<str> {
    /// Keyed by (PostgreSQL?, the change's statement or "").
    type Built = HashMap<(bool, &'static str), Arc<str>>;
    static BUILT: LazyLock<Mutex<Built>> = LazyLock::new(Default::default);
    let key = (backend == Backend::Postgres, change.map_or("", |c| c.sql));
    let mut built = BUILT.lock().expect("append statements");
    let sql = built.entry(key).or_insert_with(|| {
        let o = change.map_or(0, |c| c.params.len());
        match backend {
            Backend::Postgres => {
                let prefix = change.map(|c| format!("change AS ({}), ", c.sql)).unwrap_or_default();
                format!(
                    "WITH {prefix}head AS ( \
                         UPDATE audit_head SET prev = hash, seq = seq + 1, \
                             hash = encode(sha256(convert_to(hash || ':' || (seq + 1)::text || ':' || ${}::text, 'UTF8')), 'hex') \
                         WHERE id = 1 RETURNING seq, prev, hash) \
                     INSERT INTO audit_entries ({COLUMNS}) \
                     SELECT head.seq, {}, head.prev, head.hash FROM head \
                     RETURNING seq, prev_hash, hash",
                    o + 1,
                    params(o + 2, 12)
                )
                .into()
            }
            Backend::Sqlite => {
                let prefix = change.map(|c| format!("{}; ", c.sql)).unwrap_or_default();
                format!("{prefix}INSERT INTO audit_entries ({COLUMNS}) VALUES ({})", params(o + 1, 15)).into()
            }
        }
    });
    sql.clone()
}

/// PostgreSQL: appends `e` (with `change` first, when given) at the head, in one
/// statement. Returns (seq, prev_hash, hash).
pub(crate) async fn append_postgres(
    conn: &mut AnyConnection,
    e: &AuditEntry,
    content_digest: &str,
    change: Option<&Change>,
) -> Result<(i64, String, String), sqlx::Error> {
    let sql = append_sql(Backend::Postgres, change);
    let q = bind_change(sqlx::query(&sql), change).bind(content_digest);
    let row = bind_content(q, e).fetch_one(&mut *conn).await?;
    Ok((row.try_get("seq")?, row.try_get("prev_hash")?, row.try_get("hash")?))
}

/// SQLite: inserts `e` at the position its `seq`/`prev_hash` claim, after the `change`'s
/// statement when given (both in one call). The chain triggers refuse the entry when that
/// is not the current head (`Ok(false)`: the entry's statement is undone, the change's is
/// not, the transaction goes on) and otherwise move the head.
pub(crate) async fn append_sqlite(
    conn: &mut AnyConnection,
    e: &AuditEntry,
    change: Option<&Change>,
) -> Result<bool, sqlx::Error> {
    let sql = append_sql(Backend::Sqlite, change);
    let q = bind_change(sqlx::query(&sql), change).bind(e.seq);
    let inserted = bind_content(q, e).bind(&e.prev_hash).bind(&e.hash).execute(&mut *conn).await;
    match inserted {
        Ok(_) => Ok(true),
        Err(sqlx::Error::Database(d)) if d.message().contains("audit chain head moved") => Ok(false),
        Err(e) => Err(e),
    }
}

/// Binds the content columns, `id` … `request_id`, in `COLUMNS` order.
fn bind_content<'q>(q: Query<'q, Any, AnyArguments<'q>>, e: &'q AuditEntry) -> Query<'q, Any, AnyArguments<'q>> {
    q.bind(&e.id)
        .bind(e.time)
        .bind(&e.actor_id)
        .bind(&e.actor_email)
        .bind(&e.action)
        .bind(&e.resource_type)
        .bind(&e.resource_id)
        .bind(&e.outcome)
        .bind(&e.details)
        .bind(&e.ip)
        .bind(&e.user_agent)
        .bind(&e.request_id)
}

enum Bind {
    Int(i64),
    Text(String),
}

/// A prefix filter (`user.*`) is answered as a merge of one index range per action under
/// the prefix, each already in listing order, so a page reads at most `limit` entries of
/// each action instead of sorting every match. Past this many actions it is one range
/// over the prefix, sorted.
const MERGED_ACTIONS: usize = 64;

/// `[prefix, upper)`: every action under `prefix` (which ends in '.'); '/' follows '.'
/// in byte order.
fn prefix_range(prefix: &str) -> (String, String) {
    (prefix.to_owned(), format!("{}/", &prefix[..prefix.len() - 1]))
}

/// The actions present under `prefix`, found by stepping through the action index (one
/// probe per action); `None` when there are more than [`MERGED_ACTIONS`]. On SQLite, those
/// of indexed entries: the unindexed are read by a range anyway.
async fn actions_under(db: &Db, prefix: &str) -> Result<Option<Vec<String>>, sqlx::Error> {
    let (sql, binds) = actions_under_sql(db.backend(), prefix);
    let rows = bound(&sql, binds).fetch_all(db.reader()).await?;
    let actions: Vec<String> = rows.iter().map(|r| r.try_get(0)).collect::<Result<_, _>>()?;
    Ok((actions.len() <= MERGED_ACTIONS).then_some(actions))
}

fn actions_under_sql(backend: Backend, prefix: &str) -> (String, Vec<Bind>) {
    let indexed = if backend == Backend::Sqlite { format!("{SQLITE_INDEXED} AND ") } else { String::new() };
    let (lo, hi) = prefix_range(prefix);
    let sql = format!(
        "WITH RECURSIVE found(action) AS ( \
             SELECT (SELECT MIN(action) FROM audit_entries WHERE {indexed}action >= $1 AND action < $2) \
             UNION ALL \
             SELECT (SELECT MIN(action) FROM audit_entries WHERE {indexed}action > found.action AND action < $2) \
             FROM found WHERE found.action IS NOT NULL) \
         SELECT action FROM found WHERE action IS NOT NULL LIMIT $3"
    );
    (sql, vec![Bind::Text(lo), Bind::Text(hi), Bind::Int(MERGED_ACTIONS as i64 + 1)])
}

/// The listing query for `filter`, newest first. Each filter column leads one index that
/// ends in `(time, seq)`, so every filter is an index range read in listing order: one
/// range, or one per action of a prefix (`prefix_actions`, from [`actions_under`]),
/// merged. On SQLite the entries not yet indexed join them through a primary-key range.
fn list_sql(
    backend: Backend,
    filter: &AuditFilter,
    prefix_actions: Option<&[String]>,
    after: Option<AuditCursor>,
    limit: i64,
) -> (String, Vec<Bind>) {
    let mut binds = Vec::new();
    let mut bind = |v: Bind| {
        binds.push(v);
        format!("${}", binds.len())
    };
    let mut common = Vec::new();
    if let Some(u) = &filter.user {
        common.push(format!("actor_id = {}", bind(Bind::Text(u.clone()))));
    }
    if let Some(t) = &filter.resource_type {
        common.push(format!("resource_type = {}", bind(Bind::Text(t.clone()))));
    }
    if let Some(r) = &filter.resource_id {
        common.push(format!("resource_id = {}", bind(Bind::Text(r.clone()))));
    }
    if let Some(f) = filter.from {
        common.push(format!("time >= {}", bind(Bind::Int(f))));
    }
    if let Some(t) = filter.to {
        common.push(format!("time < {}", bind(Bind::Int(t))));
    }
    if let Some(c) = after {
        let (t, q) = (bind(Bind::Int(c.time)), bind(Bind::Int(c.seq)));
        common.push(format!("(time, seq) < ({t}, {q})"));
    }
    // The action clause of each indexed arm, and the one for SQLite's unindexed entries.
    let (arms, unindexed_action) = match &filter.action {
        None => (vec![None], None),
        Some(ActionPattern::Exact(a)) => {
            let clause = format!("action = {}", bind(Bind::Text(a.clone())));
            (vec![Some(clause.clone())], Some(clause))
        }
        Some(ActionPattern::Prefix(p)) => {
            // Too many actions to merge, or none (its empty range costs nothing): one range.
            let merged = prefix_actions.filter(|actions| !actions.is_empty());
            let range = (merged.is_none() || backend == Backend::Sqlite).then(|| {
                let (lo, hi) = prefix_range(p);
                format!("action >= {} AND action < {}", bind(Bind::Text(lo)), bind(Bind::Text(hi)))
            });
            match merged {
                Some(actions) => {
                    (actions.iter().map(|a| Some(format!("action = {}", bind(Bind::Text(a.clone()))))).collect(), range)
                }
                None => (vec![range.clone()], range),
            }
        }
    };
    let limit = format!("LIMIT {}", bind(Bind::Int(limit)));
    const NEWEST_FIRST: &str = "ORDER BY time DESC, seq DESC";
    let conditions = |first: &str, action: Option<&String>| {
        let all: Vec<&str> = [first]
            .into_iter()
            .chain(action.map(String::as_str))
            .chain(common.iter().map(String::as_str))
            .filter(|c| !c.is_empty())
            .collect();
        if all.is_empty() { String::new() } else { format!(" WHERE {}", all.join(" AND ")) }
    };
    let indexed = if backend == Backend::Sqlite { SQLITE_INDEXED } else { "" };
    let mut parts: Vec<String> = arms
        .iter()
        .map(|action| {
            format!(
                "SELECT {COLUMNS} FROM audit_entries{} {NEWEST_FIRST} {limit}",
                conditions(indexed, action.as_ref())
            )
        })
        .collect();
    if backend == Backend::Sqlite {
        let unindexed = conditions(SQLITE_UNINDEXED, unindexed_action.as_ref());
        parts.push(format!("SELECT {COLUMNS} FROM audit_entries{unindexed} {NEWEST_FIRST} {limit}"));
    }
    let sql = match parts.as_slice() {
        [one] => one.clone(),
        _ => {
            let merged: Vec<String> = parts.iter().map(|p| format!("SELECT {COLUMNS} FROM ({p}) AS arm")).collect();
            format!("{} {NEWEST_FIRST} {limit}", merged.join(" UNION ALL "))
        }
    };
    (sql, binds)
}

fn bound<'q>(sql: &'q str, binds: Vec<Bind>) -> Query<'q, Any, AnyArguments<'q>> {
    let mut q = sqlx::query(sql);
    for b in binds {
        q = match b {
            Bind::Int(i) => q.bind(i),
            Bind::Text(s) => q.bind(s),
        };
    }
    q
}

/// The actions a prefix filter merges, when it is one and there are few enough of them.
async fn prefix_actions(db: &Db, filter: &AuditFilter) -> Result<Option<Vec<String>>, sqlx::Error> {
    match &filter.action {
        Some(ActionPattern::Prefix(p)) => actions_under(db, p).await,
        _ => Ok(None),
    }
}

pub(crate) async fn list(
    db: &Db,
    filter: &AuditFilter,
    after: Option<AuditCursor>,
    limit: i64,
) -> Result<Vec<AuditEntry>, sqlx::Error> {
    let actions = prefix_actions(db, filter).await?;
    let (sql, binds) = list_sql(db.backend(), filter, actions.as_deref(), after, limit);
    let rows = bound(&sql, binds).fetch_all(db.reader()).await?;
    rows.iter().map(entry).collect()
}

/// The query plans of the listing for `filter` (with a prefix, of finding its actions
/// too), one line per plan row.
pub(crate) async fn explain(db: &Db, filter: &AuditFilter) -> Result<Vec<String>, sqlx::Error> {
    let actions = prefix_actions(db, filter).await?;
    let mut queries = vec![list_sql(
        db.backend(),
        filter,
        actions.as_deref(),
        Some(AuditCursor { time: i64::MAX, seq: i64::MAX }),
        100,
    )];
    if let Some(ActionPattern::Prefix(p)) = &filter.action {
        queries.push(actions_under_sql(db.backend(), p));
    }
    let mut lines = Vec::new();
    for (sql, binds) in queries {
        match db.backend() {
            Backend::Sqlite => {
                let sql = format!("EXPLAIN QUERY PLAN {sql}");
                let rows = bound(&sql, binds).fetch_all(db.reader()).await?;
                for r in &rows {
                    lines.push(r.try_get::<String, _>("detail")?);
                }
            }
            Backend::Postgres => {
                // Tiny test tables make a sequential scan cheapest; forbid it to see which
                // index the planner would use.
                let mut tx = db.begin().await?;
                sqlx::query("SET LOCAL enable_seqscan = off").execute(&mut *tx).await?;
                let sql = format!("EXPLAIN {sql}");
                let rows = bound(&sql, binds).fetch_all(&mut *tx).await?;
                tx.rollback().await?;
                for r in &rows {
                    lines.push(r.try_get::<String, _>(0)?);
                }
            }
        }
    }
    Ok(lines)
}

pub(crate) async fn get(db: &Db, id: &str) -> Result<Option<AuditEntry>, sqlx::Error> {
    let sql = every_entry(db.backend(), COLUMNS, "id = $1");
    let row = sqlx::query(&sql).bind(id).fetch_optional(db.reader()).await?;
    row.as_ref().map(entry).transpose()
}

/// One entry in chain order, with whether it is in the filter indexes (always on
/// PostgreSQL, which indexes every entry as it is written).
pub(crate) struct ChainRow {
    pub entry: AuditEntry,
    pub indexed: bool,
}

/// Entries in chain order after `after_seq`, at most `batch`.
pub(crate) async fn chain_after(
    conn: &mut AnyConnection,
    backend: Backend,
    after_seq: i64,
    batch: i64,
) -> Result<Vec<ChainRow>, sqlx::Error> {
    let indexed = match backend {
        Backend::Sqlite => "indexed",
        Backend::Postgres => "1 AS indexed",
    };
    let rows =
        sqlx::query(&format!("SELECT {COLUMNS}, {indexed} FROM audit_entries WHERE seq > $1 ORDER BY seq LIMIT $2"))
            .bind(after_seq)
            .bind(batch)
            .fetch_all(&mut *conn)
            .await?;
    rows.iter().map(|r| Ok(ChainRow { entry: entry(r)?, indexed: r.try_get::<i64, _>("indexed")? != 0 })).collect()
}

#[derive(Debug, Clone)]
pub(crate) struct CheckpointRow {
    pub seq: i64,
    pub hash: String,
    pub signature: String,
}

pub(crate) async fn checkpoints(conn: &mut AnyConnection) -> Result<Vec<CheckpointRow>, sqlx::Error> {
    let rows =
        sqlx::query("SELECT seq, hash, signature FROM audit_checkpoints ORDER BY seq").fetch_all(&mut *conn).await?;
    rows.iter()
        .map(|r| {
            Ok(CheckpointRow { seq: r.try_get("seq")?, hash: r.try_get("hash")?, signature: r.try_get("signature")? })
        })
        .collect()
}

pub(crate) async fn insert_checkpoint(
    db: &Db,
    seq: i64,
    hash: &str,
    time: i64,
    signature: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO audit_checkpoints (seq, hash, time, signature) VALUES ($1, $2, $3, $4) ON CONFLICT (seq) DO NOTHING",
    )
    .bind(seq)
    .bind(hash)
    .bind(time)
    .bind(signature)
    .execute(db.writer())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Deletes up to `batch` entries older than `before` that the newest checkpoint covers.
pub(crate) async fn prune_batch(db: &Db, before: i64, batch: i64) -> Result<u64, sqlx::Error> {
    const COVERED: &str = "time < $1 AND seq <= (SELECT COALESCE(MAX(seq), 0) FROM audit_checkpoints)";
    // On SQLite, a trail too quiet to fill a run of the batched indexes expires too.
    let expired = format!("{} ORDER BY seq LIMIT $2", every_entry(db.backend(), "seq", COVERED));
    let done = sqlx::query(&format!("DELETE FROM audit_entries WHERE seq IN ({expired})"))
        .bind(before)
        .bind(batch)
        .execute(db.writer())
        .await?;
    Ok(done.rows_affected())
}

pub(crate) async fn retention_days(db: &Db) -> Result<i64, sqlx::Error> {
    sqlx::query("SELECT retention_days FROM audit_settings WHERE id = 1").fetch_one(db.reader()).await?.try_get(0)
}

pub(crate) async fn set_retention_days(conn: &mut AnyConnection, days: i64) -> Result<i64, sqlx::Error> {
    let old: i64 = sqlx::query("SELECT retention_days FROM audit_settings WHERE id = 1")
        .fetch_one(&mut *conn)
        .await?
        .try_get(0)?;
    sqlx::query("UPDATE audit_settings SET retention_days = $1 WHERE id = 1").bind(days).execute(&mut *conn).await?;
    Ok(old)
}

/// The entries of `[from, to)` counted by action, actor and outcome.
pub(crate) async fn tally(db: &Db, from: i64, to: i64) -> Result<Vec<crate::service::Tally>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT action, actor_id, MAX(actor_email) AS actor_email, outcome, COUNT(*) AS entries FROM audit_entries \
         WHERE time >= $1 AND time < $2 GROUP BY action, actor_id, outcome ORDER BY action, actor_id, outcome",
    )
    .bind(from)
    .bind(to)
    .fetch_all(db.reader())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(crate::service::Tally {
                action: r.try_get("action")?,
                actor_id: r.try_get("actor_id")?,
                actor_email: r.try_get("actor_email")?,
                outcome: r.try_get("outcome")?,
                entries: r.try_get("entries")?,
            })
        })
        .collect()
}

/// The denied entries of `[from, to)`, oldest first, at most `limit`.
pub(crate) async fn denied(db: &Db, from: i64, to: i64, limit: i64) -> Result<Vec<AuditEntry>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM audit_entries WHERE time >= $1 AND time < $2 AND outcome = 'denied' \
         ORDER BY time, seq LIMIT $3"
    );
    let rows = sqlx::query(&sql).bind(from).bind(to).bind(limit).fetch_all(db.reader()).await?;
    rows.iter().map(entry).collect()
}

/// The newest checkpoint: its position and time.
pub(crate) async fn latest_checkpoint(db: &Db) -> Result<Option<(i64, i64)>, sqlx::Error> {
    let row = sqlx::query("SELECT seq, time FROM audit_checkpoints ORDER BY seq DESC LIMIT 1")
        .fetch_optional(db.reader())
        .await?;
    row.map(|r| Ok((r.try_get("seq")?, r.try_get("time")?))).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_unindexed_range_matches_the_batching_trigger() {
        let migration = include_str!("../migrations/sqlite/0002_batched_indexes.sql");
        assert!(migration.contains(&format!("WHEN NEW.seq % {INDEX_BATCH} = 0")), "{migration}");
        assert!(migration.contains(&format!("seq > NEW.seq - {INDEX_BATCH} AND seq <= NEW.seq")), "{migration}");
        assert!(SQLITE_UNINDEXED.contains(&format!("seq - seq % {INDEX_BATCH}")));
        assert!(migration.contains(&format!("(action, time, seq) WHERE {SQLITE_INDEXED};")), "{migration}");
    }
}
