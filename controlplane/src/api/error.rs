//! API errors: an HTTP status, a message and the offending field.
//!
//! `/v1/*` answers `{"error": "...", "field": "ips[1]"}`; the ContainerDNS
//! compatibility routes answer the text `ERR, <reason>` with the same status.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// A failed API call. Nothing was written when one of these is returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    /// Path of the offending input field (`ips[1]`, `records[3].ttl`, `name`).
    pub field: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
            field: None,
        }
    }

    /// 400 about one input field.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
            field: Some(field.into()),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, message)
    }

    pub fn conflict(field: impl Into<String>, message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::CONFLICT,
            message: message.into(),
            field: Some(field.into()),
        }
    }

    /// The store failed: 503. The client gets a generic message with an error id; the
    /// cause (which may name hosts, keys or server internals) is logged with the same id.
    pub fn store(err: impl std::fmt::Display) -> ApiError {
        ApiError::internal(
            StatusCode::SERVICE_UNAVAILABLE,
            "record store unavailable",
            err,
        )
    }

    /// A failure whose cause stays in the log: `status`, `summary (error id ID)` to the
    /// client, the cause with the id to the log.
    pub fn internal(status: StatusCode, summary: &str, cause: impl std::fmt::Display) -> ApiError {
        let id = error_id();
        tracing::warn!(error_id = %id, error = %cause, "api: {summary}");
        ApiError::new(status, format!("{summary} (error id {id})"))
    }

    /// Prefixes the field path (`ips[1]` under `records[3]` → `records[3].ips[1]`).
    pub fn under(mut self, prefix: &str) -> ApiError {
        self.field = Some(match self.field.take() {
            Some(f) if f.starts_with('[') => format!("{prefix}{f}"),
            Some(f) => format!("{prefix}.{f}"),
            None => prefix.to_string(),
        });
        self
    }

    /// The ContainerDNS-style text answer `ERR, <reason>`.
    pub fn into_text_response(self) -> Response {
        let text = match &self.field {
            Some(f) => format!("ERR, {}: {}", f, self.message),
            None => format!("ERR, {}", self.message),
        };
        let mut resp = (self.status, text).into_response();
        add_auth_challenge(&mut resp, self.status);
        resp
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.field {
            Some(field) => write!(f, "{field}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// `{"error": "...", "field": "ips[1]"}`: every `/v1/*` error.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: String,
    /// Path of the offending input field, e.g. `ips[1]`, `records[3].ttl`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: self.message,
            field: self.field,
        };
        let mut resp = (self.status, axum::Json(body)).into_response();
        add_auth_challenge(&mut resp, self.status);
        resp
    }
}

/// A fresh random id tying a client's error message to its log line.
fn error_id() -> String {
    static FALLBACK: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let n = getrandom::u64()
        .unwrap_or_else(|_| FALLBACK.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
    format!("{n:016x}")
}

fn add_auth_challenge(resp: &mut Response, status: StatusCode) {
    if status == StatusCode::UNAUTHORIZED {
        resp.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Bearer realm=\"skylane\""),
        );
    }
}

/// A ContainerDNS-route error: rendered as text.
pub struct TextError(pub ApiError);

impl From<ApiError> for TextError {
    fn from(e: ApiError) -> TextError {
        TextError(e)
    }
}

impl IntoResponse for TextError {
    fn into_response(self) -> Response {
        self.0.into_text_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_errors_are_generic_with_an_id() {
        let e = ApiError::store("etcd at http://10.1.2.3:2379: permission denied for user root");
        assert_eq!(e.status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(
            e.message.starts_with("record store unavailable (error id "),
            "{e}"
        );
        assert!(
            !e.message.contains("10.1.2.3") && !e.message.contains("root"),
            "{e}"
        );
        assert_ne!(ApiError::store("x").message, ApiError::store("x").message);
    }
}
