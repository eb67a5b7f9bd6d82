//! Encrypted backups of an application's state, and their verified restore.
//!
//! A backup contains every key-value store the manifest's components use and every object in the
//! buckets the `s3_bucket` and `audit_checkpoint_bucket` variables name, each as one part
//! sealed with AES-256-GCM. The key is derived with HKDF-SHA-256 from the `backup_key`
//! variable (standard base64 of 32 bytes, from the runtime config's providers or
//! `SPIN_VARIABLE_BACKUP_KEY`) and a random salt, so no two backups share a key. A last,
//! sealed part, the manifest, lists every part with its SHA-256 and size.
//!
//! The file reveals only the number and sizes of the parts: store labels, object keys and
//! hashes are inside the manifest. Each part's name and the file's salt are its associated
//! data, so parts cannot be swapped, reordered or moved between backups unnoticed.
//!
//! Restore checks every part before it writes anything, rejects targets that are not empty,
//! and reads every object and store back afterwards. Nothing may write to the targets while
//! it runs: it checks that they are empty before writing, not in one transaction with it.
//!
//! NOTE: the stores are read one after another while the application may be writing, so a
//! backup of a running deployment is consistent per store, not across stores. The audit log
//! only grows, so its copy is a prefix of the log that the checkpoints still verify.

mod file;
mod objects;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, bail};
use base64ct::{Base64, Encoding};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::kv::{Store, StoreManager};
use crate::manifest::Manifest;
use crate::objects::EmbeddedS3;
use crate::runtime_config::RuntimeConfig;
use crate::variables::{self, Resolved};

pub use file::BackupKey;
use objects::ObjectStore;

/// Location of the application's state: the same inputs `portal-host up` takes.
#[derive(Debug, Clone)]
pub struct Target {
    /// Path of `spin.toml`.
    pub manifest: PathBuf,
    /// Path of the runtime config, if any.
    pub runtime_config: Option<PathBuf>,
    /// The state directory (SQLite stores, the embedded endpoint's objects).
    pub state_dir: PathBuf,
}

/// Counts of what a backup or restore copied.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    /// Key-value stores, by label, with their number of keys.
    pub stores: BTreeMap<String, usize>,
    /// Objects copied.
    pub objects: usize,
    /// Bytes of plaintext: values and object contents.
    pub bytes: u64,
    /// Wall-clock time taken, in milliseconds.
    pub elapsed_ms: u128,
}

/// One part as the manifest lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum PartKind {
    /// A whole key-value store.
    Store { label: String },
    /// One object.
    Object { bucket: String, key: String },
}

// `deny_unknown_fields` does not combine with `flatten`; the manifest is authenticated anyway.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct PartEntry {
    #[serde(flatten)]
    kind: PartKind,
    sha256: String,
    bytes: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct BackupManifest {
    format: u32,
    created_at: u64,
    application: String,
    parts: Vec<PartEntry>,
}

/// A store's contents: keys and base64 values.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoreDump {
    entries: Vec<(String, String)>,
}

impl PartKind {
    fn describe(&self) -> String {
        match self {
            PartKind::Store { label } => format!("key-value store {label:?}"),
            PartKind::Object { bucket, key } => format!("object {key:?} in bucket {bucket:?}"),
        }
    }
}

/// The opened state of an application.
struct Opened {
    application: String,
    labels: Vec<String>,
    stores: StoreManager,
    objects: ObjectStore,
    buckets: Vec<String>,
    backup_key: BackupKey,
    // Kept alive while the object store is in use.
    _embedded: Option<EmbeddedS3>,
}

