//! The auth component: proves who a user is and issues the tokens every other component
//! checks.
//!
//! One build runs in three roles, chosen by the `auth_role` variable:
//! - `public`, under `/auth/...`: accounts, sign-in, second factors, sessions, care teams,
//!   proxy grants and emergency access;
//! - `session`, on a private route: other components ask it whether a session is live and
//!   what its user may do now;
//! - `notify`, on a private route: other components ask it to tell users that something
//!   awaits them, without learning where the notice goes.
//!
//! `session-remote` and `notify-remote` serve the private roles on `/internal/...` routes to
//! components deployed as other apps, which must send a service token with every call.
//!
//! Every sign-in binds the session to the client's DPoP key (RFC 9449), and every route that
//! acts for a user checks the access token, its proof and the session record.

mod account;
mod admin;
mod config;
mod context;
mod factors;
mod login;
mod model;
mod notices;
mod passkeys;
mod proxies;
mod session;

use portal_spin::ComponentInfo;
use spin_sdk::http::{IntoResponse, Method, Request};
use spin_sdk::http_service;

use crate::context::Context;

const INFO: ComponentInfo = ComponentInfo {
    name: "auth",
    version: env!("CARGO_PKG_VERSION"),
};

/// Routes a request by role and `spin-path-info`.
#[http_service]
async fn handle(request: Request) -> impl IntoResponse {
    let path = portal_spin::edge::path(&request);
    let role = spin_sdk::variables::get("auth_role")
        .await
        .unwrap_or_default();
    let (role, remote) = portal_spin::service::split_role(&role);
    if remote {
        let (receiver, callers): (&str, &[&str]) = match role {
            "session" => (
                "auth-session",
                &[
                    "messaging",
                    "uploads",
                    "uploads-internal",
                    "uploads-internal-remote",
                    "audit",
                ],
            ),
            "notify" => ("auth-notify", &["messaging"]),
            _ => return portal_spin::not_found(),
        };
        let admitted =
            portal_spin::service::admit(&request, receiver, callers, &path, "auth").await;
        if let Err(problem) = admitted {
            return portal_spin::problem(&problem);
        }
    }
    match role {
        "session" => session_role(request, &path).await,
        "notify" => notify_role(request, &path).await,
        "public" => public_role(request, &path).await,
        _ => {
            eprintln!(
                "variable auth_role must be public, session, notify, session-remote or notify-remote"
            );
            portal_spin::not_found()
        }
    }
}

async fn session_role(request: Request, path: &str) -> portal_spin::Response {
    if request.method() != Method::GET {
        return portal_spin::not_found();
    }
    if let Some(session) = path.strip_prefix("/session/") {
        return session::introspect(session).await;
    }
    if let Some(team) = path.strip_prefix("/care-teams/") {
        return session::care_team_info(team).await;
    }
    match path.strip_prefix("/patients/") {
        Some(patient) => session::patient_care_teams(patient).await,
        None => portal_spin::not_found(),
    }
}

async fn notify_role(request: Request, path: &str) -> portal_spin::Response {
    if (request.method(), path) != (&Method::POST, "/notify") {
        return portal_spin::not_found();
    }
    let context = match Context::load(&request).await {
        Ok(context) => context,
        Err(problem) => return portal_spin::problem(&problem),
    };
    notices::notify(&context, request)
        .await
        .unwrap_or_else(|problem| portal_spin::problem(&problem))
}

