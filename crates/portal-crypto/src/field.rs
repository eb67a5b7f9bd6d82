//! Field-level protection: single identifiers encrypted on their own, and found again
//! through a keyed blind index.
//!
//! A blind index is HMAC-SHA256 over the normalized value, under a key used for nothing
//! else, so equal values give equal indexes and a store can look records up by value
//! without holding the value. The normalization per [`FieldKind`] makes formatting
//! differences ("123-45-6789" and "123 45 6789") give the same index.
//!
//! # Variables
//!
//! The root key is `blind_index_key_<tenant>_<domain>`: standard base64 of 32 random bytes,
//! in a Spin variable marked secret. One HMAC key per field kind is derived from it with
//! HKDF-SHA256 (RFC 5869), so an index of one kind never matches an index of another.
//!
//! NOTE: the blind index key has no versions. Changing it changes every index, so rotating
//! it means recomputing the indexes of every protected field from their ciphertexts.

use core::fmt;

use base64ct::{Base64UrlUnpadded, Encoding};
use hkdf::Hkdf;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::counter::EncryptionCounter;
use crate::error::{CryptoError, KeyConfigError};
use crate::format::RecordBinding;
use crate::keyring::{Domain, TenantId};
use crate::ring::KeyRing;
use crate::secret::{KEY_LEN, SecretKey};

/// Maximum email address length in bytes (RFC 5321 section 4.5.3.1.3 limits a path to 256
/// octets including the angle brackets, leaving 254 for the address).
pub const MAX_EMAIL_LEN: usize = 254;
/// Maximum digits in an E.164 telephone number.
pub const MAX_PHONE_DIGITS: usize = 15;
/// Minimum digits accepted in a telephone number, country code included.
pub const MIN_PHONE_DIGITS: usize = 8;
/// Maximum length of a payment token in bytes.
pub const MAX_PAYMENT_TOKEN_LEN: usize = 255;
/// Maximum length of a medical record number after normalization.
pub const MAX_MRN_LEN: usize = 32;

const HKDF_SALT: &[u8] = b"portal-blind-index-v1";

/// The kinds of individually protected fields, each with its own normalization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldKind {
    /// Email address: surrounding whitespace trimmed, then lowercased. Exactly one `@` with
    /// a non-empty part on each side, no whitespace or control characters, at most 254
    /// bytes. The local part is lowercased too, as mail providers treat it
    /// case-insensitively in practice, although RFC 5321 allows otherwise.
    Email,
    /// US Social Security number: spaces and hyphens removed, leaving exactly 9 ASCII
    /// digits. Any other character is rejected, and so are numbers the SSA never issues:
    /// area 000, 666 or 900 to 999, group 00, serial 0000.
    Ssn,
    /// Telephone number in E.164 form: spaces, hyphens, dots and parentheses removed; a
    /// leading `+` followed by 8 to 15 digits. Numbers without a country code are rejected
    /// because their meaning depends on where they were dialled.
    Phone,
    /// Payment processor token: surrounding whitespace trimmed; 1 to 255 printable ASCII
    /// characters without spaces. Case is kept, because tokens are case-sensitive.
    PaymentToken,
    /// Medical record number: surrounding whitespace trimmed, spaces and hyphens removed,
    /// ASCII letters uppercased; 1 to 32 ASCII letters and digits.
    MedicalRecordNumber,
}

impl FieldKind {
    /// Every field kind.
    pub const ALL: [FieldKind; 5] = [
        FieldKind::Email,
        FieldKind::Ssn,
        FieldKind::Phone,
        FieldKind::PaymentToken,
        FieldKind::MedicalRecordNumber,
    ];

    /// Returns the field name used in record bindings and key derivation.
    pub fn as_str(self) -> &'static str {
        match self {
            FieldKind::Email => "email",
            FieldKind::Ssn => "ssn",
            FieldKind::Phone => "phone",
            FieldKind::PaymentToken => "payment_token",
            FieldKind::MedicalRecordNumber => "mrn",
        }
    }

    /// Normalizes a value as the kind's documentation describes, or rejects it.
    pub fn normalize(self, value: &str) -> Result<Zeroizing<String>, CryptoError> {
        let invalid = |problem| CryptoError::InvalidField {
            kind: self,
            problem,
        };

        match self {
            FieldKind::Email => normalize_email(value).ok_or(invalid(
                "expected one '@' between non-empty parts, at most 254 bytes, no spaces",
            )),
            FieldKind::Ssn => normalize_ssn(value).ok_or(invalid(
                "expected 9 digits, optionally grouped with spaces or hyphens, as issued by the SSA",
            )),
            FieldKind::Phone => normalize_phone(value)
                .ok_or(invalid("expected '+', a country code and 8 to 15 digits in all")),
            FieldKind::PaymentToken => normalize_payment_token(value)
                .ok_or(invalid("expected 1 to 255 printable ASCII characters without spaces")),
            FieldKind::MedicalRecordNumber => normalize_mrn(value)
                .ok_or(invalid("expected 1 to 32 letters and digits")),
        }
    }
}

