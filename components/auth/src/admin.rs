//! Administration: invitations, account status, and care teams. Only admins with a
//! multi-factor session may call these routes, and each change is audited before it is made.

use portal_audit::{AuditAction, EntityType, Outcome};
use portal_auth::secret::{self, Purpose};
use portal_crypto::FieldKind;
use portal_policy::{CareTeamId, Role, UserId};
use portal_problem::{Problem, ProblemKind};
use portal_spin::Response;
use portal_spin::kv::Update;
use serde::Deserialize;
use spin_sdk::http::{Request, StatusCode};

use crate::context::{Authenticated, Context, encode};
use crate::model::{self, AccountStatus, CareTeam, EndReason, Invitation, User};
use crate::session;

/// Longest care team name.
const MAX_TEAM_NAME: usize = 80;

async fn admin(context: &Context, request: &Request) -> Result<Authenticated, Problem> {
    let caller = context.authenticate(request, false).await?;
    if caller.user.role != Role::Admin {
        return Err(
            Problem::new(ProblemKind::Forbidden).with_detail("only administrators may do this")
        );
    }
    // Every administrative change is sensitive: it needs a second factor within the step-up
    // window, not only at sign-in.
    context.require_recent_second_factor(&caller)?;
    Ok(caller)
}

#[derive(Deserialize)]
struct InviteBody {
    email: String,
    role: Role,
}

/// `POST /auth/invitations`: invites a clinician, admin or compliance officer. Returns the
/// single-use invitation secret, which the admin passes to the invitee.
pub async fn invite(context: &Context, request: Request) -> Result<Response, Problem> {
    let caller = admin(context, &request).await?;
    let body: InviteBody = portal_spin::edge::read_json(
        request,
        portal_spin::edge::MAX_JSON_BODY,
        &["email", "role"],
    )
    .await?;
    if !model::role_requires_mfa(body.role) {
        return Err(Problem::invalid_field("role").with_detail(
            "invite clinicians, admins or compliance officers; patients register themselves",
        ));
    }
    let token = secret::new_token().map_err(|_| Problem::new(ProblemKind::ServiceUnavailable))?;
    let hash = secret::hash(Purpose::Invitation, &token);
    let index = context
        .sealer
        .index(FieldKind::Email, &body.email)
        .map_err(|_| Problem::invalid_field("email"))?
        .to_base64url();
    let protected = context
        .sealer
        .protect(
            &context.store,
            "invitation",
            &index,
            FieldKind::Email,
            &body.email,
        )
        .map_err(|_| Problem::invalid_field("email"))?;
    context
        .audit(
            Context::actor(&caller.user),
            AuditAction::AccountChanged,
            (EntityType::User, "invitation"),
            Outcome::Success,
            Some("invitation_created"),
        )
        .await?;
    let expires_at = context.now + context.settings.invitation_ttl_secs;
    let invitation = Invitation {
        role: body.role,
        email: encode(&protected.ciphertext),
        email_index: index,
        invited_by: caller.user.id.clone(),
        expires_at,
        accepted_at: None,
    };
    context
        .store
        .set(&model::invitation_key(&hash), &invitation)?;
    Ok(portal_spin::json_no_store(
        StatusCode::CREATED,
        &serde_json::json!({ "invitation": token.as_str(), "role": body.role, "expires_at": expires_at }),
    ))
}

#[derive(Deserialize)]
struct FindBody {
    email: String,
}

/// `POST /auth/users/search`: finds an account by email through the blind index. The email
/// travels in the body, so it never appears in a URL or an access log.
pub async fn find_user(context: &Context, request: Request) -> Result<Response, Problem> {
    admin(context, &request).await?;
    let body: FindBody =
        portal_spin::edge::read_json(request, portal_spin::edge::MAX_JSON_BODY, &["email"]).await?;
    let index = context
        .sealer
        .index(FieldKind::Email, &body.email)
        .map_err(|_| Problem::invalid_field("email"))?
        .to_base64url();
    let not_found =
        || Problem::new(ProblemKind::NotFound).with_detail("no account has this email address");
    let id: UserId = context
        .store
        .get(&model::email_key(&index), "email index")?
        .ok_or_else(not_found)?;
    let user = context.load_user(&id)?.ok_or_else(not_found)?;
    Ok(portal_spin::json_no_store(
        StatusCode::OK,
        &serde_json::json!({ "user_id": user.id, "role": user.role, "status": user.status }),
    ))
}

fn parse_user(id: &str) -> Result<UserId, Problem> {
    UserId::new(id).map_err(|_| Problem::new(ProblemKind::NotFound).with_detail("no such account"))
}

