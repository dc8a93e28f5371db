//! Extractors: the verified caller, and JSON/query parsing whose failures use the API's
//! error body.

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use cairn_audit::{Action, Actor, AuditService, NewEntry, Outcome, RequestMeta};
use cairn_domain::{Member, Operator, Principal, Role, TenantRef, ValidationError};
use cairn_store::Db;
use serde::de::DeserializeOwned;
use serde_json::json;
use serde_path_to_error::Segment;

use crate::AppState;
use crate::error::{ApiError, ErrorCode};

/// A caller whose bearer token verified, and where the request came from. Every API route
/// but the public ones takes this.
#[derive(Debug, Clone)]
pub struct Caller {
    pub principal: Principal,
    pub meta: RequestMeta,
}

/// The client address (the socket peer, or with `trust_proxy_headers` the address the
/// nearest proxy appended to `X-Forwarded-For`), user agent and request id.
pub fn request_meta(parts: &Parts, trust_proxy_headers: bool) -> RequestMeta {
    let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0);
    meta_from(&parts.headers, peer, trust_proxy_headers)
}

/// As [`request_meta`], from the headers and the socket peer.
fn meta_from(headers: &axum::http::HeaderMap, peer: Option<SocketAddr>, trust_proxy_headers: bool) -> RequestMeta {
    let forwarded = trust_proxy_headers
        .then(|| headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()))
        .flatten()
        .and_then(|v| v.rsplit(',').next())
        .map(str::trim)
        .filter(|v| v.parse::<std::net::IpAddr>().is_ok())
        .map(str::to_owned);
    let peer = peer.map(|p| p.ip().to_string());
    let user_agent = headers
        .get(axum::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.chars().take(512).collect());
    RequestMeta {
        ip: forwarded.or(peer),
        user_agent,
        request_id: Some(crate::context::current_request_id()).filter(|id| id != "-"),
    }
}

/// Where a request came from, for routes without a bearer caller (sign-in, token).
#[derive(Debug, Clone)]
pub struct Meta(pub RequestMeta);

impl FromRequestParts<AppState> for Meta {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        Ok(Meta(request_meta(parts, state.config.trust_proxy_headers)))
    }
}

fn actor(p: &Principal) -> Actor {
    Actor { id: p.subject().to_owned(), email: p.email().map(str::to_owned) }
}

/// The audit actor of a tenant member.
pub(crate) fn member_actor(m: &Member) -> Actor {
    Actor { id: m.subject.clone(), email: m.email.clone() }
}

/// Records `access.denied` by `actor` in `db`'s trail before the 403 goes out (the web
/// UI's refusals too). A failure to record is logged and the denial still stands.
pub(crate) async fn record_denial(db: &Db, actor: Actor, meta: &RequestMeta, attempted: &str, reason: &str) {
    record_denial_at(db, actor, meta, attempted, reason, None).await
}

/// As [`record_denial`], with the request's own `path` (a page's route names no instance,
/// its path does).
pub(crate) async fn record_denial_at(
    db: &Db,
    actor: Actor,
    meta: &RequestMeta,
    attempted: &str,
    reason: &str,
    path: Option<&str>,
) {
    let mut details = json!({ "attempted": attempted, "reason": reason });
    if let Some(path) = path {
        details["path"] = json!(path);
    }
    let entry = NewEntry::new(actor, Action::fixed("access.denied"), Outcome::Denied, meta.clone()).details(details);
    if let Err(e) = AuditService::record_now(db, entry).await {
        tracing::error!(error = %e, "could not record a denial");
    }
}

/// Records a 401 in the platform trail (no tenant can be trusted from a token that failed
/// verification), at most [`RejectionLimiter::PER_MINUTE`] per client address and minute so
/// a flood of bad tokens cannot flood the trail.
async fn record_rejection(state: &AppState, meta: &RequestMeta, reason: &str, message: &str) {
    let address = meta.ip.clone().unwrap_or_else(|| "-".into());
    let Some(count) = state.rejections.allow(&address, cairn_domain::now_ms()) else { return };
    let mut details = json!({ "reason": reason, "answer": message });
    if count == RejectionLimiter::PER_MINUTE {
        details["further_rejections_this_minute"] = json!("not recorded");
    }
    let anonymous = Actor { id: "anonymous".into(), email: None };
    let entry =
        NewEntry::new(anonymous, Action::fixed("auth.token_rejected"), Outcome::Denied, meta.clone()).details(details);
    if let Err(e) = AuditService::record_now(state.store.control(), entry).await {
        tracing::error!(error = %e, "could not record a rejected token");
    }
}

