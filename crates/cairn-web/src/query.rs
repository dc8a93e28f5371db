//! Query strings that the API and the web UI both parse: the audit trail's filters (the
//! audit API's `list` and `export`, and the audit log page's filter form).

use cairn_audit::{ActionPattern, AuditFilter};
use cairn_domain::ValidationError;
use serde::Deserialize;
use utoipa::IntoParams;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditFilterParams {
    /// Actor id (user id or token subject).
    pub user: Option<String>,
    /// An action (`user.role_changed`) or a prefix (`user.*`).
    #[param(max_length = 100, pattern = r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*(\.\*|\.[a-z][a-z0-9_]*)$")]
    pub action: Option<String>,
    pub resource_type: Option<String>,
    /// Requires `resource_type`.
    pub resource_id: Option<String>,
    /// RFC 3339; entries at or after. Not after `to`.
    #[param(format = DateTime)]
    pub from: Option<String>,
    /// RFC 3339; entries before.
    #[param(format = DateTime)]
    pub to: Option<String>,
}

fn time_param(field: &str, v: &Option<String>) -> Result<Option<i64>, ValidationError> {
    v.as_deref()
        .map(|s| {
            s.parse::<jiff::Timestamp>()
                .map(|t| t.as_millisecond())
                .map_err(|_| ValidationError::new(field, "must be an RFC 3339 time, e.g. 2026-01-31T00:00:00Z"))
        })
        .transpose()
}

impl AuditFilterParams {
    pub(crate) fn filter(&self) -> Result<AuditFilter, ValidationError> {
        let filter = AuditFilter {
            user: self.user.clone(),
            action: self.action.as_deref().map(ActionPattern::parse).transpose()?,
            resource_type: self.resource_type.clone(),
            resource_id: self.resource_id.clone(),
            from: time_param("from", &self.from)?,
            to: time_param("to", &self.to)?,
        };
        filter.check()?;
        Ok(filter)
    }
}