/// `POST /auth/users/{id}/disable` and `/enable`. Disabling ends every session of the account.
pub async fn set_status(
    context: &Context,
    request: Request,
    id: &str,
    enable: bool,
) -> Result<Response, Problem> {
    let caller = admin(context, &request).await?;
    let id = parse_user(id)?;
    if id == caller.user.id {
        return Err(Problem::new(ProblemKind::Conflict)
            .with_detail("administrators cannot change their own status"));
    }
    context
        .load_user(&id)?
        .ok_or_else(|| Problem::new(ProblemKind::NotFound))?;
    context
        .audit(
            Context::actor(&caller.user),
            AuditAction::AccountChanged,
            (EntityType::User, id.as_str()),
            Outcome::Success,
            Some(if enable {
                "account_enabled"
            } else {
                "account_disabled"
            }),
        )
        .await?;
    let status = if enable {
        AccountStatus::Active
    } else {
        AccountStatus::Disabled
    };
    context
        .store
        .update(&model::user_key(&id), "user", |current: Option<User>| {
            let Some(mut current) = current else {
                return Err(Problem::new(ProblemKind::NotFound));
            };
            current.status = status;
            current.session_epoch += 1;
            Ok((Update::Set(current), ()))
        })??;
    if !enable {
        session::end_all(
            &context.store,
            &id,
            None,
            context.now,
            EndReason::AccountDisabled,
        )?;
    }
    Ok(portal_spin::empty(StatusCode::NO_CONTENT))
}

#[derive(Deserialize)]
struct TeamBody {
    name: String,
    #[serde(default = "default_response_hours")]
    response_hours: u32,
}

fn default_response_hours() -> u32 {
    48
}

/// `POST /auth/care-teams`: creates a care team.
pub async fn create_team(context: &Context, request: Request) -> Result<Response, Problem> {
    let caller = admin(context, &request).await?;
    let body: TeamBody = portal_spin::edge::read_json(
        request,
        portal_spin::edge::MAX_JSON_BODY,
        &["name", "response_hours"],
    )
    .await?;
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > MAX_TEAM_NAME || name.chars().any(char::is_control)
    {
        return Err(Problem::invalid_field("name").with_limit(MAX_TEAM_NAME as u64));
    }
    if !(1..=24 * 14).contains(&body.response_hours) {
        return Err(
            Problem::invalid_field("response_hours").with_detail("between 1 hour and 14 days")
        );
    }
    let id = secret::new_id(12)
        .ok()
        .and_then(|id| CareTeamId::new(id).ok())
        .ok_or_else(|| Problem::new(ProblemKind::ServiceUnavailable))?;
    context
        .audit(
            Context::actor(&caller.user),
            AuditAction::CareTeamChanged,
            (EntityType::CareTeam, id.as_str()),
            Outcome::Success,
            Some("created"),
        )
        .await?;
    let team = CareTeam {
        id: id.clone(),
        name: name.to_owned(),
        response_hours: body.response_hours,
        clinicians: Vec::new(),
        patients: Vec::new(),
    };
    context
        .store
        .insert_new(&model::care_team_key(&id), &team)?;
    Ok(portal_spin::json(StatusCode::CREATED, &team_json(&team)))
}

fn team_json(team: &CareTeam) -> serde_json::Value {
    serde_json::json!({
        "id": team.id,
        "name": team.name,
        "response_hours": team.response_hours,
        "clinicians": team.clinicians,
        "patients": team.patients,
    })
}

fn parse_team(id: &str) -> Result<CareTeamId, Problem> {
    CareTeamId::new(id)
        .map_err(|_| Problem::new(ProblemKind::NotFound).with_detail("no such care team"))
}

/// `GET /auth/care-teams/{id}`: a care team, for admins and its own members.
pub async fn get_team(context: &Context, request: Request, id: &str) -> Result<Response, Problem> {
    let caller = context.authenticate(&request, false).await?;
    let id = parse_team(id)?;
    let not_found = || Problem::new(ProblemKind::NotFound).with_detail("no such care team");
    let team: CareTeam = context
        .store
        .get(&model::care_team_key(&id), "care team")?
        .ok_or_else(not_found)?;
    let member =
        team.clinicians.contains(&caller.user.id) || team.patients.contains(&caller.user.id);
    if caller.user.role != Role::Admin && !member {
        return Err(not_found());
    }
    Ok(portal_spin::json(StatusCode::OK, &team_json(&team)))
}

