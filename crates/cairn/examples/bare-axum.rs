//! The baseline of `bench/request-path`: one axum handler answering a small JSON body on
//! the same runtime Cairn uses (tokio's multi-threaded scheduler), with no middleware, so
//! the bench's ratios say what Cairn's request path costs beyond axum itself.
//!
//!   cargo run --release -p cairn --example bare-axum -- 127.0.0.1:9000

use axum::Json;
use axum::routing::get;
use serde_json::{Value, json};

async fn hello() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:9000".into());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, axum::Router::new().route("/", get(hello))).await
}
