//! Proxy access and emergency access.
//!
//! A proxy grant lets a parent, guardian, caregiver or representative act for a patient
//! with their own account. The patient records one in the portal; a clinician of the
//! patient's care team, or an admin, records one the patient (or, for a child, the law)
//! consented to elsewhere. A proxy's session then chooses the patient it acts for, and its
//! access tokens name both. The other components receive the grants with every session
//! check and decide with the shared policy, so a revocation, an expiry or a birthday applies
//! on the next request everywhere.
//!
//! Break-the-glass lets a clinician outside the patient's care teams open the record in an
//! emergency, with a stated reason, for a limited time. Starting it is audited with the
//! reason, which raises an alert, and every access under it is recorded as emergency
//! treatment.

use base64ct::{Base64, Encoding};
use portal_audit::{AuditAction, AuditEvent, Component, Entity, EntityType, Outcome};
use portal_crypto::{Domain, FieldKind};
use portal_policy::{
    Action, Actor, AgeBand, Authentication, Consent, Date, Decision, GrantId, GrantKind,
    PatientFacts, PatientId, ProxyGrant, ProxyScopes, PurposeOfUse, Reason, Resource, Role, UserId,
};
use portal_problem::{Problem, ProblemKind};
use portal_spin::Response;
use portal_spin::access::{ActingFor, EmergencyAccess};
use portal_spin::crypto::Sealer;
use portal_spin::kv::{Store, Update};
use serde::Deserialize;
use serde_json::{Value, json};
use spin_sdk::http::{Request, StatusCode};

use crate::context::{Authenticated, Context};
use crate::model::{
    self, AccountStatus, ConsentMethod, EmergencyRecord, GrantRecord, Session, User,
};
use crate::session;

const DAY_SECS: i64 = 86_400;

/// Term of a caregiver grant, in seconds: 90 days unless the grant sets less. A renewal
/// restarts it.
pub const CAREGIVER_TERM_SECS: i64 = 90 * DAY_SECS;

/// Most grants kept per patient, revoked and expired ones included, so a record's proxy list
/// stays readable in one request.
const MAX_GRANTS_PER_PATIENT: usize = 50;

/// Default length of emergency access, in seconds.
const DEFAULT_BREAK_GLASS_SECS: i64 = 3600;

/// Record type of a sealed birth date.
const BIRTH_DATE_RECORD: &str = "birth-date";

/// Record type of a sealed break-the-glass reason.
const REASON_RECORD: &str = "break-glass";

/// Loads the sealer of the access domain: birth dates and break-the-glass reasons.
pub async fn access_sealer() -> Result<Sealer, Problem> {
    Sealer::load(Domain::Access).await
}

/// Checks a birth date given at registration: a real date, not in the future, and after 1900.
pub fn check_birth_date(text: &str, now: i64) -> Result<Date, Problem> {
    let invalid = || {
        Problem::invalid_field("birth_date")
            .with_detail("give the date of birth as YYYY-MM-DD, not in the future")
    };
    let date = portal_policy::parse_date(text).ok_or_else(invalid)?;
    let today = portal_policy::Context::at(now).today;
    if date > today || date.year() < 1900 {
        return Err(invalid());
    }
    Ok(date)
}

/// Seals `date` as the birth date of `user`.
pub fn seal_birth_date(
    sealer: &Sealer,
    store: &Store,
    user: &UserId,
    date: Date,
) -> Result<String, Problem> {
    let sealed = sealer.seal(
        store,
        BIRTH_DATE_RECORD,
        user.as_str(),
        date.to_string().as_bytes(),
    )?;
    Ok(Base64::encode_string(&sealed))
}

/// Opens the birth date of `user`, if one is recorded.
fn birth_date_of(sealer: &Sealer, user: &User) -> Result<Option<String>, Problem> {
    let Some(sealed) = &user.birth_date else {
        return Ok(None);
    };
    let envelope = Base64::decode_vec(sealed).map_err(|_| Problem::new(ProblemKind::Internal))?;
    let opened = sealer.open(BIRTH_DATE_RECORD, user.id.as_str(), &envelope)?;
    String::from_utf8(opened.to_vec())
        .map(Some)
        .map_err(|_| Problem::new(ProblemKind::Internal))
}

/// Refuses proxies: they act within their own grant and never grant or revoke anyone else's,
/// so a guardian cannot pass access on past the age rules.
fn refuse_proxy(caller: &Authenticated) -> Result<(), Problem> {
    if caller.user.role == Role::Proxy {
        return Err(Problem::new(ProblemKind::Forbidden).with_detail(
            "proxies do not grant or revoke access; ask the patient or the care team",
        ));
    }
    Ok(())
}

