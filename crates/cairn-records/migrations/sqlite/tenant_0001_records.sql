CREATE TABLE records (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    -- JSON array of strings.
    tags TEXT NOT NULL,
    -- JSON object.
    data TEXT NOT NULL,
    -- The latest published version; 0 until first published.
    version INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    updated_by TEXT NOT NULL
);

CREATE TABLE publish_history (
    record_id TEXT NOT NULL REFERENCES records (id) ON DELETE CASCADE,
    version INTEGER NOT NULL,
    publisher_id TEXT NOT NULL,
    publisher_email TEXT,
    time INTEGER NOT NULL,
    note TEXT NOT NULL,
    PRIMARY KEY (record_id, version)
);
