//! Polyglots: files that are valid as an accepted type and also as another type, such as a JPEG
//! that is also a ZIP archive or an HTML page.
//!
//! Each check is chosen so that ordinary files almost never match it, since compressed image
//! and PDF stream data is close to random and any short byte pattern appears in it now and then:
//! - `%PDF-` in the first 1024 bytes of a file that is not a PDF, where Adobe Reader looks for
//!   the header. In a JPEG these bytes are headers and EXIF data, not random scan data.
//! - A ZIP local file header or end-of-central-directory record anywhere, checked for
//!   plausibility so random data matches about once per 2^47 bytes (see
//!   [`archive::has_zip_structure`]).
//! - `<html`, `<script`, `<svg` or `<!doctype` in the first 1024 bytes of an image, where
//!   browsers that sniff content look.
//! - A known signature in the data after a JPEG's EOI, a PNG's IEND or a PDF's last `%%EOF`:
//!   any signature at the start of that data, and signatures of four bytes or more anywhere in
//!   it. Padding of zeros or 0xFF bytes before a signature is skipped.

use crate::bytes::{find, prefix};
use crate::{FileType, Finding, archive, detect, findings, text};

/// How far into a file the PDF header and HTML markers are looked for.
const HEAD_LEN: usize = 1024;

const HTML_MARKERS: [&[u8]; 4] = [b"<html", b"<script", b"<svg", b"<!doctype"];

/// Signatures of four bytes or more that reject a trailer wherever they appear in it, besides
/// ZIP structures and the HTML markers.
const TRAILER_SIGNATURES: [&[u8]; 10] = [
    b"%PDF-",
    b"\x89PNG\r\n\x1a\n",
    b"GIF87a",
    b"GIF89a",
    b"Rar!\x1a\x07",
    b"7z\xbc\xaf\x27\x1c",
    b"\xfd7zXZ\0",
    b"\x7fELF",
    &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1],
    b"ftyp",
];

/// Returns a `polyglot` finding when `bytes`, accepted as `file_type`, is also another type.
/// `trailer` is the data after the format's logical end.
pub(crate) fn check(file_type: FileType, bytes: &[u8], trailer: &[u8]) -> Option<Finding> {
    let head = prefix(bytes, HEAD_LEN);
    let pdf_header = file_type != FileType::Pdf && find(head, b"%PDF-", 0).is_some();
    let is_image = matches!(file_type, FileType::Jpeg | FileType::Png | FileType::Heic);
    let html_in_image = is_image && text::head_contains_any(bytes, HEAD_LEN, &HTML_MARKERS);

    let found = pdf_header
        || html_in_image
        || archive::has_zip_structure(bytes)
        || trailer_has_signature(trailer);
    found.then(findings::polyglot)
}

/// Returns whether the trailer contains another file: a signature where the trailer starts or
/// where padding before it ends, or a long signature anywhere.
fn trailer_has_signature(trailer: &[u8]) -> bool {
    // A signature may itself start with 0xFF (JPEG), so the padding is skipped in two ways.
    let after_zeros = trailer.iter().position(|&byte| byte != 0);
    let after_padding = trailer.iter().position(|&byte| byte != 0 && byte != 0xFF);
    let starts = [Some(0), after_zeros, after_padding];
    let signature_at_a_start = starts.into_iter().flatten().any(|start| {
        trailer
            .get(start..)
            .is_some_and(|rest| !rest.is_empty() && detect::signature_at_start(rest).is_some())
    });

    signature_at_a_start
        || TRAILER_SIGNATURES
            .iter()
            .any(|signature| find(trailer, signature, 0).is_some())
        || text::head_contains_any(trailer, trailer.len(), &HTML_MARKERS)
}
