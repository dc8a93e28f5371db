-- Token signing keys. The private key is sealed with the master key; `generation` makes
-- first-start key creation race-free across replicas (one row per generation).
CREATE TABLE signing_keys (
    kid          TEXT PRIMARY KEY,
    generation   BIGINT NOT NULL UNIQUE,
    alg          TEXT NOT NULL,
    private_key  TEXT NOT NULL,
    public_n     TEXT NOT NULL,
    public_e     TEXT NOT NULL,
    created_at   BIGINT NOT NULL
);
