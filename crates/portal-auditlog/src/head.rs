//! The tree head: size, frontier, and the entries of the last commit with the nodes each one
//! completed.
//!
//! Encoding, all integers big-endian: version `2` (1 byte), size (8), frontier length `F` (1),
//! `F` hashes (32 each), entry count `K` (2), then `K` times: completed-node count `N` (1), `N`
//! times level (1), index (8) and hash (32), entry length `L` (4), and `L` entry bytes.
//! Version `1` heads, written before batches existed, carry exactly one entry without the
//! count and still decode.

use portal_merkle::{Frontier, Hash, StoredNode};

const VERSION_ONE_ENTRY: u8 = 1;
const VERSION: u8 = 2;

/// One entry of the last commit, with the tree nodes its append completed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Recent {
    pub(crate) entry: Vec<u8>,
    pub(crate) nodes: Vec<StoredNode>,
}

/// The committed state of the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Head {
    frontier: Frontier,
    /// The entries of the last commit, oldest first; the newest is entry `size - 1`.
    recent: Vec<Recent>,
}

impl Head {
    pub(crate) fn empty() -> Self {
        Self {
            frontier: Frontier::new(),
            recent: Vec::new(),
        }
    }

    pub(crate) fn size(&self) -> u64 {
        self.frontier.size()
    }

    pub(crate) fn root(&self) -> Hash {
        self.frontier.root()
    }

    /// Index of the first entry of the last commit.
    pub(crate) fn first_recent(&self) -> u64 {
        self.size() - self.recent.len() as u64
    }

    /// The entries of the last commit, oldest first.
    pub(crate) fn recent(&self) -> &[Recent] {
        &self.recent
    }

    /// Entry `index`, if the last commit carries it.
    pub(crate) fn recent_entry(&self, index: u64) -> Option<&[u8]> {
        let offset = index.checked_sub(self.first_recent())?;
        self.recent
            .get(usize::try_from(offset).ok()?)
            .map(|recent| recent.entry.as_slice())
    }

    /// Returns the head after appending `entries` in one commit. `entries` must not be empty.
    pub(crate) fn append_all(&self, entries: &[&[u8]]) -> Self {
        let mut frontier = self.frontier.clone();
        let recent = entries
            .iter()
            .map(|entry| Recent {
                nodes: frontier.append(portal_merkle::leaf_hash(entry)),
                entry: entry.to_vec(),
            })
            .collect();
        Self { frontier, recent }
    }

    pub(crate) fn encode(&self) -> Vec<u8> {
        let roots = self.frontier.roots();
        let recent_bytes: usize = self
            .recent
            .iter()
            .map(|recent| 5 + recent.nodes.len() * 41 + recent.entry.len())
            .sum();
        let mut out = Vec::with_capacity(13 + roots.len() * 32 + recent_bytes);
        out.push(VERSION);
        out.extend_from_slice(&self.frontier.size().to_be_bytes());
        out.push(roots.len() as u8);
        for root in roots {
            out.extend_from_slice(root);
        }
        out.extend_from_slice(&(self.recent.len() as u16).to_be_bytes());
        for recent in &self.recent {
            out.push(recent.nodes.len() as u8);
            for node in &recent.nodes {
                out.push(node.level as u8);
                out.extend_from_slice(&node.index.to_be_bytes());
                out.extend_from_slice(&node.hash);
            }
            out.extend_from_slice(&(recent.entry.len() as u32).to_be_bytes());
            out.extend_from_slice(&recent.entry);
        }
        out
    }

