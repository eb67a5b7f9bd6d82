//! The audit event every component sends to the audit component's ingest route.
//!
//! The type has no field for free-form content except the bounded break-the-glass
//! justification: ids are restricted to id characters, and unknown JSON fields are
//! rejected, so message bodies, file contents and names cannot be carried.

use std::net::IpAddr;

use portal_policy::{PatientId, PurposeOfUse, RequestId, Role, UserId};
use serde::{Deserialize, Serialize};

/// The performer of an action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum AuditActor {
    /// A signed-in user, with the role of the session.
    User {
        /// The user.
        id: UserId,
        /// The session's role.
        role: Role,
    },
    /// A component acting on its own, such as a rewrap or retention job.
    Service {
        /// The component.
        component: Component,
    },
    /// An unidentified requester, such as a failed sign-in for an unknown account. The identifier
    /// that was typed is never recorded, because it may be an email address.
    Anonymous,
}

/// The portal's components, as the source of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Component {
    /// Accounts, credentials, sessions and delegations.
    Auth,
    /// Threads and messages.
    Messaging,
    /// File intake and storage.
    Uploads,
    /// The audit log itself.
    Audit,
    /// The untrusted-file parser.
    Sanitizer,
    /// The web pages.
    Web,
}

impl Component {
    /// Returns the component's name, as in `spin.toml`.
    pub fn as_str(self) -> &'static str {
        match self {
            Component::Auth => "auth",
            Component::Messaging => "messaging",
            Component::Uploads => "uploads",
            Component::Audit => "audit",
            Component::Sanitizer => "sanitizer",
            Component::Web => "web",
        }
    }
}

/// The result of the action, with the FHIR R4 `AuditEvent.outcome` codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The action succeeded (FHIR `0`).
    Success,
    /// The action failed for a reason on the caller's side, such as a denial or invalid
    /// input (FHIR `4`, "often equivalent to an HTTP 400 response").
    MinorFailure,
    /// The action failed on the server's side and the request ended (FHIR `8`).
    SeriousFailure,
    /// The action failed and the service is affected beyond the request (FHIR `12`).
    MajorFailure,
}

impl Outcome {
    /// Returns the FHIR R4 `AuditEvent.outcome` code.
    pub fn fhir_code(self) -> &'static str {
        match self {
            Outcome::Success => "0",
            Outcome::MinorFailure => "4",
            Outcome::SeriousFailure => "8",
            Outcome::MajorFailure => "12",
        }
    }
}

/// The kind of record an event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntityType {
    /// A patient record.
    Patient,
    /// A user account.
    User,
    /// A sign-in session.
    Session,
    /// A messaging thread.
    Thread,
    /// A message.
    Message,
    /// An uploaded file.
    File,
    /// A proxy grant.
    Grant,
    /// A care team.
    CareTeam,
    /// An export job.
    Export,
    /// The audit log.
    AuditLog,
}

impl EntityType {
    /// Returns the name used in identifier systems, such as `thread` in
    /// `urn:portal:thread`.
    pub fn as_str(self) -> &'static str {
        match self {
            EntityType::Patient => "patient",
            EntityType::User => "user",
            EntityType::Session => "session",
            EntityType::Thread => "thread",
            EntityType::Message => "message",
            EntityType::File => "file",
            EntityType::Grant => "grant",
            EntityType::CareTeam => "care_team",
            EntityType::Export => "export",
            EntityType::AuditLog => "audit_log",
        }
    }
}

/// The record an event is about: its type and id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entity {
    /// The kind of record.
    #[serde(rename = "type")]
    pub kind: EntityType,
    /// The record's id, in the id grammar of `portal_policy` ids.
    pub id: String,
}

/// One audited action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditEvent {
    /// Who acted.
    pub actor: AuditActor,
    /// For proxies: the patient they acted for. Must equal `patient`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_behalf_of: Option<PatientId>,
    /// The action performed.
    pub action: crate::AuditAction,
    /// The record acted on.
    pub entity: Entity,
    /// The patient whose record was touched. Required for actions on patient data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patient: Option<PatientId>,
    /// Whether it succeeded.
    pub outcome: Outcome,
    /// The time the sending component reports for the action, in Unix milliseconds. The
    /// audit component records its own receipt time beside it.
    pub claimed_time_ms: i64,
    /// The client address the request came from, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_address: Option<IpAddr>,
    /// The purpose of use.
    pub purpose: PurposeOfUse,
    /// The component that performed the action.
    pub component: Component,
    /// The request, to correlate with logs.
    pub request_id: RequestId,
    /// Machine-readable reason for the outcome, such as a policy reason code
    /// (`not_on_care_team`) or a failure code (`file_type_not_allowed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The reason a clinician typed for break-the-glass access. Required for that action
    /// and forbidden for every other.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub justification: Option<String>,
}
