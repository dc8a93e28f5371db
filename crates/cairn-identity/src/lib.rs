//! Identity: signing keys, access tokens and the verification that turns a bearer token
//! into a [`Principal`](cairn_domain::Principal). Knows nothing of HTTP.

mod keys;
mod tokens;

pub use keys::SigningKeys;
pub use tokens::{API_AUDIENCE, AccessGrant, TokenError, Tokens};

use cairn_store::Migration;

pub fn control_migrations() -> Vec<Migration> {
    vec![Migration {
        component: "identity",
        version: 1,
        name: "signing_keys",
        sqlite: include_str!("../migrations/sqlite/control_0001_signing_keys.sql"),
        postgres: include_str!("../migrations/postgres/control_0001_signing_keys.sql"),
    }]
}

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error(transparent)]
    Store(#[from] cairn_store::StoreError),
    #[error("database: {0}")]
    Database(#[from] cairn_store::sqlx::Error),
    #[error("signing key: {0}")]
    Key(String),
}
