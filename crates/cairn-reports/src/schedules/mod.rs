//! Report schedules: a kind (and team), a cron expression read in the tenant's metrics time
//! zone, the period each fire covers, and the addresses the report is mailed to.
//!
//! A scheduler ([`queue_fires`]) queues, for each schedule, one report per fire: the report's
//! `fire_key` is the schedule and the fire's time, unique in the table, so any number of
//! schedulers queue it once. When that report is ready the worker emits `report_ready`, and
//! the outbox mails each recipient once ([`crate::mail`]). A recipient leaves with the
//! one-click link in each message. Creating, deleting and leaving a schedule are audited.

use cairn_audit::{Action, Actor, AuditService, NewEntry, Outcome, RequestMeta};
use cairn_domain::{Id, IdKind, MasterKey, TenantId, ValidationError, now_ms};
use cairn_identity::Email;
use cairn_metrics::{Day, Metrics, Schedule as Cron};
use cairn_store::Db;
use jiff::civil::Date;
use jiff::{Timestamp, ToSpan};
use serde_json::{Value, json};

use crate::jobs::{JobError, JobRequest, Kind};

mod store;

/// Most recipients of one schedule.
pub const MAX_RECIPIENTS: usize = 50;
/// Most schedules of a tenant.
pub const MAX_SCHEDULES: i64 = 100;
const DAY_MS: i64 = 86_400_000;

#[derive(Debug)]
pub enum ScheduleKind {}

impl IdKind for ScheduleKind {
    const WHAT: &'static str = "schedule";
}

/// A schedule's id.
pub type ScheduleId = Id<ScheduleKind>;

/// The days a fire's report covers, counted back from the day of the fire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    /// The ISO week (Monday to Sunday) before the fire's.
    LastWeek,
    /// The calendar month before the fire's.
    LastMonth,
    /// The calendar quarter before the fire's.
    LastQuarter,
    /// The seven days before the fire's day.
    Last7Days,
    /// The thirty days before the fire's day.
    Last30Days,
}

impl Period {
    pub const ALL: [Period; 5] =
        [Period::LastWeek, Period::LastMonth, Period::LastQuarter, Period::Last7Days, Period::Last30Days];

    pub fn parse(s: &str, field: &str) -> Result<Period, ValidationError> {
        Period::ALL.into_iter().find(|p| p.as_str() == s).ok_or_else(|| {
            ValidationError::new(field, "must be last_week, last_month, last_quarter, last_7_days or last_30_days")
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Period::LastWeek => "last_week",
            Period::LastMonth => "last_month",
            Period::LastQuarter => "last_quarter",
            Period::Last7Days => "last_7_days",
            Period::Last30Days => "last_30_days",
        }
    }

    /// In words, for pages and mail.
    pub fn label(self) -> &'static str {
        match self {
            Period::LastWeek => "the week before",
            Period::LastMonth => "the month before",
            Period::LastQuarter => "the quarter before",
            Period::Last7Days => "the 7 days before",
            Period::Last30Days => "the 30 days before",
        }
    }

    /// The local days `[from, to)` a fire on `day` covers.
    pub fn window(self, day: Day) -> (Day, Day) {
        let date = day.date();
        let back = |to: Date, span: jiff::Span| {
            let from = to.checked_sub(span).unwrap_or(Date::MIN);
            (Day::of_date(from), Day::of_date(to))
        };
        match self {
            Period::LastWeek => {
                let monday = Day::from_number(day.number() - i64::from(date.weekday().to_monday_zero_offset()));
                (Day::from_number(monday.number() - 7), monday)
            }
            Period::LastMonth => back(date.first_of_month(), 1.month()),
            Period::LastQuarter => {
                let first = date.first_of_month();
                let quarter = first.checked_sub(((date.month() - 1) % 3).months()).unwrap_or(first);
                back(quarter, 3.months())
            }
            Period::Last7Days => (Day::from_number(day.number() - 7), day),
            Period::Last30Days => (Day::from_number(day.number() - 30), day),
        }
    }
}

/// A stored schedule.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    pub id: String,
    pub kind: Kind,
    pub team_id: Option<String>,
    pub cron: String,
    pub period: Period,
    /// In the order they were added.
    pub recipients: Vec<String>,
    pub created_by: String,
    pub created_email: Option<String>,
    pub created_at: i64,
}

