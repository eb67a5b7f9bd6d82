//! Raw signature verification, shared by DPoP proofs and by later WebAuthn assertions.
//!
//! These wrap `ed25519-compact` (the Ed25519 implementation jwt-simple uses) and the `p256`
//! crate, so that the Wycheproof tests exercise exactly the code that verifies proofs.

use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};

/// Verifies an Ed25519 signature (RFC 8032) of `message` under a 32-byte public key.
///
/// The public key must be a canonical encoding of a point that is not of small order;
/// `ed25519-compact` rejects non-canonical `S` values in the signature.
pub fn verify_ed25519(public_key: &[u8], message: &[u8], signature: &[u8]) -> bool {
    let Ok(public_key) = ed25519_compact::PublicKey::from_slice(public_key) else {
        return false;
    };
    let Ok(signature) = ed25519_compact::Signature::from_slice(signature) else {
        return false;
    };

    public_key.verify(message, &signature).is_ok()
}

/// Verifies an ECDSA P-256 SHA-256 signature in IEEE P1363 form (`r || s`, 64 bytes), the
/// form JWS `ES256` uses. `public_key` is a SEC1 point (uncompressed or compressed).
pub fn verify_es256(public_key: &[u8], message: &[u8], signature: &[u8]) -> bool {
    let Ok(key) = VerifyingKey::from_sec1_bytes(public_key) else {
        return false;
    };
    let Ok(signature) = Signature::from_slice(signature) else {
        return false;
    };

    key.verify(message, &signature).is_ok()
}

/// Verifies an ECDSA P-256 SHA-256 signature in ASN.1 DER form, the form WebAuthn
/// authenticators return. `public_key` is a SEC1 point.
pub fn verify_es256_der(public_key: &[u8], message: &[u8], signature: &[u8]) -> bool {
    let Ok(key) = VerifyingKey::from_sec1_bytes(public_key) else {
        return false;
    };
    let Ok(signature) = Signature::from_der(signature) else {
        return false;
    };

    key.verify(message, &signature).is_ok()
}
