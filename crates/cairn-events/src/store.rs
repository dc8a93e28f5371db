//! The SQL of the outbox and the deliveries. One text for both backends except the claim,
//! which locks with `FOR UPDATE SKIP LOCKED` on PostgreSQL (SQLite has one writer).

use cairn_audit::Actor;
use cairn_domain::TenantId;
use cairn_store::sqlx::{self, AnyConnection, Row, any::AnyRow};
use cairn_store::{Backend, Db};

use crate::model::{DeadLetter, Event};
use crate::webhooks::{Attempt, Webhook};

const EVENT_COLUMNS: &str =
    "id, type, time, actor_id, actor_email, resource_type, resource_id, payload, schema_version";

fn event(tenant: TenantId, r: &AnyRow) -> Result<Event, sqlx::Error> {
    let payload: String = r.try_get("payload")?;
    Ok(Event {
        id: r.try_get("id")?,
        kind: r.try_get("type")?,
        tenant,
        time: r.try_get("time")?,
        actor: Actor { id: r.try_get("actor_id")?, email: r.try_get("actor_email")? },
        resource_type: r.try_get("resource_type")?,
        resource_id: r.try_get("resource_id")?,
        payload: serde_json::from_str(&payload).map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
        schema_version: r.try_get("schema_version")?,
    })
}

pub(crate) async fn insert_event(conn: &mut AnyConnection, e: &Event) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO outbox (id, type, time, actor_id, actor_email, resource_type, resource_id, payload, schema_version) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&e.id)
    .bind(&e.kind)
    .bind(e.time)
    .bind(&e.actor.id)
    .bind(e.actor.email.as_deref())
    .bind(&e.resource_type)
    .bind(&e.resource_id)
    .bind(e.payload.to_string())
    .bind(e.schema_version)
    .execute(conn)
    .await?;
    Ok(())
}

pub(crate) async fn insert_delivery(
    conn: &mut AnyConnection,
    event_id: &str,
    consumer: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO deliveries (id, event_id, consumer, state, attempts, next_at, created_at, updated_at) \
         VALUES ($1, $2, $3, 'pending', 0, $4, $4, $4) ON CONFLICT (event_id, consumer) DO NOTHING",
    )
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(event_id)
    .bind(consumer)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Events no worker has dispatched yet, oldest first.
/// With `lock` (PostgreSQL), rows another dispatcher holds are skipped.
pub(crate) async fn undispatched(
    conn: &mut AnyConnection,
    limit: i64,
    lock: bool,
) -> Result<Vec<(String, String)>, sqlx::Error> {
    let lock = if lock { " FOR UPDATE SKIP LOCKED" } else { "" };
    let sql = format!("SELECT id, type FROM outbox WHERE dispatched_at IS NULL ORDER BY id LIMIT $1{lock}");
    let rows = sqlx::query(&sql).bind(limit).fetch_all(conn).await?;
    rows.iter().map(|r| Ok((r.try_get("id")?, r.try_get("type")?))).collect()
}

pub(crate) async fn mark_dispatched(conn: &mut AnyConnection, id: &str, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE outbox SET dispatched_at = $1 WHERE id = $2").bind(now).bind(id).execute(conn).await?;
    Ok(())
}

/// A delivery a worker holds the lease of.
#[derive(Debug, Clone)]
pub(crate) struct Claimed {
    pub id: String,
    pub event_id: String,
    pub consumer: String,
    /// Including this one.
    pub attempts: i64,
}

/// Leases up to `limit` due deliveries to `owner` until `until`; each claim counts as an
/// attempt, so a delivery that kills its worker every time still ends in dead letters.
pub(crate) async fn claim(
    db: &Db,
    owner: &str,
    lease_id: &str,
    now: i64,
    until: i64,
    limit: i64,
) -> Result<Vec<Claimed>, sqlx::Error> {
    let lock = match db.backend() {
        Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        Backend::Sqlite => "",
    };
    let sql = format!(
        "UPDATE deliveries SET lease_id = $1, lease_owner = $2, next_at = $3, attempts = attempts + 1, updated_at = $4 \
         WHERE id IN (SELECT id FROM deliveries WHERE state = 'pending' AND next_at <= $4 ORDER BY next_at, id LIMIT $5{lock}) \
         RETURNING id, event_id, consumer, attempts"
    );
    let rows =
        sqlx::query(&sql).bind(lease_id).bind(owner).bind(until).bind(now).bind(limit).fetch_all(db.writer()).await?;
    rows.iter()
        .map(|r| {
            Ok(Claimed {
                id: r.try_get("id")?,
                event_id: r.try_get("event_id")?,
                consumer: r.try_get("consumer")?,
                attempts: r.try_get("attempts")?,
            })
        })
        .collect()
}

