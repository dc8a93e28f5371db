//! `GET /api/v1/caller`: who the bearer token names, from the token alone (the same checks
//! as every call, and no database read), for scripts that want to know what their token
//! grants before they use it.

use axum::Json;
use cairn_domain::{Principal, rfc3339};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::Caller;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_caller))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CallerTenant {
    pub id: String,
    pub slug: String,
}

/// What the token grants.
#[derive(Debug, Serialize, ToSchema)]
pub struct CallerView {
    /// The token's subject: a user id, or the name a CLI token was issued to.
    pub subject: String,
    pub email: Option<String>,
    /// The tenant the token acts in; `null` for a platform operator.
    pub tenant: Option<CallerTenant>,
    /// The roles within the tenant (`admin`, `member`, `readonly`).
    pub roles: Vec<String>,
    pub operator: bool,
    /// When the token expires (RFC 3339).
    pub expires_at: String,
}

/// Who your token names and what it grants.
#[utoipa::path(get, path = "/api/v1/caller", tag = "users",
    responses(
        (status = 200, description = "The token's grant", body = CallerView),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 503, description = "The token's revocation cannot be checked now", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn get_caller(caller: Caller) -> ApiResult<Json<CallerView>> {
    Ok(Json(match caller.principal {
        Principal::Member(m) => CallerView {
            expires_at: rfc3339(m.expires_at),
            tenant: Some(CallerTenant { id: m.tenant.id.to_string(), slug: m.tenant.slug.to_string() }),
            roles: m.roles.iter().map(|r| r.as_str().to_owned()).collect(),
            operator: false,
            email: m.email,
            subject: m.subject,
        },
        Principal::Operator(o) => CallerView {
            expires_at: rfc3339(o.expires_at),
            tenant: None,
            roles: Vec::new(),
            operator: true,
            email: None,
            subject: o.subject,
        },
    }))
}
