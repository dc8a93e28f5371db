//! A tenant's SSO connections (upstream OpenID Connect providers), registered by admins.
//! The client secret is write-only.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use cairn_domain::{Role, rfc3339};
use cairn_identity::IdentityError;
use cairn_identity::model::ConnectionId;
use cairn_identity::sso::{Connection, NewConnection};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{DisplayName, OutboundUrl, Page, PageParams};
use crate::AppState;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{ApiJson, ApiQuery, Caller};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create_connection, list_connections)).routes(routes!(delete_connection))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConnectionView {
    pub id: String,
    /// Shown on the sign-in page as "Continue with <name>".
    pub name: String,
    pub issuer: String,
    pub client_id: String,
    pub created_at: String,
}

impl From<Connection> for ConnectionView {
    fn from(c: Connection) -> Self {
        Self { id: c.id, name: c.name, issuer: c.issuer, client_id: c.client_id, created_at: rfc3339(c.created_at) }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateConnection {
    /// Not blank, no control characters.
    #[schema(value_type = DisplayName)]
    pub name: String,
    /// The provider's issuer: an https URL (http only where the operator allows it) without
    /// query or fragment, on an address Cairn may reach; discovery is read from it.
    #[schema(value_type = OutboundUrl)]
    pub issuer: String,
    /// Not blank.
    #[schema(pattern = r"\S")]
    pub client_id: String,
    /// Stored sealed; never returned.
    #[schema(min_length = 1)]
    pub client_secret: String,
}

/// Register an upstream provider. Its redirect URI is `<public URL>/oauth2/sso/callback`.
#[utoipa::path(post, path = "/api/v1/sso-connections", tag = "users",
    request_body = CreateConnection,
    responses(
        (status = 201, description = "Registered", body = ConnectionView),
        (status = 400, description = "Invalid body", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Requires admin", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn create_connection(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateConnection>,
) -> ApiResult<(StatusCode, Json<ConnectionView>)> {
    let ctx = caller.in_tenant(&state, Role::Admin, "sso.create").await?;
    let new = NewConnection {
        name: body.name,
        issuer: body.issuer,
        client_id: body.client_id,
        client_secret: body.client_secret,
    };
    let c = state.identity.create_connection(&ctx.db, new, &ctx.actor(), &ctx.meta).await?;
    Ok((StatusCode::CREATED, Json(c.into())))
}

/// The tenant's SSO connections, oldest first.
#[utoipa::path(get, path = "/api/v1/sso-connections", tag = "users",
    params(PageParams),
    responses(
        (status = 200, description = "A page of connections", body = Page<ConnectionView>),
        (status = 400, description = "Invalid limit", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Requires admin", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn list_connections(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<PageParams>,
) -> ApiResult<Json<Page<ConnectionView>>> {
    let ctx = caller.in_tenant(&state, Role::Admin, "sso.list").await?;
    let limit = q.limit()?;
    let connections = state.identity.list_connections_after(&ctx.db, limit + 1, q.cursor.as_deref()).await?;
    Ok(Json(Page::cut(connections, limit, |c| c.id.clone()).map(ConnectionView::from)))
}

/// Delete a connection and unlink its identities.
#[utoipa::path(delete, path = "/api/v1/sso-connections/{id}", tag = "users",
    params(("id" = String, Path, description = "Connection id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Requires admin", body = ErrorBody),
        (status = 404, description = "No such connection in this tenant", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn delete_connection(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let ctx = caller.in_tenant(&state, Role::Admin, "sso.delete").await?;
    // An id that cannot exist names no connection.
    let id = ConnectionId::parse(&id, "id").map_err(|_| IdentityError::NotFound("SSO connection"))?;
    state.identity.delete_connection(&ctx.db, &id.to_string(), &ctx.actor(), &ctx.meta).await?;
    Ok(StatusCode::NO_CONTENT)
}