impl fmt::Display for FieldKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

fn normalize_email(value: &str) -> Option<Zeroizing<String>> {
    let email = Zeroizing::new(value.trim().to_lowercase());
    let (local, domain) = email.split_once('@')?;

    let valid = email.len() <= MAX_EMAIL_LEN
        && !local.is_empty()
        && !domain.is_empty()
        && !domain.contains('@')
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    valid.then_some(email)
}

fn normalize_ssn(value: &str) -> Option<Zeroizing<String>> {
    let mut digits = Zeroizing::new(String::with_capacity(9));
    for c in value.trim().chars() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '-' => {}
            _ => return None,
        }
    }
    if digits.len() != 9 {
        return None;
    }

    let area = &digits[0..3];
    let never_issued = area == "000"
        || area == "666"
        || area.starts_with('9')
        || &digits[3..5] == "00"
        || &digits[5..9] == "0000";
    (!never_issued).then_some(digits)
}

fn normalize_phone(value: &str) -> Option<Zeroizing<String>> {
    let mut phone = Zeroizing::new(String::with_capacity(16));
    let mut chars = value.trim().chars();
    if chars.next()? != '+' {
        return None;
    }
    phone.push('+');

    for c in chars {
        match c {
            '0'..='9' => phone.push(c),
            ' ' | '-' | '.' | '(' | ')' => {}
            _ => return None,
        }
    }
    let digits = phone.len() - 1;
    (MIN_PHONE_DIGITS..=MAX_PHONE_DIGITS)
        .contains(&digits)
        .then_some(phone)
}

fn normalize_payment_token(value: &str) -> Option<Zeroizing<String>> {
    let token = value.trim();
    let valid = !token.is_empty()
        && token.len() <= MAX_PAYMENT_TOKEN_LEN
        && token.bytes().all(|byte| byte.is_ascii_graphic());
    valid.then(|| Zeroizing::new(token.to_owned()))
}

fn normalize_mrn(value: &str) -> Option<Zeroizing<String>> {
    let mut mrn = Zeroizing::new(String::with_capacity(MAX_MRN_LEN));
    for c in value.trim().chars() {
        match c {
            'A'..='Z' | 'a'..='z' | '0'..='9' => mrn.push(c.to_ascii_uppercase()),
            ' ' | '-' => {}
            _ => return None,
        }
    }
    (!mrn.is_empty() && mrn.len() <= MAX_MRN_LEN).then_some(mrn)
}

/// A blind index value: HMAC-SHA256 of a normalized field. Compared in constant time.
#[derive(Clone, Copy)]
pub struct BlindIndex([u8; 32]);

impl BlindIndex {
    /// Returns the raw 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Returns the index as unpadded base64url, 43 characters, for use in store keys.
    pub fn to_base64url(&self) -> String {
        Base64UrlUnpadded::encode_string(&self.0)
    }
}

impl PartialEq for BlindIndex {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl Eq for BlindIndex {}

impl fmt::Debug for BlindIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // An index is not secret, but printing it in logs would let a reader link records.
        f.debug_struct("BlindIndex").finish_non_exhaustive()
    }
}

/// The per-kind HMAC keys of one tenant and domain, derived from the root blind index key.
pub struct BlindIndexKeys {
    tenant: TenantId,
    domain: Domain,
    keys: [SecretKey; FieldKind::ALL.len()],
}

