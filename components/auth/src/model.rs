//! Records in the auth component's key-value store and their keys.
//!
//! Every record is JSON. Records that several requests may change at once (users, sessions,
//! care teams, indexes) are only changed with compare-and-swap through `Store::update`.

use portal_policy::{CareTeamId, GrantId, PatientId, ProxyGrant, Role, SessionId, UserId};
use serde::{Deserialize, Serialize};

/// Label of the component's store.
pub const STORE: &str = "auth";

/// Key of a user record.
pub fn user_key(user: &UserId) -> String {
    format!("user:{}", user.as_str())
}

/// Key mapping an email's blind index to its user.
pub fn email_key(index: &str) -> String {
    format!("email:{index}")
}

/// Key of a session record.
pub fn session_key(session: &SessionId) -> String {
    format!("session:{}", session.as_str())
}

/// Key mapping a refresh token's hash to its session and generation.
pub fn refresh_key(hash: &str) -> String {
    format!("refresh:{hash}")
}

/// Key of the list of a user's sessions.
pub fn user_sessions_key(user: &UserId) -> String {
    format!("user-sessions:{}", user.as_str())
}

/// Key of an invitation, by the hash of its token.
pub fn invitation_key(hash: &str) -> String {
    format!("invitation:{hash}")
}

/// Key of a care team.
pub fn care_team_key(team: &CareTeamId) -> String {
    format!("care-team:{}", team.as_str())
}

/// Key of the list of a user's care teams, a hint checked against the team records.
pub fn user_teams_key(user: &UserId) -> String {
    format!("user-teams:{}", user.as_str())
}

/// Key of a password reset, by the hash of its token.
pub fn reset_key(hash: &str) -> String {
    format!("password-reset:{hash}")
}

/// Key of a proxy grant.
pub fn grant_key(grant: &GrantId) -> String {
    format!("grant:{}", grant.as_str())
}

/// Key of the list of grants that open a patient's record.
pub fn patient_grants_key(patient: &PatientId) -> String {
    format!("patient-grants:{}", patient.as_str())
}

/// Key of the list of grants a proxy holds.
pub fn grantee_grants_key(user: &UserId) -> String {
    format!("grantee-grants:{}", user.as_str())
}

/// Key of a clinician's emergency access to one patient.
pub fn emergency_key(clinician: &UserId, patient: &PatientId) -> String {
    format!("emergency:{}:{}", clinician.as_str(), patient.as_str())
}

/// Key of the list of patients a clinician has emergency access to.
pub fn emergency_list_key(clinician: &UserId) -> String {
    format!("emergency-list:{}", clinician.as_str())
}

/// Key that marks the bootstrap secret as used.
pub const BOOTSTRAP_USED_KEY: &str = "bootstrap:used";

/// Account state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountStatus {
    /// May sign in.
    Active,
    /// Disabled by an admin; every session ended.
    Disabled,
}

/// A confirmed or pending TOTP secret, encrypted.
#[derive(Clone, Serialize, Deserialize)]
pub struct TotpFactor {
    /// Envelope of the secret bytes, base64.
    pub secret: String,
    /// The last step accepted, so each code works once.
    #[serde(default)]
    pub last_step: Option<i64>,
}

