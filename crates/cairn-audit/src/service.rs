//! Use cases of the audit trail.

use std::collections::{BTreeMap, HashMap};
use std::sync::{LazyLock, Mutex};

use cairn_domain::now_ms;
use cairn_store::sqlx::{self, AnyConnection, Connection};
use cairn_store::{Backend, Db};
use serde_json::{Value, json};

use crate::chain::{GENESIS, content_digest, entry_hash, link_hash};
use crate::model::{AuditCursor, AuditEntry, AuditFilter, AuditLimit, Change, EntryId, NewEntry, RetentionDays};
use crate::store;

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("signing a checkpoint: {0}")]
    Signing(String),
    #[error("the audit chain head kept moving under this append")]
    HeadMoved,
}

/// The chain head each SQLite database had after this process's last append, keyed by
/// file. On SQLite all of a process's writes to a file go through one connection, so the
/// cache is current unless another process wrote or an append's transaction rolled back.
static SQLITE_HEADS: LazyLock<Mutex<HashMap<String, (i64, String)>>> = LazyLock::new(Default::default);

/// Signs and verifies checkpoints with the platform signing key.
pub trait Signer: Send + Sync {
    fn sign_checkpoint(&self, claims: &Value) -> Result<String, String>;
    /// The claims of a checkpoint signature made by one of the platform's keys.
    fn verify_checkpoint(&self, signature: &str) -> Result<Value, String>;
}

/// Where verification found the chain broken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub seq: Option<i64>,
    pub id: Option<String>,
    pub reason: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.seq, &self.id) {
            (Some(seq), Some(id)) => write!(f, "entry {seq} ({id}): {}", self.reason),
            (Some(seq), None) => write!(f, "position {seq}: {}", self.reason),
            _ => f.write_str(&self.reason),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    pub entries: u64,
    pub checkpoints: usize,
    pub first_seq: Option<i64>,
    pub head_seq: i64,
    /// The first break found, if any.
    pub violation: Option<Violation>,
}

/// How many entries an action, an actor and an outcome have in a period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tally {
    pub action: String,
    pub actor_id: String,
    pub actor_email: Option<String>,
    pub outcome: String,
    pub entries: i64,
}

/// A signed checkpoint of the chain: the position it covers and when it was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checkpoint {
    pub seq: i64,
    pub time: i64,
}

const VERIFY_BATCH: i64 = 2000;

#[derive(Debug, Clone, Copy, Default)]
pub struct AuditService;

impl AuditService {
    /// Appends `entry` inside the caller's transaction on `db`: it commits or rolls back
    /// with the change it records. One statement on PostgreSQL (locking the head until the
    /// transaction ends); one on SQLite while this process's cached head is current.
    pub async fn record(db: &Db, conn: &mut AnyConnection, entry: NewEntry) -> Result<AuditEntry, AuditError> {
        Self::append(db, conn, None, entry).await
    }

    /// Runs `change` and records `entry` in one round trip, on `conn` (the change's
    /// transaction): the cheapest way for a change of one statement to be audited.
    pub async fn record_with(
        db: &Db,
        conn: &mut AnyConnection,
        change: Change,
        entry: NewEntry,
    ) -> Result<AuditEntry, AuditError> {
        Self::append(db, conn, Some(&change), entry).await
    }

