//! A tenant's users, managed by its admins; `/me` for the signed-in user; identity
//! settings (branding, default role, token lifetimes).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use cairn_domain::{Role, rfc3339};
use cairn_identity::model::UserId;
use cairn_identity::{CurrentSession, Email, IdentityError, NewUser, Settings, User, UserPatch};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Page, PageParams, PersonName, RoleName};
use crate::AppState;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{ApiJson, ApiQuery, Caller, TenantCtx};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_user, list_users))
        .routes(routes!(get_user, update_user))
        .routes(routes!(set_roles))
        .routes(routes!(disable_user))
        .routes(routes!(enable_user))
        .routes(routes!(reset_password))
        .routes(routes!(get_me, update_me))
        .routes(routes!(change_my_password))
        .routes(routes!(get_subscriptions, put_subscriptions))
        .routes(routes!(get_settings, put_settings, patch_settings))
}

/// A user as admins see them. Passwords and hashes never leave the server.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    pub id: String,
    pub email: String,
    pub given_name: String,
    pub family_name: String,
    /// `FORCE_CHANGE_PASSWORD`, `ACTIVE` or `DISABLED`.
    pub status: String,
    /// Roles given explicitly; empty means the tenant's default role.
    #[schema(value_type = Vec<RoleName>)]
    pub roles: Vec<Role>,
    #[schema(value_type = Object)]
    pub app_metadata: Map<String, Value>,
    #[schema(value_type = Object)]
    pub user_metadata: Map<String, Value>,
    /// Must sign in through SSO.
    pub sso_required: bool,
    pub created_at: String,
    pub updated_at: String,
}

impl From<User> for UserView {
    fn from(u: User) -> Self {
        Self {
            id: u.id,
            email: u.email.to_string(),
            given_name: u.given_name,
            family_name: u.family_name,
            status: u.status.as_str().to_owned(),
            roles: u.roles,
            app_metadata: u.app_metadata,
            user_metadata: u.user_metadata,
            sso_required: u.sso_required,
            created_at: rfc3339(u.created_at),
            updated_at: rfc3339(u.updated_at),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    /// An address as `Email::parse` reads it, stated by the pattern; not JSON Schema's
    /// `email` format, whose rules are other.
    #[schema(
        value_type = String,
        example = "ann@example.com",
        max_length = 254,
        pattern = r"^[\x21\x23-\x2b\x2d-\x3a\x3d\x3f\x41-\x5b\x5d-\x7e]{1,64}@[A-Za-z0-9-]{1,63}(\.[A-Za-z0-9-]{1,63})*$"
    )]
    pub email: Email,
    /// At most 100 characters, no control characters; stored trimmed.
    #[serde(default)]
    #[schema(value_type = PersonName)]
    pub given_name: String,
    /// At most 100 characters, no control characters; stored trimmed.
    #[serde(default)]
    #[schema(value_type = PersonName)]
    pub family_name: String,
    /// Default: none (the tenant's default role applies).
    #[serde(default)]
    #[schema(value_type = Vec<RoleName>)]
    pub roles: Vec<Role>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUser {
    /// At most 100 characters, no control characters; stored trimmed.
    #[schema(value_type = Option<PersonName>)]
    pub given_name: Option<String>,
    /// At most 100 characters, no control characters; stored trimmed.
    #[schema(value_type = Option<PersonName>)]
    pub family_name: Option<String>,
    /// Replaces the app metadata; each key becomes a `cairn/<key>` claim in tokens.
    #[schema(value_type = Option<AppMetadata>)]
    pub app_metadata: Option<Map<String, Value>>,
    /// The user must sign in through SSO; a password sign-in is refused.
    pub sso_required: Option<bool>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetRoles {
    #[schema(value_type = Vec<RoleName>)]
    pub roles: Vec<Role>,
}

/// App metadata as the OpenAPI document states it.
pub struct AppMetadata;

impl utoipa::PartialSchema for AppMetadata {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some(
                "At most 32 keys of lowercase words, at most 8 KiB; a claim name of Cairn's own \
                 (tenant, roles, operator, family, iat_ms, app_metadata, user_metadata) is refused.",
            ))
            .max_properties(Some(32))
            .property_names(Some(
                ObjectBuilder::new().schema_type(Type::String).pattern(Some("^[a-z][a-z0-9_]{0,63}$")),
            ))
            .into()
    }
}

