//! Use cases of the numbers store. Callers pass the tenant's database, already chosen
//! from the verified principal.

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
}

#[derive(Debug, Clone, Copy, Default)]
pub struct NumbersService;

impl NumbersService {
    pub async fn create(db: &Db, value: NumberValue, actor: &str) -> Result<NumberItem, NumbersError> {
        let item = NumberItem {
            id: NumberId::new().to_string(),
            value: value.get(),
            created_at: now_ms(),
            created_by: actor.to_owned(),
        };
        store::insert(db, &item).await?;
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

    pub async fn delete(db: &Db, id: NumberId) -> Result<(), NumbersError> {
        if store::delete(db, &id.to_string()).await? { Ok(()) } else { Err(NumbersError::NotFound) }
    }

    pub async fn stats(db: &Db) -> Result<NumberStats, NumbersError> {
        Ok(store::stats(db).await?)
    }
}
