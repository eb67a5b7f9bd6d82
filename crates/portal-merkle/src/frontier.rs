//! The right edge of an append-only tree: the roots of the perfect subtrees that make up the
//! tree's binary decomposition.

use crate::{Hash, empty_root, node_hash};

/// A node that became complete on append and should be stored for later proofs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredNode {
    /// Height of the subtree: 0 for a leaf.
    pub level: u32,
    /// Index of the subtree among those of the same height, from the left.
    pub index: u64,
    /// Subtree hash.
    pub hash: Hash,
}

/// The perfect subtrees covering a tree of `size` leaves, largest (leftmost) first.
///
/// A tree of size `n` has one such subtree per set bit of `n`, so the frontier has at most
/// 64 entries and is small enough to keep next to the tree head.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    roots: Vec<Hash>,
}

impl Frontier {
    /// Creates the frontier of the empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Rebuilds a frontier from its parts, checking that there is one root per set bit.
    pub fn from_parts(size: u64, roots: Vec<Hash>) -> Option<Self> {
        (roots.len() == size.count_ones() as usize).then_some(Self { size, roots })
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Perfect subtree roots, largest first.
    pub fn roots(&self) -> &[Hash] {
        &self.roots
    }

    /// Appends a leaf hash and returns every node completed by it, the leaf itself first.
    pub fn append(&mut self, leaf: Hash) -> Vec<StoredNode> {
        let mut completed = vec![StoredNode {
            level: 0,
            index: self.size,
            hash: leaf,
        }];
        let mut hash = leaf;
        let mut index = self.size;
        let mut level = 0;
        // Each trailing one bit of the old size is a left sibling waiting for this subtree.
        while index & 1 == 1 {
            let Some(left) = self.roots.pop() else { break };
            hash = node_hash(&left, &hash);
            index >>= 1;
            level += 1;
            completed.push(StoredNode { level, index, hash });
        }
        self.roots.push(hash);
        self.size += 1;
        completed
    }

    /// Computes the tree's root hash by folding the perfect subtree roots from the right.
    pub fn root(&self) -> Hash {
        let mut roots = self.roots.iter().rev();
        let Some(last) = roots.next() else {
            return empty_root();
        };
        roots.fold(*last, |right, left| node_hash(left, &right))
    }
}
