//! Per-request state of the uploads component: the store, the keys, object storage, settings,
//! and the audit helper.

use std::net::IpAddr;

use portal_audit::{AuditAction, AuditActor, AuditEvent, Component, Entity, EntityType, Outcome};
use portal_crypto::Domain;
use portal_policy::{
    Action, Actor, BreakGlassRequest, Date, FileId, PatientFacts, PatientId, PurposeOfUse,
    RequestId, Resource, Role, Sensitivity, UserId,
};
use portal_problem::{Problem, ProblemKind};
use portal_spin::access::{ActingFor, Caller};
use portal_spin::crypto::Sealer;
use portal_spin::kv::Store;
use portal_spin::objects::ObjectStore;
use spin_sdk::http::Request;
use zeroize::Zeroizing;

use crate::model;

/// Default largest upload: 25 MiB, enough for a phone photo or a scanned document.
pub const DEFAULT_MAX_UPLOAD_BYTES: u64 = 25 << 20;

/// Maximum lifetime of a download link: five minutes, so a link that leaks from a browser history
/// or a log is useless soon after.
pub const LINK_LIFETIME_SECS: i64 = 300;

/// Settings from variables.
pub struct Settings {
    /// Largest upload in bytes (`upload_max_bytes`; empty means 25 MiB).
    pub max_upload_bytes: u64,
    /// clamd's `IP:PORT` (`clamav_address`; empty turns the scan off).
    pub clamav_address: Option<String>,
    /// HMAC key of download links (`download_link_key`, base64 of 32 bytes).
    pub link_key: Zeroizing<Vec<u8>>,
    /// The tenant.
    pub tenant: String,
    /// Base URL of auth's private session route.
    pub auth_url: String,
    /// How long a strong authentication satisfies step-up, in seconds.
    pub step_up_window_secs: i64,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("max_upload_bytes", &self.max_upload_bytes)
            .field("clamav", &self.clamav_address.is_some())
            .field("tenant", &self.tenant)
            .finish_non_exhaustive()
    }
}

/// Per-request state.
pub struct Context {
    /// The component's store.
    pub store: Store,
    /// The uploads domain's keys.
    pub sealer: Sealer,
    /// Object storage.
    pub objects: ObjectStore,
    /// Settings.
    pub settings: Settings,
    /// Id of this request, for logs and audit events.
    pub request_id: RequestId,
    /// The client's address, when known.
    pub address: Option<IpAddr>,
    /// Now, in Unix seconds.
    pub now: i64,
    /// The patient a proxy caller acts for, which the request's audit events name.
    acting_for: std::cell::OnceCell<PatientId>,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("settings", &self.settings)
            .field("request_id", &self.request_id)
            .finish_non_exhaustive()
    }
}

fn unavailable(what: &str) -> Problem {
    eprintln!("uploads misconfigured: {what}");
    Problem::new(ProblemKind::ServiceUnavailable)
}

async fn variable(name: &str) -> String {
    spin_sdk::variables::get(name).await.unwrap_or_default()
}