fn no_patient() -> Problem {
    Problem::new(ProblemKind::NotFound).with_detail("no patient you may manage has this id")
}

/// Loads the patient `id` names, with the facts the policy needs about them. Unknown ids,
/// accounts that are not patients and disabled accounts all give the same 404.
fn load_patient(
    context: &Context,
    sealer: &Sealer,
    id: &str,
) -> Result<(User, PatientFacts), Problem> {
    let user_id = UserId::new(id).map_err(|_| no_patient())?;
    let user = context
        .load_user(&user_id)?
        .filter(|user| user.role == Role::Patient && user.status == AccountStatus::Active)
        .ok_or_else(no_patient)?;
    let birth_date = birth_date_of(sealer, &user)?
        .as_deref()
        .and_then(portal_policy::parse_date)
        .unwrap_or(Date::MIN);
    let facts = PatientFacts {
        id: PatientId::new(id).map_err(|_| no_patient())?,
        birth_date,
        care_teams: session::current_teams(&context.store, &user.id)?,
    };
    Ok((user, facts))
}

/// Returns whether a birth date is recorded: `load_patient` puts `Date::MIN` in its place
/// otherwise.
fn has_birth_date(facts: &PatientFacts) -> bool {
    facts.birth_date != Date::MIN
}

/// Loads every grant `grantee` holds for `patient`.
fn grants_of(
    store: &Store,
    grantee: &UserId,
    patient: &PatientId,
) -> Result<Vec<ProxyGrant>, Problem> {
    let ids: Vec<GrantId> = store
        .get(&model::grantee_grants_key(grantee), "grant list")?
        .unwrap_or_default();
    let mut grants = Vec::new();
    for id in ids {
        if let Some(record) = store.get::<GrantRecord>(&model::grant_key(&id), "grant")?
            && &record.grant.patient == patient
        {
            grants.push(record.grant);
        }
    }
    Ok(grants)
}

/// Builds the policy's view of the caller, with their grants for `patient` if they are a
/// proxy.
fn actor(context: &Context, caller: &Authenticated, patient: &PatientId) -> Result<Actor, Problem> {
    let user = &caller.user;
    Ok(Actor {
        user: user.id.clone(),
        role: user.role,
        authentication: Authentication {
            auth_time: caller.session.auth_time,
            multi_factor: caller.session.amr.iter().any(|method| method == "mfa"),
        },
        own_record: (user.role == Role::Patient)
            .then(|| PatientId::new(user.id.as_str()).ok())
            .flatten(),
        care_teams: session::current_teams(&context.store, &user.id)?,
        grants: if user.role == Role::Proxy {
            grants_of(&context.store, &user.id, patient)?
        } else {
            Vec::new()
        },
    })
}

/// Decides `action` on the patient's record for the caller.
fn decide(
    context: &Context,
    caller: &Authenticated,
    action: Action,
    facts: &PatientFacts,
) -> Result<Decision, Problem> {
    let mut policy = portal_policy::Context::at(context.now);
    policy.step_up_window_secs = context.settings.step_up_window_secs;
    Ok(portal_policy::decide(
        &actor(context, caller, &facts.id)?,
        action,
        &Resource::PatientRecord { patient: facts },
        &policy,
    ))
}

/// One audit event about a patient's record.
struct PatientEvent<'a> {
    action: AuditAction,
    entity: (EntityType, &'a str),
    patient: &'a PatientId,
    outcome: Outcome,
    reason: Option<&'a str>,
    purpose: PurposeOfUse,
    justification: Option<String>,
}

async fn audit(context: &Context, caller: &User, event: PatientEvent<'_>) -> Result<(), Problem> {
    let record = AuditEvent {
        actor: Context::actor(caller),
        on_behalf_of: (caller.role == Role::Proxy).then(|| event.patient.clone()),
        action: event.action,
        entity: Entity {
            kind: event.entity.0,
            id: event.entity.1.to_owned(),
        },
        patient: Some(event.patient.clone()),
        outcome: event.outcome,
        claimed_time_ms: context.now.saturating_mul(1000),
        source_address: context.address,
        purpose: event.purpose,
        component: Component::Auth,
        request_id: context.request_id.clone(),
        reason: event.reason.map(str::to_owned),
        justification: event.justification,
    };
    portal_spin::audit::record(&record).await
}

