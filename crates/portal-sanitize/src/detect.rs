//! File type detection from magic numbers.
//!
//! The signatures are those published with each format, among them the PDF, PNG, JPEG,
//! ISO/IEC 14496-12, ZIP APPNOTE and ELF specifications. Where a signature is two or three bytes
//! long and could begin ordinary text, more of the header is checked.

use crate::bytes::{array, has_at, le_u32};
use crate::{FileType, Limits, archive, findings, text};
use crate::{Finding, bmff};

/// The type detected from a file's bytes.
#[derive(Debug)]
pub(crate) enum Detection {
    /// A type on the allowlist, still to be checked by its module.
    Allowed(FileType),
    /// A type that is never stored.
    Rejected {
        /// Media type of the file, when known.
        detected: Option<&'static str>,
        /// The reason for the rejection.
        finding: Finding,
    },
}

/// A known binary type that is rejected, and how to describe it.
struct Rejected {
    media_type: Option<&'static str>,
    kind: Kind,
}

enum Kind {
    NotAllowed(&'static str),
    Archive(&'static str),
    Executable,
    Office,
}

/// Detects the type of `bytes`.
pub(crate) fn detect(bytes: &[u8], limits: &Limits) -> Detection {
    if bytes.is_empty() {
        return Detection::Rejected {
            detected: None,
            finding: findings::empty(),
        };
    }
    if let Some(file_type) = allowed_binary(bytes) {
        return Detection::Allowed(file_type);
    }
    if bmff::is_ftyp(bytes) {
        return bmff::classify_brands(bytes);
    }
    if archive::is_zip(bytes) {
        return archive::classify_zip(bytes, limits);
    }
    if archive::is_ole(bytes) {
        return archive::classify_ole(bytes);
    }
    if let Some(rejected) = rejected_binary(bytes) {
        let finding = match rejected.kind {
            Kind::NotAllowed(noun) => findings::type_not_allowed(noun),
            Kind::Archive(noun) => findings::archive(noun, false, limits),
            Kind::Executable => findings::executable(),
            Kind::Office => findings::office_document(),
        };
        return Detection::Rejected {
            detected: rejected.media_type,
            finding,
        };
    }
    if bytes.starts_with(b"MZ") && !text::is_plain_text(bytes) {
        return Detection::Rejected {
            detected: Some("application/vnd.microsoft.portable-executable"),
            finding: findings::executable(),
        };
    }
    text::classify(bytes)
}

/// Returns the media type of a known non-text signature at the start of `bytes`.
///
/// The polyglot check uses this on data found after an image's end.
pub(crate) fn signature_at_start(bytes: &[u8]) -> Option<&'static str> {
    if let Some(file_type) = allowed_binary(bytes) {
        return Some(file_type.media_type());
    }
    if bmff::is_ftyp(bytes) {
        return Some("video/mp4");
    }
    if archive::is_zip(bytes) {
        return Some("application/zip");
    }
    if archive::is_ole(bytes) {
        return Some("application/x-ole-storage");
    }
    if bytes.starts_with(b"MZ") {
        return Some("application/vnd.microsoft.portable-executable");
    }
    if bytes.starts_with(b"<") && text::markup(bytes).is_some() {
        return Some("text/html");
    }
    rejected_binary(bytes).map(|rejected| rejected.media_type.unwrap_or("application/octet-stream"))
}

/// Detects PDF, JPEG and PNG by their signatures. HEIC is detected with the other ISO base
/// media files.
fn allowed_binary(bytes: &[u8]) -> Option<FileType> {
    if bytes.starts_with(b"%PDF-") {
        Some(FileType::Pdf)
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(FileType::Jpeg)
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(FileType::Png)
    } else {
        None
    }
}

/// Detects rejected binary types by signature.
fn rejected_binary(bytes: &[u8]) -> Option<Rejected> {
    let not_allowed = |media_type, noun| Rejected {
        media_type: Some(media_type),
        kind: Kind::NotAllowed(noun),
    };
    let archive = |media_type, noun| Rejected {
        media_type: Some(media_type),
        kind: Kind::Archive(noun),
    };
    let executable = |media_type| Rejected {
        media_type: Some(media_type),
        kind: Kind::Executable,
    };
    let starts = |signature: &[u8]| bytes.starts_with(signature);

    let rejected = if starts(b"GIF87a") || starts(b"GIF89a") {
        not_allowed("image/gif", "a GIF image")
    } else if starts(b"II*\0") || starts(b"MM\0*") || starts(b"II+\0") || starts(b"MM\0+") {
        not_allowed("image/tiff", "a TIFF image")
    } else if starts(b"RIFF") && has_at(bytes, 8, b"WEBP") {
        not_allowed("image/webp", "a WebP image")
    } else if starts(b"RIFF") {
        Rejected {
            media_type: None,
            kind: Kind::NotAllowed("an audio or video file"),
        }
    } else if is_bmp(bytes) {
        not_allowed("image/bmp", "a BMP image")
    } else if starts(b"8BPS") {
        not_allowed("image/vnd.adobe.photoshop", "a Photoshop document")
    } else if starts(&[0, 0, 1, 0]) {
        not_allowed("image/vnd.microsoft.icon", "an icon file")
    } else if starts(&[0xFF, 0x0A]) || starts(b"\0\0\0\x0cJXL \r\n\x87\n") {
        not_allowed("image/jxl", "a JPEG XL image")
    } else if starts(b"\0\0\0\x0cjP  \r\n\x87\n") {
        not_allowed("image/jp2", "a JPEG 2000 image")
    } else if starts(b"%!PS") {
        not_allowed("application/postscript", "a PostScript file")
    } else if starts(&[0x1F, 0x8B]) {
        archive("application/gzip", "a gzip archive")
    } else if starts(b"7z\xbc\xaf\x27\x1c") {
        archive("application/x-7z-compressed", "a 7-Zip archive")
    } else if starts(b"Rar!\x1a\x07") {
        archive("application/vnd.rar", "a RAR archive")
    } else if is_bzip2(bytes) {
        archive("application/x-bzip2", "a bzip2 archive")
    } else if starts(b"\xfd7zXZ\0") {
        archive("application/x-xz", "an xz archive")
    } else if starts(&[0x28, 0xB5, 0x2F, 0xFD]) {
        archive("application/zstd", "a Zstandard archive")
    } else if has_at(bytes, 257, b"ustar") {
        archive("application/x-tar", "a tar archive")
    } else if starts(b"MSCF\0\0\0\0") {
        archive("application/vnd.ms-cab-compressed", "a cabinet archive")
    } else if starts(b"\x7fELF") {
        executable("application/x-elf")
    } else if is_mach_o(bytes) {
        executable("application/x-mach-binary")
    } else if starts(&[0xCA, 0xFE, 0xBA, 0xBE]) {
        executable("application/java-vm")
    } else if starts(b"\0asm") {
        executable("application/wasm")
    } else if starts(b"#!") {
        executable("text/x-shellscript")
    } else if starts(b"{\\rtf") {
        Rejected {
            media_type: Some("application/rtf"),
            kind: Kind::Office,
        }
    } else {
        return None;
    };
    Some(rejected)
}

/// Checks a BMP header beyond "BM", which could also begin a line of text: the DIB header that
/// follows the 14-byte file header has one of the sizes that Windows and OS/2 define.
fn is_bmp(bytes: &[u8]) -> bool {
    const DIB_HEADER_SIZES: [u32; 7] = [12, 40, 52, 56, 64, 108, 124];
    bytes.starts_with(b"BM")
        && le_u32(bytes, 14).is_some_and(|size| DIB_HEADER_SIZES.contains(&size))
}

/// Checks "BZh", a block size digit and the magic of the first block or of the end of stream.
fn is_bzip2(bytes: &[u8]) -> bool {
    let block_size = bytes.get(3).copied().unwrap_or(0);
    bytes.starts_with(b"BZh")
        && (b'1'..=b'9').contains(&block_size)
        && (has_at(bytes, 4, &[0x31, 0x41, 0x59, 0x26, 0x53, 0x59])
            || has_at(bytes, 4, &[0x17, 0x72, 0x45, 0x38, 0x50, 0x90]))
}

/// Checks the 32- and 64-bit Mach-O magic numbers in both byte orders.
fn is_mach_o(bytes: &[u8]) -> bool {
    matches!(
        array::<4>(bytes, 0),
        Some([0xFE, 0xED, 0xFA, 0xCE | 0xCF] | [0xCE | 0xCF, 0xFA, 0xED, 0xFE])
    )
}