impl Context {
    /// Loads the store, keys and settings.
    pub async fn load(request: &Request) -> Result<Self, Problem> {
        let store = Store::open(model::STORE)?;
        let sealer = Sealer::load(Domain::Uploads).await?;
        let objects = ObjectStore::from_variables().await.map_err(|error| {
            eprintln!("{error}");
            Problem::new(ProblemKind::ServiceUnavailable)
        })?;
        let max_upload_bytes = match variable("upload_max_bytes").await.as_str() {
            "" => DEFAULT_MAX_UPLOAD_BYTES,
            value => value.parse().map_err(|_| unavailable("upload_max_bytes"))?,
        };
        let clamav_address =
            Some(variable("clamav_address").await).filter(|value| !value.is_empty());
        let link_key = Zeroizing::new(
            <base64ct::Base64 as base64ct::Encoding>::decode_vec(
                &variable("download_link_key").await,
            )
            .ok()
            .filter(|key| key.len() >= 32)
            .ok_or_else(|| unavailable("download_link_key"))?,
        );
        let request_id = portal_auth::secret::new_id(12)
            .ok()
            .and_then(|id| RequestId::new(id).ok())
            .ok_or_else(|| Problem::new(ProblemKind::ServiceUnavailable))?;
        Ok(Self {
            store,
            sealer,
            objects,
            settings: Settings {
                max_upload_bytes,
                clamav_address,
                link_key,
                tenant: variable("tenant").await,
                auth_url: variable("auth_url").await,
                step_up_window_secs: variable("step_up_window_secs")
                    .await
                    .parse::<i64>()
                    .map_or(portal_policy::DEFAULT_STEP_UP_WINDOW_SECS, |secs| {
                        secs.clamp(60, 3600)
                    }),
            },
            request_id,
            address: portal_spin::edge::client_address(request),
            now: portal_spin::now_secs(),
            acting_for: std::cell::OnceCell::new(),
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
        if let Some(patient) = caller.on_behalf_of() {
            self.set_acting_for(patient);
        }
        Ok(caller)
    }

    /// Records the patient a proxy acts for in this request, for its audit events. A context
    /// serves one caller, so the first value stays.
    pub fn set_acting_for(&self, patient: &PatientId) {
        let _ = self.acting_for.set(patient.clone());
    }

    /// Returns whether the shared policy lets a proxy do `action` on `file` of `patient`,
    /// under the grants auth reported for this request. Anyone but a proxy acting for
    /// `patient` gets `false`.
    pub fn proxy_allows(
        &self,
        caller: &Caller,
        action: Action,
        patient: &PatientId,
        file: &str,
        sensitive: bool,
    ) -> bool {
        match caller.acting_for.as_ref() {
            Some(acting) if caller.role == Role::Proxy => {
                self.grant_allows(&caller.actor(), acting, action, patient, file, sensitive)
            }
            _ => false,
        }
    }

    /// Returns whether `acting`'s grants let proxy `actor` do `action` on `file` of `patient`.
    pub fn grant_allows(
        &self,
        actor: &Actor,
        acting: &ActingFor,
        action: Action,
        patient: &PatientId,
        file: &str,
        sensitive: bool,
    ) -> bool {
        if &acting.patient != patient {
            return false;
        }
        let Ok(file) = FileId::new(file) else {
            return false;
        };
        let facts = acting.patient_facts();
        let resource = Resource::File {
            patient: &facts,
            file: &file,
            sensitivity: if sensitive {
                Sensitivity::Sensitive
            } else {
                Sensitivity::Normal
            },
        };
        let mut context = portal_policy::Context::at(self.now);
        context.step_up_window_secs = self.settings.step_up_window_secs;
        portal_policy::decide(actor, action, &resource, &context).is_allowed()
    }

    /// Returns whether a clinician's live break-the-glass access to `patient` lets them read
    /// `file` under the shared policy.
    pub fn emergency_allows(&self, caller: &Caller, patient: &PatientId, file: &str) -> bool {
        let (Some(access), Ok(file)) = (caller.emergency_for(patient), FileId::new(file)) else {
            return false;
        };
        // Only the clinician's own teams matter here; the patient's are not needed, because
        // this path is taken only when the clinician is not on them.
        let facts = PatientFacts {
            id: patient.clone(),
            birth_date: Date::MIN,
            care_teams: Vec::new(),
        };
        let resource = Resource::File {
            patient: &facts,
            file: &file,
            sensitivity: Sensitivity::Normal,
        };
        let mut context = portal_policy::Context::at(self.now);
        context.step_up_window_secs = self.settings.step_up_window_secs;
        context.break_glass = Some(BreakGlassRequest {
            reason: access.reason.clone(),
        });
        portal_policy::decide(&caller.actor(), Action::ReadFile, &resource, &context).is_allowed()
    }

    /// Returns whether the caller authenticated with a second factor within the step-up
    /// window.
    pub fn stepped_up(&self, caller: &Caller) -> bool {
        caller
            .token
            .authentication()
            .is_recent_multi_factor(self.now, self.settings.step_up_window_secs)
    }

    /// Records an event about `file` of `patient` by `actor`; the action fails if it cannot
    /// be recorded.
    pub async fn audit(
        &self,
        actor: (&UserId, Role),
        action: AuditAction,
        file: &str,
        patient: &PatientId,
        outcome: Outcome,
        reason: Option<&str>,
    ) -> Result<(), Problem> {
        self.audit_as(None, actor, action, file, patient, outcome, reason)
            .await
    }

    /// Records an event like [`Self::audit`], for `purpose` when given (emergency access)
    /// instead of the one the role implies.
    #[expect(
        clippy::too_many_arguments,
        reason = "an audit event has this many independent parts"
    )]
    pub async fn audit_as(
        &self,
        purpose: Option<PurposeOfUse>,
        (actor, role): (&UserId, Role),
        action: AuditAction,
        file: &str,
        patient: &PatientId,
        outcome: Outcome,
        reason: Option<&str>,
    ) -> Result<(), Problem> {
        let purpose = purpose.unwrap_or(match role {
            Role::Patient | Role::Proxy | Role::Clinician => PurposeOfUse::for_role(role),
            _ => PurposeOfUse::Operations,
        });
        let event = AuditEvent {
            actor: AuditActor::User {
                id: actor.clone(),
                role,
            },
            // A proxy's events name the patient the session acts for, also when a refused
            // attempt touched another patient's file.
            on_behalf_of: (role == Role::Proxy)
                .then(|| self.acting_for.get().cloned())
                .flatten(),
            action,
            entity: Entity {
                kind: EntityType::File,
                id: file.to_owned(),
            },
            patient: Some(patient.clone()),
            outcome,
            claimed_time_ms: portal_spin::now_millis(),
            source_address: self.address,
            purpose,
            component: Component::Uploads,
            request_id: self.request_id.clone(),
            // Audit reasons are snake_case; the sanitizer's finding codes use hyphens.
            reason: reason.map(|reason| reason.replace('-', "_")),
            justification: None,
        };
        portal_spin::audit::record(&event).await
    }
}
