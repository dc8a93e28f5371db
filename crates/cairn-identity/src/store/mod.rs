//! What the store modules share: the SQL several features run (ending a user's sign-ins
//! in [`revocation`]) and the control database's signing keys ([`keys`]), and how a stored
//! value that does not decode is reported. Each feature's own SQL is in its `store.rs`;
//! one text serves both backends.

use cairn_store::sqlx;

pub(crate) mod keys;
pub(crate) mod revocation;

/// A stored value that does not decode: the database holds what Cairn never writes.
pub(crate) fn corrupt(what: &str) -> sqlx::Error {
    sqlx::Error::Decode(format!("stored {what} is not valid").into())
}
