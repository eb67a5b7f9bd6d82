//! Sessions: creation at sign-in, access tokens, refresh rotation with reuse detection,
//! logout, the session list, and the private session check other components call.

use portal_audit::{AuditAction, EntityType, Outcome};
use portal_auth::secret::{self, Purpose};
use portal_policy::{CareTeamId, SessionId, UserId};
use portal_problem::{Problem, ProblemKind};
use portal_spin::Response;
use portal_spin::access::SessionState;
use portal_spin::kv::{Store, Update};
use portal_tokens::AccessGrant;
use serde::Deserialize;
use spin_sdk::http::{Request, StatusCode};

use crate::context::{Authenticated, Context};
use crate::model::{self, AccountStatus, CareTeam, EndReason, Ended, RefreshRecord, Session, User};

/// Most live sessions one user may have; signing in once more ends the oldest.
const MAX_LIVE_SESSIONS: usize = 50;

/// A new session's credentials, returned to the client once.
pub struct Issued {
    /// The session.
    pub session: Session,
    /// Access token.
    pub access_token: String,
    /// Refresh token.
    pub refresh_token: zeroize::Zeroizing<String>,
}

/// Creates a session bound to `jkt` and issues its first tokens.
pub async fn create(
    context: &Context,
    user: &User,
    jkt: String,
    amr: Vec<String>,
    enrolment_only: bool,
) -> Result<Issued, Problem> {
    let id = new_session_id()?;
    let refresh_token = secret::new_token().map_err(|_| unavailable())?;
    let refresh_hash = secret::hash(Purpose::Refresh, &refresh_token);
    let session = Session {
        id: id.clone(),
        user: user.id.clone(),
        created_at: context.now,
        last_seen_at: context.now,
        auth_time: context.now,
        amr,
        jkt,
        device: context.device.clone(),
        address: context.address.map(|address| address.to_string()),
        refresh_hash: refresh_hash.clone(),
        refresh_generation: 0,
        previous_refresh_hash: None,
        rotated_at: context.now,
        epoch: user.session_epoch,
        enrolment_only,
        on_behalf_of: None,
        ended: None,
    };
    // The refresh record first: a session whose token record is missing could never refresh.
    context.store.set(
        &model::refresh_key(&refresh_hash),
        &RefreshRecord {
            session: id.clone(),
            generation: 0,
        },
    )?;
    context.store.set(&model::session_key(&id), &session)?;
    add_to_user_list(context, &user.id, &id)?;
    let access_token = issue_access(context, user, &session).await?;
    Ok(Issued {
        session,
        access_token,
        refresh_token,
    })
}

fn new_session_id() -> Result<SessionId, Problem> {
    secret::new_id(16)
        .ok()
        .and_then(|id| SessionId::new(id).ok())
        .ok_or_else(unavailable)
}

fn unavailable() -> Problem {
    Problem::new(ProblemKind::ServiceUnavailable)
}

/// Signs an access token for `session`.
pub async fn issue_access(
    context: &Context,
    user: &User,
    session: &Session,
) -> Result<String, Problem> {
    let issuer = context.issuer().await?;
    let acr = if session.amr.iter().any(|method| method == "mfa") {
        "urn:portal:acr:mfa"
    } else {
        "urn:portal:acr:pwd"
    };
    let grant = AccessGrant {
        user: user.id.clone(),
        role: user.role,
        session: session.id.clone(),
        amr: session.amr.clone(),
        auth_time: session.auth_time,
        acr: acr.to_owned(),
        dpop_jkt: session.jkt.clone(),
        on_behalf_of: session
            .on_behalf_of
            .clone()
            .filter(|_| user.role == portal_policy::Role::Proxy),
    };
    let lifetime = u64::try_from(context.settings.access_ttl_secs).unwrap_or(600);
    issuer
        .issue_access_for(&grant, context.now, lifetime)
        .map_err(Problem::from)
}

/// The response body of a sign-in or refresh.
pub fn token_response(context: &Context, issued: &Issued, user: &User) -> Response {
    portal_spin::json_no_store(
        StatusCode::OK,
        &serde_json::json!({
            "access_token": issued.access_token,
            "token_type": "DPoP",
            "expires_in": context.settings.access_ttl_secs,
            "refresh_token": issued.refresh_token.as_str(),
            "session_id": issued.session.id,
            "user_id": user.id,
            "role": user.role,
            "second_factor_enrolled": user.has_second_factor(),
            "enrol_second_factor": !user.has_second_factor(),
            // Passkeys resist phishing, so they are offered first.
            "second_factor_options": ["passkey", "totp"],
            "enrolment_only": issued.session.enrolment_only,
        }),
    )
}

