//! Upload inspection for the patient portal: decides from a file's bytes whether it may be
//! stored, and returns a copy with hidden metadata removed.
//!
//! [`inspect`] detects the type from magic numbers, never from the name or declared media type,
//! and accepts only the allowlist in [`FileType`]. Each accepted type is checked by its own
//! module:
//!
//! - JPEG ([`jpeg`](crate::jpeg)): the marker structure is walked strictly and the file is
//!   rebuilt without EXIF, XMP, IPTC, comments or trailing data. The scan data is copied byte for
//!   byte, so the pixels are unchanged.
//! - PNG: every chunk CRC is checked, the image is decoded with the `png` crate, and the file is
//!   rebuilt without text, EXIF, time or other ancillary chunks that are not needed to render it.
//! - HEIC/HEIF: Exif and XMP items are overwritten with zeros in place, so box offsets stay valid.
//! - PDF: name tokens are scanned, including inside FlateDecode streams, and files with scripts,
//!   actions, attachments, XFA forms, rich media or encryption are rejected. Accepted PDFs are not
//!   changed.
//! - Plain text: UTF-8 with no control characters other than tab, LF, CR and FF, and no HTML or
//!   SVG markup.
//!
//! Files that are valid as two types at once (polyglots) are rejected, see
//! [`polyglot`](crate::polyglot).
//!
//! NOTE: The EXIF orientation tag is removed together with the rest of EXIF, so a JPEG that
//! relied on it to appear upright is shown as the camera sensor recorded it. Google and Samsung
//! motion photos, which append an MP4 video after the JPEG, are rejected as polyglots.
//!
//! The crate is pure Rust with no threads, so it builds for `wasm32-wasip2`. It is written not to
//! panic on any input: clippy's `indexing_slicing` and `arithmetic_side_effects` lints are denied
//! in it, and a property test feeds `inspect` random bytes and mutated files.

#![deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)]

mod archive;
mod bmff;
mod bytes;
mod detect;
mod findings;
mod heic;
mod inflate;
mod jpeg;
mod name;
mod pdf;
mod png;
mod polyglot;
mod text;

pub use name::corrected_name;

use detect::Detection;

/// Size limits applied while inspecting a file.
///
/// The defaults admit the photos and scans patients take today and bound the memory that one
/// inspection can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Maximum width × height of an image, in pixels. Default 50,000,000: a 48-megapixel phone
    /// photo (8064 × 6048) fits, and a viewer that decodes 50 megapixels to 8-bit RGBA needs
    /// 200 MB.
    ///
    /// NOTE: Photos from 200-megapixel phone sensors in their full-resolution mode exceed the
    /// default and are rejected as too large.
    pub max_pixels: u64,
    /// Maximum width or height of an image, in pixels. Default 20,000: wide enough for phone
    /// panoramas, and it rejects thin images whose pixel count alone would pass.
    pub max_dimension: u32,
    /// Maximum bytes that compressed data may expand to: the raw image data and ICC profile of a
    /// PNG, and all FlateDecode streams of a PDF together. Default 256 MiB, which fits a 50-megapixel 8-bit
    /// RGBA image (200 MB) with room for PNG row filter bytes.
    pub max_inflated_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_pixels: 50_000_000,
            max_dimension: 20_000,
            max_inflated_bytes: 256 * 1024 * 1024,
        }
    }
}

/// A file type that may be stored: the allowlist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileType {
    /// PDF document, version 1.x or 2.0.
    Pdf,
    /// JPEG image (JFIF or EXIF).
    Jpeg,
    /// PNG image.
    Png,
    /// HEIC or HEIF image in an ISO base media file format container.
    Heic,
    /// Plain UTF-8 text.
    Text,
}

impl FileType {
    /// Returns the media type to store and serve the file with.
    pub fn media_type(self) -> &'static str {
        match self {
            Self::Pdf => "application/pdf",
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
            Self::Heic => "image/heic",
            Self::Text => "text/plain; charset=utf-8",
        }
    }

    /// Returns the file name extension for the type, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Pdf => "pdf",
            Self::Jpeg => "jpg",
            Self::Png => "png",
            Self::Heic => "heic",
            Self::Text => "txt",
        }
    }

    /// Returns the noun used for the type in messages to patients.
    pub(crate) fn noun(self) -> &'static str {
        match self {
            Self::Pdf => "a PDF",
            Self::Jpeg => "a JPEG image",
            Self::Png => "a PNG image",
            Self::Heic => "a HEIC image",
            Self::Text => "a plain text file",
        }
    }
}