pub(crate) async fn event_by_id(db: &Db, tenant: TenantId, id: &str) -> Result<Option<Event>, sqlx::Error> {
    let row = sqlx::query(&format!("SELECT {EVENT_COLUMNS} FROM outbox WHERE id = $1"))
        .bind(id)
        .fetch_optional(db.reader())
        .await?;
    row.map(|r| event(tenant, &r)).transpose()
}

/// How a claimed delivery ended. Each write is conditional on still holding the lease: a
/// worker that outlived its lease changes nothing.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Settle<'a> {
    Done,
    Retry { at: i64, error: &'a str },
    Dead { error: &'a str },
}

pub(crate) async fn settle(db: &Db, id: &str, lease_id: &str, now: i64, how: Settle<'_>) -> Result<bool, sqlx::Error> {
    let q = match how {
        Settle::Done => sqlx::query(
            "UPDATE deliveries SET state = 'done', lease_id = NULL, last_error = NULL, updated_at = $1 \
             WHERE id = $2 AND lease_id = $3",
        )
        .bind(now),
        Settle::Retry { .. } => sqlx::query(
            "UPDATE deliveries SET next_at = $4, lease_id = NULL, last_error = $5, updated_at = $1 \
             WHERE id = $2 AND lease_id = $3",
        )
        .bind(now),
        Settle::Dead { .. } => sqlx::query(
            "UPDATE deliveries SET state = 'dead', lease_id = NULL, last_error = $4, updated_at = $1 \
             WHERE id = $2 AND lease_id = $3",
        )
        .bind(now),
    };
    let q = q.bind(id).bind(lease_id);
    let q = match how {
        Settle::Done => q,
        Settle::Retry { at, error } => q.bind(at).bind(error),
        Settle::Dead { error } => q.bind(error),
    };
    Ok(q.execute(db.writer()).await?.rows_affected() == 1)
}

/// When the next pending delivery falls due (or its lease expires).
pub(crate) async fn next_due(db: &Db) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT MIN(next_at) FROM deliveries WHERE state = 'pending'").fetch_one(db.reader()).await
}

/// Whether any event awaits dispatch.
pub(crate) async fn has_undispatched(db: &Db) -> Result<bool, sqlx::Error> {
    let n: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM (SELECT 1 FROM outbox WHERE dispatched_at IS NULL LIMIT 1) AS u")
            .fetch_one(db.reader())
            .await?;
    Ok(n > 0)
}

/// Events a tenant's users may see: not Cairn's own `internal.*` work (account mail, reset
/// requests), whose payloads are sealed and whose existence is nobody else's business.
const PUBLIC: &str = "type NOT LIKE 'internal.%'";

pub(crate) async fn delivery_state(db: &Db, event_id: &str, consumer: &str) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT state FROM deliveries WHERE event_id = $1 AND consumer = $2")
        .bind(event_id)
        .bind(consumer)
        .fetch_optional(db.reader())
        .await
}

pub(crate) async fn recent(
    db: &Db,
    tenant: TenantId,
    limit: i64,
    before: Option<&str>,
) -> Result<Vec<Event>, sqlx::Error> {
    let rows = match before {
        Some(b) => {
            sqlx::query(&format!(
                "SELECT {EVENT_COLUMNS} FROM outbox WHERE id < $1 AND {PUBLIC} ORDER BY id DESC LIMIT $2"
            ))
            .bind(b)
            .bind(limit)
            .fetch_all(db.reader())
            .await?
        }
        None => {
            sqlx::query(&format!("SELECT {EVENT_COLUMNS} FROM outbox WHERE {PUBLIC} ORDER BY id DESC LIMIT $1"))
                .bind(limit)
                .fetch_all(db.reader())
                .await?
        }
    };
    rows.iter().map(|r| event(tenant, r)).collect()
}

