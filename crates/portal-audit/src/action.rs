//! Audited action codes and their FHIR R4 `AuditEvent` type, subtype and action.

use serde::{Deserialize, Serialize};

use crate::event::EntityType;

/// A FHIR `Coding`: system, code and display.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Coding {
    /// The code system URI.
    pub system: &'static str,
    /// The code.
    pub code: &'static str,
    /// The display text.
    pub display: &'static str,
}

const DICOM: &str = "http://dicom.nema.org/resources/ontology/DCM";
const AUDIT_EVENT_TYPE: &str = "http://terminology.hl7.org/CodeSystem/audit-event-type";
const RESTFUL_INTERACTION: &str = "http://hl7.org/fhir/restful-interaction";

const REST: Coding = Coding {
    system: AUDIT_EVENT_TYPE,
    code: "rest",
    display: "Restful Operation",
};
const USER_AUTHENTICATION: Coding = Coding {
    system: DICOM,
    code: "110114",
    display: "User Authentication",
};
const SECURITY_ALERT: Coding = Coding {
    system: DICOM,
    code: "110113",
    display: "Security Alert",
};
const EXPORT: Coding = Coding {
    system: DICOM,
    code: "110106",
    display: "Export",
};
const QUERY: Coding = Coding {
    system: DICOM,
    code: "110112",
    display: "Query",
};
const LOGIN: Coding = Coding {
    system: DICOM,
    code: "110122",
    display: "Login",
};
const LOGOUT: Coding = Coding {
    system: DICOM,
    code: "110123",
    display: "Logout",
};
const EMERGENCY_OVERRIDE: Coding = Coding {
    system: DICOM,
    code: "110127",
    display: "Emergency Override Started",
};
const SECURITY_ROLES_CHANGED: Coding = Coding {
    system: DICOM,
    code: "110136",
    display: "Security Roles Changed",
};
const USER_SECURITY_ATTRIBUTES_CHANGED: Coding = Coding {
    system: DICOM,
    code: "110137",
    display: "User security Attributes Changed",
};

const fn interaction(code: &'static str) -> Coding {
    Coding {
        system: RESTFUL_INTERACTION,
        code,
        display: code,
    }
}

macro_rules! audit_actions {
    ($(
        $(#[$meta:meta])*
        $variant:ident = $code:literal, $kind:expr, $subtype:expr, $fhir_action:literal,
            patient: $patient:literal, entities: [$($entity:ident),+];
    )+) => {
        /// An audited action. Serialized as its dotted code, such as `messaging.thread_read`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum AuditAction {
            $(
                $(#[$meta])*
                #[serde(rename = $code)]
                $variant,
            )+
        }

        impl AuditAction {
            /// Every action.
            pub const ALL: &'static [AuditAction] = &[$(AuditAction::$variant),+];

            /// Returns the dotted code, such as `messaging.thread_read`.
            pub fn code(self) -> &'static str {
                match self {
                    $(AuditAction::$variant => $code,)+
                }
            }

            /// Returns the FHIR `AuditEvent.type`.
            pub fn fhir_type(self) -> Coding {
                match self {
                    $(AuditAction::$variant => $kind,)+
                }
            }

            /// Returns the FHIR `AuditEvent.subtype`.
            pub fn fhir_subtype(self) -> Coding {
                match self {
                    $(AuditAction::$variant => $subtype,)+
                }
            }

            /// Returns the FHIR `AuditEvent.action`: C create, R read, U update, D delete,
            /// E execute.
            pub fn fhir_action(self) -> &'static str {
                match self {
                    $(AuditAction::$variant => $fhir_action,)+
                }
            }

            /// Returns whether the action touches a patient's record, so the event must
            /// name the patient.
            pub fn requires_patient(self) -> bool {
                match self {
                    $(AuditAction::$variant => $patient,)+
                }
            }

            /// Returns the entity types the action may name.
            pub fn entity_types(self) -> &'static [EntityType] {
                match self {
                    $(AuditAction::$variant => &[$(EntityType::$entity),+],)+
                }
            }
        }
    };
}

