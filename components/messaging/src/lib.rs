//! The messaging component: encrypted threads between patients and their care teams.
//!
//! A patient opens a thread to one of their care teams, or a clinician of that team opens one
//! to the patient. Subjects and bodies are sealed at rest; every list, read, send, state
//! change, export and denial is recorded in the audit log before the response is sent, and the
//! action fails when it cannot be recorded. Recipients are told through auth, with a fixed
//! text that names nobody.

mod context;
mod export;
mod idempotency;
mod model;
mod send;
mod threads;

use portal_spin::ComponentInfo;
use spin_sdk::http::{IntoResponse, Method, Request, StatusCode};
use spin_sdk::http_service;

use crate::context::Context;
use crate::model::ThreadState;

const INFO: ComponentInfo = ComponentInfo {
    name: "messaging",
    version: env!("CARGO_PKG_VERSION"),
};

/// Routes a request under `/messages` by its `spin-path-info`.
#[http_service]
async fn handle(request: Request) -> impl IntoResponse {
    let path = portal_spin::edge::path(&request);
    if (request.method(), path.as_str()) == (&Method::GET, "/health") {
        return portal_spin::health(INFO);
    }
    let context = match Context::load(&request).await {
        Ok(context) => context,
        Err(problem) => return portal_spin::problem(&problem),
    };
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let method = request.method().clone();
    let result = match (&method, segments.as_slice()) {
        (&Method::GET, ["me"]) => me(&context, &request).await,
        (&Method::GET, ["threads"]) => threads::list(&context, &request).await,
        (&Method::POST, ["threads"]) => send::open(&context, request).await,
        (&Method::GET, ["threads", id]) => threads::read(&context, &request, id).await,
        (&Method::POST, ["threads", id, "messages"]) => send::reply(&context, request, id).await,
        (&Method::POST, ["threads", id, "close"]) => {
            threads::set_state(&context, &request, id, ThreadState::Closed).await
        }
        (&Method::POST, ["threads", id, "reopen"]) => {
            threads::set_state(&context, &request, id, ThreadState::Open).await
        }
        (&Method::GET, ["threads", id, "export"]) => export::export(&context, &request, id).await,
        _ => return portal_spin::not_found(),
    };
    result.unwrap_or_else(|problem| {
        portal_spin::problem(&problem.with_request_id(context.request_id.clone()))
    })
}

/// `GET /messages/me`: the caller as this component sees them after checking the token, its
/// DPoP proof and the session with auth. Clients use it to confirm their session works here.
async fn me(
    context: &Context,
    request: &Request,
) -> Result<portal_spin::Response, portal_problem::Problem> {
    let caller = context.caller(request).await?;
    Ok(portal_spin::json_no_store(
        StatusCode::OK,
        &serde_json::json!({
            "user_id": caller.user(),
            "role": caller.role,
            "session_id": caller.session(),
            "care_teams": caller.care_teams,
            "acting_for": caller.on_behalf_of(),
        }),
    ))
}
