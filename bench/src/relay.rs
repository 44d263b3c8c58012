//! The relay: the floor of any separate host.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Result;
use futures::FutureExt as _;
use serde_json::{Value, json};

use crate::common::Path;

/// The floor of any host: an HTTP server on loopback that takes the portal's JSON body, parses
/// it, makes the direct path's call (native mapping, one partner exchange) and answers JSON.
/// What panelgate adds over this is the sandbox, the store, and its checks.
pub(crate) async fn relay(direct: Path, listen: &str) -> Result<String> {
    use axum::extract::State;
    let counter = Arc::new(AtomicU64::new(50_000_000));
    let router = axum::Router::new()
        .route(
            "/relay",
            axum::routing::post(
                |State((direct, counter)): State<(Path, Arc<AtomicU64>)>,
                 axum::Json(body): axum::Json<Value>| {
                    async move {
                        anyhow::ensure!(body.is_object(), "not a JSON object");
                        direct(counter.fetch_add(1, Ordering::Relaxed)).await?;
                        anyhow::Ok(())
                    }
                    .map(|done| match done {
                        Ok(()) => (axum::http::StatusCode::OK, axum::Json(json!({ "result": "ok" }))),
                        Err(e) => (
                            axum::http::StatusCode::BAD_GATEWAY,
                            axum::Json(json!({ "error": e.to_string() })),
                        ),
                    })
                },
            ),
        )
        .with_state((direct, counter));
    // Its listener bound as the host's is.
    let listener = panelgate::listen(listen).await?;
    let url = format!("http://{}/relay", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, router).await });
    Ok(url)
}
