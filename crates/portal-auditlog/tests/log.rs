//! The log over a memory store: appends, proofs, concurrent writers, crashes and tampering.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::executor::block_on;
use futures::future::join_all;
use portal_auditlog::{AuditLog, LogError, LogStore, MAX_BATCH_ENTRIES, MemoryStore, StoreFailure};
use portal_merkle::{MemoryTree, leaf_hash, verify_consistency, verify_inclusion};

/// Returns `Pending` once, so concurrent tasks interleave at every store operation.
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            return Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// A memory store that yields before every operation and counts lost compare-and-swaps.
#[derive(Default)]
struct Interleaving {
    inner: MemoryStore,
    conflicts: std::sync::atomic::AtomicUsize,
}

impl LogStore for Interleaving {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreFailure> {
        YieldOnce(false).await;
        self.inner.get(key).await
    }

    async fn set(&self, key: &str, value: &[u8]) -> Result<(), StoreFailure> {
        YieldOnce(false).await;
        self.inner.set(key, value).await
    }

    async fn compare_and_swap(
        &self,
        key: &str,
        expected: Option<&[u8]>,
        new: &[u8],
    ) -> Result<bool, StoreFailure> {
        YieldOnce(false).await;
        let written = self.inner.compare_and_swap(key, expected, new).await?;
        if !written {
            self.conflicts
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        Ok(written)
    }
}

/// A store whose compare-and-swap writes but then reports a failure, like a lost reply.
#[derive(Default)]
struct LostReply {
    inner: MemoryStore,
}

impl LogStore for LostReply {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreFailure> {
        self.inner.get(key).await
    }

    async fn set(&self, key: &str, value: &[u8]) -> Result<(), StoreFailure> {
        self.inner.set(key, value).await
    }

    async fn compare_and_swap(
        &self,
        key: &str,
        expected: Option<&[u8]>,
        new: &[u8],
    ) -> Result<bool, StoreFailure> {
        let written = self.inner.compare_and_swap(key, expected, new).await?;
        if written && key.ends_with("/head") {
            return Err(StoreFailure("connection reset".into()));
        }
        Ok(written)
    }
}

/// A store whose compare-and-swap always loses.
#[derive(Default)]
struct AlwaysConflicting {
    inner: MemoryStore,
}

impl LogStore for AlwaysConflicting {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreFailure> {
        self.inner.get(key).await
    }

    async fn set(&self, key: &str, value: &[u8]) -> Result<(), StoreFailure> {
        self.inner.set(key, value).await
    }

