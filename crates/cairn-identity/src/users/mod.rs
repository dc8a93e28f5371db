//! The tenant's user pool: admins create users (an invitation with a temporary password),
//! manage their names, metadata, roles and status, and set or reset their passwords; the
//! pool's settings. Every change commits with its audit entry; a change that ends a user's
//! sessions ends them in its transaction (`store/revocation.rs`).

mod service;
pub(crate) mod store;

use cairn_domain::Role;
use serde_json::{Map, Value};

use crate::model::Email;

pub(crate) use service::load;

/// How long an invitation's temporary password works.
pub const TEMPORARY_PASSWORD_DAYS: u32 = 7;

/// What an admin gives to create a user.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub email: Email,
    pub given_name: String,
    pub family_name: String,
    pub roles: Vec<Role>,
}

/// An invitation: the temporary password (for the first start's banner, which prints it
/// instead of mailing it), and the outbox event of its mail when one was queued.
#[derive(Debug, Clone)]
pub struct Invitation {
    pub temporary_password: String,
    pub mail_event: Option<String>,
}

/// Changes to a user; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct UserPatch {
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub app_metadata: Option<Map<String, Value>>,
    /// Merged into the user's metadata; a `null` value removes the key.
    pub user_metadata: Option<Map<String, Value>>,
    /// Admins only: the user must sign in through SSO.
    pub sso_required: Option<bool>,
}
