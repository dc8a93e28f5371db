-- The audit trail: one hash chain per database (each tenant's, and the platform's in the
-- control database). `seq` is the chain position; `hash` links the entry to `prev_hash`
-- (see chain.rs for the encoding). `audit_head` is the single row every append moves, so
-- concurrent writers never fork the chain.
CREATE TABLE audit_entries (
    seq            INTEGER PRIMARY KEY,
    id             TEXT NOT NULL UNIQUE,
    time           INTEGER NOT NULL,
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
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    seq   INTEGER NOT NULL,
    hash  TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

-- An append must continue the chain exactly where the head is, and moves the head in the
-- same statement. Appenders keep the head cached and retry when this refuses.
CREATE TRIGGER audit_chain_check BEFORE INSERT ON audit_entries
WHEN NEW.seq IS NOT (SELECT seq + 1 FROM audit_head WHERE id = 1)
  OR NEW.prev_hash IS NOT (SELECT hash FROM audit_head WHERE id = 1)
BEGIN
    SELECT RAISE(ABORT, 'audit chain head moved');
END;
CREATE TRIGGER audit_chain_advance AFTER INSERT ON audit_entries
BEGIN
    UPDATE audit_head SET seq = NEW.seq, hash = NEW.hash WHERE id = 1;
END;

-- Signed chain heads. Retention prunes only entries a checkpoint covers, so what remains
-- stays verifiable from the checkpoint.
CREATE TABLE audit_checkpoints (
    seq        INTEGER PRIMARY KEY,
    hash       TEXT NOT NULL,
    time       INTEGER NOT NULL,
    signature  TEXT NOT NULL
);

CREATE TABLE audit_settings (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    retention_days  INTEGER NOT NULL
);
INSERT INTO audit_settings (id, retention_days) VALUES (1, 30);
