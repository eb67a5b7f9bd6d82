//! Decision tables for `portal_policy::decide`: every role against every action, then the
//! edge cases of grants, minors, care teams, break-the-glass and step-up.

#![expect(
    clippy::unwrap_used,
    reason = "a test reports an unexpected error by panicking"
)]

use portal_policy::{
    Action, Actor, Authentication, BreakGlassRequest, CareTeamId, Consent, Context, Date, Decision,
    Effect, FileId, GrantId, GrantKind, PatientFacts, PatientId, ProxyGrant, ProxyScopes,
    PurposeOfUse, Reason, Resource, Role, Sensitivity, ThreadId, UserId, decide,
};
use time::Month;

/// 2026-03-10T12:00:00Z.
const NOW: i64 = 1_773_144_000;
const DAY: i64 = 86_400;

struct World {
    patient: PatientFacts,
    thread: ThreadId,
    care_team: CareTeamId,
    file: FileId,
}

impl World {
    fn new(birth_date: Date) -> Self {
        Self {
            patient: PatientFacts {
                id: PatientId::new("patient-1").unwrap(),
                birth_date,
                care_teams: vec![CareTeamId::new("team-cardiology").unwrap()],
            },
            thread: ThreadId::new("thread-1").unwrap(),
            care_team: CareTeamId::new("team-cardiology").unwrap(),
            file: FileId::new("file-1").unwrap(),
        }
    }

    fn adult() -> Self {
        Self::new(date(1980, Month::May, 1))
    }

    fn thread(&self, sensitivity: Sensitivity) -> Resource<'_> {
        Resource::Thread {
            patient: &self.patient,
            thread: &self.thread,
            care_team: &self.care_team,
            sensitivity,
        }
    }

    fn file(&self, sensitivity: Sensitivity) -> Resource<'_> {
        Resource::File {
            patient: &self.patient,
            file: &self.file,
            sensitivity,
        }
    }

    fn record(&self) -> Resource<'_> {
        Resource::PatientRecord {
            patient: &self.patient,
        }
    }

    /// Returns the resource each action is normally performed on.
    fn resource_for<'a>(&'a self, action: Action, actor: &'a Actor) -> Resource<'a> {
        match action {
            Action::ReadThread | Action::SendMessage => self.thread(Sensitivity::Normal),
            Action::ReadFile | Action::UploadFile => self.file(Sensitivity::Normal),
            Action::ExportRecord
            | Action::ViewAccessHistory
            | Action::AddProxy
            | Action::RevokeProxy => self.record(),
            Action::ChangeNotificationDestination | Action::ChangeSecondFactor => {
                Resource::Account { user: &actor.user }
            }
            Action::ManageAccounts | Action::ManageCareTeams => Resource::Administration,
            Action::ReadAuditLog | Action::ExportAuditLog => Resource::AuditLog,
        }
    }
}

fn date(year: i32, month: Month, day: u8) -> Date {
    Date::from_calendar_date(year, month, day).unwrap()
}

fn fresh_mfa() -> Authentication {
    Authentication {
        auth_time: NOW - 60,
        multi_factor: true,
    }
}

fn actor(role: Role, user: &str) -> Actor {
    Actor {
        user: UserId::new(user).unwrap(),
        role,
        authentication: fresh_mfa(),
        own_record: None,
        care_teams: Vec::new(),
        grants: Vec::new(),
    }
}

fn grant(kind: GrantKind, scopes: ProxyScopes) -> ProxyGrant {
    ProxyGrant {
        id: GrantId::new("grant-1").unwrap(),
        patient: PatientId::new("patient-1").unwrap(),
        grantee: UserId::new("user-proxy").unwrap(),
        kind,
        scopes,
        consent: Consent {
            consented_by: UserId::new("user-patient").unwrap(),
            consented_at: NOW - 30 * DAY,
        },
        teen_consent_at: None,
        expires_at: Some(NOW + 30 * DAY),
        revoked_at: None,
    }
}

fn patient_actor() -> Actor {
    let mut actor = actor(Role::Patient, "user-patient");
    actor.own_record = Some(PatientId::new("patient-1").unwrap());
    actor
}

