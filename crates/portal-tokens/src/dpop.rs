//! DPoP proof verification (RFC 9449).
//!
//! jwt-simple cannot parse DPoP proofs, because it reads the `jwk` header as a string while
//! RFC 9449 puts a JSON object there. This module therefore parses the compact JWS itself
//! and verifies the signature with the same `p256` and `ed25519-compact` code jwt-simple
//! uses ([`crate::signature`]).

use base64ct::{Base64UrlUnpadded, Encoding};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use url::Url;

use crate::error::DpopError;
use crate::jwk::{JwkError, PublicJwk};
use crate::replay::ReplayGuard;

/// Maximum accepted proof length in bytes. A proof with a P-256 key is about 600 bytes.
pub const MAX_PROOF_LEN: usize = 4 * 1024;

/// Shortest accepted `jti`: 16 base64url characters carry 96 bits, the minimum RFC 9449
/// section 4.2 recommends for a value that must not repeat.
pub const MIN_JTI_LEN: usize = 16;

/// Longest accepted `jti`, which bounds what the replay store keeps.
pub const MAX_JTI_LEN: usize = 128;

/// The request a proof is presented with.
#[derive(Clone, Copy)]
pub struct DpopRequest<'a> {
    /// The HTTP method, such as `GET`. Compared exactly, as methods are case-sensitive.
    pub method: &'a str,
    /// The absolute URL the client used, as the client saw it (behind a proxy, rebuild it
    /// from the forwarded scheme and host). Query and fragment are ignored.
    pub url: &'a str,
    /// The access token sent with the proof, whose hash the proof's `ath` must carry.
    pub access_token: Option<&'a str>,
    /// The thumbprint the proof key must have, from the access token's `cnf.jkt`.
    pub expected_jkt: Option<&'a str>,
    /// The nonce the server last issued to this client, if it requires one.
    pub nonce: Option<&'a str>,
}

impl core::fmt::Debug for DpopRequest<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // The access token is a credential, so only its presence is shown.
        f.debug_struct("DpopRequest")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("access_token", &self.access_token.map(|_| "<redacted>"))
            .field("expected_jkt", &self.expected_jkt)
            .field("nonce", &self.nonce)
            .finish()
    }
}

impl<'a> DpopRequest<'a> {
    /// Describes a request by method and URL, with no token, key or nonce expectations.
    pub fn new(method: &'a str, url: &'a str) -> Self {
        Self {
            method,
            url,
            access_token: None,
            expected_jkt: None,
            nonce: None,
        }
    }
}

/// The window of accepted proof `iat` values around the current time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DpopPolicy {
    /// Oldest accepted `iat`, in seconds before now. Default 60: a proof is made for one
    /// request, and a short window keeps the replay store small.
    pub max_age_secs: i64,
    /// Latest accepted `iat`, in seconds after now. Default 5, for client clock drift;
    /// servers that see larger drift should issue nonces (RFC 9449 section 8).
    pub max_future_secs: i64,
}

impl Default for DpopPolicy {
    fn default() -> Self {
        Self {
            max_age_secs: 60,
            max_future_secs: 5,
        }
    }
}

/// A proof that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedProof {
    /// JWK SHA-256 thumbprint of the proof key.
    pub jkt: String,
    /// The proof's `jti`.
    pub jti: String,
    /// The proof's `iat`, in Unix seconds.
    pub issued_at: i64,
}