impl ToSchema for AppMetadata {}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateMe {
    /// At most 100 characters, no control characters; stored trimmed.
    #[schema(value_type = Option<PersonName>)]
    pub given_name: Option<String>,
    /// At most 100 characters, no control characters; stored trimmed.
    #[schema(value_type = Option<PersonName>)]
    pub family_name: Option<String>,
    /// Merged into your metadata; `null` removes a key.
    #[schema(value_type = Option<Object>)]
    pub user_metadata: Option<Map<String, Value>>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePassword {
    pub current_password: String,
    /// 12–256 characters, not one of the most common passwords, not containing your email
    /// address's name, not the current one.
    #[schema(min_length = 12, max_length = 256)]
    pub new_password: String,
}

/// The user a path names, in the form ids are stored in; an id that cannot exist names
/// none.
fn user_id(id: &str) -> Result<String, IdentityError> {
    UserId::parse(id, "id").map(|id| id.to_string()).map_err(|_| IdentityError::NotFound("user"))
}

async fn admin(state: &AppState, caller: Caller, attempted: &str) -> ApiResult<TenantCtx> {
    caller.in_tenant(state, Role::Admin, attempted).await
}

async fn tenant_record(state: &AppState, ctx: &TenantCtx) -> ApiResult<cairn_store::Tenant> {
    Ok(state.store.tenant_by_id(ctx.tenant().id).await?)
}

/// Create a user; they are mailed an invitation with a temporary password.
#[utoipa::path(post, path = "/api/v1/users", tag = "users",
    request_body = CreateUser,
    responses(
        (status = 201, description = "Created; the invitation is on its way", body = UserView),
        (status = 400, description = "Invalid body", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Requires admin", body = ErrorBody),
        (status = 409, description = "The email already has an account in this tenant", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn create_user(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateUser>,
) -> ApiResult<(StatusCode, Json<UserView>)> {
    let ctx = admin(&state, caller, "user.create").await?;
    let tenant = tenant_record(&state, &ctx).await?;
    let new =
        NewUser { email: body.email, given_name: body.given_name, family_name: body.family_name, roles: body.roles };
    let (user, _) = state.identity.create_user(&tenant, &ctx.db, new, &ctx.actor(), &ctx.meta).await?;
    Ok((StatusCode::CREATED, Json(user.into())))
}

/// List users in creation order.
#[utoipa::path(get, path = "/api/v1/users", tag = "users",
    params(PageParams),
    responses(
        (status = 200, description = "A page of users", body = Page<UserView>),
        (status = 400, description = "Invalid limit", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Requires admin", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn list_users(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<PageParams>,
) -> ApiResult<Json<Page<UserView>>> {
    let ctx = admin(&state, caller, "user.list").await?;
    let limit = q.limit()?;
    let users = state.identity.list_users(&ctx.db, limit + 1, q.cursor.as_deref()).await?;
    Ok(Json(Page::cut(users, limit, |u| u.id.clone()).map(UserView::from)))
}

/// One user.
#[utoipa::path(get, path = "/api/v1/users/{id}", tag = "users",
    params(("id" = String, Path, description = "User id")),
    responses(
        (status = 200, description = "The user", body = UserView),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Requires admin", body = ErrorBody),
        (status = 404, description = "No such user in this tenant", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn get_user(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<Json<UserView>> {
    let ctx = admin(&state, caller, "user.read").await?;
    Ok(Json(state.identity.get_user(&ctx.db, &user_id(&id)?).await?.into()))
}

/// Change a user's names or app metadata.
#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "users",
    params(("id" = String, Path, description = "User id")),
    request_body = UpdateUser,
    responses(
        (status = 200, description = "The updated user", body = UserView),
        (status = 400, description = "Invalid body (e.g. a reserved metadata key)", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Requires admin", body = ErrorBody),
        (status = 404, description = "No such user in this tenant", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn update_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateUser>,
) -> ApiResult<Json<UserView>> {
    let ctx = admin(&state, caller, "user.update").await?;
    let patch = UserPatch {
        given_name: body.given_name,
        family_name: body.family_name,
        app_metadata: body.app_metadata,
        user_metadata: None,
        sso_required: body.sso_required,
    };
    Ok(Json(state.identity.update_user(&ctx.db, &user_id(&id)?, patch, &ctx.actor(), &ctx.meta).await?.into()))
}

/// Replace a user's roles (empty: the tenant's default role). Every session of the user
/// ends and their access tokens are refused: they sign in again with the new roles.
#[utoipa::path(put, path = "/api/v1/users/{id}/roles", tag = "users",
    params(("id" = String, Path, description = "User id")),
    request_body = SetRoles,
    responses(
        (status = 200, description = "The updated user", body = UserView),
        (status = 400, description = "Unknown role, or removing your own admin role", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Requires admin", body = ErrorBody),
        (status = 404, description = "No such user in this tenant", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn set_roles(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<SetRoles>,
) -> ApiResult<Json<UserView>> {
    let ctx = admin(&state, caller, "user.set_roles").await?;
    Ok(Json(
        state
            .identity
            .set_roles(ctx.tenant().id, &ctx.db, &user_id(&id)?, body.roles, &ctx.actor(), &ctx.meta)
            .await?
            .into(),
    ))
}

/// Disable a user: sign-in stops, every session and refresh token ends, and their access
/// tokens are refused.
#[utoipa::path(post, path = "/api/v1/users/{id}/disable", tag = "users",
    params(("id" = String, Path, description = "User id")),
    responses(
        (status = 200, description = "The disabled user", body = UserView),
        (status = 400, description = "Disabling yourself", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Requires admin", body = ErrorBody),
        (status = 404, description = "No such user in this tenant", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn disable_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<UserView>> {
    let ctx = admin(&state, caller, "user.disable").await?;
    Ok(Json(
        state
            .identity
            .set_enabled(ctx.tenant().id, &ctx.db, &user_id(&id)?, false, &ctx.actor(), &ctx.meta)
            .await?
            .into(),
    ))
}

/// Enable a disabled user.
#[utoipa::path(post, path = "/api/v1/users/{id}/enable", tag = "users",
    params(("id" = String, Path, description = "User id")),
    responses(
        (status = 200, description = "The enabled user", body = UserView),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Requires admin", body = ErrorBody),
        (status = 404, description = "No such user in this tenant", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn enable_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<UserView>> {
    let ctx = admin(&state, caller, "user.enable").await?;
    Ok(Json(
        state
            .identity
            .set_enabled(ctx.tenant().id, &ctx.db, &user_id(&id)?, true, &ctx.actor(), &ctx.meta)
            .await?
            .into(),
    ))
}

/// Reset a user's password to a new temporary one and mail it (also resends an invitation).
#[utoipa::path(post, path = "/api/v1/users/{id}/reset-password", tag = "users",
    params(("id" = String, Path, description = "User id")),
    responses(
        (status = 200, description = "Reset; the user must choose a new password at sign-in", body = UserView),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Requires admin", body = ErrorBody),
        (status = 404, description = "No such user in this tenant", body = ErrorBody),
        (status = 409, description = "The user is disabled", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn reset_password(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<UserView>> {
    let ctx = admin(&state, caller, "user.reset_password").await?;
    let tenant = tenant_record(&state, &ctx).await?;
    let (user, _) =
        state.identity.reset_to_temporary(&tenant, &ctx.db, &user_id(&id)?, &ctx.actor(), &ctx.meta).await?;
    Ok(Json(user.into()))
}

/// The signed-in user (a user token; service tokens have no profile).
async fn me(state: &AppState, caller: Caller, attempted: &str) -> ApiResult<(TenantCtx, User)> {
    let ctx = caller.in_tenant(state, Role::Readonly, attempted).await?;
    match state.identity.get_user(&ctx.db, &ctx.member.subject).await {
        Ok(u) => Ok((ctx, u)),
        Err(cairn_identity::IdentityError::NotFound(_)) => {
            Err(ApiError::not_found("this token names no user of the tenant"))
        }
        Err(e) => Err(e.into()),
    }
}

/// Your profile.
#[utoipa::path(get, path = "/api/v1/me", tag = "users",
    responses(
        (status = 200, description = "You", body = UserView),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 404, description = "The token is not a user's", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn get_me(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<UserView>> {
    Ok(Json(me(&state, caller, "me.read").await?.1.into()))
}

/// Change your names or your own metadata.
#[utoipa::path(patch, path = "/api/v1/me", tag = "users",
    request_body = UpdateMe,
    responses(
        (status = 200, description = "You, updated", body = UserView),
        (status = 400, description = "Invalid body", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 404, description = "The token is not a user's", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn update_me(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<UpdateMe>,
) -> ApiResult<Json<UserView>> {
    let (ctx, user) = me(&state, caller, "me.update").await?;
    let patch = UserPatch {
        given_name: body.given_name,
        family_name: body.family_name,
        app_metadata: None,
        user_metadata: body.user_metadata,
        sso_required: None,
    };
    Ok(Json(state.identity.update_user(&ctx.db, &user.id, patch, &ctx.actor(), &ctx.meta).await?.into()))
}

/// Your mail subscriptions.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Subscriptions {
    /// Mail me when a record is published.
    pub publish_history: bool,
}

fn subscriptions(u: &User) -> Subscriptions {
    Subscriptions { publish_history: cairn_records::notify::subscribed(u) }
}

/// Your mail subscriptions.
#[utoipa::path(get, path = "/api/v1/me/subscriptions", tag = "users",
    responses(
        (status = 200, description = "Your subscriptions", body = Subscriptions),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 404, description = "The token is not a user's", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn get_subscriptions(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Subscriptions>> {
    Ok(Json(subscriptions(&me(&state, caller, "me.read").await?.1)))
}

/// Turn publish notifications on or off.
#[utoipa::path(put, path = "/api/v1/me/subscriptions", tag = "users",
    request_body = Subscriptions,
    responses(
        (status = 200, description = "Your subscriptions, changed", body = Subscriptions),
        (status = 400, description = "Invalid body", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 404, description = "The token is not a user's", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn put_subscriptions(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<Subscriptions>,
) -> ApiResult<Json<Subscriptions>> {
    let (ctx, user) = me(&state, caller, "me.update").await?;
    let user = cairn_records::notify::set_subscription(
        &state.identity,
        &ctx.db,
        &user.id,
        body.publish_history,
        &ctx.actor(),
        &ctx.meta,
    )
    .await?;
    Ok(Json(subscriptions(&user)))
}

/// Change your password (the current one is required). Every other sign-in of yours ends;
/// the one this token belongs to stays.
#[utoipa::path(put, path = "/api/v1/me/password", tag = "users",
    request_body = ChangePassword,
    responses(
        (status = 204, description = "Changed"),
        (status = 400, description = "Wrong current password, or the new one breaks the policy", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 404, description = "The token is not a user's", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn change_my_password(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<ChangePassword>,
) -> ApiResult<StatusCode> {
    let (ctx, user) = me(&state, caller, "me.change_password").await?;
    // The caller's own sign-in (the refresh-token family of this token) stays.
    let session = CurrentSession { family: ctx.member.family.clone(), provider_session: None };
    state
        .identity
        .change_password(
            ctx.tenant().id,
            &ctx.db,
            &user.id,
            Some(&body.current_password),
            &body.new_password,
            &session,
            &ctx.meta,
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Identity settings: display name, accent colour, default role, token lifetimes.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsView {
    /// At most 100 characters, no control characters; `null` or blank: the organization's
    /// name.
    #[schema(value_type = Option<PersonName>)]
    pub display_name: Option<String>,
    /// `#rrggbb`
    #[schema(pattern = r"^#[0-9A-Fa-f]{6}$")]
    pub accent: String,
    #[schema(value_type = RoleName)]
    pub default_role: Role,
    /// 60–86400.
    #[schema(minimum = 60, maximum = 86400)]
    #[serde(deserialize_with = "super::whole")]
    pub access_ttl_secs: u32,
    /// 60–86400.
    #[schema(minimum = 60, maximum = 86400)]
    #[serde(deserialize_with = "super::whole")]
    pub id_ttl_secs: u32,
    /// 300–31536000.
    #[schema(minimum = 300, maximum = 31536000)]
    #[serde(deserialize_with = "super::whole")]
    pub refresh_ttl_secs: u32,
    /// 300–31536000.
    #[schema(minimum = 300, maximum = 31536000)]
    #[serde(deserialize_with = "super::whole")]
    pub session_ttl_secs: u32,
}

impl From<Settings> for SettingsView {
    fn from(s: Settings) -> Self {
        Self {
            display_name: s.display_name,
            accent: s.accent,
            default_role: s.default_role,
            access_ttl_secs: s.access_ttl_secs,
            id_ttl_secs: s.id_ttl_secs,
            refresh_ttl_secs: s.refresh_ttl_secs,
            session_ttl_secs: s.session_ttl_secs,
        }
    }
}

/// The tenant's identity settings.
#[utoipa::path(get, path = "/api/v1/identity/settings", tag = "users",
    responses(
        (status = 200, description = "Settings", body = SettingsView),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Requires admin", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn get_settings(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<SettingsView>> {
    let ctx = admin(&state, caller, "identity.settings.read").await?;
    Ok(Json(state.identity.settings(&ctx.db).await?.into()))
}

/// Replace the tenant's identity settings.
#[utoipa::path(put, path = "/api/v1/identity/settings", tag = "users",
    request_body = SettingsView,
    responses(
        (status = 200, description = "Saved", body = SettingsView),
        (status = 400, description = "Invalid value", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Requires admin", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn put_settings(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<SettingsView>,
) -> ApiResult<Json<SettingsView>> {
    let ctx = admin(&state, caller, "identity.settings.update").await?;
    let replaced = Settings {
        display_name: body.display_name.filter(|n| !n.trim().is_empty()),
        accent: body.accent,
        default_role: body.default_role,
        access_ttl_secs: body.access_ttl_secs,
        id_ttl_secs: body.id_ttl_secs,
        refresh_ttl_secs: body.refresh_ttl_secs,
        session_ttl_secs: body.session_ttl_secs,
    };
    let saved = state.identity.update_settings(&ctx.db, |s| *s = replaced, &ctx.actor(), &ctx.meta).await?;
    Ok(Json(saved.into()))
}

/// Some of the identity settings: the fields given change, the others stay.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsPatch {
    /// At most 100 characters, no control characters; `null` or blank goes back to the
    /// organization's name.
    #[serde(default, deserialize_with = "super::present")]
    #[schema(value_type = Option<PersonName>)]
    pub display_name: Option<Option<String>>,
    /// `#rrggbb`
    #[schema(pattern = r"^#[0-9A-Fa-f]{6}$")]
    pub accent: Option<String>,
    #[schema(value_type = Option<RoleName>)]
    pub default_role: Option<Role>,
    /// 60–86400.
    #[schema(minimum = 60, maximum = 86400)]
    #[serde(default, deserialize_with = "super::whole_or_null")]
    pub access_ttl_secs: Option<u32>,
    /// 60–86400.
    #[schema(minimum = 60, maximum = 86400)]
    #[serde(default, deserialize_with = "super::whole_or_null")]
    pub id_ttl_secs: Option<u32>,
    /// 300–31536000.
    #[schema(minimum = 300, maximum = 31536000)]
    #[serde(default, deserialize_with = "super::whole_or_null")]
    pub refresh_ttl_secs: Option<u32>,
    /// 300–31536000.
    #[schema(minimum = 300, maximum = 31536000)]
    #[serde(default, deserialize_with = "super::whole_or_null")]
    pub session_ttl_secs: Option<u32>,
}

/// Change some of the tenant's identity settings.
#[utoipa::path(patch, path = "/api/v1/identity/settings", tag = "users",
    request_body = SettingsPatch,
    responses(
        (status = 200, description = "Saved", body = SettingsView),
        (status = 400, description = "Invalid value", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Requires admin", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn patch_settings(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<SettingsPatch>,
) -> ApiResult<Json<SettingsView>> {
    let ctx = admin(&state, caller, "identity.settings.update").await?;
    let change = |s: &mut Settings| {
        if let Some(name) = body.display_name {
            s.display_name = name.filter(|n| !n.trim().is_empty());
        }
        if let Some(accent) = body.accent {
            s.accent = accent;
        }
        if let Some(role) = body.default_role {
            s.default_role = role;
        }
        for (field, value) in [
            (&mut s.access_ttl_secs, body.access_ttl_secs),
            (&mut s.id_ttl_secs, body.id_ttl_secs),
            (&mut s.refresh_ttl_secs, body.refresh_ttl_secs),
            (&mut s.session_ttl_secs, body.session_ttl_secs),
        ] {
            if let Some(v) = value {
                *field = v;
            }
        }
    };
    let saved = state.identity.update_settings(&ctx.db, change, &ctx.actor(), &ctx.meta).await?;
    Ok(Json(saved.into()))
}