fn proxy_actor(grant: ProxyGrant) -> Actor {
    let mut actor = actor(Role::Proxy, "user-proxy");
    actor.grants = vec![grant];
    actor
}

fn clinician_actor(team: &str) -> Actor {
    let mut actor = actor(Role::Clinician, "user-clinician");
    actor.care_teams = vec![CareTeamId::new(team).unwrap()];
    actor
}

fn actor_for(role: Role) -> Actor {
    match role {
        Role::Patient => patient_actor(),
        Role::Proxy => proxy_actor(grant(GrantKind::Representative, ProxyScopes::ALL)),
        Role::Clinician => clinician_actor("team-cardiology"),
        Role::Admin => actor(Role::Admin, "user-admin"),
        Role::ComplianceOfficer => actor(Role::ComplianceOfficer, "user-compliance"),
    }
}

fn assert_denied(decision: Decision, reason: Reason) {
    assert_eq!(
        decision.effect,
        Effect::Deny,
        "expected a denial for {reason}"
    );
    assert_eq!(decision.reason, reason);
}

fn assert_allowed(decision: Decision, reason: Reason) {
    assert_eq!(
        decision.effect,
        Effect::Allow,
        "expected an allow by {reason}"
    );
    assert_eq!(decision.reason, reason);
}

use Effect::{Allow, Deny};
use Reason::*;

