//! JPEG (ITU-T T.81): a strict walk of the marker structure, and a rebuilt copy that keeps only
//! the segments needed to decode the image.
//!
//! Kept: SOI, APP0 JFIF (without its thumbnail), APP2 ICC_PROFILE, APP14 Adobe, DQT, DHT, DAC,
//! SOFn, DRI, SOS with its entropy-coded data (including RSTn markers), DNL and EOI. Dropped:
//! APP1 (EXIF, XMP), APP13 (IPTC, Photoshop), every other APPn, COM, TEM, fill bytes between
//! segments, and everything after EOI.
//!
//! NOTE: Dropping APP1 also drops the EXIF orientation, so a photo that relied on it is shown as
//! the sensor recorded it, possibly rotated.

use crate::bytes::{be_u16, has_at};
use crate::{Checked, Finding, Limits, findings};

const SOI: u8 = 0xD8;
const EOI: u8 = 0xD9;
const SOS: u8 = 0xDA;
const DQT: u8 = 0xDB;
const DNL: u8 = 0xDC;
const DRI: u8 = 0xDD;
const DHT: u8 = 0xC4;
const DAC: u8 = 0xCC;
const TEM: u8 = 0x01;
const APP0: u8 = 0xE0;
const APP2: u8 = 0xE2;
const APP14: u8 = 0xEE;
const COM: u8 = 0xFE;

/// Length of the fixed part of a JFIF APP0 payload: identifier, version, units, densities and
/// thumbnail size (JFIF 1.02).
const JFIF_FIXED_LEN: usize = 14;

/// Reasons a JPEG is rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Error {
    Corrupt,
    TooLarge,
}

/// Checks a JPEG and returns a copy without metadata.
pub(crate) fn check<'a>(bytes: &'a [u8], limits: &Limits) -> Result<Checked<'a>, Vec<Finding>> {
    let walk = walk(bytes, limits).map_err(|error| {
        vec![match error {
            Error::Corrupt => findings::corrupt_image(),
            Error::TooLarge => findings::image_too_large(limits),
        }]
    })?;

    let trailer = walk.trailer;
    let trailer_is_padding = trailer.iter().all(|&byte| byte == 0 || byte == 0xFF);
    let metadata_removed = walk.metadata_removed || !trailer_is_padding;
    let changed = walk.changed || metadata_removed || !trailer.is_empty();

    // Multi-picture files (CIPA DC-007) store further JPEGs, such as depth maps, after the first
    // EOI and announce them in APP2 "MPF". They are dropped like any trailer, but they are not
    // a second file type hidden in the photo.
    let declared_images = walk.has_multi_picture && trailer.starts_with(&[0xFF, SOI, 0xFF]);
    Ok(Checked {
        cleaned: changed.then_some(walk.output),
        metadata_removed,
        trailer: if declared_images { &[] } else { trailer },
    })
}

/// The result of walking a well-formed JPEG.
struct Walk<'a> {
    output: Vec<u8>,
    metadata_removed: bool,
    changed: bool,
    has_multi_picture: bool,
    trailer: &'a [u8],
}

