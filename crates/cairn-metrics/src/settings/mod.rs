//! A tenant's metrics settings: the time zone days are counted in, how far runs read back,
//! when they run, which logins are bots, and which Jira issues are incidents.

mod service;
pub(crate) mod store;

use cairn_domain::ValidationError;
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};
use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned};

use crate::day::Zone;
use crate::teams::parse_login;

/// Each run re-reads this many trailing days: 1–365.
pub const RELOAD_DAYS: (i64, i64) = (1, 365);
/// A source's first run reads this many days back: 1–3650.
pub const BACKFILL_DAYS: (i64, i64) = (1, 3650);
/// Most configured bot logins.
pub const MAX_BOTS: usize = 100;
/// Most incident issue types, and most incident labels.
pub const MAX_INCIDENT_MARKS: usize = 50;
/// The issue types that are incidents unless the settings say otherwise.
pub const DEFAULT_INCIDENT_TYPES: [&str; 1] = ["Incident"];
/// The labels that make an issue an incident unless the settings say otherwise.
pub const DEFAULT_INCIDENT_LABELS: [&str; 1] = ["incident"];

/// An IANA time zone this server's time-zone database knows (`Europe/Bratislava`, `UTC`).
#[derive(Debug, Clone, PartialEq)]
pub struct TimeZoneName {
    name: String,
    zone: Zone,
}

impl TimeZoneName {
    pub fn parse(s: &str, field: &str) -> Result<TimeZoneName, ValidationError> {
        let bad = || ValidationError::new(field, "must be an IANA time zone name, like Europe/Bratislava");
        // A name, not a POSIX rule or an offset (which `TimeZone::get` does not read either).
        if s.is_empty() || s.len() > 64 || !s.bytes().all(|b| b.is_ascii_alphanumeric() || b"/_+-".contains(&b)) {
            return Err(bad());
        }
        let tz = TimeZone::get(s).map_err(|_| bad())?;
        // The database's own spelling (`europe/bratislava` → `Europe/Bratislava`).
        let name = tz.iana_name().unwrap_or(s).to_owned();
        Ok(TimeZoneName { name, zone: Zone::new(tz) })
    }

    pub fn as_str(&self) -> &str {
        &self.name
    }

    pub fn zone(&self) -> &Zone {
        &self.zone
    }
}

/// A cron expression of five fields (minute, hour, day of month, month, day of week) or a
/// nickname (`@daily`), read in the tenant's time zone, firing at most once an hour.
#[derive(Debug, Clone)]
pub struct Schedule {
    text: String,
    cron: Cron,
}

impl PartialEq for Schedule {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Schedule {
    pub fn parse(s: &str, field: &str) -> Result<Schedule, ValidationError> {
        let schedule = Schedule::read(s, field)?;
        // Fires over a fortnight from a fixed instant, in UTC: how often it runs.
        let mut at = Timestamp::from_second(1_767_225_600).unwrap_or(Timestamp::UNIX_EPOCH);
        let mut fires = 0;
        while fires < 24 * 14 {
            let Some(next) = schedule.next_after(at, &TimeZone::UTC) else { break };
            if fires > 0 && next.as_second() - at.as_second() < 3600 {
                return Err(ValidationError::new(field, "must fire at most once an hour"));
            }
            at = next;
            fires += 1;
        }
        if fires == 0 {
            return Err(ValidationError::new(field, "never fires"));
        }
        Ok(schedule)
    }

    /// The expression alone, without the check of how often it fires: for an expression
    /// that was checked when it was stored.
    pub fn read(s: &str, field: &str) -> Result<Schedule, ValidationError> {
        let text = s.split_whitespace().collect::<Vec<_>>().join(" ");
        if text.is_empty() || text.len() > 100 {
            return Err(ValidationError::new(field, "must be a cron expression like 0 2 * * *"));
        }
        let cron = CronParser::builder()
            .seconds(Seconds::Disallowed)
            .year(Year::Disallowed)
            .build()
            .parse(&text)
            .map_err(|e| ValidationError::new(field, format!("is not a cron expression of five fields: {e}")))?;
        Ok(Schedule { text, cron })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The schedule's first fire strictly after `after`, reading the expression in `tz`
    /// (a time that a change to summer time skips fires once, at the first instant after
    /// the gap; a repeated hour fires once).
    pub fn next_after(&self, after: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
        let start = Zoned::new(after, tz.clone());
        self.cron.find_next_occurrence(&start, false).ok().map(|z| z.timestamp())
    }
}

/// What an admin sets, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct SettingsInput {
    pub time_zone: TimeZoneName,
    pub reload_days: i64,
    pub backfill_days: i64,
    pub schedule: Schedule,
    /// Lower case, without repeats.
    pub bots: Vec<String>,
    /// Jira issue types whose issues are incidents, without repeats (in any case).
    pub incident_types: Vec<String>,
    /// Jira labels that make an issue an incident, without repeats (in any case).
    pub incident_labels: Vec<String>,
}

fn days(v: i64, field: &str, (min, max): (i64, i64)) -> Result<i64, ValidationError> {
    if (min..=max).contains(&v) {
        Ok(v)
    } else {
        Err(ValidationError::new(field, format!("must be a whole number of days from {min} to {max}")))
    }
}

impl SettingsInput {
    pub fn parse(
        time_zone: &str,
        reload_days: i64,
        backfill_days: i64,
        schedule: &str,
        bots: &[String],
    ) -> Result<SettingsInput, ValidationError> {
        let time_zone = TimeZoneName::parse(time_zone, "time_zone")?;
        let reload_days = days(reload_days, "reload_days", RELOAD_DAYS)?;
        let backfill_days = days(backfill_days, "backfill_days", BACKFILL_DAYS)?;
        if reload_days > backfill_days {
            return Err(ValidationError::new("reload_days", "must not be more than backfill_days"));
        }
        let schedule = Schedule::parse(schedule, "schedule")?;
        if bots.len() > MAX_BOTS {
            return Err(ValidationError::new("bots", format!("at most {MAX_BOTS} logins")));
        }
        let mut list: Vec<String> = Vec::new();
        for (i, b) in bots.iter().enumerate() {
            let login = parse_login(b, &format!("bots[{i}]"))?;
            if !list.contains(&login) {
                list.push(login);
            }
        }
        Ok(SettingsInput {
            time_zone,
            reload_days,
            backfill_days,
            schedule,
            bots: list,
            incident_types: DEFAULT_INCIDENT_TYPES.map(String::from).to_vec(),
            incident_labels: DEFAULT_INCIDENT_LABELS.map(String::from).to_vec(),
        })
    }

