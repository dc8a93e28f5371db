-- Which tenants have event work, and from when: a commit that emits events marks its tenant
-- due now; a worker's round sets the tenant's next due time or clears it. Workers poll this
-- table instead of every tenant database.
CREATE TABLE event_work (
    tenant_id TEXT PRIMARY KEY,
    due_at BIGINT NOT NULL
);
CREATE INDEX event_work_due ON event_work (due_at);
