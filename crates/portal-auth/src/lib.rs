//! Credential rules for the auth component, kept free of Spin so they build and test natively.
//!
//! - [`password`]: the NIST SP 800-63B-4 password rules and Argon2id hashing with parameters
//!   stored in each hash, so they can be raised and old hashes rehashed at login.
//! - [`totp`]: RFC 6238 one-time codes (SHA-1, 30 s, 6 digits, one step of drift).
//! - [`secret`]: random refresh tokens, invitation tokens and recovery codes, stored as hashes.
//! - [`throttle`]: the schedule of login backoff and lockout.
//! - [`webauthn`]: passkey registration and assertion checks (WebAuthn Level 3).

pub mod password;
pub mod secret;
pub mod throttle;
pub mod totp;
pub mod webauthn;

/// Fills `buffer` from the operating system's random number generator (`wasi:random` on
/// `wasm32-wasip2`).
pub(crate) fn fill_random(buffer: &mut [u8]) -> Result<(), RandomnessUnavailable> {
    getrandom::fill(buffer).map_err(|_| RandomnessUnavailable)
}

/// The system random number generator failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the system random number generator is unavailable")]
pub struct RandomnessUnavailable;
