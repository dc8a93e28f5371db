//! The cloud-instances console. Admins connect AWS accounts (credentials tried before they
//! are stored, the secret sealed and never returned); everyone in the tenant lists the
//! accounts' instances, opens one and reads its CloudWatch metrics; admins reboot, start and
//! stop — anyone else is refused with `403` and an `access.denied` entry naming the
//! instance.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use cairn_domain::{Role, ValidationError, now_ms, rfc3339};
use cairn_instances::{
    Account, AccountAuth, AccountId, AccountInput, AccountPatch, CredentialFields, CredentialsInput, InstanceAction,
    Instances, ListFilter, MetricName, MetricQuery, Stat, Target,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{OutboundUrl, Page, PageParams, UuidText};
use crate::AppState;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{ApiJson, ApiQuery, Caller, TenantCtx};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_account, list_accounts))
        .routes(routes!(get_account, update_account, delete_account))
        .routes(routes!(list_instances))
        .routes(routes!(get_instance))
        .routes(routes!(get_instance_by_id))
        .routes(routes!(act_on_instance))
        .routes(routes!(act_on_instance_by_id))
        .routes(routes!(instance_metric))
        .routes(routes!(instance_metric_by_id))
}

/// The tenant's console over its database.
pub(crate) fn console<'a>(state: &'a AppState, ctx: &'a TenantCtx, tenant: &'a str) -> Instances<'a> {
    Instances { db: &ctx.db, tenant, cloud: &state.cloud, key: state.store.master_key() }
}

// ----- accounts -----

/// A connected AWS account; its secret access key is never returned.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountView {
    pub id: String,
    pub name: String,
    pub regions: Vec<String>,
    /// `keys` (an access key) or `role` (assumed through STS).
    pub auth: String,
    pub access_key_id: Option<String>,
    pub role_arn: Option<String>,
    pub external_id: Option<String>,
    pub endpoint_url: Option<String>,
    /// The AWS account number the credentials belong to.
    pub aws_account_id: String,
    pub created_at: String,
    pub created_by: String,
    pub updated_at: String,
}

impl From<Account> for AccountView {
    fn from(a: Account) -> Self {
        let (auth, access_key_id, role_arn, external_id) = match a.auth {
            AccountAuth::Keys { access_key_id } => ("keys", Some(access_key_id), None, None),
            AccountAuth::Role { role_arn, external_id } => ("role", None, Some(role_arn), external_id),
        };
        Self {
            id: a.id,
            name: a.name,
            regions: a.regions,
            auth: auth.into(),
            access_key_id,
            role_arn,
            external_id,
            endpoint_url: a.endpoint_url,
            aws_account_id: a.aws_account_id,
            created_at: rfc3339(a.created_at),
            created_by: a.created_by,
            updated_at: rfc3339(a.updated_at),
        }
    }
}

/// An AWS account to connect: `access_key_id` with `secret_access_key`, or `role_arn` (with
/// an optional `external_id`), assumed with the platform's own credentials.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAccount {
    /// Lower-case letters, digits and `-`; names the account in instance URLs.
    #[schema(pattern = "^[a-z0-9][a-z0-9-]{0,39}$")]
    pub name: String,
    /// Region codes, e.g. `eu-central-1`.
    #[schema(min_items = 1, max_items = 25)]
    pub regions: Vec<String>,
    #[schema(max_length = 128)]
    pub access_key_id: Option<String>,
    /// Sealed with the master key; never returned or logged.
    #[schema(max_length = 128, write_only)]
    pub secret_access_key: Option<String>,
    #[schema(max_length = 2048)]
    pub role_arn: Option<String>,
    #[schema(max_length = 1224)]
    pub external_id: Option<String>,
    /// An AWS-compatible endpoint other than AWS's own (LocalStack, moto), which EC2,
    /// CloudWatch and STS calls all go to, reached through Cairn's guarded client.
    #[schema(value_type = Option<OutboundUrl>)]
    pub endpoint_url: Option<String>,
}