/// Counts rejected requests per client address and minute, in this process.
#[derive(Debug, Default)]
pub struct RejectionLimiter {
    seen: std::sync::Mutex<std::collections::HashMap<String, (i64, u32)>>,
}

impl RejectionLimiter {
    pub const PER_MINUTE: u32 = 10;
    const MAX_ADDRESSES: usize = 10_000;

    /// The rejection's number this minute for `address`, or `None` past the limit.
    pub fn allow(&self, address: &str, now_ms: i64) -> Option<u32> {
        let minute = now_ms / 60_000;
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if seen.len() >= Self::MAX_ADDRESSES {
            seen.retain(|_, (m, _)| *m == minute);
        }
        let entry = seen.entry(address.to_owned()).or_insert((minute, 0));
        if entry.0 != minute {
            *entry = (minute, 0);
        }
        entry.1 += 1;
        (entry.1 <= Self::PER_MINUTE).then_some(entry.1)
    }
}

/// The token of an `Authorization: Bearer <token>` header: `None` when the header is
/// missing, `Some(Err(()))` when it is not a bearer token.
pub fn bearer(headers: &axum::http::HeaderMap) -> Option<Result<&str, ()>> {
    let header = headers.get(axum::http::header::AUTHORIZATION)?;
    Some(
        header
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("bearer ")))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(()),
    )
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let meta = request_meta(parts, state.config.trust_proxy_headers);
        let token = match bearer(&parts.headers) {
            None => Err(("missing", "missing bearer token")),
            Some(Err(())) => Err(("malformed header", "authorization header must be 'Bearer <token>'")),
            Some(Ok(t)) => Ok(t),
        };
        let token = match token {
            Ok(t) => t,
            Err((reason, message)) => {
                record_rejection(state, &meta, reason, message).await;
                return Err(ApiError::unauthorized(message));
            }
        };
        let principal = match state.tokens.verify_access(token).await {
            Ok(p) => p,
            Err(cairn_identity::TokenError::Unavailable(cause)) => {
                tracing::error!(error = %cause, "cannot check a token's revocation");
                return Err(ApiError::unavailable("cannot check the token now; try again", 5));
            }
            Err(e) => {
                // Which check failed (issuer, audience, expiry, signature, …) helps the
                // caller and reveals nothing a token's holder could not read in it.
                tracing::info!(reason = %e, "bearer token rejected");
                let message = e.to_string();
                record_rejection(state, &meta, &message, &message).await;
                return Err(ApiError::unauthorized(message));
            }
        };
        crate::context::note_caller(principal.tenant().map(|t| t.slug.as_str()), principal.subject());
        Ok(Caller { principal, meta })
    }
}

/// A tenant member holding at least the role a route requires, with the tenant's
/// database: what a tenant route's handler works with. The tenant is the member's, named
/// by the token.
#[derive(Debug)]
pub struct TenantCtx {
    pub member: Member,
    pub db: Db,
    pub meta: RequestMeta,
}

impl TenantCtx {
    pub fn actor(&self) -> Actor {
        member_actor(&self.member)
    }

    /// The tenant the request acts in.
    pub fn tenant(&self) -> &TenantRef {
        &self.member.tenant
    }
}

/// A platform operator, with the control database (where the platform audit lives).
#[derive(Debug)]
pub struct OperatorCtx {
    pub operator: Operator,
    pub meta: RequestMeta,
}

impl OperatorCtx {
    pub fn actor(&self) -> Actor {
        Actor { id: self.operator.subject.clone(), email: None }
    }