    async fn append(
        db: &Db,
        conn: &mut AnyConnection,
        mut change: Option<&Change>,
        entry: NewEntry,
    ) -> Result<AuditEntry, AuditError> {
        let mut e = AuditEntry {
            seq: 0,
            id: EntryId::new().to_string(),
            time: now_ms(),
            actor_id: entry.actor.id,
            actor_email: entry.actor.email,
            action: entry.action.as_str().to_owned(),
            resource_type: entry.resource_type,
            resource_id: entry.resource_id,
            outcome: entry.outcome.as_str().to_owned(),
            details: entry.details.to_string(),
            ip: entry.meta.ip,
            user_agent: entry.meta.user_agent,
            request_id: entry.meta.request_id,
            prev_hash: String::new(),
            hash: String::new(),
        };
        let digest = content_digest(&e);
        if db.backend() == Backend::Postgres {
            (e.seq, e.prev_hash, e.hash) = store::append_postgres(conn, &e, &digest, change).await?;
            return Ok(e);
        }
        // SQLite: another process (the CLI) or a rolled-back transaction may have left the
        // cache behind; the triggers refuse a stale append and we read the head again.
        for _ in 0..3 {
            let cached = SQLITE_HEADS.lock().expect("head cache").get(db.name()).cloned();
            let (seq, hash) = match cached {
                Some(head) => head,
                None => store::head(conn).await?,
            };
            e.seq = seq + 1;
            e.prev_hash = hash;
            e.hash = link_hash(&e.prev_hash, e.seq, &digest);
            let appended = store::append_sqlite(conn, &e, change).await?;
            // The change ran, whether or not the entry went in: never again.
            change = None;
            if appended {
                let mut heads = SQLITE_HEADS.lock().expect("head cache");
                let head = (e.seq, e.hash.clone());
                if let Some(cached) = heads.get_mut(db.name()) {
                    *cached = head;
                } else {
                    heads.insert(db.name().to_owned(), head);
                }
                return Ok(e);
            }
            SQLITE_HEADS.lock().expect("head cache").remove(db.name());
        }
        Err(AuditError::HeadMoved)
    }

    /// Appends `entry` in a transaction of its own (denials, custom entries).
    pub async fn record_now(db: &Db, entry: NewEntry) -> Result<AuditEntry, AuditError> {
        let mut tx = db.begin().await?;
        let e = Self::record(db, &mut tx, entry).await?;
        tx.commit().await?;
        Ok(e)
    }

    /// Newest first, with the cursor of the next page when more may follow.
    pub async fn list(
        db: &Db,
        filter: &AuditFilter,
        after: Option<AuditCursor>,
        limit: AuditLimit,
    ) -> Result<(Vec<AuditEntry>, Option<AuditCursor>), AuditError> {
        let mut items = store::list(db, filter, after, limit.get() + 1).await?;
        let more = items.len() as i64 > limit.get();
        items.truncate(limit.get() as usize);
        let next = if more { items.last().map(|e| AuditCursor { time: e.time, seq: e.seq }) } else { None };
        Ok((items, next))
    }

    /// The entries of `[from, to)` (epoch ms) counted by action, actor and outcome.
    pub async fn tally(db: &Db, from: i64, to: i64) -> Result<Vec<Tally>, AuditError> {
        Ok(store::tally(db, from, to).await?)
    }

    /// The denied entries of `[from, to)`, oldest first, at most `limit`.
    pub async fn denied(db: &Db, from: i64, to: i64, limit: i64) -> Result<Vec<AuditEntry>, AuditError> {
        Ok(store::denied(db, from, to, limit).await?)
    }

    /// The newest signed checkpoint, if any.
    pub async fn latest_checkpoint(db: &Db) -> Result<Option<Checkpoint>, AuditError> {
        Ok(store::latest_checkpoint(db).await?.map(|(seq, time)| Checkpoint { seq, time }))
    }

    pub async fn get(db: &Db, id: &EntryId) -> Result<Option<AuditEntry>, AuditError> {
        Ok(store::get(db, &id.to_string()).await?)
    }

    /// The database's query plan for listing with `filter`.
    pub async fn explain(db: &Db, filter: &AuditFilter) -> Result<Vec<String>, AuditError> {
        Ok(store::explain(db, filter).await?)
    }

    /// Records the chain head as a signed checkpoint, unless it already is one. `scope`
    /// names the chain (a tenant id, or `platform`) so a checkpoint cannot be replayed onto
    /// another chain. Returns the checkpointed position, if a new one was made.
    pub async fn checkpoint(db: &Db, signer: &dyn Signer, scope: &str) -> Result<Option<i64>, AuditError> {
        let mut conn = db.reader().acquire().await?;
        let (seq, hash) = store::head(&mut conn).await?;
        drop(conn);
        if seq == 0 {
            return Ok(None);
        }
        let time = now_ms();
        let claims = json!({"typ": "cairn-audit-checkpoint", "scope": scope, "seq": seq, "hash": hash, "time": time});
        let signature = signer.sign_checkpoint(&claims).map_err(AuditError::Signing)?;
        let created = store::insert_checkpoint(db, seq, &hash, time, &signature).await?;
        Ok(created.then_some(seq))
    }

