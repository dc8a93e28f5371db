-- The numbers store. Ids are UUIDv7, so id order is creation order (newest first = id DESC).
CREATE TABLE numbers (
    id          TEXT PRIMARY KEY,
    value       REAL NOT NULL,
    created_at  INTEGER NOT NULL,
    created_by  TEXT NOT NULL
);