/// Records a denial by the policy and returns the problem to respond with. Denials that could
/// reveal the record respond like an unknown patient.
async fn refuse(
    context: &Context,
    caller: &User,
    action: AuditAction,
    facts: &PatientFacts,
    decision: Decision,
) -> Problem {
    let recorded = audit(
        context,
        caller,
        PatientEvent {
            action,
            entity: (EntityType::Patient, facts.id.as_str()),
            patient: &facts.id,
            outcome: Outcome::MinorFailure,
            reason: Some(decision.reason.code()),
            purpose: decision.purpose,
            justification: None,
        },
    )
    .await;
    if let Err(problem) = recorded {
        return problem;
    }
    match decision.reason {
        Reason::StepUpRequired => Problem::new(ProblemKind::StepUpRequired),
        Reason::ActionNotPermittedForRole | Reason::ClinicalContentNotPermitted => {
            Problem::new(ProblemKind::Forbidden)
                .with_detail("your role does not manage proxy access")
        }
        _ => no_patient(),
    }
}

/// Returns the state of a grant at `now`, for people reading the list.
fn state_of(grant: &ProxyGrant, facts: Option<&PatientFacts>, now: i64) -> &'static str {
    let today = portal_policy::Context::at(now).today;
    if grant.revoked_at.is_some_and(|at| at <= now) {
        "revoked"
    } else if grant.expires_at.is_some_and(|at| at <= now) {
        "expired"
    } else if grant.kind == GrantKind::Guardian
        && facts.is_some_and(|facts| facts.age_band(today) == AgeBand::Adult)
    {
        "ended_at_majority"
    } else if grant.kind == GrantKind::Guardian
        && grant.teen_consent_at.is_none()
        && facts.is_some_and(|facts| facts.age_band(today) == AgeBand::Teen)
    {
        "awaiting_teen_assent"
    } else {
        "active"
    }
}

fn grant_view(record: &GrantRecord, facts: Option<&PatientFacts>, now: i64) -> Value {
    let grant = &record.grant;
    json!({
        "id": grant.id,
        "patient": grant.patient,
        "grantee": grant.grantee,
        "kind": grant.kind,
        "scopes": grant.scopes,
        "consent": {
            "consented_by": grant.consent.consented_by,
            "consented_at": grant.consent.consented_at,
            "method": record.consent_method,
            "recorded_by": record.recorded_by,
        },
        "teen_assent_at": grant.teen_consent_at,
        "expires_at": grant.expires_at,
        "revoked_at": grant.revoked_at,
        "revoked_by": record.revoked_by,
        "state": state_of(grant, facts, now),
    })
}

#[derive(Deserialize)]
struct CreateBody {
    grantee_email: String,
    kind: GrantKind,
    scopes: ProxyScopes,
    #[serde(default)]
    expires_at: Option<i64>,
    #[serde(default)]
    consent_method: Option<ConsentMethod>,
    #[serde(default)]
    teen_assent: bool,
}

const CREATE_FIELDS: &[&str] = &[
    "grantee_email",
    "kind",
    "scopes",
    "expires_at",
    "consent_method",
    "teen_assent",
];

