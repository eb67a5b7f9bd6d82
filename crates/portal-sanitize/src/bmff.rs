//! Boxes of the ISO base media file format (ISO/IEC 14496-12), the container of HEIC, AVIF and
//! MP4: bounds-checked iteration, a cursor for box fields and the `ftyp` brand check.

use crate::bytes::{array, be_u16, be_u32, be_u64, has_at};
use crate::detect::Detection;
use crate::{FileType, findings};

/// Brands of HEIF files (ISO/IEC 23008-12) that are accepted: HEVC-coded images and image
/// sequences, and the structural brands `mif1` and `msf1`.
const HEIF_BRANDS: [&[u8; 4]; 8] = [
    b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1",
];

/// The HEIF brands that name the HEVC codec.
const HEVC_BRANDS: [&[u8; 4]; 6] = [b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx"];

/// Brands of AVIF, which also lists `mif1` but is not accepted.
const AVIF_BRANDS: [&[u8; 4]; 2] = [b"avif", b"avis"];

/// A box: its type and where its header, body and end are in the file.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BoxHeader {
    /// The four-character box type.
    pub(crate) kind: [u8; 4],
    /// Offset of the size field.
    pub(crate) start: usize,
    /// Offset of the first byte after the header (and after the `uuid` user type).
    pub(crate) body: usize,
    /// Offset of the first byte after the box.
    pub(crate) end: usize,
}

/// A box header that does not fit its parent or the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Malformed;

/// Iterator over the boxes in `start..end`; it stops after the first malformed box.
pub(crate) struct Boxes<'a> {
    bytes: &'a [u8],
    position: usize,
    end: usize,
    failed: bool,
}

/// Returns the boxes in `start..end` of `bytes`.
pub(crate) fn boxes(bytes: &[u8], start: usize, end: usize) -> Boxes<'_> {
    Boxes {
        bytes,
        position: start,
        end,
        failed: false,
    }
}

impl Iterator for Boxes<'_> {
    type Item = Result<BoxHeader, Malformed>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.position >= self.end {
            return None;
        }
        let header = parse_header(self.bytes, self.position, self.end);
        match header {
            Ok(header) => self.position = header.end,
            Err(Malformed) => self.failed = true,
        }
        Some(header)
    }
}

/// Parses the box header at `position`. A 32-bit size of 1 means a 64-bit size follows, and a
/// size of 0 means the box runs to `end`.
fn parse_header(bytes: &[u8], position: usize, end: usize) -> Result<BoxHeader, Malformed> {
    let size = be_u32(bytes, position).ok_or(Malformed)?;
    let kind = array::<4>(bytes, position.checked_add(4).ok_or(Malformed)?).ok_or(Malformed)?;

    let (size, mut header_len) = match size {
        0 => (end.checked_sub(position).ok_or(Malformed)?, 8_usize),
        1 => {
            let large =
                be_u64(bytes, position.checked_add(8).ok_or(Malformed)?).ok_or(Malformed)?;
            (usize::try_from(large).map_err(|_| Malformed)?, 16)
        }
        size => (usize::try_from(size).map_err(|_| Malformed)?, 8),
    };
    if &kind == b"uuid" {
        header_len = header_len.checked_add(16).ok_or(Malformed)?;
    }

    let box_end = position.checked_add(size).ok_or(Malformed)?;
    let body = position.checked_add(header_len).ok_or(Malformed)?;
    if size < header_len || box_end > end || box_end > bytes.len() {
        return Err(Malformed);
    }
    Ok(BoxHeader {
        kind,
        start: position,
        body,
        end: box_end,
    })
}

/// Returns whether the file starts with an `ftyp` box, as ISO base media files do.
pub(crate) fn is_ftyp(bytes: &[u8]) -> bool {
    has_at(bytes, 4, b"ftyp")
}

