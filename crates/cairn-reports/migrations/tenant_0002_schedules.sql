-- Report schedules: a cron expression read in the tenant's metrics time zone, the period
-- each fire's report covers, and the addresses it is mailed to. Each fire queues one report
-- whose `fire_key` (`schedule:<schedule id>:<fire time ms>`) is unique, so any number of
-- schedulers queue it once.
CREATE TABLE report_schedules (
    id TEXT PRIMARY KEY,
    -- team | audit
    kind TEXT NOT NULL,
    team_id TEXT,
    cron TEXT NOT NULL,
    -- last_week | last_month | last_quarter | last_7_days | last_30_days
    period TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_email TEXT,
    created_at BIGINT NOT NULL
);
-- A recipient leaves by unsubscribing (or when the schedule is deleted).
CREATE TABLE report_recipients (
    schedule_id TEXT NOT NULL,
    email TEXT NOT NULL,
    position BIGINT NOT NULL,
    PRIMARY KEY (schedule_id, email)
);
ALTER TABLE reports ADD COLUMN schedule_id TEXT;
ALTER TABLE reports ADD COLUMN fire_key TEXT;
CREATE UNIQUE INDEX reports_fire ON reports (fire_key);