/// `POST /auth/patients/{id}/proxies`: grants a proxy access to the patient's record. The
/// patient grants caregivers and representatives in the portal; a clinician of the patient's
/// care team, or an admin, records any kind with the consent method it was given by.
/// Guardian grants need a recorded birth date under 18. All need a recent second factor.
pub async fn create(
    context: &Context,
    request: Request,
    patient: &str,
) -> Result<Response, Problem> {
    let caller = context.authenticate(&request, false).await?;
    refuse_proxy(&caller)?;
    let sealer = access_sealer().await?;
    let (patient_user, facts) = load_patient(context, &sealer, patient)?;
    let decision = decide(context, &caller, Action::AddProxy, &facts)?;
    if !decision.is_allowed() {
        return Err(refuse(
            context,
            &caller.user,
            AuditAction::ProxyAdded,
            &facts,
            decision,
        )
        .await);
    }
    let body: CreateBody =
        portal_spin::edge::read_json(request, portal_spin::edge::MAX_JSON_BODY, CREATE_FIELDS)
            .await?;
    let now = context.now;
    let today = portal_policy::Context::at(now).today;
    let by_patient = caller.user.role == Role::Patient;

    let consent_method = match (by_patient, body.consent_method) {
        (true, None | Some(ConsentMethod::Portal)) => ConsentMethod::Portal,
        (true, Some(_)) => {
            return Err(Problem::invalid_field("consent_method").with_detail(
                "a grant you make yourself is consented in the portal; leave consent_method out",
            ));
        }
        (false, Some(method)) if method != ConsentMethod::Portal => method,
        (false, _) => {
            return Err(Problem::invalid_field("consent_method")
                .with_detail("record how the consent was given: in_person, written or verbal"));
        }
    };
    if body.kind == GrantKind::Guardian {
        if by_patient {
            return Err(Problem::invalid_field("kind").with_detail(
                "guardian access is recorded by the care team; grant a caregiver or representative instead",
            ));
        }
        if !has_birth_date(&facts) || facts.age_band(today) == AgeBand::Adult {
            return Err(Problem::invalid_field("kind").with_detail(
                "guardian access needs a patient under 18 with a recorded date of birth",
            ));
        }
    }
    if body.teen_assent
        && (body.kind != GrantKind::Guardian || facts.age_band(today) != AgeBand::Teen)
    {
        return Err(Problem::invalid_field("teen_assent").with_detail(
            "teen assent applies only to guardian access to a patient aged 12 to 17",
        ));
    }
    let scopes = body.scopes;
    if !(scopes.read_messages || scopes.send_messages || scopes.read_files || scopes.upload_files) {
        return Err(Problem::invalid_field("scopes").with_detail("grant at least one scope"));
    }
    let expires_at = match (body.kind, body.expires_at) {
        (_, Some(at)) if at <= now => {
            return Err(
                Problem::invalid_field("expires_at").with_detail("give a time in the future")
            );
        }
        (GrantKind::Caregiver, Some(at)) if at > now + CAREGIVER_TERM_SECS => {
            return Err(Problem::invalid_field("expires_at")
                .with_limit(CAREGIVER_TERM_SECS as u64)
                .with_detail("caregiver access lasts at most 90 days; the patient can renew it"));
        }
        (GrantKind::Caregiver, None) => Some(now + CAREGIVER_TERM_SECS),
        (_, at) => at,
    };

    let grantee = find_proxy(context, &body.grantee_email)?;
    if grantee.id == patient_user.id {
        return Err(Problem::invalid_field("grantee_email"));
    }
    let held = grants_of(&context.store, &grantee.id, &facts.id)?;
    if held.iter().any(|grant| {
        state_of(grant, Some(&facts), now) != "revoked"
            && grant.expires_at.is_none_or(|at| at > now)
    }) {
        return Err(Problem::new(ProblemKind::Conflict).with_detail(
            "this proxy already holds access to the record; revoke it first to change it",
        ));
    }

    let id = portal_auth::secret::new_id(16)
        .ok()
        .and_then(|id| GrantId::new(id).ok())
        .ok_or_else(|| Problem::new(ProblemKind::ServiceUnavailable))?;
    let consented_by = if by_patient || body.kind != GrantKind::Guardian {
        patient_user.id.clone()
    } else {
        // For a child, the guardian's legal standing is the consent; the recorder checked it.
        caller.user.id.clone()
    };
    let record = GrantRecord {
        grant: ProxyGrant {
            id: id.clone(),
            patient: facts.id.clone(),
            grantee: grantee.id.clone(),
            kind: body.kind,
            scopes,
            consent: Consent {
                consented_by,
                consented_at: now,
            },
            teen_consent_at: body.teen_assent.then_some(now),
            expires_at,
            revoked_at: None,
        },
        consent_method,
        recorded_by: caller.user.id.clone(),
        revoked_by: None,
    };
    audit(
        context,
        &caller.user,
        PatientEvent {
            action: AuditAction::ProxyAdded,
            entity: (EntityType::Grant, id.as_str()),
            patient: &facts.id,
            outcome: Outcome::Success,
            reason: None,
            purpose: decision.purpose,
            justification: None,
        },
    )
    .await?;
    add_to_list(
        &context.store,
        &model::patient_grants_key(&facts.id),
        &id,
        MAX_GRANTS_PER_PATIENT,
    )?;
    context.store.set(&model::grant_key(&id), &record)?;
    add_to_list(
        &context.store,
        &model::grantee_grants_key(&grantee.id),
        &id,
        usize::MAX,
    )?;
    context
        .notify(
            &grantee,
            "You were given access to a record in the patient portal. Sign in to see it.",
        )
        .await;
    Ok(portal_spin::json_no_store(
        StatusCode::CREATED,
        &grant_view(&record, Some(&facts), now),
    ))
}

/// Finds the active proxy account registered under `email`.
fn find_proxy(context: &Context, email: &str) -> Result<User, Problem> {
    let unknown = || {
        Problem::invalid_field("grantee_email").with_detail(
            "no proxy account uses this email; ask the person to register as a proxy first",
        )
    };
    let normalized = FieldKind::Email.normalize(email).map_err(|_| unknown())?;
    let index = context.sealer.index(FieldKind::Email, &normalized)?;
    let user: UserId = context
        .store
        .get(&model::email_key(&index.to_base64url()), "email index")?
        .ok_or_else(unknown)?;
    context
        .load_user(&user)?
        .filter(|user| user.role == Role::Proxy && user.status == AccountStatus::Active)
        .ok_or_else(unknown)
}

