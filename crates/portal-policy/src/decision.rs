//! The authorization decision: deny by default, allow only through a listed rule.

use core::fmt;

use crate::relationship::{AgeBand, GrantKind, PatientFacts, ProxyGrant, ProxyScopes};
use crate::request::{
    Action, Actor, Context, MAX_BREAK_GLASS_REASON_CHARS, MIN_BREAK_GLASS_REASON_CHARS, Resource,
    Sensitivity,
};
use crate::role::{PurposeOfUse, Role};

/// Whether the action may proceed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    /// The action may proceed.
    Allow,
    /// The action must not proceed.
    Deny,
}

/// The rule that produced a decision. The code is stable and goes to the audit log; it is
/// not shown to users, because it can reveal that a record exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// Allowed: a patient acting on their own record.
    OwnRecord,
    /// Allowed: a user changing their own account settings.
    OwnAccount,
    /// Allowed: a proxy acting within a valid grant.
    ProxyGrant,
    /// Allowed: a clinician on the care team of the thread or patient.
    CareTeamMember,
    /// Allowed: a clinician outside the care team who gave a break-the-glass reason.
    BreakTheGlass,
    /// Allowed: an admin administering accounts, care teams or proxies.
    Administration,
    /// Allowed: a compliance officer reviewing the audit log.
    ComplianceReview,
    /// Denied: no rule allows this role to perform this action.
    ActionNotPermittedForRole,
    /// Denied: the action does not apply to this kind of resource.
    ActionNotApplicable,
    /// Denied: an admin or compliance officer asked for message bodies or files.
    ClinicalContentNotPermitted,
    /// Denied: a patient asked for another patient's record.
    NotOwnRecord,
    /// Denied: a user asked to change another user's account settings.
    NotOwnAccount,
    /// Denied: the proxy has no grant for this patient.
    NoGrant,
    /// Denied: the grant has expired.
    GrantExpired,
    /// Denied: the grant was revoked.
    GrantRevoked,
    /// Denied: the grant does not include the scope the action needs.
    ScopeNotGranted,
    /// Denied: a caregiver grant without an expiry, which the rules forbid.
    CaregiverGrantWithoutExpiry,
    /// Denied: the patient is 18 or over, so guardian access has ended.
    PatientReachedMajority,
    /// Denied: a teen's guardian asked for the teen's record without the teen's recorded
    /// consent.
    TeenConsentMissing,
    /// Denied: a proxy asked for a sensitive thread or file outside guardian access to a
    /// child under 12.
    SensitiveCategoryExcluded,
    /// Denied: a clinician outside the care team, without a break-the-glass request.
    NotOnCareTeam,
    /// Denied: a break-the-glass request without a usable reason.
    BreakGlassReasonMissing,
    /// Denied: the action needs a recent strong authentication. The client should prompt
    /// for one and retry.
    StepUpRequired,
}

impl Reason {
    /// Returns the stable snake_case code of the reason, as serialized.
    pub fn code(self) -> &'static str {
        match self {
            Reason::OwnRecord => "own_record",
            Reason::OwnAccount => "own_account",
            Reason::ProxyGrant => "proxy_grant",
            Reason::CareTeamMember => "care_team_member",
            Reason::BreakTheGlass => "break_the_glass",
            Reason::Administration => "administration",
            Reason::ComplianceReview => "compliance_review",
            Reason::ActionNotPermittedForRole => "action_not_permitted_for_role",
            Reason::ActionNotApplicable => "action_not_applicable",
            Reason::ClinicalContentNotPermitted => "clinical_content_not_permitted",
            Reason::NotOwnRecord => "not_own_record",
            Reason::NotOwnAccount => "not_own_account",
            Reason::NoGrant => "no_grant",
            Reason::GrantExpired => "grant_expired",
            Reason::GrantRevoked => "grant_revoked",
            Reason::ScopeNotGranted => "scope_not_granted",
            Reason::CaregiverGrantWithoutExpiry => "caregiver_grant_without_expiry",
            Reason::PatientReachedMajority => "patient_reached_majority",
            Reason::TeenConsentMissing => "teen_consent_missing",
            Reason::SensitiveCategoryExcluded => "sensitive_category_excluded",
            Reason::NotOnCareTeam => "not_on_care_team",
            Reason::BreakGlassReasonMissing => "break_glass_reason_missing",
            Reason::StepUpRequired => "step_up_required",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// The outcome of [`decide`], with what the audit record needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// Allow or deny.
    pub effect: Effect,
    /// The rule that decided.
    pub reason: Reason,
    /// The purpose of use to record, for denials as well as grants.
    pub purpose: PurposeOfUse,
    /// Whether compliance must be alerted (break-the-glass access).
    pub alert: bool,
}

impl Decision {
    /// Returns whether the action may proceed.
    pub fn is_allowed(&self) -> bool {
        self.effect == Effect::Allow
    }

