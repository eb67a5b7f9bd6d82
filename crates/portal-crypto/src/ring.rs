//! The key ring and the envelope operations: encrypt, decrypt and rewrap.

use core::fmt;
use std::collections::BTreeMap;

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{Aead, KeyInit, Nonce, Payload};
use zeroize::Zeroizing;

use crate::counter::{DEFAULT_ENCRYPTION_CEILING, EncryptionCounter, MAX_ENCRYPTION_CEILING};
use crate::error::{CryptoError, KeyConfigError};
use crate::format::{
    Header, NONCE_LEN, RecordBinding, WRAPPED_KEY_LEN, payload_ad_for_prefix, wrap_ad_for_prefix,
    write_prefix,
};
use crate::keyring::{Domain, DomainKeys, KekId, TenantId};
use crate::secret::{KEY_LEN, SecretKey, fill_random};

/// Decrypted bytes, wiped from memory when dropped.
pub type Plaintext = Zeroizing<Vec<u8>>;

/// The result of [`KeyRing::rewrap`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rewrap {
    /// The envelope already uses the active KEK version.
    Unchanged,
    /// The envelope with its data key wrapped under the active KEK version. The payload
    /// bytes are identical to the input's.
    Rewrapped(Vec<u8>),
}

/// KEKs of every tenant and domain a component serves, with the encryption ceiling.
pub struct KeyRing {
    domains: BTreeMap<(TenantId, Domain), DomainKeys>,
    encryption_ceiling: u64,
}

impl Default for KeyRing {
    fn default() -> Self {
        Self::new()
    }
}

impl KeyRing {
    /// Creates an empty ring with the [`DEFAULT_ENCRYPTION_CEILING`].
    pub fn new() -> Self {
        Self {
            domains: BTreeMap::new(),
            encryption_ceiling: DEFAULT_ENCRYPTION_CEILING,
        }
    }

    /// Sets the number of encryptions allowed per KEK version, from 1 to
    /// [`MAX_ENCRYPTION_CEILING`].
    pub fn set_encryption_ceiling(&mut self, ceiling: u64) -> Result<(), KeyConfigError> {
        if ceiling == 0 || ceiling > MAX_ENCRYPTION_CEILING {
            return Err(KeyConfigError::CeilingOutOfRange {
                ceiling,
                max: MAX_ENCRYPTION_CEILING,
            });
        }
        self.encryption_ceiling = ceiling;
        Ok(())
    }

    /// Returns the number of encryptions allowed per KEK version.
    pub fn encryption_ceiling(&self) -> u64 {
        self.encryption_ceiling
    }

    /// Adds or replaces the keys of one tenant and domain.
    pub fn insert(&mut self, keys: DomainKeys) {
        let slot = (keys.tenant().clone(), keys.domain());
        self.domains.insert(slot, keys);
    }

    /// Returns the id of the KEK that encrypts new records for this tenant and domain.
    pub fn active_kek_id(&self, tenant: &TenantId, domain: Domain) -> Option<KekId> {
        self.domains
            .get(&(tenant.clone(), domain))
            .map(DomainKeys::active_kek_id)
    }

    /// Encrypts `plaintext` for the record named by `binding`.
    ///
    /// Generates a fresh 256-bit data key and two random 96-bit nonces, encrypts the
    /// plaintext with the data key, and wraps the data key with the active KEK. The counter
    /// is incremented before anything is encrypted; past the ceiling, encryption fails with
    /// [`CryptoError::CeilingReached`].
    pub fn encrypt(
        &self,
        counter: &dyn EncryptionCounter,
        binding: &RecordBinding,
        plaintext: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        let keys = self.domain_keys(binding.tenant(), binding.domain())?;
        let data_key = SecretKey::generate()?;

        let mut envelope = Vec::with_capacity(128 + plaintext.len());
        self.wrap_into(counter, keys, binding, &data_key, &mut envelope)?;

        // `wrap_into` wrote the header prefix, then the wrap nonce and the wrapped key.
        let prefix_len = envelope.len() - NONCE_LEN - WRAPPED_KEY_LEN;
        let ad = payload_ad_for_prefix(&envelope[..prefix_len], binding);

        let mut payload_nonce = [0u8; NONCE_LEN];
        fill_random(&mut payload_nonce)?;
        envelope.extend_from_slice(&payload_nonce);

        let payload = seal(&data_key, &payload_nonce, &ad, plaintext)
            .map_err(|_| CryptoError::PlaintextTooLarge)?;
        envelope.extend_from_slice(&payload);

        Ok(envelope)
    }

