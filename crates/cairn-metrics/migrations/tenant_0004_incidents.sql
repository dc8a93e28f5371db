-- Incidents, for DORA's change failure rate and time to restore: Jira issues of one of the
-- settings' issue types, or with one of their labels. An issue's labels, as a JSON list.
ALTER TABLE metrics_issues ADD COLUMN labels TEXT NOT NULL DEFAULT '[]';
ALTER TABLE metrics_settings ADD COLUMN incident_types TEXT NOT NULL DEFAULT '["Incident"]';
ALTER TABLE metrics_settings ADD COLUMN incident_labels TEXT NOT NULL DEFAULT '["incident"]';
-- DORA's reads: the issues created in a window, the releases published in one.
CREATE INDEX metrics_issues_created ON metrics_issues (created_at);
CREATE INDEX metrics_releases_published ON metrics_releases (published_at);