/// A user account.
#[derive(Clone, Serialize, Deserialize)]
pub struct User {
    /// Random id.
    pub id: UserId,
    /// Role.
    pub role: Role,
    /// Status.
    pub status: AccountStatus,
    /// Envelope of the normalized email, base64.
    pub email: String,
    /// Blind index of the email, base64url.
    pub email_index: String,
    /// Where notices go, if the user chose a destination other than the account email:
    /// the channel and the envelope of the address or number, base64.
    #[serde(default)]
    pub notify_to: Option<(portal_spin::notify::Channel, String)>,
    /// PHC string of the current password.
    pub password_hash: String,
    /// PHC strings of earlier passwords, newest first.
    #[serde(default)]
    pub password_history: Vec<String>,
    /// The confirmed TOTP factor.
    #[serde(default)]
    pub totp: Option<TotpFactor>,
    /// A TOTP secret waiting for its first code.
    #[serde(default)]
    pub totp_pending: Option<TotpFactor>,
    /// Hashes of unused recovery codes.
    #[serde(default)]
    pub recovery_codes: Vec<String>,
    /// Thumbprints of device keys and client addresses seen at sign-in, most recent first.
    #[serde(default)]
    pub known_devices: Vec<String>,
    /// Creation time, Unix seconds.
    pub created_at: i64,
    /// Raised by every change that must end the account's sessions (password, role, factor
    /// removal). A session records the value at sign-in and is dead once they differ, which
    /// also catches a sign-in that was still running when the change was made.
    #[serde(default)]
    pub session_epoch: u64,
    /// Raised by each password reset issued, so only the newest reset works.
    #[serde(default)]
    pub reset_serial: u64,
    /// A patient's date of birth, `YYYY-MM-DD`, sealed in the access domain (base64), which
    /// the age rules of guardian access read.
    #[serde(default)]
    pub birth_date: Option<String>,
    /// Registered passkeys and security keys.
    #[serde(default)]
    pub passkeys: Vec<PasskeyFactor>,
}

/// A registered passkey or security key. The public key is not secret.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PasskeyFactor {
    /// The credential id, base64url.
    pub id: String,
    /// The COSE_Key, base64url.
    pub public_key: String,
    /// The COSE algorithm: -7 (ES256) or -8 (EdDSA).
    pub algorithm: i64,
    /// The last signature counter seen.
    pub sign_count: u32,
    /// Whether it syncs between devices (backup eligible).
    pub backup_eligible: bool,
    /// Whether it was backed up at its last use.
    pub backed_up: bool,
    /// The name the user gave it.
    pub name: String,
    /// When it was added, Unix seconds.
    pub created_at: i64,
    /// When it was last used, Unix seconds.
    #[serde(default)]
    pub last_used_at: Option<i64>,
}

impl core::fmt::Debug for User {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Credentials and contact details stay out of logs.
        f.debug_struct("User")
            .field("id", &self.id)
            .field("role", &self.role)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

impl User {
    /// Whether the account has a confirmed second factor: TOTP or a passkey.
    pub fn has_second_factor(&self) -> bool {
        self.totp.is_some() || !self.passkeys.is_empty()
    }
}

/// Roles that must use a second factor.
pub fn role_requires_mfa(role: Role) -> bool {
    matches!(
        role,
        Role::Clinician | Role::Admin | Role::ComplianceOfficer
    )
}

/// Most devices remembered per account.
pub const MAX_KNOWN_DEVICES: usize = 20;
/// Earlier passwords kept to refuse reuse; with the current one, the last five are refused.
pub const PASSWORD_HISTORY: usize = 4;

/// A session: one sign-in on one device, bound to the device's DPoP key.
#[derive(Clone, Serialize, Deserialize)]
pub struct Session {
    /// Random id.
    pub id: SessionId,
    /// The user.
    pub user: UserId,
    /// Creation time.
    pub created_at: i64,
    /// Last use (refresh or request), for the idle timeout.
    pub last_seen_at: i64,
    /// Time of the last authentication, for step-up.
    pub auth_time: i64,
    /// Authentication methods (RFC 8176).
    pub amr: Vec<String>,
    /// Thumbprint of the DPoP key the session is bound to.
    pub jkt: String,
    /// Device description from `User-Agent`, shortened.
    pub device: String,
    /// Client address at sign-in.
    #[serde(default)]
    pub address: Option<String>,
    /// Hash of the current refresh token.
    pub refresh_hash: String,
    /// Number of rotations so far.
    pub refresh_generation: u64,
    /// Hash of the refresh token the last rotation replaced, and when, so a parallel request
    /// with that token within a few seconds is told it lost the race instead of being
    /// treated as reuse.
    #[serde(default)]
    pub previous_refresh_hash: Option<String>,
    /// Time of the last rotation.
    #[serde(default)]
    pub rotated_at: i64,
    /// The account's `session_epoch` when the session began.
    #[serde(default)]
    pub epoch: u64,
    /// Set when the session may only enrol a second factor (staff who have none yet).
    #[serde(default)]
    pub enrolment_only: bool,
    /// For a proxy: the patient the session acts for, which its access tokens name.
    #[serde(default)]
    pub on_behalf_of: Option<PatientId>,
    /// When and why the session ended, if it did.
    #[serde(default)]
    pub ended: Option<Ended>,
}

impl core::fmt::Debug for Session {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Session")
            .field("id", &self.id)
            .field("user", &self.user)
            .field("ended", &self.ended)
            .finish_non_exhaustive()
    }
}