impl Schedule {
    /// The schedule's next fire after `now`, read in `zone`.
    pub fn next_fire(&self, zone: &jiff::tz::TimeZone, now: i64) -> Option<i64> {
        let cron = Cron::read(&self.cron, "cron").ok()?;
        cron.next_after(Timestamp::from_millisecond(now).ok()?, zone).map(|t| t.as_millisecond())
    }
}

/// What an admin asks for, checked (the team's existence is the caller's to check).
#[derive(Debug, Clone)]
pub struct ScheduleInput {
    pub kind: Kind,
    pub team_id: Option<String>,
    pub cron: Cron,
    pub period: Period,
    /// Without repeats (compared in lower case), in the order given.
    pub recipients: Vec<Email>,
}

impl ScheduleInput {
    pub fn parse(
        kind: Kind,
        team_id: Option<String>,
        cron: &str,
        period: &str,
        recipients: &[String],
    ) -> Result<ScheduleInput, ValidationError> {
        let cron = Cron::parse(cron, "cron")?;
        let period = Period::parse(period, "period")?;
        if recipients.is_empty() || recipients.len() > MAX_RECIPIENTS {
            return Err(ValidationError::new("recipients", format!("must list 1 to {MAX_RECIPIENTS} addresses")));
        }
        let mut list: Vec<Email> = Vec::new();
        for (i, r) in recipients.iter().enumerate() {
            let email = Email::parse(r).map_err(|e| ValidationError::new(format!("recipients[{i}]"), e.message))?;
            if !list.iter().any(|e| e.key() == email.key()) {
                list.push(email);
            }
        }
        Ok(ScheduleInput { kind, team_id, cron, period, recipients: list })
    }
}

fn entry(actor: &Actor, action: &'static str, meta: &RequestMeta, id: &str, details: Value) -> NewEntry {
    NewEntry::new(actor.clone(), Action::fixed(action), Outcome::Success, meta.clone())
        .resource("report_schedule", id)
        .details(details)
}

/// Why a schedule was not created.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    #[error("a tenant has at most {MAX_SCHEDULES} report schedules")]
    TooMany,
    #[error(transparent)]
    Job(#[from] JobError),
}

impl From<cairn_store::sqlx::Error> for ScheduleError {
    fn from(e: cairn_store::sqlx::Error) -> Self {
        ScheduleError::Job(e.into())
    }
}

impl From<cairn_audit::AuditError> for ScheduleError {
    fn from(e: cairn_audit::AuditError) -> Self {
        ScheduleError::Job(e.into())
    }
}

/// A tenant's report schedules.
#[derive(Debug, Clone, Copy)]
pub struct Schedules<'a> {
    pub db: &'a Db,
}

