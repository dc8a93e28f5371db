//! Registering relying parties: admins (API, page) and operators (CLI) create, list,
//! change, rotate and delete a tenant's clients. A secret is shown once and stored as its SHA-256.
//! The provider ([`crate::provider`]) reads clients through [`store`].

mod service;
pub(crate) mod store;

use cairn_domain::Role;

/// What registering a client takes.
#[derive(Debug, Clone, Default)]
pub struct NewClient {
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_uris: Vec<String>,
    /// No secret: the client proves itself with PKCE.
    pub public: bool,
    /// A service client may use `client_credentials` and acts with this role.
    pub service_role: Option<Role>,
}

/// A change to a client: `None` keeps the field. Its kind (public, confidential, service)
/// and secret do not change here.
#[derive(Debug, Clone, Default)]
pub struct ClientPatch {
    pub name: Option<String>,
    pub redirect_uris: Option<Vec<String>>,
    pub post_logout_uris: Option<Vec<String>>,
}