/// Why a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// The user signed out.
    Logout,
    /// The user or an admin ended it.
    Revoked,
    /// The password changed.
    PasswordChanged,
    /// The account was disabled.
    AccountDisabled,
    /// A rotated refresh token was used again.
    RefreshReuse,
}

/// When and why a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ended {
    /// Unix seconds.
    pub at: i64,
    /// Reason.
    pub reason: EndReason,
}

/// A refresh token's record, so a rotated token can be recognised when reused.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RefreshRecord {
    /// The session.
    pub session: SessionId,
    /// The generation this token was issued at.
    pub generation: u64,
}

/// A single-use invitation to a staff role.
#[derive(Clone, Serialize, Deserialize)]
pub struct Invitation {
    /// The role granted.
    pub role: Role,
    /// Envelope of the invited email, base64.
    pub email: String,
    /// Blind index of the invited email.
    pub email_index: String,
    /// The admin who invited.
    pub invited_by: UserId,
    /// Expiry, Unix seconds.
    pub expires_at: i64,
    /// Set once accepted.
    #[serde(default)]
    pub accepted_at: Option<i64>,
}

/// A single-use password reset an admin issued for an account.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PasswordReset {
    /// The account.
    pub user: UserId,
    /// The admin who issued it.
    pub issued_by: UserId,
    /// Expiry, Unix seconds.
    pub expires_at: i64,
    /// Set once used.
    #[serde(default)]
    pub used_at: Option<i64>,
    /// The account's `reset_serial` when issued; a newer reset replaces this one.
    #[serde(default)]
    pub serial: u64,
    /// The account's `session_epoch` when issued; a password or role change voids the reset.
    #[serde(default)]
    pub epoch: u64,
}

/// A care team.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CareTeam {
    /// Id.
    pub id: CareTeamId,
    /// Display name, such as "Cardiology".
    pub name: String,
    /// Expected response time for messages, in hours.
    pub response_hours: u32,
    /// Clinicians.
    #[serde(default)]
    pub clinicians: Vec<UserId>,
    /// Patients assigned.
    #[serde(default)]
    pub patients: Vec<UserId>,
}

/// The gate that admits one login attempt per backoff window past the free attempts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gate {
    /// Attempts admitted through the gate so far.
    pub seq: u64,
    /// The next attempt may start at this time.
    pub open_at: i64,
}

/// The way a proxy grant's consent was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsentMethod {
    /// The patient granted it while signed in to the portal.
    Portal,
    /// Given in person to the clinician or admin who recorded it.
    InPerson,
    /// On a signed form the recorder keeps.
    Written,
    /// Said aloud to the recorder, for example on the phone.
    Verbal,
}

/// A proxy grant with how it came about and how it ended.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GrantRecord {
    /// The grant the policy decides on.
    pub grant: ProxyGrant,
    /// The way consent was given.
    pub consent_method: ConsentMethod,
    /// The recorder of the grant: the patient, or the clinician or admin who took the consent.
    pub recorded_by: UserId,
    /// The user who revoked it, if anyone did.
    #[serde(default)]
    pub revoked_by: Option<UserId>,
}

/// Emergency access a clinician started to one patient's record.
#[derive(Clone, Serialize, Deserialize)]
pub struct EmergencyRecord {
    /// The patient.
    pub patient: PatientId,
    /// The reason as typed, sealed in the access domain (base64).
    pub reason: String,
    /// When it started, Unix seconds.
    pub started_at: i64,
    /// When it ends, Unix seconds.
    pub expires_at: i64,
}

impl core::fmt::Debug for EmergencyRecord {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("EmergencyRecord")
            .field("patient", &self.patient)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}
