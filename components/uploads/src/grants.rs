//! The private route through which messaging shares an attachment with a thread's
//! participants. It is reachable only by service chaining, so the caller is a component of
//! this application that has already authenticated the sender.

use portal_audit::{AuditAction, Outcome};
use portal_policy::{Action, Actor, Authentication, CareTeamId, PatientId, Role, UserId};
use portal_problem::{Problem, ProblemKind};
use portal_spin::Response;
use portal_spin::access::ActingFor;
use portal_spin::kv::Update;
use serde::Deserialize;
use spin_sdk::http::{Request, StatusCode};

use crate::context::Context;
use crate::files;
use crate::model::{self, FileRecord, FileState, Grant};

/// Maximum grant request body size, in bytes.
const MAX_BODY: usize = 16 * 1024;

/// Maximum number of users one grant names.
const MAX_USERS: usize = 50;

/// Maximum number of files one grant shares, the most one message may carry.
const MAX_FILES: usize = 10;

#[derive(Debug, Deserialize)]
struct GrantRequest {
    file_ids: Vec<String>,
    thread_id: String,
    patient: PatientId,
    sender: UserId,
    sender_role: Role,
    #[serde(default)]
    sender_care_teams: Vec<CareTeamId>,
    #[serde(default)]
    care_team: Option<CareTeamId>,
    #[serde(default)]
    users: Vec<UserId>,
    #[serde(default)]
    sensitive: bool,
    /// For a proxy sender: the patient they act for and their grants, as auth reported them
    /// to messaging on this request.
    #[serde(default)]
    sender_acting_for: Option<ActingFor>,
}

/// Builds the policy's view of a proxy who sends an attachment. Only reading files is decided here,
/// which needs no step-up, so the authentication time is left out and would fail closed.
fn proxy_actor(sender: &UserId, acting: &ActingFor) -> Actor {
    Actor {
        user: sender.clone(),
        role: Role::Proxy,
        authentication: Authentication {
            auth_time: 0,
            multi_factor: false,
        },
        own_record: None,
        care_teams: Vec::new(),
        grants: acting.grants.clone(),
    }
}

/// `POST /grants`: lets the thread's care team and users read every file in `file_ids`.
/// Every file is checked before any grant is written, so a rejected request changes nothing.
/// The route returns 404 when the sender may not read a file or it belongs to another patient,
/// and 409 while a file is quarantined or after it was rejected. With `sensitive`, the files
/// become sensitive: reading them needs a recent second factor, and clinicians reach them only
/// through the grant's care team.
pub async fn grant(cx: &Context, request: Request) -> Result<Response, Problem> {
    let body: GrantRequest = portal_spin::edge::read_json(
        request,
        MAX_BODY,
        &[
            "file_ids",
            "thread_id",
            "patient",
            "sender",
            "sender_role",
            "sender_care_teams",
            "care_team",
            "users",
            "sensitive",
            "sender_acting_for",
        ],
    )
    .await?;
    if body.users.len() > MAX_USERS {
        return Err(Problem::invalid_field("users").with_limit(MAX_USERS as u64));
    }
    if body.file_ids.is_empty() || body.file_ids.len() > MAX_FILES {
        return Err(Problem::invalid_field("file_ids").with_limit(MAX_FILES as u64));
    }
    if body.thread_id.is_empty() || body.thread_id.len() > 64 {
        return Err(Problem::invalid_field("thread_id"));
    }
    let not_found = || {
        Problem::new(ProblemKind::NotFound).with_detail("no file the sender may read has this id")
    };
    let sender = (&body.sender, body.sender_role);
    if let (Some(acting), Role::Proxy) = (&body.sender_acting_for, body.sender_role) {
        cx.set_acting_for(&acting.patient);
    }

    // Check every file first.
    for file_id in &body.file_ids {
        let Some(record) = cx
            .store
            .get::<FileRecord>(&model::file_key(file_id), "file")?
        else {
            return Err(not_found());
        };
        let readable = record.patient == body.patient
            && match (&body.sender_acting_for, body.sender_role) {
                (Some(acting), Role::Proxy) => {
                    record.state != FileState::Deleted
                        && cx.grant_allows(
                            &proxy_actor(&body.sender, acting),
                            acting,
                            Action::ReadFile,
                            &record.patient,
                            file_id,
                            record.sensitive,
                        )
                }
                (_, Role::Proxy) => false,
                _ => {
                    files::may_read(
                        cx,
                        &body.sender,
                        body.sender_role,
                        &body.sender_care_teams,
                        &record,
                    )
                    .await?
                }
            };
        if !readable {
            cx.audit(
                sender,
                AuditAction::FileAccessGranted,
                file_id,
                &record.patient,
                Outcome::MinorFailure,
                Some("not_permitted"),
            )
            .await?;
            return Err(not_found());
        }
        if record.state != FileState::Available {
            return Err(Problem::new(ProblemKind::Conflict).with_detail(
                "only files that passed the security checks can be attached; wait for the check or upload another file",
            ));
        }
    }

    // Then record and write each grant.
    let grant = Grant {
        thread: body.thread_id.clone(),
        care_team: body.care_team.clone(),
        users: body.users.clone(),
        granted_by: body.sender.clone(),
        granted_at: cx.now,
    };
    for file_id in &body.file_ids {
        cx.audit(
            sender,
            AuditAction::FileAccessGranted,
            file_id,
            &body.patient,
            Outcome::Success,
            None,
        )
        .await?;
        cx.store.update::<FileRecord, (), Problem>(
            &model::file_key(file_id),
            "file",
            |current| {
                let mut record = current.ok_or_else(|| Problem::new(ProblemKind::NotFound))?;
                if record.state != FileState::Available {
                    return Err(Problem::new(ProblemKind::Conflict));
                }
                if !record.grants.contains(&grant) {
                    record.grants.push(grant.clone());
                }
                record.sensitive |= body.sensitive;
                Ok((Update::Set(record), ()))
            },
        )??;
    }
    Ok(portal_spin::json_no_store(
        StatusCode::CREATED,
        &serde_json::json!({ "file_ids": body.file_ids, "thread_id": body.thread_id }),
    ))
}
