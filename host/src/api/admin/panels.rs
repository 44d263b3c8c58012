//! `GET`, `PUT` and `DELETE /admin/panels/{panel}`: a panel's definition at run time
//! (see `core::panels`).

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::api::{ApiError, AppState};
use crate::config::PanelConfig;
use crate::core::panels::PanelRecord;

/// A panel's definition (secrets as references), its version, and the module this host
/// serves it with.
#[utoipa::path(get, path = "/admin/panels/{panel}", tag = "admin",
    params(("panel" = String, Path, description = "the panel's id")),
    responses((status = 200, body = PanelRecord), (status = 404, body = crate::api::error::ErrorBody)))]
pub async fn get_panel(
    State(state): State<Arc<AppState>>,
    Path(panel): Path<String>,
) -> Result<Response, ApiError> {
    Ok(Json(state.panel_view(&panel).await?).into_response())
}

/// Adds the panel, or changes it (a removed one comes back), with no restart: every host on
/// the store serves the new definition within a second. The body is the whole definition;
/// `adapter` is a registered adapter's name (its version serving now keeps serving; for a new
/// panel or another adapter, including one the panel was switched away from with
/// `PUT .../adapter`, the newest registered version) or `name@version`. Secrets are
/// references only: `{"env": "VAR"}` or `{"file": "/absolute/path"}` on the host; an inline
/// `{"value": ...}` is refused (422 naming the field). Everything is checked before anything
/// is written: each field, the adapter registered and its needs met, each credential
/// resolvable on this host. `201` when added, `200` when changed.
#[utoipa::path(put, path = "/admin/panels/{panel}", tag = "admin", request_body = PanelConfig,
    params(("panel" = String, Path, description = "the panel's id: letters, digits, `-` and `_`")),
    responses((status = 201, body = PanelRecord), (status = 200, body = PanelRecord),
        (status = 400, body = crate::api::error::ErrorBody), (status = 422, body = crate::api::error::ErrorBody)))]
pub async fn put_panel(
    State(state): State<Arc<AppState>>,
    Path(panel): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let definition: PanelConfig = crate::api::parse_json(&body)?;
    let (_, added) = state.put_panel(&panel, definition).await?;
    let status = if added {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(state.panel_view(&panel).await?)).into_response())
}

/// What a removal answers.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct PanelRemoved {
    pub panel: String,
    /// The panel's version that records its removal.
    pub version: i64,
}

/// Removes the panel from every host on the store: new operations on it are
/// `404 panel_not_found`; operations already running finish; its cases stay readable. `409`
/// while it has operations in doubt (settle them first).
#[utoipa::path(delete, path = "/admin/panels/{panel}", tag = "admin",
    params(("panel" = String, Path, description = "the panel's id")),
    responses((status = 200, body = PanelRemoved), (status = 404, body = crate::api::error::ErrorBody),
        (status = 409, body = crate::api::error::ErrorBody)))]
pub async fn delete_panel(
    State(state): State<Arc<AppState>>,
    Path(panel): Path<String>,
) -> Result<Response, ApiError> {
    let version = state.remove_panel(&panel).await?;
    Ok(Json(PanelRemoved { panel, version }).into_response())
}
