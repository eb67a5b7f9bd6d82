//! An append-only Merkle log kept in a key-value store, for the audit component.
//!
//! Appends are linearizable across any number of writers sharing one store, using a single
//! compare-and-swap on the tree head as the commit point. This holds only if the store itself
//! is linearizable and durable: Redis with `appendfsync always` and no asynchronous failover,
//! SQLite on a local file system. A store that loses acknowledged writes makes the log report
//! corruption rather than fork silently. The head carries the newest entry and
//! the tree nodes that entry completed, so the head alone is a durable record of the append.
//! Before it tries to commit the next head, every writer first copies the current head's entry
//! and nodes to their own keys. All writers produce the same copies, so a crash between the
//! commit and the copy leaves nothing lost or forked.
//!
//! Keys under the log's prefix `P`:
//!
//! | key | value |
//! |---|---|
//! | `P/head` | the encoded [`head::Head`] |
//! | `P/entry/<index>` | entry bytes, index as 20 decimal digits |
//! | `P/node/<level>/<index>` | 32-byte hash of a perfect subtree |

mod checkpoint;
mod export;
mod head;
mod store;

use std::collections::HashMap;

pub use checkpoint::{Checkpoint, CheckpointError, CheckpointSigner, CheckpointVerifier};
pub use export::{ExportFailure, ExportLine, ExportReport, verify_export};
pub use portal_merkle::{Hash, ProofError, leaf_hash};
pub use store::{LogStore, MemoryStore, StoreFailure};

use head::Head;
use portal_merkle::NodeSource;

/// Largest entry the log accepts, in bytes. Audit events are a few hundred bytes; the head
/// carries the entries of the last commit and is rewritten on every commit, so entries stay
/// small.
pub const MAX_ENTRY_BYTES: usize = 16 * 1024;

/// Maximum entries one batch commits. The head carries every entry of the last commit and is
/// rewritten by each one, so batches stay small.
pub const MAX_BATCH_ENTRIES: usize = 100;

/// Maximum total bytes of the entries one batch commits.
pub const MAX_BATCH_BYTES: usize = 1024 * 1024;

/// Compare-and-swap attempts before an append gives up under contention.
pub const MAX_APPEND_ATTEMPTS: u32 = 64;

/// Errors of log operations.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LogError {
    /// The key-value store failed; the append may be retried.
    #[error("log store failed: {0}")]
    Store(#[from] StoreFailure),
    /// The stored head or a node does not decode; the log needs an operator.
    #[error("log data is corrupt: {0}")]
    Corrupt(&'static str),
    /// The entry is empty or larger than [`MAX_ENTRY_BYTES`].
    #[error("entry size {size} is outside 1..={MAX_ENTRY_BYTES} bytes")]
    EntrySize {
        /// Size of the rejected entry.
        size: usize,
    },
    /// The batch is empty, or over [`MAX_BATCH_ENTRIES`] entries or [`MAX_BATCH_BYTES`].
    #[error(
        "a batch holds 1 to {MAX_BATCH_ENTRIES} entries of at most {MAX_BATCH_BYTES} bytes in all"
    )]
    BatchSize,
    /// Other writers won every attempt.
    #[error("append lost {MAX_APPEND_ATTEMPTS} compare-and-swap races; retry later")]
    Contention,
    /// The requested index or size is beyond the log.
    #[error("index or size {requested} is beyond the log size {size}")]
    OutOfRange {
        /// Requested index or size.
        requested: u64,
        /// Current log size.
        size: u64,
    },
    /// A proof could not be built.
    #[error(transparent)]
    Proof(#[from] ProofError),
}

/// The result of a successful append.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    /// Index of the new entry, from 0.
    pub index: u64,
    /// Tree size after the append.
    pub size: u64,
    /// Root hash after the append.
    pub root: Hash,
}

/// The result of a successful batch append.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendedBatch {
    /// Index of the batch's first entry; the others follow in order.
    pub first_index: u64,
    /// Tree size after the append.
    pub size: u64,
    /// Root hash after the append.
    pub root: Hash,
}

/// A tree size and its root hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TreeHead {
    /// Number of entries.
    pub size: u64,
    /// Root hash over them.
    pub root: Hash,
}

/// An append-only Merkle log in `store` under key prefix `prefix`.
pub struct AuditLog<S> {
    store: S,
    prefix: String,
}

