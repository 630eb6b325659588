//! Bearer-token authentication, compared in constant time.
//!
//! `/v1/*` takes the token from `Authorization: Bearer <token>` only; the
//! ContainerDNS routes (`/skydns/api/*`) also accept `?token=`. No token →
//! 401, a wrong one → 403. The token is never logged (request logging in this
//! module and the router prints method and path only, never the query).

use super::error::ApiError;
use super::ApiState;
use axum::extract::{Request, State};
use axum::http::{header, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

/// The result of checking a request's credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthOutcome {
    Allowed,
    Missing,
    Wrong,
}

/// Constant-time comparison (the length itself is not secret-dependent work).
pub fn token_matches(expected: &str, given: &str) -> bool {
    bool::from(expected.as_bytes().ct_eq(given.as_bytes()))
}

/// The credentials a request presents: the bearer token, else (when allowed) `?token=`.
fn presented_token(req: &Request, allow_query: bool) -> Option<String> {
    if let Some(value) = req.headers().get(header::AUTHORIZATION) {
        let value = value.to_str().ok()?;
        let (scheme, token) = value.split_once(' ')?;
        if scheme.eq_ignore_ascii_case("bearer") {
            return Some(token.trim().to_string());
        }
        return None;
    }
    if allow_query {
        return query_token(req.uri());
    }
    None
}

fn query_token(uri: &Uri) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct TokenQuery {
        token: Option<String>,
    }
    let q = axum::extract::Query::<TokenQuery>::try_from_uri(uri).ok()?;
    q.0.token
}

/// Checks a request against the configured token (`None` = auth disabled).
pub fn check(expected: Option<&str>, req: &Request, allow_query: bool) -> AuthOutcome {
    let Some(expected) = expected else {
        return AuthOutcome::Allowed;
    };
    match presented_token(req, allow_query) {
        None => AuthOutcome::Missing,
        Some(given) if token_matches(expected, &given) => AuthOutcome::Allowed,
        Some(_) => AuthOutcome::Wrong,
    }
}

fn denial(outcome: AuthOutcome) -> Option<ApiError> {
    match outcome {
        AuthOutcome::Allowed => None,
        AuthOutcome::Missing => Some(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "missing credentials: send Authorization: Bearer <token>",
        )),
        AuthOutcome::Wrong => Some(ApiError::new(StatusCode::FORBIDDEN, "invalid token")),
    }
}

/// Middleware for `/v1/*`: bearer token only, JSON errors.
pub async fn require_bearer(State(state): State<ApiState>, req: Request, next: Next) -> Response {
    let outcome = check(state.token.as_deref(), &req, false);
    match denial(outcome) {
        None => next.run(req).await,
        Some(err) => {
            tracing::info!(method = %req.method(), path = req.uri().path(), ?outcome, "api: request denied");
            err.into_response()
        }
    }
}

/// Middleware for `/skydns/api/*`: bearer or `?token=`, text errors.
pub async fn require_token_compat(
    State(state): State<ApiState>,
    req: Request,
    next: Next,
) -> Response {
    let outcome = check(state.token.as_deref(), &req, true);
    match denial(outcome) {
        None => next.run(req).await,
        Some(err) => {
            tracing::info!(method = %req.method(), path = req.uri().path(), ?outcome, "api: request denied");
            err.into_text_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;

    fn req(uri: &str, auth: Option<&str>) -> Request {
        let mut b = axum::http::Request::builder().uri(uri);
        if let Some(a) = auth {
            b = b.header(header::AUTHORIZATION, a);
        }
        b.body(Body::empty()).unwrap()
    }

    #[test]
    fn bearer_and_query_tokens() {
        let t = Some("s3cret");
        assert_eq!(
            check(t, &req("/v1/records", None), false),
            AuthOutcome::Missing
        );
        assert_eq!(
            check(t, &req("/v1/records", Some("Bearer s3cret")), false),
            AuthOutcome::Allowed
        );
        assert_eq!(
            check(t, &req("/v1/records", Some("bearer wrong")), false),
            AuthOutcome::Wrong
        );
        assert_eq!(
            check(t, &req("/v1/records", Some("Basic czNjcmV0")), false),
            AuthOutcome::Missing
        );
        // ?token= only where allowed.
        assert_eq!(
            check(t, &req("/v1/records?token=s3cret", None), false),
            AuthOutcome::Missing
        );
        assert_eq!(
            check(t, &req("/skydns/api/x?token=s3cret", None), true),
            AuthOutcome::Allowed
        );
        assert_eq!(
            check(t, &req("/skydns/api/x?token=s3cre", None), true),
            AuthOutcome::Wrong
        );
        assert_eq!(
            check(None, &req("/v1/records", None), false),
            AuthOutcome::Allowed
        );
    }

    #[test]
    fn constant_time_compare_is_exact() {
        assert!(token_matches("abc", "abc"));
        assert!(!token_matches("abc", "abd"));
        assert!(!token_matches("abc", "abcd"));
        assert!(!token_matches("abc", ""));
    }
}
