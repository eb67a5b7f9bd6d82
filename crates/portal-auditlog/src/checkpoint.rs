//! Signed checkpoints in the C2SP `tlog-checkpoint` format, carried in a C2SP `signed-note`.
//!
//! A checkpoint is three lines, the log's origin, the tree size in decimal and the root hash
//! in standard base64, each ending in a newline. The note appends a blank line and one
//! signature line per signer: an em dash, a space, the key name, a space, and the base64 of
//! the 4-byte key ID followed by the Ed25519 signature over the checkpoint text. The key ID is
//! the first four bytes of `SHA-256(name || "\n" || 0x01 || public key)`.

use base64ct::{Base64, Encoding};
use ed25519_compact::{KeyPair, PublicKey, Seed, Signature};
use sha2::{Digest, Sha256};

use crate::Hash;

/// Signature type byte of Ed25519 in signed notes.
const ED25519_TYPE: u8 = 0x01;

/// The em dash and space that start a signature line.
const SIGNATURE_PREFIX: &str = "\u{2014} ";

/// Largest note accepted for verification. C2SP signed-note requires verifiers to accept at least
/// 16 signatures; 16 post-quantum signatures of about 5 kB each fit with room to spare.
const MAX_NOTE_BYTES: usize = 128 * 1024;

/// A log's size and root, named by its origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's unique name, such as `portal.example.org/audit`.
    pub origin: String,
    /// Number of entries.
    pub size: u64,
    /// Root hash over them.
    pub root: Hash,
}

impl Checkpoint {
    /// Renders the checkpoint's three lines, the text that is signed.
    pub fn body(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            Base64::encode_string(&self.root)
        )
    }
}

/// Reasons a signed note is rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    /// The note or checkpoint text does not follow the format.
    #[error("malformed checkpoint: {0}")]
    Malformed(&'static str),
    /// No signature line is by the expected key.
    #[error("no signature by key {0:?}")]
    NotSigned(String),
    /// The signature by the expected key does not verify.
    #[error("invalid signature by key {0:?}")]
    BadSignature(String),
    /// The checkpoint names another log.
    #[error("checkpoint is for another log")]
    WrongOrigin,
    /// A key name or encoded key is invalid.
    #[error("invalid key: {0}")]
    InvalidKey(&'static str),
}

/// Signs checkpoints with an Ed25519 key.
pub struct CheckpointSigner {
    name: String,
    key_pair: KeyPair,
    key_id: [u8; 4],
}

impl std::fmt::Debug for CheckpointSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckpointSigner")
            .field("name", &self.name)
            .field("algorithm", &"Ed25519")
            .finish_non_exhaustive()
    }
}

impl CheckpointSigner {
    /// Creates a signer named `name` from a 32-byte Ed25519 seed.
    pub fn from_seed(name: &str, seed: &[u8; 32]) -> Result<Self, CheckpointError> {
        check_key_name(name)?;
        let key_pair = KeyPair::from_seed(Seed::new(*seed));
        let key_id = key_id(name, &key_pair.pk);
        Ok(Self {
            name: name.to_owned(),
            key_pair,
            key_id,
        })
    }

    /// Returns the verifier key to publish: `name+keyid+base64(0x01 || public key)`.
    pub fn verifier_key(&self) -> String {
        let mut encoded = vec![ED25519_TYPE];
        encoded.extend_from_slice(self.key_pair.pk.as_ref());
        format!(
            "{}+{}+{}",
            self.name,
            hex(&self.key_id),
            Base64::encode_string(&encoded)
        )
    }

    /// Returns the signed note for `checkpoint`.
    pub fn sign(&self, checkpoint: &Checkpoint) -> Result<String, CheckpointError> {
        check_origin(&checkpoint.origin)?;
        let body = checkpoint.body();
        let signature = self.key_pair.sk.sign(body.as_bytes(), None);
        let mut blob = self.key_id.to_vec();
        blob.extend_from_slice(signature.as_ref());
        Ok(format!(
            "{body}\n{SIGNATURE_PREFIX}{} {}\n",
            self.name,
            Base64::encode_string(&blob)
        ))
    }
}

/// Verifies checkpoints signed by one key.
#[derive(Debug, Clone)]
pub struct CheckpointVerifier {
    name: String,
    key_id: [u8; 4],
    public_key: PublicKey,
}

impl CheckpointVerifier {
    /// Parses a verifier key of the form `name+keyid+base64(0x01 || public key)`.
    pub fn from_verifier_key(text: &str) -> Result<Self, CheckpointError> {
        let mut parts = text.splitn(3, '+');
        let (Some(name), Some(id), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(CheckpointError::InvalidKey("expected name+keyid+key"));
        };
        check_key_name(name)?;
        let encoded = Base64::decode_vec(key)
            .map_err(|_| CheckpointError::InvalidKey("key is not base64"))?;
        let Some((&ED25519_TYPE, raw)) = encoded.split_first() else {
            return Err(CheckpointError::InvalidKey("not an Ed25519 key"));
        };
        let public_key = PublicKey::from_slice(raw)
            .map_err(|_| CheckpointError::InvalidKey("Ed25519 key is not 32 bytes"))?;
        let key_id = key_id(name, &public_key);
        if !hex(&key_id).eq_ignore_ascii_case(id) {
            return Err(CheckpointError::InvalidKey("key ID does not match the key"));
        }
        Ok(Self {
            name: name.to_owned(),
            key_id,
            public_key,
        })
    }

