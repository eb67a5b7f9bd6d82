//! Public JWKs of DPoP keys and their RFC 7638 thumbprints.

use base64ct::{Base64UrlUnpadded, Encoding};
use sha2::{Digest, Sha256};

/// Members that only private or symmetric JWKs have (RFC 7518 sections 6.2.2, 6.3.2 and
/// 6.4, RFC 8037 section 2). A DPoP proof whose `jwk` has any of them is rejected.
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// A public key from a JWK: P-256 for ES256, or Ed25519 for EdDSA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicJwk {
    /// An `EC` key on `P-256`, with 32-byte coordinates.
    P256 {
        /// The x coordinate.
        x: [u8; 32],
        /// The y coordinate.
        y: [u8; 32],
    },
    /// An `OKP` key on `Ed25519` (RFC 8037).
    Ed25519 {
        /// The 32-byte public key.
        x: [u8; 32],
    },
}

/// The reason a JWK was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum JwkError {
    /// The JWK has private key members.
    #[error("JWK contains private key members")]
    PrivateKey,
    /// The JWK is not a P-256 or Ed25519 public key with well-formed members.
    #[error("JWK is not a P-256 or Ed25519 public key")]
    Unsupported,
}

impl PublicJwk {
    /// Parses a JWK JSON object. Members other than `kty`, `crv`, `x` and `y` are ignored,
    /// except private key members, which are rejected.
    pub fn from_json(jwk: &serde_json::Value) -> Result<Self, JwkError> {
        let object = jwk.as_object().ok_or(JwkError::Unsupported)?;
        if PRIVATE_MEMBERS
            .iter()
            .any(|member| object.contains_key(*member))
        {
            return Err(JwkError::PrivateKey);
        }
        let member = |name: &str| object.get(name).and_then(serde_json::Value::as_str);

        match (member("kty"), member("crv")) {
            (Some("EC"), Some("P-256")) => Ok(PublicJwk::P256 {
                x: coordinate(member("x"))?,
                y: coordinate(member("y"))?,
            }),
            (Some("OKP"), Some("Ed25519")) => {
                if object.contains_key("y") {
                    return Err(JwkError::Unsupported);
                }
                Ok(PublicJwk::Ed25519 {
                    x: coordinate(member("x"))?,
                })
            }
            _ => Err(JwkError::Unsupported),
        }
    }

    /// Returns the JWK SHA-256 thumbprint (RFC 7638) as unpadded base64url: SHA-256 of the
    /// required members in lexicographic order, without whitespace.
    pub fn thumbprint(&self) -> String {
        let canonical = match self {
            PublicJwk::P256 { x, y } => format!(
                r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
                Base64UrlUnpadded::encode_string(x),
                Base64UrlUnpadded::encode_string(y)
            ),
            PublicJwk::Ed25519 { x } => format!(
                r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#,
                Base64UrlUnpadded::encode_string(x)
            ),
        };
        Base64UrlUnpadded::encode_string(&Sha256::digest(canonical.as_bytes()))
    }

    /// Returns the JWS algorithm this key signs with: `ES256` or `EdDSA`.
    pub fn algorithm(&self) -> &'static str {
        match self {
            PublicJwk::P256 { .. } => "ES256",
            PublicJwk::Ed25519 { .. } => "EdDSA",
        }
    }

    /// Verifies a JWS signature over `signing_input` with this key.
    pub fn verify(&self, signing_input: &[u8], signature: &[u8]) -> bool {
        match self {
            PublicJwk::P256 { x, y } => {
                let mut point = [0u8; 65];
                point[0] = 0x04;
                point[1..33].copy_from_slice(x);
                point[33..].copy_from_slice(y);
                crate::signature::verify_es256(&point, signing_input, signature)
            }
            PublicJwk::Ed25519 { x } => {
                let valid_point = ed25519_compact::PublicKey::new(*x).validate().is_ok();
                valid_point && crate::signature::verify_ed25519(x, signing_input, signature)
            }
        }
    }
}

/// Decodes a 32-byte base64url member. base64ct rejects padding and non-canonical trailing
/// bits, so each key has exactly one accepted encoding and one thumbprint.
fn coordinate(value: Option<&str>) -> Result<[u8; 32], JwkError> {
    let value = value.ok_or(JwkError::Unsupported)?;
    let mut bytes = [0u8; 32];
    let decoded =
        Base64UrlUnpadded::decode(value, &mut bytes).map_err(|_| JwkError::Unsupported)?;
    if decoded.len() != 32 {
        return Err(JwkError::Unsupported);
    }
    Ok(bytes)
}

/// Returns the JWK SHA-256 thumbprint (RFC 7638) of a JWK given as JSON text.
pub fn jwk_thumbprint(jwk_json: &str) -> Result<String, JwkError> {
    let value: serde_json::Value =
        serde_json::from_str(jwk_json).map_err(|_| JwkError::Unsupported)?;
    Ok(PublicJwk::from_json(&value)?.thumbprint())
}
