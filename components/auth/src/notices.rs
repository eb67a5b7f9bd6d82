//! Notices that other components request from auth. Only auth can decrypt a user's notification
//! destination. So a component names the user and the kind of news, and auth sends one of the
//! fixed texts below to that destination.

use portal_policy::UserId;
use portal_problem::Problem;
use portal_spin::Response;
use serde::Deserialize;
use spin_sdk::http::{Request, StatusCode};

use crate::context::Context;
use crate::model::{self, AccountStatus, User};

/// Maximum request body size, in bytes.
const MAX_BODY: usize = 16 * 1024;

/// Maximum number of users in one request.
const MAX_USERS: usize = 100;

/// The kinds of news, each with the only text that may be sent for it.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Kind {
    /// A secure message arrived in one of the user's threads.
    NewMessage,
}

impl Kind {
    /// The text sent: generic, so it names no person, subject or record.
    fn text(self) -> &'static str {
        match self {
            Kind::NewMessage => {
                "You have a new secure message in the patient portal. Sign in to read it."
            }
        }
    }
}

#[derive(Debug, Deserialize)]
struct NoticeRequest {
    kind: Kind,
    users: Vec<UserId>,
}

/// `POST /notify`: sends the text of `kind` to each active user in `users`. Answers 202 with
/// how many notices the gateway accepted; users that do not exist or are disabled are skipped
/// silently, and a gateway failure is logged, never returned, so the caller's action still succeeds.
pub async fn notify(context: &Context, request: Request) -> Result<Response, Problem> {
    let body: NoticeRequest =
        portal_spin::edge::read_json(request, MAX_BODY, &["kind", "users"]).await?;
    if body.users.len() > MAX_USERS {
        return Err(Problem::invalid_field("users").with_limit(MAX_USERS as u64));
    }
    let mut delivered = 0_usize;
    for user in &body.users {
        let Some(record) = context.store.get::<User>(&model::user_key(user), "user")? else {
            continue;
        };
        if record.status != AccountStatus::Active {
            continue;
        }
        if let Ok((channel, destination)) = context.destination_of(&record)
            && portal_spin::notify::send(channel, &destination, body.kind.text()).await
        {
            delivered += 1;
        }
    }
    Ok(portal_spin::json(
        StatusCode::ACCEPTED,
        &serde_json::json!({ "delivered": delivered }),
    ))
}