/// Walks the markers from SOI to EOI and builds the cleaned copy.
fn walk<'a>(bytes: &'a [u8], limits: &Limits) -> Result<Walk<'a>, Error> {
    let mut output = Vec::with_capacity(bytes.len());
    output.extend_from_slice(&[0xFF, SOI]);
    let mut position = 2_usize;
    let mut frame: Option<Frame> = None;
    let mut scans = 0_usize;
    let mut metadata_removed = false;
    let mut changed = false;
    let mut has_multi_picture = false;

    loop {
        if bytes.get(position) != Some(&0xFF) {
            return Err(Error::Corrupt);
        }
        // Any number of 0xFF fill bytes may precede a marker (T.81 B.1.1.2).
        let mut marker_at = position;
        while bytes.get(add(marker_at, 1)?) == Some(&0xFF) {
            marker_at = add(marker_at, 1)?;
            changed = true;
        }
        let marker = *bytes.get(add(marker_at, 1)?).ok_or(Error::Corrupt)?;
        let after_marker = add(marker_at, 2)?;

        match marker {
            EOI => {
                position = after_marker;
                break;
            }
            TEM => {
                changed = true;
                position = after_marker;
                continue;
            }
            _ if !has_length(marker) => return Err(Error::Corrupt),
            _ => {}
        }

        let length = usize::from(be_u16(bytes, after_marker).ok_or(Error::Corrupt)?);
        if length < 2 {
            return Err(Error::Corrupt);
        }
        let end = add(after_marker, length)?;
        let segment = bytes.get(marker_at..end).ok_or(Error::Corrupt)?;
        let payload = bytes
            .get(add(after_marker, 2)?..end)
            .ok_or(Error::Corrupt)?;

        match marker {
            SOS => {
                let frame = frame.as_ref().ok_or(Error::Corrupt)?;
                check_scan_header(payload, frame)?;
                let data_end = entropy_coded_end(bytes, end)?;
                output.extend_from_slice(bytes.get(marker_at..data_end).ok_or(Error::Corrupt)?);
                scans = add(scans, 1)?;
                position = data_end;
                continue;
            }
            _ if is_start_of_frame(marker) => {
                if frame.is_some() {
                    return Err(Error::Corrupt);
                }
                let parsed = Frame::parse(payload)?;
                check_size(parsed.width, parsed.height, limits)?;
                frame = Some(parsed);
                output.extend_from_slice(segment);
            }
            DHT | DQT | DAC => output.extend_from_slice(segment),
            DRI => {
                if payload.len() != 2 {
                    return Err(Error::Corrupt);
                }
                output.extend_from_slice(segment);
            }
            DNL => {
                let lines = be_u16(payload, 0).ok_or(Error::Corrupt)?;
                let frame = frame.as_mut().ok_or(Error::Corrupt)?;
                if payload.len() != 2 || scans == 0 || lines == 0 {
                    return Err(Error::Corrupt);
                }
                if frame.height == 0 {
                    frame.height = lines;
                    check_size(frame.width, frame.height, limits)?;
                }
                output.extend_from_slice(segment);
            }
            APP0 if payload.starts_with(b"JFIF\0") && payload.len() >= JFIF_FIXED_LEN => {
                let has_thumbnail = payload.len() > JFIF_FIXED_LEN || !has_at(payload, 12, &[0, 0]);
                if has_thumbnail {
                    // Rewrite with a 0 × 0 thumbnail: a thumbnail can show the photo before it
                    // was cropped or edited.
                    output.extend_from_slice(&[0xFF, APP0, 0, 16]);
                    output.extend_from_slice(payload.get(..12).ok_or(Error::Corrupt)?);
                    output.extend_from_slice(&[0, 0]);
                    metadata_removed = true;
                } else {
                    output.extend_from_slice(segment);
                }
            }
            APP2 if payload.starts_with(b"ICC_PROFILE\0") => output.extend_from_slice(segment),
            APP14 if payload.starts_with(b"Adobe") => output.extend_from_slice(segment),
            APP0..=0xEF | COM => {
                has_multi_picture |= marker == APP2 && payload.starts_with(b"MPF\0");
                metadata_removed = true;
            }
            // DHP and EXP (hierarchical mode, which libjpeg does not decode either), JPG and
            // JPGn (extensions such as JPEG-LS).
            _ => return Err(Error::Corrupt),
        }
        position = end;
    }

    let frame = frame.ok_or(Error::Corrupt)?;
    if scans == 0 || frame.height == 0 {
        return Err(Error::Corrupt);
    }
    output.extend_from_slice(&[0xFF, EOI]);
    Ok(Walk {
        output,
        metadata_removed,
        changed,
        has_multi_picture,
        trailer: bytes.get(position..).unwrap_or_default(),
    })
}

