//! API errors: an HTTP status, a message and the offending field.
//!
//! `/v1/*` answers `{"error": "...", "field": "ips[1]"}`; the ContainerDNS
//! compatibility routes answer the text `ERR, <reason>` with the same status.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

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

    /// The store failed: 503, the cause is logged and summarised.
    pub fn store(err: impl std::fmt::Display) -> ApiError {
        tracing::warn!(error = %err, "api: store operation failed");
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("record store unavailable: {err}"),
        )
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

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = match &self.field {
            Some(field) => json!({ "error": self.message, "field": field }),
            None => json!({ "error": self.message }),
        };
        let mut resp = (self.status, axum::Json(body)).into_response();
        add_auth_challenge(&mut resp, self.status);
        resp
    }
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