/// Adds `id` to the list at `key`, rejecting it once the list has `max` ids.
fn add_to_list(store: &Store, key: &str, id: &GrantId, max: usize) -> Result<(), Problem> {
    store.update::<Vec<GrantId>, (), Problem>(key, "grant list", |current| {
        let mut list = current.unwrap_or_default();
        if list.contains(id) {
            return Ok((Update::Keep, ()));
        }
        if list.len() >= max {
            return Err(Problem::new(ProblemKind::Conflict)
                .with_limit(max as u64)
                .with_detail("this record has reached the number of proxy grants it can keep"));
        }
        list.push(id.clone());
        Ok((Update::Set(list), ()))
    })?
}

/// Loads grant `id` of `patient`, or the 404 of an unknown patient.
fn load_grant(context: &Context, patient: &PatientId, id: &str) -> Result<GrantRecord, Problem> {
    let id = GrantId::new(id).map_err(|_| no_patient())?;
    context
        .store
        .get::<GrantRecord>(&model::grant_key(&id), "grant")?
        .filter(|record| &record.grant.patient == patient)
        .ok_or_else(no_patient)
}

/// `GET /auth/patients/{id}/proxies`: the grants on a patient's record, for the patient, a
/// guardian of a child under 12, the care team and admins.
pub async fn list(context: &Context, request: Request, patient: &str) -> Result<Response, Problem> {
    let caller = context.authenticate(&request, false).await?;
    let sealer = access_sealer().await?;
    let (_, facts) = load_patient(context, &sealer, patient)?;
    let decision = decide(context, &caller, Action::RevokeProxy, &facts)?;
    if !decision.is_allowed() {
        return Err(refuse(
            context,
            &caller.user,
            AuditAction::ProxiesListed,
            &facts,
            decision,
        )
        .await);
    }
    audit(
        context,
        &caller.user,
        PatientEvent {
            action: AuditAction::ProxiesListed,
            entity: (EntityType::Patient, facts.id.as_str()),
            patient: &facts.id,
            outcome: Outcome::Success,
            reason: None,
            purpose: decision.purpose,
            justification: None,
        },
    )
    .await?;
    let ids: Vec<GrantId> = context
        .store
        .get(&model::patient_grants_key(&facts.id), "grant list")?
        .unwrap_or_default();
    let mut grants = Vec::new();
    for id in ids {
        if let Some(record) = context
            .store
            .get::<GrantRecord>(&model::grant_key(&id), "grant")?
        {
            grants.push(grant_view(&record, Some(&facts), context.now));
        }
    }
    Ok(portal_spin::json_no_store(
        StatusCode::OK,
        &json!({ "proxies": grants }),
    ))
}

/// `DELETE /auth/patients/{id}/proxies/{grant}`: ends a grant at once. The patient, the care
/// team, an admin or the proxy themselves may end it.
pub async fn revoke(
    context: &Context,
    request: Request,
    patient: &str,
    grant: &str,
) -> Result<Response, Problem> {
    let caller = context.authenticate(&request, false).await?;
    let sealer = access_sealer().await?;
    let (_, facts) = load_patient(context, &sealer, patient)?;
    let record = load_grant(context, &facts.id, grant)?;
    let own_grant = record.grant.grantee == caller.user.id;
    if !own_grant {
        refuse_proxy(&caller)?;
    }
    let purpose = if own_grant {
        PurposeOfUse::for_role(caller.user.role)
    } else {
        let decision = decide(context, &caller, Action::RevokeProxy, &facts)?;
        if !decision.is_allowed() {
            return Err(refuse(
                context,
                &caller.user,
                AuditAction::ProxyRevoked,
                &facts,
                decision,
            )
            .await);
        }
        decision.purpose
    };
    audit(
        context,
        &caller.user,
        PatientEvent {
            action: AuditAction::ProxyRevoked,
            entity: (EntityType::Grant, record.grant.id.as_str()),
            patient: &facts.id,
            outcome: Outcome::Success,
            reason: own_grant.then_some("renounced_by_proxy"),
            purpose,
            justification: None,
        },
    )
    .await?;
    let now = context.now;
    let by = caller.user.id.clone();
    let updated = context.store.update::<GrantRecord, GrantRecord, Problem>(
        &model::grant_key(&record.grant.id),
        "grant",
        |current| {
            let mut current = current.ok_or_else(no_patient)?;
            if current.grant.revoked_at.is_none() {
                current.grant.revoked_at = Some(now);
                current.revoked_by = Some(by.clone());
            }
            Ok((Update::Set(current.clone()), current))
        },
    )??;
    Ok(portal_spin::json_no_store(
        StatusCode::OK,
        &grant_view(&updated, Some(&facts), now),
    ))
}

