//! Merkle tree hashing and proofs for the audit log, as RFC 6962 and RFC 9162 (section 2.1)
//! define them. Hashes are SHA-256, leaves are hashed as `H(0x00 || entry)` and interior nodes
//! as `H(0x01 || left || right)`. The tree over `n` leaves splits at the largest power of two
//! smaller than `n`.
//!
//! The log keeps only the hashes of complete ("perfect") subtrees, which is what [`Frontier`]
//! produces on append and what [`NodeSource`] serves back, so proofs for a tree of any size are
//! built without holding the leaves in memory.

mod frontier;
mod proof;
mod verify;

pub use frontier::{Frontier, StoredNode};
pub use proof::{MemoryTree, NodeSource, consistency_proof, inclusion_proof, subtree_root};
pub use verify::{verify_consistency, verify_inclusion};

use sha2::{Digest, Sha256};

/// A SHA-256 digest.
pub type Hash = [u8; 32];

/// Hashes a log entry into a leaf: `SHA-256(0x00 || entry)`.
pub fn leaf_hash(entry: &[u8]) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0x00]);
    hasher.update(entry);
    hasher.finalize().into()
}

/// Hashes two children into their parent: `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0x01]);
    hasher.update(left);
    hasher.update(right);
    hasher.finalize().into()
}

/// Returns the root of the empty tree, `SHA-256("")`.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// Errors from building or verifying a proof.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProofError {
    /// The leaf index is not below the tree size.
    #[error("leaf index {index} is outside a tree of size {size}")]
    IndexOutOfRange {
        /// Requested leaf index.
        index: u64,
        /// Tree size.
        size: u64,
    },
    /// The sizes do not describe a tree and one of its later versions.
    #[error("invalid tree sizes: {first} then {second}")]
    InvalidSizes {
        /// Earlier size.
        first: u64,
        /// Later size.
        second: u64,
    },
    /// The proof has more or fewer hashes than the sizes require.
    #[error("proof has the wrong number of hashes: expected {expected}, received {received}")]
    WrongProofLength {
        /// Hashes the sizes require.
        expected: usize,
        /// Hashes in the proof.
        received: usize,
    },
    /// The proof does not lead to the expected root.
    #[error("proof does not match the root hash")]
    RootMismatch,
    /// The node source could not provide a subtree hash.
    #[error("node at level {level}, index {index} is not available: {reason}")]
    MissingNode {
        /// Subtree height.
        level: u32,
        /// Subtree index at that height.
        index: u64,
        /// Cause reported by the source.
        reason: String,
    },
}

/// Returns the largest power of two strictly smaller than `n`; `n` must be at least 2.
pub(crate) fn split_point(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1 << (63 - (n - 1).leading_zeros())
}
