//! ZIP and OLE2 containers: telling Office documents, macros, Java and Android packages and
//! plain archives apart, and finding ZIP structures hidden inside other files.
//!
//! Nothing is decompressed. ZIP stores entry names uncompressed in each local file header and
//! central directory header (PKWARE APPNOTE 4.3.7 and 4.3.12), so the names are read in place.

use crate::bytes::{find, has_at, le_u16, le_u32};
use crate::detect::Detection;
use crate::{Limits, findings};

const LOCAL_HEADER: &[u8] = b"PK\x03\x04";
const CENTRAL_HEADER: &[u8] = b"PK\x01\x02";
const END_OF_CENTRAL_DIRECTORY: &[u8] = b"PK\x05\x06";
const ZIP64_LOCATOR: &[u8] = b"PK\x06\x07";
const SPANNED_MARKER: &[u8] = b"PK\x07\x08";
const OLE2_SIGNATURE: &[u8] = &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];

/// Compression methods that APPNOTE 4.4.5 assigns, for telling a real local file header from
/// four random bytes that happen to match its signature.
const COMPRESSION_METHODS: [u16; 19] = [
    0, 1, 2, 3, 4, 5, 6, 8, 9, 10, 12, 14, 18, 19, 93, 95, 96, 97, 98,
];

/// Maximum entry name length accepted as plausible. Real archives stay far below it.
const MAX_PLAUSIBLE_NAME: u16 = 4096;

/// Returns whether `bytes` starts like a ZIP file (including an empty or spanned one).
pub(crate) fn is_zip(bytes: &[u8]) -> bool {
    bytes.starts_with(LOCAL_HEADER)
        || bytes.starts_with(END_OF_CENTRAL_DIRECTORY)
        || (bytes.starts_with(SPANNED_MARKER) && has_at(bytes, 4, LOCAL_HEADER))
}

/// Returns whether `bytes` starts with the OLE2 compound file signature (legacy Office files).
pub(crate) fn is_ole(bytes: &[u8]) -> bool {
    bytes.starts_with(OLE2_SIGNATURE)
}

/// An entry name and the uncompressed size its header declares.
struct Entry<'a> {
    name: &'a [u8],
    declared_size: u32,
}

/// Classifies a ZIP file: Office document with or without macros, Java or Android package, or
/// plain archive.
pub(crate) fn classify_zip(bytes: &[u8], limits: &Limits) -> Detection {
    let central = entries(bytes, CENTRAL_HEADER, 28, 46, 24);
    let entries = if central.is_empty() {
        entries(bytes, LOCAL_HEADER, 26, 30, 22)
    } else {
        central
    };
    let has_name = |wanted: &[u8]| entries.iter().any(|entry| entry.name == wanted);
    let has_prefix = |prefix: &[u8]| entries.iter().any(|entry| entry.name.starts_with(prefix));

    let office_type = if has_prefix(b"word/") {
        Some("application/vnd.openxmlformats-officedocument.wordprocessingml.document")
    } else if has_prefix(b"xl/") {
        Some("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    } else if has_prefix(b"ppt/") {
        Some("application/vnd.openxmlformats-officedocument.presentationml.presentation")
    } else if has_name(b"[Content_Types].xml") {
        Some("application/vnd.openxmlformats-officedocument")
    } else if has_name(b"mimetype") && has_name(b"content.xml") {
        Some("application/vnd.oasis.opendocument")
    } else {
        None
    };
    // OOXML keeps VBA in vbaProject.bin; OpenDocument keeps Basic macros under Basic/.
    let has_macros = entries.iter().any(|entry| {
        entry.name.len() >= 14
            && entry
                .name
                .get(entry.name.len().saturating_sub(14)..)
                .is_some_and(|tail| tail.eq_ignore_ascii_case(b"vbaProject.bin"))
    }) || (office_type.is_some() && has_prefix(b"Basic/"));

    let (detected, finding) = if has_macros {
        (
            office_type.unwrap_or("application/zip"),
            findings::office_macros(),
        )
    } else if let Some(office_type) = office_type {
        (office_type, findings::office_document())
    } else if has_name(b"classes.dex") && has_name(b"AndroidManifest.xml") {
        (
            "application/vnd.android.package-archive",
            findings::executable(),
        )
    } else if has_name(b"META-INF/MANIFEST.MF") {
        ("application/java-archive", findings::executable())
    } else {
        let declared = entries.iter().fold(0_u64, |total, entry| {
            // 0xFFFFFFFF means the real size is in a ZIP64 field: at least 4 GiB.
            total.saturating_add(u64::from(entry.declared_size))
        });
        let over_limit = declared > limits.max_inflated_bytes;
        (
            "application/zip",
            findings::archive("a ZIP archive", over_limit, limits),
        )
    };
    Detection::Rejected {
        detected: Some(detected),
        finding,
    }
}

/// Classifies an OLE2 compound file (legacy .doc, .xls, .ppt): files whose directory names the
/// `_VBA_PROJECT` stream, stored as UTF-16LE, have macros.
pub(crate) fn classify_ole(bytes: &[u8]) -> Detection {
    const VBA_PROJECT_UTF16: &[u8] = b"_\0V\0B\0A\0_\0P\0R\0O\0J\0E\0C\0T\0";
    let finding = if find(bytes, VBA_PROJECT_UTF16, 0).is_some() {
        findings::office_macros()
    } else {
        findings::office_document()
    };
    Detection::Rejected {
        detected: Some("application/x-ole-storage"),
        finding,
    }
}

/// Collects the names of every header with `signature`, reading the name length at
/// `name_len_at`, the name at `name_at` and the uncompressed size at `size_at`.
fn entries<'a>(
    bytes: &'a [u8],
    signature: &[u8],
    name_len_at: usize,
    name_at: usize,
    size_at: usize,
) -> Vec<Entry<'a>> {
    let mut entries = Vec::new();
    let mut from = 0;
    while let Some(position) = find(bytes, signature, from) {
        let entry = (|| {
            let name_len = usize::from(le_u16(bytes, position.checked_add(name_len_at)?)?);
            let name_start = position.checked_add(name_at)?;
            let name = bytes.get(name_start..name_start.checked_add(name_len)?)?;
            let declared_size = le_u32(bytes, position.checked_add(size_at)?)?;
            Some(Entry {
                name,
                declared_size,
            })
        })();
        entries.extend(entry);
        let Some(next) = position.checked_add(signature.len()) else {
            break;
        };
        from = next;
    }
    entries
}

