//! The envelope's binary format (version 1) and the associated data built from it.
//!
//! ```text
//! offset  size    field
//! 0       2       magic "PE" (0x50 0x45)
//! 2       1       format version: 1
//! 3       1       algorithm suite: 1 = AES-256-GCM payload, data key wrapped by AES-256-GCM
//! 4       1       tenant length T, 1 to 32
//! 5       T       tenant name, [a-z0-9]
//! 5+T     1       domain: 1 auth, 2 messaging, 3 uploads, 4 audit
//! 6+T     4       KEK version, big-endian u32, from 1
//! 10+T    12      key-wrap nonce
//! 22+T    48      wrapped data key: 32 bytes of ciphertext, then the 16-byte GCM tag
//! 70+T    12      payload nonce
//! 82+T    n+16    payload ciphertext, then the 16-byte GCM tag
//! ```
//!
//! Both GCM operations authenticate associated data (AD) built from the header and the
//! record binding, so every header byte and every binding field is authenticated:
//!
//! - Key-wrap AD: the label `portal-envelope-v1 key-wrap`, bytes 0 to 10+T (magic through
//!   KEK version), then the record type and id, each prefixed with its length in one byte.
//! - Payload AD: the label `portal-envelope-v1 payload`, bytes 0 to 6+T (magic through
//!   domain), then the same record type and id.
//!
//! The payload AD leaves out the KEK version and the wrapped key so that a rewrap can
//! replace them without decrypting the payload. The KEK version is still bound: it is in the
//! key-wrap AD, and the data key that opens the payload only comes out of that unwrap.

use crate::error::CryptoError;
use crate::keyring::{Domain, TenantId, is_valid_tenant};

/// Magic bytes at the start of every envelope.
pub const MAGIC: [u8; 2] = *b"PE";
/// The only format version this build writes and reads.
pub const FORMAT_VERSION: u8 = 1;
/// AES-256-GCM payload with an AES-256-GCM-wrapped data key.
pub const SUITE_AES256GCM_GCMWRAP: u8 = 1;
/// AES-GCM nonce length in bytes (96 bits, the length NIST SP 800-38D recommends).
pub const NONCE_LEN: usize = 12;
/// AES-GCM tag length in bytes.
pub const TAG_LEN: usize = 16;
/// Wrapped data key length: the 32-byte key and its tag.
pub const WRAPPED_KEY_LEN: usize = 32 + TAG_LEN;
/// Maximum length of a record type in bytes.
pub const MAX_RECORD_TYPE_LEN: usize = 64;
/// Maximum length of a record id in bytes.
pub const MAX_RECORD_ID_LEN: usize = 128;

const WRAP_LABEL: &[u8] = b"portal-envelope-v1 key-wrap";
const PAYLOAD_LABEL: &[u8] = b"portal-envelope-v1 payload";

/// The record a ciphertext belongs to. Decryption succeeds only under the binding used to
/// encrypt, so a ciphertext copied to another tenant, domain, record type or record id
/// fails to decrypt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordBinding {
    tenant: TenantId,
    domain: Domain,
    record_type: String,
    record_id: String,
}

impl RecordBinding {
    /// Builds a binding. The record type is 1 to 64 bytes of `[a-z0-9_.-]`, such as
    /// `message`. The record id is 1 to 128 bytes of printable ASCII, such as a message id.
    pub fn new(
        tenant: TenantId,
        domain: Domain,
        record_type: &str,
        record_id: &str,
    ) -> Result<Self, CryptoError> {
        validate_record_type(record_type)?;
        validate_record_id(record_id)?;

        Ok(Self {
            tenant,
            domain,
            record_type: record_type.to_owned(),
            record_id: record_id.to_owned(),
        })
    }

    /// Returns the tenant.
    pub fn tenant(&self) -> &TenantId {
        &self.tenant
    }

    /// Returns the domain, which selects the KEKs.
    pub fn domain(&self) -> Domain {
        self.domain
    }

    /// Returns the record type.
    pub fn record_type(&self) -> &str {
        &self.record_type
    }

    /// Returns the record id.
    pub fn record_id(&self) -> &str {
        &self.record_id
    }

    /// Returns the binding of one field of this record, whose record type is
    /// `<record type>.<field>`, so a field's ciphertext cannot stand in for another field.
    pub(crate) fn for_field(&self, field: &str) -> Result<Self, CryptoError> {
        let record_type = format!("{}.{}", self.record_type, field);
        Self::new(
            self.tenant.clone(),
            self.domain,
            &record_type,
            &self.record_id,
        )
    }

    fn append_record(&self, ad: &mut Vec<u8>) {
        // Lengths fit in one byte because the constructor bounds both fields.
        ad.push(self.record_type.len() as u8);
        ad.extend_from_slice(self.record_type.as_bytes());
        ad.push(self.record_id.len() as u8);
        ad.extend_from_slice(self.record_id.as_bytes());
    }
}

fn validate_record_type(record_type: &str) -> Result<(), CryptoError> {
    let valid = !record_type.is_empty()
        && record_type.len() <= MAX_RECORD_TYPE_LEN
        && record_type.bytes().all(|byte| {
            byte.is_ascii_lowercase() || byte.is_ascii_digit() || matches!(byte, b'_' | b'.' | b'-')
        });

    if valid {
        Ok(())
    } else {
        Err(CryptoError::InvalidBinding {
            field: "record_type",
            problem: "must be 1 to 64 characters from a-z, 0-9, '_', '.' and '-'",
        })
    }
}

