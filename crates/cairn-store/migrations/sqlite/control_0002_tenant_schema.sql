-- How many of the tenant migrations known to the newest Cairn that opened the tenant have
-- been applied to its database. A process migrates a tenant when it first opens its pool
-- and this is below its own count, so start-up never waits for every tenant database.
-- NULL: not known yet (migrated before this column existed, or never).
ALTER TABLE tenants ADD COLUMN schema_version BIGINT;
