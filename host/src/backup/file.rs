//! The backup file: a header with a random salt, then sealed parts, the manifest last.
//!
//! ```text
//! "PORTAL-BACKUP/1\n" salt[32]
//! part*: name_len:u16 name nonce[12] length:u64 ciphertext-and-tag
//! ```
//!
//! Part names are `part-N` and `manifest`; integers are big-endian. Each part is sealed with
//! AES-256-GCM under a key derived from the backup key and the salt, with the magic, the salt
//! and the part's name as associated data.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{Aead, KeyInit, Nonce, Payload};
use anyhow::{Context, bail};
use base64ct::{Base64, Encoding};
use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::Zeroizing;

const MAGIC: &[u8] = b"PORTAL-BACKUP/1\n";
const SALT_LEN: usize = 32;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
const MANIFEST: &str = "manifest";
/// Largest part a reader accepts: a whole store or one object.
const MAX_PART: u64 = 4 << 30;

/// The `backup_key` variable: 32 secret bytes.
pub struct BackupKey(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for BackupKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BackupKey(..)")
    }
}

impl BackupKey {
    /// Parses standard base64 of exactly 32 bytes.
    pub fn from_base64(text: &str) -> anyhow::Result<Self> {
        let mut key = Zeroizing::new([0u8; 32]);
        match Base64::decode(text.trim(), &mut key[..]) {
            Ok(decoded) if decoded.len() == 32 => Ok(Self(key)),
            _ => bail!("the backup_key variable must be standard base64 of 32 bytes"),
        }
    }

    fn cipher(&self, salt: &[u8]) -> anyhow::Result<Aes256Gcm> {
        let mut derived = Zeroizing::new([0u8; 32]);
        Hkdf::<Sha256>::new(Some(salt), &self.0[..])
            .expand(b"portal backup v1 aes-256-gcm", &mut derived[..])
            .map_err(|_| anyhow::anyhow!("key derivation failed"))?;
        Aes256Gcm::new_from_slice(&derived[..]).map_err(|_| anyhow::anyhow!("bad key length"))
    }
}

fn associated_data(salt: &[u8], name: &str) -> Vec<u8> {
    [MAGIC, salt, name.as_bytes()].concat()
}

/// Writes a backup to a new temporary file beside the destination, renamed into place by
/// [`Writer::finish`] and deleted if the backup fails first.
pub struct Writer {
    out: Option<BufWriter<File>>,
    temporary: PathBuf,
    destination: PathBuf,
    cipher: Aes256Gcm,
    salt: [u8; SALT_LEN],
    next: usize,
}

impl Drop for Writer {
    fn drop(&mut self) {
        if self.out.is_some() {
            let _ = std::fs::remove_file(&self.temporary);
        }
    }
}

impl Writer {
    /// Starts a backup at `destination`, readable by its owner only.
    pub fn create(destination: &Path, key: &BackupKey) -> anyhow::Result<Self> {
        let mut salt = [0u8; SALT_LEN];
        getrandom::fill(&mut salt)
            .map_err(|_| anyhow::anyhow!("the system random source failed"))?;
        let mut suffix = [0u8; 8];
        getrandom::fill(&mut suffix)
            .map_err(|_| anyhow::anyhow!("the system random source failed"))?;
        let name = destination
            .file_name()
            .context("the backup path names no file")?
            .to_string_lossy();
        let suffix: String = suffix.iter().map(|byte| format!("{byte:02x}")).collect();
        let temporary = destination.with_file_name(format!(".{name}.{suffix}.partial"));
        // A new file only, so a planted file or link is never written through.
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options
            .open(&temporary)
            .with_context(|| format!("failed to create {}", temporary.display()))?;
        let mut out = BufWriter::new(file);
        out.write_all(MAGIC)?;
        out.write_all(&salt)?;
        Ok(Self {
            out: Some(out),
            temporary,
            destination: destination.to_path_buf(),
            cipher: key.cipher(&salt)?,
            salt,
            next: 0,
        })
    }

    fn seal(&mut self, name: &str, plaintext: &[u8]) -> anyhow::Result<()> {
        if plaintext.len() as u64 > MAX_PART - TAG_LEN as u64 {
            bail!(
                "{name} is {} bytes, over the {} bytes one part may hold",
                plaintext.len(),
                MAX_PART - TAG_LEN as u64
            );
        }
        let out = self
            .out
            .as_mut()
            .context("the backup is already finished")?;
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce)
            .map_err(|_| anyhow::anyhow!("the system random source failed"))?;
        let aad = associated_data(&self.salt, name);
        let sealed = self
            .cipher
            .encrypt(
                &Nonce::<Aes256Gcm>::from(nonce),
                Payload {
                    msg: plaintext,
                    aad: &aad,
                },
            )
            .map_err(|_| anyhow::anyhow!("encryption failed"))?;
        let name_len = u16::try_from(name.len())?;
        out.write_all(&name_len.to_be_bytes())?;
        out.write_all(name.as_bytes())?;
        out.write_all(&nonce)?;
        out.write_all(&(sealed.len() as u64).to_be_bytes())?;
        out.write_all(&sealed)?;
        Ok(())
    }

    /// Appends the next part.
    pub fn part(&mut self, plaintext: &[u8]) -> anyhow::Result<()> {
        let name = format!("part-{}", self.next);
        self.next += 1;
        self.seal(&name, plaintext)
    }

    /// Appends the manifest, flushes to disk and moves the file into place.
    pub fn finish(mut self, manifest: &[u8]) -> anyhow::Result<()> {
        self.seal(MANIFEST, manifest)?;
        let out = self.out.take().context("the backup is already finished")?;
        let file = match out.into_inner() {
            Ok(file) => file,
            Err(error) => {
                let _ = std::fs::remove_file(&self.temporary);
                return Err(error.into_error().into());
            }
        };
        file.sync_all()?;
        std::fs::rename(&self.temporary, &self.destination).with_context(|| {
            format!(
                "failed to move the backup to {}",
                self.destination.display()
            )
        })?;
        Ok(())
    }
}

