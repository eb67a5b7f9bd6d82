//! Tokens for the patient portal: EdDSA JWTs for access, service calls and download links,
//! and DPoP proof verification (RFC 9449).
//!
//! - [`TokenIssuer`] signs tokens with an Ed25519 [`SigningKey`] using jwt-simple's
//!   pure-Rust backend. Each [`TokenPurpose`] has its own `typ` and audience.
//! - [`TokenVerifier`] selects the key by `kid` from a [`KeySet`], allows only `EdDSA`, and
//!   checks `typ`, `iss`, `aud`, `exp`, `nbf` and `iat` with a small leeway
//!   ([`DEFAULT_LEEWAY_SECS`]). Access tokens are only usable after
//!   [`PendingAccess::confirm`] has verified the request's DPoP proof.
//! - [`verify_dpop_proof`] checks a proof's signature (ES256 or EdDSA, by the key in its
//!   `jwk` header), `htm`, `htu`, `iat`, `ath`, key thumbprint and `jti` replay through a
//!   [`ReplayGuard`].
//!
//! Every function that checks time takes `now` in Unix seconds, so components and tests
//! control the clock.

mod claims;
mod dpop;
mod error;
mod issue;
mod jwk;
mod keys;
mod replay;
pub mod signature;
mod verify;

pub use claims::{
    ACCESS_AUDIENCE, ACCESS_TOKEN_LIFETIME_SECS, AMR_MULTI_FACTOR, AccessGrant, AccessToken,
    DOWNLOAD_AUDIENCE, DOWNLOAD_LINK_LIFETIME_SECS, DownloadGrant, DownloadLink,
    SERVICE_AUDIENCE_PREFIX, SERVICE_ISSUER, SERVICE_TOKEN_LIFETIME_SECS, ServiceToken,
    TokenPurpose, service_audience,
};
pub use dpop::{
    DpopPolicy, DpopRequest, MAX_JTI_LEN, MAX_PROOF_LEN, MIN_JTI_LEN, VerifiedProof,
    access_token_hash, verify_dpop_proof,
};
pub use error::{DpopError, TokenError};
pub use issue::TokenIssuer;
pub use jwk::{JwkError, PublicJwk, jwk_thumbprint};
pub use keys::{KeySet, MAX_KID_LEN, MAX_VERIFICATION_KEYS, SigningKey, VerifyingKey};
pub use replay::{IN_MEMORY_REPLAY_CAPACITY, InMemoryReplayGuard, ReplayGuard};
pub use verify::{DEFAULT_LEEWAY_SECS, MAX_TOKEN_LEN, PendingAccess, TokenVerifier};