fn validate_record_id(record_id: &str) -> Result<(), CryptoError> {
    let valid = !record_id.is_empty()
        && record_id.len() <= MAX_RECORD_ID_LEN
        && record_id.bytes().all(|byte| byte.is_ascii_graphic());

    if valid {
        Ok(())
    } else {
        Err(CryptoError::InvalidBinding {
            field: "record_id",
            problem: "must be 1 to 128 printable ASCII characters without spaces",
        })
    }
}

/// The parsed header of an envelope, borrowed from the ciphertext.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Header<'a> {
    /// The raw header bytes from the magic to the payload nonce.
    pub raw: &'a [u8],
    pub tenant: &'a str,
    pub domain: Domain,
    pub kek_version: u32,
    pub wrap_nonce: &'a [u8],
    pub wrapped_key: &'a [u8],
    pub payload_nonce: &'a [u8],
    /// Payload ciphertext followed by its tag.
    pub payload: &'a [u8],
}

impl<'a> Header<'a> {
    /// Parses an envelope, checking each field in order and failing on the first bad one.
    pub fn parse(envelope: &'a [u8]) -> Result<Self, CryptoError> {
        let mut reader = Reader::new(envelope);

        if reader.take(MAGIC.len())? != MAGIC {
            return Err(CryptoError::BadMagic);
        }
        let version = reader.byte()?;
        if version != FORMAT_VERSION {
            return Err(CryptoError::UnsupportedFormatVersion { version });
        }
        let suite = reader.byte()?;
        if suite != SUITE_AES256GCM_GCMWRAP {
            return Err(CryptoError::UnsupportedSuite { suite });
        }

        let tenant_len = usize::from(reader.byte()?);
        let tenant = reader.take(tenant_len)?;
        if !is_valid_tenant(tenant) {
            return Err(CryptoError::MalformedHeader { field: "tenant" });
        }
        let tenant = core::str::from_utf8(tenant)
            .map_err(|_| CryptoError::MalformedHeader { field: "tenant" })?;

        let domain = Domain::from_code(reader.byte()?)
            .ok_or(CryptoError::MalformedHeader { field: "domain" })?;
        let kek_version = u32::from_be_bytes(reader.array::<4>()?);
        if kek_version == 0 {
            return Err(CryptoError::MalformedHeader {
                field: "kek_version",
            });
        }

        let wrap_nonce = reader.take(NONCE_LEN)?;
        let wrapped_key = reader.take(WRAPPED_KEY_LEN)?;
        let payload_nonce = reader.take(NONCE_LEN)?;
        let raw = &envelope[..reader.position];
        let payload = reader.rest();
        if payload.len() < TAG_LEN {
            return Err(CryptoError::Truncated);
        }

        Ok(Self {
            raw,
            tenant,
            domain,
            kek_version,
            wrap_nonce,
            wrapped_key,
            payload_nonce,
            payload,
        })
    }

    /// Length of the header prefix that ends with the domain byte.
    fn through_domain(&self) -> usize {
        5 + self.tenant.len() + 1
    }

    /// Length of the header prefix that ends with the KEK version.
    fn through_kek_version(&self) -> usize {
        self.through_domain() + 4
    }

    pub fn wrap_ad(&self, binding: &RecordBinding) -> Vec<u8> {
        build_ad(WRAP_LABEL, &self.raw[..self.through_kek_version()], binding)
    }

    pub fn payload_ad(&self, binding: &RecordBinding) -> Vec<u8> {
        build_ad(PAYLOAD_LABEL, &self.raw[..self.through_domain()], binding)
    }
}

/// Writes the header prefix from the magic through the KEK version.
pub(crate) fn write_prefix(binding: &RecordBinding, kek_version: u32, out: &mut Vec<u8>) {
    let tenant = binding.tenant().as_str().as_bytes();

    out.extend_from_slice(&MAGIC);
    out.push(FORMAT_VERSION);
    out.push(SUITE_AES256GCM_GCMWRAP);
    // The tenant constructor bounds the length to 32.
    out.push(tenant.len() as u8);
    out.extend_from_slice(tenant);
    out.push(binding.domain().code());
    out.extend_from_slice(&kek_version.to_be_bytes());
}

/// Returns the key-wrap AD for a header prefix written by [`write_prefix`].
pub(crate) fn wrap_ad_for_prefix(prefix: &[u8], binding: &RecordBinding) -> Vec<u8> {
    build_ad(WRAP_LABEL, prefix, binding)
}

/// Returns the payload AD for a header prefix written by [`write_prefix`].
pub(crate) fn payload_ad_for_prefix(prefix: &[u8], binding: &RecordBinding) -> Vec<u8> {
    // The prefix ends with the 4-byte KEK version, which the payload AD leaves out.
    build_ad(PAYLOAD_LABEL, &prefix[..prefix.len() - 4], binding)
}

fn build_ad(label: &[u8], header: &[u8], binding: &RecordBinding) -> Vec<u8> {
    let mut ad = Vec::with_capacity(label.len() + header.len() + 2 + 64 + 128);
    ad.extend_from_slice(label);
    ad.extend_from_slice(header);
    binding.append_record(&mut ad);
    ad
}

/// A bounds-checked cursor over the envelope bytes.
struct Reader<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, position: 0 }
    }

    fn take(&mut self, len: usize) -> Result<&'a [u8], CryptoError> {
        let end = self
            .position
            .checked_add(len)
            .ok_or(CryptoError::Truncated)?;
        let slice = self
            .bytes
            .get(self.position..end)
            .ok_or(CryptoError::Truncated)?;
        self.position = end;
        Ok(slice)
    }

    fn byte(&mut self) -> Result<u8, CryptoError> {
        Ok(self.take(1)?[0])
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], CryptoError> {
        let mut array = [0u8; N];
        array.copy_from_slice(self.take(N)?);
        Ok(array)
    }

    fn rest(&self) -> &'a [u8] {
        &self.bytes[self.position..]
    }
}