    /// Deletes entries older than the retention period, `batch` at a time, each batch its
    /// own short transaction so writers are never held up for long. Only entries a
    /// checkpoint covers are deleted, so what remains stays verifiable.
    pub async fn sweep(db: &Db, now: i64, batch: i64) -> Result<u64, AuditError> {
        let days = store::retention_days(db).await?;
        let before = now - days * 86_400_000;
        let mut total = 0;
        loop {
            let n = store::prune_batch(db, before, batch).await?;
            total += n;
            if n < batch as u64 {
                return Ok(total);
            }
        }
    }

    pub async fn retention(db: &Db) -> Result<RetentionDays, AuditError> {
        let days = store::retention_days(db).await?;
        Ok(RetentionDays::parse(days).unwrap_or(RetentionDays::parse(30).expect("30 is valid")))
    }

    /// Changes the retention period and records the change in the same transaction.
    pub async fn set_retention(db: &Db, days: RetentionDays, audit: NewEntry) -> Result<i64, AuditError> {
        let mut tx = db.begin().await?;
        let old = store::set_retention_days(&mut tx, days.get()).await?;
        let entry = NewEntry { details: json!({"retention_days": {"from": old, "to": days.get()}}), ..audit };
        Self::record(db, &mut tx, entry).await?;
        tx.commit().await?;
        Ok(old)
    }

    /// Walks the whole chain in one consistent snapshot and reports the first break.
    pub async fn verify(db: &Db, signer: &dyn Signer, scope: &str) -> Result<VerifyReport, AuditError> {
        let mut conn = db.reader().acquire().await?;
        let mut tx = conn.begin().await?;
        store::snapshot(&mut tx, db.backend()).await?;
        let report = verify_in(&mut tx, db.backend(), signer, scope).await;
        tx.rollback().await?;
        report
    }
}

