//! Prometheus metrics of the HTTP layer and the store.

use std::collections::HashSet;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, RwLock};
use std::time::Duration;

use cairn_events::DeliveryStats;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

type Labels = Vec<(&'static str, String)>;

/// A request's counter labels. Every value borrows a string that lives as long as the
/// process, so counting a request allocates nothing.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: &'static str,
    method: &'static str,
    status: u16,
}

/// A request's latency labels.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: &'static str,
    method: &'static str,
}

/// The route template as a `'static` string. Routes are the router's templates (and
/// `unmatched`), a set fixed at start, so each is copied once and kept.
fn route_label(route: &str) -> &'static str {
    static ROUTES: LazyLock<RwLock<HashSet<&'static str>>> = LazyLock::new(RwLock::default);
    if let Some(known) = ROUTES.read().unwrap_or_else(|e| e.into_inner()).get(route) {
        return known;
    }
    let mut routes = ROUTES.write().unwrap_or_else(|e| e.into_inner());
    match routes.get(route) {
        Some(known) => known,
        None => {
            let kept: &'static str = Box::leak(route.into());
            routes.insert(kept);
            kept
        }
    }
}

/// The method as a label: the standard ones by name, any other as `other`, so a client
/// inventing methods cannot grow the label set.
fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "other",
    }
}

#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    open_tenant_pools: Gauge<i64, AtomicI64>,
    migrations_pending: Gauge<i64, AtomicI64>,
    deliveries: Family<Labels, Counter>,
    /// What this process's event worker counts; `render` brings the counters up to it.
    pub delivery_stats: Arc<DeliveryStats>,
    synced: Mutex<()>,
}

fn latency_histogram() -> Histogram {
    // 1 ms … ~16 s
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(latency_histogram as fn() -> Histogram);
        let open_tenant_pools = Gauge::<i64, AtomicI64>::default();
        registry.register("cairn_http_requests", "HTTP requests by route, method and status", requests.clone());
        registry.register("cairn_http_request_duration_seconds", "HTTP request latency by route", latency.clone());
        registry.register("cairn_store_open_tenant_pools", "Tenant database pools open now", open_tenant_pools.clone());
        let migrations_pending = Gauge::<i64, AtomicI64>::default();
        registry.register(
            "cairn_store_tenant_migrations_pending",
            "Tenants the background migration sweep has still to check",
            migrations_pending.clone(),
        );
        let deliveries = Family::<Labels, Counter>::default();
        registry.register(
            "cairn_event_deliveries",
            "Event deliveries by outcome (delivered, retried, dead) in this process",
            deliveries.clone(),
        );
        Self {
            registry,
            requests,
            latency,
            open_tenant_pools,
            migrations_pending,
            deliveries,
            delivery_stats: Arc::default(),
            synced: Mutex::new(()),
        }
    }
}

impl Metrics {
    pub fn observe_request(&self, route: &str, method: &axum::http::Method, status: u16, elapsed: Duration) {
        let (route, method) = (route_label(route), method_label(method));
        self.requests.get_or_create(&RequestLabels { route, method, status }).inc();
        self.latency.get_or_create(&RouteLabels { route, method }).observe(elapsed.as_secs_f64());
    }

    /// The text exposition, with gauges read at call time.
    pub fn render(&self, store: &cairn_store::Store) -> String {
        self.open_tenant_pools.set(store.open_tenant_pools() as i64);
        self.migrations_pending.set(store.migrations_pending() as i64);
        {
            let _one_at_a_time = self.synced.lock().unwrap_or_else(|e| e.into_inner());
            let s = &self.delivery_stats;
            for (outcome, total) in [("delivered", &s.delivered), ("retried", &s.retried), ("dead", &s.dead)] {
                let counter = self.deliveries.get_or_create(&vec![("outcome", outcome.to_owned())]);
                counter.inc_by(total.load(Ordering::Relaxed).saturating_sub(counter.get()));
            }
        }
        let mut out = String::new();
        encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }
}

/// The metrics listener's one route (`/metrics`, answered by the same handler the main
/// listener documents, without its "token or nothing" rule).
pub(crate) fn listener_routes() -> axum::Router<crate::AppState> {
    axum::Router::new().route("/metrics", axum::routing::get(crate::api::platform::metrics_on_own_listener))
}
