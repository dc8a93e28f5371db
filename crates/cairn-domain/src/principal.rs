use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{TenantId, TenantSlug, ValidationError};

/// A tenant role. Ordered so that `admin` ⊇ `member` ⊇ `readonly`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Readonly,
    Member,
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Readonly, Role::Member, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Readonly => "readonly",
            Role::Member => "member",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "readonly" => Ok(Role::Readonly),
            "member" => Ok(Role::Member),
            "admin" => Ok(Role::Admin),
            _ => Err(ValidationError::new("role", "must be one of admin, member, readonly")),
        }
    }
}

/// The tenant a principal acts in, as named by its verified token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantRef {
    pub id: TenantId,
    pub slug: TenantSlug,
}

/// Who is calling, as its verified token grants it: a member of one tenant holding roles
/// there, or a platform operator, who acts on the platform and holds no tenant role. Built
/// only from a verified token; the tenant never comes from a path or a body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    Member(Member),
    Operator(Operator),
}

/// A caller acting inside one tenant: a user, or a service client or CLI token granted a
/// tenant role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub subject: String,
    /// The user's email, when the token names a user rather than a service.
    pub email: Option<String>,
    pub tenant: TenantRef,
    pub roles: Vec<Role>,
    /// When the token it came from expires (epoch milliseconds): what a long-lived
    /// response (a live stream) must not outlast.
    pub expires_at: i64,
    /// When the token was issued (epoch milliseconds), which the user's revocation epoch
    /// is compared with.
    pub issued_at: i64,
    /// The refresh-token family (the sign-in) the token was issued under, if any.
    pub family: Option<String>,
}

/// A platform operator: acts on the platform (tenants, the platform's audit trail), never
/// inside a tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    pub subject: String,
    /// When the token it came from expires (epoch milliseconds).
    pub expires_at: i64,
}

impl Member {
    /// Whether any held role includes `required`.
    pub fn has_role(&self, required: Role) -> bool {
        self.roles.iter().any(|r| *r >= required)
    }
}

impl Principal {
    pub fn subject(&self) -> &str {
        match self {
            Principal::Member(m) => &m.subject,
            Principal::Operator(o) => &o.subject,
        }
    }

    /// The email the token names, if any (operators have none).
    pub fn email(&self) -> Option<&str> {
        match self {
            Principal::Member(m) => m.email.as_deref(),
            Principal::Operator(_) => None,
        }
    }

    /// The tenant a member acts in; `None` for an operator.
    pub fn tenant(&self) -> Option<&TenantRef> {
        match self {
            Principal::Member(m) => Some(&m.tenant),
            Principal::Operator(_) => None,
        }
    }

    /// When the token expires (epoch milliseconds).
    pub fn expires_at(&self) -> i64 {
        match self {
            Principal::Member(m) => m.expires_at,
            Principal::Operator(o) => o.expires_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_hierarchy() {
        let p = |roles: Vec<Role>| Member {
            subject: "s".into(),
            email: None,
            tenant: TenantRef { id: TenantId::new(), slug: TenantSlug::parse("acme").unwrap() },
            roles,
            expires_at: 0,
            issued_at: 0,
            family: None,
        };
        assert!(p(vec![Role::Admin]).has_role(Role::Readonly));
        assert!(p(vec![Role::Admin]).has_role(Role::Member));
        assert!(p(vec![Role::Member]).has_role(Role::Readonly));
        assert!(!p(vec![Role::Member]).has_role(Role::Admin));
        assert!(!p(vec![Role::Readonly]).has_role(Role::Member));
        assert!(!p(vec![]).has_role(Role::Readonly));
    }
}
