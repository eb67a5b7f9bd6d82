//! The inputs of an authorization decision: who acts, what they do, on what, and when.

use time::{Date, OffsetDateTime};

use crate::ids::{CareTeamId, FileId, PatientId, ThreadId, UserId};
use crate::relationship::{PatientFacts, ProxyGrant};
use crate::role::Role;

/// Default window in which a strong authentication satisfies step-up: 10 minutes.
///
/// NIST SP 800-63B-4 sets reauthentication limits in hours for whole sessions; step-up for a
/// single sensitive action is stricter, so the window is minutes. Ten minutes lets a user
/// finish a task started right after signing in again without prompting twice.
pub const DEFAULT_STEP_UP_WINDOW_SECS: i64 = 10 * 60;

/// Clock skew tolerated between the component that authenticated the user and the one
/// deciding, in seconds. An `auth_time` further in the future than this never satisfies
/// step-up.
pub const AUTH_TIME_SKEW_SECS: i64 = 60;

/// Minimum length, in characters after trimming, of a break-the-glass reason. A single
/// word such as "urgent" does not tell a reviewer why the access was needed.
pub const MIN_BREAK_GLASS_REASON_CHARS: usize = 10;

/// Maximum length, in characters, of a break-the-glass reason.
pub const MAX_BREAK_GLASS_REASON_CHARS: usize = 500;

/// An operation a user asks to perform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Read a thread's subject and message bodies.
    ReadThread,
    /// Send a message in a thread.
    SendMessage,
    /// Read or download a file's content.
    ReadFile,
    /// Upload a file to a patient's record.
    UploadFile,
    /// Export a patient's record. Requires step-up.
    ExportRecord,
    /// List who accessed a patient's record.
    ViewAccessHistory,
    /// Add a proxy to a patient's record. Requires step-up.
    AddProxy,
    /// Revoke a proxy grant.
    RevokeProxy,
    /// Change where notifications go (email, phone, push). Requires step-up.
    ChangeNotificationDestination,
    /// Enroll or remove a second factor. Requires step-up.
    ChangeSecondFactor,
    /// Create, disable or change the roles of accounts.
    ManageAccounts,
    /// Create care teams and change their members.
    ManageCareTeams,
    /// Query the audit log.
    ReadAuditLog,
    /// Export the audit log. Requires step-up.
    ExportAuditLog,
}

impl Action {
    /// Every action, for decision tables and exhaustive tests.
    pub const ALL: [Action; 14] = [
        Action::ReadThread,
        Action::SendMessage,
        Action::ReadFile,
        Action::UploadFile,
        Action::ExportRecord,
        Action::ViewAccessHistory,
        Action::AddProxy,
        Action::RevokeProxy,
        Action::ChangeNotificationDestination,
        Action::ChangeSecondFactor,
        Action::ManageAccounts,
        Action::ManageCareTeams,
        Action::ReadAuditLog,
        Action::ExportAuditLog,
    ];

    /// Returns whether the action touches clinical content (message bodies or files).
    pub fn is_clinical(self) -> bool {
        matches!(
            self,
            Action::ReadThread
                | Action::SendMessage
                | Action::ReadFile
                | Action::UploadFile
                | Action::ExportRecord
        )
    }
}

/// The sensitivity category of a thread or file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sensitivity {
    /// Ordinary clinical content.
    #[default]
    Normal,
    /// A confidential category (such as reproductive, mental or sexual health, or
    /// substance use). Reading it requires step-up, and guardians of teens never see it.
    Sensitive,
}

/// The object an action applies to.
#[derive(Debug, Clone, Copy)]
pub enum Resource<'a> {
    /// A messaging thread, which belongs to one patient and one care team.
    Thread {
        /// The patient the thread is about.
        patient: &'a PatientFacts,
        /// The thread.
        thread: &'a ThreadId,
        /// The care team assigned to reply in the thread.
        care_team: &'a CareTeamId,
        /// Whether the thread is in a sensitive category.
        sensitivity: Sensitivity,
    },
    /// A file in a patient's record.
    File {
        /// The patient the file belongs to.
        patient: &'a PatientFacts,
        /// The file.
        file: &'a FileId,
        /// Whether the file is in a sensitive category.
        sensitivity: Sensitivity,
    },
    /// A patient's record as a whole: export, access history and proxies.
    PatientRecord {
        /// The patient.
        patient: &'a PatientFacts,
    },
    /// A user account's own settings.
    Account {
        /// The account whose settings change.
        user: &'a UserId,
    },
    /// Account and care-team administration.
    Administration,
    /// The audit log.
    AuditLog,
}

