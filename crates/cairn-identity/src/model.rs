//! The identity vocabulary: users, their status and email, tenant settings, clients and
//! the opaque handles (codes, refresh tokens, sessions) the provider hands out.

use std::fmt;

use cairn_audit::Actor;
use cairn_domain::{Id, IdKind, Role, TenantId, ValidationError};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// An email address as typed, checked for shape; [`Email::key`] is the form that is unique
/// within a tenant (trimmed, lower case). It deserializes through [`Email::parse`], so a
/// wire type that takes an `Email` refuses a bad address with the parser's words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let s = raw.trim();
        let bad = |m: &str| ValidationError::new("email", m);
        if s.is_empty() || s.len() > 254 {
            return Err(bad("must be an email address of at most 254 characters"));
        }
        let (local, domain) = s.rsplit_once('@').ok_or_else(|| bad("must contain @"))?;
        let domain_ok = !domain.is_empty()
            && domain.len() <= 253
            && domain
                .split('.')
                .all(|l| !l.is_empty() && l.len() <= 63 && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && local
                .bytes()
                .all(|b| b.is_ascii_graphic() && !matches!(b, b'@' | b'<' | b'>' | b'"' | b',' | b';' | b'\\'));
        if !domain_ok || !local_ok {
            return Err(bad("is not a valid email address"));
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The normalized form: unique within a tenant.
    pub fn key(&self) -> String {
        self.0.to_ascii_lowercase()
    }

    pub fn local_part(&self) -> &str {
        self.0.rsplit_once('@').map(|(l, _)| l).unwrap_or(&self.0)
    }
}

impl<'de> Deserialize<'de> for Email {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Email::parse(&raw).map_err(|e| serde::de::Error::custom(e.message))
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A user's account state, named as Cognito names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum UserStatus {
    /// Created by an admin; must choose a password at first sign-in.
    ForceChangePassword,
    Active,
    Disabled,
}

impl UserStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            UserStatus::ForceChangePassword => "FORCE_CHANGE_PASSWORD",
            UserStatus::Active => "ACTIVE",
            UserStatus::Disabled => "DISABLED",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "FORCE_CHANGE_PASSWORD" => Some(Self::ForceChangePassword),
            "ACTIVE" => Some(Self::Active),
            "DISABLED" => Some(Self::Disabled),
            _ => None,
        }
    }
}

/// What a [`UserId`] names.
#[derive(Debug)]
pub enum UserKind {}

impl IdKind for UserKind {
    const WHAT: &'static str = "user";
}

/// A user's id.
pub type UserId = Id<UserKind>;

/// What a [`ConnectionId`] names.
#[derive(Debug)]
pub enum ConnectionKind {}

impl IdKind for ConnectionKind {
    const WHAT: &'static str = "SSO connection";
}

/// An SSO connection's id.
pub type ConnectionId = Id<ConnectionKind>;

/// A member of one tenant's user pool.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: String,
    pub email: Email,
    pub given_name: String,
    pub family_name: String,
    pub status: UserStatus,
    /// Roles given explicitly; empty means the tenant's default role applies.
    pub roles: Vec<Role>,
    /// Set by admins; each key becomes a `cairn/<key>` claim.
    pub app_metadata: Map<String, Value>,
    /// Set by the user (e.g. `publish_history` subscription).
    pub user_metadata: Map<String, Value>,
    pub(crate) password_hash: Option<String>,
    /// Must sign in through SSO: a password sign-in is refused.
    pub sso_required: bool,
    /// When a temporary password stops working.
    pub password_expires_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl User {
    /// The roles tokens carry: the explicit ones, or the tenant's default role.
    pub fn effective_roles(&self, settings: &Settings) -> Vec<Role> {
        if self.roles.is_empty() { vec![settings.default_role] } else { self.roles.clone() }
    }

    /// The user as the actor of an audit entry.
    pub(crate) fn actor(&self) -> Actor {
        Actor { id: self.id.clone(), email: Some(self.email.to_string()) }
    }

    pub fn display_name(&self) -> String {
        let full = format!("{} {}", self.given_name, self.family_name);
        let full = full.trim();
        if full.is_empty() { self.email.to_string() } else { full.to_owned() }
    }
}

