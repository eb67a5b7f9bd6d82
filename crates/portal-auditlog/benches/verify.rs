//! Offline verification of a large export, as a compliance officer runs it with
//! `audit-verify`: one million entries of about 400 bytes, each with its inclusion proof in
//! the tree of the signed checkpoint.
//!
//! `cargo bench -p portal-auditlog --bench verify` (set `VERIFY_ENTRIES` for another size).
//! The log is built in memory first; only `verify_export` is timed, and the peak resident size
//! covers the whole run. The figures go in docs/benchmarks.md.

use std::time::Instant;

use futures::executor::block_on;
use portal_auditlog::{
    AuditLog, Checkpoint, CheckpointSigner, CheckpointVerifier, MemoryStore, verify_export,
};

const ORIGIN: &str = "portal.bench/audit";

/// An entry shaped like the audit component's: receipt time, nonce and one event.
fn entry(index: u64) -> String {
    format!(
        "{{\"received_at_ms\":{},\"nonce\":\"bm9uY2Utbm9uY2Utbm9uY2U=\",\"event\":{{\"actor\":{{\"kind\":\"user\",\"id\":\"user-{:08}\",\"role\":\"clinician\"}},\"action\":\"messaging.thread_read\",\"entity\":{{\"type\":\"thread\",\"id\":\"thread-{:08}\"}},\"patient\":\"patient-{:08}\",\"outcome\":\"success\",\"claimed_time_ms\":1764000000000,\"purpose\":\"TREAT\",\"component\":\"messaging\",\"request_id\":\"request-{:08}\"}}}}",
        1_764_000_000_000 + index,
        index % 500,
        index,
        index % 20_000,
        index
    )
}

/// Peak resident size of this process so far, from `/proc/self/status`, in MiB.
fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| {
            value
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<f64>()
                .ok()
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

fn main() {
    let entries: u64 = std::env::var("VERIFY_ENTRIES")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(1_000_000);
    let store = MemoryStore::new();
    let log = AuditLog::new(&store, "audit");
    let built = Instant::now();
    for index in 0..entries {
        block_on(log.append(entry(index).as_bytes())).unwrap_or_else(|e| panic!("{e}"));
    }
    let head = block_on(log.tree_head()).unwrap_or_else(|e| panic!("{e}"));
    let signer =
        CheckpointSigner::from_seed("portal-audit", &[5; 32]).unwrap_or_else(|e| panic!("{e}"));
    let note = signer
        .sign(&Checkpoint {
            origin: ORIGIN.into(),
            size: head.size,
            root: head.root,
        })
        .unwrap_or_else(|e| panic!("{e}"));
    let export = block_on(log.export(0, head.size, head.size))
        .unwrap_or_else(|e| panic!("{e}"))
        .join("\n");
    drop(log);
    drop(store);
    println!(
        "built a log of {entries} entries and its export ({:.0} MB) in {:.1?}",
        export.len() as f64 / 1e6,
        built.elapsed()
    );
    let verifier = CheckpointVerifier::from_verifier_key(&signer.verifier_key())
        .unwrap_or_else(|e| panic!("{e}"));

    let started = Instant::now();
    let report = verify_export(&export, &note, &verifier, ORIGIN).unwrap_or_else(|e| panic!("{e}"));
    let elapsed = started.elapsed();
    assert!(report.is_intact(), "{:?}", report.failures.first());
    println!(
        "verified {} entries in {elapsed:.2?} ({:.0} entries/s), peak RSS {:.0} MiB",
        report.verified,
        report.verified as f64 / elapsed.as_secs_f64(),
        peak_rss_mib()
    );
}