    /// The issue types and labels that make a Jira issue an incident (instead of the
    /// defaults): each a name of 1–255 characters; a label without spaces.
    pub fn incidents(mut self, types: &[String], labels: &[String]) -> Result<SettingsInput, ValidationError> {
        self.incident_types = marks(types, "incident_types", false)?;
        self.incident_labels = marks(labels, "incident_labels", true)?;
        Ok(self)
    }
}

/// Issue type names or labels, trimmed and checked, the first of each repeat kept.
fn marks(values: &[String], field: &str, label: bool) -> Result<Vec<String>, ValidationError> {
    if values.len() > MAX_INCIDENT_MARKS {
        return Err(ValidationError::new(field, format!("at most {MAX_INCIDENT_MARKS}")));
    }
    let mut out: Vec<String> = Vec::new();
    for (i, v) in values.iter().enumerate() {
        let v = v.trim();
        let at = format!("{field}[{i}]");
        if v.is_empty() || v.chars().count() > 255 || v.chars().any(char::is_control) {
            return Err(ValidationError::new(at, "must be 1 to 255 characters"));
        }
        if label && v.chars().any(char::is_whitespace) {
            return Err(ValidationError::new(at, "a Jira label has no spaces"));
        }
        if !out.iter().any(|o| o.to_lowercase() == v.to_lowercase()) {
            out.push(v.to_owned());
        }
    }
    Ok(out)
}

/// The tenant's settings as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub time_zone: TimeZoneName,
    pub reload_days: i64,
    pub backfill_days: i64,
    pub schedule: Schedule,
    pub bots: Vec<String>,
    pub incident_types: Vec<String>,
    pub incident_labels: Vec<String>,
    pub updated_at: i64,
    pub updated_by: String,
}

impl Settings {
    /// Whether `login` is a bot: every `…[bot]` login, and those the settings name.
    pub fn is_bot(&self, login: &str) -> bool {
        let login = login.to_lowercase();
        login.ends_with("[bot]") || self.bots.contains(&login)
    }