/// Adds a session to the user's list, which every "end all sessions" walks.
///
/// Nothing live is ever dropped from the list: ended and expired sessions are pruned, and
/// past [`MAX_LIVE_SESSIONS`] the oldest live ones are ended first and pruned after.
fn add_to_user_list(context: &Context, user: &UserId, session: &SessionId) -> Result<(), Problem> {
    let store = &context.store;
    let key = model::user_sessions_key(user);
    let listed: Vec<SessionId> = store.get(&key, "session list")?.unwrap_or_default();
    let mut live = Vec::new();
    let mut dead = Vec::new();
    for id in listed {
        match store.get::<Session>(&model::session_key(&id), "session")? {
            Some(record) if context.session_usable(&record) => live.push(id),
            Some(_) | None => dead.push(id),
        }
    }
    // The list is newest first, so the oldest live sessions are at the end.
    while live.len() >= MAX_LIVE_SESSIONS {
        if let Some(oldest) = live.pop() {
            end_session(store, &oldest, context.now, EndReason::Revoked)?;
            dead.push(oldest);
        }
    }
    store.update(&key, "session list", |current: Option<Vec<SessionId>>| {
        let mut list = current.unwrap_or_default();
        list.retain(|id| !dead.contains(id));
        list.insert(0, session.clone());
        Ok::<_, Problem>((Update::Set(list), ()))
    })??;
    Ok(())
}

/// Ends a session if it is still live; returns whether this call ended it.
pub fn end_session(
    store: &Store,
    session: &SessionId,
    now: i64,
    reason: EndReason,
) -> Result<bool, Problem> {
    store.update(
        &model::session_key(session),
        "session",
        |current: Option<Session>| match current {
            Some(mut record) if record.ended.is_none() => {
                record.ended = Some(Ended { at: now, reason });
                Ok::<_, Problem>((Update::Set(record), true))
            }
            _ => Ok((Update::Keep, false)),
        },
    )?
}

/// Moves a session to the account's new `session_epoch`, so it survives the change that raised
/// the epoch (the caller's own session during a password change).
pub fn move_to_epoch(store: &Store, session: &SessionId, epoch: u64) -> Result<(), Problem> {
    store.update(
        &model::session_key(session),
        "session",
        |current: Option<Session>| match current {
            Some(mut record) => {
                record.epoch = epoch;
                Ok::<_, Problem>((Update::Set(record), ()))
            }
            None => Ok((Update::Keep, ())),
        },
    )?
}

/// Ends every live session of `user` except `keep`. Returns how many ended.
pub fn end_all(
    store: &Store,
    user: &UserId,
    keep: Option<&SessionId>,
    now: i64,
    reason: EndReason,
) -> Result<usize, Problem> {
    let list: Vec<SessionId> = store
        .get(&model::user_sessions_key(user), "session list")?
        .unwrap_or_default();
    let mut ended = 0;
    for session in list.iter().filter(|session| Some(*session) != keep) {
        if end_session(store, session, now, reason)? {
            ended += 1;
        }
    }
    Ok(ended)
}

#[derive(Deserialize)]
struct RefreshBody {
    refresh_token: String,
}