    /// Verifies `note` and returns its checkpoint if it is for `origin` and carries a valid
    /// signature by this key. Signatures by other keys are ignored.
    pub fn verify(&self, note: &str, origin: &str) -> Result<Checkpoint, CheckpointError> {
        let body = self.verify_note(note)?;
        let checkpoint = parse_checkpoint(body)?;
        if checkpoint.origin != origin {
            return Err(CheckpointError::WrongOrigin);
        }
        Ok(checkpoint)
    }

    /// Checks the note's signature by this key and returns the signed text.
    fn verify_note<'a>(&self, note: &'a str) -> Result<&'a str, CheckpointError> {
        if note.len() > MAX_NOTE_BYTES {
            return Err(CheckpointError::Malformed("note too large"));
        }
        if !note.ends_with('\n') {
            return Err(CheckpointError::Malformed(
                "note does not end with a newline",
            ));
        }
        let Some(split) = note.rfind("\n\n") else {
            return Err(CheckpointError::Malformed(
                "no blank line before the signatures",
            ));
        };
        let body = &note[..=split];
        let signatures = &note[split + 2..];
        // C2SP signed-note forbids ASCII control characters other than newline anywhere.
        if note.bytes().any(|b| (b < 0x20 && b != b'\n') || b == 0x7f) {
            return Err(CheckpointError::Malformed("control character in the note"));
        }

        let mut found = false;
        for line in signatures.lines() {
            let Some(rest) = line.strip_prefix(SIGNATURE_PREFIX) else {
                return Err(CheckpointError::Malformed("signature line without em dash"));
            };
            let Some((name, encoded)) = rest.split_once(' ') else {
                return Err(CheckpointError::Malformed(
                    "signature line without a signature",
                ));
            };
            let blob = Base64::decode_vec(encoded)
                .map_err(|_| CheckpointError::Malformed("signature is not base64"))?;
            if name != self.name || blob.len() < 4 || blob[..4] != self.key_id {
                continue;
            }
            found = true;
            let signature = Signature::from_slice(&blob[4..])
                .map_err(|_| CheckpointError::BadSignature(self.name.clone()))?;
            self.public_key
                .verify(body.as_bytes(), &signature)
                .map_err(|_| CheckpointError::BadSignature(self.name.clone()))?;
        }
        if !found {
            return Err(CheckpointError::NotSigned(self.name.clone()));
        }
        Ok(body)
    }
}

/// Parses checkpoint text (origin, size, root, and optional extension lines).
fn parse_checkpoint(body: &str) -> Result<Checkpoint, CheckpointError> {
    let mut lines = body.lines();
    let origin = lines.next().unwrap_or_default();
    check_origin(origin)?;
    let size_text = lines
        .next()
        .ok_or(CheckpointError::Malformed("missing tree size"))?;
    let canonical = size_text == "0" || !size_text.starts_with('0');
    let size: u64 = size_text
        .parse()
        .ok()
        .filter(|_| canonical && size_text.bytes().all(|b| b.is_ascii_digit()))
        .ok_or(CheckpointError::Malformed(
            "tree size is not a canonical decimal",
        ))?;
    let root_text = lines
        .next()
        .ok_or(CheckpointError::Malformed("missing root hash"))?;
    let root: Hash = Base64::decode_vec(root_text)
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or(CheckpointError::Malformed(
            "root hash is not 32 bytes of base64",
        ))?;
    if lines.any(str::is_empty) {
        return Err(CheckpointError::Malformed("empty extension line"));
    }
    Ok(Checkpoint {
        origin: origin.to_owned(),
        size,
        root,
    })
}

fn check_origin(origin: &str) -> Result<(), CheckpointError> {
    if origin.is_empty() || origin.contains('\n') || origin.chars().any(char::is_control) {
        return Err(CheckpointError::Malformed("invalid origin line"));
    }
    Ok(())
}

fn check_key_name(name: &str) -> Result<(), CheckpointError> {
    if name.is_empty() || name.contains('+') || name.chars().any(char::is_whitespace) {
        return Err(CheckpointError::InvalidKey(
            "key name must be non-empty, without '+' or spaces",
        ));
    }
    Ok(())
}

fn key_id(name: &str, public_key: &PublicKey) -> [u8; 4] {
    let mut hasher = Sha256::new();
    hasher.update(name.as_bytes());
    hasher.update(b"\n");
    hasher.update([ED25519_TYPE]);
    hasher.update(public_key.as_ref());
    let digest = hasher.finalize();
    [digest[0], digest[1], digest[2], digest[3]]
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
