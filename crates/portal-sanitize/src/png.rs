//! PNG (ISO/IEC 15948, W3C PNG Third Edition): chunk CRCs and order, a full decode with the
//! `png` crate, and a rebuilt copy without metadata chunks.
//!
//! Kept: IHDR, PLTE, IDAT, IEND and the ancillary chunks that change how pixels look (tRNS, gAMA,
//! cHRM, sRGB, iCCP, sBIT, pHYs, bKGD). Dropped: tEXt, zTXt, iTXt, eXIf, tIME, APNG animation
//! chunks and every other ancillary chunk, and anything after IEND. An unknown critical chunk
//! cannot be dropped safely, so the file is rejected.

use std::io::Cursor;

use crate::bytes::{array, be_u32};
use crate::inflate::{InflateError, Inflater};
use crate::{Checked, Finding, Limits, findings};

const SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

/// The PNG specification limits chunk lengths and image dimensions to 2^31 - 1.
const MAX_PNG_VALUE: u32 = 0x7FFF_FFFF;

const KEPT_ANCILLARY: [&[u8; 4]; 8] = [
    b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"iCCP", b"sBIT", b"pHYs", b"bKGD",
];

/// Adam7 passes as (first column, first row, column step, row step).
const ADAM7_PASSES: [(u64, u64, u64, u64); 7] = [
    (0, 0, 8, 8),
    (4, 0, 8, 8),
    (0, 4, 4, 8),
    (2, 0, 4, 4),
    (0, 2, 2, 4),
    (1, 0, 2, 2),
    (0, 1, 1, 2),
];

/// Checks a PNG and returns a copy without metadata chunks.
pub(crate) fn check<'a>(bytes: &'a [u8], limits: &Limits) -> Result<Checked<'a>, Vec<Finding>> {
    let walk = walk(bytes).ok_or_else(|| vec![findings::corrupt_image()])?;
    let header = &walk.header;

    let pixels = u64::from(header.width).saturating_mul(u64::from(header.height));
    if header.width > limits.max_dimension
        || header.height > limits.max_dimension
        || pixels > limits.max_pixels
    {
        return Err(vec![findings::image_too_large(limits)]);
    }
    let inflated_len = header.image_data_len().unwrap_or(u64::MAX);
    if inflated_len > limits.max_inflated_bytes {
        return Err(vec![findings::decompression_limit(limits)]);
    }

    // The `png` crate ignores an iCCP profile it cannot inflate, but the chunk is kept and
    // other decoders inflate it, so it is checked here against what the image data leaves of
    // the budget.
    if let Some(profile) = walk.icc_profile {
        let budget = limits.max_inflated_bytes.saturating_sub(inflated_len);
        check_icc_profile(profile, budget).map_err(|error| {
            vec![match error {
                InflateError::OverLimit => findings::decompression_limit(limits),
                InflateError::Corrupt => findings::corrupt_image(),
            }]
        })?;
    }

    let trailer = walk.trailer;
    let trailer_is_padding = trailer.iter().all(|&byte| byte == 0);
    let metadata_removed = walk.metadata_removed || !trailer_is_padding;
    let cleaned = (metadata_removed || !trailer.is_empty()).then_some(walk.output);

    decode(cleaned.as_deref().unwrap_or(bytes), limits).map_err(|finding| vec![finding])?;
    Ok(Checked {
        cleaned,
        metadata_removed,
        trailer,
    })
}

/// The IHDR fields.
struct Header {
    width: u32,
    height: u32,
    bits_per_pixel: u8,
    interlaced: bool,
}

impl Header {
    /// Parses IHDR and checks the bit depth against the colour type (PNG table 11.1).
    fn parse(data: &[u8]) -> Option<Self> {
        let width = be_u32(data, 0)?;
        let height = be_u32(data, 4)?;
        let [bit_depth, color_type, compression, filter, interlace] = array::<5>(data, 8)?;

        let depth_ok = |depths: &[u8]| depths.contains(&bit_depth);
        let channels: u8 = match color_type {
            0 if depth_ok(&[1, 2, 4, 8, 16]) => 1,
            3 if depth_ok(&[1, 2, 4, 8]) => 1,
            2 if depth_ok(&[8, 16]) => 3,
            4 if depth_ok(&[8, 16]) => 2,
            6 if depth_ok(&[8, 16]) => 4,
            _ => return None,
        };
        let valid = data.len() == 13
            && (1..=MAX_PNG_VALUE).contains(&width)
            && (1..=MAX_PNG_VALUE).contains(&height)
            && compression == 0
            && filter == 0
            && interlace <= 1;
        valid.then_some(Self {
            width,
            height,
            bits_per_pixel: channels.checked_mul(bit_depth)?,
            interlaced: interlace == 1,
        })
    }

    /// Returns the length of the decompressed image data: every row of every pass with its
    /// filter-type byte.
    fn image_data_len(&self) -> Option<u64> {
        let width = u64::from(self.width);
        let height = u64::from(self.height);
        if !self.interlaced {
            return height.checked_mul(self.row_len(width)?);
        }
        ADAM7_PASSES
            .iter()
            .try_fold(0_u64, |total, &(x0, y0, dx, dy)| {
                let columns = width.checked_sub(x0).map_or(Some(0), |rest| {
                    rest.checked_add(dx)?.checked_sub(1)?.checked_div(dx)
                })?;
                let rows = height.checked_sub(y0).map_or(Some(0), |rest| {
                    rest.checked_add(dy)?.checked_sub(1)?.checked_div(dy)
                })?;
                if columns == 0 || rows == 0 {
                    return Some(total);
                }
                total.checked_add(rows.checked_mul(self.row_len(columns)?)?)
            })
    }

