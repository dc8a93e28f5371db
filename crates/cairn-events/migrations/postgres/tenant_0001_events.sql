-- The transactional outbox: one row per event, written in the transaction of the change.
CREATE TABLE outbox (
    id TEXT PRIMARY KEY,
    type TEXT NOT NULL,
    time BIGINT NOT NULL,
    actor_id TEXT NOT NULL,
    actor_email TEXT,
    resource_type TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    payload TEXT NOT NULL,
    schema_version BIGINT NOT NULL,
    -- Set once a worker has created the event's deliveries.
    dispatched_at BIGINT
);
CREATE INDEX outbox_undispatched ON outbox (id) WHERE dispatched_at IS NULL;

-- Work per (event, consumer): the job queue. A claim sets a lease (lease_id, next_at = expiry).
CREATE TABLE deliveries (
    id TEXT PRIMARY KEY,
    event_id TEXT NOT NULL REFERENCES outbox (id) ON DELETE CASCADE,
    consumer TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_at BIGINT NOT NULL,
    lease_id TEXT,
    lease_owner TEXT,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (event_id, consumer)
);
CREATE INDEX deliveries_due ON deliveries (next_at) WHERE state = 'pending';
CREATE INDEX deliveries_dead ON deliveries (updated_at) WHERE state = 'dead';

CREATE TABLE webhooks (
    id TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    events TEXT NOT NULL,
    secret TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL
);

CREATE TABLE webhook_attempts (
    id TEXT PRIMARY KEY,
    webhook_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    attempt BIGINT NOT NULL,
    time BIGINT NOT NULL,
    status BIGINT,
    duration_ms BIGINT NOT NULL,
    error TEXT
);
CREATE INDEX webhook_attempts_by_hook ON webhook_attempts (webhook_id, id);
