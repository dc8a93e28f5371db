-- SQLite writes whole pages at commit, one per table or index an append touches, so each
-- of the five indexes on audit_entries cost every audited change one more page write. From
-- here on, an entry is written with `indexed = 0`, which the (now partial) indexes skip:
-- an append touches only its own page and the head's. The 32nd append of each run of 32
-- marks those 32 entries indexed in the same statement, which adds them to every index in
-- one go. Listings read the indexed entries through the indexes and the at most 31 newer
-- ones through the primary key (`seq` above the head's last multiple of 32; see
-- store.rs). The UNIQUE on `id` becomes a partial unique index, hence the table rebuild.
CREATE TABLE audit_entries_v2 (
    seq            INTEGER PRIMARY KEY,
    id             TEXT NOT NULL,
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
    hash           TEXT NOT NULL,
    indexed        INTEGER NOT NULL DEFAULT 0
);
INSERT INTO audit_entries_v2 (seq, id, time, actor_id, actor_email, action, resource_type, resource_id, outcome,
                              details, ip, user_agent, request_id, prev_hash, hash, indexed)
SELECT seq, id, time, actor_id, actor_email, action, resource_type, resource_id, outcome,
       details, ip, user_agent, request_id, prev_hash, hash, 1
FROM audit_entries;
-- Takes the old table's indexes and chain triggers with it; both are made anew below.
DROP TABLE audit_entries;
ALTER TABLE audit_entries_v2 RENAME TO audit_entries;

CREATE UNIQUE INDEX audit_by_id ON audit_entries (id) WHERE indexed = 1;
-- One index per filter; each ends in (time, seq), the listing order.
CREATE INDEX audit_by_time ON audit_entries (time, seq) WHERE indexed = 1;
CREATE INDEX audit_by_actor ON audit_entries (actor_id, time, seq) WHERE indexed = 1;
CREATE INDEX audit_by_action ON audit_entries (action, time, seq) WHERE indexed = 1;
CREATE INDEX audit_by_resource ON audit_entries (resource_type, resource_id, time, seq) WHERE indexed = 1;

-- As in 0001: an append must continue the chain exactly where the head is, and moves the
-- head in the same statement.
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
CREATE TRIGGER audit_index_batch AFTER INSERT ON audit_entries
WHEN NEW.seq % 32 = 0
BEGIN
    UPDATE audit_entries SET indexed = 1 WHERE seq > NEW.seq - 32 AND seq <= NEW.seq AND indexed = 0;
END;
