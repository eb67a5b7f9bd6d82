//! Building inclusion and consistency proofs (RFC 9162, sections 2.1.3.1 and 2.1.4.1) from
//! stored perfect-subtree hashes.

use crate::{Hash, ProofError, empty_root, node_hash, split_point};

/// A store of perfect-subtree hashes, such as the audit log's key-value store.
pub trait NodeSource {
    /// Returns the hash of the perfect subtree of height `level` at position `index`, which
    /// covers leaves `index * 2^level .. (index + 1) * 2^level`.
    fn node(&self, level: u32, index: u64) -> Result<Hash, ProofError>;
}

/// Computes the root of the leaves `start..end`; an empty range is an error.
pub fn subtree_root(source: &impl NodeSource, start: u64, end: u64) -> Result<Hash, ProofError> {
    if start >= end {
        return Err(ProofError::InvalidSizes {
            first: start,
            second: end,
        });
    }
    let count = end - start;
    if count.is_power_of_two() && start.is_multiple_of(count) {
        let level = count.trailing_zeros();
        return source.node(level, start >> level);
    }
    let split = split_point(count);
    let left = subtree_root(source, start, start + split)?;
    let right = subtree_root(source, start + split, end)?;
    Ok(node_hash(&left, &right))
}

/// Builds the audit path of leaf `index` in the tree of the first `size` leaves.
pub fn inclusion_proof(
    source: &impl NodeSource,
    index: u64,
    size: u64,
) -> Result<Vec<Hash>, ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let mut proof = Vec::new();
    path(source, index, 0, size, &mut proof)?;
    Ok(proof)
}

/// PATH(m, D[start:end]) with `m` relative to `start`; hashes are pushed leaf side first.
fn path(
    source: &impl NodeSource,
    m: u64,
    start: u64,
    end: u64,
    proof: &mut Vec<Hash>,
) -> Result<(), ProofError> {
    let n = end - start;
    if n == 1 {
        return Ok(());
    }
    let k = split_point(n);
    if m < k {
        path(source, m, start, start + k, proof)?;
        proof.push(subtree_root(source, start + k, end)?);
    } else {
        path(source, m - k, start + k, end, proof)?;
        proof.push(subtree_root(source, start, start + k)?);
    }
    Ok(())
}

/// Builds the proof that the tree of `first` leaves is a prefix of the tree of `second`.
pub fn consistency_proof(
    source: &impl NodeSource,
    first: u64,
    second: u64,
) -> Result<Vec<Hash>, ProofError> {
    if first == 0 || first > second {
        return Err(ProofError::InvalidSizes { first, second });
    }
    let mut proof = Vec::new();
    if first < second {
        subproof(source, first, 0, second, true, &mut proof)?;
    }
    Ok(proof)
}

/// SUBPROOF(m, D[start:end], b) of RFC 9162 with `m` relative to `start`.
fn subproof(
    source: &impl NodeSource,
    m: u64,
    start: u64,
    end: u64,
    whole: bool,
    proof: &mut Vec<Hash>,
) -> Result<(), ProofError> {
    let n = end - start;
    if m == n {
        if !whole {
            proof.push(subtree_root(source, start, end)?);
        }
        return Ok(());
    }
    let k = split_point(n);
    if m <= k {
        subproof(source, m, start, start + k, whole, proof)?;
        proof.push(subtree_root(source, start + k, end)?);
    } else {
        subproof(source, m - k, start + k, end, false, proof)?;
        proof.push(subtree_root(source, start, start + k)?);
    }
    Ok(())
}

/// A tree held in memory, for tests and the offline verifier.
#[derive(Debug, Clone, Default)]
pub struct MemoryTree {
    /// `levels[l][i]` is the hash of the perfect subtree of height `l` at index `i`.
    levels: Vec<Vec<Hash>>,
    size: u64,
}

impl MemoryTree {
    /// Creates an empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a leaf hash.
    pub fn push(&mut self, leaf: Hash) {
        let mut level = 0usize;
        let mut index = self.size;
        let mut hash = leaf;
        loop {
            if self.levels.len() <= level {
                self.levels.push(Vec::new());
            }
            self.levels[level].push(hash);
            if index & 1 == 0 {
                break;
            }
            let left = self.levels[level][(index - 1) as usize];
            hash = node_hash(&left, &hash);
            index >>= 1;
            level += 1;
        }
        self.size += 1;
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Root hash of the first `size` leaves.
    pub fn root_at(&self, size: u64) -> Result<Hash, ProofError> {
        if size == 0 {
            return Ok(empty_root());
        }
        if size > self.size {
            return Err(ProofError::InvalidSizes {
                first: size,
                second: self.size,
            });
        }
        subtree_root(self, 0, size)
    }
}

impl NodeSource for MemoryTree {
    fn node(&self, level: u32, index: u64) -> Result<Hash, ProofError> {
        self.levels
            .get(level as usize)
            .and_then(|hashes| hashes.get(usize::try_from(index).ok()?))
            .copied()
            .ok_or_else(|| ProofError::MissingNode {
                level,
                index,
                reason: "not in the tree".to_owned(),
            })
    }
}
