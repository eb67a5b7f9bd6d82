//! PNG: metadata chunks are removed without changing pixels, and damaged, oversized,
//! decompression-bomb and polyglot files are rejected.

#![expect(
    clippy::unwrap_used,
    reason = "a test reports an unexpected error by panicking"
)]

mod common;

use std::io::Cursor;

use common::{
    ZipEntry, check, codes, contains, encode_png, insert_before_iend, png_chunk, png_from_raw,
    rejected_codes, zip,
};
use portal_sanitize::{FileType, Limits, Outcome, corrected_name, inspect};

fn chunk_types(png: &[u8]) -> Vec<[u8; 4]> {
    let mut types = Vec::new();
    let mut position = 8;
    while position + 8 <= png.len() {
        let length = u32::from_be_bytes(png[position..position + 4].try_into().unwrap());
        types.push(png[position + 4..position + 8].try_into().unwrap());
        position += 12 + length as usize;
    }
    types
}

fn decode_pixels(png: &[u8]) -> Vec<u8> {
    let decoder = png::Decoder::new(Cursor::new(png));
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    reader.next_frame(&mut pixels).unwrap();
    pixels
}

fn png_with_metadata() -> Vec<u8> {
    let png = encode_png(64, 48, Some(("Comment", "taken at 12 Elm Street")));
    insert_before_iend(
        &png,
        &[
            png_chunk(b"eXIf", b"MM\0*\0\0\0\x08GPSLatitude=51.5N"),
            png_chunk(b"tIME", &[0x07, 0xE8, 1, 2, 3, 4, 5]),
            png_chunk(b"zTXt", b"Author\0\0x\x9c\x03\0\0\0\0\x01"),
            png_chunk(b"pHYs", &[0, 0, 0x0B, 0x13, 0, 0, 0x0B, 0x13, 1]),
        ],
    )
}

fn cleaned_png(bytes: &[u8]) -> Vec<u8> {
    match check("photo.png", "image/png", bytes) {
        Outcome::Accepted {
            file_type: FileType::Png,
            cleaned: Some(cleaned),
            findings,
        } => {
            let codes: Vec<_> = findings.iter().map(|finding| finding.code).collect();
            assert_eq!(codes, ["metadata-removed"]);
            cleaned
        }
        other => panic!("expected a cleaned PNG, got {other:?}"),
    }
}

#[test]
fn text_exif_and_time_chunks_are_removed() {
    let original = png_with_metadata();
    let before = chunk_types(&original);
    for kind in [b"tEXt", b"eXIf", b"tIME", b"zTXt"] {
        assert!(before.contains(kind), "fixture lacks {kind:?}");
    }

    let cleaned = cleaned_png(&original);
    let after = chunk_types(&cleaned);
    assert_eq!(after.first(), Some(b"IHDR"));
    assert_eq!(after.last(), Some(b"IEND"));
    for kind in [b"tEXt", b"eXIf", b"tIME", b"zTXt"] {
        assert!(!after.contains(kind), "{kind:?} was kept");
    }
    assert!(after.contains(b"pHYs"), "pHYs was dropped");
    assert!(!contains(&cleaned, b"Elm Street"));
    assert!(!contains(&cleaned, b"GPSLatitude"));
}

#[test]
fn cleaned_png_has_identical_pixels() {
    let original = png_with_metadata();
    let cleaned = cleaned_png(&original);
    assert_eq!(decode_pixels(&original), decode_pixels(&cleaned));
}

#[test]
fn png_without_metadata_is_unchanged() {
    let outcome = check("plot.png", "image/png", &encode_png(32, 32, None));
    assert_eq!(
        outcome,
        Outcome::Accepted {
            file_type: FileType::Png,
            cleaned: None,
            findings: Vec::new(),
        }
    );
}

#[test]
fn png_named_pdf_is_accepted_as_png() {
    let outcome = check("scan.pdf", "application/pdf", &encode_png(16, 16, None));
    let Outcome::Accepted {
        file_type,
        findings,
        ..
    } = &outcome
    else {
        panic!("expected acceptance, got {outcome:?}");
    };
    assert_eq!(*file_type, FileType::Png);
    assert_eq!(codes(&outcome), ["type-mismatch"]);
    assert_eq!(
        findings[0].message,
        "This file is a PNG image, not a PDF; it was renamed to end in .png."
    );
    assert_eq!(corrected_name("scan.pdf", *file_type), "scan.png");
}

