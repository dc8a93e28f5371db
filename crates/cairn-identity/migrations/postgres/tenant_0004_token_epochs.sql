-- Per user, the revocation epoch of their access tokens: a token issued at or before
-- not_before (epoch milliseconds) is refused, except one of kept_family, the refresh-token
-- family a password change was made from (that sign-in stays signed in). Written in the
-- transaction that ends the user's sessions; replicas hold the recent rows in memory.
CREATE TABLE token_epochs (
    user_id      TEXT PRIMARY KEY,
    not_before   BIGINT NOT NULL,
    kept_family  TEXT
);
CREATE INDEX token_epochs_by_time ON token_epochs (not_before);
