//! The numbers store over HTTP: `member` writes, `readonly` reads, `admin` deletes.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use cairn_domain::{Role, ValidationError};
use cairn_numbers::{Cursor, NumberId, NumberItem, NumberValue, NumbersService, PageLimit};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Page, PageParams, UuidPageParams, UuidText, serialize_number, serialize_opt_number};
use crate::AppState;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{ApiJson, ApiQuery, Caller};
use cairn_domain::rfc3339;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_number, list_numbers))
        .routes(routes!(number_stats))
        .routes(routes!(get_number, delete_number))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateNumber {
    /// A finite number within ±1e15.
    #[schema(minimum = -1e15, maximum = 1e15)]
    pub value: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Number {
    pub id: String,
    #[serde(serialize_with = "serialize_number")]
    pub value: f64,
    /// RFC 3339, UTC.
    pub created_at: String,
    /// The subject of the token that stored it.
    pub created_by: String,
}

impl From<NumberItem> for Number {
    fn from(n: NumberItem) -> Self {
        Self { id: n.id, value: n.value, created_at: rfc3339(n.created_at), created_by: n.created_by }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NumberStats {
    pub count: i64,
    #[serde(serialize_with = "serialize_number")]
    pub sum: f64,
    #[serde(serialize_with = "serialize_opt_number")]
    pub min: Option<f64>,
    #[serde(serialize_with = "serialize_opt_number")]
    pub max: Option<f64>,
    #[serde(serialize_with = "serialize_opt_number")]
    pub mean: Option<f64>,
}

/// The body is read as raw JSON so that a string, bool or null `value` is reported as a
/// validation error naming the field rather than as a decoding failure.
fn parse_create(body: &serde_json::Value) -> Result<NumberValue, ValidationError> {
    let obj = body.as_object().ok_or_else(|| ValidationError::new("body", "must be a JSON object"))?;
    let value = obj.get("value").ok_or_else(|| ValidationError::new("value", "is required"))?;
    let n = value
        .as_f64()
        .filter(|_| value.is_number())
        .ok_or_else(|| ValidationError::new("value", "must be a number"))?;
    NumberValue::parse(n)
}

/// Store a number.
#[utoipa::path(post, path = "/api/v1/numbers", tag = "numbers",
    request_body = CreateNumber,
    responses(
        (status = 201, description = "Stored", body = Number),
        (status = 400, description = "Invalid body", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Requires member", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn create_number(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<serde_json::Value>,
) -> ApiResult<(StatusCode, Json<Number>)> {
    let ctx = caller.in_tenant(&state, Role::Member, "number.create").await?;
    let value = parse_create(&body)?;
    let item = NumbersService::create(&ctx.db, value, &ctx.actor(), &ctx.meta).await?;
    Ok((StatusCode::CREATED, Json(item.into())))
}

/// List numbers, newest first.
#[utoipa::path(get, path = "/api/v1/numbers", tag = "numbers",
    params(UuidPageParams),
    responses(
        (status = 200, description = "A page of numbers", body = Page<Number>),
        (status = 400, description = "Invalid limit or cursor", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Requires readonly", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn list_numbers(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(params): ApiQuery<PageParams>,
) -> ApiResult<Json<Page<Number>>> {
    let ctx = caller.in_tenant(&state, Role::Readonly, "number.list").await?;
    let limit = PageLimit::parse(Some(params.limit()?))?;
    let cursor = params.cursor.as_deref().map(Cursor::parse).transpose()?;
    let page = NumbersService::list(&ctx.db, limit, cursor.as_ref()).await?;
    Ok(Json(Page {
        items: page.items.into_iter().map(Number::from).collect(),
        next_cursor: page.next_cursor.map(|c| c.encode()),
    }))
}

/// Count, sum, min, max and mean of the tenant's numbers.
#[utoipa::path(get, path = "/api/v1/numbers/stats", tag = "numbers",
    responses(
        (status = 200, description = "Statistics; min, max and mean are null when empty", body = NumberStats),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Requires readonly", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn number_stats(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<NumberStats>> {
    let ctx = caller.in_tenant(&state, Role::Readonly, "number.stats").await?;
    let s = NumbersService::stats(&ctx.db).await?;
    Ok(Json(NumberStats { count: s.count, sum: s.sum, min: s.min, max: s.max, mean: s.mean }))
}

/// One number.
#[utoipa::path(get, path = "/api/v1/numbers/{id}", tag = "numbers",
    params(("id" = UuidText, Path, description = "Number id")),
    responses(
        (status = 200, description = "The number", body = Number),
        (status = 400, description = "Malformed id", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Requires readonly", body = ErrorBody),
        (status = 404, description = "No such number in this tenant", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn get_number(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<Json<Number>> {
    let ctx = caller.in_tenant(&state, Role::Readonly, "number.read").await?;
    let id = NumberId::parse(&id)?;
    Ok(Json(NumbersService::get(&ctx.db, id).await?.into()))
}

/// Delete a number.
#[utoipa::path(delete, path = "/api/v1/numbers/{id}", tag = "numbers",
    params(("id" = UuidText, Path, description = "Number id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "Malformed id", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Requires admin", body = ErrorBody),
        (status = 404, description = "No such number in this tenant", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn delete_number(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<StatusCode> {
    let ctx = caller.in_tenant(&state, Role::Admin, "number.delete").await?;
    let id = NumberId::parse(&id)?;
    NumbersService::delete(&ctx.db, id, &ctx.actor(), &ctx.meta).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn create_body_validation_names_the_field() {
        assert_eq!(parse_create(&json!({"value": 42})).unwrap().get(), 42.0);
        assert_eq!(parse_create(&json!({"value": 3.25})).unwrap().get(), 3.25);
        for bad in
            [json!({}), json!({"value": "1"}), json!({"value": true}), json!({"value": null}), json!({"value": 2e15})]
        {
            assert_eq!(parse_create(&bad).unwrap_err().field, "value", "{bad}");
        }
        assert_eq!(parse_create(&json!([1])).unwrap_err().field, "body");
    }
}