/// `PUT /auth/care-teams/{id}/members/{user}`: adds a clinician or assigns a patient.
///
/// The team record is the source of truth and is written first; the user's team list is a
/// lookup hint that session checks confirm against the team.
pub async fn add_member(
    context: &Context,
    request: Request,
    team: &str,
    user: &str,
) -> Result<Response, Problem> {
    change_member(context, request, team, user, true).await
}

/// `DELETE /auth/care-teams/{id}/members/{user}`: removes a member. Effective on the next
/// request anywhere, since every session check reads the team record.
pub async fn remove_member(
    context: &Context,
    request: Request,
    team: &str,
    user: &str,
) -> Result<Response, Problem> {
    change_member(context, request, team, user, false).await
}

async fn change_member(
    context: &Context,
    request: Request,
    team: &str,
    user: &str,
    add: bool,
) -> Result<Response, Problem> {
    let caller = admin(context, &request).await?;
    let team_id = parse_team(team)?;
    let user_id = parse_user(user)?;
    let member = context
        .load_user(&user_id)?
        .ok_or_else(|| Problem::new(ProblemKind::NotFound).with_detail("no such account"))?;
    if add && !matches!(member.role, Role::Clinician | Role::Patient) {
        return Err(Problem::new(ProblemKind::Conflict)
            .with_detail("only clinicians and patients belong to care teams"));
    }
    context
        .store
        .get::<CareTeam>(&model::care_team_key(&team_id), "care team")?
        .ok_or_else(|| Problem::new(ProblemKind::NotFound).with_detail("no such care team"))?;
    context
        .audit(
            Context::actor(&caller.user),
            AuditAction::CareTeamChanged,
            (EntityType::CareTeam, team_id.as_str()),
            Outcome::Success,
            Some(if add {
                "member_added"
            } else {
                "member_removed"
            }),
        )
        .await?;
    let role = member.role;
    let updated = context.store.update(
        &model::care_team_key(&team_id),
        "care team",
        |current: Option<CareTeam>| {
            let Some(mut current) = current else {
                return Err(Problem::new(ProblemKind::NotFound));
            };
            if add {
                let list = if role == Role::Clinician {
                    &mut current.clinicians
                } else {
                    &mut current.patients
                };
                if !list.contains(&user_id) {
                    list.push(user_id.clone());
                }
            } else {
                // Removal clears both lists, so a member whose role changed leaves cleanly.
                current.clinicians.retain(|existing| existing != &user_id);
                current.patients.retain(|existing| existing != &user_id);
            }
            Ok((Update::Set(current.clone()), current))
        },
    )??;
    context.store.update(
        &model::user_teams_key(&user_id),
        "team list",
        |current: Option<Vec<CareTeamId>>| {
            let mut list = current.unwrap_or_default();
            list.retain(|existing| existing != &team_id);
            if add {
                list.push(team_id.clone());
            }
            Ok::<_, Problem>((Update::Set(list), ()))
        },
    )??;
    Ok(portal_spin::json(StatusCode::OK, &team_json(&updated)))
}

/// `POST /auth/users/{id}/unlock`: clears an account's sign-in failures and backoff.
pub async fn unlock(context: &Context, request: Request, id: &str) -> Result<Response, Problem> {
    let caller = admin(context, &request).await?;
    let id = parse_user(id)?;
    let user = context
        .load_user(&id)?
        .ok_or_else(|| Problem::new(ProblemKind::NotFound).with_detail("no such account"))?;
    context
        .audit(
            Context::actor(&caller.user),
            AuditAction::AccountChanged,
            (EntityType::User, id.as_str()),
            Outcome::Success,
            Some("sign_in_unlocked"),
        )
        .await?;
    crate::account::clear_sign_in_lock(context, &user)?;
    Ok(portal_spin::empty(StatusCode::NO_CONTENT))
}

