//! Ed25519 signing keys and the verification key set selected by `kid`.
//!
//! # Variables
//!
//! | variable | value |
//! |---|---|
//! | `token_signing_kid` | id of the current signing key, such as `2026-03` (`[A-Za-z0-9._-]`, 1 to 64) |
//! | `token_signing_key` | standard base64 of the 32-byte Ed25519 seed (secret; auth component only) |
//! | `token_verification_keys` | JWK Set (RFC 7517) of every public key still accepted |
//!
//! Rotation: publish the new public key in `token_verification_keys`, switch
//! `token_signing_kid` and `token_signing_key`, and remove the old public key once the
//! longest-lived token signed with it has expired.

use core::fmt;
use std::collections::BTreeMap;

use base64ct::{Base64, Base64UrlUnpadded, Encoding};
use jwt_simple::prelude::{Ed25519KeyPair, Ed25519PublicKey};
use zeroize::Zeroizing;

use crate::error::TokenError;

/// Maximum length of a key id.
pub const MAX_KID_LEN: usize = 64;

/// Maximum number of keys in a verification key set.
pub const MAX_VERIFICATION_KEYS: usize = 16;

/// An Ed25519 private key with its key id.
///
/// `ed25519-compact` wipes the secret key when it is dropped. `Debug` prints only the key
/// id and algorithm.
pub struct SigningKey {
    kid: String,
    key_pair: Ed25519KeyPair,
}

impl SigningKey {
    /// Builds a key from a 32-byte seed given as standard base64 (the
    /// `token_signing_key` variable).
    pub fn from_seed_base64(kid: &str, seed: &str) -> Result<Self, TokenError> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        let decoded =
            Base64::decode(seed.trim(), bytes.as_mut()).map_err(|_| TokenError::InvalidKey {
                reason: "signing key must be standard base64 of a 32-byte Ed25519 seed",
            })?;
        if decoded.len() != 32 {
            return Err(TokenError::InvalidKey {
                reason: "signing key must be standard base64 of a 32-byte Ed25519 seed",
            });
        }
        Self::from_seed(kid, &bytes)
    }

    /// Builds a key from a 32-byte seed.
    pub fn from_seed(kid: &str, seed: &[u8; 32]) -> Result<Self, TokenError> {
        validate_kid(kid)?;
        // `Seed` is `Copy` and not wiped on drop, so wipe the local copy by hand.
        let mut seed = ed25519_compact::Seed::new(*seed);
        let pair = ed25519_compact::KeyPair::from_seed(seed);
        seed.wipe_mut();
        let bytes = Zeroizing::new(pair.to_vec());

        let key_pair = Ed25519KeyPair::from_bytes(&bytes)
            .map_err(|_| TokenError::InvalidKey {
                reason: "Ed25519 key pair is inconsistent",
            })?
            .with_key_id(kid);
        Ok(Self {
            kid: kid.to_owned(),
            key_pair,
        })
    }

    /// Generates a key from the operating system's random number generator.
    pub fn generate(kid: &str) -> Result<Self, TokenError> {
        let mut seed = Zeroizing::new([0u8; 32]);
        getrandom::fill(seed.as_mut()).map_err(|_| TokenError::IssueFailed)?;
        Self::from_seed(kid, &seed)
    }

    /// Returns the key id placed in each token's `kid` header.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// Returns the public half, for the verification key set.
    pub fn verifying_key(&self) -> VerifyingKey {
        VerifyingKey {
            kid: self.kid.clone(),
            public_key: self.key_pair.public_key().to_bytes(),
        }
    }

    pub(crate) fn key_pair(&self) -> &Ed25519KeyPair {
        &self.key_pair
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("algorithm", &"EdDSA")
            .finish_non_exhaustive()
    }
}

/// An Ed25519 public key with its key id.
#[derive(Clone, PartialEq, Eq)]
pub struct VerifyingKey {
    kid: String,
    public_key: Vec<u8>,
}

