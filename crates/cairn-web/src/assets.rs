//! The static files every page links, the provider's hosted pages and the web UI's alike:
//! the stylesheet, the script every page loads (times in the viewer's zone, copy buttons, live
//! blocks such as a running collector run's progress) and the records list's live-update
//! script.

use axum::Router;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/static/cairn.css", get(stylesheet))
        .route("/static/cairn.js", get(page_script))
        .route("/static/live.js", get(live_script))
}

async fn page_script() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=3600")],
        include_str!("../static/cairn.js"),
    )
        .into_response()
}

async fn live_script() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=3600")],
        include_str!("../static/live.js"),
    )
        .into_response()
}

async fn stylesheet() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=3600")],
        include_str!("../static/cairn.css"),
    )
        .into_response()
}