/// `POST /auth/users/{id}/password-reset`: issues a single-use password reset, which the admin
/// passes to the user out of band (it is a credential, so it is never sent as a notification).
pub async fn issue_reset(
    context: &Context,
    request: Request,
    id: &str,
) -> Result<Response, Problem> {
    let caller = admin(context, &request).await?;
    let id = parse_user(id)?;
    let user = context
        .load_user(&id)?
        .ok_or_else(|| Problem::new(ProblemKind::NotFound).with_detail("no such account"))?;
    let token = secret::new_token().map_err(|_| Problem::new(ProblemKind::ServiceUnavailable))?;
    context
        .audit(
            Context::actor(&caller.user),
            AuditAction::AccountChanged,
            (EntityType::User, id.as_str()),
            Outcome::Success,
            Some("password_reset_issued"),
        )
        .await?;
    let expires_at = context.now + context.settings.invitation_ttl_secs;
    let serial =
        context
            .store
            .update(&model::user_key(&id), "user", |current: Option<User>| {
                let Some(mut current) = current else {
                    return Err(Problem::new(ProblemKind::NotFound));
                };
                current.reset_serial += 1;
                let issued = (current.reset_serial, current.session_epoch);
                Ok((Update::Set(current), issued))
            })??;
    let reset = model::PasswordReset {
        user: user.id.clone(),
        issued_by: caller.user.id.clone(),
        expires_at,
        used_at: None,
        serial: serial.0,
        epoch: serial.1,
    };
    context.store.set(
        &model::reset_key(&secret::hash(Purpose::PasswordReset, &token)),
        &reset,
    )?;
    context
        .notify(&user, "An administrator started a password reset for your portal account. If you did not ask for this, contact the practice.")
        .await;
    Ok(portal_spin::json_no_store(
        StatusCode::CREATED,
        &serde_json::json!({ "reset_token": token.as_str(), "expires_at": expires_at }),
    ))
}

/// `DELETE /auth/users/{id}/second-factor`: removes an account's TOTP factor and recovery
/// codes, for a user who lost their device or whose account was taken over. Every session
/// ends; the user enrols again at the next sign-in (staff cannot do anything else first).
pub async fn remove_second_factor(
    context: &Context,
    request: Request,
    id: &str,
) -> Result<Response, Problem> {
    let caller = admin(context, &request).await?;
    let id = parse_user(id)?;
    let user = context
        .load_user(&id)?
        .ok_or_else(|| Problem::new(ProblemKind::NotFound).with_detail("no such account"))?;
    context
        .audit(
            Context::actor(&caller.user),
            AuditAction::SecondFactorChanged,
            (EntityType::User, id.as_str()),
            Outcome::Success,
            Some("removed_by_admin"),
        )
        .await?;
    // Every factor goes, passkeys included: the route exists for a factor that was lost or
    // taken, and the admin cannot tell which one that was.
    let removed =
        context
            .store
            .update(&model::user_key(&id), "user", |current: Option<User>| {
                let Some(mut current) = current else {
                    return Err(Problem::new(ProblemKind::NotFound));
                };
                current.totp = None;
                current.session_epoch += 1;
                current.totp_pending = None;
                current.recovery_codes.clear();
                let passkeys = std::mem::take(&mut current.passkeys);
                Ok((Update::Set(current), passkeys))
            })??;
    for passkey in removed {
        context
            .store
            .delete(&crate::passkeys::index_key(&passkey.id))?;
    }
    session::end_all(&context.store, &id, None, context.now, EndReason::Revoked)?;
    context
        .notify(&user, "An administrator removed the second factor of your portal account. Enrol a new one at your next sign-in.")
        .await;
    Ok(portal_spin::empty(StatusCode::NO_CONTENT))
}

#[derive(Deserialize)]
struct RoleBody {
    role: Role,
}

/// `PUT /auth/users/{id}/role`: changes an account's role (admin). Every session of the
/// account ends, so the next sign-in meets the new role's rules (staff need a second factor);
/// other components see the new role on their next session check in any case.
pub async fn set_role(context: &Context, request: Request, id: &str) -> Result<Response, Problem> {
    let caller = admin(context, &request).await?;
    let id = parse_user(id)?;
    let body: RoleBody =
        portal_spin::edge::read_json(request, portal_spin::edge::MAX_JSON_BODY, &["role"]).await?;
    if body.role == Role::Proxy {
        return Err(Problem::invalid_field("role").with_detail(
            "proxies get access through a grant from the patient, not a role change",
        ));
    }
    if id == caller.user.id {
        return Err(Problem::new(ProblemKind::Conflict)
            .with_detail("administrators cannot change their own role"));
    }
    context
        .load_user(&id)?
        .ok_or_else(|| Problem::new(ProblemKind::NotFound).with_detail("no such account"))?;
    context
        .audit(
            Context::actor(&caller.user),
            AuditAction::AccountChanged,
            (EntityType::User, id.as_str()),
            Outcome::Success,
            Some("role_changed"),
        )
        .await?;
    let role = body.role;
    context
        .store
        .update(&model::user_key(&id), "user", |current: Option<User>| {
            let Some(mut current) = current else {
                return Err(Problem::new(ProblemKind::NotFound));
            };
            current.role = role;
            current.session_epoch += 1;
            Ok((Update::Set(current), ()))
        })??;
    session::end_all(&context.store, &id, None, context.now, EndReason::Revoked)?;
    Ok(portal_spin::empty(StatusCode::NO_CONTENT))
}
