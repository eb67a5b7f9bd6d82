//! Generated trees: proofs built from stored nodes verify, and any change to a leaf, a proof
//! hash, an index or a size is rejected.

use portal_merkle::{
    Frontier, MemoryTree, NodeSource, ProofError, consistency_proof, empty_root, inclusion_proof,
    leaf_hash, node_hash, verify_consistency, verify_inclusion,
};
use proptest::prelude::*;

fn tree(size: u64) -> MemoryTree {
    let mut tree = MemoryTree::new();
    for i in 0..size {
        tree.push(leaf_hash(&i.to_le_bytes()));
    }
    tree
}

/// MTH straight from the RFC's recursive definition, as an independent reference.
fn reference_root(leaves: &[[u8; 32]]) -> [u8; 32] {
    match leaves.len() {
        0 => empty_root(),
        1 => leaves[0],
        n => {
            let k = 1usize << (usize::BITS - 1 - (n - 1).leading_zeros());
            node_hash(&reference_root(&leaves[..k]), &reference_root(&leaves[k..]))
        }
    }
}

#[test]
fn rfc6962_test_tree_roots_match() {
    // The eight-leaf tree of RFC 6962's reference tests (leaves "", 0x00, 0x10, 0x2021, ...):
    // its root is the `root` of the transparency-dev happy-path vectors of size 8.
    let leaves: [&[u8]; 8] = [
        b"",
        &[0x00],
        &[0x10],
        &[0x20, 0x21],
        &[0x30, 0x31],
        &[0x40, 0x41, 0x42, 0x43],
        &[0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57],
        &[
            0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d,
            0x6e, 0x6f,
        ],
    ];
    let mut frontier = Frontier::new();
    for leaf in leaves {
        frontier.append(leaf_hash(leaf));
    }
    let expected = "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328";
    let actual: String = frontier.root().iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(actual, expected);
}

#[test]
fn empty_tree_root_is_hash_of_nothing() {
    assert_eq!(Frontier::new().root(), empty_root());
}

#[test]
fn inclusion_proof_for_index_past_size_is_rejected() {
    let tree = tree(5);
    assert_eq!(
        inclusion_proof(&tree, 5, 5),
        Err(ProofError::IndexOutOfRange { index: 5, size: 5 })
    );
}

#[test]
fn consistency_from_empty_tree_is_rejected() {
    let tree = tree(3);
    assert!(consistency_proof(&tree, 0, 3).is_err());
    let root = tree.root_at(3).unwrap_or_default();
    assert!(verify_consistency(0, 3, &empty_root(), &root, &[]).is_err());
}

#[test]
fn inclusion_proof_alone_leaves_size_unbound() {
    // Leaf 0 of a 3-leaf tree has the same audit path under size 4: the size has to come from
    // a signed checkpoint, which is why checkpoints sign it beside the root.
    let tree = tree(3);
    let root = tree.root_at(3).unwrap_or_default();
    let leaf = leaf_hash(&0u64.to_le_bytes());
    let proof = inclusion_proof(&tree, 0, 3).unwrap_or_default();
    assert!(verify_inclusion(&leaf, 0, 3, &proof, &root).is_ok());
    assert!(verify_inclusion(&leaf, 0, 4, &proof, &root).is_ok());
}

#[test]
fn missing_node_is_reported() {
    let tree = tree(4);
    assert!(matches!(
        tree.node(3, 0),
        Err(ProofError::MissingNode {
            level: 3,
            index: 0,
            ..
        })
    ));
}

proptest! {
    #[test]
    fn frontier_matches_reference_root(size in 0u64..300) {
        let leaves: Vec<[u8; 32]> = (0..size).map(|i| leaf_hash(&i.to_le_bytes())).collect();
        let mut frontier = Frontier::new();
        for leaf in &leaves {
            frontier.append(*leaf);
        }
        prop_assert_eq!(frontier.root(), reference_root(&leaves));
        prop_assert_eq!(tree(size).root_at(size).ok(), Some(reference_root(&leaves)));
        prop_assert_eq!(frontier.roots().len(), size.count_ones() as usize);
    }

    #[test]
    fn appended_nodes_are_the_stored_nodes(size in 1u64..200) {
        let tree = tree(size);
        let mut frontier = Frontier::new();
        for i in 0..size {
            for node in frontier.append(leaf_hash(&i.to_le_bytes())) {
                prop_assert_eq!(tree.node(node.level, node.index).ok(), Some(node.hash));
            }
        }
    }

    #[test]
    fn inclusion_proofs_verify_and_tampering_fails(size in 1u64..200, seed in any::<u64>()) {
        let tree = tree(size);
        let index = seed % size;
        let root = tree.root_at(size).unwrap_or_default();
        let leaf = leaf_hash(&index.to_le_bytes());
        let proof = inclusion_proof(&tree, index, size).unwrap_or_default();
        prop_assert!(verify_inclusion(&leaf, index, size, &proof, &root).is_ok());

        let other_leaf = leaf_hash(b"forged entry");
        prop_assert!(verify_inclusion(&other_leaf, index, size, &proof, &root).is_err());
        if size > 1 {
            let other_index = (index + 1) % size;
            prop_assert!(verify_inclusion(&leaf, other_index, size, &proof, &root).is_err());
        }
        if !proof.is_empty() {
            let mut tampered = proof.clone();
            let position = (seed as usize / 7) % tampered.len();
            tampered[position][(seed % 32) as usize] ^= 1;
            prop_assert!(verify_inclusion(&leaf, index, size, &tampered, &root).is_err());
            prop_assert!(verify_inclusion(&leaf, index, size, &proof[1..], &root).is_err());
        }
        let mut longer = proof.clone();
        longer.push(root);
        prop_assert!(verify_inclusion(&leaf, index, size, &longer, &root).is_err());
    }

    #[test]
    fn consistency_proofs_verify_and_tampering_fails(second in 1u64..200, seed in any::<u64>()) {
        let tree = tree(second);
        let first = 1 + seed % second;
        let first_root = tree.root_at(first).unwrap_or_default();
        let second_root = tree.root_at(second).unwrap_or_default();
        let proof = consistency_proof(&tree, first, second).unwrap_or_default();
        prop_assert!(verify_consistency(first, second, &first_root, &second_root, &proof).is_ok());

        let forged = node_hash(&first_root, &first_root);
        prop_assert!(verify_consistency(first, second, &forged, &second_root, &proof).is_err());
        prop_assert!(verify_consistency(first, second, &first_root, &forged, &proof).is_err());
        if !proof.is_empty() {
            let mut tampered = proof.clone();
            let position = (seed as usize / 3) % tampered.len();
            tampered[position][(seed % 32) as usize] ^= 0x80;
            prop_assert!(
                verify_consistency(first, second, &first_root, &second_root, &tampered).is_err()
            );
        }
    }
}