/// Position and nonce of one part in the file.
struct Located {
    name: String,
    nonce: [u8; NONCE_LEN],
    offset: u64,
    length: u64,
}

/// Reads a backup part by part, holding one part in memory at a time.
pub struct Reader {
    file: BufReader<File>,
    cipher: Aes256Gcm,
    salt: [u8; SALT_LEN],
    parts: Vec<Located>,
    manifest: Located,
}

impl Reader {
    /// Opens `path` and indexes its parts. A file whose structure is broken is rejected with
    /// the offset where it breaks.
    pub fn open(path: &Path, key: &BackupKey) -> anyhow::Result<Self> {
        let file =
            File::open(path).with_context(|| format!("failed to open {}", path.display()))?;
        let size = file.metadata()?.len();
        let mut file = BufReader::new(file);
        let mut magic = [0u8; MAGIC.len()];
        file.read_exact(&mut magic)
            .context("the file is too short to be a portal backup")?;
        if magic != MAGIC {
            bail!("the file is not a portal backup (format 1)");
        }
        let mut salt = [0u8; SALT_LEN];
        file.read_exact(&mut salt)
            .context("the backup's header is truncated")?;
        let mut located = Vec::new();
        let mut position = (MAGIC.len() + SALT_LEN) as u64;
        while position < size {
            let start = position;
            let broken =
                || format!("the backup is damaged at byte {start}: a part's framing is cut short");
            let mut length = [0u8; 2];
            file.read_exact(&mut length).with_context(broken)?;
            let mut name = vec![0u8; usize::from(u16::from_be_bytes(length))];
            file.read_exact(&mut name).with_context(broken)?;
            let name = String::from_utf8(name).ok().with_context(broken)?;
            let mut nonce = [0u8; NONCE_LEN];
            file.read_exact(&mut nonce).with_context(broken)?;
            let mut length = [0u8; 8];
            file.read_exact(&mut length).with_context(broken)?;
            let length = u64::from_be_bytes(length);
            let offset = start + 2 + name.len() as u64 + NONCE_LEN as u64 + 8;
            if length < TAG_LEN as u64 || length > MAX_PART || offset + length > size {
                bail!(
                    "the backup is damaged at byte {start}: part {name:?} runs past the end of the file"
                );
            }
            file.seek(SeekFrom::Start(offset + length))?;
            position = offset + length;
            located.push(Located {
                name,
                nonce,
                offset,
                length,
            });
        }
        let manifest = match located.pop() {
            Some(last) if last.name == MANIFEST => last,
            _ => bail!("the backup has no manifest at its end: it is truncated or damaged"),
        };
        for (index, part) in located.iter().enumerate() {
            if part.name != format!("part-{index}") {
                bail!(
                    "the backup is damaged: part {index} is named {:?}",
                    part.name
                );
            }
        }
        Ok(Self {
            file,
            cipher: key.cipher(&salt)?,
            salt,
            parts: located,
            manifest,
        })
    }

    /// Number of parts besides the manifest.
    pub fn parts(&self) -> usize {
        self.parts.len()
    }

    fn open_part(&mut self, which: Option<usize>) -> anyhow::Result<Vec<u8>> {
        let part = match which {
            Some(index) => self
                .parts
                .get(index)
                .with_context(|| format!("the backup has no part {index}"))?,
            None => &self.manifest,
        };
        let mut sealed = vec![0u8; usize::try_from(part.length)?];
        self.file.seek(SeekFrom::Start(part.offset))?;
        self.file.read_exact(&mut sealed)?;
        let aad = associated_data(&self.salt, &part.name);
        self.cipher
            .decrypt(
                &Nonce::<Aes256Gcm>::from(part.nonce),
                Payload {
                    msg: &sealed,
                    aad: &aad,
                },
            )
            .map_err(|_| anyhow::anyhow!("it fails authentication (altered, or another key)"))
    }

    /// Decrypts the manifest.
    pub fn manifest(&mut self) -> anyhow::Result<Vec<u8>> {
        self.open_part(None).map_err(|_| {
            anyhow::anyhow!(
                "the backup's manifest fails authentication: the backup_key differs from the \
                 one that wrote it, or the manifest was altered"
            )
        })
    }

    /// Decrypts part `index`.
    pub fn part(&mut self, index: usize) -> anyhow::Result<Vec<u8>> {
        self.open_part(Some(index))
    }
}
