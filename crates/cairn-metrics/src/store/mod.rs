//! What the features' SQL shares: the values statements bind, how many fit in one
//! statement, and the one dialect difference (row locks).

use cairn_store::Backend;
use cairn_store::sqlx::any::{Any, AnyArguments};
use cairn_store::sqlx::query::Query;
use cairn_store::sqlx::{self};

/// Binds per statement, under SQLite's 32,766 and PostgreSQL's 65,535.
pub(crate) const MAX_BINDS: usize = 30_000;

/// A value a statement binds.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Sql {
    Int(i64),
    OptInt(Option<i64>),
    Text(String),
    OptText(Option<String>),
    OptReal(Option<f64>),
}

impl From<i64> for Sql {
    fn from(v: i64) -> Sql {
        Sql::Int(v)
    }
}

impl From<bool> for Sql {
    fn from(v: bool) -> Sql {
        Sql::Int(i64::from(v))
    }
}

impl From<Option<i64>> for Sql {
    fn from(v: Option<i64>) -> Sql {
        Sql::OptInt(v)
    }
}

impl From<&str> for Sql {
    fn from(v: &str) -> Sql {
        Sql::Text(v.to_owned())
    }
}

impl From<String> for Sql {
    fn from(v: String) -> Sql {
        Sql::Text(v)
    }
}

impl From<Option<String>> for Sql {
    fn from(v: Option<String>) -> Sql {
        Sql::OptText(v)
    }
}

impl From<&String> for Sql {
    fn from(v: &String) -> Sql {
        Sql::Text(v.clone())
    }
}

impl From<&Option<String>> for Sql {
    fn from(v: &Option<String>) -> Sql {
        Sql::OptText(v.clone())
    }
}

impl From<Option<f64>> for Sql {
    fn from(v: Option<f64>) -> Sql {
        Sql::OptReal(v)
    }
}

/// `query` with `values` bound in order (`$1`, `$2`, …).
pub(crate) fn bind_all<'q>(
    mut query: Query<'q, Any, AnyArguments<'q>>,
    values: &'q [Sql],
) -> Query<'q, Any, AnyArguments<'q>> {
    for v in values {
        query = match v {
            Sql::Int(i) => query.bind(*i),
            Sql::OptInt(i) => query.bind(*i),
            Sql::Text(t) => query.bind(t.as_str()),
            Sql::OptText(t) => query.bind(t.as_deref()),
            Sql::OptReal(Some(r)) => query.bind(*r),
            // sqlx 0.8's Any driver sends a NULL f64 to PostgreSQL as a `float4` parameter
            // (and a NULL f32 as `float8`); the statement, prepared and cached with that type,
            // then refuses the next execution's `float8` value. A NULL f32 binds as `float8`.
            Sql::OptReal(None) => query.bind(None::<f32>),
        };
    }
    query
}

/// ` FOR UPDATE` on PostgreSQL: the rows read stay locked against every other lock and
/// change until the transaction ends. Nothing on SQLite, whose one writer already excludes
/// every other write transaction.
pub(crate) fn for_update(backend: Backend) -> &'static str {
    match backend {
        Backend::Postgres => " FOR UPDATE",
        Backend::Sqlite => "",
    }
}

/// `$from, $from+1, …` for `n` values: one placeholder list.
pub(crate) fn placeholders(from: usize, n: usize) -> String {
    (from..from + n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

pub(crate) fn decode_json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, sqlx::Error> {
    serde_json::from_str(text).map_err(|e| sqlx::Error::Decode(Box::new(e)))
}
