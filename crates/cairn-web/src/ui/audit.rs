//! The audit log page (admins): the tenant's trail with the API's filters, newest first,
//! with readable action names and a detail view of each entry.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use cairn_audit::{AuditCursor, AuditEntryView, AuditLimit, AuditService};
use serde::Deserialize;

use super::view::{Invalid, People, Person, When};
use super::{Admin, Nav, Page, PageError};
use crate::AppState;
use crate::html::Chrome;
use crate::query::AuditFilterParams;

const PAGE: i64 = 50;

/// The filter form's values, as typed (times as `datetime-local`, UTC).
#[derive(Debug, Default, Deserialize)]
pub(super) struct FilterForm {
    #[serde(default)]
    user: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    resource_type: String,
    #[serde(default)]
    resource_id: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    cursor: Option<String>,
}

fn some(v: &str) -> Option<String> {
    Some(v.trim().to_owned()).filter(|v| !v.is_empty())
}

/// `2026-11-22T10:00` or `…:05` (a `datetime-local` value) as RFC 3339 UTC.
fn utc(v: &str) -> Option<String> {
    let v = some(v)?;
    if v.ends_with('Z') || v.contains('+') {
        return Some(v);
    }
    Some(if v.len() == 16 { format!("{v}:00Z") } else { format!("{v}Z") })
}

impl FilterForm {
    fn params(&self) -> AuditFilterParams {
        AuditFilterParams {
            user: some(&self.user),
            action: some(&self.action),
            resource_type: some(&self.resource_type),
            resource_id: some(&self.resource_id),
            from: utc(&self.from),
            to: utc(&self.to),
        }
    }

    /// Whether any filter is given.
    fn any(&self) -> bool {
        [&self.user, &self.action, &self.resource_type, &self.resource_id, &self.from, &self.to]
            .iter()
            .any(|v| !v.trim().is_empty())
    }

    /// The page of older entries, keeping the filters.
    fn next_url(&self, cursor: &str) -> String {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("user", &self.user),
            ("action", &self.action),
            ("resource_type", &self.resource_type),
            ("resource_id", &self.resource_id),
            ("from", &self.from),
            ("to", &self.to),
        ] {
            if !v.trim().is_empty() {
                q.append_pair(k, v.trim());
            }
        }
        q.append_pair("cursor", cursor);
        format!("/app/audit?{}", q.finish())
    }
}

/// `user.role_changed` → "User role changed"; `auth.login_failed` → "Sign-in failed".
pub fn readable(action: &str) -> String {
    let known = match action {
        "auth.login_succeeded" => Some("Signed in"),
        "auth.login_failed" => Some("Sign-in failed"),
        "auth.token_refreshed" => Some("Session refreshed"),
        "auth.tokens_issued" => Some("Tokens issued"),
        "auth.refresh_reused" => Some("Reused refresh token refused"),
        "auth.code_replayed" => Some("Replayed authorization code refused"),
        "auth.password_reset_requested" => Some("Password reset requested"),
        "access.denied" => Some("Access denied"),
        _ => None,
    };
    if let Some(k) = known {
        return k.to_owned();
    }
    let words = action.replace(['.', '_'], " ");
    let mut chars = words.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

struct Row {
    id: String,
    time: When,
    who: Person,
    label: String,
    action: String,
    resource_type: Option<String>,
    resource_id: Option<String>,
    outcome: String,
}

/// The filter form's fields.
const FIELDS: [&str; 6] = ["user", "action", "resource_type", "resource_id", "from", "to"];

/// Who acted: the person or application (looked up by id), else the email the entry kept.
fn who(people: &People, id: &str, email: Option<&str>) -> Person {
    let p = people.get(id);
    match email {
        Some(e) if p.label == id => Person { label: e.to_owned(), detail: id.to_owned() },
        _ => p,
    }
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage<'a> {
    c: &'a Chrome,
    nav: &'a Nav,
    notice: Option<&'a str>,
    error: Option<&'a str>,
    f: &'a FilterForm,
    /// Any filter given: the filters stay open.
    filtering: bool,
    invalid: &'a Invalid,
    rows: Vec<Row>,
    next: Option<String>,
}

#[derive(Template)]
#[template(path = "audit_entry.html")]
struct EntryPage<'a> {
    c: &'a Chrome,
    nav: &'a Nav,
    notice: Option<&'a str>,
    error: Option<&'a str>,
    label: String,
    time: When,
    who: Person,
    e: AuditEntryView,
    details: String,
}

