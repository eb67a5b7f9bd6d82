//! Per-request state of the messaging component: the store, the keys, settings, the caller's
//! authorization, and the audit helper.

use std::net::IpAddr;

use portal_audit::{AuditAction, AuditActor, AuditEvent, Component, Entity, EntityType, Outcome};
use portal_crypto::Domain;
use portal_policy::{
    Action, BreakGlassRequest, CareTeamId, Date, Decision, PatientFacts, PatientId, PurposeOfUse,
    Reason, RequestId, Resource, Role,
};
use portal_problem::{Problem, ProblemKind};
use portal_spin::access::Caller;
use portal_spin::crypto::Sealer;
use portal_spin::kv::Store;
use spin_sdk::http::Request;

use crate::model::{self, ThreadRecord};

/// Default longest body, in characters: several screens of text, far more than a message
/// needs, and small enough to seal and render at once.
pub const DEFAULT_MAX_BODY_CHARS: usize = 20_000;

/// Settings from variables.
#[derive(Debug)]
pub struct Settings {
    /// Base URL of auth's private session route.
    pub auth_url: String,
    /// Base URL of auth's private notice route.
    pub notify_url: String,
    /// Base URL of uploads' private grant route.
    pub uploads_url: String,
    /// How long a strong authentication satisfies step-up, in seconds.
    pub step_up_window_secs: i64,
    /// Maximum body length, in characters (`message_max_chars`).
    pub max_body_chars: usize,
}

/// Per-request state.
pub struct Context {
    /// The component's store.
    pub store: Store,
    /// The messaging domain's keys.
    pub sealer: Sealer,
    /// Settings.
    pub settings: Settings,
    /// Id of this request, for logs and audit events.
    pub request_id: RequestId,
    /// The client's address, when known.
    pub address: Option<IpAddr>,
    /// Now, in Unix seconds.
    pub now: i64,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("settings", &self.settings)
            .field("request_id", &self.request_id)
            .finish_non_exhaustive()
    }
}

fn misconfigured(what: &str) -> Problem {
    eprintln!("messaging misconfigured: {what}");
    Problem::new(ProblemKind::ServiceUnavailable)
}

async fn variable(name: &str) -> String {
    spin_sdk::variables::get(name).await.unwrap_or_default()
}

impl Context {
    /// Loads the store, keys and settings.
    pub async fn load(request: &Request) -> Result<Self, Problem> {
        let store = Store::open(model::STORE)?;
        let sealer = Sealer::load(Domain::Messaging).await?;
        let step_up_window_secs = match variable("step_up_window_secs").await.as_str() {
            "" => portal_policy::DEFAULT_STEP_UP_WINDOW_SECS,
            value => value
                .parse::<i64>()
                .map_err(|_| misconfigured("step_up_window_secs"))?
                .clamp(60, 3600),
        };
        let max_body_chars = match variable("message_max_chars").await.as_str() {
            "" => DEFAULT_MAX_BODY_CHARS,
            value => value
                .parse::<usize>()
                .ok()
                .filter(|chars| (1..=100_000).contains(chars))
                .ok_or_else(|| misconfigured("message_max_chars"))?,
        };
        let request_id = portal_auth::secret::new_id(12)
            .ok()
            .and_then(|id| RequestId::new(id).ok())
            .ok_or_else(|| Problem::new(ProblemKind::ServiceUnavailable))?;
        Ok(Self {
            store,
            sealer,
            settings: Settings {
                auth_url: variable("auth_url").await,
                notify_url: variable("notify_url").await,
                uploads_url: variable("uploads_url").await,
                step_up_window_secs,
                max_body_chars,
            },
            request_id,
            address: portal_spin::edge::client_address(request),
            now: portal_spin::now_secs(),
        })
    }

    /// Authenticates the caller: token, DPoP proof and session.
    pub async fn caller(&self, request: &Request) -> Result<Caller, Problem> {
        let caller = portal_spin::access::authenticate(
            request,
            &self.store,
            &self.settings.auth_url,
            self.now,
        )
        .await?;
        if caller.role == Role::Proxy && caller.acting_for.is_none() {
            return Err(Problem::new(ProblemKind::Forbidden)
                .with_detail("choose the patient you act for at /auth/act-for, then retry"));
        }
        Ok(caller)
    }

