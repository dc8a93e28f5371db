-- The tenant's user pool and its OpenID Connect state. Emails are unique per tenant by
-- their normalized form (email_key); the same address in another tenant is another account.
CREATE TABLE users (
    id                   TEXT PRIMARY KEY,
    email                TEXT NOT NULL,
    email_key            TEXT NOT NULL UNIQUE,
    given_name           TEXT NOT NULL DEFAULT '',
    family_name          TEXT NOT NULL DEFAULT '',
    status               TEXT NOT NULL,
    roles                TEXT NOT NULL,
    app_metadata         TEXT NOT NULL DEFAULT '{}',
    user_metadata        TEXT NOT NULL DEFAULT '{}',
    password_hash        TEXT,
    password_expires_at  INTEGER,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL
);

-- One row: display name, accent colour, default role and token lifetimes (JSON).
CREATE TABLE identity_settings (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    settings  TEXT NOT NULL
);

-- Relying parties; a client with a service_role may use client_credentials. Secrets are random 256-bit values, stored as their SHA-256.
CREATE TABLE oauth_clients (
    client_id         TEXT PRIMARY KEY,
    name              TEXT NOT NULL,
    secret_hash       TEXT,
    public            INTEGER NOT NULL,
    service_role      TEXT,
    redirect_uris     TEXT NOT NULL,
    post_logout_uris  TEXT NOT NULL,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL
);

-- Signed-in browsers at the provider (the SSO session behind prompt=none).
CREATE TABLE idp_sessions (
    id_hash     TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL,
    auth_time   INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    revoked_at  INTEGER
);
CREATE INDEX idp_sessions_by_user ON idp_sessions (user_id);

-- Authorization codes: single use, short-lived; a replay revokes the family it started.
CREATE TABLE auth_codes (
    code_hash       TEXT PRIMARY KEY,
    client_id       TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    redirect_uri    TEXT NOT NULL,
    scope           TEXT NOT NULL,
    nonce           TEXT,
    code_challenge  TEXT,
    auth_time       INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    used_at         INTEGER,
    family_id       TEXT
);

-- A refresh-token family: every rotation of one grant. Revoking it kills all its tokens.
CREATE TABLE token_families (
    id              TEXT PRIMARY KEY,
    client_id       TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    scope           TEXT NOT NULL,
    auth_time       INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    revoked_at      INTEGER,
    revoked_reason  TEXT
);
CREATE INDEX token_families_by_user ON token_families (user_id);

CREATE TABLE refresh_tokens (
    token_hash  TEXT PRIMARY KEY,
    family_id   TEXT NOT NULL,
    issued_at   INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER
);
CREATE INDEX refresh_tokens_by_family ON refresh_tokens (family_id);

-- Single-use emailed codes (password reset), stored as their SHA-256.
CREATE TABLE reset_codes (
    user_id     TEXT PRIMARY KEY,
    code_hash   TEXT NOT NULL,
    expires_at  INTEGER NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0
);

-- Failed sign-ins per account key and per client address, for growing delays.
CREATE TABLE login_throttle (
    key            TEXT PRIMARY KEY,
    failures       INTEGER NOT NULL,
    last_failure   INTEGER NOT NULL,
    blocked_until  INTEGER NOT NULL
);