#[test]
fn enormous_dimensions_are_rejected() {
    // 30,000 × 1 is within the pixel limit but past the per-side limit.
    let wide = png_from_raw(30_000, 1, 8, 0, &vec![0; 30_001]);
    assert_eq!(
        rejected_codes(&check("x.png", "", &wide)),
        ["image-too-large"]
    );

    // 10,000 × 10,000 is within the per-side limit but past the pixel limit.
    let tall = png_from_raw(10_000, 10_000, 8, 0, &[0; 10_001]);
    assert_eq!(
        rejected_codes(&check("x.png", "", &tall)),
        ["image-too-large"]
    );
}

#[test]
fn idat_bomb_is_rejected() {
    // 10,000 × 4,000 16-bit RGBA is 40 megapixels, within the pixel limit, but its rows
    // inflate to 320 MB. The file itself is a few kilobytes.
    let row = vec![0; 1 + 10_000 * 8];
    let bomb = png_from_raw(10_000, 4_000, 16, 6, &row.repeat(64));
    assert!(bomb.len() < 16 * 1024, "bomb is {} bytes", bomb.len());
    assert_eq!(
        rejected_codes(&check("x.png", "", &bomb)),
        ["decompression-limit"]
    );
}

#[test]
fn image_data_past_a_lower_limit_is_rejected() {
    let png = png_from_raw(1_000, 1_000, 8, 6, &vec![0; 1_000 * 4_001]);
    let limits = Limits {
        max_inflated_bytes: 1024 * 1024,
        ..Limits::default()
    };
    let outcome = inspect("x.png", "", &png, &limits);
    assert_eq!(rejected_codes(&outcome), ["decompression-limit"]);
    assert!(matches!(check("x.png", "", &png), Outcome::Accepted { .. }));
}

#[test]
fn bad_crc_is_rejected() {
    let mut png = encode_png(8, 8, None);
    let last_crc_byte = png.len() - 1;
    png[last_crc_byte] ^= 0x01;
    assert_eq!(rejected_codes(&check("x.png", "", &png)), ["corrupt-image"]);
}

#[test]
fn broken_zlib_stream_is_rejected() {
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&8_u32.to_be_bytes());
    ihdr.extend_from_slice(&8_u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend(png_chunk(b"IHDR", &ihdr));
    png.extend(png_chunk(b"IDAT", b"\x78\x9cthis is not deflate data"));
    png.extend(png_chunk(b"IEND", &[]));
    assert_eq!(rejected_codes(&check("x.png", "", &png)), ["corrupt-image"]);
}

#[test]
fn unknown_critical_chunk_is_rejected() {
    let png = insert_before_iend(&encode_png(8, 8, None), &[png_chunk(b"ZZZZ", b"data")]);
    assert_eq!(rejected_codes(&check("x.png", "", &png)), ["corrupt-image"]);
}

#[test]
fn missing_iend_is_rejected() {
    let png = encode_png(8, 8, None);
    let truncated = &png[..png.len() - 12];
    assert_eq!(
        rejected_codes(&check("x.png", "", truncated)),
        ["corrupt-image"]
    );
}

#[test]
fn png_with_zip_after_iend_is_polyglot() {
    let mut png = encode_png(8, 8, None);
    png.extend(zip(&[ZipEntry::stored("a.txt", b"hello")]));
    assert_eq!(rejected_codes(&check("x.png", "", &png)), ["polyglot"]);
}

#[test]
fn png_with_html_after_iend_is_polyglot() {
    let mut png = encode_png(8, 8, None);
    png.extend_from_slice(b"<html><body onload=alert(1)></body></html>");
    assert_eq!(rejected_codes(&check("x.png", "", &png)), ["polyglot"]);
}

#[test]
fn icc_profile_bomb_is_rejected() {
    // The iCCP profile inflates to 8 MiB, past a 1 MiB limit, while the image data is tiny.
    let mut iccp = b"bomb\0\0".to_vec();
    iccp.extend(common::zlib(&vec![0; 8 * 1024 * 1024]));
    let png = encode_png(8, 8, None);
    let ihdr_end = 8 + 25;
    let mut bomb = png[..ihdr_end].to_vec();
    bomb.extend(png_chunk(b"iCCP", &iccp));
    bomb.extend_from_slice(&png[ihdr_end..]);

    let limits = Limits {
        max_inflated_bytes: 1024 * 1024,
        ..Limits::default()
    };
    let outcome = inspect("x.png", "", &bomb, &limits);
    assert_eq!(rejected_codes(&outcome), ["decompression-limit"]);
}