    /// Decrypts an envelope written for the record named by `binding`.
    ///
    /// Fails with a typed error when the header is malformed, names another tenant or
    /// domain, names an unknown or retired key version, or when either authentication tag
    /// does not match. No plaintext is released unless both tags verify.
    pub fn decrypt(
        &self,
        binding: &RecordBinding,
        envelope: &[u8],
    ) -> Result<Plaintext, CryptoError> {
        let header = Header::parse(envelope)?;
        let data_key = self.unwrap_data_key(&header, binding)?;

        let ad = header.payload_ad(binding);
        let plaintext = open(&data_key, header.payload_nonce, &ad, header.payload)
            .map_err(|_| CryptoError::DecryptionFailed)?;
        Ok(plaintext)
    }

    /// Moves an envelope's data key to the active KEK version without decrypting the
    /// payload.
    ///
    /// The data key is unwrapped with the envelope's KEK (which must still be allowed),
    /// wrapped again under the active KEK with a fresh nonce, and the payload bytes are
    /// copied unchanged. The rewrap counts as one encryption under the active KEK.
    pub fn rewrap(
        &self,
        counter: &dyn EncryptionCounter,
        binding: &RecordBinding,
        envelope: &[u8],
    ) -> Result<Rewrap, CryptoError> {
        let header = Header::parse(envelope)?;
        let keys = self.domain_keys(binding.tenant(), binding.domain())?;
        if header.kek_version == keys.active_version() {
            // Authenticate anyway, so a rewrap job never reports a forged envelope as
            // current.
            self.unwrap_data_key(&header, binding)?;
            return Ok(Rewrap::Unchanged);
        }

        let data_key = self.unwrap_data_key(&header, binding)?;
        let mut rewrapped = Vec::with_capacity(envelope.len());
        self.wrap_into(counter, keys, binding, &data_key, &mut rewrapped)?;
        rewrapped.extend_from_slice(header.payload_nonce);
        rewrapped.extend_from_slice(header.payload);

        Ok(Rewrap::Rewrapped(rewrapped))
    }

    /// Returns the KEK an envelope names, without decrypting it. Rewrap jobs use this to
    /// find envelopes under old versions.
    pub fn envelope_kek_id(envelope: &[u8]) -> Result<KekId, CryptoError> {
        let header = Header::parse(envelope)?;
        let tenant = TenantId::new(header.tenant)
            .map_err(|_| CryptoError::MalformedHeader { field: "tenant" })?;

        Ok(KekId {
            tenant,
            domain: header.domain,
            version: header.kek_version,
        })
    }

    fn domain_keys(&self, tenant: &TenantId, domain: Domain) -> Result<&DomainKeys, CryptoError> {
        self.domains
            .get(&(tenant.clone(), domain))
            .ok_or_else(|| CryptoError::NoKeysForDomain {
                tenant: tenant.clone(),
                domain,
            })
    }

