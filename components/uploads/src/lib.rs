//! The uploads component: receives patients' files, has the capability-free sanitizer inspect
//! them, optionally scans them with ClamAV, and keeps only encrypted copies in object storage.
//!
//! One build serves two roles, chosen by the `uploads_role` variable:
//! - `public` serves `/files/...` to signed-in users;
//! - `internal` serves the private route through which messaging grants a thread's
//!   participants access to an attachment; `internal-remote` serves it on an `/internal/...`
//!   route to a messaging component deployed as another app, which must send a service token.

mod clamav;
mod context;
mod files;
mod grants;
mod intake;
mod model;
mod vault;

use portal_spin::ComponentInfo;
use spin_sdk::http::{IntoResponse, Method, Request};
use spin_sdk::http_service;

use crate::context::Context;

const INFO: ComponentInfo = ComponentInfo {
    name: "uploads",
    version: env!("CARGO_PKG_VERSION"),
};

/// Routes a request by the component's role and its `spin-path-info`.
#[http_service]
async fn handle(request: Request) -> impl IntoResponse {
    let path = portal_spin::edge::path(&request);
    let role = spin_sdk::variables::get("uploads_role")
        .await
        .unwrap_or_default();
    if (request.method(), path.as_str()) == (&Method::GET, "/health") {
        return intake::health(INFO);
    }
    let (role, remote) = portal_spin::service::split_role(&role);
    if remote
        && let Err(problem) = portal_spin::service::admit(
            &request,
            "uploads-internal",
            &["messaging"],
            &path,
            "uploads",
        )
        .await
    {
        return portal_spin::problem(&problem);
    }
    let context = match Context::load(&request).await {
        Ok(context) => context,
        Err(problem) => return portal_spin::problem(&problem),
    };
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let method = request.method().clone();
    let result = match (role, &method, segments.as_slice()) {
        ("public", &Method::POST, [""]) => intake::upload(&context, request).await,
        ("public", &Method::GET, [""]) => files::list(&context, &request).await,
        ("public", &Method::GET, [id]) => files::describe(&context, &request, id).await,
        ("public", &Method::DELETE, [id]) => files::delete(&context, &request, id).await,
        ("public", &Method::POST, [id, "links"]) => files::issue_link(&context, &request, id).await,
        ("public", &Method::GET, [id, "content"]) => files::download(&context, &request, id).await,
        ("internal", &Method::POST, ["grants"]) => grants::grant(&context, request).await,
        ("public" | "internal", _, _) => return portal_spin::not_found(),
        _ => {
            eprintln!("variable uploads_role must be public, internal or internal-remote");
            return portal_spin::not_found();
        }
    };
    result.unwrap_or_else(|problem| {
        portal_spin::problem(&problem.with_request_id(context.request_id.clone()))
    })
}