audit_actions! {
    /// A sign-in attempt.
    SignIn = "auth.sign_in", USER_AUTHENTICATION, LOGIN, "E",
        patient: false, entities: [Session, User];
    /// A sign-out, or a session ended by timeout.
    SignOut = "auth.sign_out", USER_AUTHENTICATION, LOGOUT, "E",
        patient: false, entities: [Session];
    /// A step-up authentication.
    StepUp = "auth.step_up", USER_AUTHENTICATION, LOGIN, "E",
        patient: false, entities: [Session];
    /// An access token renewed with a refresh token.
    TokenRefreshed = "auth.token_refreshed", USER_AUTHENTICATION, LOGIN, "E",
        patient: false, entities: [Session];
    /// A rotated refresh token used again: the session is revoked.
    RefreshReuseDetected = "auth.refresh_reuse_detected", SECURITY_ALERT, USER_SECURITY_ATTRIBUTES_CHANGED, "E",
        patient: false, entities: [Session];
    /// Sign-in attempts for an account throttled or locked.
    SignInThrottled = "auth.sign_in_throttled", SECURITY_ALERT, USER_SECURITY_ATTRIBUTES_CHANGED, "E",
        patient: false, entities: [User];
    /// A recovery code used in place of a second factor.
    RecoveryCodeUsed = "auth.recovery_code_used", SECURITY_ALERT, USER_SECURITY_ATTRIBUTES_CHANGED, "E",
        patient: false, entities: [User];
    /// A session revoked by the user or an admin.
    SessionRevoked = "auth.session_revoked", SECURITY_ALERT, USER_SECURITY_ATTRIBUTES_CHANGED, "U",
        patient: false, entities: [Session];
    /// A password change.
    PasswordChanged = "auth.password_changed", SECURITY_ALERT, USER_SECURITY_ATTRIBUTES_CHANGED, "U",
        patient: false, entities: [User];
    /// A second factor enrolled or removed.
    SecondFactorChanged = "auth.second_factor_changed", SECURITY_ALERT, USER_SECURITY_ATTRIBUTES_CHANGED, "U",
        patient: false, entities: [User];
    /// A notification destination changed.
    NotificationDestinationChanged = "account.notification_destination_changed", SECURITY_ALERT, USER_SECURITY_ATTRIBUTES_CHANGED, "U",
        patient: false, entities: [User];
    /// An account created, disabled, or its role changed, by an admin.
    AccountChanged = "admin.account_changed", SECURITY_ALERT, SECURITY_ROLES_CHANGED, "U",
        patient: false, entities: [User];
    /// A care team created or its members changed.
    CareTeamChanged = "admin.care_team_changed", SECURITY_ALERT, SECURITY_ROLES_CHANGED, "U",
        patient: false, entities: [CareTeam];
    /// A proxy grant added, or refused (then about the patient's record).
    ProxyAdded = "proxy.added", REST, interaction("create"), "C",
        patient: true, entities: [Grant, Patient];
    /// A proxy grant revoked, or refused (then about the patient's record).
    ProxyRevoked = "proxy.revoked", REST, interaction("delete"), "D",
        patient: true, entities: [Grant, Patient];
    /// A proxy grant changed: renewed by the patient, or a teen's assent recorded.
    ProxyChanged = "proxy.changed", REST, interaction("update"), "U",
        patient: true, entities: [Grant];
    /// The proxy grants on a patient's record listed, or the listing refused.
    ProxiesListed = "proxy.listed", REST, interaction("search-type"), "E",
        patient: true, entities: [Patient];
    /// A proxy's session set to act for a patient.
    ProxyActingFor = "proxy.acting_for", REST, interaction("update"), "E",
        patient: true, entities: [Patient];
    /// A patient's threads listed with their subjects: one event per patient shown.
    ThreadsListed = "messaging.threads_listed", REST, interaction("search-type"), "E",
        patient: true, entities: [Patient];
    /// A role that may not read messages (admin, compliance officer) refused at messaging.
    MessagingRefused = "messaging.access_refused", SECURITY_ALERT, interaction("read"), "E",
        patient: false, entities: [Thread, User];
    /// A thread opened, with its first message.
    ThreadOpened = "messaging.thread_opened", REST, interaction("create"), "C",
        patient: true, entities: [Thread];
    /// A thread and its messages read.
    ThreadRead = "messaging.thread_read", REST, interaction("read"), "R",
        patient: true, entities: [Thread];
    /// A message sent.
    MessageSent = "messaging.message_sent", REST, interaction("create"), "C",
        patient: true, entities: [Message, Thread];
    /// A thread closed.
    ThreadClosed = "messaging.thread_closed", REST, interaction("update"), "U",
        patient: true, entities: [Thread];
    /// A closed thread reopened.
    ThreadReopened = "messaging.thread_reopened", REST, interaction("update"), "U",
        patient: true, entities: [Thread];
    /// A thread exported as FHIR `Communication` resources for the care record.
    ThreadExported = "messaging.thread_exported", EXPORT, interaction("read"), "R",
        patient: true, entities: [Thread, Export];
    /// A file accepted into the record.
    FileUploaded = "uploads.file_uploaded", REST, interaction("create"), "C",
        patient: true, entities: [File];
    /// A file rejected by the upload pipeline.
    FileRejected = "uploads.file_rejected", REST, interaction("create"), "C",
        patient: true, entities: [File];
    /// A file passed the pipeline and became available.
    FileReleased = "uploads.file_released", REST, interaction("update"), "U",
        patient: true, entities: [File];
    /// A file's description (name, type, state) read.
    FileViewed = "uploads.file_viewed", REST, interaction("read"), "R",
        patient: true, entities: [File];
    /// A download link issued for a file.
    DownloadLinkIssued = "uploads.download_link_issued", REST, interaction("read"), "E",
        patient: true, entities: [File];
    /// A file downloaded.
    FileDownloaded = "uploads.file_downloaded", REST, interaction("read"), "R",
        patient: true, entities: [File];
    /// Read access to a file granted to a thread's participants.
    FileAccessGranted = "uploads.file_access_granted", REST, interaction("update"), "U",
        patient: true, entities: [File];
    /// A file deleted, with its data key destroyed.
    FileDeleted = "uploads.file_deleted", REST, interaction("delete"), "D",
        patient: true, entities: [File];
    /// A patient's record exported.
    RecordExported = "record.exported", EXPORT, interaction("read"), "R",
        patient: true, entities: [Export, Patient];
    /// A patient's access history listed.
    AccessHistoryViewed = "record.access_history_viewed", QUERY, interaction("search"), "E",
        patient: true, entities: [Patient];
    /// Break-the-glass access started by a clinician outside the care team.
    BreakTheGlass = "access.break_the_glass", SECURITY_ALERT, EMERGENCY_OVERRIDE, "E",
        patient: true, entities: [Patient, Thread, File];
    /// The audit log queried.
    AuditQueried = "audit.queried", QUERY, interaction("search"), "E",
        patient: false, entities: [AuditLog];
    /// The audit log exported.
    AuditExported = "audit.exported", EXPORT, interaction("read"), "R",
        patient: false, entities: [AuditLog, Export];
    /// The audit log's integrity verified.
    AuditVerified = "audit.verified", SECURITY_ALERT, interaction("read"), "E",
        patient: false, entities: [AuditLog];
}