/// Decides from the `ftyp` brands whether an ISO base media file is HEIC/HEIF.
///
/// AVIF files also list `mif1`, so a file with an AVIF brand and no HEVC brand is AVIF.
pub(crate) fn classify_brands(bytes: &[u8]) -> Detection {
    let brands = brands(bytes);
    let has = |set: &[&[u8; 4]]| brands.iter().any(|brand| set.contains(&brand));

    if has(&AVIF_BRANDS) && !has(&HEVC_BRANDS) {
        return Detection::Rejected {
            detected: Some("image/avif"),
            finding: findings::type_not_allowed("an AVIF image"),
        };
    }
    if has(&HEIF_BRANDS) {
        return Detection::Allowed(FileType::Heic);
    }
    let (detected, noun) = match brands.first() {
        Some(b"qt  ") => ("video/quicktime", "a QuickTime video"),
        Some(b"crx ") => ("image/x-canon-cr3", "a camera raw image"),
        _ => ("video/mp4", "a video or audio file"),
    };
    Detection::Rejected {
        detected: Some(detected),
        finding: findings::type_not_allowed(noun),
    }
}

/// Returns the major brand followed by the compatible brands of the leading `ftyp` box.
fn brands(bytes: &[u8]) -> Vec<[u8; 4]> {
    let declared_end = be_u32(bytes, 0)
        .and_then(|size| usize::try_from(size).ok())
        .unwrap_or(0);
    let end = declared_end.min(bytes.len());

    let mut brands = Vec::new();
    if let Some(major) = array::<4>(bytes, 8) {
        brands.push(major);
    }
    let mut position = 16_usize;
    while position < end {
        let Some(brand) = array::<4>(bytes, position) else {
            break;
        };
        brands.push(brand);
        let Some(next) = position.checked_add(4) else {
            break;
        };
        position = next;
    }
    brands
}

/// Replaces a box with a `free` box of the same size: the type becomes `free` and the body
/// becomes zeros, so every offset in the file stays valid and readers skip the box. The size
/// fields are kept, and so is the user type of a `uuid` box.
pub(crate) fn neutralize(bytes: &mut [u8], header: &BoxHeader) {
    if let Some(kind) = header
        .start
        .checked_add(4)
        .and_then(|at| bytes.get_mut(at..at.checked_add(4)?))
    {
        kind.copy_from_slice(b"free");
    }
    if let Some(body) = bytes.get_mut(header.body..header.end) {
        body.fill(0);
    }
}

/// A cursor over `position..end` of the file.
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    /// Offset of the next byte to read.
    pub(crate) position: usize,
    end: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8], position: usize, end: usize) -> Self {
        Self {
            bytes,
            position,
            end,
        }
    }

    pub(crate) fn bytes(&mut self, len: usize) -> Result<&'a [u8], Malformed> {
        let end = self.position.checked_add(len).ok_or(Malformed)?;
        if end > self.end {
            return Err(Malformed);
        }
        let slice = self.bytes.get(self.position..end).ok_or(Malformed)?;
        self.position = end;
        Ok(slice)
    }

    pub(crate) fn skip(&mut self, len: usize) -> Result<(), Malformed> {
        self.bytes(len).map(|_| ())
    }

    pub(crate) fn u8(&mut self) -> Result<u8, Malformed> {
        self.bytes(1)?.first().copied().ok_or(Malformed)
    }

    pub(crate) fn u16(&mut self) -> Result<u16, Malformed> {
        be_u16(self.bytes(2)?, 0).ok_or(Malformed)
    }

    pub(crate) fn u32(&mut self) -> Result<u32, Malformed> {
        be_u32(self.bytes(4)?, 0).ok_or(Malformed)
    }

    /// Reads an unsigned integer of 0, 4 or 8 bytes; 0 bytes reads as 0.
    pub(crate) fn uint(&mut self, size: u8) -> Result<u64, Malformed> {
        let field = self.bytes(usize::from(size))?;
        match size {
            0 => Ok(0),
            4 => be_u32(field, 0).map(u64::from).ok_or(Malformed),
            8 => be_u64(field, 0).ok_or(Malformed),
            _ => Err(Malformed),
        }
    }

    /// Reads a NUL-terminated string; a missing terminator ends the string at the box end.
    pub(crate) fn c_string(&mut self) -> &'a [u8] {
        let rest = self.bytes.get(self.position..self.end).unwrap_or_default();
        let len = rest
            .iter()
            .position(|&byte| byte == 0)
            .unwrap_or(rest.len());
        let consumed = len.saturating_add(1).min(rest.len());
        self.position = self.position.saturating_add(consumed);
        rest.get(..len).unwrap_or_default()
    }
}