    /// Records an operator action in the platform audit.
    pub async fn record(
        &self,
        state: &AppState,
        entry: impl FnOnce(Actor, RequestMeta) -> NewEntry,
    ) -> Result<(), ApiError> {
        AuditService::record_now(state.store.control(), entry(self.actor(), self.meta.clone()))
            .await
            .map(drop)
            .map_err(ApiError::from)
    }
}

/// The database of the tenant a token names; a tenant deleted since the token was issued
/// makes the token useless.
async fn tenant_db(state: &AppState, tenant: &TenantRef) -> Result<Db, ApiError> {
    state.store.tenant_db(tenant.id).await.map_err(|e| match e {
        cairn_store::StoreError::TenantNotFound(_) => ApiError::unauthorized("the token's tenant no longer exists"),
        other => other.into(),
    })
}

impl Caller {
    /// Requires a tenant member with a role that includes `required` for the permission
    /// `attempted` (e.g. `number.delete`); opens the tenant's database, named by the token,
    /// never by the request. A denial is audited before the 403: an operator's in the
    /// platform trail, a member's in the tenant's.
    pub async fn in_tenant(self, state: &AppState, required: Role, attempted: &str) -> Result<TenantCtx, ApiError> {
        let Caller { principal, meta } = self;
        let member = match principal {
            Principal::Member(member) => member,
            operator @ Principal::Operator(_) => {
                let reason = "operator tokens act on the platform, not inside a tenant";
                record_denial(state.store.control(), actor(&operator), &meta, attempted, reason).await;
                return Err(ApiError::forbidden(reason));
            }
        };
        let db = tenant_db(state, &member.tenant).await?;
        if !member.has_role(required) {
            let reason = format!("requires the {required} role");
            tracing::info!(attempted, reason, "access denied");
            record_denial(&db, member_actor(&member), &meta, attempted, &reason).await;
            return Err(ApiError::forbidden(reason));
        }
        Ok(TenantCtx { member, db, meta })
    }

    /// Requires a platform operator token for `attempted`. A member's denial is audited in
    /// its tenant.
    pub async fn operator(self, state: &AppState, attempted: &str) -> Result<OperatorCtx, ApiError> {
        let Caller { principal, meta } = self;
        match principal {
            Principal::Operator(operator) => Ok(OperatorCtx { operator, meta }),
            Principal::Member(member) => {
                let reason = "requires a platform operator token";
                tracing::info!(attempted, reason, "access denied");
                let db = tenant_db(state, &member.tenant).await?;
                record_denial(&db, member_actor(&member), &meta, attempted, reason).await;
                Err(ApiError::forbidden(reason))
            }
        }
    }
}

/// A JSON body whose rejections are API errors that name the field at fault and say, in
/// plain words, what it must be.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned + Send> FromRequest<AppState> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        Ok(ApiJson(parse_json(&json_body(req, state).await?)?))
    }
}

/// The bytes of a JSON body, sent as JSON and within the body limit.
async fn json_body(req: Request, state: &AppState) -> Result<Bytes, ApiError> {
    if !json_content_type(req.headers()) {
        return Err(ValidationError::new("body", "must be JSON, sent with content-type: application/json").into());
    }
    match Bytes::from_request(req, state).await {
        Ok(b) => Ok(b),
        Err(e) if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => {
            Err(ApiError::new(ErrorCode::PayloadTooLarge, "request body is too large"))
        }
        Err(_) => Err(ValidationError::new("body", "could not be read").into()),
    }
}

/// A JSON body as `T`, or the field at fault and what it must be. Every body is an object:
/// serde would read a struct from an array too.
fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ValidationError> {
    let not_json = || ValidationError::new("body", "is not valid JSON");
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(match serde_json::from_slice::<serde::de::IgnoredAny>(body) {
            Ok(_) => ValidationError::new("body", "must be an object"),
            Err(_) => not_json(),
        });
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = match serde_path_to_error::deserialize(&mut de) {
        Ok(v) => v,
        Err(e) if e.inner().is_data() => return Err(in_plain_words("body", e.path(), &json_message(e.inner()))),
        // serde_json reports a number or an array where a (unit) enum's name belongs as a
        // syntax error, though the body is JSON.
        Err(e) if serde_json::from_slice::<serde::de::IgnoredAny>(body).is_ok() => {
            return Err(ValidationError::new(field_at("body", e.path()), "must be a string"));
        }
        Err(_) => return Err(not_json()),
    };
    // Nothing but whitespace may follow the value.
    de.end().map_err(|_| not_json())?;
    Ok(value)
}