/// Fields to change; those left out stay. New credentials (all of one kind) replace the old
/// ones; the account is tried again before anything changes.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateAccount {
    #[schema(pattern = "^[a-z0-9][a-z0-9-]{0,39}$")]
    pub name: Option<String>,
    #[schema(min_items = 1, max_items = 25)]
    pub regions: Option<Vec<String>>,
    #[schema(max_length = 128)]
    pub access_key_id: Option<String>,
    #[schema(max_length = 128, write_only)]
    pub secret_access_key: Option<String>,
    #[schema(max_length = 2048)]
    pub role_arn: Option<String>,
    #[schema(max_length = 1224)]
    pub external_id: Option<String>,
    /// `null` goes back to AWS's own endpoints.
    #[schema(value_type = Option<OutboundUrl>)]
    #[serde(default, deserialize_with = "super::present")]
    pub endpoint_url: Option<Option<String>>,
}

// Bodies that carry a secret key print without it.
impl std::fmt::Debug for CreateAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreateAccount")
            .field("name", &self.name)
            .field("regions", &self.regions)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for UpdateAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpdateAccount")
            .field("name", &self.name)
            .field("regions", &self.regions)
            .finish_non_exhaustive()
    }
}

fn account_id(id: &str) -> Result<AccountId, ApiError> {
    AccountId::parse(id, "id").map_err(|_| ApiError::not_found("account not found"))
}