pub(crate) async fn after(
    db: &Db,
    tenant: TenantId,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<Event>, sqlx::Error> {
    let rows =
        sqlx::query(&format!("SELECT {EVENT_COLUMNS} FROM outbox WHERE id > $1 AND {PUBLIC} ORDER BY id LIMIT $2"))
            .bind(after.unwrap_or(""))
            .bind(limit)
            .fetch_all(db.reader())
            .await?;
    rows.iter().map(|r| event(tenant, r)).collect()
}

/// Dead letters newest first (by delivery id), those older than `before` when given.
pub(crate) async fn dead_letters(db: &Db, before: Option<&str>, limit: i64) -> Result<Vec<DeadLetter>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT d.id, d.event_id, o.type, d.consumer, d.attempts, d.last_error, d.updated_at, o.time \
         FROM deliveries d JOIN outbox o ON o.id = d.event_id WHERE d.state = 'dead' \
         AND ($1 = '' OR d.id < $1) ORDER BY d.id DESC LIMIT $2",
    )
    .bind(before.unwrap_or(""))
    .bind(limit)
    .fetch_all(db.reader())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(DeadLetter {
                id: r.try_get(0)?,
                event_id: r.try_get(1)?,
                event_type: r.try_get(2)?,
                consumer: r.try_get(3)?,
                attempts: r.try_get(4)?,
                last_error: r.try_get(5)?,
                failed_at: r.try_get(6)?,
                event_time: r.try_get(7)?,
            })
        })
        .collect()
}

/// Moves one dead letter (or all) to `to`: `pending` (due now, attempts reset) or `discarded`.
pub(crate) async fn settle_dead(
    conn: &mut AnyConnection,
    id: Option<&str>,
    to: &str,
    now: i64,
) -> Result<u64, sqlx::Error> {
    let sql = "UPDATE deliveries SET state = $1, attempts = 0, next_at = $2, updated_at = $2 \
               WHERE state = 'dead' AND ($3 = '*' OR id = $3)";
    let done = sqlx::query(sql).bind(to).bind(now).bind(id.unwrap_or("*")).execute(conn).await?;
    Ok(done.rows_affected())
}

pub(crate) async fn sweep(db: &Db, before: i64, batch: i64) -> Result<u64, sqlx::Error> {
    let events = sqlx::query(
        "DELETE FROM outbox WHERE id IN (SELECT o.id FROM outbox o WHERE o.time < $1 AND o.dispatched_at IS NOT NULL \
         AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = o.id AND d.state IN ('pending', 'dead')) \
         ORDER BY o.id LIMIT $2)",
    )
    .bind(before)
    .bind(batch)
    .execute(db.writer())
    .await?;
    let attempts = sqlx::query(
        "DELETE FROM webhook_attempts WHERE id IN (SELECT id FROM webhook_attempts WHERE time < $1 ORDER BY id LIMIT $2)",
    )
    .bind(before)
    .bind(batch)
    .execute(db.writer())
    .await?;
    Ok(events.rows_affected() + attempts.rows_affected())
}

/// Control database: `tenant` has work due at `at` (or earlier, if it already had).
const MARK_DUE: &str = "INSERT INTO event_work (tenant_id, due_at) VALUES ($1, $2) ON CONFLICT (tenant_id) DO UPDATE \
                        SET due_at = CASE WHEN excluded.due_at < event_work.due_at THEN excluded.due_at ELSE event_work.due_at END";

pub(crate) async fn mark_due(control: &Db, tenant: TenantId, at: i64) -> Result<(), sqlx::Error> {
    sqlx::query(MARK_DUE).bind(tenant.to_string()).bind(at).execute(control.writer()).await?;
    Ok(())
}

/// PostgreSQL: marks the tenant due and notifies the channel in one statement.
pub(crate) async fn mark_due_and_notify(
    control: &Db,
    tenant: TenantId,
    at: i64,
    channel: &str,
) -> Result<(), sqlx::Error> {
    let sql = format!("WITH marked AS ({MARK_DUE}) SELECT pg_notify($3, $1)");
    sqlx::query(&sql).bind(tenant.to_string()).bind(at).bind(channel).execute(control.writer()).await?;
    Ok(())
}