async fn open(target: &Target) -> anyhow::Result<Opened> {
    let manifest = Manifest::load(&target.manifest)?;
    let runtime_config = RuntimeConfig::load(target.runtime_config.as_deref(), &target.state_dir)?;
    let environment = |name: &str| std::env::var(name).ok();
    let backup_key = variables::provided(
        "backup_key",
        &runtime_config.variables_providers,
        &environment,
    )
    .context(
        "no backup key: set the variable backup_key (standard base64 of 32 random bytes) in \
             the runtime config or as SPIN_VARIABLE_BACKUP_KEY",
    )?;
    let backup_key = BackupKey::from_base64(&backup_key)?;

    let embedded = if variables::provided(
        "s3_endpoint",
        &runtime_config.variables_providers,
        &environment,
    )
    .is_none()
    {
        Some(EmbeddedS3::start(&target.state_dir.join("objects")).await?)
    } else {
        None
    };
    let host_defaults = embedded
        .as_ref()
        .map(EmbeddedS3::variables)
        .unwrap_or_default();
    let resolved = Resolved::resolve(
        &manifest,
        &runtime_config.variables_providers,
        &environment,
        &host_defaults,
    )?;
    let variable = |name: &str| {
        resolved
            .get(name)
            .map(str::to_owned)
            .with_context(|| format!("the manifest declares no variable {name:?}"))
    };
    let objects = ObjectStore::new(
        &variable("s3_endpoint")?,
        &variable("s3_region")?,
        &variable("s3_access_key_id")?,
        &variable("s3_secret_access_key")?,
    )?;
    let mut buckets = vec![variable("s3_bucket")?];
    if let Some(bucket) = resolved.get("audit_checkpoint_bucket")
        && !buckets.iter().any(|known| known == bucket)
    {
        buckets.push(bucket.to_owned());
    }

    let mut labels: Vec<String> = manifest
        .components
        .values()
        .flat_map(|component| component.key_value_stores.iter().cloned())
        .collect();
    labels.sort();
    labels.dedup();
    let stores = StoreManager::new(&labels, &runtime_config, &target.state_dir)?;
    stores.check().await?;
    Ok(Opened {
        application: manifest.application.name.clone(),
        labels,
        stores,
        objects,
        buckets,
        backup_key,
        _embedded: embedded,
    })
}

async fn store(opened: &Opened, label: &str) -> anyhow::Result<Arc<dyn Store>> {
    opened
        .stores
        .get(label)
        .await
        .map_err(|error| anyhow::anyhow!("failed to open key-value store {label:?}: {error}"))
}

/// Reads every entry of store `label`, sorted by key, into a store part's plaintext. Returns
/// the plaintext, the number of entries and the bytes of their values.
async fn dump_store(opened: &Opened, label: &str) -> anyhow::Result<(Vec<u8>, usize, u64)> {
    let store = store(opened, label).await?;
    let mut keys = store
        .keys()
        .await
        .map_err(|error| anyhow::anyhow!("failed to list store {label:?}: {error}"))?;
    keys.sort();
    let mut entries = Vec::with_capacity(keys.len());
    let mut bytes = 0;
    for key in keys {
        // A key deleted since the listing is not copied.
        let value = store
            .get(&key)
            .await
            .map_err(|error| anyhow::anyhow!("failed to read store {label:?}: {error}"))?;
        if let Some(value) = value {
            bytes += value.len() as u64;
            entries.push((key, Base64::encode_string(&value)));
        }
    }
    let count = entries.len();
    Ok((serde_json::to_vec(&StoreDump { entries })?, count, bytes))
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Writes an encrypted backup of `target` to `output`, through a temporary file that is
/// renamed into place only when complete.
pub async fn create(target: &Target, output: &Path) -> anyhow::Result<Summary> {
    let started = Instant::now();
    let opened = open(target).await?;
    let mut writer = file::Writer::create(output, &opened.backup_key)?;
    let mut parts = Vec::new();
    let mut summary = Summary::default();

    for label in &opened.labels {
        let (plaintext, entries, bytes) = dump_store(&opened, label).await?;
        summary.bytes += bytes;
        summary.stores.insert(label.clone(), entries);
        writer.part(&plaintext)?;
        parts.push(PartEntry {
            kind: PartKind::Store {
                label: label.clone(),
            },
            sha256: sha256_hex(&plaintext),
            bytes: plaintext.len() as u64,
        });
    }

    for bucket in &opened.buckets {
        for key in opened.objects.list(bucket).await? {
            let content = opened.objects.get(bucket, &key).await?;
            summary.bytes += content.len() as u64;
            summary.objects += 1;
            writer.part(&content)?;
            parts.push(PartEntry {
                kind: PartKind::Object {
                    bucket: bucket.clone(),
                    key,
                },
                sha256: sha256_hex(&content),
                bytes: content.len() as u64,
            });
        }
    }

    let manifest = BackupManifest {
        format: 1,
        created_at: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| elapsed.as_secs())
            .unwrap_or_default(),
        application: opened.application.clone(),
        parts,
    };
    writer.finish(&serde_json::to_vec(&manifest)?)?;
    summary.elapsed_ms = started.elapsed().as_millis();
    Ok(summary)
}

