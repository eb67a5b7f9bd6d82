//! The messaging component: encrypted threads between patients and their care teams.

use portal_spin::ComponentInfo;
use spin_sdk::http::{IntoResponse, Method, Request};
use spin_sdk::http_service;

const INFO: ComponentInfo = ComponentInfo {
    name: "messaging",
    version: env!("CARGO_PKG_VERSION"),
};

/// Routes a request under the component's prefix by its `spin-path-info`.
#[http_service]
async fn handle(request: Request) -> impl IntoResponse {
    let path = request
        .headers()
        .get("spin-path-info")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    match (request.method(), path) {
        (&Method::GET, "/health") => portal_spin::health(INFO),
        _ => portal_spin::not_found(),
    }
}
