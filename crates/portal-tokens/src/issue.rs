//! Issuing tokens. Only the auth component (access tokens, download links) and each
//! component for its outgoing calls (service tokens) hold a signing key.

use base64ct::{Base64UrlUnpadded, Encoding};
use jwt_simple::prelude::{Audiences, Duration, EdDSAKeyPairLike, HeaderOptions, JWTClaims};
use serde::Serialize;

use crate::claims::{
    ACCESS_AUDIENCE, AccessClaimsWire, AccessGrant, Confirmation, DOWNLOAD_AUDIENCE,
    DownloadClaimsWire, DownloadGrant, ServiceClaimsWire, TokenPurpose, service_audience,
};
use crate::error::TokenError;
use crate::keys::SigningKey;

/// Signs tokens of every purpose with one key under one issuer name.
#[derive(Debug)]
pub struct TokenIssuer {
    issuer: String,
    key: SigningKey,
}

impl TokenIssuer {
    /// Creates an issuer. `issuer` goes into `iss` and must equal the verifiers' setting,
    /// such as `https://portal.example.org/auth`.
    pub fn new(issuer: impl Into<String>, key: SigningKey) -> Self {
        Self {
            issuer: issuer.into(),
            key,
        }
    }

    /// Issues an access token valid for [`crate::ACCESS_TOKEN_LIFETIME_SECS`] from `now`
    /// (Unix seconds), bound to the DPoP key in `grant.dpop_jkt`.
    pub fn issue_access(&self, grant: &AccessGrant, now: i64) -> Result<String, TokenError> {
        self.issue_access_for(grant, now, crate::ACCESS_TOKEN_LIFETIME_SECS)
    }

    /// Issues an access token valid for `lifetime_secs`, capped at
    /// [`crate::ACCESS_TOKEN_LIFETIME_SECS`].
    pub fn issue_access_for(
        &self,
        grant: &AccessGrant,
        now: i64,
        lifetime_secs: u64,
    ) -> Result<String, TokenError> {
        let custom = AccessClaimsWire {
            role: Some(grant.role),
            sid: Some(grant.session.clone()),
            amr: Some(grant.amr.clone()),
            auth_time: Some(grant.auth_time),
            acr: Some(grant.acr.clone()),
            cnf: Some(Confirmation {
                jkt: grant.dpop_jkt.clone(),
            }),
            obo: grant.on_behalf_of.clone(),
        };
        self.sign(
            TokenPurpose::Access,
            grant.user.as_str(),
            ACCESS_AUDIENCE,
            custom,
            now,
            lifetime_secs,
        )
    }

    /// Issues a service token from component `caller` to component `receiver` for one
    /// `request` (`METHOD /path`, the path inside the receiver's route), valid for
    /// [`crate::SERVICE_TOKEN_LIFETIME_SECS`].
    pub fn issue_service(
        &self,
        caller: &str,
        receiver: &str,
        request: &str,
        now: i64,
    ) -> Result<String, TokenError> {
        let audience = service_audience(receiver);
        self.sign(
            TokenPurpose::Service,
            caller,
            &audience,
            ServiceClaimsWire {
                req: Some(request.to_owned()),
            },
            now,
            TokenPurpose::Service.max_lifetime_secs(),
        )
    }

    /// Issues a download link for one file, valid for
    /// [`crate::DOWNLOAD_LINK_LIFETIME_SECS`].
    pub fn issue_download_link(
        &self,
        grant: &DownloadGrant,
        now: i64,
    ) -> Result<String, TokenError> {
        let custom = DownloadClaimsWire {
            file: Some(grant.file.clone()),
            sid: Some(grant.session.clone()),
            obo: grant.on_behalf_of.clone(),
        };
        self.sign(
            TokenPurpose::DownloadLink,
            grant.user.as_str(),
            DOWNLOAD_AUDIENCE,
            custom,
            now,
            TokenPurpose::DownloadLink.max_lifetime_secs(),
        )
    }

    fn sign<C: Serialize>(
        &self,
        purpose: TokenPurpose,
        subject: &str,
        audience: &str,
        custom: C,
        now: i64,
        lifetime_secs: u64,
    ) -> Result<String, TokenError> {
        let now = u64::try_from(now).map_err(|_| TokenError::IssueFailed)?;
        let issued_at = Duration::from_secs(now);
        let lifetime = lifetime_secs.clamp(1, purpose.max_lifetime_secs());
        let expires_at = Duration::from_secs(now + lifetime);

        let claims = JWTClaims {
            issued_at: Some(issued_at),
            expires_at: Some(expires_at),
            invalid_before: Some(issued_at),
            issuer: Some(self.issuer.clone()),
            subject: Some(subject.to_owned()),
            audiences: Some(Audiences::AsString(audience.to_owned())),
            jwt_id: Some(random_token_id()?),
            nonce: None,
            custom,
        };
        let header = HeaderOptions {
            signature_type: Some(purpose.typ().to_owned()),
            content_type: None,
        };

        self.key
            .key_pair()
            .sign_with_options(claims, &header)
            .map_err(|_| TokenError::IssueFailed)
    }
}

/// Returns 128 random bits as unpadded base64url, for `jti`.
fn random_token_id() -> Result<String, TokenError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|_| TokenError::IssueFailed)?;
    Ok(Base64UrlUnpadded::encode_string(&bytes))
}