/// Expected decisions with a fresh second-factor authentication, for every role and action.
const TABLE: &[(Role, Action, Effect, Reason)] = &[
    (Role::Patient, Action::ReadThread, Allow, OwnRecord),
    (Role::Patient, Action::SendMessage, Allow, OwnRecord),
    (Role::Patient, Action::ReadFile, Allow, OwnRecord),
    (Role::Patient, Action::UploadFile, Allow, OwnRecord),
    (Role::Patient, Action::ExportRecord, Allow, OwnRecord),
    (Role::Patient, Action::ViewAccessHistory, Allow, OwnRecord),
    (Role::Patient, Action::AddProxy, Allow, OwnRecord),
    (Role::Patient, Action::RevokeProxy, Allow, OwnRecord),
    (
        Role::Patient,
        Action::ChangeNotificationDestination,
        Allow,
        OwnAccount,
    ),
    (Role::Patient, Action::ChangeSecondFactor, Allow, OwnAccount),
    (
        Role::Patient,
        Action::ManageAccounts,
        Deny,
        ActionNotPermittedForRole,
    ),
    (
        Role::Patient,
        Action::ManageCareTeams,
        Deny,
        ActionNotPermittedForRole,
    ),
    (
        Role::Patient,
        Action::ReadAuditLog,
        Deny,
        ActionNotPermittedForRole,
    ),
    (
        Role::Patient,
        Action::ExportAuditLog,
        Deny,
        ActionNotPermittedForRole,
    ),
    (Role::Proxy, Action::ReadThread, Allow, ProxyGrant),
    (Role::Proxy, Action::SendMessage, Allow, ProxyGrant),
    (Role::Proxy, Action::ReadFile, Allow, ProxyGrant),
    (Role::Proxy, Action::UploadFile, Allow, ProxyGrant),
    (
        Role::Proxy,
        Action::ExportRecord,
        Deny,
        ActionNotPermittedForRole,
    ),
    (
        Role::Proxy,
        Action::ViewAccessHistory,
        Deny,
        ActionNotPermittedForRole,
    ),
    (
        Role::Proxy,
        Action::AddProxy,
        Deny,
        ActionNotPermittedForRole,
    ),
    (
        Role::Proxy,
        Action::RevokeProxy,
        Deny,
        ActionNotPermittedForRole,
    ),
    (
        Role::Proxy,
        Action::ChangeNotificationDestination,
        Allow,
        OwnAccount,
    ),
    (Role::Proxy, Action::ChangeSecondFactor, Allow, OwnAccount),
    (
        Role::Proxy,
        Action::ManageAccounts,
        Deny,
        ActionNotPermittedForRole,
    ),
    (
        Role::Proxy,
        Action::ManageCareTeams,
        Deny,
        ActionNotPermittedForRole,
    ),
    (
        Role::Proxy,
        Action::ReadAuditLog,
        Deny,
        ActionNotPermittedForRole,
    ),
    (
        Role::Proxy,
        Action::ExportAuditLog,
        Deny,
        ActionNotPermittedForRole,
    ),
    (Role::Clinician, Action::ReadThread, Allow, CareTeamMember),
    (Role::Clinician, Action::SendMessage, Allow, CareTeamMember),
    (Role::Clinician, Action::ReadFile, Allow, CareTeamMember),
    (Role::Clinician, Action::UploadFile, Allow, CareTeamMember),
    (
        Role::Clinician,
        Action::ExportRecord,
        Deny,
        ActionNotPermittedForRole,
    ),
    (
        Role::Clinician,
        Action::ViewAccessHistory,
        Deny,
        ActionNotPermittedForRole,
    ),
    (Role::Clinician, Action::AddProxy, Allow, CareTeamMember),
    (Role::Clinician, Action::RevokeProxy, Allow, CareTeamMember),
    (
        Role::Clinician,
        Action::ChangeNotificationDestination,
        Allow,
        OwnAccount,
    ),
    (
        Role::Clinician,
        Action::ChangeSecondFactor,
        Allow,
        OwnAccount,
    ),
    (
        Role::Clinician,
        Action::ManageAccounts,
        Deny,
        ActionNotPermittedForRole,
    ),
    (
        Role::Clinician,
        Action::ManageCareTeams,
        Deny,
        ActionNotPermittedForRole,
    ),
    (
        Role::Clinician,
        Action::ReadAuditLog,
        Deny,
        ActionNotPermittedForRole,
    ),
    (
        Role::Clinician,
        Action::ExportAuditLog,
        Deny,
        ActionNotPermittedForRole,
    ),
    (
        Role::Admin,
        Action::ReadThread,
        Deny,
        ClinicalContentNotPermitted,
    ),
    (
        Role::Admin,
        Action::SendMessage,
        Deny,
        ClinicalContentNotPermitted,
    ),
    (
        Role::Admin,
        Action::ReadFile,
        Deny,
        ClinicalContentNotPermitted,
    ),
    (
        Role::Admin,
        Action::UploadFile,
        Deny,
        ClinicalContentNotPermitted,
    ),
    (
        Role::Admin,
        Action::ExportRecord,
        Deny,
        ClinicalContentNotPermitted,
    ),
    (
        Role::Admin,
        Action::ViewAccessHistory,
        Deny,
        ActionNotPermittedForRole,
    ),
    (Role::Admin, Action::AddProxy, Allow, Administration),
    (Role::Admin, Action::RevokeProxy, Allow, Administration),
    (
        Role::Admin,
        Action::ChangeNotificationDestination,
        Allow,
        OwnAccount,
    ),
    (Role::Admin, Action::ChangeSecondFactor, Allow, OwnAccount),
    (Role::Admin, Action::ManageAccounts, Allow, Administration),
    (Role::Admin, Action::ManageCareTeams, Allow, Administration),
    (
        Role::Admin,
        Action::ReadAuditLog,
        Deny,
        ActionNotPermittedForRole,
    ),
    (
        Role::Admin,
        Action::ExportAuditLog,
        Deny,
        ActionNotPermittedForRole,
    ),
    (
        Role::ComplianceOfficer,
        Action::ReadThread,
        Deny,
        ClinicalContentNotPermitted,
    ),
    (
        Role::ComplianceOfficer,
        Action::SendMessage,
        Deny,
        ClinicalContentNotPermitted,
    ),
    (
        Role::ComplianceOfficer,
        Action::ReadFile,
        Deny,
        ClinicalContentNotPermitted,
    ),
    (
        Role::ComplianceOfficer,
        Action::UploadFile,
        Deny,
        ClinicalContentNotPermitted,
    ),
    (
        Role::ComplianceOfficer,
        Action::ExportRecord,
        Deny,
        ClinicalContentNotPermitted,
    ),
    (
        Role::ComplianceOfficer,
        Action::ViewAccessHistory,
        Allow,
        ComplianceReview,
    ),
    (
        Role::ComplianceOfficer,
        Action::AddProxy,
        Deny,
        ActionNotPermittedForRole,
    ),
    (
        Role::ComplianceOfficer,
        Action::RevokeProxy,
        Deny,
        ActionNotPermittedForRole,
    ),
    (
        Role::ComplianceOfficer,
        Action::ChangeNotificationDestination,
        Allow,
        OwnAccount,
    ),
    (
        Role::ComplianceOfficer,
        Action::ChangeSecondFactor,
        Allow,
        OwnAccount,
    ),
    (
        Role::ComplianceOfficer,
        Action::ManageAccounts,
        Deny,
        ActionNotPermittedForRole,
    ),
    (
        Role::ComplianceOfficer,
        Action::ManageCareTeams,
        Deny,
        ActionNotPermittedForRole,
    ),
    (
        Role::ComplianceOfficer,
        Action::ReadAuditLog,
        Allow,
        ComplianceReview,
    ),
    (
        Role::ComplianceOfficer,
        Action::ExportAuditLog,
        Allow,
        ComplianceReview,
    ),
];

