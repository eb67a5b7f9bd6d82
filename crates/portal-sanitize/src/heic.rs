//! HEIC/HEIF (ISO/IEC 23008-12): the box structure is walked with strict bounds, image sizes
//! are checked, and Exif and XMP items are overwritten with zeros in a copy.
//!
//! Metadata items are found in the top-level `meta` box: `infe` entries (versions 0 to 3) of
//! type `Exif`, or of type `mime` with content type `application/rdf+xml` (XMP), and their
//! extents in `iloc` (versions 0 to 2). Zeroing keeps every offset valid, so the image decodes as
//! before. Only extents stored by file offset (construction method 0) inside an `mdat` box can be
//! zeroed this way, so a metadata item stored another way is rejected. `uuid` and `udta` boxes at the top level, and
//! `udta` and `meta` boxes of image sequence tracks, are turned into `free` boxes.
//!
//! NOTE: A file without a top-level `meta` box (a bare image sequence) is rejected, because its
//! image size is not checked.

use std::ops::Range;

use crate::bmff::{self, BoxHeader, Malformed, Reader};
use crate::bytes::{be_u32, has_at};
use crate::{Checked, Finding, Limits, findings};

/// Reasons a HEIF file is rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Error {
    Corrupt,
    TooLarge,
}

impl From<Malformed> for Error {
    fn from(_: Malformed) -> Self {
        Self::Corrupt
    }
}

/// Byte ranges and boxes to remove from the copy.
#[derive(Default)]
struct Plan {
    zeroed: Vec<Range<usize>>,
    neutralized: Vec<BoxHeader>,
}

/// The body of every top-level `mdat` box. Metadata extents must lie inside one, so zeroing
/// them never touches a box header or the `meta` box.
type MediaData = Vec<Range<usize>>;

/// Checks a HEIF file and returns a copy with its metadata items zeroed.
pub(crate) fn check<'a>(bytes: &'a [u8], limits: &Limits) -> Result<Checked<'a>, Vec<Finding>> {
    let plan = plan(bytes, limits).map_err(|error| {
        vec![match error {
            Error::Corrupt => findings::corrupt_image(),
            Error::TooLarge => findings::image_too_large(limits),
        }]
    })?;
    if plan.zeroed.is_empty() && plan.neutralized.is_empty() {
        return Ok(Checked::unchanged());
    }

    let mut copy = bytes.to_vec();
    for range in plan.zeroed {
        if let Some(extent) = copy.get_mut(range) {
            extent.fill(0);
        }
    }
    for header in &plan.neutralized {
        bmff::neutralize(&mut copy, header);
    }
    Ok(Checked {
        cleaned: Some(copy),
        metadata_removed: true,
        trailer: &[],
    })
}

/// Walks the file and lists what to remove.
fn plan(bytes: &[u8], limits: &Limits) -> Result<Plan, Error> {
    let mut plan = Plan::default();
    let mut meta = None;
    let mut media_data = MediaData::new();
    for (index, found) in bmff::boxes(bytes, 0, bytes.len()).enumerate() {
        let found = found?;
        match &found.kind {
            b"ftyp" if index == 0 => {}
            _ if index == 0 => return Err(Error::Corrupt),
            b"meta" if meta.is_some() => return Err(Error::Corrupt),
            b"meta" => meta = Some(found),
            b"mdat" => media_data.push(found.body..found.end),
            b"uuid" | b"udta" => plan.neutralized.push(found),
            b"moov" => neutralize_movie_metadata(bytes, &found, &mut plan)?,
            _ => {}
        }
    }
    let meta = meta.ok_or(Error::Corrupt)?;

    let children = MetaChildren::find(bytes, &meta)?;
    let handler = children.handler.ok_or(Error::Corrupt)?;
    if !has_at(
        bytes,
        handler.body.checked_add(8).ok_or(Error::Corrupt)?,
        b"pict",
    ) {
        return Err(Error::Corrupt);
    }
    check_image_sizes(bytes, children.properties.as_ref(), limits)?;

    let metadata_items = match &children.item_info {
        Some(item_info) => metadata_items(bytes, item_info)?,
        None => Vec::new(),
    };
    if !metadata_items.is_empty() {
        let locations = children.locations.as_ref().ok_or(Error::Corrupt)?;
        plan.zeroed = metadata_extents(bytes, locations, &metadata_items)?;
        let inside_media_data = |extent: &Range<usize>| {
            media_data
                .iter()
                .any(|body| body.start <= extent.start && extent.end <= body.end)
        };
        if !plan.zeroed.iter().all(inside_media_data) {
            return Err(Error::Corrupt);
        }
    }
    Ok(plan)
}