/// Claim names app metadata may not take (they would shadow Cairn's own claims).
pub const RESERVED_METADATA_KEYS: [&str; 7] =
    ["tenant", "roles", "operator", "family", "iat_ms", "app_metadata", "user_metadata"];

/// What admins set on a user, each key a `cairn/<key>` claim: keys match
/// `^[a-z][a-z0-9_]{0,63}$`, none reserved, at most 32 keys and 8 KiB.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AppMetadata(Map<String, Value>);

impl AppMetadata {
    pub fn parse(meta: Map<String, Value>) -> Result<Self, ValidationError> {
        if meta.len() > 32 {
            return Err(ValidationError::new("app_metadata", "at most 32 keys"));
        }
        for key in meta.keys() {
            let b = key.as_bytes();
            let shape = !b.is_empty()
                && b.len() <= 64
                && b[0].is_ascii_lowercase()
                && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_');
            if !shape {
                return Err(ValidationError::new(format!("app_metadata.{key}"), "keys match ^[a-z][a-z0-9_]{0,63}$"));
            }
            if RESERVED_METADATA_KEYS.contains(&key.as_str()) {
                return Err(ValidationError::new(format!("app_metadata.{key}"), "is a reserved claim name"));
            }
        }
        if serde_json::to_string(&meta).map(|s| s.len()).unwrap_or(usize::MAX) > 8192 {
            return Err(ValidationError::new("app_metadata", "at most 8 KiB"));
        }
        Ok(Self(meta))
    }

    pub fn as_map(&self) -> &Map<String, Value> {
        &self.0
    }
}

impl From<AppMetadata> for Map<String, Value> {
    fn from(meta: AppMetadata) -> Self {
        meta.0
    }
}

/// A name people read: a given or family name, a client's, an SSO connection's, a
/// tenant's display name. Trimmed; at most 100 characters, no control characters; may be
/// empty (where a name is required, its owner says so).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Name(String);

