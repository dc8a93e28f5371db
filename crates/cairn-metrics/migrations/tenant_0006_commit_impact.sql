-- Each counted commit's impact (in units of 10^-12), scored when its repository's commits
-- change, and its sum in the daily rollups beside the changed files. NULL: not scored (not
-- counted, a bot's, or collected before this version).
ALTER TABLE metrics_commits ADD COLUMN impact BIGINT;
ALTER TABLE metrics_person_days ADD COLUMN changed_files BIGINT NOT NULL DEFAULT 0;
ALTER TABLE metrics_person_days ADD COLUMN impact BIGINT NOT NULL DEFAULT 0;
-- The version of the rules the rollups were built by; a tenant whose rollups are older is
-- rebuilt once by the scheduler (collected rows, if any, predate the impact).
ALTER TABLE metrics_settings ADD COLUMN rollups_version BIGINT NOT NULL DEFAULT 0;
UPDATE metrics_settings SET rollups_version = 1 WHERE NOT EXISTS (SELECT 1 FROM metrics_commits);
-- A team's rollups, found by its members' person keys; and everyone's active days with
-- their impact, which rank the teams, read from the index alone.
CREATE INDEX metrics_person_days_person ON metrics_person_days (LOWER(person_key), day);
CREATE INDEX metrics_person_days_active ON metrics_person_days (day, person_key, impact) WHERE commits > 0;