    /// Decodes a head; `None` for any malformed input.
    pub(crate) fn decode(bytes: &[u8]) -> Option<Self> {
        let mut reader = Reader(bytes);
        let version = reader.byte()?;
        if version != VERSION && version != VERSION_ONE_ENTRY {
            return None;
        }
        let size = u64::from_be_bytes(reader.array()?);
        let root_count = reader.byte()? as usize;
        let mut roots = Vec::with_capacity(root_count);
        for _ in 0..root_count {
            roots.push(reader.array()?);
        }
        let frontier = Frontier::from_parts(size, roots)?;

        let count = if version == VERSION {
            usize::from(u16::from_be_bytes(reader.array()?))
        } else {
            usize::from(size > 0)
        };
        let mut recent = Vec::with_capacity(count.min(1024));
        for _ in 0..count {
            let node_count = reader.byte()? as usize;
            let mut nodes = Vec::with_capacity(node_count);
            for _ in 0..node_count {
                let level = u32::from(reader.byte()?);
                let index = u64::from_be_bytes(reader.array()?);
                let hash = reader.array()?;
                nodes.push(StoredNode { level, index, hash });
            }
            let length = u32::from_be_bytes(reader.array()?) as usize;
            let entry = reader.take(length)?.to_vec();
            if entry.is_empty() {
                return None;
            }
            recent.push(Recent { entry, nodes });
        }
        // A version 1 head of the empty log still carries a node count and an entry length,
        // both zero.
        if version == VERSION_ONE_ENTRY && size == 0 && reader.take(5)? != [0; 5] {
            return None;
        }
        // A non-empty log carries at least its newest entry, never more entries than it has,
        // and the empty log none.
        if !reader.0.is_empty() || (size > 0) == recent.is_empty() || recent.len() as u64 > size {
            return None;
        }
        Some(Self { frontier, recent })
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, count: usize) -> Option<&'a [u8]> {
        if self.0.len() < count {
            return None;
        }
        let (head, rest) = self.0.split_at(count);
        self.0 = rest;
        Some(head)
    }

    fn byte(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_round_trips() {
        let mut head = Head::empty();
        assert_eq!(Head::decode(&head.encode()), Some(head.clone()));
        for i in 0..13u32 {
            head = head.append_all(&[&i.to_be_bytes()]);
            assert_eq!(Head::decode(&head.encode()), Some(head.clone()));
        }
        let batch: Vec<[u8; 4]> = (13..40u32).map(u32::to_be_bytes).collect();
        let refs: Vec<&[u8]> = batch.iter().map(|entry| entry.as_slice()).collect();
        head = head.append_all(&refs);
        assert_eq!(Head::decode(&head.encode()), Some(head.clone()));
        assert_eq!(head.first_recent(), 13);
        assert_eq!(head.recent_entry(12), None);
        assert_eq!(head.recent_entry(20), Some(20u32.to_be_bytes().as_slice()));
        assert_eq!(head.recent_entry(40), None);
    }

    #[test]
    fn batch_commit_has_the_root_of_single_appends() {
        let entries: Vec<Vec<u8>> = (0..37u32)
            .map(|i| format!("entry {i}").into_bytes())
            .collect();
        let mut single = Head::empty();
        for entry in &entries {
            single = single.append_all(&[entry]);
        }
        let refs: Vec<&[u8]> = entries.iter().map(Vec::as_slice).collect();
        let batched = Head::empty().append_all(&refs[..5]).append_all(&refs[5..]);
        assert_eq!(batched.root(), single.root());
        assert_eq!(batched.size(), 37);
    }

    #[test]
    fn version_one_heads_still_decode() {
        // Version 1 of the head of a log with one entry `a` and of the empty log.
        let leaf = portal_merkle::leaf_hash(b"a");
        let mut one = vec![VERSION_ONE_ENTRY];
        one.extend_from_slice(&1u64.to_be_bytes());
        one.push(1);
        one.extend_from_slice(&leaf);
        one.push(1);
        one.push(0);
        one.extend_from_slice(&0u64.to_be_bytes());
        one.extend_from_slice(&leaf);
        one.extend_from_slice(&1u32.to_be_bytes());
        one.push(b'a');
        let decoded = Head::decode(&one).unwrap_or_else(|| panic!("version 1 head"));
        assert_eq!(decoded, Head::empty().append_all(&[b"a"]));

        let mut empty = vec![VERSION_ONE_ENTRY];
        empty.extend_from_slice(&0u64.to_be_bytes());
        empty.push(0);
        empty.push(0);
        empty.extend_from_slice(&0u32.to_be_bytes());
        assert_eq!(Head::decode(&empty), Some(Head::empty()));
    }

    #[test]
    fn truncated_or_extended_head_is_rejected() {
        let head = Head::empty()
            .append_all(&[b"one"])
            .append_all(&[b"two", b"three"]);
        let encoded = head.encode();
        for cut in 0..encoded.len() {
            assert_eq!(Head::decode(&encoded[..cut]), None, "cut at {cut}");
        }
        let mut longer = encoded.clone();
        longer.push(0);
        assert_eq!(Head::decode(&longer), None);
    }
}
