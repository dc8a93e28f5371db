//! `/api/v1`: one module per product; each owns its routes.

pub mod audit;
pub mod caller;
pub mod clients;
pub mod events;
pub mod numbers;
pub mod platform;
pub mod records;
pub mod sso;
pub mod tenants;
pub mod users;
pub mod webhooks;

use cairn_domain::ValidationError;
use serde::Serializer;

/// A page size from `?limit=`: 1–500, default 50.
pub(crate) fn page_limit(limit: Option<i64>) -> Result<i64, ValidationError> {
    let l = limit.unwrap_or(50);
    if (1..=500).contains(&l) { Ok(l) } else { Err(ValidationError::new("limit", "must be between 1 and 500")) }
}

/// Cuts `items` (fetched with one extra) to `limit`; the cursor is the last item's key when
/// more follow.
pub(crate) fn paged<T>(mut items: Vec<T>, limit: i64, key: impl Fn(&T) -> String) -> (Vec<T>, Option<String>) {
    let more = items.len() as i64 > limit;
    items.truncate(limit as usize);
    let next = if more { items.last().map(key) } else { None };
    (items, next)
}

/// Serialises an integral value as a JSON integer, so `{"value": 42}` reads back as 42.
pub(crate) fn serialize_number<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    if v.fract() == 0.0 && v.abs() < 9.007_199_254_740_992e15 {
        s.serialize_i64(*v as i64)
    } else {
        s.serialize_f64(*v)
    }
}

pub(crate) fn serialize_opt_number<S: Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => serialize_number(v, s),
        None => s.serialize_none(),
    }
}
