//! `POST /v1/reload`: asks the running process to re-read its config file and zone files.
//!
//! The API only carries the request: the process (the `skylane` binary's reloader) owns the
//! config and answers with a [`ReloadReply`] — what was applied live, what needs a restart,
//! or why the new config was rejected (then the old one stays in force). 200 when the new
//! config is in force, 422 when it was rejected, 503 when this process has no reloader.

use super::error::ApiError;
use super::schema::{AuthErrors, ErrorBody};
use super::ApiState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

/// One reload request: the reloader answers on the enclosed channel.
pub type ReloadSender = mpsc::Sender<oneshot::Sender<ReloadReply>>;

/// The outcome of one reload (also the `POST /v1/reload` reply body).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReloadReply {
    /// True when the new config is in force (possibly with `restart_required` entries).
    pub ok: bool,
    /// Sections swapped in live (`dns`, `zone-files`, `health`, `forward`).
    pub applied: Vec<String>,
    /// Changed keys that only take effect after a restart (`dataplane.listen`, …).
    pub restart_required: Vec<String>,
    /// Why the new config was rejected (`ok` is false; the old config stays).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// `POST /v1/reload`.
#[utoipa::path(post, path = "/v1/reload", summary = "Re-read the config file and zone files (live reload)",
    responses((status = 200, description = "The new config is in force (`restart_required` lists what waits for a restart).", body = ReloadReply),
        (status = 422, description = "The new config was rejected; the old one stays in force.", body = ReloadReply),
        (status = 503, description = "No live reload in this process, or shutting down.", body = ErrorBody),
        AuthErrors))]
pub async fn reload(State(state): State<ApiState>) -> Response {
    let Some(sender) = state.reload.clone() else {
        return ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "live reload is not available in this process",
        )
        .into_response();
    };
    let (tx, rx) = oneshot::channel();
    if sender.send(tx).await.is_err() {
        return ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "shutting down").into_response();
    }
    match rx.await {
        Ok(reply) if reply.ok => Json(reply).into_response(),
        Ok(reply) => (StatusCode::UNPROCESSABLE_ENTITY, Json(reply)).into_response(),
        Err(_) => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "shutting down").into_response(),
    }
}
