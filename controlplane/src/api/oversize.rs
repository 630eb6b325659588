//! Oversized request bodies: a 413 every client can read.
//!
//! A server that answers 413 as soon as it sees `Content-Length` and then closes the
//! connection races the client, which is still writing the body: the client's write fails
//! (`EPIPE`/`ECONNRESET`) before it reads the answer, and reports a broken pipe instead of
//! "too large". Two cases, decided on the declared length before any handler runs:
//!
//! - The client sent `Expect: 100-continue` (curl does for large bodies; ureq when asked):
//!   the 413 goes out at once, before `100 Continue`, so the body is never sent. This is the
//!   protocol's own answer (RFC 9110 §10.1.1) and costs nothing.
//! - Otherwise the body is read and discarded, up to [`DRAIN_MAX`] bytes past the route's
//!   limit and for at most [`DRAIN_TIMEOUT`], and only then answered with
//!   `Connection: close`: a client that writes first and reads afterwards (ureq, most
//!   libraries) sees the 413. Bodies beyond the bound are answered without draining — a
//!   client that streams hundreds of megabytes without asking first may see the reset.
//!
//! Bodies without a declared length (chunked) are cut at the limit by the extractors.

use super::error::ApiError;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use std::time::Duration;

/// How far past a route's limit a body is still read (and discarded) before the 413.
pub const DRAIN_MAX: u64 = 16 << 20;
/// How long draining may take.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// The middleware: requests whose declared length fits go on unchanged.
pub async fn refuse_oversized(req: Request, next: Next) -> Response {
    let limit = super::server::body_limit(req.uri().path()) as u64;
    let Some(declared) = content_length(req.headers()).filter(|len| *len > limit) else {
        return next.run(req).await;
    };
    let compat = req.uri().path().starts_with("/skydns/");
    if !expects_continue(req.headers()) && declared <= limit + DRAIN_MAX {
        drain(req.into_body()).await;
    }
    let err = ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("request body of {declared} bytes is over the limit of {limit} bytes"),
    );
    let mut resp = if compat {
        err.into_text_response()
    } else {
        err.into_response()
    };
    resp.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    resp
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

fn expects_continue(headers: &HeaderMap) -> bool {
    headers
        .get(header::EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"))
}

/// Reads and drops the body until it ends, fails, or [`DRAIN_TIMEOUT`] passes.
async fn drain(mut body: Body) {
    let read_all = async {
        while let Some(frame) = body.frame().await {
            if frame.is_err() {
                break;
            }
        }
    };
    if tokio::time::timeout(DRAIN_TIMEOUT, read_all).await.is_err() {
        tracing::debug!("api: gave up draining an oversized body");
    }
}