    /// Returns the bytes of one filtered row of `width` pixels.
    fn row_len(&self, width: u64) -> Option<u64> {
        width
            .checked_mul(u64::from(self.bits_per_pixel))?
            .checked_add(7)?
            .checked_div(8)?
            .checked_add(1)
    }
}

/// The result of walking a well-formed chunk sequence.
struct Walk<'a> {
    header: Header,
    icc_profile: Option<&'a [u8]>,
    output: Vec<u8>,
    metadata_removed: bool,
    trailer: &'a [u8],
}

/// Walks the chunks from the signature to IEND, checking each CRC and the chunk order, and
/// builds the copy with only the kept chunks. Returns None for a damaged file or one with an
/// unknown critical chunk.
fn walk(bytes: &[u8]) -> Option<Walk<'_>> {
    let mut output = Vec::with_capacity(bytes.len());
    output.extend_from_slice(bytes.get(..SIGNATURE.len())?);
    let mut position = SIGNATURE.len();
    let mut header = None;
    let mut icc_profile = None;
    let mut metadata_removed = false;
    let (mut seen_palette, mut seen_data, mut data_ended) = (false, false, false);

    loop {
        let length = be_u32(bytes, position)?;
        if length > MAX_PNG_VALUE {
            return None;
        }
        let kind = array::<4>(bytes, position.checked_add(4)?)?;
        let data_start = position.checked_add(8)?;
        let data_end = data_start.checked_add(usize::try_from(length).ok()?)?;
        let data = bytes.get(data_start..data_end)?;
        let stored_crc = be_u32(bytes, data_end)?;
        let chunk_end = data_end.checked_add(4)?;
        let chunk = bytes.get(position..chunk_end)?;

        let mut hasher = crc32fast::Hasher::new();
        hasher.update(&kind);
        hasher.update(data);
        if hasher.finalize() != stored_crc || !kind.iter().all(u8::is_ascii_alphabetic) {
            return None;
        }
        if header.is_none() && &kind != b"IHDR" {
            return None;
        }
        if seen_data && &kind != b"IDAT" {
            data_ended = true;
        }

        match &kind {
            b"IHDR" => {
                if header.is_some() {
                    return None;
                }
                header = Some(Header::parse(data)?);
                output.extend_from_slice(chunk);
            }
            b"PLTE" => {
                if seen_palette || seen_data {
                    return None;
                }
                seen_palette = true;
                output.extend_from_slice(chunk);
            }
            b"IDAT" => {
                // IDAT chunks must be consecutive.
                if data_ended {
                    return None;
                }
                seen_data = true;
                output.extend_from_slice(chunk);
            }
            b"IEND" => {
                if !data.is_empty() || !seen_data {
                    return None;
                }
                output.extend_from_slice(chunk);
                return Some(Walk {
                    header: header?,
                    icc_profile,
                    output,
                    metadata_removed,
                    trailer: bytes.get(chunk_end..).unwrap_or_default(),
                });
            }
            // A critical chunk (uppercase first letter) that this decoder does not know, such
            // as Apple's CgBI, changes how the image decodes.
            _ if kind.first().is_some_and(u8::is_ascii_uppercase) => return None,
            b"iCCP" => {
                if icc_profile.replace(data).is_some() {
                    return None;
                }
                output.extend_from_slice(chunk);
            }
            _ if KEPT_ANCILLARY.contains(&&kind) => output.extend_from_slice(chunk),
            _ => metadata_removed = true,
        }
        position = chunk_end;
    }
}

/// Inflates an iCCP chunk's profile: a keyword of 1 to 79 bytes, a NUL, compression method 0,
/// then the zlib stream.
fn check_icc_profile(data: &[u8], budget: u64) -> Result<(), InflateError> {
    let keyword_len = data.iter().position(|&byte| byte == 0);
    let Some(keyword_len @ 1..=79) = keyword_len else {
        return Err(InflateError::Corrupt);
    };
    let method_at = keyword_len.saturating_add(1);
    if data.get(method_at) != Some(&0) {
        return Err(InflateError::Corrupt);
    }
    let compressed = data.get(method_at.saturating_add(1)..).unwrap_or_default();
    Inflater::new(budget).inflate(compressed, |_| {})
}

/// Decodes every row with the `png` crate, so a broken zlib stream, a bad filter type or a
/// missing row is caught. Memory is bounded by one row and by `png::Limits`, which covers the
/// decoder's own buffers and compressed chunks such as iCCP.
fn decode(bytes: &[u8], limits: &Limits) -> Result<(), Finding> {
    let memory = usize::try_from(limits.max_inflated_bytes).unwrap_or(usize::MAX);
    let mut decoder =
        ::png::Decoder::new_with_limits(Cursor::new(bytes), ::png::Limits { bytes: memory });
    decoder.set_ignore_text_chunk(true);

    let map_error = |error: ::png::DecodingError| match error {
        ::png::DecodingError::LimitsExceeded => findings::decompression_limit(limits),
        _ => findings::corrupt_image(),
    };
    let mut reader = decoder.read_info().map_err(map_error)?;
    while reader.next_row().map_err(map_error)?.is_some() {}
    reader.finish().map_err(map_error)
}
