-- Single sign-on through upstream OpenID Connect providers. The client secret is sealed
-- with the master key. An upstream identity (connection, subject) links to one user.
CREATE TABLE sso_connections (
    id             TEXT PRIMARY KEY,
    name           TEXT NOT NULL,
    issuer         TEXT NOT NULL,
    client_id      TEXT NOT NULL,
    client_secret  TEXT NOT NULL,
    created_at     BIGINT NOT NULL
);

CREATE TABLE user_identities (
    connection_id  TEXT NOT NULL,
    subject        TEXT NOT NULL,
    user_id        TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    PRIMARY KEY (connection_id, subject)
);
CREATE INDEX user_identities_by_user ON user_identities (user_id);

-- Users who must sign in through SSO: a password sign-in is refused.
ALTER TABLE users ADD COLUMN sso_required BIGINT NOT NULL DEFAULT 0;
