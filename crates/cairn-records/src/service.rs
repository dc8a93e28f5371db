//! Use cases of records. Every change commits with its audit entries and its one event
//! (one per call, bulk calls included), then wakes the event workers.

use cairn_audit::{Action, Actor, AuditError, AuditService, NewEntry, Outcome, RequestMeta};
use cairn_domain::{TenantId, ValidationError, events, now_ms};
use cairn_events::{Bus, NewEvent};
use cairn_store::{Db, sqlx};
use serde_json::{Map, Value, json};

use crate::model::{MAX_BULK, PublishEntry, Record, RecordId, RecordInput, RecordPatch};
use crate::store;

#[derive(Debug, thiserror::Error)]
pub enum RecordsError {
    #[error("record not found")]
    NotFound,
    #[error(transparent)]
    Validation(#[from] ValidationError),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("audit: {0}")]
    Audit(#[from] AuditError),
}

/// Records of one tenant: its database, and the bus that wakes workers after a commit.
#[derive(Debug, Clone)]
pub struct Records<'a> {
    pub tenant: TenantId,
    pub db: &'a Db,
    pub bus: &'a Bus,
}

/// A page of records, newest first.
#[derive(Debug, Clone)]
pub struct RecordPage {
    pub items: Vec<Record>,
    pub next_cursor: Option<String>,
}

fn entry(actor: &Actor, action: &'static str, meta: &RequestMeta, id: &str) -> NewEntry {
    NewEntry::new(actor.clone(), Action::fixed(action), Outcome::Success, meta.clone()).resource("record", id)
}

impl Records<'_> {
    /// Creates 1 to 100 records in one transaction, with one `records_created` event.
    pub async fn create(
        &self,
        inputs: Vec<RecordInput>,
        actor: &Actor,
        meta: &RequestMeta,
    ) -> Result<Vec<Record>, RecordsError> {
        if inputs.is_empty() || inputs.len() > MAX_BULK {
            return Err(ValidationError::new("records", format!("give 1 to {MAX_BULK} records")).into());
        }
        let now = now_ms();
        let records: Vec<Record> = inputs
            .into_iter()
            .map(|i| Record {
                id: RecordId::new().to_string(),
                title: i.title,
                body: i.body,
                tags: i.tags,
                data: i.data,
                version: 0,
                created_at: now,
                created_by: actor.id.clone(),
                updated_at: now,
                updated_by: actor.id.clone(),
            })
            .collect();
        let mut tx = self.db.begin().await?;
        for r in &records {
            store::insert(&mut tx, r).await?;
            let e = entry(actor, "record.created", meta, &r.id).details(json!({ "title": r.title }));
            AuditService::record(self.db, &mut tx, e).await?;
        }
        let ids: Vec<&str> = records.iter().map(|r| r.id.as_str()).collect();
        let event = NewEvent {
            kind: events::RECORDS_CREATED,
            resource_type: "record",
            resource_id: if ids.len() == 1 { ids[0].to_owned() } else { "*".into() },
            payload: json!({ "ids": ids }),
        };
        cairn_events::emit(&mut tx, self.tenant, actor, event).await?;
        tx.commit().await?;
        self.bus.committed(self.tenant).await;
        Ok(records)
    }

    pub async fn get(&self, id: &RecordId) -> Result<Record, RecordsError> {
        store::get(&mut *self.db.reader().acquire().await?, &id.to_string()).await?.ok_or(RecordsError::NotFound)
    }

    /// A page of `limit` records older than `cursor`, newest first.
    pub async fn list(
        &self,
        limit: i64,
        cursor: Option<&RecordId>,
        tag: Option<&str>,
    ) -> Result<RecordPage, RecordsError> {
        let cursor = cursor.map(RecordId::to_string);
        let mut items = store::list(self.db, limit + 1, cursor.as_deref(), tag).await?;
        let more = items.len() as i64 > limit;
        items.truncate(limit as usize);
        let next_cursor = if more { items.last().map(|r| r.id.clone()) } else { None };
        Ok(RecordPage { items, next_cursor })
    }