    async fn compare_and_swap(
        &self,
        _: &str,
        _: Option<&[u8]>,
        _: &[u8],
    ) -> Result<bool, StoreFailure> {
        Ok(false)
    }
}

fn entry(i: usize) -> Vec<u8> {
    format!("{{\"event\":{i}}}").into_bytes()
}

fn unwrap<T>(result: Result<T, LogError>) -> T {
    result.unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn sequential_appends_get_consecutive_indexes() {
    let store = MemoryStore::new();
    let log = AuditLog::new(&store, "audit");
    let mut reference = MemoryTree::new();
    for i in 0..37 {
        let appended = unwrap(block_on(log.append(&entry(i))));
        reference.push(leaf_hash(&entry(i)));
        assert_eq!(appended.index, i as u64);
        assert_eq!(appended.size, i as u64 + 1);
        assert_eq!(Ok(appended.root), reference.root_at(i as u64 + 1));
    }
    for i in 0..37 {
        assert_eq!(unwrap(block_on(log.entry(i as u64))), entry(i));
    }
    assert!(matches!(
        block_on(log.entry(37)),
        Err(LogError::OutOfRange {
            requested: 37,
            size: 37
        })
    ));
}

#[test]
fn proofs_from_the_store_verify() {
    let store = MemoryStore::new();
    let log = AuditLog::new(&store, "audit");
    for i in 0..21 {
        unwrap(block_on(log.append(&entry(i))));
    }
    for size in 1..=21u64 {
        let root = unwrap(block_on(log.root_at(size)));
        for index in 0..size {
            let proof = unwrap(block_on(log.inclusion_proof(index, size)));
            let leaf = leaf_hash(&entry(index as usize));
            assert!(
                verify_inclusion(&leaf, index, size, &proof, &root).is_ok(),
                "{index}/{size}"
            );
        }
        for first in 1..=size {
            let first_root = unwrap(block_on(log.root_at(first)));
            let proof = unwrap(block_on(log.consistency_proof(first, size)));
            assert!(
                verify_consistency(first, size, &first_root, &root, &proof).is_ok(),
                "{first}->{size}"
            );
        }
    }
}

#[test]
fn concurrent_writers_never_fork_or_skip() {
    for writers in [2usize, 5, 16, 40] {
        let store = Interleaving::default();
        let log = AuditLog::new(&store, "audit");
        let appends = (0..writers).map(|i| {
            let log = &log;
            async move { (i, log.append(&entry(i)).await) }
        });
        let results = block_on(join_all(appends));

        let mut indexes: Vec<u64> = results
            .iter()
            .map(|(_, result)| result.as_ref().map(|a| a.index).unwrap_or(u64::MAX))
            .collect();
        indexes.sort_unstable();
        assert_eq!(
            indexes,
            (0..writers as u64).collect::<Vec<_>>(),
            "{writers} writers"
        );

        let head = unwrap(block_on(log.tree_head()));
        assert_eq!(head.size, writers as u64);
        let mut reference = MemoryTree::new();
        for index in 0..writers as u64 {
            reference.push(leaf_hash(&unwrap(block_on(log.entry(index)))));
        }
        assert_eq!(Ok(head.root), reference.root_at(writers as u64));
        for (i, result) in &results {
            let index = result.as_ref().map(|a| a.index).unwrap_or(u64::MAX);
            assert_eq!(unwrap(block_on(log.entry(index))), entry(*i));
        }
    }
}

#[test]
fn crash_after_commit_loses_nothing() {
    let store = MemoryStore::new();
    let log = AuditLog::new(&store, "audit");
    unwrap(block_on(log.append(&entry(0))));
    unwrap(block_on(log.append(&entry(1))));
    // The second append committed its head but "crashed" before copying its entry and nodes.
    store.remove(&format!("audit/entry/{:020}", 1));
    store.remove("audit/node/0/1");
    store.remove("audit/node/1/0");
    assert_eq!(unwrap(block_on(log.entry(1))), entry(1));

    unwrap(block_on(log.append(&entry(2))));
    assert_eq!(unwrap(block_on(log.entry(1))), entry(1));
    let root = unwrap(block_on(log.root_at(3)));
    let proof = unwrap(block_on(log.inclusion_proof(1, 3)));
    assert!(verify_inclusion(&leaf_hash(&entry(1)), 1, 3, &proof, &root).is_ok());
}

#[test]
fn writer_after_a_rollback_reports_corruption() {
    let store = MemoryStore::new();
    let log = AuditLog::new(&store, "audit");
    for i in 0..3 {
        unwrap(block_on(log.append(&entry(i))));
    }
    let saved_head = block_on(LogStore::get(&store, "audit/head"))
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_default();
    unwrap(block_on(log.append(b"lost entry")));
    unwrap(block_on(log.append(&entry(4))));

    // The store loses its last two heads, as an asynchronous failover can.
    store.overwrite("audit/head", saved_head);
    unwrap(block_on(log.append(b"new entry")));
    assert!(
        matches!(block_on(log.append(&entry(5))), Err(LogError::Corrupt(_))),
        "a rolled-back log overwrote another history"
    );
}

#[test]
fn altered_entry_no_longer_matches_the_root() {
    let store = MemoryStore::new();
    let log = AuditLog::new(&store, "audit");
    for i in 0..8 {
        unwrap(block_on(log.append(&entry(i))));
    }
    let root = unwrap(block_on(log.root_at(8)));
    store.overwrite(
        &format!("audit/entry/{:020}", 3),
        b"{\"event\":\"forged\"}".to_vec(),
    );

    let stored = unwrap(block_on(log.entry(3)));
    let proof = unwrap(block_on(log.inclusion_proof(3, 8)));
    assert!(verify_inclusion(&leaf_hash(&stored), 3, 8, &proof, &root).is_err());
}

#[test]
fn corrupt_head_is_reported() {
    let store = MemoryStore::new();
    let log = AuditLog::new(&store, "audit");
    unwrap(block_on(log.append(&entry(0))));
    store.overwrite("audit/head", vec![1, 2, 3]);
    assert!(matches!(
        block_on(log.append(&entry(1))),
        Err(LogError::Corrupt(_))
    ));
    assert!(matches!(
        block_on(log.tree_head()),
        Err(LogError::Corrupt(_))
    ));
}

#[test]
fn entry_sizes_are_bounded() {
    let store = MemoryStore::new();
    let log = AuditLog::new(&store, "audit");
    assert!(matches!(
        block_on(log.append(b"")),
        Err(LogError::EntrySize { size: 0 })
    ));
    let large = vec![b'x'; portal_auditlog::MAX_ENTRY_BYTES + 1];
    assert!(matches!(
        block_on(log.append(&large)),
        Err(LogError::EntrySize { .. })
    ));
    assert_eq!(unwrap(block_on(log.tree_head())).size, 0);
}

#[test]
fn lost_swap_reply_is_not_repeated() {
    let store = LostReply::default();
    let log = AuditLog::new(&store, "audit");
    let first = unwrap(block_on(log.append(&entry(0))));
    let second = unwrap(block_on(log.append(&entry(1))));
    assert_eq!(first.index, 0);
    assert_eq!(second.index, 1);
    assert_eq!(unwrap(block_on(log.tree_head())).size, 2);
}

#[test]
fn endless_contention_gives_up() {
    let store = AlwaysConflicting::default();
    let log = AuditLog::new(&store, "audit");
    assert!(matches!(
        block_on(log.append(&entry(0))),
        Err(LogError::Contention)
    ));
}

#[test]
fn separate_prefixes_are_separate_logs() {
    let store = MemoryStore::new();
    let first = AuditLog::new(&store, "tenant-a");
    let second = AuditLog::new(&store, "tenant-b");
    unwrap(block_on(first.append(&entry(0))));
    assert_eq!(unwrap(block_on(second.tree_head())).size, 0);
}

#[test]
fn concurrent_batches_and_singles_stay_contiguous() {
    let store = Interleaving::default();
    let log = AuditLog::new(&store, "audit");
    // Writers 0..6 send batches of 7 entries; writers 6..12 send single entries.
    let batches: Vec<Vec<Vec<u8>>> = (0..12usize)
        .map(|writer| {
            let count = if writer < 6 { 7 } else { 1 };
            (0..count).map(|i| entry(writer * 100 + i)).collect()
        })
        .collect();
    let appends = batches.iter().map(|batch| {
        let log = &log;
        async move {
            let slices: Vec<&[u8]> = batch.iter().map(Vec::as_slice).collect();
            log.append_batch(&slices).await
        }
    });
    let results = block_on(join_all(appends));

    let head = unwrap(block_on(log.tree_head()));
    assert_eq!(head.size, 6 * 7 + 6);
    let mut covered = vec![false; head.size as usize];
    for (batch, result) in batches.iter().zip(&results) {
        let appended = result.as_ref().unwrap_or_else(|e| panic!("{e}"));
        for (offset, expected) in batch.iter().enumerate() {
            let index = appended.first_index + offset as u64;
            assert!(!covered[index as usize], "index {index} used twice");
            covered[index as usize] = true;
            assert_eq!(
                &unwrap(block_on(log.entry(index))),
                expected,
                "index {index}"
            );
        }
    }
    assert!(covered.iter().all(|used| *used), "no index is skipped");
    let mut reference = MemoryTree::new();
    for index in 0..head.size {
        reference.push(leaf_hash(&unwrap(block_on(log.entry(index)))));
    }
    assert_eq!(Ok(head.root), reference.root_at(head.size));
}

#[test]
fn crash_after_a_batch_commit_loses_nothing() {
    let store = MemoryStore::new();
    let log = AuditLog::new(&store, "audit");
    unwrap(block_on(log.append(&entry(0))));
    let batch: Vec<Vec<u8>> = (1..5).map(entry).collect();
    let slices: Vec<&[u8]> = batch.iter().map(Vec::as_slice).collect();
    let appended = unwrap(block_on(log.append_batch(&slices)));
    assert_eq!(appended.first_index, 1);
    assert_eq!(appended.size, 5);
    // The batch committed its head but "crashed" before copying its entries.
    for index in 1..5 {
        store.remove(&format!("audit/entry/{index:020}"));
    }
    for index in 1..5 {
        assert_eq!(unwrap(block_on(log.entry(index))), entry(index as usize));
    }
    unwrap(block_on(log.append(&entry(5))));
    let root = unwrap(block_on(log.root_at(6)));
    for index in 0..6u64 {
        let proof = unwrap(block_on(log.inclusion_proof(index, 6)));
        assert!(
            verify_inclusion(&leaf_hash(&entry(index as usize)), index, 6, &proof, &root).is_ok(),
            "entry {index}"
        );
    }
}

#[test]
fn batches_outside_the_limits_are_rejected_whole() {
    let store = MemoryStore::new();
    let log = AuditLog::new(&store, "audit");
    let empty: Vec<&[u8]> = Vec::new();
    assert!(matches!(
        block_on(log.append_batch(&empty)),
        Err(LogError::BatchSize)
    ));
    let many: Vec<Vec<u8>> = (0..=MAX_BATCH_ENTRIES).map(entry).collect();
    let slices: Vec<&[u8]> = many.iter().map(Vec::as_slice).collect();
    assert!(matches!(
        block_on(log.append_batch(&slices)),
        Err(LogError::BatchSize)
    ));
    let with_empty: Vec<&[u8]> = vec![b"ok", b""];
    assert!(matches!(
        block_on(log.append_batch(&with_empty)),
        Err(LogError::EntrySize { size: 0 })
    ));
    assert_eq!(
        unwrap(block_on(log.tree_head())).size,
        0,
        "nothing was appended"
    );
}
