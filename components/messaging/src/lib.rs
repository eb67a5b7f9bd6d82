//! The messaging component: encrypted threads between patients and their care teams.

use portal_spin::ComponentInfo;
use portal_spin::kv::Store;
use spin_sdk::http::{IntoResponse, Method, Request, StatusCode};
use spin_sdk::http_service;

const INFO: ComponentInfo = ComponentInfo {
    name: "messaging",
    version: env!("CARGO_PKG_VERSION"),
};

/// Label of the component's key-value store.
const STORE: &str = "messaging";

/// Routes a request under the component's prefix by its `spin-path-info`.
#[http_service]
async fn handle(request: Request) -> impl IntoResponse {
    let path = portal_spin::edge::path(&request);
    match (request.method(), path.as_str()) {
        (&Method::GET, "/health") => portal_spin::health(INFO),
        (&Method::GET, "/me") => me(&request).await,
        _ => portal_spin::not_found(),
    }
}

/// `GET /messages/me`: the caller as this component sees them after checking the token, its
/// DPoP proof and the session with auth. Clients use it to confirm their session works here.
async fn me(request: &Request) -> portal_spin::Response {
    let result = async {
        let store = Store::open(STORE)?;
        let auth_url = spin_sdk::variables::get("auth_url").await.map_err(|_| {
            portal_problem::Problem::new(portal_problem::ProblemKind::ServiceUnavailable)
        })?;
        let caller =
            portal_spin::access::authenticate(request, &store, &auth_url, portal_spin::now_secs())
                .await?;
        Ok::<_, portal_problem::Problem>(portal_spin::json_no_store(
            StatusCode::OK,
            &serde_json::json!({
                "user_id": caller.user(),
                "role": caller.role,
                "session_id": caller.session(),
                "care_teams": caller.care_teams,
            }),
        ))
    }
    .await;
    result.unwrap_or_else(|problem| portal_spin::problem(&problem))
}