    /// Counts one encryption under the active KEK, then appends the header prefix, the wrap
    /// nonce and the wrapped data key to `out`.
    fn wrap_into(
        &self,
        counter: &dyn EncryptionCounter,
        keys: &DomainKeys,
        binding: &RecordBinding,
        data_key: &SecretKey,
        out: &mut Vec<u8>,
    ) -> Result<(), CryptoError> {
        let kek_id = keys.active_kek_id();
        let kek = keys.active_key().ok_or_else(|| CryptoError::UnknownKey {
            kek: kek_id.clone(),
        })?;

        let count = counter.increment(&kek_id)?;
        if count > self.encryption_ceiling {
            return Err(CryptoError::CeilingReached {
                kek: kek_id,
                ceiling: self.encryption_ceiling,
            });
        }

        let mut wrap_nonce = [0u8; NONCE_LEN];
        fill_random(&mut wrap_nonce)?;

        write_prefix(binding, kek_id.version, out);
        let ad = wrap_ad_for_prefix(out, binding);
        let wrapped = seal(kek, &wrap_nonce, &ad, data_key.expose_secret())
            .map_err(|_| CryptoError::PlaintextTooLarge)?;
        debug_assert_eq!(wrapped.len(), WRAPPED_KEY_LEN);

        out.extend_from_slice(&wrap_nonce);
        out.extend_from_slice(&wrapped);
        Ok(())
    }

    /// Checks the header against the binding and the key policy, then unwraps the data key.
    fn unwrap_data_key(
        &self,
        header: &Header<'_>,
        binding: &RecordBinding,
    ) -> Result<SecretKey, CryptoError> {
        if header.tenant != binding.tenant().as_str() {
            return Err(CryptoError::BindingMismatch { field: "tenant" });
        }
        if header.domain != binding.domain() {
            return Err(CryptoError::BindingMismatch { field: "domain" });
        }

        let keys = self.domain_keys(binding.tenant(), binding.domain())?;
        let kek_id = keys.kek_id(header.kek_version);
        if header.kek_version < keys.oldest_allowed_version() {
            return Err(CryptoError::RetiredKeyVersion {
                kek: kek_id,
                oldest_allowed: keys.oldest_allowed_version(),
            });
        }
        let kek = keys
            .key(header.kek_version)
            .ok_or(CryptoError::UnknownKey { kek: kek_id })?;

        let ad = header.wrap_ad(binding);
        let unwrapped = open(kek, header.wrap_nonce, &ad, header.wrapped_key)
            .map_err(|_| CryptoError::KeyUnwrapFailed)?;
        let bytes: [u8; KEY_LEN] = unwrapped
            .as_slice()
            .try_into()
            .map_err(|_| CryptoError::KeyUnwrapFailed)?;

        Ok(SecretKey::from_bytes(bytes))
    }
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRing")
            .field("domains", &self.domains.values().collect::<Vec<_>>())
            .field("encryption_ceiling", &self.encryption_ceiling)
            .finish_non_exhaustive()
    }
}

/// AES-256-GCM encryption; returns the ciphertext followed by the tag.
fn seal(
    key: &SecretKey,
    nonce: &[u8; NONCE_LEN],
    ad: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, aes_gcm::Error> {
    let cipher = Aes256Gcm::new_from_slice(key.expose_secret()).map_err(|_| aes_gcm::Error)?;
    let nonce = Nonce::<Aes256Gcm>::from(*nonce);
    cipher.encrypt(
        &nonce,
        Payload {
            msg: plaintext,
            aad: ad,
        },
    )
}

/// AES-256-GCM decryption of ciphertext followed by the tag. The tag is verified in constant
/// time before any plaintext is produced.
fn open(
    key: &SecretKey,
    nonce: &[u8],
    ad: &[u8],
    ciphertext: &[u8],
) -> Result<Plaintext, aes_gcm::Error> {
    let cipher = Aes256Gcm::new_from_slice(key.expose_secret()).map_err(|_| aes_gcm::Error)?;
    let nonce = Nonce::<Aes256Gcm>::try_from(nonce).map_err(|_| aes_gcm::Error)?;
    let plaintext = cipher.decrypt(
        &nonce,
        Payload {
            msg: ciphertext,
            aad: ad,
        },
    )?;
    Ok(Zeroizing::new(plaintext))
}