#[test]
fn table_covers_every_role_and_action() {
    for role in Role::ALL {
        for action in Action::ALL {
            let rows = TABLE
                .iter()
                .filter(|(r, a, _, _)| *r == role && *a == action)
                .count();
            assert_eq!(rows, 1, "{role} {action:?} must appear exactly once");
        }
    }
}

#[test]
fn every_role_and_action_with_fresh_step_up() {
    let world = World::adult();
    let context = Context::at(NOW);

    for &(role, action, effect, reason) in TABLE {
        let actor = actor_for(role);
        let resource = world.resource_for(action, &actor);
        let decision = decide(&actor, action, &resource, &context);

        assert_eq!(decision.effect, effect, "{role} {action:?}");
        assert_eq!(decision.reason, reason, "{role} {action:?}");
        assert_eq!(
            decision.purpose,
            PurposeOfUse::for_role(role),
            "{role} {action:?}"
        );
        assert!(!decision.alert, "{role} {action:?}");
    }
}

#[test]
fn every_role_and_action_with_stale_authentication() {
    let world = World::adult();
    let context = Context::at(NOW);

    for &(role, action, effect, reason) in TABLE {
        let mut actor = actor_for(role);
        actor.authentication.auth_time = NOW - 3_600;
        let resource = world.resource_for(action, &actor);
        let decision = decide(&actor, action, &resource, &context);

        let step_up = portal_policy::needs_step_up(action, &resource);
        if effect == Allow && step_up {
            assert_denied(decision, StepUpRequired);
        } else {
            assert_eq!(decision.effect, effect, "{role} {action:?}");
            assert_eq!(decision.reason, reason, "{role} {action:?}");
        }
    }
}

#[test]
fn purpose_of_use_follows_role() {
    assert_eq!(PurposeOfUse::for_role(Role::Patient).code(), "PATRQT");
    assert_eq!(PurposeOfUse::for_role(Role::Proxy).code(), "FAMRQT");
    assert_eq!(PurposeOfUse::for_role(Role::Clinician).code(), "TREAT");
    assert_eq!(PurposeOfUse::for_role(Role::Admin).code(), "HSYSADMIN");
    assert_eq!(
        PurposeOfUse::for_role(Role::ComplianceOfficer).code(),
        "HCOMPL"
    );
}

#[test]
fn patient_reading_another_patients_thread_is_denied() {
    let world = World::adult();
    let mut actor = patient_actor();
    actor.own_record = Some(PatientId::new("patient-2").unwrap());

    let decision = decide(
        &actor,
        Action::ReadThread,
        &world.thread(Sensitivity::Normal),
        &Context::at(NOW),
    );
    assert_denied(decision, NotOwnRecord);
}

#[test]
fn patient_without_own_record_is_denied() {
    let world = World::adult();
    let mut actor = patient_actor();
    actor.own_record = None;

    let decision = decide(
        &actor,
        Action::ReadFile,
        &world.file(Sensitivity::Normal),
        &Context::at(NOW),
    );
    assert_denied(decision, NotOwnRecord);
}