/// The frame header fields that are checked.
struct Frame {
    width: u16,
    height: u16,
    components: u8,
}

impl Frame {
    /// Parses an SOFn payload: precision, height, width, then three bytes per component.
    /// Height 0 means a DNL segment gives it after the first scan.
    fn parse(payload: &[u8]) -> Result<Self, Error> {
        let height = be_u16(payload, 1).ok_or(Error::Corrupt)?;
        let width = be_u16(payload, 3).ok_or(Error::Corrupt)?;
        let components = *payload.get(5).ok_or(Error::Corrupt)?;
        let expected_len = usize::from(components)
            .checked_mul(3)
            .and_then(|len| len.checked_add(6))
            .ok_or(Error::Corrupt)?;
        if width == 0 || components == 0 || payload.len() != expected_len {
            return Err(Error::Corrupt);
        }
        Ok(Self {
            width,
            height,
            components,
        })
    }
}

/// Checks an SOS payload: 1 to 4 components, each a selector and table byte, then the spectral
/// selection and approximation bytes.
fn check_scan_header(payload: &[u8], frame: &Frame) -> Result<(), Error> {
    let components = *payload.first().ok_or(Error::Corrupt)?;
    let expected_len = usize::from(components)
        .checked_mul(2)
        .and_then(|len| len.checked_add(4))
        .ok_or(Error::Corrupt)?;
    if !(1..=4).contains(&components)
        || components > frame.components
        || payload.len() != expected_len
    {
        return Err(Error::Corrupt);
    }
    Ok(())
}

/// Returns the offset of the marker that ends the entropy-coded data starting at `start`.
///
/// Inside entropy-coded data 0xFF is followed by a stuffed 0x00 or by RST0-RST7, optionally
/// after more 0xFF fill bytes. Any other byte after 0xFF starts the next marker, which the
/// caller then checks. Running out of bytes before a marker means the file is truncated.
fn entropy_coded_end(bytes: &[u8], start: usize) -> Result<usize, Error> {
    let mut position = start;
    loop {
        let rest = bytes.get(position..).ok_or(Error::Corrupt)?;
        let offset = rest
            .iter()
            .position(|&byte| byte == 0xFF)
            .ok_or(Error::Corrupt)?;
        let marker_at = add(position, offset)?;

        let mut next = add(marker_at, 1)?;
        while bytes.get(next) == Some(&0xFF) {
            next = add(next, 1)?;
        }
        match bytes.get(next) {
            None => return Err(Error::Corrupt),
            Some(0x00 | 0xD0..=0xD7) => position = add(next, 1)?,
            Some(_) => return Ok(marker_at),
        }
    }
}

/// Returns whether `marker` is SOF0-SOF15, leaving out DHT (C4), JPG (C8) and DAC (CC).
fn is_start_of_frame(marker: u8) -> bool {
    matches!(marker, 0xC0..=0xCF) && !matches!(marker, DHT | 0xC8 | DAC)
}

/// Returns whether `marker` is followed by a length field. SOI, EOI, TEM and RSTn stand alone,
/// 0x00 is stuffing, and 0x02-0xBF are reserved.
fn has_length(marker: u8) -> bool {
    marker >= 0xC0 && !matches!(marker, SOI | EOI | 0xD0..=0xD7 | 0xFF)
}

fn check_size(width: u16, height: u16, limits: &Limits) -> Result<(), Error> {
    let pixels = u64::from(width).saturating_mul(u64::from(height));
    let too_wide = u32::from(width) > limits.max_dimension;
    let too_tall = u32::from(height) > limits.max_dimension;
    if too_wide || too_tall || pixels > limits.max_pixels {
        return Err(Error::TooLarge);
    }
    Ok(())
}

fn add(left: usize, right: usize) -> Result<usize, Error> {
    left.checked_add(right).ok_or(Error::Corrupt)
}