    /// Whether a Jira issue of `issue_type` with `labels` is an incident (names compared
    /// without regard to case).
    pub fn is_incident(&self, issue_type: &str, labels: &[String]) -> bool {
        let same = |a: &str, b: &str| a.to_lowercase() == b.to_lowercase();
        self.incident_types.iter().any(|t| same(t, issue_type))
            || labels.iter().any(|l| self.incident_labels.iter().any(|m| same(m, l)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(tz: &str, reload: i64, backfill: i64, schedule: &str, bots: &[&str]) -> Result<SettingsInput, String> {
        let bots: Vec<String> = bots.iter().map(|b| (*b).to_owned()).collect();
        SettingsInput::parse(tz, reload, backfill, schedule, &bots).map_err(|e| e.field)
    }

    #[test]
    fn the_defaults_parse() {
        let s = input("Europe/Bratislava", 28, 90, "0 2 * * *", &["renovate"]).unwrap();
        assert_eq!((s.time_zone.as_str(), s.schedule.as_str()), ("Europe/Bratislava", "0 2 * * *"));
        assert_eq!(s.bots, ["renovate"]);
    }

    #[test]
    fn each_mistake_names_its_field() {
        assert_eq!(input("Europe/Atlantis", 28, 90, "0 2 * * *", &[]).unwrap_err(), "time_zone");
        assert_eq!(input("+02:00", 28, 90, "0 2 * * *", &[]).unwrap_err(), "time_zone");
        assert_eq!(input("", 28, 90, "0 2 * * *", &[]).unwrap_err(), "time_zone");
        assert_eq!(input("UTC", 0, 90, "0 2 * * *", &[]).unwrap_err(), "reload_days");
        assert_eq!(input("UTC", 366, 3650, "0 2 * * *", &[]).unwrap_err(), "reload_days");
        assert_eq!(input("UTC", 28, 3651, "0 2 * * *", &[]).unwrap_err(), "backfill_days");
        assert_eq!(input("UTC", 28, 7, "0 2 * * *", &[]).unwrap_err(), "reload_days");
        for bad in ["", "0 2 * *", "61 2 * * *", "0 2 * * * *", "0 0 2 * * * 2026", "every night", "0 0 30 2 *"] {
            assert_eq!(input("UTC", 28, 90, bad, &[]).unwrap_err(), "schedule", "{bad:?}");
        }
        assert_eq!(input("UTC", 28, 90, "*/10 * * * *", &[]).unwrap_err(), "schedule");
        assert_eq!(input("UTC", 28, 90, "0 2 * * *", &["ok", "not a login"]).unwrap_err(), "bots[1]");
    }

    #[test]
    fn names_are_read_as_the_database_spells_them() {
        let s = input("europe/bratislava", 1, 1, "@daily", &["Renovate", "renovate", "dependabot[bot]"]).unwrap();
        assert_eq!(s.time_zone.as_str(), "Europe/Bratislava");
        assert_eq!(s.bots, ["renovate", "dependabot[bot]"]);
        assert_eq!(input("UTC", 1, 1, "  0   3 * * 1-5 ", &[]).unwrap().schedule.as_str(), "0 3 * * 1-5");
    }

    #[test]
    fn a_schedule_fires_in_the_tenants_zone_across_summer_time() {
        let s = Schedule::parse("30 2 * * *", "schedule").unwrap();
        let tz = TimeZone::get("Europe/Bratislava").unwrap();
        let at = |t: &str| t.parse::<Timestamp>().unwrap();
        // 02:30 local is 01:30 UTC in winter.
        assert_eq!(s.next_after(at("2026-03-27T12:00:00Z"), &tz), Some(at("2026-03-28T01:30:00Z")));
        // 29 March 2026 has no 02:30 (clocks go from 02:00 to 03:00): it fires once, at 03:00.
        assert_eq!(s.next_after(at("2026-03-28T12:00:00Z"), &tz), Some(at("2026-03-29T01:00:00Z")));
        // And in summer 02:30 local is 00:30 UTC.
        assert_eq!(s.next_after(at("2026-03-29T12:00:00Z"), &tz), Some(at("2026-03-30T00:30:00Z")));
        // 25 October 2026 has 02:30 twice; it fires once.
        let first = s.next_after(at("2026-10-24T12:00:00Z"), &tz).unwrap();
        assert_eq!(first, at("2026-10-25T00:30:00Z"));
        assert_eq!(s.next_after(first, &tz), Some(at("2026-10-26T01:30:00Z")));
    }

    #[test]
    fn bots_are_bracketed_or_named() {
        let s = Settings {
            time_zone: TimeZoneName::parse("UTC", "time_zone").unwrap(),
            reload_days: 28,
            backfill_days: 90,
            schedule: Schedule::parse("0 2 * * *", "schedule").unwrap(),
            bots: vec!["renovate".into()],
            incident_types: vec!["Incident".into()],
            incident_labels: vec!["sev1".into()],
            updated_at: 0,
            updated_by: "cairn".into(),
        };
        assert!(s.is_bot("dependabot[bot]") && s.is_bot("Renovate") && !s.is_bot("alice"));
        assert!(s.is_incident("incident", &[]) && s.is_incident("Bug", &["SEV1".into()]));
        assert!(!s.is_incident("Bug", &["sev2".into()]));
    }

    #[test]
    fn incident_marks_are_checked_and_kept_once() {
        let base = SettingsInput::parse("UTC", 28, 90, "0 2 * * *", &[]).unwrap();
        assert_eq!(
            (base.incident_types.clone(), base.incident_labels.clone()),
            (vec!["Incident".into()], vec!["incident".into()])
        );
        let s = |v: &[&str]| v.iter().map(|x| (*x).to_owned()).collect::<Vec<String>>();
        let ok = base.clone().incidents(&s(&[" Incident ", "incident", "Outage"]), &s(&["sev1", "SEV1"])).unwrap();
        assert_eq!((ok.incident_types, ok.incident_labels), (s(&["Incident", "Outage"]), s(&["sev1"])));
        assert_eq!(base.clone().incidents(&s(&[""]), &[]).unwrap_err().field, "incident_types[0]");
        assert_eq!(base.clone().incidents(&[], &s(&["a", "two words"])).unwrap_err().field, "incident_labels[1]");
        let many: Vec<String> = (0..51).map(|i| format!("t{i}")).collect();
        assert_eq!(base.incidents(&many, &[]).unwrap_err().field, "incident_types");
    }
}
