-- A closed sprint's completion: the issues in it when it was completed, their points then,
-- and whether their status was done then. Taken once (the marker row says when) and never
-- rebuilt, like the commitment: re-estimating or reopening an issue later does not change
-- what the sprint completed.
CREATE TABLE metrics_sprint_completion_snapshots (
    source_id TEXT NOT NULL,
    sprint_id BIGINT NOT NULL,
    taken_at BIGINT NOT NULL,
    PRIMARY KEY (source_id, sprint_id)
);
CREATE TABLE metrics_sprint_completions (
    source_id TEXT NOT NULL,
    sprint_id BIGINT NOT NULL,
    issue_id TEXT NOT NULL,
    points DOUBLE PRECISION,
    done BIGINT NOT NULL,
    PRIMARY KEY (source_id, sprint_id, issue_id)
);