#[test]
fn changing_another_users_second_factor_is_denied() {
    let other = UserId::new("user-other").unwrap();
    for role in Role::ALL {
        let actor = actor_for(role);
        let resource = Resource::Account { user: &other };
        let decision = decide(
            &actor,
            Action::ChangeSecondFactor,
            &resource,
            &Context::at(NOW),
        );
        assert_denied(decision, NotOwnAccount);
    }
}

#[test]
fn action_on_wrong_resource_kind_is_not_applicable() {
    let world = World::adult();
    let actor = patient_actor();
    let decision = decide(
        &actor,
        Action::ReadThread,
        &world.file(Sensitivity::Normal),
        &Context::at(NOW),
    );
    assert_denied(decision, ActionNotApplicable);
}

#[test]
fn proxy_with_expired_grant_is_denied() {
    let world = World::adult();
    let mut expired = grant(GrantKind::Representative, ProxyScopes::ALL);
    expired.expires_at = Some(NOW - 1);
    let actor = proxy_actor(expired);

    let decision = decide(
        &actor,
        Action::ReadThread,
        &world.thread(Sensitivity::Normal),
        &Context::at(NOW),
    );
    assert_denied(decision, GrantExpired);
}

#[test]
fn grant_expiring_now_is_expired() {
    let world = World::adult();
    let mut expiring = grant(GrantKind::Caregiver, ProxyScopes::ALL);
    expiring.expires_at = Some(NOW);
    let actor = proxy_actor(expiring);

    let decision = decide(
        &actor,
        Action::ReadFile,
        &world.file(Sensitivity::Normal),
        &Context::at(NOW),
    );
    assert_denied(decision, GrantExpired);
}

#[test]
fn proxy_with_revoked_grant_is_denied() {
    let world = World::adult();
    let mut revoked = grant(GrantKind::Representative, ProxyScopes::ALL);
    revoked.revoked_at = Some(NOW - 10);
    let actor = proxy_actor(revoked);

    let decision = decide(
        &actor,
        Action::ReadThread,
        &world.thread(Sensitivity::Normal),
        &Context::at(NOW),
    );
    assert_denied(decision, GrantRevoked);
}

#[test]
fn proxy_without_scope_is_denied() {
    let world = World::adult();
    let read_only = ProxyScopes {
        read_messages: true,
        ..ProxyScopes::default()
    };
    let actor = proxy_actor(grant(GrantKind::Representative, read_only));
    let context = Context::at(NOW);

    let read = decide(
        &actor,
        Action::ReadThread,
        &world.thread(Sensitivity::Normal),
        &context,
    );
    assert_allowed(read, ProxyGrant);
    let send = decide(
        &actor,
        Action::SendMessage,
        &world.thread(Sensitivity::Normal),
        &context,
    );
    assert_denied(send, ScopeNotGranted);
    let upload = decide(
        &actor,
        Action::UploadFile,
        &world.file(Sensitivity::Normal),
        &context,
    );
    assert_denied(upload, ScopeNotGranted);
}

#[test]
fn proxy_without_grant_for_patient_is_denied() {
    let world = World::adult();
    let mut other_patient = grant(GrantKind::Representative, ProxyScopes::ALL);
    other_patient.patient = PatientId::new("patient-2").unwrap();
    let actor = proxy_actor(other_patient);

    let decision = decide(
        &actor,
        Action::ReadThread,
        &world.thread(Sensitivity::Normal),
        &Context::at(NOW),
    );
    assert_denied(decision, NoGrant);
}

#[test]
fn grant_held_by_another_user_is_ignored() {
    let world = World::adult();
    let mut someone_elses = grant(GrantKind::Representative, ProxyScopes::ALL);
    someone_elses.grantee = UserId::new("user-other").unwrap();
    let actor = proxy_actor(someone_elses);

    let decision = decide(
        &actor,
        Action::ReadThread,
        &world.thread(Sensitivity::Normal),
        &Context::at(NOW),
    );
    assert_denied(decision, NoGrant);
}

#[test]
fn caregiver_grant_without_expiry_is_denied() {
    let world = World::adult();
    let mut open_ended = grant(GrantKind::Caregiver, ProxyScopes::ALL);
    open_ended.expires_at = None;
    let actor = proxy_actor(open_ended);

    let decision = decide(
        &actor,
        Action::ReadThread,
        &world.thread(Sensitivity::Normal),
        &Context::at(NOW),
    );
    assert_denied(decision, CaregiverGrantWithoutExpiry);
}