impl BlindIndexKeys {
    /// Derives the per-kind keys from a root key with HKDF-SHA256. The info string names
    /// the tenant, domain and field kind, so each has an independent key.
    pub fn derive(tenant: TenantId, domain: Domain, root: &SecretKey) -> Self {
        let hkdf = Hkdf::<Sha256>::new(Some(HKDF_SALT), root.expose_secret());
        let keys = FieldKind::ALL.map(|kind| {
            let info = format!("tenant={tenant} domain={domain} field={kind}");
            let mut okm = Zeroizing::new([0u8; KEY_LEN]);
            // 32 bytes is far below HKDF-SHA256's output limit of 255 * 32 bytes.
            let expanded = hkdf.expand(info.as_bytes(), okm.as_mut());
            debug_assert!(expanded.is_ok());
            SecretKey::from_bytes(*okm)
        });

        Self {
            tenant,
            domain,
            keys,
        }
    }

    /// Loads the root key from `blind_index_key_<tenant>_<domain>` and derives the
    /// per-kind keys. `lookup` returns a variable's value, or `None` when it is not set.
    pub fn from_variables(
        tenant: TenantId,
        domain: Domain,
        mut lookup: impl FnMut(&str) -> Option<String>,
    ) -> Result<Self, KeyConfigError> {
        let name = Self::variable_name(&tenant, domain);
        let value = Zeroizing::new(
            lookup(&name).ok_or_else(|| KeyConfigError::MissingVariable { name: name.clone() })?,
        );
        let root =
            SecretKey::from_base64(&value).ok_or(KeyConfigError::InvalidKeyEncoding { name })?;

        Ok(Self::derive(tenant, domain, &root))
    }

    /// Returns the variable name of the root key, such as `blind_index_key_acme_auth`.
    pub fn variable_name(tenant: &TenantId, domain: Domain) -> String {
        format!("blind_index_key_{tenant}_{domain}")
    }

    /// Normalizes `value` and returns its blind index.
    pub fn index(&self, kind: FieldKind, value: &str) -> Result<BlindIndex, CryptoError> {
        let normalized = kind.normalize(value)?;
        Ok(self.index_normalized(kind, &normalized))
    }

    fn index_normalized(&self, kind: FieldKind, normalized: &str) -> BlindIndex {
        let key = &self.keys[kind_slot(kind)];
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key.expose_secret())
            .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
        mac.update(normalized.as_bytes());
        BlindIndex(mac.finalize().into_bytes().into())
    }
}

fn kind_slot(kind: FieldKind) -> usize {
    match kind {
        FieldKind::Email => 0,
        FieldKind::Ssn => 1,
        FieldKind::Phone => 2,
        FieldKind::PaymentToken => 3,
        FieldKind::MedicalRecordNumber => 4,
    }
}

impl fmt::Debug for BlindIndexKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlindIndexKeys")
            .field("tenant", &self.tenant)
            .field("domain", &self.domain)
            .field("algorithm", &"HMAC-SHA256")
            .finish_non_exhaustive()
    }
}

/// An encrypted field and its blind index, ready to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtectedField {
    /// The envelope holding the normalized value.
    pub ciphertext: Vec<u8>,
    /// The blind index of the normalized value.
    pub index: BlindIndex,
}

/// Normalizes a field value, encrypts it on its own and computes its blind index.
///
/// The envelope is bound to `<record type>.<field kind>` of the record, so an SSN
/// ciphertext cannot be moved into the payment token field of the same record.
pub fn protect_field(
    ring: &KeyRing,
    counter: &dyn EncryptionCounter,
    index_keys: &BlindIndexKeys,
    binding: &RecordBinding,
    kind: FieldKind,
    value: &str,
) -> Result<ProtectedField, CryptoError> {
    let normalized = kind.normalize(value)?;
    let field_binding = binding.for_field(kind.as_str())?;

    let ciphertext = ring.encrypt(counter, &field_binding, normalized.as_bytes())?;
    let index = index_keys.index_normalized(kind, &normalized);
    Ok(ProtectedField { ciphertext, index })
}

/// Decrypts a field written by [`protect_field`], returning its normalized value.
pub fn reveal_field(
    ring: &KeyRing,
    binding: &RecordBinding,
    kind: FieldKind,
    ciphertext: &[u8],
) -> Result<Zeroizing<String>, CryptoError> {
    let field_binding = binding.for_field(kind.as_str())?;
    let plaintext = ring.decrypt(&field_binding, ciphertext)?;

    let text = core::str::from_utf8(&plaintext).map_err(|_| CryptoError::FieldNotUtf8 { kind })?;
    Ok(Zeroizing::new(text.to_owned()))
}