/// One result of an inspection: why a file was rejected, or what was changed in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Stable machine-readable code, such as `corrupt-image` or `pdf-javascript`.
    pub code: &'static str,
    /// A plain sentence a patient can act on. It never contains bytes of the file.
    pub message: String,
}

/// The decision on an uploaded file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The file may be stored.
    Accepted {
        /// The type detected from the bytes.
        file_type: FileType,
        /// `cleaned` is None when the bytes needed no change (avoid copying large files).
        cleaned: Option<Vec<u8>>,
        /// Notes for the patient, such as `type-mismatch` or `metadata-removed`.
        findings: Vec<Finding>,
    },
    /// The file must not be stored.
    Rejected {
        /// `detected` is a media type such as "application/zip" or "text/html" when known.
        detected: Option<&'static str>,
        /// Every reason found, at least one.
        findings: Vec<Finding>,
    },
}

/// Inspects an uploaded file and decides whether it may be stored.
///
/// The type comes from `bytes` alone. `name` and `declared_type` are used only to add a
/// `type-mismatch` finding when they disagree with the bytes. Memory use is bounded by a few
/// copies of `bytes` plus `limits.max_inflated_bytes` for an inflated PDF object stream.
pub fn inspect(name: &str, declared_type: &str, bytes: &[u8], limits: &Limits) -> Outcome {
    let file_type = match detect::detect(bytes, limits) {
        Detection::Allowed(file_type) => file_type,
        Detection::Rejected { detected, finding } => {
            return Outcome::Rejected {
                detected,
                findings: vec![finding],
            };
        }
    };

    let checked = match file_type {
        FileType::Jpeg => jpeg::check(bytes, limits),
        FileType::Png => crate::png::check(bytes, limits),
        FileType::Heic => heic::check(bytes, limits),
        FileType::Pdf => pdf::check(bytes, limits),
        FileType::Text => Ok(Checked::unchanged()),
    };

    let trailer = match &checked {
        Ok(checked) => checked.trailer,
        Err(_) => &[],
    };
    let polyglot = polyglot::check(file_type, bytes, trailer);

    match (checked, polyglot) {
        (Ok(checked), None) => accept(name, declared_type, file_type, checked),
        (checked, polyglot) => {
            let mut findings = checked.err().unwrap_or_default();
            findings.extend(polyglot);
            Outcome::Rejected {
                detected: Some(file_type.media_type()),
                findings,
            }
        }
    }
}

/// The result of a format check that found nothing to reject.
#[derive(Debug)]
pub(crate) struct Checked<'a> {
    /// The bytes to store, or None when the input can be stored as it is.
    pub(crate) cleaned: Option<Vec<u8>>,
    /// Whether metadata or other hidden data was removed.
    pub(crate) metadata_removed: bool,
    /// Bytes after the format's logical end (after a JPEG's EOI, a PNG's IEND or a PDF's last
    /// `%%EOF`), which the polyglot check examines.
    pub(crate) trailer: &'a [u8],
}

impl Checked<'_> {
    /// Returns the result for a file that is stored unchanged and has no trailer.
    pub(crate) fn unchanged() -> Self {
        Self {
            cleaned: None,
            metadata_removed: false,
            trailer: &[],
        }
    }
}

/// Builds the `Accepted` outcome with its notes for the patient.
fn accept(name: &str, declared_type: &str, file_type: FileType, checked: Checked<'_>) -> Outcome {
    let mut findings = Vec::new();
    if let Some(mismatch) = name::type_mismatch(name, declared_type, file_type) {
        findings.push(mismatch);
    }
    if checked.metadata_removed {
        findings.push(findings::metadata_removed());
    }
    Outcome::Accepted {
        file_type,
        cleaned: checked.cleaned,
        findings,
    }
}
