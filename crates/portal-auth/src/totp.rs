//! Time-based one-time passwords (RFC 6238) with HMAC-SHA-1, 30-second steps and six digits,
//! the parameters every authenticator app supports.
//!
//! [`verify`] accepts the current step and one step either side, and only steps later than
//! the last one accepted: the caller stores the returned step with compare-and-swap, so a
//! code cannot be used twice, in sequence or in parallel.

use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::{RandomnessUnavailable, fill_random};

/// Length of a step in seconds.
pub const STEP_SECS: i64 = 30;
/// Digits in a code.
pub const DIGITS: u32 = 6;
/// Steps accepted either side of the current one.
pub const DRIFT_STEPS: i64 = 1;
/// Secret length in bytes: 160 bits, the HMAC-SHA-1 block output size RFC 4226 recommends.
pub const SECRET_LEN: usize = 20;

/// A TOTP shared secret. `Debug` shows nothing of it.
#[derive(Clone)]
pub struct TotpSecret(Zeroizing<Vec<u8>>);

impl core::fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("TotpSecret(<redacted>)")
    }
}

impl TotpSecret {
    /// Generates a random secret.
    pub fn generate() -> Result<Self, RandomnessUnavailable> {
        let mut bytes = Zeroizing::new(vec![0u8; SECRET_LEN]);
        fill_random(&mut bytes)?;
        Ok(Self(bytes))
    }

    /// Wraps stored secret bytes.
    pub fn from_bytes(bytes: &[u8]) -> Self {
        Self(Zeroizing::new(bytes.to_vec()))
    }

    /// The raw bytes, for encrypted storage.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The unpadded base32 form authenticator apps expect.
    pub fn to_base32(&self) -> Zeroizing<String> {
        Zeroizing::new(data_encoding::BASE32_NOPAD.encode(&self.0))
    }

    /// The `otpauth://totp/` URI for enrolment, usually shown as a QR code. `issuer` and
    /// `account` are percent-encoded.
    pub fn provisioning_uri(&self, issuer: &str, account: &str) -> Zeroizing<String> {
        let encode = |text: &str| {
            url::form_urlencoded::byte_serialize(text.as_bytes())
                .collect::<String>()
                .replace('+', "%20")
        };
        Zeroizing::new(format!(
            "otpauth://totp/{issuer_label}:{account}?secret={secret}&issuer={issuer_label}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECS}",
            issuer_label = encode(issuer),
            account = encode(account),
            secret = self.to_base32().as_str(),
        ))
    }
}

/// Returns the step that contains Unix time `now`.
pub fn step_at(now: i64) -> i64 {
    now.div_euclid(STEP_SECS)
}

/// Computes the code for `step` with `digits` digits (RFC 4226 section 5.3).
fn code_with_digits(secret: &TotpSecret, step: i64, digits: u32) -> u32 {
    // HMAC accepts keys of any length, so this cannot fail.
    let Ok(mut mac) = <Hmac<Sha1> as KeyInit>::new_from_slice(secret.as_bytes()) else {
        return 0;
    };
    mac.update(&step.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = usize::from(digest[digest.len() - 1] & 0x0f);
    let binary = u32::from_be_bytes([
        digest[offset] & 0x7f,
        digest[offset + 1],
        digest[offset + 2],
        digest[offset + 3],
    ]);
    binary % 10u32.pow(digits)
}

/// Computes the six-digit code for `step`, zero-padded.
pub fn code_at_step(secret: &TotpSecret, step: i64) -> String {
    format!(
        "{:0width$}",
        code_with_digits(secret, step, DIGITS),
        width = DIGITS as usize
    )
}

/// Checks `code` at time `now` and returns the step it matched.
///
/// Steps at or before `last_used_step` are refused, so each step's code works once. Every
/// candidate step is compared in constant time, and all of them are compared.
pub fn verify(
    secret: &TotpSecret,
    code: &str,
    now: i64,
    last_used_step: Option<i64>,
) -> Option<i64> {
    if code.len() != DIGITS as usize || !code.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    let current = step_at(now);
    let mut matched = None;
    for step in current - DRIFT_STEPS..=current + DRIFT_STEPS {
        let candidate = code_at_step(secret, step);
        let equal: bool = candidate.as_bytes().ct_eq(code.as_bytes()).into();
        let fresh = last_used_step.is_none_or(|last| step > last);
        if equal && fresh && matched.is_none() {
            matched = Some(step);
        }
    }
    matched
}

#[cfg(test)]
#[expect(
    clippy::expect_used,
    reason = "a test reports an unexpected error by panicking"
)]
mod tests {
    use super::*;

    /// The SHA-1 seed of RFC 6238 appendix B.
    fn rfc_secret() -> TotpSecret {
        TotpSecret::from_bytes(b"12345678901234567890")
    }

    #[test]
    fn rfc_6238_sha1_vectors() {
        let vectors = [
            (59, 94287082),
            (1111111109, 7081804),
            (1111111111, 14050471),
            (1234567890, 89005924),
            (2000000000, 69279037),
            (20000000000, 65353130),
        ];
        for (time, expected) in vectors {
            assert_eq!(
                code_with_digits(&rfc_secret(), step_at(time), 8),
                expected,
                "time {time}"
            );
        }
    }

    #[test]
    fn six_digit_codes_are_the_low_digits() {
        assert_eq!(code_at_step(&rfc_secret(), step_at(59)), "287082");
        // Leading zeros are kept: 07081804 becomes 081804.
        assert_eq!(code_at_step(&rfc_secret(), step_at(1111111109)), "081804");
    }

    #[test]
    fn accepts_one_step_of_drift_and_no_more() {
        let secret = rfc_secret();
        let now = 1_700_000_000;
        let step = step_at(now);
        for offset in -1..=1 {
            let code = code_at_step(&secret, step + offset);
            assert_eq!(verify(&secret, &code, now, None), Some(step + offset));
        }
        for offset in [-2, 2] {
            let code = code_at_step(&secret, step + offset);
            assert_eq!(verify(&secret, &code, now, None), None, "offset {offset}");
        }
    }

    #[test]
    fn a_used_step_is_refused() {
        let secret = rfc_secret();
        let now = 1_700_000_000;
        let code = code_at_step(&secret, step_at(now));
        let step = verify(&secret, &code, now, None).expect("first use");
        assert_eq!(verify(&secret, &code, now, Some(step)), None);
        // An older step's code is refused once a newer step was used.
        let older = code_at_step(&secret, step - 1);
        assert_eq!(verify(&secret, &older, now, Some(step)), None);
    }

    #[test]
    fn malformed_codes_are_refused() {
        let secret = rfc_secret();
        for code in ["", "12345", "1234567", "12a456", " 28708", "٢٨٧٠٨٢"] {
            assert_eq!(verify(&secret, code, 59, None), None, "{code:?}");
        }
    }

    #[test]
    fn provisioning_uri_has_the_secret_and_encoded_labels() {
        let uri = rfc_secret().provisioning_uri("Patient Portal", "a+b@example.org");
        assert_eq!(
            uri.as_str(),
            "otpauth://totp/Patient%20Portal:a%2Bb%40example.org?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Patient%20Portal&algorithm=SHA1&digits=6&period=30"
        );
        assert_eq!(format!("{:?}", rfc_secret()), "TotpSecret(<redacted>)");
    }
}