async fn verify_in(
    conn: &mut AnyConnection,
    backend: Backend,
    signer: &dyn Signer,
    scope: &str,
) -> Result<VerifyReport, AuditError> {
    let (head_seq, head_hash) = store::head(conn).await?;
    // SQLite's batched indexes hold every entry up to the head's last full run.
    let indexed_through = head_seq - head_seq % store::INDEX_BATCH;
    let rows = store::checkpoints(conn).await?;
    let mut report = VerifyReport { entries: 0, checkpoints: rows.len(), first_seq: None, head_seq, violation: None };
    let fail =
        |seq: Option<i64>, id: Option<&str>, reason: String| Violation { seq, id: id.map(str::to_owned), reason };

    // Checkpoints first: each must carry a valid signature over exactly its row.
    let mut checkpoints = BTreeMap::new();
    for cp in &rows {
        let claims = match signer.verify_checkpoint(&cp.signature) {
            Ok(c) => c,
            Err(e) => {
                report.violation = Some(fail(Some(cp.seq), None, format!("checkpoint signature invalid: {e}")));
                return Ok(report);
            }
        };
        let matches = claims["typ"] == "cairn-audit-checkpoint"
            && claims["scope"] == scope
            && claims["seq"] == cp.seq
            && claims["hash"] == cp.hash.as_str();
        if !matches {
            report.violation = Some(fail(Some(cp.seq), None, "checkpoint row differs from what was signed".into()));
            return Ok(report);
        }
        if cp.seq > head_seq {
            report.violation = Some(fail(
                Some(cp.seq),
                None,
                format!("checkpoint is past the chain head {head_seq}: entries were removed"),
            ));
            return Ok(report);
        }
        checkpoints.insert(cp.seq, cp.hash.clone());
    }
    let newest_checkpoint = checkpoints.keys().next_back().copied().unwrap_or(0);

    let mut prev: Option<(i64, String)> = None;
    let mut after = 0;
    loop {
        let batch = store::chain_after(conn, backend, after, VERIFY_BATCH).await?;
        let Some(last) = batch.last() else { break };
        after = last.entry.seq;
        for store::ChainRow { entry: e, indexed } in &batch {
            let at = |reason: String| Some(fail(Some(e.seq), Some(&e.id), reason));
            let expected_prev = match &prev {
                Some((seq, hash)) => {
                    if e.seq != seq + 1 {
                        report.violation = at(format!("follows entry {seq}: entries are missing or out of order"));
                        return Ok(report);
                    }
                    Some(hash.clone())
                }
                None => {
                    report.first_seq = Some(e.seq);
                    if e.seq == 1 {
                        Some(GENESIS.to_owned())
                    } else if e.seq - 1 > newest_checkpoint {
                        report.violation = at(format!(
                            "entries before {} are missing and no checkpoint covers them (newest checkpoint: {newest_checkpoint})",
                            e.seq
                        ));
                        return Ok(report);
                    } else {
                        // Pruned by retention; anchored by a checkpoint at or after it.
                        checkpoints.get(&(e.seq - 1)).cloned()
                    }
                }
            };
            if let Some(p) = expected_prev
                && e.prev_hash != p
            {
                report.violation = at("does not link to the entry before it".into());
                return Ok(report);
            }
            if entry_hash(e) != e.hash {
                report.violation = at("content does not match its hash: the entry was altered".into());
                return Ok(report);
            }
            if let Some(h) = checkpoints.get(&e.seq)
                && *h != e.hash
            {
                report.violation = at("differs from the signed checkpoint at this position".into());
                return Ok(report);
            }
            if e.seq > head_seq {
                report.violation = at(format!("lies beyond the recorded chain head {head_seq}: it was inserted"));
                return Ok(report);
            }
            if !indexed && e.seq <= indexed_through {
                report.violation = at("is missing from the filter indexes: it was hidden from queries".into());
                return Ok(report);
            }
            report.entries += 1;
            prev = Some((e.seq, e.hash.clone()));
        }
    }
    match prev {
        Some((seq, hash)) if seq != head_seq || hash != head_hash => {
            report.violation = Some(fail(
                Some(seq),
                None,
                format!("the last entry is not the recorded head {head_seq}: entries were removed from the end"),
            ));
        }
        None if head_seq != 0 && checkpoints.get(&head_seq) != Some(&head_hash) => {
            report.violation = Some(fail(
                None,
                None,
                format!("no entries remain but the head is {head_seq} with no checkpoint there"),
            ));
        }
        _ => {}
    }
    Ok(report)
}

/// The API and export form of an entry (shared by HTTP and the CLI, hence defined here).
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct AuditEntryView {
    pub id: String,
    /// Position in the tenant's hash chain.
    pub seq: i64,
    /// RFC 3339, UTC.
    pub time: String,
    pub actor: ActorView,
    /// Dotted action name, e.g. `number.created`, `access.denied`.
    pub action: String,
    pub resource: ResourceView,
    /// `success`, `failure` or `denied`.
    pub outcome: String,
    #[schema(value_type = Object)]
    pub details: Value,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    /// SHA-256 of this entry's canonical encoding, chained through `prev_hash`.
    pub hash: String,
    pub prev_hash: String,
}

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct ActorView {
    /// User id or service-token subject.
    pub id: String,
    pub email: Option<String>,
}

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct ResourceView {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub id: Option<String>,
}

impl From<&AuditEntry> for AuditEntryView {
    fn from(e: &AuditEntry) -> Self {
        Self {
            id: e.id.clone(),
            seq: e.seq,
            time: cairn_domain::rfc3339(e.time),
            actor: ActorView { id: e.actor_id.clone(), email: e.actor_email.clone() },
            action: e.action.clone(),
            resource: ResourceView { kind: e.resource_type.clone(), id: e.resource_id.clone() },
            outcome: e.outcome.clone(),
            details: serde_json::from_str(&e.details).unwrap_or(Value::Null),
            ip: e.ip.clone(),
            user_agent: e.user_agent.clone(),
            request_id: e.request_id.clone(),
            hash: e.hash.clone(),
            prev_hash: e.prev_hash.clone(),
        }
    }
}

