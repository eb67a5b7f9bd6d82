//! RFC 9457 problem responses for failures the host itself reports.
//!
//! The host's failures carry only HTTP semantics, so each uses `type: "about:blank"` with the
//! status text as `title` (RFC 9457, section 4.2.1) and an actionable `detail`.

use http::{Response, StatusCode};

use crate::body::{self, HostBody};

/// Builds a problem response with `detail`.
pub fn response(status: StatusCode, detail: &str) -> Response<HostBody> {
    let document = serde_json::json!({
        "type": "about:blank",
        "title": status.canonical_reason().unwrap_or("Error"),
        "status": status.as_u16(),
        "detail": detail,
    });
    let mut response = Response::new(body::full(document.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/problem+json"),
    );
    response
}
