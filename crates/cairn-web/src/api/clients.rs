//! A tenant's OpenID Connect clients, registered by its admins. A secret is returned
//! once, at creation or rotation.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use cairn_domain::{Role, rfc3339};
use cairn_identity::model::ClientId;
use cairn_identity::{Client, ClientPatch, IdentityError, NewClient};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{DisplayName, Page, PageParams, RoleName};
use crate::AppState;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{ApiJson, ApiQuery, Caller};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_client, list_clients))
        .routes(routes!(get_client, update_client, delete_client))
        .routes(routes!(rotate_secret))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ClientView {
    pub client_id: String,
    pub name: String,
    /// No secret: the client authenticates with PKCE only.
    pub public: bool,
    /// Set for service clients (`client_credentials`).
    #[schema(value_type = Option<RoleName>)]
    pub service_role: Option<Role>,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub created_at: String,
    /// Only in the responses of creation and rotation; never stored in clear.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
}

impl ClientView {
    fn new(c: Client, secret: Option<String>) -> Self {
        Self {
            client_id: c.client_id,
            name: c.name,
            public: c.public,
            service_role: c.service_role,
            redirect_uris: c.redirect_uris,
            post_logout_redirect_uris: c.post_logout_uris,
            created_at: rfc3339(c.created_at),
            client_secret: secret,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateClient {
    /// Not blank, no control characters.
    #[schema(value_type = DisplayName)]
    pub name: String,
    /// Exact-match redirect URIs: absolute, no fragment, `https`, or `http` on a loopback
    /// host; at least one unless `service_role` is given.
    #[serde(default)]
    #[schema(max_items = 20, value_type = Vec<RedirectUri>)]
    pub redirect_uris: Vec<String>,
    /// Where logout may return to, by the same rules.
    #[serde(default)]
    #[schema(max_items = 20, value_type = Vec<RedirectUri>)]
    pub post_logout_redirect_uris: Vec<String>,
    /// No secret: PKCE only. A service client is never public.
    #[serde(default)]
    pub public: bool,
    /// A service client (`client_credentials`) acting with this role.
    #[schema(value_type = Option<RoleName>)]
    pub service_role: Option<Role>,
}

/// Fields to change; those left out stay as they are. A list given replaces the list.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateClient {
    #[schema(value_type = Option<DisplayName>)]
    pub name: Option<String>,
    /// By the rules of registration; a client that is not a service client keeps at least one.
    #[schema(max_items = 20, value_type = Option<Vec<RedirectUri>>)]
    pub redirect_uris: Option<Vec<String>>,
    #[schema(max_items = 20, value_type = Option<Vec<RedirectUri>>)]
    pub post_logout_redirect_uris: Option<Vec<String>>,
}

/// A redirect URI as the OpenAPI document states it.
pub struct RedirectUri;

impl utoipa::PartialSchema for RedirectUri {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::Schema> {
        super::string_schema(
            "An absolute URL without a fragment: https, or http on a loopback host.",
            Some((1, 2000)),
            None,
            Some("uri"),
        )
    }
}

impl ToSchema for RedirectUri {}

#[derive(Debug, Serialize, ToSchema)]
pub struct ClientSecret {
    pub client_id: String,
    pub client_secret: String,
}

/// Register a client; a confidential client's secret is in this response only.
#[utoipa::path(post, path = "/api/v1/clients", tag = "clients",
    request_body = CreateClient,
    responses(
        (status = 201, description = "Registered", body = ClientView),
        (status = 400, description = "Invalid body", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Requires admin", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn create_client(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateClient>,
) -> ApiResult<(StatusCode, Json<ClientView>)> {
    let ctx = caller.in_tenant(&state, Role::Admin, "client.create").await?;
    let tenant = state.store.tenant_by_id(ctx.tenant().id).await?;
    let new = NewClient {
        name: body.name,
        redirect_uris: body.redirect_uris,
        post_logout_uris: body.post_logout_redirect_uris,
        public: body.public,
        service_role: body.service_role,
    };
    let (client, secret) = state.identity.create_client(&tenant, &ctx.db, new, &ctx.actor(), &ctx.meta).await?;
    Ok((StatusCode::CREATED, Json(ClientView::new(client, secret))))
}

/// The tenant's clients, in client-id order.
#[utoipa::path(get, path = "/api/v1/clients", tag = "clients",
    params(PageParams),
    responses(
        (status = 200, description = "A page of clients", body = Page<ClientView>),
        (status = 400, description = "Invalid limit", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Requires admin", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn list_clients(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<PageParams>,
) -> ApiResult<Json<Page<ClientView>>> {
    let ctx = caller.in_tenant(&state, Role::Admin, "client.list").await?;
    let limit = q.limit()?;
    let clients = state.identity.list_clients_after(&ctx.db, limit + 1, q.cursor.as_deref()).await?;
    Ok(Json(Page::cut(clients, limit, |c| c.client_id.clone()).map(|c| ClientView::new(c, None))))
}

/// The client a path names; a string not shaped as a client id names none.
fn client_id(id: &str) -> Result<ClientId, IdentityError> {
    ClientId::parse(id, "id").map_err(|_| IdentityError::NotFound("client"))
}

/// One client.
#[utoipa::path(get, path = "/api/v1/clients/{id}", tag = "clients",
    params(("id" = String, Path, description = "Client id")),
    responses(
        (status = 200, description = "The client", body = ClientView),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Requires admin", body = ErrorBody),
        (status = 404, description = "No such client in this tenant", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn get_client(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<ClientView>> {
    let ctx = caller.in_tenant(&state, Role::Admin, "client.read").await?;
    Ok(Json(ClientView::new(state.identity.get_client(&ctx.db, client_id(&id)?.as_str()).await?, None)))
}

/// Change a client's name or its redirect URIs; the audit entry names what changed. Its
/// kind (public, confidential or service) and secret are not changed here.
#[utoipa::path(patch, path = "/api/v1/clients/{id}", tag = "clients",
    params(("id" = String, Path, description = "Client id")),
    request_body = UpdateClient,
    responses(
        (status = 200, description = "The client as it is now", body = ClientView),
        (status = 400, description = "Invalid body", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Requires admin", body = ErrorBody),
        (status = 404, description = "No such client in this tenant", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn update_client(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateClient>,
) -> ApiResult<Json<ClientView>> {
    let ctx = caller.in_tenant(&state, Role::Admin, "client.update").await?;
    let id = client_id(&id)?;
    let patch = ClientPatch {
        name: body.name,
        redirect_uris: body.redirect_uris,
        post_logout_uris: body.post_logout_redirect_uris,
    };
    let client = state.identity.update_client(&ctx.db, id.as_str(), patch, &ctx.actor(), &ctx.meta).await?;
    Ok(Json(ClientView::new(client, None)))
}

/// Delete a client; its refresh tokens are revoked.
#[utoipa::path(delete, path = "/api/v1/clients/{id}", tag = "clients",
    params(("id" = String, Path, description = "Client id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Requires admin", body = ErrorBody),
        (status = 404, description = "No such client in this tenant", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn delete_client(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<StatusCode> {
    let ctx = caller.in_tenant(&state, Role::Admin, "client.delete").await?;
    state.identity.delete_client(&ctx.db, client_id(&id)?.as_str(), &ctx.actor(), &ctx.meta).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A new secret for a confidential client; the old one stops working at once.
#[utoipa::path(post, path = "/api/v1/clients/{id}/rotate-secret", tag = "clients",
    params(("id" = String, Path, description = "Client id")),
    responses(
        (status = 200, description = "The new secret, shown once", body = ClientSecret),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Requires admin", body = ErrorBody),
        (status = 404, description = "No such client in this tenant", body = ErrorBody),
        (status = 409, description = "A public client has no secret", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn rotate_secret(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<ClientSecret>> {
    let ctx = caller.in_tenant(&state, Role::Admin, "client.rotate_secret").await?;
    let id = client_id(&id)?;
    let secret = state.identity.rotate_client_secret(&ctx.db, id.as_str(), &ctx.actor(), &ctx.meta).await?;
    Ok(Json(ClientSecret { client_id: id.to_string(), client_secret: secret }))
}