/// Returns whether `bytes` contains a ZIP structure that an archive tool could open: a
/// plausible local file header or end-of-central-directory record anywhere in the file.
///
/// Compressed image data is close to random, so the 4-byte signatures alone appear about once
/// per 4 GiB per signature, which is once in a few hundred 10 MB photos. Each match is therefore
/// checked further:
/// - a local file header needs a compression method from APPNOTE (19 of 65,536 values), an
///   entry name of 1 to 4096 bytes, and a header that fits the file, so random data matches
///   about once per 2^47 positions;
/// - an end-of-central-directory record needs a central directory header signature where its
///   size or offset fields point, or a ZIP64 locator just before it, because every archive tool
///   reads the entries from there. Random data matches about once per 2^64 positions.
pub(crate) fn has_zip_structure(bytes: &[u8]) -> bool {
    let mut from = 0;
    while let Some(position) = find(bytes, b"PK", from) {
        let found = (has_at(bytes, position, LOCAL_HEADER) && is_plausible_local(bytes, position))
            || (has_at(bytes, position, END_OF_CENTRAL_DIRECTORY)
                && is_plausible_end(bytes, position));
        if found {
            return true;
        }
        let Some(next) = position.checked_add(1) else {
            break;
        };
        from = next;
    }
    false
}

fn is_plausible_local(bytes: &[u8], position: usize) -> bool {
    let check = || {
        let method = le_u16(bytes, position.checked_add(8)?)?;
        let name_len = le_u16(bytes, position.checked_add(26)?)?;
        let extra_len = le_u16(bytes, position.checked_add(28)?)?;
        let header_end = position
            .checked_add(30)?
            .checked_add(usize::from(name_len))?
            .checked_add(usize::from(extra_len))?;
        Some(
            COMPRESSION_METHODS.contains(&method)
                && (1..=MAX_PLAUSIBLE_NAME).contains(&name_len)
                && header_end <= bytes.len(),
        )
    };
    check().unwrap_or(false)
}

fn is_plausible_end(bytes: &[u8], position: usize) -> bool {
    let check = || {
        if position
            .checked_sub(20)
            .is_some_and(|at| has_at(bytes, at, ZIP64_LOCATOR))
        {
            return Some(true);
        }
        let total_entries = le_u16(bytes, position.checked_add(10)?)?;
        let directory_size = usize::try_from(le_u32(bytes, position.checked_add(12)?)?).ok()?;
        let directory_offset = usize::try_from(le_u32(bytes, position.checked_add(16)?)?).ok()?;
        if total_entries == 0 && directory_size == 0 {
            return Some(true);
        }
        let before = position
            .checked_sub(directory_size)
            .is_some_and(|at| has_at(bytes, at, CENTRAL_HEADER));
        let at_offset =
            directory_offset < position && has_at(bytes, directory_offset, CENTRAL_HEADER);
        Some(before || at_offset)
    };
    check().unwrap_or(false)
}
