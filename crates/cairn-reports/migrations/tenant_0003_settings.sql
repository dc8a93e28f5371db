-- A tenant's report settings: how long a report is kept and how long a download link lasts.
-- No row: the defaults (30 and 7 days).
CREATE TABLE report_settings (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    keep_days BIGINT NOT NULL,
    link_days BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