async fn public_role(request: Request, path: &str) -> portal_spin::Response {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let method = request.method().clone();
    if (&method, path) == (&Method::GET, "/health") {
        return portal_spin::health(INFO);
    }
    if (&method, path) == (&Method::GET, "/jwks") {
        return session::jwks().await;
    }
    let context = match Context::load(&request).await {
        Ok(context) => context,
        Err(problem) => return portal_spin::problem(&problem),
    };
    let result = match (&method, segments.as_slice()) {
        (&Method::POST, ["bootstrap"]) => account::bootstrap(&context, request).await,
        (&Method::POST, ["register"]) => account::register(&context, request).await,
        (&Method::POST, ["invitations", "accept"]) => {
            account::accept_invitation(&context, request).await
        }
        (&Method::POST, ["login"]) => login::login(&context, request).await,
        (&Method::POST, ["token"]) => session::refresh(&context, request).await,
        (&Method::POST, ["logout"]) => session::logout(&context, request).await,
        (&Method::GET, ["me"]) => account::me(&context, request).await,
        (&Method::GET, ["sessions"]) => session::list(&context, request).await,
        (&Method::DELETE, ["sessions", id]) => session::end(&context, request, id).await,
        (&Method::POST, ["password"]) => account::change_password(&context, request).await,
        (&Method::POST, ["password", "reset"]) => account::reset_password(&context, request).await,
        (&Method::PUT, ["notification-destination"]) => {
            account::set_destination(&context, request).await
        }
        (&Method::POST, ["totp", "enrol"]) => factors::enrol_totp(&context, request).await,
        (&Method::POST, ["totp", "confirm"]) => factors::confirm_totp(&context, request).await,
        (&Method::POST, ["step-up"]) => factors::step_up(&context, request).await,
        (&Method::POST, ["passkeys", "registration-options"]) => {
            passkeys::registration_options(&context, request).await
        }
        (&Method::POST, ["passkeys", "authentication-options"]) => {
            passkeys::authentication_options(&context, request).await
        }
        (&Method::POST, ["passkeys", "login"]) => passkeys::login(&context, request).await,
        (&Method::POST, ["passkeys"]) => passkeys::enrol(&context, request).await,
        (&Method::GET, ["passkeys"]) => passkeys::list(&context, request).await,
        (&Method::PATCH, ["passkeys", id]) => passkeys::rename(&context, request, id).await,
        (&Method::DELETE, ["passkeys", id]) => passkeys::remove(&context, request, id).await,
        (&Method::POST, ["invitations"]) => admin::invite(&context, request).await,
        (&Method::POST, ["users", "search"]) => admin::find_user(&context, request).await,
        (&Method::POST, ["users", id, "disable"]) => {
            admin::set_status(&context, request, id, false).await
        }
        (&Method::POST, ["users", id, "enable"]) => {
            admin::set_status(&context, request, id, true).await
        }
        (&Method::PUT, ["users", id, "role"]) => admin::set_role(&context, request, id).await,
        (&Method::DELETE, ["users", id, "second-factor"]) => {
            admin::remove_second_factor(&context, request, id).await
        }
        (&Method::POST, ["users", id, "unlock"]) => admin::unlock(&context, request, id).await,
        (&Method::POST, ["users", id, "password-reset"]) => {
            admin::issue_reset(&context, request, id).await
        }
        (&Method::GET, ["proxies"]) => proxies::held(&context, request).await,
        (&Method::POST, ["act-for"]) => proxies::act_for(&context, request).await,
        (&Method::GET, ["patients", patient, "proxies"]) => {
            proxies::list(&context, request, patient).await
        }
        (&Method::POST, ["patients", patient, "proxies"]) => {
            proxies::create(&context, request, patient).await
        }
        (&Method::DELETE, ["patients", patient, "proxies", grant]) => {
            proxies::revoke(&context, request, patient, grant).await
        }
        (&Method::POST, ["patients", patient, "proxies", grant, "renew"]) => {
            proxies::renew(&context, request, patient, grant).await
        }
        (&Method::POST, ["patients", patient, "proxies", grant, "assent"]) => {
            proxies::assent(&context, request, patient, grant).await
        }
        (&Method::POST, ["patients", patient, "break-glass"]) => {
            proxies::break_glass(&context, request, patient).await
        }
        (&Method::POST, ["care-teams"]) => admin::create_team(&context, request).await,
        (&Method::GET, ["care-teams", id]) => admin::get_team(&context, request, id).await,
        (&Method::PUT, ["care-teams", id, "members", user]) => {
            admin::add_member(&context, request, id, user).await
        }
        (&Method::DELETE, ["care-teams", id, "members", user]) => {
            admin::remove_member(&context, request, id, user).await
        }
        _ => return portal_spin::not_found(),
    };
    result.unwrap_or_else(|problem| portal_spin::problem(&problem))
}