impl<S: LogStore> AuditLog<S> {
    /// Opens the log under `prefix`; an absent head is the empty log.
    pub fn new(store: S, prefix: impl Into<String>) -> Self {
        Self {
            store,
            prefix: prefix.into(),
        }
    }

    /// Appends `entry` and returns its index once the append is durable.
    pub async fn append(&self, entry: &[u8]) -> Result<Appended, LogError> {
        let batch = self.append_batch(&[entry]).await?;
        Ok(Appended {
            index: batch.first_index,
            size: batch.size,
            root: batch.root,
        })
    }

    /// Appends `entries` in order with one commit, so they get consecutive indexes and no
    /// other writer's entry lands between them. Returns once the whole batch is durable; on
    /// an error none of it was committed.
    pub async fn append_batch(&self, entries: &[&[u8]]) -> Result<AppendedBatch, LogError> {
        if let Some(entry) = entries
            .iter()
            .find(|entry| entry.is_empty() || entry.len() > MAX_ENTRY_BYTES)
        {
            return Err(LogError::EntrySize { size: entry.len() });
        }
        let total: usize = entries.iter().map(|entry| entry.len()).sum();
        if entries.is_empty() || entries.len() > MAX_BATCH_ENTRIES || total > MAX_BATCH_BYTES {
            return Err(LogError::BatchSize);
        }
        let key = self.head_key();
        for _ in 0..MAX_APPEND_ATTEMPTS {
            let stored = self.store.get(&key).await?;
            let head = match &stored {
                Some(bytes) => Head::decode(bytes).ok_or(LogError::Corrupt("tree head"))?,
                None => Head::empty(),
            };
            self.materialize(&head).await?;

            let next = head.append_all(entries);
            let encoded = next.encode();
            let swapped = match self
                .store
                .compare_and_swap(&key, stored.as_deref(), &encoded)
                .await
            {
                Ok(swapped) => swapped,
                // The swap may have happened with its reply lost: if the head now is exactly
                // the one this append wrote, the append is durable and must not be repeated.
                Err(failure) => match self.store.get(&key).await {
                    Ok(Some(current)) if current == encoded => true,
                    _ => return Err(failure.into()),
                },
            };
            if swapped {
                // Best effort: the next writer or reader copies these if this fails.
                let _ = self.materialize(&next).await;
                return Ok(AppendedBatch {
                    first_index: next.first_recent(),
                    size: next.size(),
                    root: next.root(),
                });
            }
        }
        Err(LogError::Contention)
    }

    /// Returns the current size and root.
    pub async fn tree_head(&self) -> Result<TreeHead, LogError> {
        let head = self.load_head().await?;
        Ok(TreeHead {
            size: head.size(),
            root: head.root(),
        })
    }

    /// Returns entry `index`.
    pub async fn entry(&self, index: u64) -> Result<Vec<u8>, LogError> {
        let head = self.load_head().await?;
        if index >= head.size() {
            return Err(LogError::OutOfRange {
                requested: index,
                size: head.size(),
            });
        }
        if let Some(entry) = head.recent_entry(index) {
            return Ok(entry.to_vec());
        }
        self.store
            .get(&self.entry_key(index))
            .await?
            .ok_or(LogError::Corrupt("missing entry"))
    }

    /// Returns the root of the tree of the first `size` entries.
    pub async fn root_at(&self, size: u64) -> Result<Hash, LogError> {
        let head = self.load_head().await?;
        self.check_size(size, &head)?;
        if size == 0 {
            return Ok(portal_merkle::empty_root());
        }
        let source = self
            .prefetch(&head, |s| {
                portal_merkle::subtree_root(s, 0, size).map(|_| ())
            })
            .await?;
        Ok(portal_merkle::subtree_root(&source, 0, size)?)
    }

    /// Builds the inclusion proof of entry `index` in the tree of `size` entries.
    pub async fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, LogError> {
        let head = self.load_head().await?;
        self.check_size(size, &head)?;
        let source = self
            .prefetch(&head, |s| {
                portal_merkle::inclusion_proof(s, index, size).map(|_| ())
            })
            .await?;
        Ok(portal_merkle::inclusion_proof(&source, index, size)?)
    }