/// `POST /auth/token`: exchanges a refresh token for new tokens, rotating it.
///
/// The request must carry a DPoP proof by the session's key. A refresh token that was
/// already rotated ends the session (its family) and raises an audit alert.
pub async fn refresh(context: &Context, request: Request) -> Result<Response, Problem> {
    let jkt = portal_spin::access::verify_bare_proof(
        &request,
        &portal_spin::edge::request_url(&request).await?,
        &context.store,
        context.now,
    )?;
    let body: RefreshBody = portal_spin::edge::read_json(
        request,
        portal_spin::edge::MAX_JSON_BODY,
        &["refresh_token"],
    )
    .await?;
    let refused = || Problem::new(ProblemKind::Unauthenticated).with_detail("sign in again");
    let hash = secret::hash(Purpose::Refresh, &body.refresh_token);
    let record: RefreshRecord = context
        .store
        .get(&model::refresh_key(&hash), "refresh token")?
        .ok_or_else(refused)?;
    let session: Session = context
        .store
        .get(&model::session_key(&record.session), "session")?
        .ok_or_else(refused)?;
    if session.jkt != jkt {
        // Only the device that holds the session's key may refresh it.
        return Err(refused());
    }
    let user = context.load_user(&session.user)?.ok_or_else(refused)?;
    if user.status != AccountStatus::Active
        || !context.session_usable(&session)
        || session.epoch != user.session_epoch
    {
        return Err(refused());
    }

    if session.refresh_hash == hash {
        // Recorded before the rotation: if the audit log is down, the client keeps its
        // current refresh token and can retry, instead of holding a rotated one.
        context
            .audit(
                Context::actor(&user),
                AuditAction::TokenRefreshed,
                (EntityType::Session, session.id.as_str()),
                Outcome::Success,
                None,
            )
            .await?;
    }
    let new_token = secret::new_token().map_err(|_| unavailable())?;
    let new_hash = secret::hash(Purpose::Refresh, &new_token);
    enum Outcome2 {
        Rotated(Box<Session>),
        Reused,
        RaceLost,
        Ended,
    }
    let now = context.now;
    let outcome = context.store.update(
        &model::session_key(&record.session),
        "session",
        |current: Option<Session>| {
            let Some(mut current) = current else {
                return Ok::<_, Problem>((Update::Keep, Outcome2::Ended));
            };
            if current.ended.is_some() {
                return Ok((Update::Keep, Outcome2::Ended));
            }
            if current.refresh_hash != hash {
                let just_replaced = current.previous_refresh_hash.as_deref() == Some(hash.as_str())
                    && now - current.rotated_at <= REFRESH_RACE_GRACE_SECS;
                if just_replaced {
                    return Ok((Update::Keep, Outcome2::RaceLost));
                }
                current.ended = Some(Ended {
                    at: now,
                    reason: EndReason::RefreshReuse,
                });
                return Ok((Update::Set(current), Outcome2::Reused));
            }
            current.previous_refresh_hash = Some(std::mem::replace(
                &mut current.refresh_hash,
                new_hash.clone(),
            ));
            current.rotated_at = now;
            current.refresh_generation += 1;
            current.last_seen_at = now;
            Ok((
                Update::Set(current.clone()),
                Outcome2::Rotated(Box::new(current)),
            ))
        },
    )??;
    match outcome {
        Outcome2::Ended => Err(refused()),
        // The same device sent the token twice at once (a retry or a second tab); the other
        // request holds the new tokens and the session goes on.
        Outcome2::RaceLost => {
            // Recorded, because a thief holding the device key who refreshed first would look
            // the same to the owner's device.
            context
                .audit(
                    Context::actor(&user),
                    AuditAction::RefreshReuseDetected,
                    (EntityType::Session, session.id.as_str()),
                    Outcome::MinorFailure,
                    Some("refresh_race"),
                )
                .await?;
            Err(Problem::new(ProblemKind::Conflict).with_detail(
                "this refresh token was just replaced by a parallel request; use the newest tokens",
            ))
        }
        Outcome2::Reused => {
            eprintln!("refresh token reuse detected; session revoked");
            context
                .audit(
                    Context::actor(&user),
                    AuditAction::RefreshReuseDetected,
                    (EntityType::Session, session.id.as_str()),
                    Outcome::SeriousFailure,
                    Some("refresh_token_reuse"),
                )
                .await?;
            Err(refused())
        }
        Outcome2::Rotated(session) => {
            context.store.set(
                &model::refresh_key(&new_hash),
                &RefreshRecord {
                    session: session.id.clone(),
                    generation: session.refresh_generation,
                },
            )?;
            let access_token = issue_access(context, &user, &session).await?;
            let issued = Issued {
                session: *session,
                access_token,
                refresh_token: new_token,
            };
            Ok(token_response(context, &issued, &user))
        }
    }
}

/// `POST /auth/logout`: ends the caller's session.
pub async fn logout(context: &Context, request: Request) -> Result<Response, Problem> {
    let caller = context.authenticate(&request, true).await?;
    end_session(
        &context.store,
        &caller.session.id,
        context.now,
        EndReason::Logout,
    )?;
    context
        .audit(
            Context::actor(&caller.user),
            AuditAction::SignOut,
            (EntityType::Session, caller.session.id.as_str()),
            Outcome::Success,
            None,
        )
        .await?;
    Ok(portal_spin::empty(StatusCode::NO_CONTENT))
}

/// `GET /auth/sessions`: the caller's live sessions.
pub async fn list(context: &Context, request: Request) -> Result<Response, Problem> {
    let caller = context.authenticate(&request, false).await?;
    let ids: Vec<SessionId> = context
        .store
        .get(&model::user_sessions_key(&caller.user.id), "session list")?
        .unwrap_or_default();
    let mut sessions = Vec::new();
    for id in ids {
        let Some(session) = context
            .store
            .get::<Session>(&model::session_key(&id), "session")?
        else {
            continue;
        };
        if !context.session_usable(&session) {
            continue;
        }
        sessions.push(serde_json::json!({
            "id": session.id,
            "device": session.device,
            "address": session.address,
            "created_at": session.created_at,
            "last_seen_at": session.last_seen_at,
            "current": session.id == caller.session.id,
        }));
    }
    Ok(portal_spin::json_no_store(
        StatusCode::OK,
        &serde_json::json!({ "sessions": sessions }),
    ))
}

