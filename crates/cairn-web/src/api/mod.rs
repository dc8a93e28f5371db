//! `/api/v1`: one module per product; each owns its routes.

pub mod audit;
pub mod clients;
pub mod events;
pub mod numbers;
pub mod platform;
pub mod records;
pub mod sso;
pub mod tenants;
pub mod users;
pub mod webhooks;

use serde::Serializer;

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
