//! Fixtures shared by the integration tests: the sample photos, and builders for PNG, ZIP, PDF
//! and HEIF files.

#![allow(dead_code, reason = "each test binary uses a different subset")]
#![expect(
    clippy::unwrap_used,
    reason = "a test reports an unexpected error by panicking"
)]

use portal_sanitize::{Finding, Limits, Outcome, inspect};

/// Reads a file from `tests/fixtures/samples` at the repository root.
#[macro_export]
macro_rules! sample {
    ($name:literal) => {
        std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/samples/",
            $name
        ))
        .unwrap()
    };
}

/// Inspects `bytes` with the default limits.
pub fn check(name: &str, declared_type: &str, bytes: &[u8]) -> Outcome {
    inspect(name, declared_type, bytes, &Limits::default())
}

/// Returns the finding codes of an outcome.
pub fn codes(outcome: &Outcome) -> Vec<&'static str> {
    let findings: &[Finding] = match outcome {
        Outcome::Accepted { findings, .. } | Outcome::Rejected { findings, .. } => findings,
    };
    findings.iter().map(|finding| finding.code).collect()
}

/// Returns the finding codes when the outcome is a rejection, and panics otherwise.
pub fn rejected_codes(outcome: &Outcome) -> Vec<&'static str> {
    if let Outcome::Accepted {
        file_type, cleaned, ..
    } = outcome
    {
        panic!(
            "expected a rejection, got {file_type:?} accepted with findings {:?} and {} cleaned \
             bytes",
            codes(outcome),
            cleaned.as_ref().map_or(0, Vec::len)
        );
    }
    codes(outcome)
}

/// Returns whether `haystack` contains `needle`.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

/// Returns the markers of a JPEG's segments before the first SOS, with their offsets.
pub fn jpeg_header_markers(bytes: &[u8]) -> Vec<(u8, usize)> {
    let mut markers = Vec::new();
    let mut position = 2;
    while position + 4 <= bytes.len() && bytes[position] == 0xFF {
        let marker = bytes[position + 1];
        markers.push((marker, position));
        if marker == 0xDA {
            break;
        }
        let length = usize::from(u16::from_be_bytes([
            bytes[position + 2],
            bytes[position + 3],
        ]));
        position += 2 + length;
    }
    markers
}

/// Builds a PNG chunk with its length and CRC.
pub fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut chunk = Vec::new();
    chunk.extend_from_slice(&u32::try_from(data.len()).unwrap().to_be_bytes());
    chunk.extend_from_slice(kind);
    chunk.extend_from_slice(data);
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(kind);
    hasher.update(data);
    chunk.extend_from_slice(&hasher.finalize().to_be_bytes());
    chunk
}

/// Encodes an 8-bit RGB PNG of `width` × `height` with a gradient, using the `png` crate.
pub fn encode_png(width: u32, height: u32, text: Option<(&str, &str)>) -> Vec<u8> {
    let mut bytes = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut bytes, width, height);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        if let Some((keyword, value)) = text {
            encoder
                .add_text_chunk(keyword.to_owned(), value.to_owned())
                .unwrap();
        }
        let mut writer = encoder.write_header().unwrap();
        let pixels: Vec<u8> = (0..width * height * 3)
            .map(|index| (index % 251) as u8)
            .collect();
        writer.write_image_data(&pixels).unwrap();
    }
    bytes
}

/// Inserts `chunks` just before the IEND chunk of a PNG.
pub fn insert_before_iend(png: &[u8], chunks: &[Vec<u8>]) -> Vec<u8> {
    let iend = png.len() - 12;
    assert_eq!(&png[iend + 4..iend + 8], b"IEND");
    let mut bytes = png[..iend].to_vec();
    for chunk in chunks {
        bytes.extend_from_slice(chunk);
    }
    bytes.extend_from_slice(&png[iend..]);
    bytes
}

/// Builds a PNG from an IHDR and raw (filtered) image data, compressed with zlib.
pub fn png_from_raw(width: u32, height: u32, bit_depth: u8, color_type: u8, raw: &[u8]) -> Vec<u8> {
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[bit_depth, color_type, 0, 0, 0]);
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    bytes.extend(png_chunk(b"IHDR", &ihdr));
    bytes.extend(png_chunk(b"IDAT", &zlib(raw)));
    bytes.extend(png_chunk(b"IEND", &[]));
    bytes
}

/// Compresses `data` with zlib at the highest level.
pub fn zlib(data: &[u8]) -> Vec<u8> {
    miniz_oxide::deflate::compress_to_vec_zlib(data, 10)
}

