-- Reports requested over the API, rendered by a worker under a lease, kept in the object
-- store until they expire. A report is claimable while queued, or running with a lease
-- that ended (`next_at` is when: the lease's end, or a retry's time).
CREATE TABLE reports (
    id TEXT PRIMARY KEY,
    -- team | audit
    kind TEXT NOT NULL,
    team_id TEXT,
    -- The local days [from_day, to_day), as YYYY-MM-DD.
    from_day TEXT NOT NULL,
    to_day TEXT NOT NULL,
    -- queued | running | ready | failed
    status TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    requested_email TEXT,
    requested_at BIGINT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_at BIGINT NOT NULL,
    lease_id TEXT,
    lease_owner TEXT,
    error TEXT,
    object_key TEXT,
    size BIGINT,
    pages BIGINT,
    finished_at BIGINT,
    expires_at BIGINT
);
CREATE INDEX reports_due ON reports (next_at) WHERE status IN ('queued', 'running');
CREATE INDEX reports_expiry ON reports (expires_at) WHERE expires_at IS NOT NULL;
