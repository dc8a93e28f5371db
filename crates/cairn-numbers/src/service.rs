//! Use cases of the numbers store. Callers pass the tenant's database, already chosen
//! from the verified principal. Every change commits together with its audit entry.

use cairn_audit::{Action, Actor, AuditError, AuditService, NewEntry, Outcome, RequestMeta};
use cairn_domain::now_ms;
use cairn_store::Db;
use cairn_store::sqlx;

use crate::model::{Cursor, NumberId, NumberItem, NumberStats, NumberValue, Page, PageLimit};
use crate::store;

#[derive(Debug, thiserror::Error)]
pub enum NumbersError {
    #[error("number not found")]
    NotFound,
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("audit: {0}")]
    Audit(#[from] AuditError),
}

#[derive(Debug, Clone, Copy, Default)]
pub struct NumbersService;

impl NumbersService {
    pub async fn create(
        db: &Db,
        value: NumberValue,
        actor: &Actor,
        meta: &RequestMeta,
    ) -> Result<NumberItem, NumbersError> {
        let item = NumberItem {
            id: NumberId::new().to_string(),
            value: value.get(),
            created_at: now_ms(),
            created_by: actor.id.clone(),
        };
        let mut tx = db.begin().await?;
        store::add_to_totals(&mut tx, item.value).await?;
        let entry = NewEntry::new(actor.clone(), Action::fixed("number.created"), Outcome::Success, meta.clone())
            .resource("number", &item.id)
            .details(serde_json::json!({ "value": item.value }));
        // The insert and its audit entry in one round trip.
        AuditService::record_with(db, &mut tx, store::insert_change(&item), entry).await?;
        tx.commit().await?;
        Ok(item)
    }

    /// Newest first; `next_cursor` is set when more items may follow.
    pub async fn list(db: &Db, limit: PageLimit, cursor: Option<&Cursor>) -> Result<Page<NumberItem>, NumbersError> {
        let mut items = store::list(db, limit.get() + 1, cursor).await?;
        let more = items.len() as i64 > limit.get();
        items.truncate(limit.get() as usize);
        let next_cursor = if more { items.last().map(|i| Cursor::after(&i.id)) } else { None };
        Ok(Page { items, next_cursor })
    }

    pub async fn get(db: &Db, id: NumberId) -> Result<NumberItem, NumbersError> {
        store::get(db, &id.to_string()).await?.ok_or(NumbersError::NotFound)
    }

    pub async fn delete(db: &Db, id: NumberId, actor: &Actor, meta: &RequestMeta) -> Result<(), NumbersError> {
        let id = id.to_string();
        let mut tx = db.begin().await?;
        let Some(item) = store::get_in(&mut tx, &id).await? else {
            return Err(NumbersError::NotFound);
        };
        store::delete(&mut tx, &item).await?;
        let entry = NewEntry::new(actor.clone(), Action::fixed("number.deleted"), Outcome::Success, meta.clone())
            .resource("number", &id)
            .details(serde_json::json!({ "value": item.value }));
        AuditService::record(db, &mut tx, entry).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Count, sum, min, max and mean of every number, from totals that each insert and
    /// delete keeps in its own transaction (one row read, whatever the table holds).
    pub async fn stats(db: &Db) -> Result<NumberStats, NumbersError> {
        Ok(store::stats(db).await?)
    }
}
