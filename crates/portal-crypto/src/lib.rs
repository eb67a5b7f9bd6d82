//! Envelope encryption for the patient portal's records.
//!
//! Every record is encrypted with AES-256-GCM under a fresh 256-bit data key, and the data
//! key is wrapped with AES-256-GCM under a key-encryption key (KEK). KEKs are versioned per
//! tenant and data domain ([`Domain`]) and loaded from Spin variables ([`DomainKeys`]
//! describes the names). The envelope format ([`format`]) names the KEK, and its
//! associated data binds the ciphertext to tenant, domain, record type, record id and KEK
//! version ([`RecordBinding`]), so a ciphertext moved to another record fails to decrypt.
//!
//! - [`KeyRing::encrypt`], [`KeyRing::decrypt`] and [`KeyRing::rewrap`] are the envelope
//!   operations. Rewrap moves a data key to the active KEK without decrypting the payload.
//! - [`EncryptionCounter`] counts wraps per KEK version; encryption stops at a ceiling well
//!   below the 2^32 limit of NIST SP 800-38D for random 96-bit nonces.
//! - [`protect_field`] encrypts one identifier on its own and computes its keyed blind
//!   index ([`BlindIndexKeys`]) for lookups.
//!
//! Randomness comes from `getrandom`, which uses `wasi:random` on `wasm32-wasip2`. Key
//! material is zeroized on drop and never printed by `Debug`.

mod counter;
mod error;
mod field;
pub mod format;
mod keyring;
mod ring;
mod secret;

pub use counter::{
    DEFAULT_ENCRYPTION_CEILING, EncryptionCounter, InMemoryCounter, MAX_ENCRYPTION_CEILING,
    ReservedCount,
};
pub use error::{CounterError, CryptoError, KeyConfigError};
pub use field::{
    BlindIndex, BlindIndexKeys, FieldKind, MAX_EMAIL_LEN, MAX_MRN_LEN, MAX_PAYMENT_TOKEN_LEN,
    MAX_PHONE_DIGITS, MIN_PHONE_DIGITS, ProtectedField, protect_field, reveal_field,
};
pub use format::RecordBinding;
pub use keyring::{Domain, DomainKeys, KekId, MAX_LIVE_KEY_VERSIONS, MAX_TENANT_LEN, TenantId};
pub use ring::{KeyRing, Plaintext, Rewrap};
pub use secret::{KEY_LEN, SecretKey};
