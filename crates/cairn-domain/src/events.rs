//! The event types Cairn emits: stable names that webhooks subscribe to and consumers match.

pub const RECORDS_CREATED: &str = "records_created";
pub const RECORD_UPDATED: &str = "record_updated";
pub const RECORDS_DELETED: &str = "records_deleted";
pub const RECORD_PUBLISHED: &str = "record_published";
pub const REPORT_READY: &str = "report_ready";

/// Every type, in the order documentation lists them.
pub const ALL: [&str; 5] = [RECORDS_CREATED, RECORD_UPDATED, RECORDS_DELETED, RECORD_PUBLISHED, REPORT_READY];