/// Connect an AWS account. Its credentials are tried first (`sts:GetCallerIdentity`, then
/// one `DescribeInstances` per region); a refusal is a `400` naming the field, and nothing
/// is stored.
#[utoipa::path(post, path = "/api/v1/instances/accounts", tag = "instances",
    request_body = CreateAccount,
    responses(
        (status = 201, description = "Connected", body = AccountView),
        (status = 400, description = "Invalid body or refused credentials, naming the field", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Requires admin", body = ErrorBody),
        (status = 409, description = "An account has this name", body = ErrorBody),
        (status = 502, description = "AWS did not answer", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn create_account(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateAccount>,
) -> ApiResult<(StatusCode, Json<AccountView>)> {
    let ctx = caller.in_tenant(&state, Role::Admin, "cloud_account.create").await?;
    let credentials = CredentialsInput::check(CredentialFields {
        access_key_id: body.access_key_id,
        secret_access_key: body.secret_access_key,
        role_arn: body.role_arn,
        external_id: body.external_id,
    })?;
    let input = AccountInput { name: body.name, regions: body.regions, credentials, endpoint_url: body.endpoint_url };
    let tenant = ctx.tenant().id.to_string();
    let account = console(&state, &ctx, &tenant).add_account(input, &ctx.actor(), &ctx.meta).await?;
    Ok((StatusCode::CREATED, Json(account.into())))
}

/// The tenant's AWS accounts, by name.
#[utoipa::path(get, path = "/api/v1/instances/accounts", tag = "instances",
    responses(
        (status = 200, description = "Every account (one page)", body = Page<AccountView>),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Requires admin", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn list_accounts(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Page<AccountView>>> {
    let ctx = caller.in_tenant(&state, Role::Admin, "cloud_account.list").await?;
    let tenant = ctx.tenant().id.to_string();
    let accounts = console(&state, &ctx, &tenant).accounts().await?;
    Ok(Json(Page { items: accounts.into_iter().map(Into::into).collect(), next_cursor: None }))
}

/// One account.
#[utoipa::path(get, path = "/api/v1/instances/accounts/{id}", tag = "instances",
    params(("id" = UuidText, Path, description = "Account id")),
    responses(
        (status = 200, description = "The account", body = AccountView),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Requires admin", body = ErrorBody),
        (status = 404, description = "No such account", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn get_account(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<AccountView>> {
    let ctx = caller.in_tenant(&state, Role::Admin, "cloud_account.read").await?;
    let tenant = ctx.tenant().id.to_string();
    Ok(Json(console(&state, &ctx, &tenant).account(&account_id(&id)?).await?.into()))
}

/// Change an account; new credentials, regions or endpoint are tried first.
#[utoipa::path(patch, path = "/api/v1/instances/accounts/{id}", tag = "instances",
    params(("id" = UuidText, Path, description = "Account id")),
    request_body = UpdateAccount,
    responses(
        (status = 200, description = "The account, changed", body = AccountView),
        (status = 400, description = "Invalid body or refused credentials, naming the field", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Requires admin", body = ErrorBody),
        (status = 404, description = "No such account", body = ErrorBody),
        (status = 409, description = "Another account has this name", body = ErrorBody),
        (status = 502, description = "AWS did not answer", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn update_account(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateAccount>,
) -> ApiResult<Json<AccountView>> {
    let ctx = caller.in_tenant(&state, Role::Admin, "cloud_account.update").await?;
    let id = account_id(&id)?;
    let fields = CredentialFields {
        access_key_id: body.access_key_id,
        secret_access_key: body.secret_access_key,
        role_arn: body.role_arn,
        external_id: body.external_id,
    };
    let credentials = fields.any().then(|| CredentialsInput::check(fields)).transpose()?;
    let patch = AccountPatch { name: body.name, regions: body.regions, credentials, endpoint_url: body.endpoint_url };
    let tenant = ctx.tenant().id.to_string();
    let account = console(&state, &ctx, &tenant).update_account(&id, patch, &ctx.actor(), &ctx.meta).await?;
    Ok(Json(account.into()))
}

/// Disconnect an account.
#[utoipa::path(delete, path = "/api/v1/instances/accounts/{id}", tag = "instances",
    params(("id" = UuidText, Path, description = "Account id")),
    responses(
        (status = 204, description = "Disconnected"),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Requires admin", body = ErrorBody),
        (status = 404, description = "No such account", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn delete_account(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let ctx = caller.in_tenant(&state, Role::Admin, "cloud_account.delete").await?;
    let tenant = ctx.tenant().id.to_string();
    console(&state, &ctx, &tenant).delete_account(&account_id(&id)?, &ctx.actor(), &ctx.meta).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ----- instances -----

/// An instance in a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct InstanceView {
    pub id: String,
    /// The account's name in Cairn.
    pub account: String,
    pub region: String,
    /// The `Name` tag.
    pub name: Option<String>,
    /// `pending`, `running`, `stopping`, `stopped`, `shutting-down` or `terminated`.
    pub state: String,
    #[serde(rename = "type")]
    pub instance_type: String,
    pub launched_at: Option<String>,
    pub private_ip: Option<String>,
    pub public_ip: Option<String>,
    pub tags: BTreeMap<String, String>,
}

impl From<cairn_instances::Instance> for InstanceView {
    fn from(i: cairn_instances::Instance) -> Self {
        Self {
            id: i.id,
            account: i.account,
            region: i.region,
            name: i.name,
            state: i.state,
            instance_type: i.instance_type,
            launched_at: i.launched_at.map(rfc3339),
            private_ip: i.private_ip,
            public_ip: i.public_ip,
            tags: i.tags,
        }
    }
}

/// An account and region whose instances could not be read; the list holds the others'.
#[derive(Debug, Serialize, ToSchema)]
pub struct UnavailableView {
    pub account: String,
    pub region: String,
    /// The AWS error code (`timeout`, `unreachable`, `refused`, `platform_credentials` when
    /// AWS gave none).
    pub code: String,
    pub message: String,
}

/// A page of instances.
#[derive(Debug, Serialize, ToSchema)]
pub struct InstancePage {
    pub items: Vec<InstanceView>,
    /// Pass as `cursor` for the next page; `null` on the last.
    pub next_cursor: Option<String>,
    /// Accounts and regions that did not answer (their instances are missing here).
    pub unavailable: Vec<UnavailableView>,
}

/// `?state=&tag=Key:Value&name=&account=&region=&limit=&cursor=`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListInstancesParams {
    /// `pending`, `running`, `stopping`, `stopped`, `shutting-down` or `terminated`.
    pub state: Option<String>,
    /// `Key:Value`; repeat for several (all must match).
    #[serde(default)]
    #[param(value_type = Option<Vec<String>>)]
    pub tag: Vec<String>,
    /// Part of the `Name` tag or of the id, in any case.
    pub name: Option<String>,
    /// An account's name.
    pub account: Option<String>,
    pub region: Option<String>,
    /// 1–500, default 50.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    /// A previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// `true` reads AWS again instead of the answer kept for a few seconds.
    pub fresh: Option<bool>,
}

/// Instances of every connected account and region, read concurrently (an answer is kept
/// for a few seconds per account), in the order of account, region and id.
#[utoipa::path(get, path = "/api/v1/instances", tag = "instances",
    params(ListInstancesParams),
    responses(
        (status = 200, description = "A page of instances", body = InstancePage),
        (status = 400, description = "Invalid filter, limit or cursor, naming it", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Not a member of a tenant", body = ErrorBody),
        (status = 502, description = "No account answered: AWS refused or failed", body = ErrorBody),
        (status = 503, description = "AWS is throttling the only account asked", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn list_instances(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ListInstancesParams>,
) -> ApiResult<Json<InstancePage>> {
    let ctx = caller.in_tenant(&state, Role::Readonly, "instance.list").await?;
    let limit = PageParams { limit: q.limit, cursor: None }.limit()?;
    let filter =
        ListFilter::check(q.state.as_deref(), &q.tag, q.name.as_deref(), q.account.as_deref(), q.region.as_deref())?;
    let after = q.cursor.as_deref().map(parse_cursor).transpose()?;
    let tenant = ctx.tenant().id.to_string();
    let listing = console(&state, &ctx, &tenant).list(&filter, q.fresh.unwrap_or(false)).await?;
    // When nothing answered, the caller hears why rather than an empty list.
    if listing.none_answered()
        && let Some(first) = listing.unavailable.first()
    {
        return Err(cairn_instances::InstancesError::Aws {
            account: first.account.clone(),
            error: first.error.clone(),
        }
        .into());
    }
    // Only the page is copied out of the (cached) lists.
    let items: Vec<_> = listing
        .iter()
        .filter(|i| after.as_ref().is_none_or(|(a, r, id)| (&i.account, &i.region, &i.id) > (a, r, id)))
        .take(limit as usize + 1)
        .cloned()
        .collect();
    let page = Page::cut(items, limit, |i| format!("{}/{}/{}", i.account, i.region, i.id));
    Ok(Json(InstancePage {
        items: page.items.into_iter().map(Into::into).collect(),
        next_cursor: page.next_cursor,
        unavailable: listing
            .unavailable
            .into_iter()
            .map(|u| UnavailableView {
                account: u.account,
                region: u.region,
                code: u.error.code().to_owned(),
                message: u.error.to_string(),
            })
            .collect(),
    }))
}

/// `account/region/id`, a previous page's last instance.
fn parse_cursor(c: &str) -> Result<(String, String, String), ValidationError> {
    let mut parts = c.splitn(3, '/');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(a), Some(r), Some(id)) if !a.is_empty() && !r.is_empty() && !id.is_empty() => {
            Ok((a.to_owned(), r.to_owned(), id.to_owned()))
        }
        _ => Err(ValidationError::new("cursor", "must be a previous page's next_cursor")),
    }
}

/// An instance in full, with its status checks.
#[derive(Debug, Serialize, ToSchema)]
pub struct InstanceDetails {
    #[serde(flatten)]
    pub instance: InstanceView,
    pub availability_zone: Option<String>,
    pub image_id: Option<String>,
    pub architecture: Option<String>,
    pub platform: Option<String>,
    pub vpc_id: Option<String>,
    pub subnet_id: Option<String>,
    pub key_name: Option<String>,
    pub security_groups: Vec<String>,
    /// Why the state last changed, in AWS's words.
    pub state_reason: Option<String>,
    pub status_checks: StatusChecksView,
}

/// Status checks: each `ok`, `impaired`, `initializing`, `insufficient-data` or
/// `not-applicable`, or `null` when AWS reports none (a stopped instance).
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct StatusChecksView {
    pub system: Option<String>,
    pub instance: Option<String>,
    /// Scheduled events (reboots, retirements), as `code: description`.
    pub events: Vec<String>,
}

/// Where an instance is, from the path.
#[derive(Debug, Deserialize)]
pub struct TargetPath {
    account: String,
    region: String,
    id: String,
}

fn instance_id(id: &str) -> Result<String, ApiError> {
    // AWS's ids are `i-` and 8 or 17 hex digits (8 to 17 are taken); anything else is no
    // instance.
    let ok =
        id.strip_prefix("i-").is_some_and(|h| (8..=17).contains(&h.len()) && h.bytes().all(|b| b.is_ascii_hexdigit()));
    if ok { Ok(id.to_owned()) } else { Err(ApiError::not_found("Instance not found")) }
}

impl TargetPath {
    fn target(self) -> Result<Target, ApiError> {
        Ok(Target { account: self.account, region: self.region, id: instance_id(&self.id)? })
    }
}

async fn details(state: &AppState, ctx: &TenantCtx, target: &Target) -> ApiResult<Json<InstanceDetails>> {
    let tenant = ctx.tenant().id.to_string();
    let (i, checks) = console(state, ctx, &tenant).details(target).await?;
    let checks = checks.unwrap_or_default();
    Ok(Json(InstanceDetails {
        availability_zone: i.availability_zone.clone(),
        image_id: i.image_id.clone(),
        architecture: i.architecture.clone(),
        platform: i.platform.clone(),
        vpc_id: i.vpc_id.clone(),
        subnet_id: i.subnet_id.clone(),
        key_name: i.key_name.clone(),
        security_groups: i.security_groups.clone(),
        state_reason: i.state_reason.clone(),
        status_checks: StatusChecksView { system: checks.system, instance: checks.instance, events: checks.events },
        instance: i.into(),
    }))
}

/// One instance with its details and status checks.
#[utoipa::path(get, path = "/api/v1/instances/{account}/{region}/{id}", tag = "instances",
    params(
        ("account" = String, Path, description = "The account's name"),
        ("region" = String, Path, description = "Region code"),
        ("id" = String, Path, description = "Instance id (i-…)"),
    ),
    responses(
        (status = 200, description = "The instance", body = InstanceDetails),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Not a member of a tenant", body = ErrorBody),
        (status = 404, description = "Instance not found", body = ErrorBody),
        (status = 502, description = "AWS refused or failed", body = ErrorBody),
        (status = 503, description = "AWS is throttling the account", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn get_instance(
    State(state): State<AppState>,
    caller: Caller,
    Path(path): Path<TargetPath>,
) -> ApiResult<Json<InstanceDetails>> {
    let ctx = caller.in_tenant(&state, Role::Readonly, "instance.read").await?;
    details(&state, &ctx, &path.target()?).await
}

/// Where the instance `id` is: the one account and region that lists it.
async fn locate(state: &AppState, ctx: &TenantCtx, id: &str) -> Result<Target, ApiError> {
    let tenant = ctx.tenant().id.to_string();
    Ok(console(state, ctx, &tenant).locate(&instance_id(id)?).await?)
}

/// One instance, by an id that one account and region list.
#[utoipa::path(get, path = "/api/v1/instances/{id}", tag = "instances",
    params(("id" = String, Path, description = "Instance id (i-…)")),
    responses(
        (status = 200, description = "The instance", body = InstanceDetails),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Not a member of a tenant", body = ErrorBody),
        (status = 404, description = "Instance not found", body = ErrorBody),
        (status = 409, description = "Several accounts or regions list this id", body = ErrorBody),
        (status = 502, description = "AWS refused or failed", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn get_instance_by_id(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<InstanceDetails>> {
    let ctx = caller.in_tenant(&state, Role::Readonly, "instance.read").await?;
    let target = locate(&state, &ctx, &id).await?;
    details(&state, &ctx, &target).await
}

/// What an action answers.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActionDone {
    pub id: String,
    pub account: String,
    pub region: String,
    /// `reboot`, `start` or `stop`.
    pub action: String,
    /// AWS accepted it; the instance's state changes in the seconds that follow.
    pub accepted: bool,
}

fn action_of(name: &str) -> Result<InstanceAction, ApiError> {
    InstanceAction::parse(name).ok_or_else(|| ApiError::not_found("no such action: reboot, start or stop"))
}

/// Runs an action for an admin; anyone else is refused with `403` "Admin role required" and
/// an `access.denied` entry naming the instance.
async fn act(state: &AppState, ctx: &TenantCtx, action: InstanceAction, target: Target) -> ApiResult<Json<ActionDone>> {
    let tenant = ctx.tenant().id.to_string();
    let console = console(state, ctx, &tenant);
    if !ctx.member.has_role(Role::Admin) {
        tracing::info!(attempted = action.permission(), instance = %target.id, "access denied");
        console.record_denial(action, &target, "requires the admin role", &ctx.actor(), &ctx.meta).await?;
        return Err(ApiError::forbidden("Admin role required"));
    }
    console.act(action, &target, &ctx.actor(), &ctx.meta).await?;
    Ok(Json(ActionDone {
        id: target.id,
        account: target.account,
        region: target.region,
        action: action.as_str().into(),
        accepted: true,
    }))
}

/// Reboot, start or stop an instance. Admins only.
#[utoipa::path(post, path = "/api/v1/instances/{account}/{region}/{id}/{action}", tag = "instances",
    params(
        ("account" = String, Path, description = "The account's name"),
        ("region" = String, Path, description = "Region code"),
        ("id" = String, Path, description = "Instance id (i-…)"),
        ("action" = String, Path, description = "`reboot`, `start` or `stop`"),
    ),
    responses(
        (status = 200, description = "AWS accepted the action", body = ActionDone),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Admin role required (audited)", body = ErrorBody),
        (status = 404, description = "Instance not found", body = ErrorBody),
        (status = 409, description = "The instance's state does not allow it", body = ErrorBody),
        (status = 502, description = "AWS refused or failed", body = ErrorBody),
        (status = 503, description = "AWS is throttling the account", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn act_on_instance(
    State(state): State<AppState>,
    caller: Caller,
    Path((account, region, id, action)): Path<(String, String, String, String)>,
) -> ApiResult<Json<ActionDone>> {
    let action = action_of(&action)?;
    let ctx = caller.in_tenant(&state, Role::Readonly, action.permission()).await?;
    act(&state, &ctx, action, TargetPath { account, region, id }.target()?).await
}

/// Reboot, start or stop an instance named by an id one account and region list. Admins
/// only.
#[utoipa::path(post, path = "/api/v1/instances/{id}/{action}", tag = "instances",
    params(
        ("id" = String, Path, description = "Instance id (i-…)"),
        ("action" = String, Path, description = "`reboot`, `start` or `stop`"),
    ),
    responses(
        (status = 200, description = "AWS accepted the action", body = ActionDone),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Admin role required (audited)", body = ErrorBody),
        (status = 404, description = "Instance not found", body = ErrorBody),
        (status = 409, description = "The instance's state does not allow it, or several accounts list the id", body = ErrorBody),
        (status = 502, description = "AWS refused or failed", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn act_on_instance_by_id(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, action)): Path<(String, String)>,
) -> ApiResult<Json<ActionDone>> {
    let action = action_of(&action)?;
    let ctx = caller.in_tenant(&state, Role::Readonly, action.permission()).await?;
    // Refused before any account is read: where the instance is matters to admins only.
    let target = if ctx.member.has_role(Role::Admin) {
        locate(&state, &ctx, &id).await?
    } else {
        Target { account: String::new(), region: String::new(), id: instance_id(&id)? }
    };
    act(&state, &ctx, action, target).await
}

/// `?metric=&from=&to=&period=&stat=`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MetricParams {
    /// `CPUUtilization` (default), `NetworkIn`, `NetworkOut`, `DiskReadOps`, `DiskWriteOps`
    /// or `StatusCheckFailed`.
    pub metric: Option<String>,
    /// RFC 3339; default an hour before `to`.
    #[param(format = DateTime)]
    pub from: Option<String>,
    /// RFC 3339; default now.
    #[param(format = DateTime)]
    pub to: Option<String>,
    /// Seconds: 60 or a multiple of 60 up to 86400; default 300. At most 1,440 points.
    pub period: Option<i64>,
    /// `Average`, `Sum`, `Minimum`, `Maximum` or `SampleCount`; default the metric's own
    /// (`Sum` for network bytes, `Maximum` for the status check, else `Average`).
    pub stat: Option<String>,
}

/// One period's value.
#[derive(Debug, Serialize, ToSchema)]
pub struct PointView {
    pub time: String,
    pub value: f64,
}

/// An instance's metric.
#[derive(Debug, Serialize, ToSchema)]
pub struct MetricView {
    pub instance: String,
    pub metric: String,
    pub stat: String,
    /// CloudWatch's unit: `Percent`, `Bytes` or `Count`.
    pub unit: String,
    pub period: i64,
    pub from: String,
    pub to: String,
    /// Oldest first; periods without data are absent.
    pub points: Vec<PointView>,
}

fn timestamp(field: &str, text: &str) -> Result<i64, ValidationError> {
    text.parse::<jiff::Timestamp>()
        .map(|t| t.as_millisecond())
        .map_err(|_| ValidationError::new(field, "must be an RFC 3339 time, e.g. 2026-12-01T10:00:00Z"))
}

/// The checked query of `q`, at `now`.
pub(crate) fn metric_query(q: &MetricParams, now: i64) -> Result<MetricQuery, ValidationError> {
    let metric = MetricName::parse(q.metric.as_deref().unwrap_or("CPUUtilization"))?;
    let stat = q.stat.as_deref().map(Stat::parse).transpose()?.unwrap_or(metric.default_stat());
    let to = q.to.as_deref().map(|t| timestamp("to", t)).transpose()?.unwrap_or(now);
    let from = q.from.as_deref().map(|t| timestamp("from", t)).transpose()?.unwrap_or(to - 3_600_000);
    MetricQuery::check(metric, stat, from, to, q.period.unwrap_or(300), now)
}

async fn metric(state: &AppState, ctx: &TenantCtx, target: &Target, q: &MetricParams) -> ApiResult<Json<MetricView>> {
    let query = metric_query(q, now_ms())?;
    let tenant = ctx.tenant().id.to_string();
    let points = console(state, ctx, &tenant).metric(target, &query).await?;
    Ok(Json(MetricView {
        instance: target.id.clone(),
        metric: query.metric.as_str().into(),
        stat: query.stat.as_str().into(),
        unit: query.metric.unit().into(),
        period: i64::from(query.period),
        from: rfc3339(query.from),
        to: rfc3339(query.to),
        points: points.into_iter().map(|p| PointView { time: rfc3339(p.time), value: p.value }).collect(),
    }))
}

/// An instance's CloudWatch metric over a range (`GetMetricData`).
#[utoipa::path(get, path = "/api/v1/instances/{account}/{region}/{id}/metrics", tag = "instances",
    params(
        ("account" = String, Path, description = "The account's name"),
        ("region" = String, Path, description = "Region code"),
        ("id" = String, Path, description = "Instance id (i-…)"),
        MetricParams,
    ),
    responses(
        (status = 200, description = "The metric's points", body = MetricView),
        (status = 400, description = "Invalid metric, range, period or statistic, naming it", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Not a member of a tenant", body = ErrorBody),
        (status = 404, description = "Instance not found", body = ErrorBody),
        (status = 502, description = "AWS refused or failed", body = ErrorBody),
        (status = 503, description = "AWS is throttling the account", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn instance_metric(
    State(state): State<AppState>,
    caller: Caller,
    Path(path): Path<TargetPath>,
    ApiQuery(q): ApiQuery<MetricParams>,
) -> ApiResult<Json<MetricView>> {
    let ctx = caller.in_tenant(&state, Role::Readonly, "instance.metrics").await?;
    metric(&state, &ctx, &path.target()?, &q).await
}

/// An instance's CloudWatch metric, by an id one account and region list.
#[utoipa::path(get, path = "/api/v1/instances/{id}/metrics", tag = "instances",
    params(("id" = String, Path, description = "Instance id (i-…)"), MetricParams),
    responses(
        (status = 200, description = "The metric's points", body = MetricView),
        (status = 400, description = "Invalid metric, range, period or statistic, naming it", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Not a member of a tenant", body = ErrorBody),
        (status = 404, description = "Instance not found", body = ErrorBody),
        (status = 502, description = "AWS refused or failed", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn instance_metric_by_id(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<MetricParams>,
) -> ApiResult<Json<MetricView>> {
    let ctx = caller.in_tenant(&state, Role::Readonly, "instance.metrics").await?;
    let target = locate(&state, &ctx, &id).await?;
    metric(&state, &ctx, &target, &q).await
}