/// Verifies a DPoP proof for `request` at `now` (Unix seconds).
///
/// The checks run in this order:
///
/// 1. size and compact form;
/// 2. `typ` is `dpop+jwt`, and there is no `crit`;
/// 3. `alg` is ES256 or EdDSA and matches the `jwk`, which must be a public key;
/// 4. the signature;
/// 5. `htm`, `htu`, and `iat` within the policy window;
/// 6. `ath` when an access token is given, `nonce` when one is expected, and the key
///    thumbprint when one is expected;
/// 7. last, that `jti` is unused.
///
/// The replay store is only written for proofs that passed every other check.
pub fn verify_dpop_proof(
    proof: &str,
    request: &DpopRequest<'_>,
    now: i64,
    policy: &DpopPolicy,
    replay_guard: &dyn ReplayGuard,
) -> Result<VerifiedProof, DpopError> {
    if proof.len() > MAX_PROOF_LEN {
        return Err(DpopError::Malformed);
    }
    let mut parts = proof.split('.');
    let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(DpopError::Malformed);
    };

    let header = decode_object(header_b64)?;
    let key = check_header(&header)?;

    let signature =
        Base64UrlUnpadded::decode_vec(signature_b64).map_err(|_| DpopError::Malformed)?;
    let signing_input = &proof[..header_b64.len() + 1 + payload_b64.len()];
    if !key.verify(signing_input.as_bytes(), &signature) {
        return Err(DpopError::BadSignature);
    }

    let claims = decode_object(payload_b64)?;
    let jti = string_claim(&claims, "jti")?;
    if !(MIN_JTI_LEN..=MAX_JTI_LEN).contains(&jti.len()) {
        return Err(DpopError::InvalidClaim { claim: "jti" });
    }
    if string_claim(&claims, "htm")? != request.method {
        return Err(DpopError::WrongMethod);
    }
    if !same_target(string_claim(&claims, "htu")?, request.url) {
        return Err(DpopError::WrongUrl);
    }
    let issued_at = claims
        .get("iat")
        .and_then(Value::as_i64)
        .ok_or(DpopError::InvalidClaim { claim: "iat" })?;
    let age = now.saturating_sub(issued_at);
    if age > policy.max_age_secs || age < -policy.max_future_secs {
        return Err(DpopError::Stale);
    }

    if let Some(access_token) = request.access_token {
        let presented = claims.get("ath").and_then(Value::as_str).unwrap_or("");
        let expected = Base64UrlUnpadded::encode_string(&Sha256::digest(access_token.as_bytes()));
        if !bool::from(presented.as_bytes().ct_eq(expected.as_bytes())) {
            return Err(DpopError::WrongAccessTokenHash);
        }
    }
    if let Some(expected_nonce) = request.nonce {
        let presented = claims.get("nonce").and_then(Value::as_str).unwrap_or("");
        if !bool::from(presented.as_bytes().ct_eq(expected_nonce.as_bytes())) {
            return Err(DpopError::WrongNonce);
        }
    }

    let jkt = key.thumbprint();
    if let Some(expected_jkt) = request.expected_jkt
        && !bool::from(jkt.as_bytes().ct_eq(expected_jkt.as_bytes()))
    {
        return Err(DpopError::KeyMismatch);
    }

    let replay_key = replay_key(&jkt, jti);
    let expires_at = issued_at
        .saturating_add(policy.max_age_secs)
        .saturating_add(policy.max_future_secs);
    match replay_guard.first_use(&replay_key, expires_at, now) {
        Ok(true) => {}
        Ok(false) => return Err(DpopError::Replayed),
        Err(message) => return Err(DpopError::ReplayStore(message)),
    }

    Ok(VerifiedProof {
        jkt,
        jti: jti.to_owned(),
        issued_at,
    })
}

/// Returns the base64url SHA-256 of an access token, the `ath` value of RFC 9449.
pub fn access_token_hash(access_token: &str) -> String {
    Base64UrlUnpadded::encode_string(&Sha256::digest(access_token.as_bytes()))
}

fn check_header(header: &Map<String, Value>) -> Result<PublicJwk, DpopError> {
    let typ = header.get("typ").and_then(Value::as_str);
    if !typ.is_some_and(|typ| typ.eq_ignore_ascii_case("dpop+jwt")) {
        return Err(DpopError::WrongType);
    }
    if header.contains_key("crit") {
        return Err(DpopError::CriticalHeader);
    }
    let algorithm = header.get("alg").and_then(Value::as_str);
    if !matches!(algorithm, Some("ES256" | "EdDSA")) {
        return Err(DpopError::AlgorithmNotAllowed);
    }

    let jwk = header.get("jwk").ok_or(DpopError::InvalidKey)?;
    let key = PublicJwk::from_json(jwk).map_err(|error| match error {
        JwkError::PrivateKey => DpopError::PrivateKeyInHeader,
        JwkError::Unsupported => DpopError::InvalidKey,
    })?;
    if algorithm != Some(key.algorithm()) {
        return Err(DpopError::AlgorithmNotAllowed);
    }
    Ok(key)
}

fn decode_object(part: &str) -> Result<Map<String, Value>, DpopError> {
    let bytes = Base64UrlUnpadded::decode_vec(part).map_err(|_| DpopError::Malformed)?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(object)) => Ok(object),
        _ => Err(DpopError::Malformed),
    }
}

fn string_claim<'a>(
    claims: &'a Map<String, Value>,
    name: &'static str,
) -> Result<&'a str, DpopError> {
    claims
        .get(name)
        .and_then(Value::as_str)
        .ok_or(DpopError::InvalidClaim { claim: name })
}

/// Compares `htu` with the request URL after the scheme-based normalization of the `url`
/// crate (lowercase scheme and host, default port removed, dot segments resolved), ignoring
/// query and fragment as RFC 9449 section 4.3 requires.
fn same_target(htu: &str, request_url: &str) -> bool {
    let (Ok(proof), Ok(request)) = (Url::parse(htu), Url::parse(request_url)) else {
        return false;
    };

    matches!(proof.scheme(), "https" | "http")
        && proof.scheme() == request.scheme()
        && proof.username() == request.username()
        && proof.password() == request.password()
        && proof.host_str() == request.host_str()
        && proof.port_or_known_default() == request.port_or_known_default()
        && proof.path() == request.path()
}

/// Returns the replay-store key of a proof: its key thumbprint and a hash of its `jti`, so
/// the key length is fixed whatever the client sends.
fn replay_key(jkt: &str, jti: &str) -> String {
    let jti_hash = Base64UrlUnpadded::encode_string(&Sha256::digest(jti.as_bytes()));
    format!("dpop-jti/{jkt}/{jti_hash}")
}