/// An optional body (`Option<ApiJson<T>>`): absent when the request has no content type, an
/// empty body or the body `null`, so `POST` without a body works where every field is
/// optional.
impl<T: DeserializeOwned + Send> axum::extract::OptionalFromRequest<AppState> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Option<Self>, Self::Rejection> {
        let headers = req.headers();
        let empty = headers.get(axum::http::header::CONTENT_LENGTH).is_some_and(|v| v.as_bytes() == b"0");
        if empty || !headers.contains_key(axum::http::header::CONTENT_TYPE) {
            return Ok(None);
        }
        let body = json_body(req, state).await?;
        if body.trim_ascii().is_empty() || body.trim_ascii() == b"null" {
            return Ok(None);
        }
        Ok(Some(ApiJson(parse_json(&body)?)))
    }
}

/// `application/json`, or any `application/<x>+json`, parameters aside.
fn json_content_type(headers: &axum::http::HeaderMap) -> bool {
    let Some(value) = headers.get(axum::http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// serde_json's message without the " at line 1 column 9" it appends.
fn json_message(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rsplit_once(" at line ") {
        Some((message, at))
            if at.split_once(" column ").is_some_and(|(l, c)| {
                l.bytes().all(|b| b.is_ascii_digit()) && c.bytes().all(|b| b.is_ascii_digit())
            }) =>
        {
            message.to_owned()
        }
        _ => text,
    }
}

/// A query string whose rejections are API errors that name the parameter at fault and say
/// what it must be. An empty value (`?cursor=`) counts as absent.
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(ApiQuery(parse_query(parts.uri.query().unwrap_or_default())?))
    }
}

/// A query string as `T`, or the parameter at fault and what it must be.
fn parse_query<T: DeserializeOwned>(query: &str) -> Result<T, ValidationError> {
    let de = serde_html_form::Deserializer::from_bytes(query.as_bytes());
    serde_path_to_error::deserialize(de).map_err(|e| in_plain_words("query", e.path(), &e.inner().to_string()))
}

/// The field a deserializer's complaint is about, and what it means in plain words. `root`
/// names the whole input (`body`, `query`). Serde's own messages (`unknown variant`,
/// `invalid type`, `missing field`, …) are turned into words; any other message is Cairn's
/// own (a type's `Deserialize` that explains itself) and is kept.
fn in_plain_words(root: &str, path: &serde_path_to_error::Path, message: &str) -> ValidationError {
    let at = field_at("", path);
    let here = if at.is_empty() { root.to_owned() } else { at.clone() };
    let inside = |name: &str| if at.is_empty() { name.to_owned() } else { format!("{at}.{name}") };
    // The names serde quotes after "expected": `a`, `a` or `b`, one of `a`, `b`, `c`.
    let quoted = |list: &str| list.split('`').skip(1).step_by(2).map(str::to_owned).collect::<Vec<_>>();
    let first_quoted = |rest: &str| rest.split('`').next().unwrap_or_default().to_owned();

    if let Some(rest) = message.strip_prefix("missing field `") {
        return ValidationError::new(inside(&first_quoted(rest)), "is required");
    }
    if let Some(rest) = message.strip_prefix("duplicate field `") {
        return ValidationError::new(inside(&first_quoted(rest)), "is given more than once");
    }
    if let Some(rest) = message.strip_prefix("unknown field `") {
        // The path already ends at the unknown key.
        let inside = |name: &str| match path.iter().next_back() {
            Some(Segment::Map { key }) if key == name => here.clone(),
            _ => inside(name),
        };
        // The list of known names comes from Cairn's types; the unknown one is the caller's,
        // so it is read up to the last "`, expected".
        return match rest.rsplit_once("`, expected ") {
            Some((name, known)) => {
                ValidationError::new(inside(name), format!("unknown field; known: {}", quoted(known).join(", ")))
            }
            None => ValidationError::new(
                inside(rest.rsplit_once("`, there are no fields").map_or(rest, |(n, _)| n)),
                "unknown field",
            ),
        };
    }
    if message.starts_with("unknown variant `") {
        return match message.rsplit_once("`, expected ") {
            Some((_, allowed)) => ValidationError::new(here, format!("must be one of: {}", quoted(allowed).join(", "))),
            None => ValidationError::new(here, "is not an allowed value"),
        };
    }
    for prefix in ["invalid type: ", "invalid value: ", "invalid length "] {
        if message.starts_with(prefix)
            && let Some((_, expected)) = message.rsplit_once(", expected ")
        {
            return ValidationError::new(here, format!("must be {}", expectation(expected)));
        }
    }
    // What `str::parse` says of a query parameter that is not a number or a boolean.
    let parse_failures = [
        ("invalid digit found in string", "a whole number"),
        ("cannot parse integer from empty string", "a whole number"),
        ("number too large to fit in target type", "a smaller whole number"),
        ("number too small to fit in target type", "a larger whole number"),
        ("invalid float literal", "a number"),
        ("cannot parse float from empty string", "a number"),
        ("provided string was not `true` or `false`", "true or false"),
    ];
    if let Some((_, what)) = parse_failures.iter().find(|(m, _)| *m == message) {
        return ValidationError::new(here, format!("must be {what}"));
    }
    ValidationError::new(here, message)
}

