//! The audit component: the only writer of the tamper-evident audit log.
//!
//! Other components send events to `POST /ingest` through service chaining
//! (`http://audit.spin.internal/ingest`). The public routes under `/audit` serve signed
//! checkpoints and proofs, which carry only hashes and sizes.
//!
//! TODO: verify a service token on ingest, for deployments where the other components call
//! this one over HTTPS instead of chaining.

mod routes;

use portal_spin::ComponentInfo;
use spin_sdk::http::{IntoResponse, Request};
use spin_sdk::http_service;

const INFO: ComponentInfo = ComponentInfo {
    name: "audit",
    version: env!("CARGO_PKG_VERSION"),
};

/// Key-value store label of the log.
const STORE: &str = "audit";

/// Key prefix of the log inside the store.
const LOG_PREFIX: &str = "log";

/// Routes a request: chained requests (Spin's synthetic route `/...`) reach the ingest route,
/// public ones the read routes.
#[http_service]
async fn handle(request: Request) -> impl IntoResponse {
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let path = header("spin-path-info");
    let chained = header("spin-matched-route") == "/...";
    routes::dispatch(request, &path, chained).await
}