/// `POST /auth/patients/{id}/proxies/{grant}/renew`: the patient extends a caregiver grant by
/// 90 days from now. Only the patient may renew it.
pub async fn renew(
    context: &Context,
    request: Request,
    patient: &str,
    grant: &str,
) -> Result<Response, Problem> {
    let caller = context.authenticate(&request, false).await?;
    let sealer = access_sealer().await?;
    let (_, facts) = load_patient(context, &sealer, patient)?;
    let record = load_grant(context, &facts.id, grant)?;
    if caller.user.id.as_str() != facts.id.as_str() {
        return Err(Problem::new(ProblemKind::Forbidden)
            .with_detail("only the patient renews a caregiver's access"));
    }
    // Renewing extends access like adding it, so it needs the same recent second factor.
    context.require_recent_second_factor(&caller)?;
    let now = context.now;
    let other_live = grants_of(&context.store, &record.grant.grantee, &facts.id)?
        .iter()
        .any(|grant| {
            grant.id != record.grant.id
                && grant.revoked_at.is_none()
                && grant.expires_at.is_none_or(|at| at > now)
        });
    if other_live {
        return Err(Problem::new(ProblemKind::Conflict)
            .with_detail("this proxy holds another current grant to the record; revoke it first"));
    }
    change_grant(
        context,
        &caller,
        &facts,
        &record,
        "renewed",
        |grant, now| {
            if grant.kind != GrantKind::Caregiver {
                return Err(Problem::new(ProblemKind::Conflict).with_detail(
                    "only caregiver access is renewed; other kinds have no fixed term",
                ));
            }
            if grant.revoked_at.is_some() {
                return Err(Problem::new(ProblemKind::Conflict)
                    .with_detail("this access was revoked; grant it again instead"));
            }
            grant.expires_at = Some(now + CAREGIVER_TERM_SECS);
            Ok(())
        },
    )
    .await
}

/// `POST /auth/patients/{id}/proxies/{grant}/assent`: a patient aged 12 to 17 agrees to a
/// guardian's access, which the policy requires before the guardian may act.
pub async fn assent(
    context: &Context,
    request: Request,
    patient: &str,
    grant: &str,
) -> Result<Response, Problem> {
    let caller = context.authenticate(&request, false).await?;
    let sealer = access_sealer().await?;
    let (_, facts) = load_patient(context, &sealer, patient)?;
    let record = load_grant(context, &facts.id, grant)?;
    if caller.user.id.as_str() != facts.id.as_str() {
        return Err(Problem::new(ProblemKind::Forbidden)
            .with_detail("only the patient gives assent to a guardian's access"));
    }
    let band = facts.age_band(portal_policy::Context::at(context.now).today);
    change_grant(
        context,
        &caller,
        &facts,
        &record,
        "teen_assent",
        |grant, now| {
            if grant.kind != GrantKind::Guardian || band != AgeBand::Teen {
                return Err(Problem::new(ProblemKind::Conflict).with_detail(
                    "assent applies to guardian access while the patient is 12 to 17",
                ));
            }
            if grant.teen_consent_at.is_none() {
                grant.teen_consent_at = Some(now);
            }
            Ok(())
        },
    )
    .await
}

/// Applies `change` to a grant after recording it in the audit log.
async fn change_grant(
    context: &Context,
    caller: &Authenticated,
    facts: &PatientFacts,
    record: &GrantRecord,
    reason: &'static str,
    change: impl Fn(&mut ProxyGrant, i64) -> Result<(), Problem>,
) -> Result<Response, Problem> {
    let now = context.now;
    // Checked once before the audit event, so a refused change records nothing.
    change(&mut record.grant.clone(), now)?;
    audit(
        context,
        &caller.user,
        PatientEvent {
            action: AuditAction::ProxyChanged,
            entity: (EntityType::Grant, record.grant.id.as_str()),
            patient: &facts.id,
            outcome: Outcome::Success,
            reason: Some(reason),
            purpose: PurposeOfUse::for_role(caller.user.role),
            justification: None,
        },
    )
    .await?;
    let updated = context.store.update::<GrantRecord, GrantRecord, Problem>(
        &model::grant_key(&record.grant.id),
        "grant",
        |current| {
            let mut current = current.ok_or_else(no_patient)?;
            change(&mut current.grant, now)?;
            Ok((Update::Set(current.clone()), current))
        },
    )??;
    Ok(portal_spin::json_no_store(
        StatusCode::OK,
        &grant_view(&updated, Some(facts), now),
    ))
}