impl Name {
    /// `value` trimmed; errors name `field`.
    pub fn parse(field: &str, value: &str) -> Result<Self, ValidationError> {
        let v = value.trim();
        if v.chars().count() > 100 || v.chars().any(char::is_control) {
            return Err(ValidationError::new(field, "at most 100 characters, no control characters"));
        }
        Ok(Self(v.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<Name> for String {
    fn from(name: Name) -> Self {
        name.0
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Per-tenant identity settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Shown on hosted pages and in mail; the slug when unset.
    pub display_name: Option<String>,
    /// `#rrggbb`.
    pub accent: String,
    pub default_role: Role,
    pub access_ttl_secs: u32,
    pub id_ttl_secs: u32,
    pub refresh_ttl_secs: u32,
    pub session_ttl_secs: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            display_name: None,
            accent: "#2563eb".into(),
            default_role: Role::Member,
            access_ttl_secs: 15 * 60,
            id_ttl_secs: 15 * 60,
            refresh_ttl_secs: 24 * 3600,
            session_ttl_secs: 30 * 24 * 3600,
        }
    }
}

impl Settings {
    pub fn validate(&self) -> Result<(), ValidationError> {
        let hex = self.accent.len() == 7
            && self.accent.starts_with('#')
            && self.accent[1..].bytes().all(|b| b.is_ascii_hexdigit());
        if !hex {
            return Err(ValidationError::new("accent", "must be a colour like #2563eb"));
        }
        if let Some(n) = &self.display_name {
            Name::parse("display_name", n)?;
        }
        let ttl = |field: &str, v: u32, min: u32, max: u32| {
            if (min..=max).contains(&v) {
                Ok(())
            } else {
                Err(ValidationError::new(field, format!("must be between {min} and {max} seconds")))
            }
        };
        ttl("access_ttl_secs", self.access_ttl_secs, 60, 24 * 3600)?;
        ttl("id_ttl_secs", self.id_ttl_secs, 60, 24 * 3600)?;
        ttl("refresh_ttl_secs", self.refresh_ttl_secs, 300, 365 * 24 * 3600)?;
        ttl("session_ttl_secs", self.session_ttl_secs, 300, 365 * 24 * 3600)?;
        Ok(())
    }
}

/// A registered relying party.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    pub client_id: String,
    pub name: String,
    pub(crate) secret_hash: Option<String>,
    /// No secret: authenticates with PKCE only.
    pub public: bool,
    /// Set for service clients, which may use `client_credentials`.
    pub service_role: Option<Role>,
    pub redirect_uris: Vec<String>,
    pub post_logout_uris: Vec<String>,
    pub created_at: i64,
}

/// Client id of the web UI's built-in client in each tenant.
pub fn web_client_id(tenant: TenantId) -> String {
    format!("{}.web", tenant.as_uuid().simple())
}

/// A client id as a request names one: the shape of a handle of some tenant's
/// (`<tenant>.<rest>`). Whether that client exists, in the caller's tenant, is the lookup's
/// to say.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClientId(String);

impl ClientId {
    /// `s` when it is shaped as a client id; errors name `field`.
    pub fn parse(s: &str, field: &str) -> Result<Self, ValidationError> {
        match handle_tenant(s) {
            Some(_) => Ok(Self(s.to_owned())),
            None => Err(ValidationError::new(field, "is not a client id")),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The tenant whose handle it is.
    pub fn tenant(&self) -> TenantId {
        handle_tenant(&self.0).expect("checked when parsed")
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The tenant an opaque handle (client id, code, refresh token, session) belongs to: its
/// prefix before the first `.`, which is the tenant id in simple form.
pub fn handle_tenant(handle: &str) -> Option<TenantId> {
    let (prefix, rest) = handle.split_once('.')?;
    if prefix.len() != 32 || rest.is_empty() || !prefix.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    prefix.parse().ok()
}

/// A fresh opaque handle for `tenant`: `<tenant>.<256 random bits, base64url>`.
pub fn new_handle(tenant: TenantId) -> String {
    format!("{}.{}", tenant.as_uuid().simple(), cairn_domain::random_token(32))
}

/// What is stored for a handle or secret: its SHA-256, hex. Lookups by hash make the
/// comparison independent of the secret's content.
pub fn digest(secret: &str) -> String {
    use sha2::{Digest, Sha256};
    let d = Sha256::digest(secret.as_bytes());
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// A redirect URI Cairn accepts at registration: absolute, no fragment, `https`, or
/// `http` on a loopback host only; kept exactly as given (redirects compare it exactly).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedirectUri(String);

impl RedirectUri {
    /// `uri` as registered; errors name `field` and quote the URI.
    pub fn parse(field: &str, uri: &str) -> Result<Self, ValidationError> {
        let bad = |m: &str| ValidationError::new(field, format!("{uri:?} {m}"));
        let u = url::Url::parse(uri).map_err(|_| bad("is not an absolute URL"))?;
        if u.fragment().is_some() {
            return Err(bad("must not have a fragment"));
        }
        match u.scheme() {
            "https" => {}
            "http" => {
                let loopback = match u.host() {
                    Some(url::Host::Domain(d)) => d == "localhost",
                    Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                    Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                    None => false,
                };
                if !loopback {
                    return Err(bad("may use http only on a loopback host"));
                }
            }
            _ => return Err(bad("must be https (or http on a loopback host)")),
        }
        if uri.len() > 2000 {
            return Err(bad("is longer than 2000 characters"));
        }
        Ok(Self(uri.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<RedirectUri> for String {
    fn from(uri: RedirectUri) -> Self {
        uri.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_normalize_and_refuse_garbage() {
        let e = Email::parse("  Ann.Lee@Example.COM ").unwrap();
        assert_eq!(e.as_str(), "Ann.Lee@Example.COM");
        assert_eq!(e.key(), "ann.lee@example.com");
        assert_eq!(e.local_part(), "Ann.Lee");
        for bad in ["", "ann", "@x.com", "ann@", "a b@x.com", "ann@x..com", "ann@x_y.com", "<a>@x.com"] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn emails_deserialize_through_the_parser() {
        let e: Email = serde_json::from_str(r#"" Ann@Example.com ""#).unwrap();
        assert_eq!(e.as_str(), "Ann@Example.com");
        let bad = serde_json::from_str::<Email>(r#""ann@""#).unwrap_err();
        assert!(bad.to_string().starts_with("is not a valid email address"), "{bad}");
        let bad = serde_json::from_str::<Email>(r#""ann""#).unwrap_err();
        assert!(bad.to_string().starts_with("must contain @"), "{bad}");
        assert!(serde_json::from_str::<Email>("42").is_err(), "a number is no email");
        let escaped: Email = serde_json::from_str(r#""ann\u0040x.test""#).unwrap();
        assert_eq!(escaped.as_str(), "ann@x.test", "an escaped string is read as its text");
    }

    #[test]
    fn redirect_uris_are_https_or_loopback_http() {
        assert!(RedirectUri::parse("r", "https://app.example.com/cb").is_ok());
        assert!(RedirectUri::parse("r", "http://127.0.0.1:8080/cb").is_ok());
        assert!(RedirectUri::parse("r", "http://localhost/cb").is_ok());
        assert!(RedirectUri::parse("r", "http://[::1]/cb").is_ok());
        assert!(RedirectUri::parse("r", "http://app.example.com/cb").is_err());
        assert!(RedirectUri::parse("r", "https://app.example.com/cb#x").is_err());
        assert!(RedirectUri::parse("r", "javascript:alert(1)").is_err());
        assert!(RedirectUri::parse("r", "/relative").is_err());
    }

    #[test]
    fn handles_name_their_tenant() {
        let t = TenantId::new();
        let h = new_handle(t);
        assert_eq!(handle_tenant(&h), Some(t));
        assert_eq!(handle_tenant(&web_client_id(t)), Some(t));
        assert_eq!(handle_tenant("nope"), None);
        assert_eq!(handle_tenant("zz.abc"), None);
        assert_ne!(new_handle(t), h);
        assert_eq!(ClientId::parse(&h, "id").unwrap().tenant(), t);
        assert_eq!(ClientId::parse("nope", "id").unwrap_err().message, "is not a client id");
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(Name::parse("given_name", "  Ann ").unwrap().as_str(), "Ann");
        assert!(Name::parse("name", " ").unwrap().is_empty());
        let e = Name::parse("family_name", &"x".repeat(101)).unwrap_err();
        assert_eq!(
            (e.field.as_str(), e.message.as_str()),
            ("family_name", "at most 100 characters, no control characters")
        );
        assert!(Name::parse("name", "a\u{7}b").is_err());
    }

    #[test]
    fn metadata_keys_are_checked() {
        let ok: Map<String, Value> = serde_json::from_str(r#"{"plan":"gold","seats_2":3}"#).unwrap();
        assert_eq!(AppMetadata::parse(ok.clone()).unwrap().as_map(), &ok);
        for bad in [r#"{"roles":1}"#, r#"{"Plan":1}"#, r#"{"a-b":1}"#, r#"{"tenant":"x"}"#] {
            let m: Map<String, Value> = serde_json::from_str(bad).unwrap();
            assert!(AppMetadata::parse(m).is_err(), "{bad}");
        }
    }
}
