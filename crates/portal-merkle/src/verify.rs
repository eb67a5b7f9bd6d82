//! Proof verification, following the algorithms of RFC 9162, sections 2.1.3.2 and 2.1.4.2.
//!
//! Both functions compare against the expected root only at the end and fail closed on any
//! shape the sizes do not allow, so a verifier never accepts a proof it did not recompute.

use crate::{Hash, ProofError, node_hash};

/// Checks that `leaf` is at `index` in the tree of `size` leaves whose root is `root`.
///
/// The proof does not bind `size` on its own (leaf 0 of a 3-leaf tree has the same path under
/// size 4), so `size` and `root` must come together from a signed checkpoint.
pub fn verify_inclusion(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let mut node = index;
    let mut last = size - 1;
    let mut hash = *leaf;
    for sibling in proof {
        if last == 0 {
            return Err(ProofError::WrongProofLength {
                expected: proof_length(index, size),
                received: proof.len(),
            });
        }
        if node & 1 == 1 || node == last {
            hash = node_hash(sibling, &hash);
            while node & 1 == 0 && node != 0 {
                node >>= 1;
                last >>= 1;
            }
        } else {
            hash = node_hash(&hash, sibling);
        }
        node >>= 1;
        last >>= 1;
    }
    if last != 0 {
        return Err(ProofError::WrongProofLength {
            expected: proof_length(index, size),
            received: proof.len(),
        });
    }
    if hash != *root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// Checks that the tree of `first` leaves with root `first_root` is a prefix of the tree of
/// `second` leaves with root `second_root`.
///
/// A proof from the empty tree is rejected: it would prove nothing about any log.
pub fn verify_consistency(
    first: u64,
    second: u64,
    first_root: &Hash,
    second_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    if first == 0 || first > second {
        return Err(ProofError::InvalidSizes { first, second });
    }
    if first == second {
        if !proof.is_empty() {
            return Err(ProofError::WrongProofLength {
                expected: 0,
                received: proof.len(),
            });
        }
        return if first_root == second_root {
            Ok(())
        } else {
            Err(ProofError::RootMismatch)
        };
    }
    let Some((&head, rest)) = proof.split_first() else {
        return Err(ProofError::WrongProofLength {
            expected: 1,
            received: 0,
        });
    };

    // When `first` is a power of two its root is a node of the later tree and is not sent.
    let (start, path) = if first.is_power_of_two() {
        (*first_root, proof)
    } else {
        (head, rest)
    };
    let mut node = first - 1;
    let mut last = second - 1;
    while node & 1 == 1 {
        node >>= 1;
        last >>= 1;
    }
    let mut first_hash = start;
    let mut second_hash = start;
    for sibling in path {
        if last == 0 {
            return Err(ProofError::WrongProofLength {
                expected: proof.len() - 1,
                received: proof.len(),
            });
        }
        if node & 1 == 1 || node == last {
            first_hash = node_hash(sibling, &first_hash);
            second_hash = node_hash(sibling, &second_hash);
            while node & 1 == 0 && node != 0 {
                node >>= 1;
                last >>= 1;
            }
        } else {
            second_hash = node_hash(&second_hash, sibling);
        }
        node >>= 1;
        last >>= 1;
    }
    if last != 0 {
        return Err(ProofError::WrongProofLength {
            expected: proof.len() + 1,
            received: proof.len(),
        });
    }
    if first_hash != *first_root || second_hash != *second_root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// Number of hashes in the audit path of leaf `index` in a tree of `size` leaves.
fn proof_length(index: u64, size: u64) -> usize {
    let mut length = 0;
    let (mut node, mut last) = (index, size - 1);
    while last != 0 {
        if node & 1 == 1 || node != last {
            length += 1;
        }
        node >>= 1;
        last >>= 1;
    }
    length
}
