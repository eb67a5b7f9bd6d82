//! Bounds-checked reads and searches over byte slices, so parsers never index out of range.

/// Returns `N` bytes starting at `at`, or None past the end.
pub(crate) fn array<const N: usize>(bytes: &[u8], at: usize) -> Option<[u8; N]> {
    let end = at.checked_add(N)?;
    bytes.get(at..end)?.try_into().ok()
}

/// Reads a big-endian `u16` at `at`.
pub(crate) fn be_u16(bytes: &[u8], at: usize) -> Option<u16> {
    array(bytes, at).map(u16::from_be_bytes)
}

/// Reads a big-endian `u32` at `at`.
pub(crate) fn be_u32(bytes: &[u8], at: usize) -> Option<u32> {
    array(bytes, at).map(u32::from_be_bytes)
}

/// Reads a big-endian `u64` at `at`.
pub(crate) fn be_u64(bytes: &[u8], at: usize) -> Option<u64> {
    array(bytes, at).map(u64::from_be_bytes)
}

/// Reads a little-endian `u16` at `at`.
pub(crate) fn le_u16(bytes: &[u8], at: usize) -> Option<u16> {
    array(bytes, at).map(u16::from_le_bytes)
}

/// Reads a little-endian `u32` at `at`.
pub(crate) fn le_u32(bytes: &[u8], at: usize) -> Option<u32> {
    array(bytes, at).map(u32::from_le_bytes)
}

/// Returns whether `bytes` contains `needle` starting at `at`.
pub(crate) fn has_at(bytes: &[u8], at: usize, needle: &[u8]) -> bool {
    bytes.get(at..).is_some_and(|rest| rest.starts_with(needle))
}

/// Returns the first position at or after `from` where `needle` starts.
pub(crate) fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    let first = *needle.first()?;
    let mut start = from;
    loop {
        let offset = haystack.get(start..)?.iter().position(|&b| b == first)?;
        let candidate = start.checked_add(offset)?;
        if has_at(haystack, candidate, needle) {
            return Some(candidate);
        }
        start = candidate.checked_add(1)?;
    }
}

/// Returns the last position where `needle` starts.
pub(crate) fn rfind(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    haystack
        .windows(needle.len())
        .rposition(|window| window == needle)
}

/// Returns the first `len` bytes, or all of them when the slice is shorter.
pub(crate) fn prefix(bytes: &[u8], len: usize) -> &[u8] {
    bytes.get(..len).unwrap_or(bytes)
}