/// `GET /auth/proxies`: the grants the signed-in proxy holds, so they can choose whom to act
/// for.
pub async fn held(context: &Context, request: Request) -> Result<Response, Problem> {
    let caller = context.authenticate(&request, false).await?;
    let ids: Vec<GrantId> = context
        .store
        .get(&model::grantee_grants_key(&caller.user.id), "grant list")?
        .unwrap_or_default();
    let sealer = access_sealer().await?;
    let mut grants = Vec::new();
    for id in ids {
        let Some(record) = context
            .store
            .get::<GrantRecord>(&model::grant_key(&id), "grant")?
        else {
            continue;
        };
        let facts = load_patient(context, &sealer, record.grant.patient.as_str()).ok();
        grants.push(grant_view(
            &record,
            facts.as_ref().map(|(_, facts)| facts),
            context.now,
        ));
    }
    Ok(portal_spin::json_no_store(
        StatusCode::OK,
        &json!({ "grants": grants, "acting_for": caller.session.on_behalf_of }),
    ))
}

#[derive(Deserialize)]
struct ActForBody {
    patient: Option<PatientId>,
}

/// `POST /auth/act-for`: a proxy's session starts acting for `patient`, or stops acting for
/// anyone with `null`, and gets an access token that names the patient. Tokens issued before stop
/// working on every component, because the session check reports the new patient.
pub async fn act_for(context: &Context, request: Request) -> Result<Response, Problem> {
    let caller = context.authenticate(&request, false).await?;
    if caller.user.role != Role::Proxy {
        return Err(Problem::new(ProblemKind::Forbidden)
            .with_detail("only proxy accounts act for another patient"));
    }
    let body: ActForBody =
        portal_spin::edge::read_json(request, portal_spin::edge::MAX_JSON_BODY, &["patient"])
            .await?;
    let now = context.now;
    if let Some(patient) = &body.patient {
        // The same check every component makes: some grant must allow something today, so a
        // revoked or expired grant, one ended at 18, or one waiting for a teen's assent does not
        // start a session for the patient.
        let acting = acting_for(&context.store, &caller.user.id, patient).await?;
        let usable = acting.allows_anything(&actor(context, &caller, patient)?, now);
        if !usable {
            return Err(Problem::new(ProblemKind::NotFound)
                .with_detail("you hold no current access to a patient with this id"));
        }
        audit(
            context,
            &caller.user,
            PatientEvent {
                action: AuditAction::ProxyActingFor,
                entity: (EntityType::Patient, patient.as_str()),
                patient,
                outcome: Outcome::Success,
                reason: None,
                purpose: PurposeOfUse::for_role(Role::Proxy),
                justification: None,
            },
        )
        .await?;
    }
    let patient = body.patient.clone();
    let session = context.store.update::<Session, Session, Problem>(
        &model::session_key(&caller.session.id),
        "session",
        |current| {
            let mut current = current.ok_or_else(|| Problem::new(ProblemKind::Unauthenticated))?;
            current.on_behalf_of = patient.clone();
            Ok((Update::Set(current.clone()), current))
        },
    )??;
    let access_token = session::issue_access(context, &caller.user, &session).await?;
    Ok(portal_spin::json_no_store(
        StatusCode::OK,
        &json!({
            "access_token": access_token,
            "token_type": "DPoP",
            "expires_in": context.settings.access_ttl_secs,
            "acting_for": session.on_behalf_of,
        }),
    ))
}

#[derive(Deserialize)]
struct BreakGlassBody {
    reason: String,
}