/// Compresses `data` as raw deflate at the highest level.
pub fn deflate(data: &[u8]) -> Vec<u8> {
    miniz_oxide::deflate::compress_to_vec(data, 10)
}

/// One entry of a hand-built ZIP archive.
pub struct ZipEntry<'a> {
    pub name: &'a str,
    /// Stored bytes: raw deflate when `method` is 8, the contents when it is 0.
    pub data: Vec<u8>,
    pub method: u16,
    pub uncompressed_size: u32,
}

impl<'a> ZipEntry<'a> {
    /// Creates an uncompressed entry.
    pub fn stored(name: &'a str, contents: &[u8]) -> Self {
        Self {
            name,
            data: contents.to_vec(),
            method: 0,
            uncompressed_size: u32::try_from(contents.len()).unwrap(),
        }
    }
}

/// Assembles a ZIP archive: local headers with data, the central directory and its end record
/// (PKWARE APPNOTE 4.3). CRCs are left zero, which no check here reads.
pub fn zip(entries: &[ZipEntry<'_>]) -> Vec<u8> {
    let mut bytes = Vec::new();
    let mut central = Vec::new();
    for entry in entries {
        let offset = u32::try_from(bytes.len()).unwrap();
        let name_len = u16::try_from(entry.name.len()).unwrap();
        let compressed = u32::try_from(entry.data.len()).unwrap();

        bytes.extend_from_slice(b"PK\x03\x04");
        bytes.extend_from_slice(&20_u16.to_le_bytes());
        bytes.extend_from_slice(&0_u16.to_le_bytes());
        bytes.extend_from_slice(&entry.method.to_le_bytes());
        bytes.extend_from_slice(&[0; 8]);
        bytes.extend_from_slice(&compressed.to_le_bytes());
        bytes.extend_from_slice(&entry.uncompressed_size.to_le_bytes());
        bytes.extend_from_slice(&name_len.to_le_bytes());
        bytes.extend_from_slice(&0_u16.to_le_bytes());
        bytes.extend_from_slice(entry.name.as_bytes());
        bytes.extend_from_slice(&entry.data);

        central.extend_from_slice(b"PK\x01\x02");
        central.extend_from_slice(&20_u16.to_le_bytes());
        central.extend_from_slice(&20_u16.to_le_bytes());
        central.extend_from_slice(&0_u16.to_le_bytes());
        central.extend_from_slice(&entry.method.to_le_bytes());
        central.extend_from_slice(&[0; 8]);
        central.extend_from_slice(&compressed.to_le_bytes());
        central.extend_from_slice(&entry.uncompressed_size.to_le_bytes());
        central.extend_from_slice(&name_len.to_le_bytes());
        central.extend_from_slice(&[0; 12]);
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(entry.name.as_bytes());
    }
    let directory_offset = u32::try_from(bytes.len()).unwrap();
    let directory_size = u32::try_from(central.len()).unwrap();
    let count = u16::try_from(entries.len()).unwrap();
    bytes.extend_from_slice(&central);
    bytes.extend_from_slice(b"PK\x05\x06");
    bytes.extend_from_slice(&[0; 4]);
    bytes.extend_from_slice(&count.to_le_bytes());
    bytes.extend_from_slice(&count.to_le_bytes());
    bytes.extend_from_slice(&directory_size.to_le_bytes());
    bytes.extend_from_slice(&directory_offset.to_le_bytes());
    bytes.extend_from_slice(&0_u16.to_le_bytes());
    bytes
}

/// Builds a PDF from object bodies (object N is `bodies[N - 1]`) with a cross-reference table
/// and a trailer whose dictionary gets `trailer_entries` besides `/Size` and `/Root 1 0 R`.
pub fn pdf(bodies: &[Vec<u8>], trailer_entries: &str) -> Vec<u8> {
    let mut bytes = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n".to_vec();
    let mut offsets = Vec::new();
    for (index, body) in bodies.iter().enumerate() {
        offsets.push(bytes.len());
        bytes.extend_from_slice(format!("{} 0 obj\n", index + 1).as_bytes());
        bytes.extend_from_slice(body);
        bytes.extend_from_slice(b"\nendobj\n");
    }
    let xref = bytes.len();
    let size = bodies.len() + 1;
    bytes.extend_from_slice(format!("xref\n0 {size}\n0000000000 65535 f \n").as_bytes());
    for offset in offsets {
        bytes.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
    }
    bytes.extend_from_slice(
        format!(
            "trailer\n<< /Size {size} /Root 1 0 R {trailer_entries} >>\nstartxref\n{xref}\n%%EOF\n"
        )
        .as_bytes(),
    );
    bytes
}

/// Builds a stream object body with `/Length` added to `dict_entries`.
pub fn pdf_stream(dict_entries: &str, data: &[u8]) -> Vec<u8> {
    let mut body = format!("<< {dict_entries} /Length {} >>\nstream\n", data.len()).into_bytes();
    body.extend_from_slice(data);
    body.extend_from_slice(b"\nendstream");
    body
}

/// Returns the objects of a one-page PDF showing "Hello": catalog (1), pages (2), page (3), a
/// FlateDecode content stream (4) and a font (5).
pub fn minimal_pdf_objects(catalog_entries: &str) -> Vec<Vec<u8>> {
    let content = zlib(b"BT /F1 24 Tf 72 700 Td (Hello) Tj ET");
    vec![
        format!("<< /Type /Catalog /Pages 2 0 R {catalog_entries} >>").into_bytes(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R \
           /Resources << /Font << /F1 5 0 R >> >> >>"
            .to_vec(),
        pdf_stream("/Filter /FlateDecode", &content),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_vec(),
    ]
}

/// Builds a minimal one-page PDF.
pub fn minimal_pdf() -> Vec<u8> {
    pdf(&minimal_pdf_objects(""), "")
}

/// Options for [`heif`].
pub struct HeifOptions {
    pub width: u32,
    pub height: u32,
    pub exif: Option<Vec<u8>>,
    pub xmp: Option<Vec<u8>>,
    /// `iloc` version: 0, 1 or 2.
    pub iloc_version: u8,
    /// Construction method of the metadata items (versions 1 and 2 only).
    pub metadata_construction_method: u16,
    /// Writes the `mdat` box with a 64-bit size.
    pub large_mdat: bool,
}

impl Default for HeifOptions {
    fn default() -> Self {
        Self {
            width: 640,
            height: 480,
            exif: Some(exif_payload()),
            xmp: None,
            iloc_version: 0,
            metadata_construction_method: 0,
            large_mdat: false,
        }
    }
}

/// Fake HEVC data for the image item.
pub const HEVC_DATA: &[u8] = b"\x00\x00\x00\x10fake-hevc-coded-image-data-0123456789";

/// Returns an Exif item payload: the TIFF header offset, then an EXIF block with GPS-looking
/// text.
pub fn exif_payload() -> Vec<u8> {
    let mut payload = 6_u32.to_be_bytes().to_vec();
    payload.extend_from_slice(b"Exif\0\0MM\0*\0\0\0\x08");
    payload.extend_from_slice(b"GPSLatitude=51.500729N;GPSLongitude=0.124625W;Make=PortalCam");
    payload
}

/// Returns an XMP packet with a location.
pub fn xmp_payload() -> Vec<u8> {
    b"<x:xmpmeta xmlns:x=\"adobe:ns:meta/\"><rdf:RDF><rdf:Description \
      exif:GPSLatitude=\"51,30.04N\"/></rdf:RDF></x:xmpmeta>"
        .to_vec()
}

fn bmff_box(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
    let mut bytes = u32::try_from(body.len() + 8)
        .unwrap()
        .to_be_bytes()
        .to_vec();
    bytes.extend_from_slice(kind);
    bytes.extend_from_slice(body);
    bytes
}

fn full_box(kind: &[u8; 4], version: u8, body: &[u8]) -> Vec<u8> {
    let mut full = vec![version, 0, 0, 0];
    full.extend_from_slice(body);
    bmff_box(kind, &full)
}

fn item_id(version: u8, id: u32, bytes: &mut Vec<u8>) {
    if version < 2 {
        bytes.extend_from_slice(&u16::try_from(id).unwrap().to_be_bytes());
    } else {
        bytes.extend_from_slice(&id.to_be_bytes());
    }
}

/// Builds a HEIF file by hand: `ftyp`, `meta` (hdlr, iinf, iloc, iprp with ispe) and `mdat`
/// holding fake image data followed by the Exif and XMP payloads. Item 1 is the image, 2 is
/// Exif and 3 is XMP.
pub fn heif(options: &HeifOptions) -> Vec<u8> {
    let mut ftyp = b"heic".to_vec();
    ftyp.extend_from_slice(&0_u32.to_be_bytes());
    ftyp.extend_from_slice(b"mif1heic");
    let ftyp = bmff_box(b"ftyp", &ftyp);

    let mut mdat_body = HEVC_DATA.to_vec();
    let mut items: Vec<(u32, usize, usize)> = vec![(1, 0, HEVC_DATA.len())];
    if let Some(exif) = &options.exif {
        items.push((2, mdat_body.len(), exif.len()));
        mdat_body.extend_from_slice(exif);
    }
    if let Some(xmp) = &options.xmp {
        items.push((3, mdat_body.len(), xmp.len()));
        mdat_body.extend_from_slice(xmp);
    }

    // The meta box has the same size whatever the offsets, so build it once to measure it.
    let meta_len = heif_meta(options, &items, 0).len();
    let mdat_header = if options.large_mdat { 16 } else { 8 };
    let mdat_start = ftyp.len() + meta_len + mdat_header;
    let meta = heif_meta(options, &items, mdat_start);

    let mut bytes = ftyp;
    bytes.extend_from_slice(&meta);
    if options.large_mdat {
        bytes.extend_from_slice(&1_u32.to_be_bytes());
        bytes.extend_from_slice(b"mdat");
        bytes.extend_from_slice(&u64::try_from(mdat_body.len() + 16).unwrap().to_be_bytes());
    } else {
        bytes.extend_from_slice(&u32::try_from(mdat_body.len() + 8).unwrap().to_be_bytes());
        bytes.extend_from_slice(b"mdat");
    }
    bytes.extend_from_slice(&mdat_body);
    bytes
}

fn heif_meta(options: &HeifOptions, items: &[(u32, usize, usize)], mdat_start: usize) -> Vec<u8> {
    let mut hdlr = vec![0; 4];
    hdlr.extend_from_slice(b"pict");
    hdlr.extend_from_slice(&[0; 12]);
    hdlr.push(0);
    let hdlr = full_box(b"hdlr", 0, &hdlr);

    let mut entries = Vec::new();
    for &(id, _, _) in items {
        let mut infe = u16::try_from(id).unwrap().to_be_bytes().to_vec();
        infe.extend_from_slice(&0_u16.to_be_bytes());
        match id {
            1 => infe.extend_from_slice(b"hvc1\0"),
            2 => infe.extend_from_slice(b"Exif\0"),
            _ => infe.extend_from_slice(b"mime\0application/rdf+xml\0"),
        }
        entries.extend(full_box(b"infe", 2, &infe));
    }
    let mut iinf = u16::try_from(items.len()).unwrap().to_be_bytes().to_vec();
    iinf.extend_from_slice(&entries);
    let iinf = full_box(b"iinf", 0, &iinf);

    let version = options.iloc_version;
    let offset_size: u8 = if version == 2 { 8 } else { 4 };
    let mut iloc = vec![(offset_size << 4) | 4, 0];
    item_id(version, u32::try_from(items.len()).unwrap(), &mut iloc);
    for &(id, offset, length) in items {
        item_id(version, id, &mut iloc);
        if version >= 1 {
            let method = if id == 1 {
                0
            } else {
                options.metadata_construction_method
            };
            iloc.extend_from_slice(&method.to_be_bytes());
        }
        iloc.extend_from_slice(&0_u16.to_be_bytes());
        iloc.extend_from_slice(&1_u16.to_be_bytes());
        let absolute = u64::try_from(mdat_start + offset).unwrap();
        if offset_size == 8 {
            iloc.extend_from_slice(&absolute.to_be_bytes());
        } else {
            iloc.extend_from_slice(&u32::try_from(absolute).unwrap().to_be_bytes());
        }
        iloc.extend_from_slice(&u32::try_from(length).unwrap().to_be_bytes());
    }
    let iloc = full_box(b"iloc", version, &iloc);

    let mut ispe = options.width.to_be_bytes().to_vec();
    ispe.extend_from_slice(&options.height.to_be_bytes());
    let ipco = bmff_box(b"ipco", &full_box(b"ispe", 0, &ispe));
    let ipma = full_box(b"ipma", 0, &[0, 0, 0, 1, 0, 1, 1, 0x81]);
    let mut iprp = ipco;
    iprp.extend_from_slice(&ipma);
    let iprp = bmff_box(b"iprp", &iprp);

    let mut meta = hdlr;
    meta.extend_from_slice(&iinf);
    meta.extend_from_slice(&iloc);
    meta.extend_from_slice(&iprp);
    full_box(b"meta", 0, &meta)
}
