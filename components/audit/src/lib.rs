//! The audit component: the only writer of the tamper-evident audit log.
//!
//! One build serves three manifest entries, distinguished by the component variable `audit_role`,
//! which no client can set:
//!
//! - `ingest`: the private component (`route = { private = true }`) that other components
//!   reach at `http://audit-ingest.spin.internal/ingest`; it validates and appends events.
//! - `public`: the `/audit/...` routes, which serve signed checkpoints and proofs carrying only
//!   hashes and sizes.
//! - `checkpoint`: the private component from which the ingest role requests, at
//!   `http://audit-checkpoint.spin.internal/checkpoint`, a signed and archived checkpoint on
//!   the cadence that `cadence.rs` sets.
//!
//! - `ingest-remote`: the ingest role on an `/internal/...` route, for components deployed as
//!   other apps; every call needs a service token (`portal_spin::service`).
//!
//! Request headers cannot choose the role: under `spin up` a client may send its own `spin-*`
//! headers, which Spin passes on.

mod alerts;
mod cadence;
mod query;
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

/// Routes a request by the component's role and `spin-path-info`.
#[http_service]
async fn handle(request: Request) -> impl IntoResponse {
    let path = request
        .headers()
        .get("spin-path-info")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    match spin_sdk::variables::get("audit_role").await.as_deref() {
        Ok("ingest") => routes::ingest_role(request, &path).await,
        Ok("ingest-remote") => {
            let callers = [
                "auth",
                "messaging",
                "uploads",
                "uploads-internal",
                "uploads-internal-remote",
                "audit",
            ];
            match portal_spin::service::admit(&request, "audit-ingest", &callers, &path, STORE)
                .await
            {
                Ok(_) => routes::ingest_role(request, &path).await,
                Err(problem) => portal_spin::problem(&problem),
            }
        }
        Ok("public") => routes::public_role(request, &path).await,
        Ok("checkpoint") => routes::checkpoint_role(request, &path).await,
        _ => portal_spin::problem(&portal_problem::Problem::new(
            portal_problem::ProblemKind::ServiceUnavailable,
        )),
    }
}
