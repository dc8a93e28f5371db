-- The tenant directory. A row in state 'creating' or 'deleting' is an operation in
-- progress (or interrupted): it is not a usable tenant, and `cairn migrate` finishes it.
CREATE TABLE tenants (
    id          TEXT PRIMARY KEY,
    slug        TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    placement   TEXT,            -- sealed PostgreSQL server URL; NULL = the control server / data dir
    state       TEXT NOT NULL CHECK (state IN ('creating', 'active', 'deleting')),
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
