//! The uploads component: receives patients' files, has the sanitizer inspect them, and keeps
//! only encrypted copies in object storage.

use portal_spin::ComponentInfo;
use spin_sdk::http::{IntoResponse, Method, Request};
use spin_sdk::http_service;

mod sanitizer {
    wit_bindgen::generate!({
        world: "portal:sanitizer/sanitizer-client",
        path: "../../wit",
    });
}

use sanitizer::portal::sanitizer::sanitize;

const INFO: ComponentInfo = ComponentInfo {
    name: "uploads",
    version: env!("CARGO_PKG_VERSION"),
};

/// Routes a request under `/files` by its `spin-path-info`.
#[http_service]
async fn handle(request: Request) -> impl IntoResponse {
    let path = request
        .headers()
        .get("spin-path-info")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    match (request.method(), path) {
        (&Method::GET, "/health") => health(),
        _ => portal_spin::not_found(),
    }
}

/// Reports the component and the linked sanitizer's verdict on a probe file.
fn health() -> portal_spin::Response {
    let report = sanitize::inspect("text/plain", b"health check");
    let verdict = match report.verdict {
        sanitize::Verdict::Clean => "clean",
        sanitize::Verdict::Cleaned => "cleaned",
        sanitize::Verdict::Rejected => "rejected",
    };
    let body = serde_json::json!({
        "component": INFO.name,
        "version": INFO.version,
        "status": "ok",
        "sanitizer": { "verdict": verdict, "reasons": report.reasons },
    });
    portal_spin::json(spin_sdk::http::StatusCode::OK, &body)
}
