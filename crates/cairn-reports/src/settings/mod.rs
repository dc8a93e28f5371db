//! A tenant's report settings: how long a report (and its file) is kept, and how long a
//! download link lasts. A change applies to reports rendered after it; a link never outlasts
//! its report.

use cairn_audit::{Action, Actor, AuditService, NewEntry, Outcome, RequestMeta};
use cairn_domain::{ValidationError, now_ms};
use cairn_store::Db;
use serde_json::{Map, json};

use crate::jobs::JobError;

mod store;

/// Days a report is kept: 1–365, 30 by default.
pub const KEEP_DAYS: (i64, i64, i64) = (1, 365, 30);
/// Days a download link lasts: 1–7 (the longest an S3 presigned URL may last), 7 by default.
pub const LINK_DAYS: (i64, i64, i64) = (1, 7, 7);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportSettings {
    pub keep_days: i64,
    pub link_days: i64,
}

impl Default for ReportSettings {
    fn default() -> Self {
        ReportSettings { keep_days: KEEP_DAYS.2, link_days: LINK_DAYS.2 }
    }
}

fn days(v: i64, field: &str, (min, max, _): (i64, i64, i64)) -> Result<i64, ValidationError> {
    if (min..=max).contains(&v) {
        Ok(v)
    } else {
        Err(ValidationError::new(field, format!("must be a whole number of days from {min} to {max}")))
    }
}

impl ReportSettings {
    pub fn parse(keep_days: i64, link_days: i64) -> Result<ReportSettings, ValidationError> {
        Ok(ReportSettings {
            keep_days: days(keep_days, "keep_days", KEEP_DAYS)?,
            link_days: days(link_days, "link_days", LINK_DAYS)?,
        })
    }

    pub async fn read(db: &Db) -> Result<ReportSettings, JobError> {
        Ok(store::get(db).await?.unwrap_or_default())
    }

    /// Stores `self`, recorded as `report_settings.updated` with what changed (nothing is
    /// recorded when nothing did).
    pub async fn save(&self, db: &Db, actor: &Actor, meta: &RequestMeta) -> Result<(), JobError> {
        let current = ReportSettings::read(db).await?;
        let mut changed = Map::new();
        if self.keep_days != current.keep_days {
            changed.insert("keep_days".into(), json!(self.keep_days));
        }
        if self.link_days != current.link_days {
            changed.insert("link_days".into(), json!(self.link_days));
        }
        if changed.is_empty() {
            return Ok(());
        }
        let mut tx = db.begin().await?;
        store::put(&mut tx, self, now_ms()).await?;
        let entry =
            NewEntry::new(actor.clone(), Action::fixed("report_settings.updated"), Outcome::Success, meta.clone())
                .resource("report_settings", "reports")
                .details(json!({ "changed": changed }));
        AuditService::record(db, &mut tx, entry).await?;
        tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_checked_field_by_field() {
        assert_eq!(ReportSettings::parse(30, 7), Ok(ReportSettings::default()));
        assert_eq!(ReportSettings::parse(0, 7).unwrap_err().field, "keep_days");
        assert_eq!(ReportSettings::parse(366, 7).unwrap_err().field, "keep_days");
        assert_eq!(ReportSettings::parse(30, 8).unwrap_err().field, "link_days");
        assert_eq!(ReportSettings::parse(1, 1), Ok(ReportSettings { keep_days: 1, link_days: 1 }));
    }
}