/// Control database (PostgreSQL): `NOTIFY channel, '<tenant>'`.
pub(crate) async fn notify(control: &Db, channel: &str, tenant: TenantId) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_notify($1, $2)").bind(channel).bind(tenant.to_string()).execute(control.writer()).await?;
    Ok(())
}

/// Control database: tenants with work due by `until`.
pub(crate) async fn due_tenants(control: &Db, until: i64) -> Result<Vec<(TenantId, i64)>, sqlx::Error> {
    let rows = sqlx::query("SELECT tenant_id, due_at FROM event_work WHERE due_at <= $1 ORDER BY due_at LIMIT 10000")
        .bind(until)
        .fetch_all(control.reader())
        .await?;
    Ok(rows
        .iter()
        .filter_map(|r| {
            let id: String = r.try_get(0).ok()?;
            Some((id.parse().ok()?, r.try_get(1).ok()?))
        })
        .collect())
}

/// Control database: after a round that began at `started`, the tenant's next due time
/// (`None`: nothing pending). A mark newer than `started` (an event committed during the
/// round) is kept.
pub(crate) async fn settle_tenant(
    control: &Db,
    tenant: TenantId,
    next: Option<i64>,
    started: i64,
) -> Result<(), sqlx::Error> {
    match next {
        Some(at) => {
            sqlx::query(
                "INSERT INTO event_work (tenant_id, due_at) VALUES ($1, $2) ON CONFLICT (tenant_id) DO UPDATE \
                 SET due_at = CASE WHEN event_work.due_at <= $3 OR excluded.due_at < event_work.due_at \
                 THEN excluded.due_at ELSE event_work.due_at END",
            )
            .bind(tenant.to_string())
            .bind(at)
            .bind(started)
            .execute(control.writer())
            .await?;
        }
        None => {
            sqlx::query("DELETE FROM event_work WHERE tenant_id = $1 AND due_at <= $2")
                .bind(tenant.to_string())
                .bind(started)
                .execute(control.writer())
                .await?;
        }
    }
    Ok(())
}

// ---- webhooks ------------------------------------------------------------------------------

/// The columns `webhook_row` reads.
const HOOK_COLUMNS: &str = "id, url, events, created_at, created_by";

fn webhook_row(r: &AnyRow) -> Result<Webhook, sqlx::Error> {
    let events: String = r.try_get("events")?;
    Ok(Webhook {
        id: r.try_get("id")?,
        url: r.try_get("url")?,
        events: serde_json::from_str(&events).map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
        created_at: r.try_get("created_at")?,
        created_by: r.try_get("created_by")?,
    })
}

pub(crate) async fn count_webhooks(conn: &mut AnyConnection) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM webhooks").fetch_one(conn).await
}

/// Inserts `hook` with its secret sealed by the caller.
pub(crate) async fn insert_webhook(
    conn: &mut AnyConnection,
    hook: &Webhook,
    sealed_secret: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO webhooks (id, url, events, secret, created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&hook.id)
    .bind(&hook.url)
    .bind(serde_json::to_string(&hook.events).unwrap_or_default())
    .bind(sealed_secret)
    .bind(hook.created_at)
    .bind(&hook.created_by)
    .execute(conn)
    .await
    .map(drop)
}

pub(crate) async fn webhooks(conn: &mut AnyConnection) -> Result<Vec<Webhook>, sqlx::Error> {
    let rows = sqlx::query(&format!("SELECT {HOOK_COLUMNS} FROM webhooks ORDER BY id")).fetch_all(conn).await?;
    rows.iter().map(webhook_row).collect()
}

/// Webhooks in id order after `after` (a webhook id), at most `limit`.
pub(crate) async fn webhooks_after(db: &Db, after: Option<&str>, limit: i64) -> Result<Vec<Webhook>, sqlx::Error> {
    let rows = sqlx::query(&format!("SELECT {HOOK_COLUMNS} FROM webhooks WHERE id > $1 ORDER BY id LIMIT $2"))
        .bind(after.unwrap_or(""))
        .bind(limit)
        .fetch_all(db.reader())
        .await?;
    rows.iter().map(webhook_row).collect()
}

