//! The tree head: size, frontier, and the newest entry with the nodes it completed.
//!
//! Encoding, all integers big-endian: version `1` (1 byte), size (8), frontier length `F` (1),
//! `F` hashes (32 each), completed-node count `N` (1), `N` times level (1), index (8) and hash
//! (32), entry length `L` (4), and `L` entry bytes.

use portal_merkle::{Frontier, Hash, StoredNode};

const VERSION: u8 = 1;

/// The committed state of the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Head {
    frontier: Frontier,
    last_nodes: Vec<StoredNode>,
    last_entry: Vec<u8>,
}

impl Head {
    pub(crate) fn empty() -> Self {
        Self {
            frontier: Frontier::new(),
            last_nodes: Vec::new(),
            last_entry: Vec::new(),
        }
    }

    pub(crate) fn size(&self) -> u64 {
        self.frontier.size()
    }

    pub(crate) fn root(&self) -> Hash {
        self.frontier.root()
    }

    pub(crate) fn last_entry(&self) -> &[u8] {
        &self.last_entry
    }

    pub(crate) fn last_nodes(&self) -> &[StoredNode] {
        &self.last_nodes
    }

    /// Returns the head after appending `entry`.
    pub(crate) fn append(&self, entry: &[u8]) -> Self {
        let mut frontier = self.frontier.clone();
        let last_nodes = frontier.append(portal_merkle::leaf_hash(entry));
        Self {
            frontier,
            last_nodes,
            last_entry: entry.to_vec(),
        }
    }

    pub(crate) fn encode(&self) -> Vec<u8> {
        let roots = self.frontier.roots();
        let mut out = Vec::with_capacity(
            16 + roots.len() * 32 + self.last_nodes.len() * 41 + self.last_entry.len(),
        );
        out.push(VERSION);
        out.extend_from_slice(&self.frontier.size().to_be_bytes());
        out.push(roots.len() as u8);
        for root in roots {
            out.extend_from_slice(root);
        }
        out.push(self.last_nodes.len() as u8);
        for node in &self.last_nodes {
            out.push(node.level as u8);
            out.extend_from_slice(&node.index.to_be_bytes());
            out.extend_from_slice(&node.hash);
        }
        out.extend_from_slice(&(self.last_entry.len() as u32).to_be_bytes());
        out.extend_from_slice(&self.last_entry);
        out
    }

    /// Decodes a head; `None` for any malformed input.
    pub(crate) fn decode(bytes: &[u8]) -> Option<Self> {
        let mut reader = Reader(bytes);
        if reader.byte()? != VERSION {
            return None;
        }
        let size = u64::from_be_bytes(reader.array()?);
        let root_count = reader.byte()? as usize;
        let mut roots = Vec::with_capacity(root_count);
        for _ in 0..root_count {
            roots.push(reader.array()?);
        }
        let frontier = Frontier::from_parts(size, roots)?;

        let node_count = reader.byte()? as usize;
        let mut last_nodes = Vec::with_capacity(node_count);
        for _ in 0..node_count {
            let level = u32::from(reader.byte()?);
            let index = u64::from_be_bytes(reader.array()?);
            let hash = reader.array()?;
            last_nodes.push(StoredNode { level, index, hash });
        }

        let length = u32::from_be_bytes(reader.array()?) as usize;
        let last_entry = reader.take(length)?.to_vec();
        // A non-empty log always carries its newest entry, and the empty log none.
        if !reader.0.is_empty() || (size > 0) == last_entry.is_empty() {
            return None;
        }
        Some(Self {
            frontier,
            last_nodes,
            last_entry,
        })
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
        for i in 0..13u32 {
            head = head.append(&i.to_be_bytes());
            assert_eq!(Head::decode(&head.encode()), Some(head.clone()));
        }
    }

    #[test]
    fn truncated_or_extended_head_is_rejected() {
        let head = Head::empty().append(b"one").append(b"two").append(b"three");
        let encoded = head.encode();
        for cut in 0..encoded.len() {
            assert_eq!(Head::decode(&encoded[..cut]), None, "cut at {cut}");
        }
        let mut longer = encoded.clone();
        longer.push(0);
        assert_eq!(Head::decode(&longer), None);
    }
}
