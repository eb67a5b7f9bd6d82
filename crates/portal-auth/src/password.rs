//! Password rules (NIST SP 800-63B-4, section 3.1.1) and Argon2id hashing.
//!
//! Rules: at least [`MIN_LEN_SINGLE_FACTOR`] characters for an account without a second
//! factor and [`MIN_LEN_WITH_SECOND_FACTOR`] with one; up to [`MAX_LEN`]; no composition
//! rules; not one of the 10,000 most common passwords; not built from the account's own
//! identifiers. Length counts Unicode scalar values, as the guideline counts characters.
//!
//! Hashes are PHC strings (`$argon2id$v=19$m=...,t=...,p=...$salt$hash`), so each one keeps
//! the parameters it was made with and [`PasswordHasher::verify`] reports when they fall
//! behind the configured ones.

use std::collections::HashSet;
use std::sync::OnceLock;

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::{Algorithm, Argon2, Params, Version};
use zeroize::Zeroizing;

use crate::{RandomnessUnavailable, fill_random};

/// Shortest password for an account with no second factor.
pub const MIN_LEN_SINGLE_FACTOR: usize = 15;
/// Shortest password for an account with a second factor.
pub const MIN_LEN_WITH_SECOND_FACTOR: usize = 8;
/// Longest password accepted. The guideline asks for at least 64.
pub const MAX_LEN: usize = 128;
/// Shortest identifier part checked for inside a password; shorter parts such as "jo" would
/// reject too many good passwords.
const MIN_IDENTIFIER_PART: usize = 4;

/// SecLists' `10k-most-common.txt`; see `data/SOURCE.md`.
const COMMON_PASSWORDS: &str = include_str!("../data/10k-most-common.txt");

/// Why a new password was refused. Each variant maps to one message the user can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PasswordRejection {
    /// Fewer characters than the account's minimum.
    #[error("the password must have at least {min} characters")]
    TooShort {
        /// The minimum that applied.
        min: usize,
    },
    /// More characters than [`MAX_LEN`].
    #[error("the password must have at most {max} characters")]
    TooLong {
        /// [`MAX_LEN`].
        max: usize,
    },
    /// One of the most common passwords.
    #[error("the password is one of the most commonly used passwords")]
    Common,
    /// Contains the account's email address or its local part.
    #[error("the password must not contain the account's email address")]
    ContainsIdentifier,
    /// Equal to one of the account's recent passwords.
    #[error("the password was used recently on this account")]
    Reused,
}

/// Checks a new password against every rule except reuse, which needs the stored hashes.
///
/// `has_second_factor` selects the minimum length; `identifiers` are the account's own
/// identifiers, such as its email address.
pub fn check_new_password(
    password: &str,
    has_second_factor: bool,
    identifiers: &[&str],
) -> Result<(), PasswordRejection> {
    let length = password.chars().count();
    let min = if has_second_factor {
        MIN_LEN_WITH_SECOND_FACTOR
    } else {
        MIN_LEN_SINGLE_FACTOR
    };
    if length < min {
        return Err(PasswordRejection::TooShort { min });
    }
    if length > MAX_LEN {
        return Err(PasswordRejection::TooLong { max: MAX_LEN });
    }
    if is_common(password) {
        return Err(PasswordRejection::Common);
    }
    let lowered = password.to_lowercase();
    for identifier in identifiers {
        let identifier = identifier.to_lowercase();
        let local_part = identifier.split('@').next().unwrap_or_default();
        let parts = [identifier.as_str(), local_part];
        if parts
            .iter()
            .any(|part| part.chars().count() >= MIN_IDENTIFIER_PART && lowered.contains(part))
        {
            return Err(PasswordRejection::ContainsIdentifier);
        }
    }
    Ok(())
}

/// Returns true if `password`, or its lowercase form, is on the common-password list.
pub fn is_common(password: &str) -> bool {
    static LIST: OnceLock<HashSet<&'static str>> = OnceLock::new();
    let list = LIST.get_or_init(|| {
        COMMON_PASSWORDS
            .lines()
            .map(str::trim_end)
            .filter(|line| !line.is_empty())
            .collect()
    });
    list.contains(password) || list.contains(password.to_lowercase().as_str())
}

/// Argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashParams {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Passes over memory.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl HashParams {
    /// OWASP's minimum for Argon2id: 19 MiB, two passes, one lane.
    pub const OWASP_MINIMUM: HashParams = HashParams {
        memory_kib: 19 * 1024,
        iterations: 2,
        parallelism: 1,
    };

    /// Returns true if these parameters are at least OWASP's minimum in memory and passes.
    pub fn meets_minimum(&self) -> bool {
        self.memory_kib >= Self::OWASP_MINIMUM.memory_kib
            && self.iterations >= Self::OWASP_MINIMUM.iterations
            && self.parallelism >= 1
    }
}

/// A stored hash could not be used, or the parameters are invalid. The text never includes
/// the password or the hash.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HashError {
    /// The parameters are outside what Argon2 accepts.
    #[error("invalid Argon2 parameters")]
    InvalidParams,
    /// The stored hash is not an Argon2id PHC string.
    #[error("the stored password hash is malformed")]
    MalformedHash,
    /// Hashing failed.
    #[error("password hashing failed")]
    Hashing,
    /// No randomness for the salt.
    #[error(transparent)]
    Randomness(#[from] RandomnessUnavailable),
}

/// The result of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verification {
    /// The password does not match.
    Mismatch,
    /// The password matches and the hash uses the configured parameters.
    Match,
    /// The password matches, and the hash should be replaced because its parameters differ
    /// from the configured ones.
    MatchNeedsRehash,
}

/// Hashes and verifies passwords with Argon2id at configured parameters.
#[derive(Debug, Clone)]
pub struct PasswordHasher {
    params: HashParams,
    argon2: Argon2<'static>,
}

/// Fixed salt for [`PasswordHasher::verify_dummy`]; the result is discarded.
const DUMMY_SALT: &[u8; 16] = b"portal-dummy-slt";

impl PasswordHasher {
    /// Creates a hasher; parameters below OWASP's minimum are refused.
    pub fn new(params: HashParams) -> Result<Self, HashError> {
        if !params.meets_minimum() {
            return Err(HashError::InvalidParams);
        }
        Self::new_unchecked(params)
    }

    /// Creates a hasher without the minimum check, for tests of rehashing only.
    #[doc(hidden)]
    pub fn new_unchecked(params: HashParams) -> Result<Self, HashError> {
        let argon_params = Params::new(
            params.memory_kib,
            params.iterations,
            params.parallelism,
            None,
        )
        .map_err(|_| HashError::InvalidParams)?;
        Ok(Self {
            params,
            argon2: Argon2::new(Algorithm::Argon2id, Version::V0x13, argon_params),
        })
    }

    /// The configured parameters.
    pub fn params(&self) -> HashParams {
        self.params
    }

    /// Hashes `password` with a fresh 16-byte salt and returns the PHC string.
    pub fn hash(&self, password: &str) -> Result<String, HashError> {
        let mut salt = [0u8; 16];
        fill_random(&mut salt)?;
        let hash = self
            .argon2
            .hash_password_with_salt(password.as_bytes(), &salt)
            .map_err(|_| HashError::Hashing)?;
        Ok(hash.to_string())
    }

    /// Checks `password` against `stored`, using the parameters recorded in `stored`.
    pub fn verify(&self, password: &str, stored: &str) -> Result<Verification, HashError> {
        let parsed = PasswordHash::new(stored).map_err(|_| HashError::MalformedHash)?;
        if parsed.algorithm.as_str() != "argon2id" {
            return Err(HashError::MalformedHash);
        }
        let stored_params = Params::try_from(&parsed).map_err(|_| HashError::MalformedHash)?;
        match self.argon2.verify_password(password.as_bytes(), &parsed) {
            Ok(()) => {}
            Err(argon2::password_hash::Error::PasswordInvalid) => {
                return Ok(Verification::Mismatch);
            }
            Err(_) => return Err(HashError::MalformedHash),
        }
        let current = (
            stored_params.m_cost(),
            stored_params.t_cost(),
            stored_params.p_cost(),
        );
        let wanted = (
            self.params.memory_kib,
            self.params.iterations,
            self.params.parallelism,
        );
        Ok(if current == wanted {
            Verification::Match
        } else {
            Verification::MatchNeedsRehash
        })
    }

    /// Spends the same work as [`Self::verify`] on a hash with the configured parameters, for
    /// sign-ins with an unknown account, so timing does not reveal which accounts exist.
    pub fn verify_dummy(&self, password: &str) {
        let mut output = Zeroizing::new([0u8; 32]);
        // The result is discarded; only the cost matters.
        let _ = self
            .argon2
            .hash_password_into(password.as_bytes(), DUMMY_SALT, output.as_mut());
    }
}

