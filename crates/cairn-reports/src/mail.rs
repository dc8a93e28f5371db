//! The mail of scheduled reports. The `report_schedule` consumer receives each
//! `report_ready` event of a schedule's report and enqueues one `report_mail:<address>`
//! delivery per recipient; the key (event id, recipient) makes a redelivered event enqueue
//! nothing new. Each of those deliveries sends one message from the organization's name —
//! the PDF attached when it is under [`ATTACH_BELOW`], and always an expiring link — retried
//! while the mail server is unreachable.

use std::sync::Arc;

use cairn_domain::now_ms;
use cairn_events::{Failure, Handler, HandlerFuture, Job};
use cairn_identity::Identity;
use cairn_mail::Attachment;
use cairn_mail::templates::{self, ReportNotice};
use cairn_metrics::Metrics;
use cairn_metrics::figures::Roster;

use crate::jobs::{Jobs, Kind, ReportId, Status};
use crate::objects::{LinkSigning, Objects};
use crate::schedules::{Schedule, ScheduleId, Schedules, unsubscribe_token};
use crate::settings::ReportSettings;

/// The consumer subscribed to `report_ready`.
pub const CONSUMER: &str = "report_schedule";
/// The prefix of the per-recipient deliveries.
pub const MAIL: &str = "report_mail";
/// A report at least this large (5 MB) is linked, not attached.
pub const ATTACH_BELOW: i64 = 5 * 1024 * 1024;

fn retry(e: &dyn std::fmt::Display) -> Failure {
    Failure::Retry(e.to_string())
}

/// The schedule a `report_ready` event's report came from, if it is scheduled and the
/// schedule still exists.
async fn schedule_of(job: &Job) -> Result<Option<Schedule>, Failure> {
    let Some(Ok(id)) = job.event.payload["schedule"].as_str().map(|s| ScheduleId::parse(s, "schedule")) else {
        return Ok(None);
    };
    (Schedules { db: &job.db }).get(&id).await.map_err(|e| retry(&e))
}

/// The `report_schedule` consumer: fans a scheduled report out to its recipients.
#[derive(Debug, Clone, Default)]
pub struct FanOut;

impl FanOut {
    async fn run(&self, job: &Job) -> Result<(), Failure> {
        // Deleted since the fire: nobody to mail.
        let Some(schedule) = schedule_of(job).await? else { return Ok(()) };
        let mut tx = job.db.begin().await.map_err(|e| retry(&e))?;
        for email in &schedule.recipients {
            cairn_events::enqueue(&mut tx, &job.event.id, &format!("{MAIL}:{email}")).await.map_err(|e| retry(&e))?;
        }
        tx.commit().await.map_err(|e| retry(&e))?;
        tracing::debug!(event = %job.event.id, recipients = schedule.recipients.len(), "report mail queued");
        Ok(())
    }
}

impl Handler for FanOut {
    fn handle<'a>(&'a self, job: &'a Job) -> HandlerFuture<'a> {
        Box::pin(self.run(job))
    }
}

/// The `report_mail:<address>` deliveries: one message to one recipient.
#[derive(Debug, Clone)]
pub struct Mailer {
    pub identity: Arc<Identity>,
    pub objects: Objects,
}

impl Mailer {
    async fn run(&self, job: &Job) -> Result<(), Failure> {
        let to = job.key();
        // Unsubscribed, or the schedule deleted, since the fire: nothing to send.
        let Some(schedule) = schedule_of(job).await? else { return Ok(()) };
        if !schedule.recipients.iter().any(|r| r == to) {
            return Ok(());
        }
        let Ok(id) = ReportId::parse(&job.event.resource_id, "report") else { return Ok(()) };
        // Deleted or expired since: nothing to send.
        let Some(report) = (Jobs { db: &job.db }).get(&id).await.map_err(|e| retry(&e))? else { return Ok(()) };
        let (Status::Ready, Some(key), Some(size)) = (report.status, &report.object_key, report.size) else {
            return Ok(());
        };
        let pdf = if size < ATTACH_BELOW {
            let Some(bytes) = self.objects.get(key).await.map_err(|e| retry(&e))? else { return Ok(()) };
            Some(Attachment { filename: filename(&report), content_type: "application/pdf".into(), bytes })
        } else {
            None
        };
        let metrics = Metrics { db: &job.db };
        let settings = metrics.settings().await.map_err(|e| retry(&e))?;
        let zone = settings.time_zone.zone().time_zone().clone();
        let title = match report.kind {
            Kind::Team => {
                let roster = Roster::load(&metrics).await.map_err(|e| retry(&e))?;
                let name = roster.teams.iter().find(|t| Some(&t.id) == report.team_id.as_ref()).map(|t| t.name.clone());
                let name = name.unwrap_or_else(|| "a team that was deleted".into());
                format!("{} \u{2014} {name}", report.kind.title())
            }
            Kind::Audit | Kind::Instances => report.kind.title().to_owned(),
        };
        let what = report.kind.title().to_lowercase();
        let key_material = self.identity.store.master_key();
        let tenant = job.tenant.id.to_string();
        let base = self.identity.public_url.trim_end_matches('/');
        let signing = LinkSigning { key: key_material, public_url: base, tenant: &tenant };
        let link_days = ReportSettings::read(&job.db).await.map_err(|e| retry(&e))?.link_days;
        let Some((link, until)) =
            self.objects.link(&signing, &report, link_days, now_ms()).await.map_err(|e| retry(&e))?
        else {
            return Ok(());
        };
        let link_until = jiff::Timestamp::from_millisecond(until)
            .map(|t| t.to_zoned(zone).strftime("%-d %B %Y, %H:%M").to_string())
            .unwrap_or_default();
        let token = unsubscribe_token(key_material, job.tenant.id, &schedule.id, to);
        let unsubscribe = format!("{base}/unsubscribe/reports/{token}");
        let identity_settings = self.identity.settings(&job.db).await.map_err(|e| retry(&e))?;
        let branding = self.identity.branding(&job.tenant, &identity_settings);
        let schedule_text = format!("\u{201c}{}\u{201d}, covering {}", schedule.cron, schedule.period.label());
        let notice = ReportNotice {
            title: &title,
            what: &what,
            period: &crate::period_text(report.from, report.to),
            pages: report.pages.unwrap_or(0),
            pdf,
            link: &link,
            link_until: &link_until,
            schedule: &schedule_text,
            unsubscribe: &unsubscribe,
        };
        let mut message = templates::report(&branding, to, notice).map_err(|e| Failure::Permanent(e.to_string()))?;
        message.message_id = Some(cairn_mail::message_id(&format!("{}.{}", job.event.id, job.delivery_id), base));
        self.identity.mailer.send(&message).await.map_err(|e| retry(&e))
    }
}

/// `team-report-2026-11-30.pdf`.
fn filename(report: &crate::jobs::Job) -> String {
    format!("{}-report-{}.pdf", report.kind.as_str(), report.from)
}

impl Handler for Mailer {
    fn handle<'a>(&'a self, job: &'a Job) -> HandlerFuture<'a> {
        Box::pin(self.run(job))
    }
}
