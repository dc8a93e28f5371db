//! Sources: the GitHub organizations or repositories, Jira sites and git repositories a
//! tenant collects from. This module keeps their rows (the token sealed with the master key,
//! bound to the source's id) and removes a deleted source's collected rows batch by batch;
//! checking what a caller gives, and the credentials, comes before [`Metrics::add_source`].

mod check;
pub(crate) mod store;

pub use check::{GITHUB_API, SourceInput, SourcePatch};

use cairn_audit::{Action, Actor, AuditService, NewEntry, Outcome, RequestMeta};
use cairn_domain::{Id, IdKind, MasterKey, now_ms};
use serde_json::json;

use crate::{Metrics, MetricsError};

/// What a [`SourceId`] names.
#[derive(Debug)]
pub enum SourceIdKind {}

impl IdKind for SourceIdKind {
    const WHAT: &'static str = "source";
}

/// A source's id.
pub type SourceId = Id<SourceIdKind>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SourceKind {
    Github,
    Jira,
    Git,
}

impl SourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Github => "github",
            SourceKind::Jira => "jira",
            SourceKind::Git => "git",
        }
    }

    pub fn parse(s: &str) -> Option<SourceKind> {
        match s {
            "github" => Some(SourceKind::Github),
            "jira" => Some(SourceKind::Jira),
            "git" => Some(SourceKind::Git),
            _ => None,
        }
    }
}

/// A source as stored; its token never leaves sealed but through [`Metrics::source_token`].
#[derive(Debug, Clone, PartialEq)]
pub struct Source {
    pub id: String,
    pub kind: SourceKind,
    pub name: String,
    pub base_url: Option<String>,
    pub graphql_url: Option<String>,
    pub url: Option<String>,
    pub branch: Option<String>,
    pub organization: Option<String>,
    pub repositories: Vec<String>,
    pub boards: Vec<i64>,
    pub email: Option<String>,
    pub story_points_field: Option<String>,
    pub has_token: bool,
    /// Being deleted: its rows are going, it takes no new ones.
    pub deleting: bool,
    /// Holds demo data (`cairn demo seed`): it has no upstream, no collector reads it.
    pub demo: bool,
    pub created_at: i64,
    pub created_by: String,
    pub updated_at: i64,
    pub updated_by: String,
}

/// A source to store, its fields checked and its credentials tried by the caller.
#[derive(Debug, Clone, PartialEq)]
pub struct NewSource {
    pub kind: SourceKind,
    pub name: String,
    pub base_url: Option<String>,
    pub graphql_url: Option<String>,
    pub url: Option<String>,
    pub branch: Option<String>,
    pub organization: Option<String>,
    pub repositories: Vec<String>,
    pub boards: Vec<i64>,
    pub email: Option<String>,
    pub story_points_field: Option<String>,
    pub token: Option<String>,
}

/// What a sealed token is bound to: its source.
fn token_aad(id: &str) -> String {
    format!("metrics-source:{id}")
}

impl Metrics<'_> {
    /// Stores a source, its token sealed, with its audit entry (which names no secret).
    pub async fn add_source(
        &self,
        key: &MasterKey,
        new: NewSource,
        actor: &Actor,
        meta: &RequestMeta,
    ) -> Result<Source, MetricsError> {
        let id = SourceId::new().to_string();
        let sealed = new.token.as_deref().map(|t| key.seal(t.as_bytes(), &token_aad(&id)));
        let now = now_ms();
        let mut tx = self.db.begin().await?;
        if store::named(&mut tx, &new.name).await? {
            return Err(MetricsError::Conflict(format!("a source named {} exists", new.name)));
        }
        let source = store::insert(&mut tx, &id, (&new, false), sealed.as_deref(), &actor.id, now).await?;
        let entry =
            NewEntry::new(actor.clone(), Action::fixed("metrics.source_created"), Outcome::Success, meta.clone())
                .resource("metrics_source", &id)
                .details(json!({ "kind": source.kind.as_str(), "name": source.name }));
        AuditService::record(self.db, &mut tx, entry).await?;
        tx.commit().await?;
        Ok(source)
    }

    pub async fn source(&self, id: &SourceId) -> Result<Source, MetricsError> {
        let mut conn = self.db.reader().acquire().await?;
        store::get(&mut conn, &id.to_string()).await?.ok_or(MetricsError::NotFound("source"))
    }

    /// Every source, in creation order.
    pub async fn sources(&self) -> Result<Vec<Source>, MetricsError> {
        let mut conn = self.db.reader().acquire().await?;
        Ok(store::list(&mut conn).await?)
    }

    /// The source's token, opened: for the collector's requests only.
    pub async fn source_token(&self, key: &MasterKey, id: &SourceId) -> Result<Option<String>, MetricsError> {
        let id = id.to_string();
        let mut conn = self.db.reader().acquire().await?;
        let Some(sealed) = store::sealed_token(&mut conn, &id).await? else { return Ok(None) };
        let plain = key.open(&sealed, &token_aad(&id)).map_err(|e| MetricsError::Corrupt {
            table: "metrics_sources",
            reason: format!("the token of source {id} does not open: {e}"),
        })?;
        String::from_utf8(plain)
            .map(Some)
            .map_err(|_| MetricsError::Corrupt { table: "metrics_sources", reason: format!("token of {id}") })
    }

    /// Deletes a source: from now on it takes no rows and is not listed, and workers remove
    /// its collected rows batch by batch ([`Metrics::purge_source`]).
    pub async fn delete_source(&self, id: &SourceId, actor: &Actor, meta: &RequestMeta) -> Result<(), MetricsError> {
        let current = self.source(id).await?;
        if current.deleting {
            return Err(MetricsError::NotFound("source"));
        }
        let mut tx = self.db.begin().await?;
        store::mark_deleting(&mut tx, &current.id).await?;
        let entry =
            NewEntry::new(actor.clone(), Action::fixed("metrics.source_deleted"), Outcome::Success, meta.clone())
                .resource("metrics_source", &current.id)
                .details(json!({ "kind": current.kind.as_str(), "name": current.name }));
        AuditService::record(self.db, &mut tx, entry).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Removes up to `batch` of a source's collected rows (with what they added to the
    /// rollups) and, once none is left, the source itself; marks it as being deleted first,
    /// so no page adds rows meanwhile. Returns how many rows went; 0 once the source is gone.
    pub async fn purge_source(&self, id: &SourceId, batch: i64) -> Result<u64, MetricsError> {
        let id = id.to_string();
        let mut tx = self.db.begin().await?;
        store::mark_deleting(&mut tx, &id).await?;
        let removed = store::purge_batch(&mut tx, &id, batch).await?;
        if removed == 0 {
            store::delete(&mut tx, &id).await?;
        }
        tx.commit().await?;
        Ok(removed)
    }

    /// A collector's named value for the source (a watermark, an ETag).
    pub async fn source_cursor(&self, id: &SourceId, name: &str) -> Result<Option<String>, MetricsError> {
        let mut conn = self.db.reader().acquire().await?;
        Ok(store::cursor(&mut conn, &id.to_string(), name).await?)
    }
}

pub use store::{remove_cursor, set_cursor};
