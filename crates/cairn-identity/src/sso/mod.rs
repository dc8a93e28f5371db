//! Single sign-on through a tenant's upstream OpenID Connect providers ("connections"),
//! and the login rules that decide who gets in:
//!
//! 1. Identity linking: an upstream identity seen for the first time is linked to the
//!    tenant's password user with the same *verified* email, who stays the primary account;
//!    with no such user the sign-in is denied ("No authorized user found").
//! 2. SSO enforcement: a user flagged `sso_required` who signs in with a password is
//!    denied ("Unsecure login detected, please login using SSO") — see `Identity::sign_in`.
//!
//! The upstream flow is authorization code with PKCE, state and nonce; the id token is
//! verified (RS256 with the provider's published keys, issuer, audience, expiry, nonce)
//! and the email is read from userinfo.

mod service;
pub(crate) mod store;

use serde::{Deserialize, Serialize};

use crate::model::User;

/// What the application is told when a rule denies an SSO sign-in.
pub const NO_AUTHORIZED_USER: &str = "No authorized user found";
/// What the application is told when an SSO user signs in with a password.
pub const USE_SSO: &str = "Unsecure login detected, please login using SSO";

/// A connection as admins see it; its client secret never leaves the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    pub id: String,
    pub name: String,
    pub issuer: String,
    pub client_id: String,
    pub created_at: i64,
}

#[derive(Debug, Clone)]
pub struct NewConnection {
    pub name: String,
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
}

/// An upstream sign-in in progress (sealed in a cookie between the two redirects).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Pending {
    pub connection_id: String,
    pub state: String,
    pub nonce: String,
    pub verifier: String,
}

/// How an SSO sign-in ended.
#[derive(Debug)]
pub enum SsoOutcome {
    Success(Box<User>),
    /// Denied by a rule; the description goes to the application.
    Denied(&'static str),
}

impl From<store::ConnectionRow> for Connection {
    fn from(r: store::ConnectionRow) -> Self {
        Self { id: r.id, name: r.name, issuer: r.issuer, client_id: r.client_id, created_at: r.created_at }
    }
}