/// `POST /auth/patients/{id}/break-glass`: a clinician outside the patient's care teams opens
/// the record for `break_glass_secs` (one hour by default), stating why. The reason goes to
/// the audit log, which alerts compliance.
pub async fn break_glass(
    context: &Context,
    request: Request,
    patient: &str,
) -> Result<Response, Problem> {
    let caller = context.authenticate(&request, false).await?;
    if caller.user.role != Role::Clinician {
        return Err(Problem::new(ProblemKind::Forbidden)
            .with_detail("only clinicians may use emergency access"));
    }
    let body: BreakGlassBody =
        portal_spin::edge::read_json(request, portal_spin::edge::MAX_JSON_BODY, &["reason"])
            .await?;
    // Checked before the patient is looked up, so a refusal reveals nothing about the id.
    let reason = body.reason.trim();
    if !portal_policy::break_glass_reason_is_usable(reason) {
        return Err(Problem::invalid_field("reason")
            .with_limit(portal_policy::MAX_BREAK_GLASS_REASON_CHARS as u64)
            .with_detail(
                "state why emergency access is needed, in 10 to 500 characters on one line",
            ));
    }
    // Emergency access opens a record the clinician has no other claim to, so like an export it
    // needs a second factor within the step-up window.
    context.require_recent_second_factor(&caller)?;
    let sealer = access_sealer().await?;
    let (_, facts) = load_patient(context, &sealer, patient)?;
    let own_teams = session::current_teams(&context.store, &caller.user.id)?;
    if facts.care_teams.iter().any(|team| own_teams.contains(team)) {
        return Err(Problem::new(ProblemKind::Conflict)
            .with_detail("you are on this patient's care team; emergency access is not needed"));
    }
    let lasts = match spin_sdk::variables::get("break_glass_secs").await {
        Ok(value) if !value.is_empty() => value
            .parse::<i64>()
            .ok()
            .filter(|secs| (60..=24 * 3600).contains(secs))
            .ok_or_else(|| {
                eprintln!("variable break_glass_secs must be 60 to 86400 seconds");
                Problem::new(ProblemKind::ServiceUnavailable)
            })?,
        _ => DEFAULT_BREAK_GLASS_SECS,
    };
    audit(
        context,
        &caller.user,
        PatientEvent {
            action: AuditAction::BreakTheGlass,
            entity: (EntityType::Patient, facts.id.as_str()),
            patient: &facts.id,
            outcome: Outcome::Success,
            reason: Some(Reason::BreakTheGlass.code()),
            purpose: PurposeOfUse::EmergencyTreatment,
            justification: Some(reason.to_owned()),
        },
    )
    .await?;
    let key = model::emergency_key(&caller.user.id, &facts.id);
    let sealed = sealer.seal(&context.store, REASON_RECORD, &key, reason.as_bytes())?;
    let record = EmergencyRecord {
        patient: facts.id.clone(),
        reason: Base64::encode_string(&sealed),
        started_at: context.now,
        expires_at: context.now + lasts,
    };
    context.store.set(&key, &record)?;
    context.store.update::<Vec<PatientId>, (), Problem>(
        &model::emergency_list_key(&caller.user.id),
        "emergency list",
        |current| {
            let mut list = current.unwrap_or_default();
            if list.contains(&facts.id) {
                return Ok((Update::Keep, ()));
            }
            list.push(facts.id.clone());
            Ok((Update::Set(list), ()))
        },
    )??;
    Ok(portal_spin::json_no_store(
        StatusCode::CREATED,
        &json!({ "patient": facts.id, "expires_at": record.expires_at }),
    ))
}

/// Returns what the session check reports about a proxy's patient: the patient's birth date
/// and care teams, and every grant the proxy holds for them.
pub async fn acting_for(
    store: &Store,
    proxy: &UserId,
    patient: &PatientId,
) -> Result<ActingFor, Problem> {
    let grants = grants_of(store, proxy, patient)?;
    let patient_user = UserId::new(patient.as_str())
        .ok()
        .map(|id| store.get::<User>(&model::user_key(&id), "user"))
        .transpose()?
        .flatten()
        .filter(|user| user.role == Role::Patient && user.status == AccountStatus::Active);
    let Some(patient_user) = patient_user else {
        // A patient who is gone or disabled gives the proxy no grants to act under.
        return Ok(ActingFor {
            patient: patient.clone(),
            birth_date: None,
            care_teams: Vec::new(),
            grants: Vec::new(),
        });
    };
    let birth_date = match patient_user.birth_date {
        Some(_) => birth_date_of(&access_sealer().await?, &patient_user)?,
        None => None,
    };
    Ok(ActingFor {
        patient: patient.clone(),
        birth_date,
        care_teams: session::current_teams(store, &patient_user.id)?,
        grants,
    })
}

/// Returns the clinician's live emergency access, for the session check.
pub async fn emergency(
    store: &Store,
    clinician: &UserId,
    now: i64,
) -> Result<Vec<EmergencyAccess>, Problem> {
    let patients: Vec<PatientId> = store
        .get(&model::emergency_list_key(clinician), "emergency list")?
        .unwrap_or_default();
    let mut live = Vec::new();
    let mut sealer = None;
    for patient in patients {
        let key = model::emergency_key(clinician, &patient);
        let Some(record) = store.get::<EmergencyRecord>(&key, "emergency access")? else {
            continue;
        };
        if record.expires_at <= now {
            continue;
        }
        if sealer.is_none() {
            sealer = Some(access_sealer().await?);
        }
        let Some(sealer) = &sealer else { continue };
        let envelope =
            Base64::decode_vec(&record.reason).map_err(|_| Problem::new(ProblemKind::Internal))?;
        let reason = sealer.open(REASON_RECORD, &key, &envelope)?;
        live.push(EmergencyAccess {
            patient: record.patient,
            reason: String::from_utf8(reason.to_vec())
                .map_err(|_| Problem::new(ProblemKind::Internal))?,
            expires_at: record.expires_at,
        });
    }
    Ok(live)
}