impl Resource<'_> {
    /// Returns the patient the resource belongs to, if any.
    pub fn patient(&self) -> Option<&PatientFacts> {
        match self {
            Resource::Thread { patient, .. }
            | Resource::File { patient, .. }
            | Resource::PatientRecord { patient } => Some(patient),
            Resource::Account { .. } | Resource::Administration | Resource::AuditLog => None,
        }
    }

    /// Returns the patient id the resource belongs to, if any.
    pub fn patient_id(&self) -> Option<&PatientId> {
        self.patient().map(|patient| &patient.id)
    }

    /// Returns the sensitivity of a thread or file; other resources are `Normal`.
    pub fn sensitivity(&self) -> Sensitivity {
        match self {
            Resource::Thread { sensitivity, .. } | Resource::File { sensitivity, .. } => {
                *sensitivity
            }
            _ => Sensitivity::Normal,
        }
    }
}

/// The actor's last authentication, from the access token's `auth_time` and `amr` claims.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Authentication {
    /// Time of the last authentication, in Unix seconds.
    pub auth_time: i64,
    /// Whether that authentication used a second factor or a passkey.
    pub multi_factor: bool,
}

impl Authentication {
    /// Returns whether it used a second factor within `window_secs` before `now`, allowing
    /// [`AUTH_TIME_SKEW_SECS`] of clock skew the other way. This is the step-up rule.
    pub fn is_recent_multi_factor(&self, now: i64, window_secs: i64) -> bool {
        let age = now.saturating_sub(self.auth_time);
        self.multi_factor && age <= window_secs && age >= -AUTH_TIME_SKEW_SECS
    }
}

/// The user who makes the request, with the relationships the component loaded for them.
#[derive(Debug, Clone)]
pub struct Actor {
    /// The signed-in user.
    pub user: UserId,
    /// The role of the session.
    pub role: Role,
    /// The last authentication, for step-up.
    pub authentication: Authentication,
    /// For patients: their own patient record.
    pub own_record: Option<PatientId>,
    /// For clinicians: the care teams they belong to.
    pub care_teams: Vec<CareTeamId>,
    /// For proxies: the grants they hold. Grants held by other users are ignored.
    pub grants: Vec<ProxyGrant>,
}

/// An emergency access request by a clinician outside the patient's care team.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BreakGlassRequest {
    /// The clinician's reason for the access, as typed. It goes to the audit log and
    /// the compliance alert, so it may name clinical facts but should not name the patient.
    pub reason: String,
}

/// When the decision is made and under which settings.
#[derive(Debug, Clone)]
pub struct Context {
    /// Current time, in Unix seconds.
    pub now: i64,
    /// Current calendar date where the patient is treated, for the age rules.
    pub today: Date,
    /// How long a strong authentication satisfies step-up, in seconds.
    pub step_up_window_secs: i64,
    /// A break-the-glass request, if the clinician made one.
    pub break_glass: Option<BreakGlassRequest>,
}

impl Context {
    /// Builds a context at `now` with the UTC date, the default step-up window and no
    /// break-the-glass request. Components serving one time zone should set `today` to
    /// their local date instead.
    ///
    /// A `now` outside the years -9999 to 9999 gives the latest representable date, which
    /// fails closed: every patient counts as an adult, so guardian access ends.
    pub fn at(now: i64) -> Self {
        let today = OffsetDateTime::from_unix_timestamp(now)
            .map(OffsetDateTime::date)
            .unwrap_or(Date::MAX);

        Self {
            now,
            today,
            step_up_window_secs: DEFAULT_STEP_UP_WINDOW_SECS,
            break_glass: None,
        }
    }
}