pub(super) async fn page(
    State(state): State<AppState>,
    s: Page<Admin>,
    Query(f): Query<FilterForm>,
) -> Result<Response, PageError> {
    let (c, nav) = s.shell(&state, "Audit log", "audit").await;
    let parsed = f.params().filter().and_then(|filter| {
        let cursor = f.cursor.as_deref().map(AuditCursor::parse).transpose()?;
        Ok((filter, cursor))
    });
    let (filter, cursor) = match parsed {
        Ok(v) => v,
        Err(e) => {
            let invalid = Invalid::of(&e, &FIELDS);
            let error = invalid.banner();
            let view = AuditPage {
                c: &c,
                nav: &nav,
                notice: None,
                error,
                f: &f,
                filtering: true,
                invalid: &invalid,
                rows: vec![],
                next: None,
            };
            return Ok(s.render(&state, StatusCode::BAD_REQUEST, &c, &view));
        }
    };
    let limit = AuditLimit::parse(Some(PAGE)).expect("the page size is within the limit");
    let (entries, next) = AuditService::list(&s.db, &filter, cursor, limit).await?;
    let people = People::of(&state, &s.db, &entries.iter().map(|e| e.actor_id.as_str()).collect::<Vec<_>>()).await?;
    let rows = entries
        .iter()
        .map(|e| Row {
            id: e.id.clone(),
            time: When::at(e.time),
            who: who(&people, &e.actor_id, e.actor_email.as_deref()),
            label: readable(&e.action),
            action: e.action.clone(),
            resource_type: e.resource_type.clone(),
            resource_id: e.resource_id.clone(),
            outcome: e.outcome.clone(),
        })
        .collect();
    let next = next.map(|c| f.next_url(&c.encode()));
    let invalid = Invalid::none();
    let filtering = f.any();
    let view =
        AuditPage { c: &c, nav: &nav, notice: None, error: None, f: &f, filtering, invalid: &invalid, rows, next };
    Ok(s.render(&state, StatusCode::OK, &c, &view))
}

pub(super) async fn entry(
    State(state): State<AppState>,
    s: Page<Admin>,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let (c, nav) = s.shell(&state, "Audit entry", "audit").await;
    let found = match cairn_audit::EntryId::parse(&id, "id") {
        Ok(id) => AuditService::get(&s.db, &id).await?,
        Err(_) => None,
    };
    let Some(found) = found else {
        return Ok(s.finish(
            &state,
            crate::html::message(
                StatusCode::NOT_FOUND,
                &c,
                "No such entry",
                "It may have passed its retention, or the link is wrong.",
                Some(("/app/audit", "Audit log")),
            ),
        ));
    };
    let people = People::of(&state, &s.db, &[found.actor_id.as_str()]).await?;
    let who = who(&people, &found.actor_id, found.actor_email.as_deref());
    let time = When::at(found.time);
    let e = AuditEntryView::from(&found);
    let details = serde_json::to_string_pretty(&e.details).unwrap_or_default();
    let label = readable(&e.action);
    let view = EntryPage { c: &c, nav: &nav, notice: None, error: None, label, time, who, e, details };
    Ok(s.render(&state, StatusCode::OK, &c, &view))
}

#[cfg(test)]
mod tests {
    #[test]
    fn readable_action_names() {
        assert_eq!(super::readable("user.role_changed"), "User role changed");
        assert_eq!(super::readable("auth.login_failed"), "Sign-in failed");
        assert_eq!(super::readable("invoice.paid"), "Invoice paid");
        assert_eq!(super::utc("2026-11-22T10:00").as_deref(), Some("2026-11-22T10:00:00Z"));
        assert_eq!(super::utc("2026-11-22T10:00:05").as_deref(), Some("2026-11-22T10:00:05Z"));
        assert_eq!(super::utc(" "), None);
    }
}
