//! Exports of the log as JSON Lines, and their offline verification.
//!
//! Each line is `{"index": I, "entry": "<entry text>", "proof": ["<base64 hash>", ...]}`: the
//! entry exactly as stored (a JSON string, so its bytes survive), and its inclusion proof in the
//! tree of the checkpoint the export is paired with. A verifier with only the export, the signed
//! checkpoint and the log's public key can then find which entries were altered, reordered,
//! inserted or removed.
//!
//! NOTE: only entries up to the checkpoint's size are covered. An old checkpoint paired with a
//! truncated export verifies, so the verifier must obtain the checkpoint independently (from a
//! witness or the write-once archive), not from the party that hands over the export.

use base64ct::{Base64, Encoding};
use serde::{Deserialize, Serialize};

use crate::{AuditLog, Checkpoint, CheckpointError, CheckpointVerifier, Hash, LogError, LogStore};

/// One exported entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportLine {
    /// Position of the entry in the log.
    pub index: u64,
    /// The entry's stored text.
    pub entry: String,
    /// Inclusion proof in standard base64, leaf side first.
    pub proof: Vec<String>,
}

/// A problem found in an export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExportFailure {
    /// Line `line` (from 1) is not an export line.
    Malformed {
        /// Line number.
        line: usize,
    },
    /// The entry at `index` does not match the signed root: it was altered, or its proof was.
    Altered {
        /// Entry index.
        index: u64,
    },
    /// Line `line` carries `index` where the next index was expected.
    OutOfOrder {
        /// Line number.
        line: usize,
        /// Index found.
        index: u64,
    },
    /// No line carries `index`, although the checkpoint covers it.
    Missing {
        /// Entry index.
        index: u64,
    },
}

/// The outcome of verifying an export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportReport {
    /// The checkpoint the export was verified against.
    pub checkpoint: Checkpoint,
    /// Entries whose inclusion proof verified.
    pub verified: u64,
    /// Everything that did not verify, in file order.
    pub failures: Vec<ExportFailure>,
}

impl ExportReport {
    /// Returns whether every entry of the checkpoint is present, in order, and unaltered.
    pub fn is_intact(&self) -> bool {
        self.failures.is_empty() && self.verified == self.checkpoint.size
    }
}

impl<S: LogStore> AuditLog<S> {
    /// Exports entries `start..end` with inclusion proofs in the tree of `size` entries.
    pub async fn export(&self, start: u64, end: u64, size: u64) -> Result<Vec<String>, LogError> {
        if start > end || end > size {
            return Err(LogError::OutOfRange {
                requested: end,
                size,
            });
        }
        let mut lines = Vec::new();
        for index in start..end {
            let entry = self.entry(index).await?;
            let proof = self.inclusion_proof(index, size).await?;
            let line = ExportLine {
                index,
                entry: String::from_utf8(entry)
                    .map_err(|_| LogError::Corrupt("entry is not UTF-8"))?,
                proof: proof
                    .iter()
                    .map(|hash| Base64::encode_string(hash))
                    .collect(),
            };
            lines.push(
                serde_json::to_string(&line)
                    .map_err(|_| LogError::Corrupt("entry does not serialize"))?,
            );
        }
        Ok(lines)
    }
}

/// Verifies an export against its signed checkpoint.
///
/// The checkpoint's signature and origin must verify first. After that, every problem with the
/// export is reported in [`ExportReport::failures`] instead of stopping at the first.
pub fn verify_export(
    export: &str,
    note: &str,
    verifier: &CheckpointVerifier,
    origin: &str,
) -> Result<ExportReport, CheckpointError> {
    let checkpoint = verifier.verify(note, origin)?;
    let mut failures = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    let mut previous: Option<u64> = None;

    for (number, text) in export.lines().enumerate() {
        let line = number + 1;
        if text.trim().is_empty() {
            continue;
        }
        let Ok(parsed) = serde_json::from_str::<ExportLine>(text) else {
            failures.push(ExportFailure::Malformed { line });
            continue;
        };
        let index = parsed.index;

        // Order is judged against the previous line. Every line's proof is still checked at
        // the index it claims, so a moved entry that was also altered is reported as altered.
        let in_order = match previous {
            None => index == 0,
            Some(before) => before.checked_add(1) == Some(index),
        };
        if !in_order || index >= checkpoint.size || !seen.insert(index) {
            failures.push(ExportFailure::OutOfOrder { line, index });
        }
        previous = Some(index);
        if index >= checkpoint.size {
            continue;
        }

        let proof: Option<Vec<Hash>> = parsed
            .proof
            .iter()
            .map(|hash| Base64::decode_vec(hash).ok()?.try_into().ok())
            .collect();
        let leaf = crate::leaf_hash(parsed.entry.as_bytes());
        let included = proof.is_some_and(|proof| {
            portal_merkle::verify_inclusion(&leaf, index, checkpoint.size, &proof, &checkpoint.root)
                .is_ok()
        });
        if !included {
            failures.push(ExportFailure::Altered { index });
        }
    }
    for index in 0..checkpoint.size {
        if !seen.contains(&index) {
            failures.push(ExportFailure::Missing { index });
        }
    }
    let verified = seen.len() as u64
        - failures
            .iter()
            .filter(|f| matches!(f, ExportFailure::Altered { .. }))
            .count() as u64;
    Ok(ExportReport {
        checkpoint,
        verified,
        failures,
    })
}
