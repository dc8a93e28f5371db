use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cairn_domain::{Id, IdKind, ValidationError};
use serde::Serialize;

/// What an [`EntryId`] names.
#[derive(Debug)]
pub enum EntryKind {}

impl IdKind for EntryKind {
    const WHAT: &'static str = "audit entry";
}

/// An audit entry's id.
pub type EntryId = Id<EntryKind>;

/// A stable dotted action name: `^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$`, e.g. `number.created`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Action(String);

fn is_segment(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_lowercase()
        && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_')
}

impl Action {
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        let ok = s.len() <= 100 && s.split('.').count() >= 2 && s.split('.').all(is_segment);
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(ValidationError::new("action", "must be dotted lowercase words, e.g. invoice.approved"))
        }
    }

    /// For names fixed in code.
    pub fn fixed(s: &'static str) -> Self {
        debug_assert!(Self::parse(s).is_ok(), "{s}");
        Self(s.to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `user.role_changed` (exact) or `user.*` (every action under `user.`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActionPattern {
    Exact(String),
    Prefix(String),
}

impl ActionPattern {
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        let bad = || ValidationError::new("action", "must be an action name or a prefix like user.*");
        if let Some(prefix) = s.strip_suffix(".*") {
            if s.len() <= 100 && !prefix.is_empty() && prefix.split('.').all(is_segment) {
                return Ok(Self::Prefix(format!("{prefix}.")));
            }
            return Err(bad());
        }
        Action::parse(s).map(|a| Self::Exact(a.0)).map_err(|_| bad())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Success,
    Failure,
    Denied,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Denied => "denied",
        }
    }

    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        match s {
            "success" => Ok(Self::Success),
            "failure" => Ok(Self::Failure),
            "denied" => Ok(Self::Denied),
            _ => Err(ValidationError::new("outcome", "must be success, failure or denied")),
        }
    }
}

/// Who acted: a user (id and email) or a service token's subject (no email).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub id: String,
    pub email: Option<String>,
}

/// Where a request came from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestMeta {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
}

/// An entry to append.
#[derive(Debug, Clone)]
pub struct NewEntry {
    pub actor: Actor,
    pub action: Action,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    pub outcome: Outcome,
    pub details: serde_json::Value,
    pub meta: RequestMeta,
}

impl NewEntry {
    pub fn new(actor: Actor, action: Action, outcome: Outcome, meta: RequestMeta) -> Self {
        Self {
            actor,
            action,
            resource_type: None,
            resource_id: None,
            outcome,
            details: serde_json::Value::Object(Default::default()),
            meta,
        }
    }

    pub fn resource(mut self, kind: &str, id: impl Into<String>) -> Self {
        self.resource_type = Some(kind.to_owned());
        self.resource_id = Some(id.into());
        self
    }

    pub fn details(mut self, details: serde_json::Value) -> Self {
        self.details = details;
        self
    }
}

/// A stored entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub seq: i64,
    pub id: String,
    pub time: i64,
    pub actor_id: String,
    pub actor_email: Option<String>,
    pub action: String,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    pub outcome: String,
    /// JSON text, exactly as hashed.
    pub details: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    pub prev_hash: String,
    pub hash: String,
}

impl AuditEntry {
    /// The hash this entry's content (with its `prev_hash`) should carry.
    pub fn compute_hash(&self) -> String {
        crate::chain::entry_hash(self)
    }
}

/// Position in the newest-first listing: the last (time, seq) seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditCursor {
    pub time: i64,
    pub seq: i64,
}

impl AuditCursor {
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        let bad = || ValidationError::new("cursor", "is not a cursor returned by this API");
        let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(s).map_err(|_| bad())?).map_err(|_| bad())?;
        let (t, q) = raw.split_once(':').ok_or_else(bad)?;
        Ok(Self { time: t.parse().map_err(|_| bad())?, seq: q.parse().map_err(|_| bad())? })
    }

    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{}:{}", self.time, self.seq))
    }
}

/// Page size for audit queries: 1–1000, default 100.
#[derive(Debug, Clone, Copy)]
pub struct AuditLimit(i64);

impl AuditLimit {
    pub fn parse(v: Option<i64>) -> Result<Self, ValidationError> {
        match v {
            None => Ok(Self(100)),
            Some(n) if (1..=1000).contains(&n) => Ok(Self(n)),
            Some(_) => Err(ValidationError::new("limit", "must be between 1 and 1000")),
        }
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

/// Query filters; every field narrows.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Actor id (user id or token subject).
    pub user: Option<String>,
    pub action: Option<ActionPattern>,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    /// Inclusive, epoch ms.
    pub from: Option<i64>,
    /// Exclusive, epoch ms.
    pub to: Option<i64>,
}

impl AuditFilter {
    pub fn check(&self) -> Result<(), ValidationError> {
        if self.resource_id.is_some() && self.resource_type.is_none() {
            return Err(ValidationError::new("resource_id", "needs resource_type too"));
        }
        if let (Some(f), Some(t)) = (self.from, self.to)
            && f > t
        {
            return Err(ValidationError::new("from", "must not be after to"));
        }
        Ok(())
    }
}

/// How long entries are kept: 1–3650 days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionDays(i64);

impl RetentionDays {
    pub fn parse(n: i64) -> Result<Self, ValidationError> {
        if (1..=3650).contains(&n) {
            Ok(Self(n))
        } else {
            Err(ValidationError::new("retention_days", "must be between 1 and 3650"))
        }
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions() {
        for ok in ["number.created", "user.role_changed", "a.b.c", "invoice_2.paid"] {
            assert!(Action::parse(ok).is_ok(), "{ok}");
        }
        for bad in
            ["number", "Number.created", "number.", ".created", "number..created", "number.created!", "1a.b", "a.B"]
        {
            assert!(Action::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn patterns() {
        assert_eq!(ActionPattern::parse("user.*").unwrap(), ActionPattern::Prefix("user.".into()));
        assert_eq!(ActionPattern::parse("user.created").unwrap(), ActionPattern::Exact("user.created".into()));
        assert_eq!(ActionPattern::parse("auth.login.*").unwrap(), ActionPattern::Prefix("auth.login.".into()));
        for bad in ["*", ".*", "user*", "User.*", "user"] {
            assert!(ActionPattern::parse(bad).is_err(), "{bad}");
        }
        // Exact names and prefixes alike: at most 100 characters.
        let long = format!("{}.*", "a".repeat(98));
        assert!(ActionPattern::parse(&long).is_ok());
        assert!(ActionPattern::parse(&format!("a{long}")).is_err());
    }

    #[test]
    fn cursors() {
        let c = AuditCursor { time: 1_700_000_000_000, seq: 42 };
        assert_eq!(AuditCursor::parse(&c.encode()).unwrap(), c);
        assert!(AuditCursor::parse("zzz").is_err());
    }
}

/// A value of a [`Change`]'s statement.
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    Text(String),
    OptText(Option<String>),
    Int(i64),
    Float(f64),
}

/// A change's one data-modifying statement (parameters `$1`…`$n`, in `params` order), which
/// [`crate::AuditService::record_with`] sends together with the audit entry that records it.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub sql: &'static str,
    pub params: Vec<Param>,
}