    /// Builds the consistency proof between the trees of `first` and `second` entries.
    pub async fn consistency_proof(&self, first: u64, second: u64) -> Result<Vec<Hash>, LogError> {
        let head = self.load_head().await?;
        self.check_size(second, &head)?;
        let source = self
            .prefetch(&head, |s| {
                portal_merkle::consistency_proof(s, first, second).map(|_| ())
            })
            .await?;
        Ok(portal_merkle::consistency_proof(&source, first, second)?)
    }

    async fn load_head(&self) -> Result<Head, LogError> {
        match self.store.get(&self.head_key()).await? {
            Some(bytes) => Head::decode(&bytes).ok_or(LogError::Corrupt("tree head")),
            None => Ok(Head::empty()),
        }
    }

    fn check_size(&self, size: u64, head: &Head) -> Result<(), LogError> {
        if size > head.size() {
            return Err(LogError::OutOfRange {
                requested: size,
                size: head.size(),
            });
        }
        Ok(())
    }

    /// Copies the entries of the head's last commit, and the nodes each completed, to their
    /// own keys.
    ///
    /// Each key is written only if absent. A different value already there means the store
    /// lost a committed head (a rollback or a failover without durability) and another history
    /// was written since: that is reported as corruption instead of overwriting either one.
    async fn materialize(&self, head: &Head) -> Result<(), LogError> {
        if head.size() == 0 {
            return Ok(());
        }
        for (index, recent) in (head.first_recent()..).zip(head.recent()) {
            self.write_once(&self.entry_key(index), &recent.entry)
                .await?;
            for node in &recent.nodes {
                self.write_once(&self.node_key(node.level, node.index), &node.hash)
                    .await?;
            }
        }
        Ok(())
    }

    async fn write_once(&self, key: &str, value: &[u8]) -> Result<(), LogError> {
        if self.store.compare_and_swap(key, None, value).await? {
            return Ok(());
        }
        match self.store.get(key).await? {
            Some(existing) if existing == value => Ok(()),
            _ => Err(LogError::Corrupt(
                "stored entry or node differs from the committed head",
            )),
        }
    }

    /// Runs `plan` against a recording source to learn which nodes it needs, then loads them.
    async fn prefetch(
        &self,
        head: &Head,
        plan: impl Fn(&Recorder) -> Result<(), ProofError>,
    ) -> Result<Loaded, LogError> {
        let recorder = Recorder::default();
        plan(&recorder)?;
        let mut nodes: HashMap<(u32, u64), Hash> = head
            .recent()
            .iter()
            .flat_map(|recent| &recent.nodes)
            .map(|node| ((node.level, node.index), node.hash))
            .collect();
        for (level, index) in recorder.requested.into_inner() {
            if nodes.contains_key(&(level, index)) {
                continue;
            }
            let bytes = self
                .store
                .get(&self.node_key(level, index))
                .await?
                .ok_or(LogError::Corrupt("missing tree node"))?;
            let hash: Hash = bytes
                .try_into()
                .map_err(|_| LogError::Corrupt("tree node is not 32 bytes"))?;
            nodes.insert((level, index), hash);
        }
        Ok(Loaded { nodes })
    }

    fn head_key(&self) -> String {
        format!("{}/head", self.prefix)
    }

    fn entry_key(&self, index: u64) -> String {
        format!("{}/entry/{index:020}", self.prefix)
    }

    fn node_key(&self, level: u32, index: u64) -> String {
        format!("{}/node/{level}/{index}", self.prefix)
    }
}

/// A node source that records what is asked of it and returns placeholders.
#[derive(Default)]
struct Recorder {
    requested: std::cell::RefCell<Vec<(u32, u64)>>,
}

impl NodeSource for Recorder {
    fn node(&self, level: u32, index: u64) -> Result<Hash, ProofError> {
        self.requested.borrow_mut().push((level, index));
        Ok([0; 32])
    }
}

/// The nodes a proof needs, loaded from the store.
struct Loaded {
    nodes: HashMap<(u32, u64), Hash>,
}

impl NodeSource for Loaded {
    fn node(&self, level: u32, index: u64) -> Result<Hash, ProofError> {
        self.nodes
            .get(&(level, index))
            .copied()
            .ok_or_else(|| ProofError::MissingNode {
                level,
                index,
                reason: "not loaded".to_owned(),
            })
    }
}
