-- Cloud accounts a tenant connects to the instances console. The secret access key is
-- sealed with the master key and bound to the account's id; a role account keeps no
-- secret (it is assumed with the platform's own credentials).
CREATE TABLE instances_accounts (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    regions TEXT NOT NULL,
    access_key_id TEXT,
    secret_sealed TEXT,
    role_arn TEXT,
    external_id TEXT,
    endpoint_url TEXT,
    aws_account_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    updated_by TEXT NOT NULL
);