/// `DELETE /auth/sessions/{id}`: ends one of the caller's sessions.
pub async fn end(context: &Context, request: Request, id: &str) -> Result<Response, Problem> {
    let caller = context.authenticate(&request, false).await?;
    let not_found = || Problem::new(ProblemKind::NotFound).with_detail("no such session");
    let id = SessionId::new(id).map_err(|_| not_found())?;
    let session: Session = context
        .store
        .get(&model::session_key(&id), "session")?
        .ok_or_else(not_found)?;
    if session.user != caller.user.id {
        return Err(not_found());
    }
    end_session(&context.store, &id, context.now, EndReason::Revoked)?;
    context
        .audit(
            Context::actor(&caller.user),
            AuditAction::SessionRevoked,
            (EntityType::Session, id.as_str()),
            Outcome::Success,
            None,
        )
        .await?;
    Ok(portal_spin::empty(StatusCode::NO_CONTENT))
}

/// How long a just-replaced refresh token, sent again by the session's own device, counts as a
/// lost race rather than reuse. Reuse needs the device's DPoP key as well, so a short window
/// gives a thief with the key nothing they could not get by refreshing themselves.
const REFRESH_RACE_GRACE_SECS: i64 = 10;

/// Seconds between writes of a session's `last_seen_at` by the session check, which bounds
/// the write load; the idle timeout is therefore accurate to this much.
const LAST_SEEN_GRANULARITY_SECS: i64 = 30;

/// `GET /session/{id}` on the private route: whether the session is live, with its user's
/// current role and care teams. Also records activity for the idle timeout.
pub async fn introspect(id: &str) -> Response {
    let inactive = || {
        portal_spin::json_no_store(
            StatusCode::OK,
            &SessionState {
                active: false,
                user: None,
                role: None,
                care_teams: Vec::new(),
                acting_for: None,
                emergency: Vec::new(),
            },
        )
    };
    let Ok(id) = SessionId::new(id) else {
        return inactive();
    };
    let store = match Store::open(model::STORE) {
        Ok(store) => store,
        Err(error) => return portal_spin::problem(&Problem::from(error)),
    };
    let settings = match crate::config::Settings::load().await {
        Ok(settings) => settings,
        Err(problem) => return portal_spin::problem(&problem),
    };
    let now = portal_spin::now_secs();
    let state = (|| -> Result<Option<(SessionState, Option<model::Session>)>, Problem> {
        let Some(session) = store.get::<Session>(&model::session_key(&id), "session")? else {
            return Ok(None);
        };
        let live = session.ended.is_none()
            && !session.enrolment_only
            && now
                < session
                    .created_at
                    .saturating_add(settings.absolute_lifetime_secs)
            && now
                < session
                    .last_seen_at
                    .saturating_add(settings.idle_timeout_secs);
        if !live {
            return Ok(None);
        }
        let Some(user) = store.get::<User>(&model::user_key(&session.user), "user")? else {
            return Ok(None);
        };
        if user.status != AccountStatus::Active || session.epoch != user.session_epoch {
            return Ok(None);
        }
        if now - session.last_seen_at >= LAST_SEEN_GRANULARITY_SECS {
            store.update(
                &model::session_key(&id),
                "session",
                |current: Option<Session>| match current {
                    Some(mut record) if record.last_seen_at < now => {
                        record.last_seen_at = now;
                        Ok::<_, Problem>((Update::Set(record), ()))
                    }
                    _ => Ok((Update::Keep, ())),
                },
            )??;
        }
        let care_teams = current_teams(&store, &user.id)?;
        Ok(Some((
            SessionState {
                active: true,
                user: Some(user.id),
                role: Some(user.role),
                care_teams,
                acting_for: None,
                emergency: Vec::new(),
            },
            Some(session),
        )))
    })();
    let (mut state, session) = match state {
        Ok(Some(found)) => found,
        Ok(None) => return inactive(),
        Err(problem) => return portal_spin::problem(&problem),
    };
    // Grants and emergency access are read on every check, so a revocation, an expiry or a
    // birthday applies to the next request on every component.
    let extra = async {
        match (
            state.role,
            &state.user,
            session.and_then(|s| s.on_behalf_of),
        ) {
            (Some(portal_policy::Role::Proxy), Some(proxy), Some(patient)) => {
                state.acting_for = Some(crate::proxies::acting_for(&store, proxy, &patient).await?);
            }
            (Some(portal_policy::Role::Clinician), Some(clinician), _) => {
                state.emergency = crate::proxies::emergency(&store, clinician, now).await?;
            }
            _ => {}
        }
        Ok::<_, Problem>(())
    };
    match extra.await {
        Ok(()) => portal_spin::json_no_store(StatusCode::OK, &state),
        Err(problem) => portal_spin::problem(&problem),
    }
}

