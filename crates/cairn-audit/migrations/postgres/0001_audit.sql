-- The audit trail: one hash chain per database (each tenant's, and the platform's in the
-- control database). `seq` is the chain position; `hash` links the entry to `prev_hash`
-- (see chain.rs for the encoding). `audit_head` is the single row every append locks and moves
-- (in the appending statement), so concurrent writers never fork the chain.
CREATE TABLE audit_entries (
    seq            BIGINT PRIMARY KEY,
    id             TEXT NOT NULL UNIQUE,
    time           BIGINT NOT NULL,
    actor_id       TEXT NOT NULL,
    actor_email    TEXT,
    action         TEXT NOT NULL,
    resource_type  TEXT,
    resource_id    TEXT,
    outcome        TEXT NOT NULL,
    details        TEXT NOT NULL,
    ip             TEXT,
    user_agent     TEXT,
    request_id     TEXT,
    prev_hash      TEXT NOT NULL,
    hash           TEXT NOT NULL
);
-- One index per filter; each ends in (time, seq), the listing order.
CREATE INDEX audit_by_time ON audit_entries (time, seq);
CREATE INDEX audit_by_actor ON audit_entries (actor_id, time, seq);
CREATE INDEX audit_by_action ON audit_entries (action, time, seq);
CREATE INDEX audit_by_resource ON audit_entries (resource_type, resource_id, time, seq);

CREATE TABLE audit_head (
    id    BIGINT PRIMARY KEY CHECK (id = 1),
    seq   BIGINT NOT NULL,
    hash  TEXT NOT NULL,
    prev  TEXT NOT NULL    -- the hash before the last append, returned to the appender
);
INSERT INTO audit_head (id, seq, hash, prev) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000', '');

-- Signed chain heads. Retention prunes only entries a checkpoint covers, so what remains
-- stays verifiable from the checkpoint.
CREATE TABLE audit_checkpoints (
    seq        BIGINT PRIMARY KEY,
    hash       TEXT NOT NULL,
    time       BIGINT NOT NULL,
    signature  TEXT NOT NULL
);

CREATE TABLE audit_settings (
    id              BIGINT PRIMARY KEY CHECK (id = 1),
    retention_days  BIGINT NOT NULL
);
INSERT INTO audit_settings (id, retention_days) VALUES (1, 30);