    /// Decides whether `caller` may do `action` on `thread` under the shared policy.
    pub fn decide(&self, caller: &Caller, action: Action, thread: &ThreadRecord) -> Decision {
        let patient = patient_facts(caller, &thread.patient);
        let resource = Resource::Thread {
            patient: &patient,
            thread: &thread.id,
            care_team: &thread.care_team,
            sensitivity: thread.category.sensitivity(),
        };
        let mut context = portal_policy::Context::at(self.now);
        context.step_up_window_secs = self.settings.step_up_window_secs;
        context.break_glass =
            caller
                .emergency_for(&thread.patient)
                .map(|access| BreakGlassRequest {
                    reason: access.reason.clone(),
                });
        portal_policy::decide(&caller.actor(), action, &resource, &context)
    }

    /// Returns whether the caller authenticated with a second factor within the step-up
    /// window.
    pub fn stepped_up(&self, caller: &Caller) -> bool {
        caller
            .token
            .authentication()
            .is_recent_multi_factor(self.now, self.settings.step_up_window_secs)
    }

    /// Records an event about `entity` of `patient`; the action fails if it cannot be
    /// recorded.
    pub async fn audit(&self, caller: &Caller, event: Event<'_>) -> Result<(), Problem> {
        portal_spin::audit::record(&self.audit_event(caller, event)).await
    }

    /// Records `events` in one commit; the action fails if they cannot be recorded.
    pub async fn audit_all(&self, caller: &Caller, events: Vec<Event<'_>>) -> Result<(), Problem> {
        let events: Vec<AuditEvent> = events
            .into_iter()
            .map(|event| self.audit_event(caller, event))
            .collect();
        portal_spin::audit::record_batch(&events).await
    }

    fn audit_event(&self, caller: &Caller, event: Event<'_>) -> AuditEvent {
        let purpose = event
            .purpose
            .unwrap_or_else(|| PurposeOfUse::for_role(caller.role));
        AuditEvent {
            actor: AuditActor::User {
                id: caller.user().clone(),
                role: caller.role,
            },
            // A proxy's event names the patient the session acts for, also when a refused
            // attempt touched another patient's record.
            on_behalf_of: (caller.role == Role::Proxy && event.patient.is_some())
                .then(|| caller.on_behalf_of().cloned())
                .flatten(),
            action: event.action,
            entity: Entity {
                kind: event.entity.0,
                id: event.entity.1.to_owned(),
            },
            patient: event.patient.cloned(),
            outcome: event.outcome,
            claimed_time_ms: portal_spin::now_millis(),
            source_address: self.address,
            purpose,
            component: Component::Messaging,
            request_id: self.request_id.clone(),
            reason: event.reason.map(str::to_owned),
            justification: None,
        }
    }

    /// Records a denial by the policy, then returns the problem to respond with: 404 where
    /// the thread must not be revealed, 403 where the role can never read messages, and the
    /// step-up problem where a recent second factor would allow it.
    pub async fn deny(
        &self,
        caller: &Caller,
        action: AuditAction,
        thread: &ThreadRecord,
        decision: Decision,
    ) -> Problem {
        let recorded = self
            .audit(
                caller,
                Event {
                    action,
                    entity: (EntityType::Thread, thread.id.as_str()),
                    patient: Some(&thread.patient),
                    outcome: Outcome::MinorFailure,
                    reason: Some(decision.reason.code()),
                    purpose: Some(decision.purpose),
                },
            )
            .await;
        if let Err(problem) = recorded {
            return problem;
        }
        denial_problem(decision.reason)
    }
}

/// What an audit event records, beyond what the context knows.
#[derive(Debug)]
pub struct Event<'a> {
    /// The action.
    pub action: AuditAction,
    /// The entity's type and id.
    pub entity: (EntityType, &'a str),
    /// The patient whose record it is.
    pub patient: Option<&'a PatientId>,
    /// The outcome.
    pub outcome: Outcome,
    /// Why it failed, as a snake_case code.
    pub reason: Option<&'a str>,
    /// The purpose of use, when the policy decided one.
    pub purpose: Option<PurposeOfUse>,
}