/// Export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Jsonl,
    Csv,
}

const CSV_HEADER: [&str; 14] = [
    "id",
    "seq",
    "time",
    "actor_id",
    "actor_email",
    "action",
    "resource_type",
    "resource_id",
    "outcome",
    "details",
    "ip",
    "user_agent",
    "request_id",
    "hash",
];

/// One export chunk: the rows of `entries` (with the CSV header first when `header`).
pub fn export_chunk(entries: &[AuditEntry], format: ExportFormat, header: bool) -> Vec<u8> {
    match format {
        ExportFormat::Jsonl => {
            let mut out = Vec::new();
            for e in entries {
                let line = serde_json::to_vec(&AuditEntryView::from(e)).expect("entries serialize");
                out.extend_from_slice(&line);
                out.push(b'\n');
            }
            out
        }
        ExportFormat::Csv => {
            let mut w = csv::Writer::from_writer(Vec::new());
            if header {
                let _ = w.write_record(CSV_HEADER);
            }
            for e in entries {
                let seq = e.seq.to_string();
                let time = cairn_domain::rfc3339(e.time);
                let opt = |v: &Option<String>| v.clone().unwrap_or_default();
                let row = [
                    e.id.as_str(),
                    &seq,
                    &time,
                    &e.actor_id,
                    &opt(&e.actor_email),
                    &e.action,
                    &opt(&e.resource_type),
                    &opt(&e.resource_id),
                    &e.outcome,
                    &e.details,
                    &opt(&e.ip),
                    &opt(&e.user_agent),
                    &opt(&e.request_id),
                    &e.hash,
                ];
                let _ = w.write_record(row.map(|cell| csv_cell(cell).into_owned()));
            }
            w.into_inner().unwrap_or_default()
        }
    }
}

/// A CSV cell that a spreadsheet shows as text: a value a caller chose (a user agent, a
/// resource id, an email) that begins with `=`, `+`, `-`, `@`, tab or carriage return
/// would otherwise run as a formula when the export is opened (OWASP "CSV injection"), so
/// it gets a leading `'`.
pub fn csv_cell(value: &str) -> std::borrow::Cow<'_, str> {
    match value.as_bytes().first() {
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r') => format!("'{value}").into(),
        _ => value.into(),
    }
}

/// The export of every entry matching `filter`, newest first, as a stream of chunks read
/// a page at a time, so an export of any size holds one page in memory.
pub fn export_stream(
    db: Db,
    filter: AuditFilter,
    format: ExportFormat,
) -> impl futures_util::Stream<Item = Result<Vec<u8>, AuditError>> + Send + 'static {
    struct Position {
        after: Option<AuditCursor>,
        first: bool,
        done: bool,
    }
    let start = Position { after: None, first: true, done: false };
    futures_util::stream::unfold((db, filter, start), move |(db, filter, pos)| async move {
        if pos.done {
            return None;
        }
        let page = AuditLimit::parse(Some(EXPORT_PAGE)).expect("valid page size");
        match AuditService::list(&db, &filter, pos.after, page).await {
            Ok((items, next)) => {
                let chunk = export_chunk(&items, format, pos.first);
                let pos = Position { after: next, first: false, done: next.is_none() };
                Some((Ok(chunk), (db, filter, pos)))
            }
            Err(e) => Some((Err(e), (db, filter, Position { done: true, ..pos }))),
        }
    })
}

const EXPORT_PAGE: i64 = 1000;

#[cfg(test)]
mod tests {
    use super::csv_cell;

    #[test]
    fn csv_cells_that_a_spreadsheet_would_run_are_quoted() {
        for formula in ["=HYPERLINK(\"http://evil\",\"x\")", "+1", "-1+2", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(csv_cell(formula), format!("'{formula}"), "{formula:?}");
        }
        for plain in ["", "number.created", "a=b", "{\"k\":\"=x\"}", "'=already"] {
            assert_eq!(csv_cell(plain), plain, "{plain:?}");
        }
    }
}
