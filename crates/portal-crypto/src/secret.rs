//! 256-bit key material that is zeroized on drop and never printed.

use core::fmt;

use base64ct::{Base64, Encoding};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::error::CryptoError;

/// Length of every key this crate uses: AES-256 keys and HMAC-SHA256 keys, in bytes.
pub const KEY_LEN: usize = 32;

/// 32 bytes of secret key material.
///
/// The bytes are wiped when the value is dropped. `Debug` prints only the length, and there
/// is no `Display`, `Clone` or serializer, so key material leaves this type only through
/// [`SecretKey::expose_secret`].
pub struct SecretKey([u8; KEY_LEN]);

impl SecretKey {
    /// Wraps raw key bytes. The caller should zeroize its own copy.
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        Self(bytes)
    }

    /// Decodes standard base64 (RFC 4648 section 4, with padding) of exactly 32 bytes,
    /// ignoring surrounding whitespace. Returns `None` for any other input.
    pub fn from_base64(encoded: &str) -> Option<Self> {
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        let decoded = Base64::decode(encoded.trim(), bytes.as_mut()).ok()?;
        if decoded.len() != KEY_LEN {
            return None;
        }
        Some(Self(*bytes))
    }

    /// Generates a key from the operating system's random number generator.
    pub fn generate() -> Result<Self, CryptoError> {
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        fill_random(bytes.as_mut())?;
        Ok(Self(*bytes))
    }

    /// Returns the key bytes. Named so that every use is visible in review.
    pub fn expose_secret(&self) -> &[u8; KEY_LEN] {
        &self.0
    }
}

impl Drop for SecretKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl ZeroizeOnDrop for SecretKey {}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretKey")
            .field("bits", &(KEY_LEN * 8))
            .finish_non_exhaustive()
    }
}

/// Fills `buffer` from the operating system's random number generator (`getrandom`, which
/// uses `wasi:random` on `wasm32-wasip2`).
pub(crate) fn fill_random(buffer: &mut [u8]) -> Result<(), CryptoError> {
    getrandom::fill(buffer).map_err(|_| CryptoError::Randomness)
}

#[cfg(test)]
#[expect(
    clippy::unwrap_used,
    reason = "a test reports an unexpected error by panicking"
)]
mod tests {
    use super::*;

    #[test]
    fn base64_of_32_bytes_is_accepted() {
        let key = SecretKey::from_base64("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n");
        let key = key.unwrap();
        assert_eq!(key.expose_secret()[31], 31);
    }

    #[test]
    fn base64_of_16_bytes_is_rejected() {
        assert!(SecretKey::from_base64("AAECAwQFBgcICQoLDA0ODw==").is_none());
    }

    #[test]
    fn base64_of_33_bytes_is_rejected() {
        let encoded = Base64::encode_string(&[7u8; 33]);
        assert!(SecretKey::from_base64(&encoded).is_none());
    }

    #[test]
    fn debug_does_not_print_key_bytes() {
        let key = SecretKey::from_bytes([0xAB; KEY_LEN]);
        let printed = format!("{key:?}");
        assert_eq!(printed, "SecretKey { bits: 256, .. }");
    }

    #[test]
    fn generated_keys_differ() {
        let first = SecretKey::generate().unwrap();
        let second = SecretKey::generate().unwrap();
        assert_ne!(first.expose_secret(), second.expose_secret());
    }
}
