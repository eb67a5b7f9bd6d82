//! Helpers every portal component uses at its HTTP edge.
//!
//! This crate depends on `spin-sdk` and so builds only for `wasm32-wasip2`; the security logic
//! lives in crates that build natively too.

pub mod access;
pub mod audit;
pub mod crypto;
pub mod edge;
pub mod kv;
pub mod notify;
pub mod objects;
pub mod service;

use bytes::Bytes;
use spin_sdk::http::FullBody;

/// A response with a complete body, the type every handler returns.
pub type Response = http::Response<FullBody<Bytes>>;

/// Identity of a component, reported by its health route.
#[derive(Debug, Clone, Copy)]
pub struct ComponentInfo {
    /// Component id, as in `spin.toml`.
    pub name: &'static str,
    /// Crate version.
    pub version: &'static str,
}

/// Returns the response of `GET <prefix>/health`: the component's name and version.
pub fn health(info: ComponentInfo) -> Response {
    json(
        http::StatusCode::OK,
        &serde_json::json!({
            "component": info.name,
            "version": info.version,
            "status": "ok",
        }),
    )
}

/// Serializes `value` as a JSON response.
pub fn json(status: http::StatusCode, value: &impl serde::Serialize) -> Response {
    let body = serde_json::to_vec(value).unwrap_or_default();
    with_body(status, "application/json", body)
}

/// Returns an RFC 9457 problem response for a path no route of this component handles.
pub fn not_found() -> Response {
    let body = serde_json::json!({
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
        "detail": "no endpoint exists at this path; see the OpenAPI document for the routes",
    });
    with_body(
        http::StatusCode::NOT_FOUND,
        "application/problem+json",
        serde_json::to_vec(&body).unwrap_or_default(),
    )
}

/// Renders an RFC 9457 problem from the shared problem type.
pub fn problem(problem: &portal_problem::Problem) -> Response {
    let (mut parts, body) = problem.to_response().into_parts();
    parts.headers.insert(
        http::header::X_CONTENT_TYPE_OPTIONS,
        http::HeaderValue::from_static("nosniff"),
    );
    http::Response::from_parts(parts, FullBody::new(Bytes::from(body)))
}

/// Returns the current Unix time in seconds, from the host's clock.
pub fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}

/// Returns the current Unix time in milliseconds, from the host's clock.
pub fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}

/// Serializes `value` as a JSON response marked `Cache-Control: no-store`, for responses that
/// carry credentials or personal data.
pub fn json_no_store(status: http::StatusCode, value: &impl serde::Serialize) -> Response {
    let mut response = json(status, value);
    response.headers_mut().insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static("no-store"),
    );
    response
}

/// An empty response with `status`.
pub fn empty(status: http::StatusCode) -> Response {
    let mut response = http::Response::new(FullBody::new(Bytes::new()));
    *response.status_mut() = status;
    response
}

/// Builds a response with `status`, a `Content-Type` and `body`, marked
/// `X-Content-Type-Options: nosniff` so a browser never renders it as another type.
pub fn with_body(status: http::StatusCode, content_type: &'static str, body: Vec<u8>) -> Response {
    let mut response = http::Response::new(FullBody::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(content_type),
    );
    response.headers_mut().insert(
        http::header::X_CONTENT_TYPE_OPTIONS,
        http::HeaderValue::from_static("nosniff"),
    );
    response
}