    fn allow(reason: Reason, purpose: PurposeOfUse) -> Self {
        Self {
            effect: Effect::Allow,
            reason,
            purpose,
            alert: false,
        }
    }

    fn deny(reason: Reason, purpose: PurposeOfUse) -> Self {
        Self {
            effect: Effect::Deny,
            reason,
            purpose,
            alert: false,
        }
    }
}

/// Decides whether `actor` may perform `action` on `resource`.
///
/// Every path that is not an explicit rule below ends in a denial. After a rule allows,
/// actions that need step-up are denied with [`Reason::StepUpRequired`] unless the actor
/// authenticated with a second factor within `context.step_up_window_secs`.
pub fn decide(
    actor: &Actor,
    action: Action,
    resource: &Resource<'_>,
    context: &Context,
) -> Decision {
    let purpose = PurposeOfUse::for_role(actor.role);

    if !applies_to(action, resource) {
        return Decision::deny(Reason::ActionNotApplicable, purpose);
    }

    let decision = match actor.role {
        Role::Patient => decide_patient(actor, action, resource, purpose),
        Role::Proxy => decide_proxy(actor, action, resource, context, purpose),
        Role::Clinician => decide_clinician(actor, action, resource, context, purpose),
        Role::Admin => decide_admin(actor, action, resource, purpose),
        Role::ComplianceOfficer => decide_compliance(actor, action, resource, purpose),
    };

    if decision.is_allowed()
        && needs_step_up(action, resource)
        && !step_up_satisfied(actor, context)
    {
        return Decision::deny(Reason::StepUpRequired, decision.purpose);
    }
    decision
}

/// Returns whether the action needs a recent strong authentication on this resource.
pub fn needs_step_up(action: Action, resource: &Resource<'_>) -> bool {
    match action {
        Action::ExportRecord
        | Action::ExportAuditLog
        | Action::AddProxy
        | Action::ChangeNotificationDestination
        | Action::ChangeSecondFactor => true,
        Action::ReadThread => resource.sensitivity() == Sensitivity::Sensitive,
        _ => false,
    }
}

fn step_up_satisfied(actor: &Actor, context: &Context) -> bool {
    actor
        .authentication
        .is_recent_multi_factor(context.now, context.step_up_window_secs)
}

/// Returns whether the action is defined on this kind of resource.
fn applies_to(action: Action, resource: &Resource<'_>) -> bool {
    match action {
        Action::ReadThread | Action::SendMessage => matches!(resource, Resource::Thread { .. }),
        Action::ReadFile | Action::UploadFile => matches!(resource, Resource::File { .. }),
        Action::ExportRecord
        | Action::ViewAccessHistory
        | Action::AddProxy
        | Action::RevokeProxy => matches!(resource, Resource::PatientRecord { .. }),
        Action::ChangeNotificationDestination | Action::ChangeSecondFactor => {
            matches!(resource, Resource::Account { .. })
        }
        Action::ManageAccounts | Action::ManageCareTeams => {
            matches!(resource, Resource::Administration)
        }
        Action::ReadAuditLog | Action::ExportAuditLog => matches!(resource, Resource::AuditLog),
    }
}

/// Any role may change its own account settings, and only its own.
fn decide_own_account(actor: &Actor, resource: &Resource<'_>, purpose: PurposeOfUse) -> Decision {
    match resource {
        Resource::Account { user } if **user == actor.user => {
            Decision::allow(Reason::OwnAccount, purpose)
        }
        _ => Decision::deny(Reason::NotOwnAccount, purpose),
    }
}

fn decide_patient(
    actor: &Actor,
    action: Action,
    resource: &Resource<'_>,
    purpose: PurposeOfUse,
) -> Decision {
    match action {
        Action::ChangeNotificationDestination | Action::ChangeSecondFactor => {
            decide_own_account(actor, resource, purpose)
        }
        Action::ManageAccounts
        | Action::ManageCareTeams
        | Action::ReadAuditLog
        | Action::ExportAuditLog => Decision::deny(Reason::ActionNotPermittedForRole, purpose),
        _ => {
            let own = actor.own_record.as_ref();
            if own.is_some() && own == resource.patient_id() {
                Decision::allow(Reason::OwnRecord, purpose)
            } else {
                Decision::deny(Reason::NotOwnRecord, purpose)
            }
        }
    }
}

fn decide_proxy(
    actor: &Actor,
    action: Action,
    resource: &Resource<'_>,
    context: &Context,
    purpose: PurposeOfUse,
) -> Decision {
    match action {
        Action::ChangeNotificationDestination | Action::ChangeSecondFactor => {
            return decide_own_account(actor, resource, purpose);
        }
        Action::ManageAccounts
        | Action::ManageCareTeams
        | Action::ReadAuditLog
        | Action::ExportAuditLog => {
            return Decision::deny(Reason::ActionNotPermittedForRole, purpose);
        }
        _ => {}
    }

    let Some(patient) = resource.patient() else {
        return Decision::deny(Reason::ActionNotApplicable, purpose);
    };

    // Try every grant this proxy holds for the patient and allow if any one allows. When all
    // deny, report the first grant's reason, which is the one a support agent checks first.
    let mut first_denial = None;
    let grants = actor
        .grants
        .iter()
        .filter(|grant| grant.grantee == actor.user && grant.patient == patient.id);
    for grant in grants {
        let reason = evaluate_grant(grant, patient, action, resource, context);
        match reason {
            Ok(()) => return Decision::allow(Reason::ProxyGrant, purpose),
            Err(reason) => {
                first_denial.get_or_insert(reason);
            }
        }
    }
    Decision::deny(first_denial.unwrap_or(Reason::NoGrant), purpose)
}

/// Checks one grant against the action, returning the denial reason if it does not allow.
fn evaluate_grant(
    grant: &ProxyGrant,
    patient: &PatientFacts,
    action: Action,
    resource: &Resource<'_>,
    context: &Context,
) -> Result<(), Reason> {
    if grant
        .revoked_at
        .is_some_and(|revoked| revoked <= context.now)
    {
        return Err(Reason::GrantRevoked);
    }
    if grant
        .expires_at
        .is_some_and(|expires| expires <= context.now)
    {
        return Err(Reason::GrantExpired);
    }
    if grant.kind == GrantKind::Caregiver && grant.expires_at.is_none() {
        return Err(Reason::CaregiverGrantWithoutExpiry);
    }

    let age_band = patient.age_band(context.today);
    let full_guardian = grant.kind == GrantKind::Guardian && age_band == AgeBand::Child;

    if grant.kind == GrantKind::Guardian {
        if age_band == AgeBand::Adult {
            return Err(Reason::PatientReachedMajority);
        }
        if age_band == AgeBand::Teen && grant.teen_consent_at.is_none() {
            return Err(Reason::TeenConsentMissing);
        }
    }

    if resource.sensitivity() == Sensitivity::Sensitive && !full_guardian {
        return Err(Reason::SensitiveCategoryExcluded);
    }

    let scopes = if full_guardian {
        ProxyScopes::ALL
    } else {
        grant.scopes
    };
    let allowed = match action {
        Action::ReadThread => scopes.read_messages,
        Action::SendMessage => scopes.send_messages,
        Action::ReadFile => scopes.read_files,
        Action::UploadFile => scopes.upload_files,
        // A guardian of a child under 12 acts as the patient for record-level actions.
        Action::ExportRecord
        | Action::ViewAccessHistory
        | Action::AddProxy
        | Action::RevokeProxy => {
            if !full_guardian {
                return Err(Reason::ActionNotPermittedForRole);
            }
            true
        }
        _ => false,
    };

    if allowed {
        Ok(())
    } else {
        Err(Reason::ScopeNotGranted)
    }
}

fn decide_clinician(
    actor: &Actor,
    action: Action,
    resource: &Resource<'_>,
    context: &Context,
    purpose: PurposeOfUse,
) -> Decision {
    let on_care_team = match (action, resource) {
        (Action::ReadThread | Action::SendMessage, Resource::Thread { care_team, .. }) => {
            actor.care_teams.contains(care_team)
        }
        (Action::ReadFile | Action::UploadFile, Resource::File { patient, .. }) => patient
            .care_teams
            .iter()
            .any(|team| actor.care_teams.contains(team)),
        (Action::ChangeNotificationDestination | Action::ChangeSecondFactor, _) => {
            return decide_own_account(actor, resource, purpose);
        }
        // A clinician records a proxy the patient (or, for a child, the law) consented to,
        // or ends one, for patients of their own care teams only. Break-the-glass never
        // reaches these.
        (Action::AddProxy | Action::RevokeProxy, Resource::PatientRecord { patient }) => {
            return if patient
                .care_teams
                .iter()
                .any(|team| actor.care_teams.contains(team))
            {
                Decision::allow(Reason::CareTeamMember, purpose)
            } else {
                Decision::deny(Reason::NotOnCareTeam, purpose)
            };
        }
        _ => return Decision::deny(Reason::ActionNotPermittedForRole, purpose),
    };

    if on_care_team {
        return Decision::allow(Reason::CareTeamMember, purpose);
    }

    match &context.break_glass {
        None => Decision::deny(Reason::NotOnCareTeam, purpose),
        Some(request) if !break_glass_reason_is_usable(&request.reason) => Decision::deny(
            Reason::BreakGlassReasonMissing,
            PurposeOfUse::EmergencyTreatment,
        ),
        Some(_) => Decision {
            effect: Effect::Allow,
            reason: Reason::BreakTheGlass,
            purpose: PurposeOfUse::EmergencyTreatment,
            alert: true,
        },
    }
}

/// Returns whether `reason` may justify break-the-glass access: no control or deceptive
/// characters, at most [`MAX_BREAK_GLASS_REASON_CHARS`] characters after trimming, and at
/// least [`MIN_BREAK_GLASS_REASON_CHARS`] of them visible, so zero-width characters cannot
/// pad an empty reason.
pub fn break_glass_reason_is_usable(reason: &str) -> bool {
    let length = reason.trim().chars().count();
    let printable = !reason
        .chars()
        .any(|c| c.is_control() || crate::text::is_deceptive(c));

    printable
        && length <= MAX_BREAK_GLASS_REASON_CHARS
        && crate::text::visible_chars(reason) >= MIN_BREAK_GLASS_REASON_CHARS
}

fn decide_admin(
    actor: &Actor,
    action: Action,
    resource: &Resource<'_>,
    purpose: PurposeOfUse,
) -> Decision {
    match action {
        Action::ManageAccounts
        | Action::ManageCareTeams
        | Action::AddProxy
        | Action::RevokeProxy => Decision::allow(Reason::Administration, purpose),
        Action::ChangeNotificationDestination | Action::ChangeSecondFactor => {
            decide_own_account(actor, resource, purpose)
        }
        action if action.is_clinical() => {
            Decision::deny(Reason::ClinicalContentNotPermitted, purpose)
        }
        _ => Decision::deny(Reason::ActionNotPermittedForRole, purpose),
    }
}

fn decide_compliance(
    actor: &Actor,
    action: Action,
    resource: &Resource<'_>,
    purpose: PurposeOfUse,
) -> Decision {
    match action {
        Action::ReadAuditLog | Action::ExportAuditLog | Action::ViewAccessHistory => {
            Decision::allow(Reason::ComplianceReview, purpose)
        }
        Action::ChangeNotificationDestination | Action::ChangeSecondFactor => {
            decide_own_account(actor, resource, purpose)
        }
        action if action.is_clinical() => {
            Decision::deny(Reason::ClinicalContentNotPermitted, purpose)
        }
        _ => Decision::deny(Reason::ActionNotPermittedForRole, purpose),
    }
}
