//! What pages share to show values: times, people and applications instead of ids, and a
//! form's mistake beside the field it is about.

use std::collections::HashMap;

use cairn_domain::{ValidationError, rfc3339};
use cairn_identity::IdentityError;
use cairn_store::Db;

use super::PageError;
use crate::AppState;

/// A moment as a page shows it: a `<time datetime>` whose text is the UTC time (macro
/// `time` in `templates/macros.html`); `static/cairn.js` rewrites it to the viewer's zone,
/// relative when recent, with the exact time on hover.
#[derive(Debug, Clone)]
pub(crate) struct When {
    /// RFC 3339, UTC, to the millisecond.
    pub iso: String,
    /// `2026-11-22 10:04 UTC`.
    pub utc: String,
}

impl When {
    pub fn at(ms: i64) -> When {
        let iso = rfc3339(ms);
        let utc = format!("{} UTC", iso.get(..16).unwrap_or(&iso).replace('T', " "));
        When { iso, utc }
    }
}

/// A chart drawn for a page (`cairn_charts`' adaptive mode): its own `<style>` (the dark
/// scheme's colours) carries the page's CSP nonce, or the browser would not apply it.
pub(crate) fn nonced(svg: String, nonce: &str) -> String {
    svg.replacen("<style>", &format!("<style nonce=\"{nonce}\">"), 1)
}

/// Who an id is, as a "by" column shows it.
#[derive(Debug, Clone)]
pub(crate) struct Person {
    /// The name, else the email; an application's name; the id when it names no one.
    pub label: String,
    /// Shown on hover: the email, or what the label is.
    pub detail: String,
}

/// The people (and service applications) behind the user ids a page shows.
#[derive(Debug, Default)]
pub(crate) struct People(HashMap<String, Person>);

impl People {
    /// Looks up each distinct id once: a user of the organization, or `client:<id>` (what a
    /// service application's token acts as).
    pub async fn of(state: &AppState, db: &Db, ids: &[&str]) -> Result<People, PageError> {
        let mut known = HashMap::new();
        for &id in ids {
            if known.contains_key(id) {
                continue;
            }
            let person = match id.strip_prefix("client:") {
                Some(client) => match state.identity.get_client(db, client).await {
                    Ok(c) => Person { label: c.name, detail: format!("Application {client}") },
                    Err(IdentityError::NotFound(_)) => Person { label: id.to_owned(), detail: id.to_owned() },
                    Err(e) => return Err(e.into()),
                },
                None => match state.identity.get_user(db, id).await {
                    Ok(u) => {
                        let name = format!("{} {}", u.given_name, u.family_name).trim().to_owned();
                        let email = u.email.to_string();
                        Person { label: if name.is_empty() { email.clone() } else { name }, detail: email }
                    }
                    Err(IdentityError::NotFound(_)) => Person { label: id.to_owned(), detail: id.to_owned() },
                    Err(e) => return Err(e.into()),
                },
            };
            known.insert(id.to_owned(), person);
        }
        Ok(People(known))
    }

    pub fn get(&self, id: &str) -> Person {
        self.0.get(id).cloned().unwrap_or_else(|| Person { label: id.to_owned(), detail: id.to_owned() })
    }
}

/// What a page of one thing (an application, a webhook) shows besides the thing: a notice,
/// its form as typed when it was refused, with the mistake, and a secret shown once.
#[derive(Debug)]
pub(crate) struct Shown<'a, F> {
    pub notice: Option<&'a str>,
    pub typed: Option<F>,
    pub invalid: Invalid,
    pub revealed: Option<(&'a str, &'a str)>,
}

impl<F> Default for Shown<'_, F> {
    fn default() -> Self {
        Shown { notice: None, typed: None, invalid: Invalid::none(), revealed: None }
    }
}

impl<'a, F> Shown<'a, F> {
    /// A secret from a flash, with its notice.
    pub fn secret(flash: &'a super::Flash) -> Self {
        Shown { notice: Some(&flash.notice), revealed: Some((&flash.id, &flash.secret)), ..Shown::default() }
    }

    pub fn notice(notice: Option<&'a str>) -> Self {
        Shown { notice, ..Shown::default() }
    }

    pub fn refused(typed: F, invalid: Invalid) -> Self {
        Shown { typed: Some(typed), invalid, ..Shown::default() }
    }
}

/// A form's mistake: beside its field when the form shows that field (`app_metadata.plan`
/// belongs to `app_metadata`), else above the form. The form itself keeps what was typed.
#[derive(Debug, Default, Clone)]
pub(crate) struct Invalid {
    field: Option<String>,
    message: Option<String>,
}

impl Invalid {
    pub fn none() -> Invalid {
        Invalid::default()
    }

    /// A mistake in `field`, which is shown beside it when `shown` (the form's fields) has it.
    pub fn at(field: &str, message: impl Into<String>, shown: &[&str]) -> Invalid {
        let base = field.split(['.', '[']).next().unwrap_or(field);
        let field = shown.iter().find(|f| **f == field || **f == base).map(|f| (*f).to_owned());
        Invalid { field, message: Some(message.into()) }
    }

    pub fn of(v: &ValidationError, shown: &[&str]) -> Invalid {
        Invalid::at(&v.field, v.message.clone(), shown)
    }

    /// A mistake that belongs to no one field.
    pub fn general(message: impl Into<String>) -> Invalid {
        Invalid { field: None, message: Some(message.into()) }
    }

    /// The message to show beside `field`.
    pub fn on(&self, field: &str) -> Option<&str> {
        self.message.as_deref().filter(|_| self.field.as_deref() == Some(field))
    }

    /// The message to show above the form: one no field shows.
    pub fn banner(&self) -> Option<&str> {
        self.message.as_deref().filter(|_| self.field.is_none())
    }

    pub fn is_some(&self) -> bool {
        self.message.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_show_utc_to_the_minute() {
        let w = When::at(1_795_000_000_123);
        assert_eq!(w.iso, "2026-11-18T11:06:40.123Z");
        assert_eq!(w.utc, "2026-11-18 11:06 UTC");
    }

    #[test]
    fn a_mistake_sits_beside_its_field_or_above_the_form() {
        let shown = ["name", "app_metadata"];
        let m = Invalid::at("app_metadata.plan", "is a reserved claim name", &shown);
        assert_eq!(m.on("app_metadata"), Some("is a reserved claim name"));
        assert_eq!((m.on("name"), m.banner()), (None, None));
        let elsewhere = Invalid::at("public", "a service client must be confidential", &shown);
        assert_eq!(elsewhere.banner(), Some("a service client must be confidential"));
        assert!(Invalid::none().banner().is_none() && !Invalid::none().is_some());
    }
}