/// The care teams `user` belongs to now: each team named by the user's team list that still
/// lists the user among its clinicians (for clinicians) or patients (for patients).
pub fn current_teams(store: &Store, user: &UserId) -> Result<Vec<CareTeamId>, Problem> {
    let Some(record) = store.get::<User>(&model::user_key(user), "user")? else {
        return Ok(Vec::new());
    };
    let hints: Vec<CareTeamId> = store
        .get(&model::user_teams_key(user), "team list")?
        .unwrap_or_default();
    let mut teams = Vec::new();
    for team_id in hints {
        let Some(team) = store.get::<CareTeam>(&model::care_team_key(&team_id), "care team")?
        else {
            continue;
        };
        // Membership counts only in the list that matches the user's role now, so a role
        // change never turns a patient's assignment into clinician access.
        let member = match record.role {
            portal_policy::Role::Clinician => team.clinicians.contains(user),
            portal_policy::Role::Patient => team.patients.contains(user),
            _ => false,
        };
        if member {
            teams.push(team_id);
        }
    }
    Ok(teams)
}

/// `GET /patients/<id>` on the private session route: whether `id` is an enabled patient and
/// the care teams assigned to them now. Other components call it on every request that
/// reaches a patient's record, so a care-team change applies at once.
pub async fn patient_care_teams(id: &str) -> Response {
    let result = (|| -> Result<PatientTeams, Problem> {
        let Ok(user) = UserId::new(id) else {
            return Ok(PatientTeams::default());
        };
        let store = Store::open(model::STORE)?;
        let Some(record) = store.get::<User>(&model::user_key(&user), "user")? else {
            return Ok(PatientTeams::default());
        };
        if record.role != portal_policy::Role::Patient || record.status != AccountStatus::Active {
            return Ok(PatientTeams::default());
        }
        Ok(PatientTeams {
            patient: true,
            care_teams: current_teams(&store, &user)?,
        })
    })();
    match result {
        Ok(teams) => portal_spin::json_no_store(StatusCode::OK, &teams),
        Err(problem) => portal_spin::problem(&problem),
    }
}

/// `GET /care-teams/<id>` on the private route: what messaging shows and needs about a care
/// team (its name, expected response time and clinicians). An unknown id gives
/// `{"care_team": false}`.
pub async fn care_team_info(id: &str) -> Response {
    let result = (|| -> Result<serde_json::Value, Problem> {
        let unknown = serde_json::json!({ "care_team": false });
        let Ok(team) = CareTeamId::new(id) else {
            return Ok(unknown);
        };
        let store = Store::open(model::STORE)?;
        let Some(record) = store.get::<CareTeam>(&model::care_team_key(&team), "care team")? else {
            return Ok(unknown);
        };
        Ok(serde_json::json!({
            "care_team": true,
            "name": record.name,
            "response_hours": record.response_hours,
            "clinicians": record.clinicians,
        }))
    })();
    match result {
        Ok(body) => portal_spin::json_no_store(StatusCode::OK, &body),
        Err(problem) => portal_spin::problem(&problem),
    }
}

/// Response body of [`patient_care_teams`].
#[derive(Debug, Default, serde::Serialize)]
struct PatientTeams {
    /// Whether the id names an enabled patient.
    patient: bool,
    /// The patient's care teams.
    care_teams: Vec<CareTeamId>,
}

/// `GET /auth/jwks`: the public keys that verify access tokens.
pub async fn jwks() -> Response {
    match spin_sdk::variables::get("token_verification_keys").await {
        Ok(jwks) => match serde_json::from_str::<serde_json::Value>(&jwks) {
            Ok(document) => portal_spin::json(StatusCode::OK, &document),
            Err(_) => portal_spin::problem(&Problem::new(ProblemKind::ServiceUnavailable)),
        },
        Err(_) => portal_spin::problem(&Problem::new(ProblemKind::ServiceUnavailable)),
    }
}

/// Re-issues the caller's access token after the session changed (step-up, enrolment).
pub async fn reissue(
    context: &Context,
    caller: &Authenticated,
    session: &Session,
) -> Result<String, Problem> {
    issue_access(context, &caller.user, session).await
}
