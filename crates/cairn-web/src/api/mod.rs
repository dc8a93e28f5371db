//! `/api/v1`: one module per product; each owns its routes.

pub mod audit;
pub mod caller;
pub mod clients;
pub mod events;
pub mod figures;
pub mod instances;
pub mod metrics;
pub mod numbers;
pub mod platform;
pub mod records;
pub mod reports;
pub mod sources;
pub mod sso;
pub mod tenants;
pub mod users;
pub mod webhooks;

use std::borrow::Cow;
use std::marker::PhantomData;

use cairn_domain::ValidationError;
use serde::de::{Unexpected, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use utoipa::openapi::schema::{ObjectBuilder, SchemaFormat, Type};
use utoipa::openapi::{RefOr, Schema};
use utoipa::{IntoParams, PartialSchema, ToSchema};

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
    #[param(minimum = 1, maximum = 500)]
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

/// The paging parameters of a list whose items are named by UUIDs, as the OpenAPI document
/// states them: the same `?limit=&cursor=` as [`PageParams`], which parses them.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct UuidPageParams {
    /// 1–500, default 50.
    #[param(minimum = 1, maximum = 500)]
    limit: Option<i64>,
    /// A previous page's `next_cursor`: the last item's id.
    #[param(value_type = Option<UuidText>)]
    cursor: Option<String>,
}

/// A string schema: what `#[schema(...)]` on a newtype cannot state.
fn string_schema(
    description: &str,
    length: Option<(usize, usize)>,
    pattern: Option<&str>,
    format: Option<&str>,
) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
        .min_length(length.map(|(min, _)| min))
        .max_length(length.map(|(_, max)| max))
        .pattern(pattern)
        .format(format.map(|f| SchemaFormat::Custom(f.to_owned())))
        .into()
}

/// A UUID, hyphenated: the ids of numbers, records, audit entries and events (`Uuid` in the
/// OpenAPI document).
pub struct UuidText;

impl PartialSchema for UuidText {
    fn schema() -> RefOr<Schema> {
        string_schema("A UUID.", None, None, Some("uuid"))
    }
}

impl ToSchema for UuidText {
    fn name() -> Cow<'static, str> {
        "Uuid".into()
    }
}

/// An absolute URL of a server Cairn calls (a webhook receiver, an SSO issuer), as the
/// OpenAPI document states it (`OutboundUrl`).
pub struct OutboundUrl;

impl PartialSchema for OutboundUrl {
    fn schema() -> RefOr<Schema> {
        string_schema(
            "An absolute https URL (http only where the operator allows it), no credentials, at most 2048 \
             characters, on an address Cairn may reach: private, loopback and link-local addresses are \
             refused unless the operator allows them.",
            Some((1, 2048)),
            None,
            Some("uri"),
        )
    }
}

impl ToSchema for OutboundUrl {}

/// Text a person wrote in one line: not blank, no control characters (Unicode `Cc`).
pub(crate) const ONE_LINE: &str =
    r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$";

/// Text without control characters (Unicode `Cc`), blank allowed.
const NO_CONTROL: &str = r"^[^\u0000-\u001f\u007f-\u009f]*$";

/// The name of a thing people pick from a list (a client, an SSO connection), as the OpenAPI
/// document states it.
pub struct DisplayName;

impl PartialSchema for DisplayName {
    fn schema() -> RefOr<Schema> {
        string_schema("1–100 characters, not blank, no control characters.", Some((1, 100)), Some(ONE_LINE), None)
    }
}

impl ToSchema for DisplayName {}

/// A person's given or family name, or an organization's display name, as the OpenAPI
/// document states it.
pub struct PersonName;

impl PartialSchema for PersonName {
    fn schema() -> RefOr<Schema> {
        string_schema(
            "At most 100 characters, no control characters; stored trimmed.",
            Some((0, 100)),
            Some(NO_CONTROL),
            None,
        )
    }
}

impl ToSchema for PersonName {}

/// A role within a tenant, as the API writes it (`Role` in the OpenAPI document).
#[derive(ToSchema)]
#[schema(as = Role, rename_all = "lowercase")]
#[allow(dead_code)]
pub enum RoleName {
    Readonly,
    Member,
    Admin,
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

/// `#[serde(default, deserialize_with = "present")]`: a field that is present, `null` included
/// (`Some(None)`: clear it), as opposed to absent (`None`: keep it).
pub(crate) fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
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