pub(crate) async fn webhook(conn: &mut AnyConnection, id: &str) -> Result<Option<Webhook>, sqlx::Error> {
    let row = sqlx::query(&format!("SELECT {HOOK_COLUMNS} FROM webhooks WHERE id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.map(|r| webhook_row(&r)).transpose()
}

/// The webhook and its sealed secret, for a delivery.
pub(crate) async fn webhook_with_secret(
    conn: &mut AnyConnection,
    id: &str,
) -> Result<Option<(Webhook, String)>, sqlx::Error> {
    let row = sqlx::query(&format!("SELECT {HOOK_COLUMNS}, secret FROM webhooks WHERE id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.map(|r| Ok((webhook_row(&r)?, r.try_get("secret")?))).transpose()
}

pub(crate) async fn update_webhook(conn: &mut AnyConnection, hook: &Webhook) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE webhooks SET url = $2, events = $3 WHERE id = $1")
        .bind(&hook.id)
        .bind(&hook.url)
        .bind(serde_json::to_string(&hook.events).unwrap_or_default())
        .execute(conn)
        .await
        .map(drop)
}

/// Whether the webhook existed.
pub(crate) async fn set_webhook_secret(conn: &mut AnyConnection, id: &str, sealed: &str) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("UPDATE webhooks SET secret = $2 WHERE id = $1").bind(id).bind(sealed).execute(conn).await?;
    Ok(done.rows_affected() > 0)
}

/// Whether the webhook existed.
pub(crate) async fn delete_webhook(conn: &mut AnyConnection, id: &str) -> Result<bool, sqlx::Error> {
    let gone = sqlx::query("DELETE FROM webhooks WHERE id = $1").bind(id).execute(conn).await?;
    Ok(gone.rows_affected() > 0)
}

/// Every webhook's id and event types, for the dispatcher.
pub(crate) async fn subscriptions(conn: &mut AnyConnection) -> Result<Vec<(String, Vec<String>)>, sqlx::Error> {
    let rows = sqlx::query("SELECT id, events FROM webhooks").fetch_all(conn).await?;
    rows.iter()
        .map(|r| {
            let events: String = r.try_get(1)?;
            Ok((r.try_get(0)?, serde_json::from_str(&events).unwrap_or_default()))
        })
        .collect()
}

/// A webhook's delivery log, newest first, before the attempt id `before`.
pub(crate) async fn webhook_attempts(
    conn: &mut AnyConnection,
    webhook_id: &str,
    limit: i64,
    before: Option<&str>,
) -> Result<Vec<Attempt>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, event_id, event_type, attempt, time, status, duration_ms, error FROM webhook_attempts \
         WHERE webhook_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3",
    )
    .bind(webhook_id)
    .bind(before.unwrap_or("~"))
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Attempt {
                id: r.try_get(0)?,
                event_id: r.try_get(1)?,
                event_type: r.try_get(2)?,
                attempt: r.try_get(3)?,
                time: r.try_get(4)?,
                status: r.try_get(5)?,
                duration_ms: r.try_get(6)?,
                error: r.try_get(7)?,
            })
        })
        .collect()
}

/// One POST to a receiver, for its delivery log.
pub(crate) struct NewAttempt<'a> {
    pub webhook_id: &'a str,
    pub event_id: &'a str,
    pub event_type: &'a str,
    pub attempt: i64,
    pub status: Option<i64>,
    pub duration_ms: i64,
    pub error: Option<&'a str>,
}

pub(crate) async fn log_attempt(conn: &mut AnyConnection, a: &NewAttempt<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO webhook_attempts (id, webhook_id, event_id, event_type, attempt, time, status, duration_ms, error) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(a.webhook_id)
    .bind(a.event_id)
    .bind(a.event_type)
    .bind(a.attempt)
    .bind(cairn_domain::now_ms())
    .bind(a.status)
    .bind(a.duration_ms)
    .bind(a.error)
    .execute(conn)
    .await
    .map(drop)
}
