-- The numbers store. Ids are UUIDv7, so id order is creation order (newest first = id DESC).
CREATE TABLE numbers (
    id          TEXT PRIMARY KEY,
    value       DOUBLE PRECISION NOT NULL,
    created_at  BIGINT NOT NULL,
    created_by  TEXT NOT NULL
);