/// A path as the API names fields (`roles[0]`, `address.lines`), or `root` for the whole.
fn field_at(root: &str, path: &serde_path_to_error::Path) -> String {
    let mut at = String::new();
    for segment in path {
        match segment {
            Segment::Seq { index } => at.push_str(&format!("[{index}]")),
            Segment::Map { key } if at.is_empty() => at.push_str(key),
            Segment::Map { key } => at.push_str(&format!(".{key}")),
            Segment::Enum { .. } | Segment::Unknown => {}
        }
    }
    if at.is_empty() { root.to_owned() } else { at }
}

/// What serde's "expected …" means for a JSON or query value.
fn expectation(expected: &str) -> String {
    let range = |min: i128, max: i128| format!("a whole number from {min} to {max}");
    match expected {
        "a string" | "a borrowed string" | "a character" => "a string".into(),
        "a boolean" => "true or false".into(),
        "i8" => range(i8::MIN.into(), i8::MAX.into()),
        "i16" => range(i16::MIN.into(), i16::MAX.into()),
        "i32" => range(i32::MIN.into(), i32::MAX.into()),
        "u8" => range(0, u8::MAX.into()),
        "u16" => range(0, u16::MAX.into()),
        "u32" => range(0, u32::MAX.into()),
        "i64" | "isize" | "i128" => "a whole number".into(),
        "u64" | "usize" | "u128" => "a whole number, 0 or more".into(),
        "f32" | "f64" => "a number".into(),
        e if e.starts_with("a sequence") || e.starts_with("a tuple") => "an array".into(),
        e if e == "a map" || e.starts_with("struct ") => "an object".into(),
        // A unit-only enum is written as its name.
        e if e.starts_with("enum ") => "a string".into(),
        other => other.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::{RejectionLimiter, parse_json, parse_query};
    use cairn_domain::{Role, ValidationError};
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Member {
        email: String,
        #[serde(default)]
        roles: Vec<Role>,
        ttl_secs: Option<u32>,
        active: Option<bool>,
        address: Option<Address>,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Address {
        lines: Vec<String>,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Params {
        limit: Option<i64>,
        cursor: Option<String>,
        verbose: Option<bool>,
    }

    fn body(text: &str) -> (String, String) {
        let e: ValidationError = parse_json::<Member>(text.as_bytes()).unwrap_err();
        (e.field, e.message)
    }

    fn query(text: &str) -> (String, String) {
        let e: ValidationError = parse_query::<Params>(text).unwrap_err();
        (e.field, e.message)
    }

    #[test]
    fn body_errors_name_the_field_and_say_what_is_allowed() {
        let cases = [
            (r#"{"email": "a@b.c", "roles": ["owner"]}"#, "roles[0]", "must be one of: readonly, member, admin"),
            (r#"{"email": "a@b.c", "roles": ["member", 7]}"#, "roles[1]", "must be a string"),
            (r#"{"email": 1}"#, "email", "must be a string"),
            (r#"{"email": null}"#, "email", "must be a string"),
            (r#"{"email": "a@b.c", "roles": "admin"}"#, "roles", "must be an array"),
            (r#"{"email": "a@b.c", "ttl_secs": -1}"#, "ttl_secs", "must be a whole number from 0 to 4294967295"),
            (r#"{"email": "a@b.c", "ttl_secs": 1.5}"#, "ttl_secs", "must be a whole number from 0 to 4294967295"),
            (r#"{"email": "a@b.c", "active": "yes"}"#, "active", "must be true or false"),
            (r#"{"email": "a@b.c", "address": {"lines": [1]}}"#, "address.lines[0]", "must be a string"),
            (r#"{"email": "a@b.c", "address": []}"#, "address", "must be an object"),
            (r#"{"roles": []}"#, "email", "is required"),
            (r#"{"email": "a@b.c", "address": {}}"#, "address.lines", "is required"),
            (r#"{"email": "a@b.c", "email": "d@e.f"}"#, "email", "is given more than once"),
            (
                r#"{"email": "a@b.c", "nickname": "x"}"#,
                "nickname",
                "unknown field; known: email, roles, ttl_secs, active, address",
            ),
            (r#""a@b.c""#, "body", "must be an object"),
            ("7", "body", "must be an object"),
            // serde reads a struct from an array; the API does not.
            (r#"["a@b.c", []]"#, "body", "must be an object"),
            ("[null, null]", "body", "must be an object"),
            ("null", "body", "must be an object"),
            (r#"{"email": "a@b.c""#, "body", "is not valid JSON"),
            (r#"{"email": "a@b.c"} {}"#, "body", "is not valid JSON"),
            ("", "body", "is not valid JSON"),
            ("{email: 1}", "body", "is not valid JSON"),
        ];
        for (text, field, message) in cases {
            assert_eq!(body(text), (field.to_owned(), message.to_owned()), "{text}");
        }
        // What the caller sent is not repeated, whatever it holds.
        let (field, message) = body(r#"{"email": "a@b.c", "roles": ["x`, expected `root"]}"#);
        assert_eq!((field.as_str(), message.as_str()), ("roles[0]", "must be one of: readonly, member, admin"));
        assert!(parse_json::<Member>(br#"{"email": "a@b.c", "roles": ["admin"]}"#).is_ok());
    }

    #[test]
    fn query_errors_name_the_parameter() {
        assert_eq!(query("limit=ten"), ("limit".into(), "must be a whole number".into()));
        assert_eq!(query("limit=1.5"), ("limit".into(), "must be a whole number".into()));
        assert_eq!(query("limit=99999999999999999999"), ("limit".into(), "must be a smaller whole number".into()));
        assert_eq!(query("cursor=x&verbose=maybe"), ("verbose".into(), "must be true or false".into()));
        let ok: Params = parse_query("limit=5&cursor=abc&other=ignored").unwrap();
        assert_eq!((ok.limit, ok.cursor.as_deref()), (Some(5), Some("abc")));
        let empty: Params = parse_query("limit=&cursor=").unwrap();
        assert_eq!((empty.limit, empty.cursor), (None, None), "an empty value is absent");
    }

    #[test]
    fn rejections_are_recorded_at_most_ten_a_minute_per_address() {
        let limiter = RejectionLimiter::default();
        let minute = 60_000 * 1000;
        let counts: Vec<_> = (0..12).map(|i| limiter.allow("10.0.0.1", minute + i)).collect();
        assert_eq!(counts[..10], (1..=10).map(Some).collect::<Vec<_>>()[..]);
        assert_eq!(counts[10..], [None, None]);
        assert_eq!(limiter.allow("10.0.0.2", minute), Some(1), "per address");
        assert_eq!(limiter.allow("10.0.0.1", minute + 60_000), Some(1), "a new minute starts over");
    }
}
