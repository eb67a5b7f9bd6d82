//! Verifying access tokens, service tokens and download links.

use std::collections::HashSet;

use jwt_simple::JWTError;
use jwt_simple::prelude::{
    Duration, EdDSAPublicKeyLike, JWTClaims, Token, UnixTimeStamp, VerificationOptions,
};
use serde::de::DeserializeOwned;

use crate::claims::{
    ACCESS_AUDIENCE, AccessClaimsWire, AccessToken, DOWNLOAD_AUDIENCE, DownloadClaimsWire,
    DownloadGrant, DownloadLink, ServiceClaimsWire, ServiceToken, TokenPurpose, service_audience,
};
use crate::dpop::{DpopPolicy, DpopRequest, verify_dpop_proof};
use crate::error::{DpopError, TokenError};
use crate::keys::KeySet;
use crate::replay::ReplayGuard;

/// Maximum accepted token length in bytes. Access tokens issued here are well under 1 KiB.
pub const MAX_TOKEN_LEN: usize = 8 * 1024;

/// Default clock leeway for `exp`, `nbf` and `iat`: 30 seconds. RFC 7519 allows "a small
/// leeway, usually no more than a few minutes"; components share one host clock or NTP, so
/// half a minute covers their drift without extending a 60-second service token much.
pub const DEFAULT_LEEWAY_SECS: u64 = 30;

/// The only JWS algorithm accepted for tokens issued here.
const ALGORITHM: &str = "EdDSA";

/// Verifies tokens from one issuer against a key set.
#[derive(Debug, Clone)]
pub struct TokenVerifier {
    issuer: String,
    keys: KeySet,
    leeway_secs: u64,
}

impl TokenVerifier {
    /// Creates a verifier for tokens whose `iss` is `issuer`, with the default leeway.
    pub fn new(issuer: impl Into<String>, keys: KeySet) -> Self {
        Self {
            issuer: issuer.into(),
            keys,
            leeway_secs: DEFAULT_LEEWAY_SECS,
        }
    }

    /// Sets the clock leeway in seconds.
    pub fn with_leeway_secs(mut self, leeway_secs: u64) -> Self {
        self.leeway_secs = leeway_secs;
        self
    }

    /// Verifies an access token's header, signature and claims at `now` (Unix seconds).
    ///
    /// The result exposes nothing until [`PendingAccess::confirm`] has verified the
    /// request's DPoP proof, because an access token alone does not prove who presents it.
    pub fn verify_access(&self, token: &str, now: i64) -> Result<PendingAccess, TokenError> {
        let claims: JWTClaims<AccessClaimsWire> =
            self.verify(token, TokenPurpose::Access, ACCESS_AUDIENCE, now)?;
        let user = parse_subject(&claims)?;
        let (issued_at, expires_at) = times(&claims)?;
        let custom = claims.custom;

        let access = AccessToken {
            user,
            role: custom
                .role
                .ok_or(TokenError::MissingClaim { claim: "role" })?,
            session: custom
                .sid
                .ok_or(TokenError::MissingClaim { claim: "sid" })?,
            amr: custom
                .amr
                .ok_or(TokenError::MissingClaim { claim: "amr" })?,
            auth_time: custom
                .auth_time
                .ok_or(TokenError::MissingClaim { claim: "auth_time" })?,
            acr: custom
                .acr
                .ok_or(TokenError::MissingClaim { claim: "acr" })?,
            dpop_jkt: String::new(),
            on_behalf_of: custom.obo,
            token_id: claims.jwt_id,
            issued_at,
            expires_at,
        };
        Ok(PendingAccess {
            token: token.to_owned(),
            jkt: custom.cnf.map(|confirmation| confirmation.jkt),
            access,
        })
    }

    /// Verifies a service token addressed to component `receiver`.
    pub fn verify_service(
        &self,
        token: &str,
        receiver: &str,
        now: i64,
    ) -> Result<ServiceToken, TokenError> {
        let audience = service_audience(receiver);
        let claims: JWTClaims<ServiceClaimsWire> =
            self.verify(token, TokenPurpose::Service, &audience, now)?;
        let (_, expires_at) = times(&claims)?;
        let caller = claims
            .subject
            .ok_or(TokenError::MissingClaim { claim: "sub" })?;
        let token_id = claims
            .jwt_id
            .ok_or(TokenError::MissingClaim { claim: "jti" })?;

        let request = claims
            .custom
            .req
            .ok_or(TokenError::MissingClaim { claim: "req" })?;
        Ok(ServiceToken {
            caller,
            request,
            token_id,
            expires_at,
        })
    }

    /// Verifies a download link.
    pub fn verify_download_link(&self, token: &str, now: i64) -> Result<DownloadLink, TokenError> {
        let claims: JWTClaims<DownloadClaimsWire> =
            self.verify(token, TokenPurpose::DownloadLink, DOWNLOAD_AUDIENCE, now)?;
        let user = parse_subject(&claims)?;
        let (_, expires_at) = times(&claims)?;
        let token_id = claims
            .jwt_id
            .ok_or(TokenError::MissingClaim { claim: "jti" })?;

        Ok(DownloadLink {
            grant: DownloadGrant {
                user,
                file: claims
                    .custom
                    .file
                    .ok_or(TokenError::MissingClaim { claim: "file" })?,
                session: claims
                    .custom
                    .sid
                    .ok_or(TokenError::MissingClaim { claim: "sid" })?,
                on_behalf_of: claims.custom.obo,
            },
            token_id,
            expires_at,
        })
    }