#[test]
fn caregiver_grant_works_until_expiry() {
    let world = World::adult();
    let actor = proxy_actor(grant(GrantKind::Caregiver, ProxyScopes::ALL));
    let resource = world.thread(Sensitivity::Normal);

    let before = decide(
        &actor,
        Action::ReadThread,
        &resource,
        &Context::at(NOW + 30 * DAY - 1),
    );
    assert_allowed(before, ProxyGrant);
    let after = decide(
        &actor,
        Action::ReadThread,
        &resource,
        &Context::at(NOW + 30 * DAY),
    );
    assert_denied(after, GrantExpired);
}

#[test]
fn one_valid_grant_among_expired_ones_allows() {
    let world = World::adult();
    let mut expired = grant(GrantKind::Representative, ProxyScopes::ALL);
    expired.expires_at = Some(NOW - DAY);
    let valid = grant(GrantKind::Caregiver, ProxyScopes::ALL);
    let mut actor = proxy_actor(expired);
    actor.grants.push(valid);

    let decision = decide(
        &actor,
        Action::ReadThread,
        &world.thread(Sensitivity::Normal),
        &Context::at(NOW),
    );
    assert_allowed(decision, ProxyGrant);
}

#[test]
fn adult_patients_representative_cannot_read_sensitive_thread() {
    let world = World::adult();
    let actor = proxy_actor(grant(GrantKind::Representative, ProxyScopes::ALL));

    let decision = decide(
        &actor,
        Action::ReadThread,
        &world.thread(Sensitivity::Sensitive),
        &Context::at(NOW),
    );
    assert_denied(decision, SensitiveCategoryExcluded);
}

/// Builds a guardian grant with no scopes, so any access it allows comes from the age rules.
fn guardian_grant(teen_consent: bool) -> ProxyGrant {
    let mut guardian = grant(GrantKind::Guardian, ProxyScopes::default());
    guardian.expires_at = None;
    guardian.teen_consent_at = teen_consent.then_some(NOW - DAY);
    guardian
}

/// Builds a world whose patient turns `years` old on the test date (2026-03-10), shifted by
/// `day_offset` days.
fn minor_world(years: i32, day_offset: i64) -> World {
    let birthday = date(2026 - years, Month::March, 10);
    World::new(birthday + time::Duration::days(day_offset))
}

#[test]
fn guardian_of_child_aged_11_has_full_access() {
    // Turns 12 tomorrow.
    let world = minor_world(12, 1);
    let actor = proxy_actor(guardian_grant(false));
    let context = Context::at(NOW);

    for (action, resource) in [
        (Action::ReadThread, world.thread(Sensitivity::Sensitive)),
        (Action::SendMessage, world.thread(Sensitivity::Normal)),
        (Action::ReadFile, world.file(Sensitivity::Sensitive)),
        (Action::UploadFile, world.file(Sensitivity::Normal)),
        (Action::ExportRecord, world.record()),
        (Action::AddProxy, world.record()),
    ] {
        let decision = decide(&actor, action, &resource, &context);
        assert_allowed(decision, ProxyGrant);
    }
}

#[test]
fn teen_guardian_denied_sensitive_thread() {
    // 12th birthday today.
    let world = minor_world(12, 0);
    let mut guardian = guardian_grant(true);
    guardian.scopes = ProxyScopes::ALL;
    let actor = proxy_actor(guardian);
    let context = Context::at(NOW);

    let sensitive = decide(
        &actor,
        Action::ReadThread,
        &world.thread(Sensitivity::Sensitive),
        &context,
    );
    assert_denied(sensitive, SensitiveCategoryExcluded);
    let normal = decide(
        &actor,
        Action::ReadThread,
        &world.thread(Sensitivity::Normal),
        &context,
    );
    assert_allowed(normal, ProxyGrant);
}