/// The children of `meta` that are read. Each may appear at most once.
#[derive(Default)]
struct MetaChildren {
    handler: Option<BoxHeader>,
    item_info: Option<BoxHeader>,
    locations: Option<BoxHeader>,
    properties: Option<BoxHeader>,
}

impl MetaChildren {
    fn find(bytes: &[u8], meta: &BoxHeader) -> Result<Self, Error> {
        let mut children = Self::default();
        for child in bmff::boxes(bytes, full_box_body(meta)?, meta.end) {
            let child = child?;
            let slot = match &child.kind {
                b"hdlr" => &mut children.handler,
                b"iinf" => &mut children.item_info,
                b"iloc" => &mut children.locations,
                b"iprp" => &mut children.properties,
                _ => continue,
            };
            if slot.replace(child).is_some() {
                return Err(Error::Corrupt);
            }
        }
        Ok(children)
    }
}

/// Turns `udta` and `meta` boxes of a movie and its tracks into `free` boxes.
fn neutralize_movie_metadata(
    bytes: &[u8],
    movie: &BoxHeader,
    plan: &mut Plan,
) -> Result<(), Error> {
    for child in bmff::boxes(bytes, movie.body, movie.end) {
        let child = child?;
        match &child.kind {
            b"udta" | b"meta" => plan.neutralized.push(child),
            b"trak" => {
                for track_child in bmff::boxes(bytes, child.body, child.end) {
                    let track_child = track_child?;
                    if matches!(&track_child.kind, b"udta" | b"meta") {
                        plan.neutralized.push(track_child);
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// Checks every `ispe` (image spatial extents) property in `iprp/ipco`; at least one must exist.
fn check_image_sizes(
    bytes: &[u8],
    properties: Option<&BoxHeader>,
    limits: &Limits,
) -> Result<(), Error> {
    let properties = properties.ok_or(Error::Corrupt)?;
    let mut found = false;
    for container in bmff::boxes(bytes, properties.body, properties.end) {
        let container = container?;
        if &container.kind != b"ipco" {
            continue;
        }
        for property in bmff::boxes(bytes, container.body, container.end) {
            let property = property?;
            if &property.kind != b"ispe" {
                continue;
            }
            let body = full_box_body(&property)?;
            let width = be_u32(bytes, body).ok_or(Error::Corrupt)?;
            let height =
                be_u32(bytes, body.checked_add(4).ok_or(Error::Corrupt)?).ok_or(Error::Corrupt)?;
            let pixels = u64::from(width).saturating_mul(u64::from(height));
            if width > limits.max_dimension
                || height > limits.max_dimension
                || pixels > limits.max_pixels
            {
                return Err(Error::TooLarge);
            }
            found = true;
        }
    }
    if found { Ok(()) } else { Err(Error::Corrupt) }
}

/// Returns the ids of Exif and XMP items listed in `iinf`.
fn metadata_items(bytes: &[u8], item_info: &BoxHeader) -> Result<Vec<u32>, Error> {
    let mut reader = Reader::new(bytes, item_info.body, item_info.end);
    let version = reader.u8()?;
    reader.skip(3)?;
    // The entry count is not trusted; the `infe` boxes that follow are walked instead.
    reader.skip(if version == 0 { 2 } else { 4 })?;

    let mut items = Vec::new();
    for entry in bmff::boxes(bytes, reader.position, item_info.end) {
        let entry = entry?;
        if &entry.kind != b"infe" {
            continue;
        }
        if let Some(id) = metadata_item_id(bytes, &entry)? {
            items.push(id);
        }
    }
    Ok(items)
}

/// Reads an `infe` box and returns its item id when the item is Exif or XMP.
fn metadata_item_id(bytes: &[u8], entry: &BoxHeader) -> Result<Option<u32>, Error> {
    let mut reader = Reader::new(bytes, entry.body, entry.end);
    let version = reader.u8()?;
    reader.skip(3)?;

    let (id, is_metadata) = match version {
        0 | 1 => {
            let id = u32::from(reader.u16()?);
            reader.skip(2)?;
            let _name = reader.c_string();
            let content_type = reader.c_string();
            (id, is_xmp_content_type(content_type))
        }
        2 | 3 => {
            let id = if version == 2 {
                u32::from(reader.u16()?)
            } else {
                reader.u32()?
            };
            reader.skip(2)?;
            let item_type = reader.bytes(4)?;
            let _name = reader.c_string();
            let is_xmp = item_type == b"mime" && is_xmp_content_type(reader.c_string());
            (id, item_type == b"Exif" || is_xmp)
        }
        _ => return Err(Error::Corrupt),
    };
    Ok(is_metadata.then_some(id))
}

/// Returns whether a `mime` item's content type is XMP's `application/rdf+xml`, with or without
/// parameters.
fn is_xmp_content_type(content_type: &[u8]) -> bool {
    const XMP_CONTENT_TYPE: &[u8] = b"application/rdf+xml";
    content_type
        .get(..XMP_CONTENT_TYPE.len())
        .is_some_and(|essence| essence.eq_ignore_ascii_case(XMP_CONTENT_TYPE))
        && matches!(
            content_type.get(XMP_CONTENT_TYPE.len()),
            None | Some(b';' | b' ')
        )
}

/// Reads `iloc` and returns the file ranges of the metadata items' extents.
fn metadata_extents(
    bytes: &[u8],
    locations: &BoxHeader,
    metadata_items: &[u32],
) -> Result<Vec<Range<usize>>, Error> {
    let mut reader = Reader::new(bytes, locations.body, locations.end);
    let version = reader.u8()?;
    reader.skip(3)?;
    if version > 2 {
        return Err(Error::Corrupt);
    }
    let [offset_size, length_size] = nibbles(reader.u8()?);
    let [base_offset_size, index_size] = nibbles(reader.u8()?);
    let index_size = if version == 0 { 0 } else { index_size };
    if ![offset_size, length_size, base_offset_size, index_size]
        .iter()
        .all(|size| matches!(size, 0 | 4 | 8))
    {
        return Err(Error::Corrupt);
    }
    let item_count = if version < 2 {
        u32::from(reader.u16()?)
    } else {
        reader.u32()?
    };
    let extent_len = usize::from(offset_size)
        .checked_add(usize::from(length_size))
        .and_then(|len| len.checked_add(usize::from(index_size)))
        .ok_or(Error::Corrupt)?;

    let mut ranges = Vec::new();
    // Every item reads at least six bytes, so a count larger than the box ends in an error.
    for _ in 0..item_count {
        let id = if version < 2 {
            u32::from(reader.u16()?)
        } else {
            reader.u32()?
        };
        let construction_method = if version == 0 {
            0
        } else {
            reader.u16()? & 0x000F
        };
        let data_reference_index = reader.u16()?;
        let base_offset = reader.uint(base_offset_size)?;
        let extent_count = reader.u16()?;

        if !metadata_items.contains(&id) {
            reader.skip(
                extent_len
                    .checked_mul(usize::from(extent_count))
                    .ok_or(Error::Corrupt)?,
            )?;
            continue;
        }
        // Only extents that are file offsets in this file can be zeroed in place.
        if construction_method != 0 || data_reference_index != 0 {
            return Err(Error::Corrupt);
        }
        for _ in 0..extent_count {
            reader.uint(index_size)?;
            let offset = reader.uint(offset_size)?;
            let length = reader.uint(length_size)?;
            // Length 0 means "to the end of the file", which would take the image data with it.
            if length == 0 {
                return Err(Error::Corrupt);
            }
            let start = base_offset.checked_add(offset).ok_or(Error::Corrupt)?;
            let end = start.checked_add(length).ok_or(Error::Corrupt)?;
            let start = usize::try_from(start).map_err(|_| Error::Corrupt)?;
            let end = usize::try_from(end).map_err(|_| Error::Corrupt)?;
            if end > bytes.len() {
                return Err(Error::Corrupt);
            }
            ranges.push(start..end);
        }
    }
    Ok(ranges)
}

/// Splits a byte into its high and low four bits.
fn nibbles(byte: u8) -> [u8; 2] {
    [byte >> 4, byte & 0x0F]
}

/// Returns the offset after the version and flags of a full box.
fn full_box_body(header: &BoxHeader) -> Result<usize, Error> {
    let body = header.body.checked_add(4).ok_or(Error::Corrupt)?;
    if body > header.end {
        return Err(Error::Corrupt);
    }
    Ok(body)
}
