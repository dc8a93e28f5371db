//! Cairn's HTTP surface: the `/api/v1` routers, platform endpoints, the OpenID Connect
//! provider and its hosted pages, the web UI and the static files its pages link, the caller extractor,
//! the one error type, request context (ids, logs, metrics, timeouts) and the OpenAPI
//! description generated from the handlers. No SQL lives here.

pub mod api;
pub mod assets;
pub mod context;
pub mod error;
pub mod extract;
pub mod html;
pub mod metrics;
pub mod oidc;
pub mod query;
pub(crate) mod reports;
pub mod stream;
pub mod ui;

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use cairn_identity::{Identity, Tokens};
use cairn_store::Store;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{InfoBuilder, OpenApi};
use utoipa_axum::router::OpenApiRouter;

pub use context::WebConfig;
pub use error::{ApiError, ErrorCode};
pub use metrics::Metrics;

/// What every handler shares, behind one reference count: a request clones its state
/// several times on its way through the middleware and the router, and each clone is one
/// atomic increment.
#[derive(Debug, Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

#[derive(Debug)]
pub struct Shared {
    pub store: Store,
    pub tokens: Arc<Tokens>,
    pub identity: Arc<Identity>,
    pub metrics: Arc<Metrics>,
    /// The cloud-instances console's AWS client, cache and connections.
    pub cloud: Arc<cairn_instances::Cloud>,
    /// Where rendered reports are kept.
    pub reports: cairn_reports::objects::Objects,
    /// Set when shutdown begins: readiness turns false.
    pub draining: Arc<AtomicBool>,
    pub config: Arc<WebConfig>,
    /// Bounds how many 401s each client address may add to the platform trail per minute.
    pub rejections: Arc<extract::RejectionLimiter>,
    /// Wakes event workers and live streams after a commit.
    pub bus: cairn_events::Bus,
    /// `host[:port]` of the public URL when it names this machine (see
    /// [`context::canonical_host`]), parsed once.
    pub(crate) loopback_public_host: Option<String>,
    openapi: OnceLock<serde_json::Value>,
}

impl AppState {
    pub fn new(
        identity: Identity,
        config: WebConfig,
        cloud: Arc<cairn_instances::Cloud>,
        reports: cairn_reports::objects::Objects,
    ) -> Self {
        Self(Arc::new(Shared {
            // One bus for the process: the revocation epochs announce and hear changes on it.
            bus: identity.tokens.revocations().bus().clone(),
            store: identity.store.clone(),
            tokens: identity.tokens.clone(),
            identity: Arc::new(identity),
            metrics: Arc::new(Metrics::default()),
            cloud,
            reports,
            draining: Arc::new(AtomicBool::new(false)),
            loopback_public_host: context::loopback_host_of(&config.public_url),
            config: Arc::new(config),
            rejections: Arc::default(),
            openapi: OnceLock::new(),
        }))
    }

    /// The OpenAPI document, once [`app`] has built the routes.
    pub fn openapi(&self) -> &serde_json::Value {
        self.openapi.get().unwrap_or(&serde_json::Value::Null)
    }
}

/// Every route, with the OpenAPI description gathered from the same registrations, so a
/// route cannot exist undocumented.
pub fn routes() -> (Router<AppState>, OpenApi) {
    OpenApiRouter::new()
        .merge(api::platform::router())
        .merge(api::audit::router())
        .merge(api::numbers::router())
        .merge(api::tenants::router())
        .merge(api::users::router())
        .merge(api::caller::router())
        .merge(api::clients::router())
        .merge(api::sso::router())
        .merge(api::records::router())
        .merge(api::webhooks::router())
        .merge(api::events::router())
        .merge(api::metrics::router())
        .merge(api::figures::router())
        .merge(api::sources::router())
        .merge(api::instances::router())
        .merge(api::reports::router())
        .split_for_parts()
}

/// The OpenAPI document served at `/api/openapi.json`: the registrations' description plus
/// what they cannot say (title, version, the bearer scheme).
fn describe(mut doc: OpenApi) -> OpenApi {
    doc.info = InfoBuilder::new()
        .title("Cairn API")
        .version(env!("CARGO_PKG_VERSION"))
        .description(Some(
            "Multi-tenant platform API. Errors share one body: {\"error\":{\"code\",\"message\",\"request_id\"}}.",
        ))
        .build();
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
    );
    doc
}

/// What holds for every operation, stated in each one's description, where utoipa has no
/// words for it: a query parameter given empty counts as absent (`ApiQuery`), and a body
/// over the limit (`body_limit`) is refused with 413 before it is read.
fn state_what_every_operation_shares(doc: &mut serde_json::Value) {
    let Some(paths) = doc.get_mut("paths").and_then(|p| p.as_object_mut()) else { return };
    for operation in paths.values_mut().filter_map(|p| p.as_object_mut()).flat_map(|p| p.values_mut()) {
        if let Some(parameters) = operation.get_mut("parameters").and_then(|p| p.as_array_mut()) {
            for parameter in parameters.iter_mut().filter(|p| p["in"] == "query") {
                parameter["allowEmptyValue"] = serde_json::Value::Bool(true);
            }
        }
        if operation.get("requestBody").is_some()
            && let Some(responses) = operation.get_mut("responses").and_then(|r| r.as_object_mut())
        {
            responses.entry("413").or_insert_with(|| {
                serde_json::json!({
                    "description": "The body is larger than the server's limit (`body_limit`)",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
                })
            });
        }
    }
}

/// The application: routes, error fallbacks, body limit and request context.
pub fn app(state: AppState) -> Router {
    let (router, doc) = routes();
    // The same routes give the same document, so a second `app` over this state keeps the first.
    let mut doc = serde_json::to_value(describe(doc)).expect("OpenAPI serialises");
    state_what_every_operation_shares(&mut doc);
    let _ = state.openapi.set(doc);
    // The provider and the pages speak OAuth and HTML, not the API: outside the OpenAPI document.
    let pages = router
        .merge(oidc::router())
        .merge(ui::router())
        .merge(assets::router())
        .layer(axum::middleware::from_fn_with_state(state.clone(), context::canonical_host));
    finish(pages, state)
}

/// The probes only (`/healthz`, `/readyz`, `/metrics`), for processes that serve no API.
pub fn probes_app(state: AppState) -> Router {
    let (router, _) = api::platform::probes().split_for_parts();
    finish(router, state)
}

/// The metrics listener (`metrics_listen`): `/metrics` and nothing else.
pub fn metrics_app(state: AppState) -> Router {
    finish(metrics::listener_routes(), state)
}

fn finish(router: Router<AppState>, state: AppState) -> Router {
    router
        .fallback(|| async { ApiError::not_found("no such route") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(ErrorCode::MethodNotAllowed, "method not allowed on this route")
        })
        .layer(DefaultBodyLimit::max(state.config.body_limit))
        .layer(axum::middleware::from_fn_with_state(state.clone(), context::request_context))
        .with_state(state)
}
