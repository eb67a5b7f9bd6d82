//! Encryption of file objects and the data keys that crypto-shredding destroys.
//!
//! Every file gets its own random 256-bit data key. The key is sealed under the uploads KEK
//! (`Sealer`, envelope encryption) and kept in the key-value store, never beside the objects.
//! Objects hold `PFO1 || nonce (12) || AES-256-GCM ciphertext and tag`, with associated data
//! binding the tenant, the file id and the object's role (`original` or `clean`), so an object
//! cannot be moved to another file or role unnoticed. Deleting the sealed key makes every
//! object of the file unreadable, including copies in backups.

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{Aead, KeyInit, Nonce, Payload};
use base64ct::{Base64, Encoding};
use portal_problem::{Problem, ProblemKind};
use portal_spin::crypto::Sealer;
use portal_spin::kv::Store;
use zeroize::Zeroizing;

use crate::model;

/// Magic of an encrypted file object.
const MAGIC: &[u8; 4] = b"PFO1";

/// Nonce length of AES-GCM.
const NONCE_LEN: usize = 12;

/// The role of an object, bound into its associated data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectRole {
    /// The bytes as received, kept in quarantine.
    Original,
    /// The sanitizer's clean copy, served to readers.
    Clean,
}

impl ObjectRole {
    fn label(self) -> &'static str {
        match self {
            ObjectRole::Original => "original",
            ObjectRole::Clean => "clean",
        }
    }
}

/// A file's data key.
pub struct DataKey(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataKey").finish_non_exhaustive()
    }
}

impl DataKey {
    /// Draws a new key from the system's random source.
    pub fn generate() -> Result<Self, Problem> {
        let mut key = Zeroizing::new([0u8; 32]);
        getrandom::fill(key.as_mut()).map_err(|_| Problem::new(ProblemKind::ServiceUnavailable))?;
        Ok(Self(key))
    }

    /// Seals the key under the KEK and stores it for `file_id`. Fails if a key exists.
    pub fn save(&self, store: &Store, sealer: &Sealer, file_id: &str) -> Result<(), Problem> {
        let sealed = sealer.seal(store, "file-key", file_id, self.0.as_ref())?;
        if !store.insert_new(
            &model::data_key_key(file_id),
            &Base64::encode_string(&sealed),
        )? {
            return Err(Problem::new(ProblemKind::Conflict));
        }
        Ok(())
    }

    /// Loads the key of `file_id`; `None` once it was destroyed.
    pub fn load(store: &Store, sealer: &Sealer, file_id: &str) -> Result<Option<Self>, Problem> {
        let Some(encoded) = store.get::<String>(&model::data_key_key(file_id), "file key")? else {
            return Ok(None);
        };
        let sealed =
            Base64::decode_vec(&encoded).map_err(|_| Problem::new(ProblemKind::Internal))?;
        let opened = sealer.open("file-key", file_id, &sealed)?;
        let key: [u8; 32] = opened
            .as_slice()
            .try_into()
            .map_err(|_| Problem::new(ProblemKind::Internal))?;
        Ok(Some(Self(Zeroizing::new(key))))
    }

    /// Destroys the stored key of `file_id`.
    pub fn destroy(store: &Store, file_id: &str) -> Result<(), Problem> {
        store.delete(&model::data_key_key(file_id))?;
        Ok(())
    }

    /// Encrypts `plaintext` as the object of `role` for `file_id`.
    pub fn encrypt(
        &self,
        tenant: &str,
        file_id: &str,
        role: ObjectRole,
        plaintext: &[u8],
    ) -> Result<Vec<u8>, Problem> {
        let cipher = Aes256Gcm::new_from_slice(self.0.as_ref())
            .map_err(|_| Problem::new(ProblemKind::Internal))?;
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|_| Problem::new(ProblemKind::ServiceUnavailable))?;
        let aad = associated_data(tenant, file_id, role);
        let ciphertext = cipher
            .encrypt(
                &Nonce::<Aes256Gcm>::from(nonce),
                Payload {
                    msg: plaintext,
                    aad: &aad,
                },
            )
            .map_err(|_| Problem::new(ProblemKind::Internal))?;
        let mut object = Vec::with_capacity(MAGIC.len() + NONCE_LEN + ciphertext.len());
        object.extend_from_slice(MAGIC);
        object.extend_from_slice(&nonce);
        object.extend_from_slice(&ciphertext);
        Ok(object)
    }

    /// Decrypts an object written by [`Self::encrypt`] for the same file and role.
    pub fn decrypt(
        &self,
        tenant: &str,
        file_id: &str,
        role: ObjectRole,
        object: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, Problem> {
        let corrupt = || {
            eprintln!("file object failed authentication");
            Problem::new(ProblemKind::Internal)
        };
        let rest = object.strip_prefix(MAGIC.as_slice()).ok_or_else(corrupt)?;
        let (nonce, ciphertext) = rest.split_at_checked(NONCE_LEN).ok_or_else(corrupt)?;
        let nonce = Nonce::<Aes256Gcm>::try_from(nonce).map_err(|_| corrupt())?;
        let cipher = Aes256Gcm::new_from_slice(self.0.as_ref())
            .map_err(|_| Problem::new(ProblemKind::Internal))?;
        let aad = associated_data(tenant, file_id, role);
        cipher
            .decrypt(
                &nonce,
                Payload {
                    msg: ciphertext,
                    aad: &aad,
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| corrupt())
    }
}

fn associated_data(tenant: &str, file_id: &str, role: ObjectRole) -> Vec<u8> {
    format!(
        "portal-file-object-v1\0{tenant}\0{file_id}\0{}",
        role.label()
    )
    .into_bytes()
}