impl Schedules<'_> {
    /// Adds a schedule, recorded as `report_schedule.created`.
    pub async fn create(
        &self,
        input: &ScheduleInput,
        actor: &Actor,
        meta: &RequestMeta,
    ) -> Result<Schedule, ScheduleError> {
        let id = ScheduleId::new().to_string();
        let mut tx = self.db.begin().await?;
        if store::count(&mut tx).await? >= MAX_SCHEDULES {
            return Err(ScheduleError::TooMany);
        }
        let schedule = store::insert(&mut tx, &id, input, (&actor.id, actor.email.as_deref()), now_ms()).await?;
        let details = json!({
            "kind": input.kind.as_str(), "team": input.team_id, "cron": input.cron.as_str(),
            "period": input.period.as_str(), "recipients": schedule.recipients,
        });
        AuditService::record(self.db, &mut tx, entry(actor, "report_schedule.created", meta, &id, details)).await?;
        tx.commit().await?;
        Ok(schedule)
    }

    /// Oldest first.
    pub async fn list(&self) -> Result<Vec<Schedule>, JobError> {
        Ok(store::list(self.db, true).await?)
    }

    pub async fn get(&self, id: &ScheduleId) -> Result<Option<Schedule>, JobError> {
        Ok(store::get(self.db, &id.to_string()).await?)
    }

    /// Deletes a schedule and its recipients, recorded as `report_schedule.deleted`; the
    /// reports it queued stay until they expire. Whether it existed.
    pub async fn delete(&self, id: &ScheduleId, actor: &Actor, meta: &RequestMeta) -> Result<bool, JobError> {
        let mut tx = self.db.begin().await?;
        let Some(gone) = store::delete(&mut tx, &id.to_string()).await? else {
            return Ok(false);
        };
        let details = json!({"kind": gone.kind.as_str(), "team": gone.team_id, "cron": gone.cron});
        AuditService::record(self.db, &mut tx, entry(actor, "report_schedule.deleted", meta, &gone.id, details))
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Takes `email` off the schedule's recipients, recorded as
    /// `report_schedule.unsubscribed` by the recipient. Whether it was on them.
    pub async fn unsubscribe(&self, id: &str, email: &str, meta: &RequestMeta) -> Result<bool, JobError> {
        let mut tx = self.db.begin().await?;
        if !store::remove_recipient(&mut tx, id, email).await? {
            return Ok(false);
        }
        let actor = Actor { id: format!("recipient:{email}"), email: Some(email.to_owned()) };
        let details = json!({ "recipient": email });
        AuditService::record(self.db, &mut tx, entry(&actor, "report_schedule.unsubscribed", meta, id, details))
            .await?;
        tx.commit().await?;
        Ok(true)
    }
}

/// Queues, for each schedule, the report of its latest fire at or before `now` (after the
/// schedule was created, looking back at most two days), its period counted back from the
/// fire's local day. A fire already queued is not queued again. How many reports were queued.
pub async fn queue_fires(db: &Db, now: i64) -> Result<usize, ScheduleError> {
    // What fires needs no recipients: they are read when each fire's mail goes out.
    let schedules = store::list(db, false).await?;
    if schedules.is_empty() {
        return Ok(0);
    }
    let settings = Metrics { db }.settings().await.map_err(JobError::from)?;
    let zone = settings.time_zone.zone();
    let mut queued = 0;
    for schedule in schedules {
        let Some(fire) = latest_fire(&schedule, zone.time_zone(), now) else { continue };
        let (from, to) = schedule.period.window(zone.day(fire));
        let request = JobRequest { kind: schedule.kind, team_id: schedule.team_id.clone(), from, to };
        let key = format!("schedule:{}:{fire}", schedule.id);
        if (crate::jobs::Jobs { db }).queue_fire(&request, &schedule.id, &key).await? {
            queued += 1;
        }
    }
    Ok(queued)
}

/// The schedule's last fire in `(created, now]`, looking back at most two days.
fn latest_fire(schedule: &Schedule, zone: &jiff::tz::TimeZone, now: i64) -> Option<i64> {
    let cron = Cron::read(&schedule.cron, "cron").ok()?;
    let mut at = Timestamp::from_millisecond(schedule.created_at.max(now - 2 * DAY_MS)).ok()?;
    let mut latest = None;
    while let Some(next) = cron.next_after(at, zone) {
        if next.as_millisecond() > now {
            break;
        }
        latest = Some(next.as_millisecond());
        at = next;
    }
    latest
}

const UNSUBSCRIBE_AAD: &str = "unsubscribe:report_schedule";

/// The capability in a report mail's unsubscribe link: sealed (tenant, schedule, address),
/// so it needs no session and cannot be forged or altered.
pub fn unsubscribe_token(key: &MasterKey, tenant: TenantId, schedule: &str, email: &str) -> String {
    key.seal(json!({ "t": tenant.to_string(), "s": schedule, "e": email }).to_string().as_bytes(), UNSUBSCRIBE_AAD)
}

