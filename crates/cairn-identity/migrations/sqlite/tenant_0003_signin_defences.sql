-- Throttling reserves an attempt before the password is checked: one upsert decides and
-- counts, and marks the attempt it let through here, so concurrent attempts cannot all pass.
ALTER TABLE login_throttle ADD COLUMN last_grant TEXT NOT NULL DEFAULT '';

-- Browsers that signed in to an account (device cookies), by the SHA-256 of the cookie's
-- random token. A recognised browser is throttled on its own, not by the account's pause.
CREATE TABLE known_devices (
    token_hash    TEXT NOT NULL,
    user_id       TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    last_used_at  INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    PRIMARY KEY (token_hash, user_id)
);
CREATE INDEX known_devices_by_user ON known_devices (user_id);

-- Reset codes: one row per code sent, so that a code someone else asked for does not
-- replace the owner's; stored as HMAC-SHA256 under a key derived from the master key. Each
-- wrong guess for the account counts against every code still live. The six-digit codes
-- still pending (15 minutes at most) are dropped.
DROP TABLE reset_codes;
CREATE TABLE reset_codes (
    code_hash   TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL,
    expires_at  INTEGER NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX reset_codes_by_user ON reset_codes (user_id);

-- How many audit entries of failed sign-ins each (account, address) wrote in its current
-- minute, and how many the previous minutes left unrecorded.
CREATE TABLE audit_caps (
    key       TEXT PRIMARY KEY,
    minute    INTEGER NOT NULL,
    entries   INTEGER NOT NULL,
    carried   INTEGER NOT NULL
);