impl VerifyingKey {
    /// Builds a key from 32 raw public key bytes.
    pub fn from_bytes(kid: &str, public_key: &[u8]) -> Result<Self, TokenError> {
        validate_kid(kid)?;
        let point = ed25519_compact::PublicKey::from_slice(public_key).map_err(|_| {
            TokenError::InvalidKey {
                reason: "Ed25519 public key must be 32 bytes",
            }
        })?;
        point.validate().map_err(|_| TokenError::InvalidKey {
            reason: "Ed25519 public key is not a canonical point of large order",
        })?;

        Ok(Self {
            kid: kid.to_owned(),
            public_key: public_key.to_vec(),
        })
    }

    /// Returns the key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// Returns the public key as a JWK (RFC 8037 `OKP`), for a JWK Set.
    pub fn to_jwk(&self) -> serde_json::Value {
        serde_json::json!({
            "kty": "OKP",
            "crv": "Ed25519",
            "alg": "EdDSA",
            "use": "sig",
            "kid": self.kid,
            "x": Base64UrlUnpadded::encode_string(&self.public_key),
        })
    }
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("kid", &self.kid)
            .field("algorithm", &"EdDSA")
            .finish_non_exhaustive()
    }
}

/// The public keys a verifier accepts, looked up by `kid`.
#[derive(Clone, Default)]
pub struct KeySet {
    keys: BTreeMap<String, Ed25519PublicKey>,
}

impl KeySet {
    /// Creates an empty key set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a key, replacing any key with the same id.
    pub fn insert(&mut self, key: &VerifyingKey) -> Result<(), TokenError> {
        if self.keys.len() >= MAX_VERIFICATION_KEYS && !self.keys.contains_key(&key.kid) {
            return Err(TokenError::InvalidKey {
                reason: "verification key set is full",
            });
        }
        let public_key =
            Ed25519PublicKey::from_bytes(&key.public_key).map_err(|_| TokenError::InvalidKey {
                reason: "Ed25519 public key must be 32 bytes",
            })?;
        self.keys.insert(key.kid.clone(), public_key);
        Ok(())
    }

    /// Parses a JWK Set (`{"keys": [...]}`) of Ed25519 public keys, the
    /// `token_verification_keys` variable. Every entry needs `kty` `OKP`, `crv` `Ed25519`,
    /// `x` and `kid`; entries with private key members (`d`) are rejected.
    pub fn from_jwks_json(json: &str) -> Result<Self, TokenError> {
        let invalid = |reason| TokenError::InvalidKey { reason };
        let document: serde_json::Value =
            serde_json::from_str(json).map_err(|_| invalid("key set is not JSON"))?;
        let entries = document
            .get("keys")
            .and_then(serde_json::Value::as_array)
            .ok_or(invalid("key set has no keys array"))?;

        let mut set = Self::new();
        for entry in entries {
            let member = |name: &str| entry.get(name).and_then(serde_json::Value::as_str);
            if member("kty") != Some("OKP") || member("crv") != Some("Ed25519") {
                return Err(invalid("key set entries must be OKP Ed25519 keys"));
            }
            if entry.get("d").is_some() {
                return Err(invalid("key set entry contains a private key"));
            }
            let kid = member("kid").ok_or(invalid("key set entry has no kid"))?;
            let x = member("x").ok_or(invalid("key set entry has no x"))?;
            let bytes = Base64UrlUnpadded::decode_vec(x)
                .map_err(|_| invalid("key set entry x is not base64url"))?;
            set.insert(&VerifyingKey::from_bytes(kid, &bytes)?)?;
        }
        Ok(set)
    }

    /// Returns the number of keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Returns whether the set has no keys.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub(crate) fn get(&self, kid: &str) -> Option<&Ed25519PublicKey> {
        self.keys.get(kid)
    }
}

impl fmt::Debug for KeySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeySet")
            .field("kids", &self.keys.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

fn validate_kid(kid: &str) -> Result<(), TokenError> {
    let valid = !kid.is_empty()
        && kid.len() <= MAX_KID_LEN
        && kid
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.'));
    if valid {
        Ok(())
    } else {
        Err(TokenError::InvalidKey {
            reason: "key id must be 1 to 64 characters from A-Z, a-z, 0-9, '-', '_' and '.'",
        })
    }
}
