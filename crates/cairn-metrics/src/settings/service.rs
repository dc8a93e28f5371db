//! Reading and changing the settings. A new time zone moves every event to the local day it
//! has there, so the change rebuilds the daily rollups from the collected rows in its own
//! transaction: readers see the old days or the new ones, never a mix.

use cairn_audit::{Action, Actor, AuditService, NewEntry, Outcome, RequestMeta};
use cairn_domain::now_ms;
use serde_json::{Map, Value, json};

use super::{Settings, SettingsInput, store};
use crate::collected::rollup::Bots;
use crate::{Metrics, MetricsError, collected};

impl Metrics<'_> {
    pub async fn settings(&self) -> Result<Settings, MetricsError> {
        let mut conn = self.db.reader().acquire().await?;
        Ok(store::get(&mut conn, self.db.backend(), false).await?)
    }

    /// Replaces the settings. Nothing changed: nothing written, nothing audited.
    pub async fn update_settings(
        &self,
        input: SettingsInput,
        actor: &Actor,
        meta: &RequestMeta,
    ) -> Result<Settings, MetricsError> {
        let mut tx = self.db.begin().await?;
        let current = store::get(&mut tx, self.db.backend(), true).await?;
        let mut changed = Map::new();
        if input.time_zone != current.time_zone {
            changed.insert("time_zone".into(), json!(input.time_zone.as_str()));
        }
        if input.reload_days != current.reload_days {
            changed.insert("reload_days".into(), json!(input.reload_days));
        }
        if input.backfill_days != current.backfill_days {
            changed.insert("backfill_days".into(), json!(input.backfill_days));
        }
        if input.schedule != current.schedule {
            changed.insert("schedule".into(), json!(input.schedule.as_str()));
        }
        if input.bots != current.bots {
            changed.insert("bots".into(), json!(input.bots));
        }
        if input.incident_types != current.incident_types {
            changed.insert("incident_types".into(), json!(input.incident_types));
        }
        if input.incident_labels != current.incident_labels {
            changed.insert("incident_labels".into(), json!(input.incident_labels));
        }
        if changed.is_empty() {
            return Ok(current);
        }
        let next = Settings {
            time_zone: input.time_zone,
            reload_days: input.reload_days,
            backfill_days: input.backfill_days,
            schedule: input.schedule,
            bots: input.bots,
            incident_types: input.incident_types,
            incident_labels: input.incident_labels,
            updated_at: now_ms(),
            updated_by: actor.id.clone(),
        };
        store::update(&mut tx, &next).await?;
        let mut details = json!({ "changed": Value::Object(changed.clone()) });
        // Days move with the zone; impacts compare no bot's commits.
        if changed.contains_key("time_zone") || changed.contains_key("bots") {
            let bots = Bots::new(&next.bots);
            let rows =
                collected::store::rebuild_rollups(&mut tx, self.db.backend(), next.time_zone.zone(), &bots).await?;
            details["rollup_rows_rebuilt"] = json!(rows);
        }
        let entry =
            NewEntry::new(actor.clone(), Action::fixed("metrics.settings_updated"), Outcome::Success, meta.clone())
                .resource("metrics_settings", "settings")
                .details(details);
        AuditService::record(self.db, &mut tx, entry).await?;
        tx.commit().await?;
        Ok(next)
    }
}
