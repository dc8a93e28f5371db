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

use std::marker::PhantomData;

use cairn_domain::ValidationError;
use serde::de::{Unexpected, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
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

/// A whole number as JSON Schema counts one (`300`, or `300.0`), read into `T`; anything else
/// is refused as serde refuses it for `T`, so the refusal reads the same.
struct Whole<T>(T);

impl<'de, T: TryFrom<i128>> Deserialize<'de> for Whole<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit<T>(PhantomData<T>);
        impl<T: TryFrom<i128>> Visit<T> {
            fn whole<E: serde::de::Error>(&self, n: i128, unexpected: Unexpected<'_>) -> Result<T, E> {
                T::try_from(n).map_err(|_| E::invalid_value(unexpected, self))
            }
        }
        impl<T: TryFrom<i128>> Visitor<'_> for Visit<T> {
            type Value = T;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                // `u32`, `i64`: the words the body extractor turns into plain ones.
                f.write_str(std::any::type_name::<T>())
            }

            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<T, E> {
                self.whole(v.into(), Unexpected::Signed(v))
            }

            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<T, E> {
                self.whole(v.into(), Unexpected::Unsigned(v))
            }

            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<T, E> {
                if v.fract() == 0.0 && v.abs() < 1e30 {
                    self.whole(v as i128, Unexpected::Float(v))
                } else {
                    Err(E::invalid_value(Unexpected::Float(v), &self))
                }
            }
        }
        d.deserialize_any(Visit(PhantomData)).map(Whole)
    }
}

/// `#[serde(deserialize_with = "whole")]`: see [`Whole`].
pub(crate) fn whole<'de, D: Deserializer<'de>, T: TryFrom<i128>>(d: D) -> Result<T, D::Error> {
    Whole::deserialize(d).map(|w| w.0)
}

/// `#[serde(default, deserialize_with = "whole_or_null")]`: an optional [`Whole`], `null` as absent.
pub(crate) fn whole_or_null<'de, D: Deserializer<'de>, T: TryFrom<i128>>(d: D) -> Result<Option<T>, D::Error> {
    Option::<Whole<T>>::deserialize(d).map(|w| w.map(|w| w.0))
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
