//! Identity: each tenant's user pool (users, roles, passwords, invitations), the OpenID
//! Connect provider logic (clients, sessions, codes, refresh-token families), signing keys
//! and access tokens, and the verification that turns a bearer token into a
//! [`Principal`](cairn_domain::Principal). Knows nothing of HTTP.
//!
//! A tenant's users, clients and grants live in the tenant's own database, so a user's
//! changes commit with their audit entries and a tenant's deletion takes its accounts with
//! it. Opaque handles (client ids, codes, refresh tokens, sessions) begin with the tenant id,
//! which is how the provider finds the database to look them up in.
//!
//! [`Identity`] is the one service; each feature adds its methods from its own module, a
//! `service.rs` over a `store.rs` holding the SQL it runs: [`users`], [`signin`],
//! [`reset`], clients, [`provider`] and [`sso`]. What several features run lives in
//! `store/`.

mod clients;
mod jws;
mod keys;
pub mod mail;
pub mod model;
pub mod password;
pub mod provider;
pub mod reset;
pub mod revocation;
pub mod signin;
pub mod sso;
mod store;
mod tokens;
pub mod users;

pub use clients::{ClientPatch, NewClient};
pub use keys::SigningKeys;
pub use model::{Client, Email, Settings, User, UserStatus};
pub use password::Argon2Pool;
pub use provider::{
    AuthRequest, AuthorizeError, AuthorizeParams, ClientCtx, EmailClaims, Grant, Introspection, IssuedTokens,
    LiveAccessToken, LiveRefreshToken, OAuthError, ProfileClaims, UserClaims,
};
pub use reset::ResetOutcome;
pub use revocation::{CurrentSession, Revocations};
pub use signin::SignIn;
pub use tokens::{API_AUDIENCE, AccessGrant, IdTokenHint, TokenError, Tokens, UserGrant};
pub use users::{Invitation, NewUser, UserPatch};

use std::sync::Arc;

use cairn_audit::{Action, Actor, NewEntry, Outcome, RequestMeta};
use cairn_domain::ValidationError;
use cairn_mail::Mailer;
use cairn_store::{Migration, Store};

/// The identity service, one facade over every feature: its methods are defined in each
/// feature's `service.rs`. It holds the store, the token issuer, the mailer and the public
/// URL links in mail point to.
#[derive(Debug, Clone)]
pub struct Identity {
    pub store: Store,
    pub tokens: Arc<Tokens>,
    pub mailer: Mailer,
    pub public_url: String,
    /// The guarded client for upstream identity providers (SSO): every discovery, key,
    /// token and userinfo request goes through it.
    pub outbound: cairn_outbound::Outbound,
    /// Where every password hash and verification runs.
    pub argon2: Argon2Pool,
}

/// An audit entry of `action` by `actor`, for the change's transaction.
pub(crate) fn audit_entry(actor: &Actor, action: &'static str, outcome: Outcome, meta: &RequestMeta) -> NewEntry {
    NewEntry::new(actor.clone(), Action::fixed(action), outcome, meta.clone())
}

pub fn control_migrations() -> Vec<Migration> {
    vec![Migration {
        component: "identity",
        version: 1,
        name: "signing_keys",
        sqlite: include_str!("../migrations/sqlite/control_0001_signing_keys.sql"),
        postgres: include_str!("../migrations/postgres/control_0001_signing_keys.sql"),
    }]
}

pub fn tenant_migrations() -> Vec<Migration> {
    vec![
        Migration {
            component: "identity",
            version: 1,
            name: "identity",
            sqlite: include_str!("../migrations/sqlite/tenant_0001_identity.sql"),
            postgres: include_str!("../migrations/postgres/tenant_0001_identity.sql"),
        },
        Migration {
            component: "identity",
            version: 2,
            name: "sso",
            sqlite: include_str!("../migrations/sqlite/tenant_0002_sso.sql"),
            postgres: include_str!("../migrations/postgres/tenant_0002_sso.sql"),
        },
        Migration {
            component: "identity",
            version: 3,
            name: "signin_defences",
            sqlite: include_str!("../migrations/sqlite/tenant_0003_signin_defences.sql"),
            postgres: include_str!("../migrations/postgres/tenant_0003_signin_defences.sql"),
        },
        Migration {
            component: "identity",
            version: 4,
            name: "token_epochs",
            sqlite: include_str!("../migrations/sqlite/tenant_0004_token_epochs.sql"),
            postgres: include_str!("../migrations/postgres/tenant_0004_token_epochs.sql"),
        },
    ]
}

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error(transparent)]
    Validation(#[from] ValidationError),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Store(#[from] cairn_store::StoreError),
    #[error("database: {0}")]
    Database(#[from] cairn_store::sqlx::Error),
    #[error("audit: {0}")]
    Audit(#[from] cairn_audit::AuditError),
    #[error("signing key: {0}")]
    Key(String),
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error(transparent)]
    Mail(#[from] cairn_mail::MailError),
    #[error("upstream identity provider: {0}")]
    Upstream(String),
    /// Too many passwords are being hashed right now (load shedding); not the caller's fault.
    #[error(transparent)]
    Busy(#[from] password::Busy),
}