impl<'a> Event<'a> {
    /// A successful `action` on `entity` of `patient`, for `purpose`.
    pub fn success(
        action: AuditAction,
        entity: (EntityType, &'a str),
        patient: &'a PatientId,
        purpose: PurposeOfUse,
    ) -> Self {
        Self {
            action,
            entity,
            patient: Some(patient),
            outcome: Outcome::Success,
            reason: None,
            purpose: Some(purpose),
        }
    }
}

/// What the policy needs to know about `patient`. Only a proxy's age rules read the birth
/// date, and auth sends it only for the patient the proxy acts for; anyone else gets the
/// earliest date, which makes every patient an adult and so fails closed.
pub fn patient_facts(caller: &Caller, patient: &PatientId) -> PatientFacts {
    match &caller.acting_for {
        Some(acting) if &acting.patient == patient => acting.patient_facts(),
        _ => PatientFacts {
            id: patient.clone(),
            birth_date: Date::MIN,
            care_teams: Vec::new(),
        },
    }
}

/// Returns the patient whose side of a conversation the caller speaks for: a patient's own record,
/// or the patient a proxy acts for. Clinicians speak for none.
pub fn speaks_for(caller: &Caller) -> Option<PatientId> {
    match caller.role {
        Role::Patient => caller.actor().own_record,
        Role::Proxy => caller.on_behalf_of().cloned(),
        _ => None,
    }
}

/// Returns the care teams of the patient the caller speaks for, as auth reported them on this request.
pub fn teams_spoken_for(caller: &Caller) -> &[CareTeamId] {
    match (&caller.role, &caller.acting_for) {
        (Role::Proxy, Some(acting)) => &acting.care_teams,
        (Role::Patient, _) => &caller.care_teams,
        _ => &[],
    }
}

/// Builds the problem for a denial: the same 404 as an unknown thread unless the denial reveals
/// nothing about the thread.
pub fn denial_problem(reason: Reason) -> Problem {
    match reason {
        Reason::StepUpRequired => Problem::new(ProblemKind::StepUpRequired).with_detail(
            "this thread is in a sensitive category; confirm your second factor and retry",
        ),
        Reason::ClinicalContentNotPermitted | Reason::ActionNotPermittedForRole => {
            Problem::new(ProblemKind::Forbidden)
                .with_detail("your role does not give access to secure messages")
        }
        // Only a proxy with a grant for this patient gets here, so the thread is no secret.
        Reason::ScopeNotGranted => Problem::new(ProblemKind::Forbidden)
            .with_detail("your access to this record does not include this action"),
        _ => thread_not_found(),
    }
}

/// The 404 for a thread that does not exist or that the caller may not see.
pub fn thread_not_found() -> Problem {
    Problem::new(ProblemKind::NotFound).with_detail("no thread you may see has this id")
}

/// Refuses roles that may never read or write messages (admins and compliance officers),
/// recording the refusal against `thread` when the request named one that exists. Returns
/// 403 whether or not the thread exists, so the response reveals nothing.
pub async fn refuse_role(
    cx: &Context,
    caller: &Caller,
    thread: Option<&ThreadRecord>,
) -> Result<(), Problem> {
    if matches!(caller.role, Role::Patient | Role::Clinician | Role::Proxy) {
        return Ok(());
    }
    let entity = match thread {
        Some(thread) => (EntityType::Thread, thread.id.as_str()),
        None => (EntityType::User, caller.user().as_str()),
    };
    cx.audit(
        caller,
        Event {
            action: AuditAction::MessagingRefused,
            entity,
            patient: thread.map(|thread| &thread.patient),
            outcome: Outcome::MinorFailure,
            reason: Some(Reason::ClinicalContentNotPermitted.code()),
            purpose: None,
        },
    )
    .await?;
    Err(denial_problem(Reason::ClinicalContentNotPermitted))
}