    /// Applies a patch. A patch that changes nothing writes nothing and emits nothing;
    /// otherwise `record_updated` carries the changed fields' new values.
    pub async fn update(
        &self,
        id: &RecordId,
        patch: RecordPatch,
        actor: &Actor,
        meta: &RequestMeta,
    ) -> Result<Record, RecordsError> {
        let id = &id.to_string();
        let mut tx = self.db.begin().await?;
        let mut r = store::get(&mut tx, id).await?.ok_or(RecordsError::NotFound)?;
        let mut changed = Map::new();
        if let Some(t) = patch.title.filter(|t| *t != r.title) {
            changed.insert("title".into(), json!(t));
            r.title = t;
        }
        if let Some(b) = patch.body.filter(|b| *b != r.body) {
            changed.insert("body".into(), json!(b));
            r.body = b;
        }
        if let Some(t) = patch.tags.filter(|t| *t != r.tags) {
            changed.insert("tags".into(), json!(t));
            r.tags = t;
        }
        if let Some(d) = patch.data.filter(|d| *d != r.data) {
            changed.insert("data".into(), Value::Object(d.clone()));
            r.data = d;
        }
        if changed.is_empty() {
            return Ok(r);
        }
        r.updated_at = now_ms();
        r.updated_by = actor.id.clone();
        store::update(&mut tx, &r).await?;
        let fields: Vec<&String> = changed.keys().collect();
        AuditService::record(
            self.db,
            &mut tx,
            entry(actor, "record.updated", meta, id).details(json!({ "changed": fields })),
        )
        .await?;
        let event = NewEvent {
            kind: events::RECORD_UPDATED,
            resource_type: "record",
            resource_id: id.to_owned(),
            payload: json!({ "ids": [id], "changed": changed }),
        };
        cairn_events::emit(&mut tx, self.tenant, actor, event).await?;
        tx.commit().await?;
        self.bus.committed(self.tenant).await;
        Ok(r)
    }

    /// Deletes the records that exist among `ids` (1 to 100) with one `records_deleted`
    /// event naming them; returns their ids (none: nothing changed, no event).
    pub async fn delete(
        &self,
        ids: &[RecordId],
        actor: &Actor,
        meta: &RequestMeta,
    ) -> Result<Vec<String>, RecordsError> {
        if ids.is_empty() || ids.len() > MAX_BULK {
            return Err(ValidationError::new("ids", format!("give 1 to {MAX_BULK} ids")).into());
        }
        let mut tx = self.db.begin().await?;
        let mut deleted: Vec<String> = Vec::new();
        for id in ids.iter().map(RecordId::to_string) {
            if deleted.contains(&id) {
                continue;
            }
            if let Some(title) = store::delete(&mut tx, &id).await? {
                AuditService::record(
                    self.db,
                    &mut tx,
                    entry(actor, "record.deleted", meta, &id).details(json!({ "title": title })),
                )
                .await?;
                deleted.push(id);
            }
        }
        if deleted.is_empty() {
            return Ok(deleted);
        }
        let event = NewEvent {
            kind: events::RECORDS_DELETED,
            resource_type: "record",
            resource_id: if deleted.len() == 1 { deleted[0].clone() } else { "*".into() },
            payload: json!({ "ids": deleted }),
        };
        cairn_events::emit(&mut tx, self.tenant, actor, event).await?;
        tx.commit().await?;
        self.bus.committed(self.tenant).await;
        Ok(deleted)
    }

    /// Publishes the record's next version with a note: a publish-history entry and a
    /// `record_published` event (which subscribers are mailed about).
    pub async fn publish(
        &self,
        id: &RecordId,
        note: String,
        actor: &Actor,
        meta: &RequestMeta,
    ) -> Result<PublishEntry, RecordsError> {
        let id = &id.to_string();
        let mut tx = self.db.begin().await?;
        let mut r = store::get(&mut tx, id).await?.ok_or(RecordsError::NotFound)?;
        r.version += 1;
        let now = now_ms();
        let published = PublishEntry {
            record_id: r.id.clone(),
            version: r.version,
            publisher_id: actor.id.clone(),
            publisher_email: actor.email.clone(),
            time: now,
            note,
        };
        store::update(&mut tx, &r).await?;
        store::insert_publish(&mut tx, &published).await?;
        let details = json!({ "version": r.version, "note": published.note });
        AuditService::record(self.db, &mut tx, entry(actor, "record.published", meta, id).details(details)).await?;
        let event = NewEvent {
            kind: events::RECORD_PUBLISHED,
            resource_type: "record",
            resource_id: id.to_owned(),
            payload: json!({ "id": id, "title": r.title, "version": r.version, "note": published.note }),
        };
        cairn_events::emit(&mut tx, self.tenant, actor, event).await?;
        tx.commit().await?;
        self.bus.committed(self.tenant).await;
        Ok(published)
    }

    /// The record's publications, latest first.
    pub async fn history(&self, id: &RecordId) -> Result<Vec<PublishEntry>, RecordsError> {
        self.get(id).await?;
        Ok(store::history(self.db, &id.to_string(), None).await?)
    }

    /// At most `limit` of the record's publications older than version `before`, latest
    /// first: one page of its history.
    pub async fn history_before(
        &self,
        id: &RecordId,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<PublishEntry>, RecordsError> {
        self.get(id).await?;
        Ok(store::history(self.db, &id.to_string(), Some((before, limit))).await?)
    }
}