#[test]
fn guardian_of_teen_follows_grant_scopes() {
    let world = minor_world(12, 0);
    let actor = proxy_actor(guardian_grant(true));
    let context = Context::at(NOW);

    let read = decide(
        &actor,
        Action::ReadThread,
        &world.thread(Sensitivity::Normal),
        &context,
    );
    assert_denied(read, ScopeNotGranted);
    let export = decide(&actor, Action::ExportRecord, &world.record(), &context);
    assert_denied(export, ActionNotPermittedForRole);
}

#[test]
fn guardian_of_teen_without_teen_consent_is_denied() {
    let world = minor_world(15, 0);
    let mut guardian = guardian_grant(false);
    guardian.scopes = ProxyScopes::ALL;
    let actor = proxy_actor(guardian);

    let decision = decide(
        &actor,
        Action::ReadThread,
        &world.thread(Sensitivity::Normal),
        &Context::at(NOW),
    );
    assert_denied(decision, TeenConsentMissing);
}

#[test]
fn guardian_of_teen_aged_17_keeps_scoped_access() {
    // Turns 18 tomorrow.
    let world = minor_world(18, 1);
    let mut guardian = guardian_grant(true);
    guardian.scopes = ProxyScopes::ALL;
    let actor = proxy_actor(guardian);

    let decision = decide(
        &actor,
        Action::ReadFile,
        &world.file(Sensitivity::Normal),
        &Context::at(NOW),
    );
    assert_allowed(decision, ProxyGrant);
}

#[test]
fn guardian_access_ends_at_18() {
    // 18th birthday today.
    let world = minor_world(18, 0);
    let mut guardian = guardian_grant(true);
    guardian.scopes = ProxyScopes::ALL;
    let actor = proxy_actor(guardian);

    let decision = decide(
        &actor,
        Action::ReadThread,
        &world.thread(Sensitivity::Normal),
        &Context::at(NOW),
    );
    assert_denied(decision, PatientReachedMajority);
}

#[test]
fn clinician_outside_care_team_is_denied() {
    let world = World::adult();
    let actor = clinician_actor("team-oncology");
    let context = Context::at(NOW);

    let thread = decide(
        &actor,
        Action::ReadThread,
        &world.thread(Sensitivity::Normal),
        &context,
    );
    assert_denied(thread, NotOnCareTeam);
    let file = decide(
        &actor,
        Action::ReadFile,
        &world.file(Sensitivity::Normal),
        &context,
    );
    assert_denied(file, NotOnCareTeam);
}

#[test]
fn break_glass_with_reason_alerts() {
    let world = World::adult();
    let actor = clinician_actor("team-oncology");
    let mut context = Context::at(NOW);
    context.break_glass = Some(BreakGlassRequest {
        reason: "unconscious on arrival in the emergency department".to_owned(),
    });

    let decision = decide(
        &actor,
        Action::ReadThread,
        &world.thread(Sensitivity::Normal),
        &context,
    );
    assert_allowed(decision, BreakTheGlass);
    assert_eq!(decision.purpose, PurposeOfUse::EmergencyTreatment);
    assert!(decision.alert);
}

#[test]
fn break_the_glass_without_reason_is_denied() {
    let world = World::adult();
    let actor = clinician_actor("team-oncology");

    let zero_width = "\u{200B}".repeat(12);
    let overrides = "\u{202E}".repeat(12);
    let padded = format!("urgent{}", "\u{FEFF}".repeat(10));
    let hidden = "Unconscious patient \u{202E}noitcudortni".to_owned();
    for reason in [
        "",
        "   ",
        "urgent",
        "line\nbreak in reason text",
        &zero_width,
        &overrides,
        &padded,
        &hidden,
    ] {
        let mut context = Context::at(NOW);
        context.break_glass = Some(BreakGlassRequest {
            reason: reason.to_owned(),
        });
        let decision = decide(
            &actor,
            Action::ReadThread,
            &world.thread(Sensitivity::Normal),
            &context,
        );
        assert_denied(decision, BreakGlassReasonMissing);
        assert!(!decision.alert);
    }
}

#[test]
fn clinician_proxies_only_own_teams() {
    let world = World::adult();
    let mut context = Context::at(NOW);
    context.break_glass = Some(BreakGlassRequest {
        reason: "Patient unconscious in the emergency department".to_owned(),
    });
    let outsider = clinician_actor("team-oncology");
    for action in [Action::AddProxy, Action::RevokeProxy] {
        let decision = decide(&outsider, action, &world.record(), &context);
        assert_denied(decision, NotOnCareTeam);
        assert!(!decision.alert);
    }
}

