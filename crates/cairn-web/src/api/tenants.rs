//! The operator API: tenants of the platform. Operator tokens only.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use cairn_audit::{Action, NewEntry, Outcome};
use cairn_domain::TenantSlug;
use cairn_store::Tenant;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Page, PageParams};
use crate::AppState;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{ApiJson, ApiQuery, Caller};
use cairn_domain::rfc3339;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create_tenant, list_tenants)).routes(routes!(get_tenant, delete_tenant))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTenant {
    /// Unique.
    #[schema(pattern = r"^[a-z][a-z0-9-]{1,62}$")]
    pub slug: String,
    /// Display name, not blank, at most 200 characters; defaults to the slug.
    #[schema(max_length = 200, pattern = r"\S")]
    pub name: Option<String>,
    /// PostgreSQL server for the tenant's database (`postgres://user:pass@host:port/db`);
    /// defaults to the control server. PostgreSQL backend only.
    pub placement: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TenantView {
    pub id: String,
    pub slug: String,
    pub name: String,
    /// The tenant database's server with credentials removed; null for the default.
    pub placement: Option<String>,
    pub created_at: String,
}

impl From<Tenant> for TenantView {
    fn from(t: Tenant) -> Self {
        Self {
            id: t.id.to_string(),
            slug: t.slug.to_string(),
            name: t.name,
            placement: t.placement.as_deref().map(cairn_domain::redact_url),
            created_at: rfc3339(t.created_at),
        }
    }
}

const NAME_MAX: usize = 200;

/// Create a tenant and its database.
#[utoipa::path(post, path = "/api/v1/tenants", tag = "tenants",
    request_body = CreateTenant,
    responses(
        (status = 201, description = "Created", body = TenantView),
        (status = 400, description = "Invalid slug, name or placement", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Requires an operator token", body = ErrorBody),
        (status = 409, description = "Slug taken", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn create_tenant(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateTenant>,
) -> ApiResult<(StatusCode, Json<TenantView>)> {
    let op = caller.operator(&state, "tenant.create").await?;
    let slug = TenantSlug::parse(&body.slug)?;
    let name = body.name.unwrap_or_else(|| slug.to_string());
    if name.trim().is_empty() || name.chars().count() > NAME_MAX {
        return Err(cairn_domain::ValidationError::new("name", "must be 1 to 200 characters").into());
    }
    let tenant = state.store.create_tenant(&slug, name.trim(), body.placement.as_deref()).await?;
    tracing::info!(tenant = %tenant.slug, "tenant created");
    op.record(&state, |actor, meta| {
        NewEntry::new(actor, Action::fixed("tenant.created"), Outcome::Success, meta)
            .resource("tenant", tenant.id.to_string())
            .details(json!({"slug": tenant.slug, "name": tenant.name, "placement": tenant.placement.is_some()}))
    })
    .await?;
    Ok((StatusCode::CREATED, Json(tenant.into())))
}

/// List tenants, oldest first.
#[utoipa::path(get, path = "/api/v1/tenants", tag = "tenants",
    params(PageParams),
    responses(
        (status = 200, description = "A page of tenants", body = Page<TenantView>),
        (status = 400, description = "Invalid limit", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Requires an operator token", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn list_tenants(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<PageParams>,
) -> ApiResult<Json<Page<TenantView>>> {
    let op = caller.operator(&state, "tenant.list").await?;
    let limit = q.limit()?;
    let tenants = state.store.list_tenants_after(limit + 1, q.cursor.as_deref()).await?;
    let page = Page::cut(tenants, limit, |t| t.id.to_string());
    op.record(&state, |actor, meta| {
        NewEntry::new(actor, Action::fixed("tenant.listed"), Outcome::Success, meta)
            .details(json!({"count": page.items.len()}))
    })
    .await?;
    Ok(Json(page.map(TenantView::from)))
}

fn slug_param(slug: &str) -> Result<TenantSlug, ApiError> {
    // A malformed slug names no tenant.
    TenantSlug::parse(slug).map_err(|_| ApiError::not_found(format!("no tenant {slug}")))
}

/// One tenant.
#[utoipa::path(get, path = "/api/v1/tenants/{slug}", tag = "tenants",
    params(("slug" = String, Path, description = "Tenant slug")),
    responses(
        (status = 200, description = "The tenant", body = TenantView),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Requires an operator token", body = ErrorBody),
        (status = 404, description = "No such tenant", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn get_tenant(
    State(state): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
) -> ApiResult<Json<TenantView>> {
    let op = caller.operator(&state, "tenant.read").await?;
    let tenant = state.store.tenant_by_slug(&slug_param(&slug)?).await?;
    op.record(&state, |actor, meta| {
        NewEntry::new(actor, Action::fixed("tenant.viewed"), Outcome::Success, meta)
            .resource("tenant", tenant.id.to_string())
    })
    .await?;
    Ok(Json(tenant.into()))
}

/// Delete a tenant and drop its database.
#[utoipa::path(delete, path = "/api/v1/tenants/{slug}", tag = "tenants",
    params(("slug" = String, Path, description = "Tenant slug")),
    responses(
        (status = 204, description = "Deleted, with its database"),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Requires an operator token", body = ErrorBody),
        (status = 404, description = "No such tenant", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn delete_tenant(
    State(state): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
) -> ApiResult<StatusCode> {
    let op = caller.operator(&state, "tenant.delete").await?;
    let tenant = state.store.delete_tenant(&slug_param(&slug)?).await?;
    tracing::info!(tenant = %tenant.slug, "tenant deleted");
    op.record(&state, |actor, meta| {
        NewEntry::new(actor, Action::fixed("tenant.deleted"), Outcome::Success, meta)
            .resource("tenant", tenant.id.to_string())
            .details(json!({"slug": tenant.slug}))
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
