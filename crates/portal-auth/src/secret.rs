//! Random bearer secrets (refresh tokens, invitations) and recovery codes.
//!
//! Each secret has at least 50 bits of entropy from the system generator, so a plain SHA-256
//! is a safe way to store it: unlike a password, it cannot be guessed from a dictionary. The
//! hash is domain-separated by purpose, so a refresh token's hash never matches an invitation.

use base64ct::{Base64UrlUnpadded, Encoding};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::{RandomnessUnavailable, fill_random};

/// Number of recovery codes issued at once.
pub const RECOVERY_CODE_COUNT: usize = 10;

/// What a secret is for, which separates their hashes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// A refresh token.
    Refresh,
    /// An invitation to create a staff account.
    Invitation,
    /// A recovery code.
    Recovery,
    /// The one-time bootstrap secret for the first admin.
    Bootstrap,
    /// A password reset an admin issued.
    PasswordReset,
}

impl Purpose {
    fn label(self) -> &'static [u8] {
        match self {
            Purpose::Refresh => b"portal-auth refresh\0",
            Purpose::Invitation => b"portal-auth invitation\0",
            Purpose::Recovery => b"portal-auth recovery\0",
            Purpose::Bootstrap => b"portal-auth bootstrap\0",
            Purpose::PasswordReset => b"portal-auth password reset\0",
        }
    }
}

/// Returns a new 256-bit secret in unpadded base64url (43 characters).
pub fn new_token() -> Result<Zeroizing<String>, RandomnessUnavailable> {
    let mut bytes = Zeroizing::new([0u8; 32]);
    fill_random(bytes.as_mut())?;
    Ok(Zeroizing::new(Base64UrlUnpadded::encode_string(
        bytes.as_ref(),
    )))
}

/// Returns a new random id of `bytes` bytes in unpadded base64url, for record keys.
pub fn new_id(bytes: usize) -> Result<String, RandomnessUnavailable> {
    let mut buffer = vec![0u8; bytes];
    fill_random(&mut buffer)?;
    Ok(Base64UrlUnpadded::encode_string(&buffer))
}

/// Hashes a secret for storage: SHA-256 over the purpose label and the secret, hex-encoded so
/// it can be part of a key-value key.
pub fn hash(purpose: Purpose, secret: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(purpose.label());
    hasher.update(secret.as_bytes());
    let digest = hasher.finalize();
    digest.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Compares a secret with a stored hash in constant time.
pub fn matches(purpose: Purpose, secret: &str, stored_hash: &str) -> bool {
    hash(purpose, secret)
        .as_bytes()
        .ct_eq(stored_hash.as_bytes())
        .into()
}

/// Alphabet of recovery codes: lowercase letters and digits without `0`, `1`, `l`, `o`, which
/// are easy to misread on paper.
const RECOVERY_ALPHABET: &[u8; 32] = b"abcdefghijkmnpqrstuvwxyz23456789";

/// Returns [`RECOVERY_CODE_COUNT`] codes of the form `xxxxx-xxxxx` (50 bits each).
pub fn new_recovery_codes() -> Result<Vec<Zeroizing<String>>, RandomnessUnavailable> {
    let mut codes = Vec::with_capacity(RECOVERY_CODE_COUNT);
    for _ in 0..RECOVERY_CODE_COUNT {
        let mut bytes = Zeroizing::new([0u8; 10]);
        fill_random(bytes.as_mut())?;
        let mut code = Zeroizing::new(String::with_capacity(11));
        for (index, byte) in bytes.iter().enumerate() {
            if index == 5 {
                code.push('-');
            }
            code.push(char::from(RECOVERY_ALPHABET[usize::from(byte & 31)]));
        }
        codes.push(code);
    }
    Ok(codes)
}

/// Normalizes a recovery code as typed: lowercase, spaces and hyphens removed, then the
/// hyphen put back, so `ABCDE FGHIJ` matches `abcde-fghij`.
pub fn normalize_recovery_code(typed: &str) -> Zeroizing<String> {
    let compact: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .flat_map(char::to_lowercase)
        .collect();
    if compact.chars().count() != 10 {
        return Zeroizing::new(compact);
    }
    let (head, tail) = compact.split_at(5);
    Zeroizing::new(format!("{head}-{tail}"))
}

#[cfg(test)]
#[expect(
    clippy::expect_used,
    reason = "a test reports an unexpected error by panicking"
)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_256_bits_and_distinct() {
        let first = new_token().expect("random");
        let second = new_token().expect("random");
        assert_eq!(first.len(), 43);
        assert_ne!(first.as_str(), second.as_str());
    }

    #[test]
    fn hashes_are_separated_by_purpose() {
        let token = new_token().expect("random");
        let stored = hash(Purpose::Refresh, &token);
        assert!(matches(Purpose::Refresh, &token, &stored));
        assert!(!matches(Purpose::Invitation, &token, &stored));
        assert!(!matches(Purpose::Refresh, "other", &stored));
        assert_eq!(stored.len(), 64);
    }

    #[test]
    fn recovery_codes_have_the_documented_shape() {
        let codes = new_recovery_codes().expect("random");
        assert_eq!(codes.len(), RECOVERY_CODE_COUNT);
        for code in &codes {
            assert_eq!(code.len(), 11);
            assert_eq!(code.as_bytes()[5], b'-');
            assert!(
                code.bytes()
                    .filter(|b| *b != b'-')
                    .all(|b| RECOVERY_ALPHABET.contains(&b))
            );
        }
        let mut unique: Vec<&str> = codes.iter().map(|code| code.as_str()).collect();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), RECOVERY_CODE_COUNT);
    }

    #[test]
    fn typed_recovery_codes_are_normalized() {
        assert_eq!(
            normalize_recovery_code("ABCDE FGHIJ").as_str(),
            "abcde-fghij"
        );
        assert_eq!(
            normalize_recovery_code(" abcde-fghij ").as_str(),
            "abcde-fghij"
        );
        assert_eq!(normalize_recovery_code("abc").as_str(), "abc");
    }
}
