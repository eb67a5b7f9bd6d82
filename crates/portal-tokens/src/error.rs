//! Errors of token issuing and verification.
//!
//! Variants name the check that failed. They never contain a token, a key or a claim
//! value, so they are safe to log. None of them should be shown to a user, who only needs
//! to sign in again.

/// A token could not be issued or failed verification.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// The token is not a compact JWS with a readable header and payload.
    #[error("token is malformed")]
    Malformed,
    /// The token is longer than [`crate::MAX_TOKEN_LEN`].
    #[error("token is longer than the maximum accepted length")]
    TooLong,
    /// The header's `alg` is not `EdDSA`.
    #[error("token algorithm is not allowed: only EdDSA is accepted")]
    AlgorithmNotAllowed,
    /// The header's `typ` is not the one of the expected token purpose.
    #[error("token type does not match the expected purpose")]
    WrongType,
    /// The header has no `kid`.
    #[error("token has no key id")]
    MissingKeyId,
    /// No verification key has the header's `kid`.
    #[error("token key id is unknown")]
    UnknownKeyId,
    /// The signature does not verify under the selected key.
    #[error("token signature is invalid")]
    BadSignature,
    /// `exp` is in the past, beyond the leeway.
    #[error("token has expired")]
    Expired,
    /// `nbf` is in the future, beyond the leeway.
    #[error("token is not valid yet")]
    NotYetValid,
    /// `iat` is in the future, beyond the leeway.
    #[error("token was issued in the future")]
    IssuedInFuture,
    /// `exp - iat` is longer than the purpose allows, or `iat` is too old.
    #[error("token lifetime is longer than its purpose allows")]
    LifetimeTooLong,
    /// `iss` is missing or not the configured issuer.
    #[error("token issuer does not match")]
    WrongIssuer,
    /// `aud` is missing or not the audience of the expected purpose.
    #[error("token audience does not match")]
    WrongAudience,
    /// A required claim is missing.
    #[error("token is missing the {claim} claim")]
    MissingClaim {
        /// The claim name.
        claim: &'static str,
    },
    /// A claim has the wrong type or an invalid value.
    #[error("token claim {claim} is invalid")]
    InvalidClaim {
        /// The claim name, or `claims` when the payload does not parse.
        claim: &'static str,
    },
    /// A key could not be loaded.
    #[error("invalid key: {reason}")]
    InvalidKey {
        /// The problem, without key material.
        reason: &'static str,
    },
    /// Signing failed, or the random number generator failed.
    #[error("token could not be issued")]
    IssueFailed,
}

/// A DPoP proof (RFC 9449) failed verification, or the access token is not bound to it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DpopError {
    /// The proof is not a compact JWS with a readable header and payload, or is too long.
    #[error("DPoP proof is malformed")]
    Malformed,
    /// The header's `typ` is not `dpop+jwt`.
    #[error("DPoP proof type is not dpop+jwt")]
    WrongType,
    /// The header's `alg` is not ES256 or EdDSA, or does not match the key type.
    #[error("DPoP proof algorithm is not allowed")]
    AlgorithmNotAllowed,
    /// The header has a `crit` parameter, which this verifier does not understand.
    #[error("DPoP proof has critical header parameters")]
    CriticalHeader,
    /// The header's `jwk` is missing or is not a valid P-256 or Ed25519 public key.
    #[error("DPoP proof key is missing or invalid")]
    InvalidKey,
    /// The header's `jwk` contains private key members.
    #[error("DPoP proof key contains private key material")]
    PrivateKeyInHeader,
    /// The signature does not verify under the header's key.
    #[error("DPoP proof signature is invalid")]
    BadSignature,
    /// A required claim is missing or has the wrong type.
    #[error("DPoP proof claim {claim} is missing or invalid")]
    InvalidClaim {
        /// The claim name.
        claim: &'static str,
    },
    /// `htm` is not the request method.
    #[error("DPoP proof method does not match the request")]
    WrongMethod,
    /// `htu` is not the request URL (query and fragment ignored).
    #[error("DPoP proof URL does not match the request")]
    WrongUrl,
    /// `iat` is outside the accepted window.
    #[error("DPoP proof is too old or issued in the future")]
    Stale,
    /// `ath` is missing or is not the hash of the presented access token.
    #[error("DPoP proof access token hash does not match")]
    WrongAccessTokenHash,
    /// `nonce` is missing or is not the nonce the server issued.
    #[error("DPoP proof nonce does not match")]
    WrongNonce,
    /// The proof key's thumbprint is not the `cnf.jkt` of the access token.
    #[error("DPoP proof key does not match the key the access token is bound to")]
    KeyMismatch,
    /// The access token has no `cnf.jkt`, so it is not bound to a key.
    #[error("access token is not bound to a DPoP key")]
    TokenNotBound,
    /// The proof's `jti` was already used.
    #[error("DPoP proof was already used")]
    Replayed,
    /// The replay store failed, so the proof is rejected.
    #[error("DPoP replay check failed: {0}")]
    ReplayStore(String),
}