/// Restores the backup at `input` into `target`, whose stores and buckets must be empty.
/// Every part is decrypted and checked before anything is written; afterwards every store
/// and object is read back and compared with the manifest.
pub async fn restore(target: &Target, input: &Path) -> anyhow::Result<Summary> {
    let started = Instant::now();
    let opened = open(target).await?;
    let mut reader = file::Reader::open(input, &opened.backup_key)?;
    let manifest: BackupManifest = serde_json::from_slice(&reader.manifest()?)
        .context("the backup's manifest is not valid; the file is not a portal backup")?;
    if manifest.format != 1 {
        bail!("backup format {} is not supported", manifest.format);
    }
    if reader.parts() != manifest.parts.len() {
        bail!(
            "the backup contains {} parts but its manifest lists {}: parts were added or removed",
            reader.parts(),
            manifest.parts.len()
        );
    }

    // Pass 1: every part decrypts and matches its hash.
    for (index, entry) in manifest.parts.iter().enumerate() {
        let plaintext = reader.part(index).map_err(|error| {
            anyhow::anyhow!(
                "backup part {index} ({}) is damaged: {error}",
                entry.kind.describe()
            )
        })?;
        if sha256_hex(&plaintext) != entry.sha256 || plaintext.len() as u64 != entry.bytes {
            bail!(
                "backup part {index} ({}) is damaged: its SHA-256 does not match the manifest",
                entry.kind.describe()
            );
        }
        if let PartKind::Store { label } = &entry.kind
            && !opened.labels.contains(label)
        {
            bail!("the backup contains store {label:?}, which no component of this manifest uses");
        }
        if let PartKind::Object { bucket, .. } = &entry.kind
            && !opened.buckets.contains(bucket)
        {
            bail!("the backup contains bucket {bucket:?}, which the variables here do not name");
        }
    }

    // The targets must be empty, so nothing is mixed with or overwritten by the backup.
    for label in &opened.labels {
        let keys = store(&opened, label)
            .await?
            .keys()
            .await
            .map_err(|error| anyhow::anyhow!("failed to list store {label:?}: {error}"))?;
        if !keys.is_empty() {
            bail!(
                "key-value store {label:?} contains {} keys: restore only into empty stores",
                keys.len()
            );
        }
    }
    for bucket in &opened.buckets {
        if !opened.objects.list(bucket).await?.is_empty() {
            bail!("bucket {bucket:?} is not empty: restore only into empty buckets");
        }
    }

    // Pass 2: write. A failure here leaves part of the backup written, so the targets must be
    // emptied before the next attempt.
    let partial = "restore stopped part-way: empty the stores and buckets before trying again";
    let mut summary = Summary::default();
    for (index, entry) in manifest.parts.iter().enumerate() {
        let plaintext = reader.part(index).context(partial)?;
        match &entry.kind {
            PartKind::Store { label } => {
                let dump: StoreDump = serde_json::from_slice(&plaintext)
                    .with_context(|| format!("backup part {index} is not a store dump"))?;
                let mut entries = Vec::with_capacity(dump.entries.len());
                for (key, value) in dump.entries {
                    let value = Base64::decode_vec(&value)
                        .map_err(|_| anyhow::anyhow!("backup part {index} has a bad value"))?;
                    summary.bytes += value.len() as u64;
                    entries.push((key, value));
                }
                summary.stores.insert(label.clone(), entries.len());
                store(&opened, label)
                    .await?
                    .set_many(entries)
                    .await
                    .map_err(|error| anyhow::anyhow!("failed to write store {label:?}: {error}"))
                    .context(partial)?;
            }
            PartKind::Object { bucket, key } => {
                summary.bytes += plaintext.len() as u64;
                summary.objects += 1;
                opened
                    .objects
                    .put(bucket, key, &plaintext)
                    .await
                    .context(partial)?;
            }
        }
    }

    // Read everything back.
    for entry in &manifest.parts {
        match &entry.kind {
            PartKind::Store { label } => {
                let (plaintext, _, _) = dump_store(&opened, label).await?;
                if sha256_hex(&plaintext) != entry.sha256 {
                    bail!("key-value store {label:?} does not read back as the backup contains it");
                }
            }
            PartKind::Object { bucket, key } => {
                let content = opened.objects.get(bucket, key).await?;
                if sha256_hex(&content) != entry.sha256 {
                    bail!(
                        "object {key:?} in bucket {bucket:?} does not read back as the backup contains it"
                    );
                }
            }
        }
    }
    summary.elapsed_ms = started.elapsed().as_millis();
    Ok(summary)
}
