//! Keys, tokens and proofs shared by the integration tests.

#![allow(dead_code, reason = "each test binary uses a different subset")]

use base64ct::{Base64UrlUnpadded, Encoding};
use p256::ecdsa::signature::Signer;
use portal_policy::{PatientId, Role, SessionId, UserId};
use portal_tokens::{
    AccessGrant, KeySet, PublicJwk, SigningKey, TokenIssuer, TokenVerifier, access_token_hash,
};
use serde_json::{Value, json};

pub const ISSUER: &str = "https://portal.example.org/auth";
/// 2026-03-10T12:00:00Z.
pub const NOW: i64 = 1_773_144_000;

pub fn signing_key() -> SigningKey {
    SigningKey::from_seed("k1", &[1; 32]).unwrap()
}

pub fn issuer() -> TokenIssuer {
    TokenIssuer::new(ISSUER, signing_key())
}

pub fn verifier() -> TokenVerifier {
    let mut keys = KeySet::new();
    keys.insert(&signing_key().verifying_key()).unwrap();
    TokenVerifier::new(ISSUER, keys)
}

/// The client's DPoP key, ES256 or EdDSA.
pub enum ClientKey {
    Es256(p256::ecdsa::SigningKey),
    EdDsa(ed25519_compact::KeyPair),
}

impl ClientKey {
    pub fn es256(seed: u8) -> Self {
        ClientKey::Es256(p256::ecdsa::SigningKey::from_slice(&[seed; 32]).unwrap())
    }

    pub fn eddsa(seed: u8) -> Self {
        ClientKey::EdDsa(ed25519_compact::KeyPair::from_seed(
            ed25519_compact::Seed::new([seed; 32]),
        ))
    }

    pub fn alg(&self) -> &'static str {
        match self {
            ClientKey::Es256(_) => "ES256",
            ClientKey::EdDsa(_) => "EdDSA",
        }
    }

    pub fn jwk(&self) -> Value {
        match self {
            ClientKey::Es256(key) => {
                let point = key.verifying_key().to_sec1_point(false);
                let bytes = point.as_bytes();
                json!({
                    "kty": "EC",
                    "crv": "P-256",
                    "x": b64(&bytes[1..33]),
                    "y": b64(&bytes[33..65]),
                })
            }
            ClientKey::EdDsa(pair) => json!({
                "kty": "OKP",
                "crv": "Ed25519",
                "x": b64(&pair.pk[..]),
            }),
        }
    }

    pub fn thumbprint(&self) -> String {
        PublicJwk::from_json(&self.jwk()).unwrap().thumbprint()
    }

    pub fn sign(&self, input: &[u8]) -> Vec<u8> {
        match self {
            ClientKey::Es256(key) => {
                let signature: p256::ecdsa::Signature = key.sign(input);
                signature.to_bytes().to_vec()
            }
            ClientKey::EdDsa(pair) => pair.sk.sign(input, None).to_vec(),
        }
    }
}

pub fn b64(bytes: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(bytes)
}

/// Builds a compact JWS from arbitrary header and payload JSON, signed by `sign`.
pub fn compact(header: &Value, payload: &Value, sign: impl Fn(&[u8]) -> Vec<u8>) -> String {
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(payload.to_string().as_bytes())
    );
    let signature = sign(input.as_bytes());
    format!("{input}.{}", b64(&signature))
}

/// Signs arbitrary header and payload JSON with the issuer's Ed25519 key (seed [1; 32]).
pub fn sign_with_issuer_key(header: &Value, payload: &Value) -> String {
    let pair = ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::new([1; 32]));
    compact(header, payload, |input| pair.sk.sign(input, None).to_vec())
}

pub fn access_header() -> Value {
    json!({"alg": "EdDSA", "typ": "at+jwt", "kid": "k1"})
}

/// Claims of a valid access token issued at `NOW`, bound to `jkt`.
pub fn access_claims(jkt: &str) -> Value {
    json!({
        "iss": ISSUER,
        "sub": "user-1",
        "aud": "urn:portal:access",
        "iat": NOW,
        "nbf": NOW,
        "exp": NOW + 900,
        "jti": "token-1",
        "role": "patient",
        "sid": "session-1",
        "amr": ["pwd", "otp", "mfa"],
        "auth_time": NOW - 30,
        "acr": "urn:portal:acr:mfa",
        "cnf": {"jkt": jkt},
    })
}

pub fn access_grant(jkt: &str) -> AccessGrant {
    AccessGrant {
        user: UserId::new("user-1").unwrap(),
        role: Role::Proxy,
        session: SessionId::new("session-1").unwrap(),
        amr: vec!["pwd".into(), "otp".into(), "mfa".into()],
        auth_time: NOW - 30,
        acr: "urn:portal:acr:mfa".into(),
        dpop_jkt: jkt.to_owned(),
        on_behalf_of: Some(PatientId::new("patient-7").unwrap()),
    }
}

pub const URL: &str = "https://portal.example.org/api/messages/threads";

/// Claims of a valid proof for `GET URL` at `NOW` carrying `ath` for `access_token`.
pub fn proof_claims(access_token: Option<&str>, jti: &str) -> Value {
    let mut claims = json!({
        "jti": jti,
        "htm": "GET",
        "htu": URL,
        "iat": NOW,
    });
    if let Some(token) = access_token {
        claims["ath"] = json!(access_token_hash(token));
    }
    claims
}

pub fn proof_header(key: &ClientKey) -> Value {
    json!({"typ": "dpop+jwt", "alg": key.alg(), "jwk": key.jwk()})
}

/// Builds a proof signed by `key` with the given claims.
pub fn proof(key: &ClientKey, claims: &Value) -> String {
    compact(&proof_header(key), claims, |input| key.sign(input))
}
