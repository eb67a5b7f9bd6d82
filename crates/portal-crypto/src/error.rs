//! Errors of the encryption layer.
//!
//! No variant carries key material, plaintext or field values. Variable names and key ids
//! are safe to log.

use crate::field::FieldKind;
use crate::keyring::{Domain, KekId, TenantId};

/// An encryption, decryption or rewrap failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// The record binding is not usable, for example an empty record id.
    #[error("invalid record binding: {field} {problem}")]
    InvalidBinding {
        /// The binding field at fault: `record_type` or `record_id`.
        field: &'static str,
        /// The problem with it.
        problem: &'static str,
    },
    /// The ciphertext is shorter than its header and tag require.
    #[error("ciphertext is truncated")]
    Truncated,
    /// The ciphertext does not start with the envelope magic bytes.
    #[error("not a portal envelope: magic bytes do not match")]
    BadMagic,
    /// The ciphertext uses a format version this build cannot read.
    #[error("unsupported envelope format version {version}")]
    UnsupportedFormatVersion {
        /// The version byte found.
        version: u8,
    },
    /// The ciphertext names an algorithm suite this build cannot read.
    #[error("unsupported envelope algorithm suite {suite}")]
    UnsupportedSuite {
        /// The suite byte found.
        suite: u8,
    },
    /// A header field is not well formed (tenant name or domain code).
    #[error("malformed envelope header: {field} is invalid")]
    MalformedHeader {
        /// The header field at fault.
        field: &'static str,
    },
    /// The header names a different tenant or domain than the caller expects.
    #[error("envelope belongs to another {field} than the record binding")]
    BindingMismatch {
        /// `tenant` or `domain`.
        field: &'static str,
    },
    /// No keys are configured for this tenant and domain.
    #[error("no keys configured for tenant {tenant}, domain {domain}")]
    NoKeysForDomain {
        /// The tenant.
        tenant: TenantId,
        /// The domain.
        domain: Domain,
    },
    /// No key is configured for this tenant, domain and version.
    #[error("no key configured for {kek}")]
    UnknownKey {
        /// The key the ciphertext or request names.
        kek: KekId,
    },
    /// The key version is older than the oldest version allowed to decrypt.
    #[error("key {kek} is retired: the oldest version allowed is v{oldest_allowed}")]
    RetiredKeyVersion {
        /// The retired key.
        kek: KekId,
        /// The oldest version still allowed to decrypt.
        oldest_allowed: u32,
    },
    /// The wrapped data key failed authentication: wrong key, another record's binding, or
    /// a modified header.
    #[error("data key failed authentication")]
    KeyUnwrapFailed,
    /// The payload failed authentication: another record's binding or modified ciphertext.
    #[error("payload failed authentication")]
    DecryptionFailed,
    /// The payload is larger than AES-GCM can encrypt under one key (2^36 - 32 bytes).
    #[error("plaintext is too large for AES-GCM")]
    PlaintextTooLarge,
    /// The key version has reached its encryption ceiling and must be rotated.
    #[error("key {kek} reached its ceiling of {ceiling} encryptions: rotate to a new version")]
    CeilingReached {
        /// The exhausted key.
        kek: KekId,
        /// The configured ceiling.
        ceiling: u64,
    },
    /// The encryption counter could not be read or incremented, so encryption is refused.
    #[error("encryption counter failed: {0}")]
    Counter(#[from] CounterError),
    /// The operating system's random number generator failed.
    #[error("random number generator failed")]
    Randomness,
    /// A field value does not match its kind's format.
    #[error("invalid {kind} value: {problem}")]
    InvalidField {
        /// The field kind.
        kind: FieldKind,
        /// The problem with the value, which it never quotes.
        problem: &'static str,
    },
    /// A decrypted field is not valid UTF-8.
    #[error("decrypted {kind} field is not valid UTF-8")]
    FieldNotUtf8 {
        /// The field kind.
        kind: FieldKind,
    },
}

/// A key configuration failure while loading keys from variables.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyConfigError {
    /// A tenant name does not match `[a-z0-9]{1,32}`.
    #[error("invalid tenant name: expected 1 to 32 characters from a-z and 0-9")]
    InvalidTenant,
    /// A required variable is not set.
    #[error("variable {name} is not set")]
    MissingVariable {
        /// The variable name.
        name: String,
    },
    /// A key variable is not base64 of exactly 32 bytes. The value is never included.
    #[error("variable {name} must be standard base64 of exactly 32 random bytes")]
    InvalidKeyEncoding {
        /// The variable name.
        name: String,
    },
    /// A version variable is not a decimal number from 1 to 4294967295.
    #[error("variable {name} must be a key version number from 1 to 4294967295")]
    InvalidVersion {
        /// The variable name.
        name: String,
    },
    /// The oldest allowed version is newer than the active version.
    #[error("oldest allowed key version v{oldest} is newer than the active version v{active}")]
    VersionOrder {
        /// The active version.
        active: u32,
        /// The oldest allowed version.
        oldest: u32,
    },
    /// More key versions are configured than a domain may hold.
    #[error("{count} key versions configured: at most {max} may be allowed to decrypt at once")]
    TooManyVersions {
        /// Versions from oldest to active.
        count: u64,
        /// The maximum, [`crate::MAX_LIVE_KEY_VERSIONS`].
        max: u32,
    },
    /// A key for the active or an allowed version is missing.
    #[error("no key material given for {kek}")]
    MissingKey {
        /// The missing key.
        kek: KekId,
    },
    /// The encryption ceiling is zero or above [`crate::MAX_ENCRYPTION_CEILING`].
    #[error("encryption ceiling {ceiling} is outside 1 to {max}")]
    CeilingOutOfRange {
        /// The requested ceiling.
        ceiling: u64,
        /// The maximum allowed.
        max: u64,
    },
}

/// Failure of an [`crate::EncryptionCounter`] backend.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct CounterError {
    /// The failure, for logs. Must not contain key material.
    pub message: String,
}

impl CounterError {
    /// Creates an error with a message for logs.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}
