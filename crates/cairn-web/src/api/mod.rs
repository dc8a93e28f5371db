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
use serde::{Deserialize, Serialize, Serializer};
use utoipa::{IntoParams, ToSchema};

/// One page of a list: every list endpoint answers this shape.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// The last item's id when more follow: pass it as `cursor` for the next page. `null`
    /// on the last page.
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Cuts `items` (fetched with one extra, as `limit + 1`) to `limit`, with the last
    /// kept item's id as the cursor when the extra one shows that more follow.
    pub(crate) fn cut(mut items: Vec<T>, limit: i64, id: impl Fn(&T) -> String) -> Self {
        let more = items.len() as i64 > limit;
        items.truncate(limit as usize);
        let next_cursor = if more { items.last().map(id) } else { None };
        Page { items, next_cursor }
    }

    /// The same page with each item turned into its wire type.
    pub(crate) fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page { items: self.items.into_iter().map(f).collect(), next_cursor: self.next_cursor }
    }
}

/// `?limit=&cursor=`, the paging parameters every list takes.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// 1–500, default 50.
    pub limit: Option<i64>,
    /// A previous page's `next_cursor`: the last item's id.
    pub cursor: Option<String>,
}

impl PageParams {
    /// The checked limit.
    pub(crate) fn limit(&self) -> Result<i64, ValidationError> {
        page_limit(self.limit)
    }
}

/// A page size from `?limit=`: 1–500, default 50.
pub(crate) fn page_limit(limit: Option<i64>) -> Result<i64, ValidationError> {
    let l = limit.unwrap_or(50);
    if (1..=500).contains(&l) { Ok(l) } else { Err(ValidationError::new("limit", "must be between 1 and 500")) }
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