    /// Checks the header against the purpose and key set, then lets jwt-simple verify the
    /// signature, issuer, audience and times.
    fn verify<C: DeserializeOwned>(
        &self,
        token: &str,
        purpose: TokenPurpose,
        audience: &str,
        now: i64,
    ) -> Result<JWTClaims<C>, TokenError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::TooLong);
        }
        let metadata = Token::decode_metadata(token).map_err(|_| TokenError::Malformed)?;
        if metadata.algorithm() != ALGORITHM {
            return Err(TokenError::AlgorithmNotAllowed);
        }
        if metadata.signature_type() != Some(purpose.typ()) {
            return Err(TokenError::WrongType);
        }
        let kid = metadata.key_id().ok_or(TokenError::MissingKeyId)?;
        let key = self.keys.get(kid).ok_or(TokenError::UnknownKeyId)?;

        let now = u64::try_from(now).unwrap_or(0);
        let lifetime = purpose.max_lifetime_secs();
        let options = VerificationOptions {
            accept_future: false,
            required_key_id: Some(kid.to_owned()),
            required_signature_type: Some(purpose.typ().to_owned()),
            allowed_issuers: Some(HashSet::from([self.issuer.clone()])),
            allowed_audiences: Some(HashSet::from([audience.to_owned()])),
            time_tolerance: Some(Duration::from_secs(self.leeway_secs)),
            max_token_length: Some(MAX_TOKEN_LEN),
            artificial_time: Some(UnixTimeStamp::from_secs(now)),
            ..VerificationOptions::default()
        };
        let claims = key
            .verify_token::<C>(token, Some(options))
            .map_err(map_jwt_error)?;

        // `exp` was checked against `now` above; with `iat` required and `exp - iat` bounded
        // here, no token outlives its purpose's lifetime plus the leeway.
        let (issued_at, expires_at) = times(&claims)?;
        if expires_at.saturating_sub(issued_at) > lifetime as i64 {
            return Err(TokenError::LifetimeTooLong);
        }
        Ok(claims)
    }
}

/// An access token whose signature and claims verified, waiting for its DPoP proof.
pub struct PendingAccess {
    token: String,
    jkt: Option<String>,
    access: AccessToken,
}

impl core::fmt::Debug for PendingAccess {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // The raw token is a bearer credential until its proof is checked, so it is left out.
        f.debug_struct("PendingAccess")
            .field("user", &self.access.user)
            .field("session", &self.access.session)
            .field("bound", &self.jkt.is_some())
            .finish_non_exhaustive()
    }
}

impl PendingAccess {
    /// Verifies the request's DPoP proof against this token and returns the token's claims.
    ///
    /// The proof must be signed by the key whose thumbprint is the token's `cnf.jkt`, carry
    /// `ath` for this token, match the request method and URL, be fresh and unused.
    pub fn confirm(
        self,
        proof: &str,
        request: &DpopRequest<'_>,
        now: i64,
        policy: &DpopPolicy,
        replay_guard: &dyn ReplayGuard,
    ) -> Result<AccessToken, DpopError> {
        let jkt = self.jkt.ok_or(DpopError::TokenNotBound)?;
        let request = DpopRequest {
            access_token: Some(&self.token),
            expected_jkt: Some(&jkt),
            ..*request
        };
        verify_dpop_proof(proof, &request, now, policy, replay_guard)?;

        Ok(AccessToken {
            dpop_jkt: jkt,
            ..self.access
        })
    }
}

fn parse_subject<C>(claims: &JWTClaims<C>) -> Result<portal_policy::UserId, TokenError> {
    let subject = claims
        .subject
        .as_deref()
        .ok_or(TokenError::MissingClaim { claim: "sub" })?;
    portal_policy::UserId::new(subject).map_err(|_| TokenError::InvalidClaim { claim: "sub" })
}

/// Returns `iat` and `exp` in Unix seconds; both are required.
fn times<C>(claims: &JWTClaims<C>) -> Result<(i64, i64), TokenError> {
    let seconds = |time: UnixTimeStamp| i64::try_from(time.as_secs()).unwrap_or(i64::MAX);
    let issued_at = claims
        .issued_at
        .map(seconds)
        .ok_or(TokenError::MissingClaim { claim: "iat" })?;
    let expires_at = claims
        .expires_at
        .map(seconds)
        .ok_or(TokenError::MissingClaim { claim: "exp" })?;
    Ok((issued_at, expires_at))
}

fn map_jwt_error(error: jwt_simple::Error) -> TokenError {
    if let Some(jwt_error) = error.downcast_ref::<JWTError>() {
        return match jwt_error {
            JWTError::InvalidSignature => TokenError::BadSignature,
            JWTError::TokenHasExpired => TokenError::Expired,
            JWTError::TokenNotValidYet => TokenError::NotYetValid,
            JWTError::ClockDrift => TokenError::IssuedInFuture,
            JWTError::TokenIsTooOld => TokenError::LifetimeTooLong,
            JWTError::RequiredIssuerMismatch | JWTError::RequiredIssuerMissing => {
                TokenError::WrongIssuer
            }
            JWTError::RequiredAudienceMismatch | JWTError::RequiredAudienceMissing => {
                TokenError::WrongAudience
            }
            JWTError::AlgorithmMismatch => TokenError::AlgorithmNotAllowed,
            JWTError::RequiredSignatureTypeMismatch | JWTError::NotJWT => TokenError::WrongType,
            JWTError::KeyIdentifierMismatch | JWTError::MissingJWTKeyIdentifier => {
                TokenError::UnknownKeyId
            }
            JWTError::TokenTooLong => TokenError::TooLong,
            _ => TokenError::Malformed,
        };
    }
    if error.downcast_ref::<serde_json::Error>().is_some() {
        return TokenError::InvalidClaim { claim: "claims" };
    }
    TokenError::Malformed
}