#[test]
fn break_glass_ignored_for_admins() {
    let world = World::adult();
    let actor = actor_for(Role::Admin);
    let mut context = Context::at(NOW);
    context.break_glass = Some(BreakGlassRequest {
        reason: "unconscious on arrival in the emergency department".to_owned(),
    });

    let decision = decide(
        &actor,
        Action::ReadThread,
        &world.thread(Sensitivity::Normal),
        &context,
    );
    assert_denied(decision, ClinicalContentNotPermitted);
}

#[test]
fn break_glass_sensitive_needs_step_up() {
    let world = World::adult();
    let mut actor = clinician_actor("team-oncology");
    actor.authentication.auth_time = NOW - 3_600;
    let mut context = Context::at(NOW);
    context.break_glass = Some(BreakGlassRequest {
        reason: "unconscious on arrival in the emergency department".to_owned(),
    });

    let decision = decide(
        &actor,
        Action::ReadThread,
        &world.thread(Sensitivity::Sensitive),
        &context,
    );
    assert_denied(decision, StepUpRequired);
    assert_eq!(decision.purpose, PurposeOfUse::EmergencyTreatment);
}

#[test]
fn admin_asking_for_message_bodies_is_denied() {
    let world = World::adult();
    let actor = actor_for(Role::Admin);

    let decision = decide(
        &actor,
        Action::ReadThread,
        &world.thread(Sensitivity::Normal),
        &Context::at(NOW),
    );
    assert_denied(decision, ClinicalContentNotPermitted);
}

#[test]
fn step_up_inside_window_is_accepted() {
    let world = World::adult();
    let mut actor = patient_actor();
    let context = Context::at(NOW);

    for age in [0, 599, 600] {
        actor.authentication.auth_time = NOW - age;
        let decision = decide(&actor, Action::ExportRecord, &world.record(), &context);
        assert_allowed(decision, OwnRecord);
    }
}

#[test]
fn step_up_outside_window_is_required() {
    let world = World::adult();
    let mut actor = patient_actor();
    actor.authentication.auth_time = NOW - 601;

    let decision = decide(
        &actor,
        Action::ExportRecord,
        &world.record(),
        &Context::at(NOW),
    );
    assert_denied(decision, StepUpRequired);
}

#[test]
fn step_up_window_is_configurable() {
    let world = World::adult();
    let mut actor = patient_actor();
    actor.authentication.auth_time = NOW - 300;
    let mut context = Context::at(NOW);
    context.step_up_window_secs = 120;

    let decision = decide(&actor, Action::AddProxy, &world.record(), &context);
    assert_denied(decision, StepUpRequired);
}

#[test]
fn step_up_without_second_factor_is_required() {
    let world = World::adult();
    let mut actor = patient_actor();
    actor.authentication.multi_factor = false;

    let decision = decide(
        &actor,
        Action::ExportRecord,
        &world.record(),
        &Context::at(NOW),
    );
    assert_denied(decision, StepUpRequired);
}

#[test]
fn future_auth_time_fails_step_up() {
    let world = World::adult();
    let mut actor = patient_actor();
    actor.authentication.auth_time = NOW + 3_600;

    let decision = decide(
        &actor,
        Action::ExportRecord,
        &world.record(),
        &Context::at(NOW),
    );
    assert_denied(decision, StepUpRequired);
}

#[test]
fn only_sensitive_thread_needs_step_up() {
    let world = World::adult();
    let mut actor = patient_actor();
    actor.authentication.auth_time = NOW - 3_600;
    let context = Context::at(NOW);

    let normal = decide(
        &actor,
        Action::ReadThread,
        &world.thread(Sensitivity::Normal),
        &context,
    );
    assert_allowed(normal, OwnRecord);
    let sensitive = decide(
        &actor,
        Action::ReadThread,
        &world.thread(Sensitivity::Sensitive),
        &context,
    );
    assert_denied(sensitive, StepUpRequired);
}