/// The tenant, schedule and address an unsubscribe token names, if it is genuine.
pub fn open_unsubscribe(key: &MasterKey, token: &str) -> Option<(TenantId, String, String)> {
    let plain = key.open(token, UNSUBSCRIBE_AAD).ok()?;
    let v: Value = serde_json::from_slice(&plain).ok()?;
    Some((v["t"].as_str()?.parse().ok()?, v["s"].as_str()?.to_owned(), v["e"].as_str()?.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> Day {
        Day::parse(s, "day").unwrap()
    }

    fn window(p: Period, on: &str) -> (String, String) {
        let (from, to) = p.window(day(on));
        (from.to_string(), to.to_string())
    }

    #[test]
    fn each_period_counts_back_from_the_fire_day() {
        let w = |a: &str, b: &str| (a.to_owned(), b.to_owned());
        // Monday 7 December 2026, and a Sunday.
        assert_eq!(window(Period::LastWeek, "2026-12-07"), w("2026-11-30", "2026-12-07"));
        assert_eq!(window(Period::LastWeek, "2026-12-13"), w("2026-11-30", "2026-12-07"));
        assert_eq!(window(Period::LastMonth, "2026-12-07"), w("2026-11-01", "2026-12-01"));
        assert_eq!(window(Period::LastMonth, "2026-01-01"), w("2025-12-01", "2026-01-01"));
        assert_eq!(window(Period::LastQuarter, "2026-12-07"), w("2026-07-01", "2026-10-01"));
        assert_eq!(window(Period::LastQuarter, "2026-01-15"), w("2025-10-01", "2026-01-01"));
        assert_eq!(window(Period::LastQuarter, "2026-06-30"), w("2026-01-01", "2026-04-01"));
        assert_eq!(window(Period::Last7Days, "2026-12-07"), w("2026-11-30", "2026-12-07"));
        assert_eq!(window(Period::Last30Days, "2026-12-07"), w("2026-11-07", "2026-12-07"));
    }

    #[test]
    fn input_is_checked_field_by_field() {
        let parse = |cron: &str, period: &str, to: &[&str]| {
            let to: Vec<String> = to.iter().map(|s| s.to_string()).collect();
            ScheduleInput::parse(Kind::Audit, None, cron, period, &to)
        };
        assert_eq!(parse("0 7 * *", "last_week", &["a@b.co"]).unwrap_err().field, "cron");
        assert_eq!(parse("* * * * *", "last_week", &["a@b.co"]).unwrap_err().field, "cron");
        assert_eq!(parse("0 7 * * MON", "weekly", &["a@b.co"]).unwrap_err().field, "period");
        assert_eq!(parse("0 7 * * MON", "last_week", &[]).unwrap_err().field, "recipients");
        assert_eq!(parse("0 7 * * MON", "last_week", &["a@b.co", "nope"]).unwrap_err().field, "recipients[1]");
        let ok = parse("0 7 * * MON", "last_week", &["Ann@B.co", "ann@b.co", "c@d.co"]).unwrap();
        let kept: Vec<&str> = ok.recipients.iter().map(Email::as_str).collect();
        assert_eq!(kept, ["Ann@B.co", "c@d.co"]);
    }

    #[test]
    fn the_latest_fire_after_creation_in_the_zone() {
        let zone = jiff::tz::TimeZone::get("Europe/Bratislava").unwrap();
        let ms = |s: &str| s.parse::<Timestamp>().unwrap().as_millisecond();
        let mut s = Schedule {
            id: "s".into(),
            kind: Kind::Audit,
            team_id: None,
            cron: "0 7 * * MON".into(),
            period: Period::LastWeek,
            recipients: vec![],
            created_by: "a".into(),
            created_email: None,
            created_at: 0,
        };
        // Monday 7 December 2026, 07:00 in Bratislava is 06:00 UTC.
        assert_eq!(latest_fire(&s, &zone, ms("2026-12-07T06:30:00Z")), Some(ms("2026-12-07T06:00:00Z")));
        assert_eq!(latest_fire(&s, &zone, ms("2026-12-07T05:59:00Z")), None, "last week's is over two days old");
        s.created_at = ms("2026-12-07T06:10:00Z");
        assert_eq!(latest_fire(&s, &zone, ms("2026-12-07T06:30:00Z")), None, "created after the fire");
        assert!(s.next_fire(&zone, ms("2026-12-07T06:30:00Z")) == Some(ms("2026-12-14T06:00:00Z")));
        let token = unsubscribe_token(&MasterKey::generate(), TenantId::new(), "s", "a@b.co");
        assert!(open_unsubscribe(&MasterKey::generate(), &token).is_none(), "another key opens nothing");
    }
}