#[cfg(test)]
#[expect(
    clippy::expect_used,
    reason = "a test reports an unexpected error by panicking"
)]
mod tests {
    use super::*;

    /// Cheap parameters so the tests stay fast; production always uses at least the minimum.
    fn cheap() -> PasswordHasher {
        PasswordHasher::new_unchecked(HashParams {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        })
        .expect("valid parameters")
    }

    #[test]
    fn length_limits_depend_on_second_factor() {
        assert_eq!(
            check_new_password("quiet-harbor-7", false, &[]),
            Err(PasswordRejection::TooShort { min: 15 })
        );
        assert_eq!(check_new_password("quiet-harbor-7", true, &[]), Ok(()));
        assert_eq!(
            check_new_password("q7-harb", true, &[]),
            Err(PasswordRejection::TooShort { min: 8 })
        );
        let long = "x".repeat(64) + "-harbor-lantern";
        assert_eq!(check_new_password(&long, false, &[]), Ok(()));
        let too_long = "y".repeat(MAX_LEN + 1);
        assert_eq!(
            check_new_password(&too_long, false, &[]),
            Err(PasswordRejection::TooLong { max: MAX_LEN })
        );
    }

    #[test]
    fn length_counts_characters_not_bytes() {
        // Eight characters, 24 bytes.
        let password = "ééééàààà";
        assert_eq!(password.chars().count(), 8);
        assert_eq!(check_new_password(password, true, &[]), Ok(()));
        assert_eq!(
            check_new_password("éééé", true, &[]),
            Err(PasswordRejection::TooShort { min: 8 })
        );
    }

    #[test]
    fn common_passwords_are_rejected_in_any_case() {
        assert!(is_common("password"));
        assert!(is_common("PASSWORD"));
        assert!(is_common("123456"));
        assert!(!is_common("quiet-harbor-lantern"));
        assert_eq!(
            check_new_password("Password", true, &[]),
            Err(PasswordRejection::Common)
        );
    }

    #[test]
    fn the_list_has_ten_thousand_entries() {
        assert_eq!(COMMON_PASSWORDS.lines().count(), 10_000);
    }

    #[test]
    fn identifiers_are_rejected() {
        assert_eq!(
            check_new_password(
                "Alice.Smith-2026-portal",
                false,
                &["alice.smith@example.org"]
            ),
            Err(PasswordRejection::ContainsIdentifier)
        );
        assert_eq!(
            check_new_password("quiet-harbor-lantern", false, &["al@example.org"]),
            Ok(())
        );
    }

    #[test]
    fn hashes_record_parameters_and_verify() {
        let hasher = cheap();
        let hash = hasher.hash("quiet-harbor-lantern").expect("hash");
        assert!(hash.starts_with("$argon2id$v=19$m=64,t=1,p=1$"));
        assert_eq!(
            hasher.verify("quiet-harbor-lantern", &hash),
            Ok(Verification::Match)
        );
        assert_eq!(
            hasher.verify("quiet-harbor-lanterN", &hash),
            Ok(Verification::Mismatch)
        );
        // Two hashes of one password differ by salt.
        assert_ne!(hash, hasher.hash("quiet-harbor-lantern").expect("hash"));
    }

    #[test]
    fn raised_parameters_ask_for_a_rehash() {
        let old = cheap().hash("quiet-harbor-lantern").expect("hash");
        let raised = PasswordHasher::new_unchecked(HashParams {
            memory_kib: 128,
            iterations: 2,
            parallelism: 1,
        })
        .expect("valid parameters");
        assert_eq!(
            raised.verify("quiet-harbor-lantern", &old),
            Ok(Verification::MatchNeedsRehash)
        );
        assert_eq!(
            raised.verify("wrong-harbor-lantern", &old),
            Ok(Verification::Mismatch)
        );
    }

    #[test]
    fn weak_parameters_and_other_algorithms_are_refused() {
        assert_eq!(
            PasswordHasher::new(HashParams {
                memory_kib: 15 * 1024,
                iterations: 2,
                parallelism: 1
            })
            .err(),
            Some(HashError::InvalidParams)
        );
        let hasher = cheap();
        let argon2i = "$argon2i$v=19$m=64,t=1,p=1$cG9ydGFsLXNhbHQtMTI$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        assert_eq!(hasher.verify("x", argon2i), Err(HashError::MalformedHash));
        assert_eq!(
            hasher.verify("x", "plaintext"),
            Err(HashError::MalformedHash)
        );
    }
}
