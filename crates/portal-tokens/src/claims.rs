//! Token purposes and the claims each carries.

use portal_policy::{Authentication, FileId, PatientId, Role, SessionId, UserId};
use serde::{Deserialize, Serialize};

/// Access tokens live at most 15 minutes; refresh tokens, kept server-side, renew them.
pub const ACCESS_TOKEN_LIFETIME_SECS: u64 = 15 * 60;
/// Service tokens live at most 60 seconds: one chained request and its retries.
pub const SERVICE_TOKEN_LIFETIME_SECS: u64 = 60;
/// Download links live at most 5 minutes, long enough to start a download after a click.
pub const DOWNLOAD_LINK_LIFETIME_SECS: u64 = 5 * 60;

/// Audience of access tokens.
pub const ACCESS_AUDIENCE: &str = "urn:portal:access";
/// Audience of download links.
pub const DOWNLOAD_AUDIENCE: &str = "urn:portal:download";
/// Issuer (`iss`) of service tokens, which each calling app signs with its own service key.
pub const SERVICE_ISSUER: &str = "urn:portal:service";
/// Prefix of service token audiences; the receiving component's name follows.
pub const SERVICE_AUDIENCE_PREFIX: &str = "urn:portal:service:";

/// The `amr` value (RFC 8176) that marks an authentication with more than one factor. The
/// auth component adds it whenever a second factor or a passkey with user verification was
/// used.
pub const AMR_MULTI_FACTOR: &str = "mfa";

/// The purpose of a token. Each purpose has its own `typ` header and audience, and the
/// verifier of one purpose rejects tokens of every other, so a download link can never act
/// as a login.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenPurpose {
    /// A signed-in user's access token, bound to a DPoP key.
    Access,
    /// A component calling another component.
    Service,
    /// A link to download one file.
    DownloadLink,
}

impl TokenPurpose {
    /// Returns the `typ` header value. Access tokens use `at+jwt` (RFC 9068).
    pub fn typ(self) -> &'static str {
        match self {
            TokenPurpose::Access => "at+jwt",
            TokenPurpose::Service => "service+jwt",
            TokenPurpose::DownloadLink => "download+jwt",
        }
    }

    /// Returns the longest lifetime a token of this purpose may have, in seconds.
    pub fn max_lifetime_secs(self) -> u64 {
        match self {
            TokenPurpose::Access => ACCESS_TOKEN_LIFETIME_SECS,
            TokenPurpose::Service => SERVICE_TOKEN_LIFETIME_SECS,
            TokenPurpose::DownloadLink => DOWNLOAD_LINK_LIFETIME_SECS,
        }
    }
}

/// Returns the audience of service tokens for the receiving component, such as
/// `urn:portal:service:audit`.
pub fn service_audience(component: &str) -> String {
    format!("{SERVICE_AUDIENCE_PREFIX}{component}")
}

/// The `cnf` claim (RFC 7800) with the JWK SHA-256 thumbprint of the DPoP key (RFC 9449).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Confirmation {
    pub jkt: String,
}

/// Claims of an access token besides the registered ones, as serialized. Every field is
/// optional on the wire so that a missing claim is reported by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct AccessClaimsWire {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<SessionId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amr: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cnf: Option<Confirmation>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub obo: Option<PatientId>,
}

/// Claims of a download link besides the registered ones, as serialized.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct DownloadClaimsWire {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<FileId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<SessionId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub obo: Option<PatientId>,
}

/// Claims of a service token besides the registered ones, as serialized.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ServiceClaimsWire {
    /// The request the token was minted for, such as `POST /ingest`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub req: Option<String>,
}

/// The claims the auth component puts in an access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessGrant {
    /// The signed-in user (`sub`).
    pub user: UserId,
    /// The session's role (`role`).
    pub role: Role,
    /// The session (`sid`), so that revoking it revokes its tokens.
    pub session: SessionId,
    /// Authentication methods (`amr`, RFC 8176), such as `["pwd", "otp", "mfa"]`.
    pub amr: Vec<String>,
    /// Time of the last authentication (`auth_time`), in Unix seconds.
    pub auth_time: i64,
    /// Authentication context class (`acr`), such as `urn:portal:acr:mfa`.
    pub acr: String,
    /// JWK SHA-256 thumbprint of the client's DPoP key (`cnf.jkt`). Required: access tokens
    /// are always bound to a key.
    pub dpop_jkt: String,
    /// For proxies: the patient they act for (`obo`). RFC 8693's `act` claim would put the
    /// patient in `sub`; here `sub` always names the signed-in user.
    pub on_behalf_of: Option<PatientId>,
}

/// A verified access token whose DPoP proof also verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessToken {
    /// The signed-in user.
    pub user: UserId,
    /// The session's role.
    pub role: Role,
    /// The session, to check against revocation.
    pub session: SessionId,
    /// Authentication methods (RFC 8176).
    pub amr: Vec<String>,
    /// Time of the last authentication, in Unix seconds.
    pub auth_time: i64,
    /// Authentication context class.
    pub acr: String,
    /// Thumbprint of the DPoP key that proved possession.
    pub dpop_jkt: String,
    /// For proxies: the patient they act for.
    pub on_behalf_of: Option<PatientId>,
    /// `jti`, if the token has one.
    pub token_id: Option<String>,
    /// `iat`, in Unix seconds.
    pub issued_at: i64,
    /// `exp`, in Unix seconds.
    pub expires_at: i64,
}

impl AccessToken {
    /// Returns the authentication facts the policy uses for step-up decisions.
    pub fn authentication(&self) -> Authentication {
        Authentication {
            auth_time: self.auth_time,
            multi_factor: self.amr.iter().any(|method| method == AMR_MULTI_FACTOR),
        }
    }
}

/// A verified service token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceToken {
    /// The calling component (`sub`).
    pub caller: String,
    /// The request it was minted for (`req`): the method, a space and the path inside the
    /// receiver's route, such as `POST /ingest`.
    pub request: String,
    /// `jti`.
    pub token_id: String,
    /// `exp`, in Unix seconds.
    pub expires_at: i64,
}

/// The access a download link grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadGrant {
    /// The user the link was issued to (`sub`).
    pub user: UserId,
    /// The file (`file`).
    pub file: FileId,
    /// The session that requested the link (`sid`).
    pub session: SessionId,
    /// For proxies: the patient they act for (`obo`).
    pub on_behalf_of: Option<PatientId>,
}

/// A verified download link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadLink {
    /// The access the link grants.
    pub grant: DownloadGrant,
    /// `jti`, for components that allow each link once.
    pub token_id: String,
    /// `exp`, in Unix seconds.
    pub expires_at: i64,
}
