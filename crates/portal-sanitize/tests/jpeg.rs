//! JPEG: metadata is removed from real camera photos without changing a pixel, and damaged,
//! oversized and polyglot files are rejected.

#![expect(
    clippy::unwrap_used,
    reason = "a test reports an unexpected error by panicking"
)]

mod common;

use std::io::Cursor;

use common::{ZipEntry, check, codes, contains, jpeg_header_markers, rejected_codes, zip};
use portal_sanitize::{FileType, Outcome};

const APP1: u8 = 0xE1;
const APP13: u8 = 0xED;
const COM: u8 = 0xFE;

fn camera_photos() -> [(&'static str, Vec<u8>); 3] {
    [
        ("DSCN0010.jpg", sample!("DSCN0010.jpg")),
        ("DSCN0021.jpg", sample!("DSCN0021.jpg")),
        ("Canon_40D.jpg", sample!("Canon_40D.jpg")),
    ]
}

fn cleaned_jpeg(name: &str, bytes: &[u8]) -> Vec<u8> {
    match check(name, "image/jpeg", bytes) {
        Outcome::Accepted {
            file_type: FileType::Jpeg,
            cleaned: Some(cleaned),
            findings,
        } => {
            let codes: Vec<_> = findings.iter().map(|finding| finding.code).collect();
            assert_eq!(codes, ["metadata-removed"], "{name}");
            cleaned
        }
        other => panic!("{name}: expected a cleaned JPEG, got {other:?}"),
    }
}

fn decode(bytes: &[u8]) -> (Vec<u8>, jpeg_decoder::ImageInfo) {
    let mut decoder = jpeg_decoder::Decoder::new(Cursor::new(bytes));
    let pixels = decoder.decode().unwrap();
    (pixels, decoder.info().unwrap())
}

fn read_exif(bytes: &[u8]) -> Result<exif::Exif, exif::Error> {
    exif::Reader::new().read_from_container(&mut Cursor::new(bytes))
}

#[test]
fn camera_photos_carry_exif_before_cleaning() {
    for (name, original) in camera_photos() {
        let markers: Vec<u8> = jpeg_header_markers(&original)
            .iter()
            .map(|&(marker, _)| marker)
            .collect();
        assert!(markers.contains(&APP1), "{name} has no APP1");
        assert!(read_exif(&original).is_ok(), "{name} has no EXIF");
    }
    let gps = read_exif(&sample!("DSCN0010.jpg")).unwrap();
    assert!(
        gps.get_field(exif::Tag::GPSLatitude, exif::In::PRIMARY)
            .is_some()
    );
}

#[test]
fn cleaned_photos_have_no_metadata_segments() {
    for (name, original) in camera_photos() {
        let cleaned = cleaned_jpeg(name, &original);
        for (marker, offset) in jpeg_header_markers(&cleaned) {
            assert!(
                ![APP1, APP13, COM].contains(&marker),
                "{name}: marker {marker:#04x} at {offset}"
            );
        }
        assert!(!contains(&cleaned, b"Exif\0\0"), "{name} still has Exif");
        assert!(
            !contains(&cleaned, b"http://ns.adobe.com/xap"),
            "{name} still has XMP"
        );
    }
}

#[test]
fn exif_reader_finds_nothing_in_cleaned_photos() {
    for (name, original) in camera_photos() {
        let cleaned = cleaned_jpeg(name, &original);
        let result = read_exif(&cleaned).map(|exif| exif.fields().count());
        assert!(
            matches!(result, Err(exif::Error::NotFound(_))),
            "{name}: {result:?}"
        );
    }
}

#[test]
fn cleaned_photos_decode_to_identical_pixels() {
    for (name, original) in camera_photos() {
        let cleaned = cleaned_jpeg(name, &original);
        let (original_pixels, original_info) = decode(&original);
        let (cleaned_pixels, cleaned_info) = decode(&cleaned);
        assert_eq!(original_info, cleaned_info, "{name}");
        assert!(original_pixels == cleaned_pixels, "{name}: pixels differ");
        assert!(cleaned.len() < original.len(), "{name}");
    }
}

#[test]
fn cleaned_photo_needs_no_second_cleaning() {
    let cleaned = cleaned_jpeg("DSCN0021.jpg", &sample!("DSCN0021.jpg"));
    let again = check("DSCN0021.jpg", "image/jpeg", &cleaned);
    assert_eq!(
        again,
        Outcome::Accepted {
            file_type: FileType::Jpeg,
            cleaned: None,
            findings: Vec::new(),
        }
    );
}

#[test]
fn corrupted_scan_data_is_rejected() {
    let outcome = check("corrupted.jpg", "image/jpeg", &sample!("corrupted.jpg"));
    assert_eq!(rejected_codes(&outcome), ["corrupt-image"]);
}

#[test]
fn truncated_photo_is_rejected() {
    let original = sample!("DSCN0010.jpg");
    let truncated = &original[..original.len() / 2];
    assert_eq!(
        rejected_codes(&check("x.jpg", "", truncated)),
        ["corrupt-image"]
    );
}

#[test]
fn reserved_marker_in_scan_data_is_rejected() {
    let mut bytes = sample!("Canon_40D.jpg");
    let (_, sos) = *jpeg_header_markers(&bytes).last().unwrap();
    let inside_scan = sos + 40;
    bytes[inside_scan] = 0xFF;
    bytes[inside_scan + 1] = 0x9F;
    assert_eq!(
        rejected_codes(&check("x.jpg", "", &bytes)),
        ["corrupt-image"]
    );
}

#[test]
fn enormous_frame_dimensions_are_rejected() {
    let mut bytes = sample!("Canon_40D.jpg");
    let (_, sof) = jpeg_header_markers(&bytes)
        .into_iter()
        .find(|&(marker, _)| marker == 0xC0)
        .unwrap();
    // SOF0: marker, length, precision, then height and width.
    bytes[sof + 5..sof + 7].copy_from_slice(&60_000_u16.to_be_bytes());
    bytes[sof + 7..sof + 9].copy_from_slice(&60_000_u16.to_be_bytes());
    assert_eq!(
        rejected_codes(&check("x.jpg", "", &bytes)),
        ["image-too-large"]
    );
}

#[test]
fn photo_with_zip_appended_is_polyglot() {
    let mut bytes = sample!("DSCN0010.jpg");
    bytes.extend(zip(&[ZipEntry::stored(
        "payload.html",
        b"<script>alert(1)</script>",
    )]));
    let outcome = check("photo.jpg", "image/jpeg", &bytes);
    assert_eq!(rejected_codes(&outcome), ["polyglot"]);
}

#[test]
fn photo_with_pdf_appended_is_polyglot() {
    let mut bytes = sample!("Canon_40D.jpg");
    bytes.extend_from_slice(b"%PDF-1.4\n1 0 obj << >> endobj\n%%EOF\n");
    assert_eq!(rejected_codes(&check("x.jpg", "", &bytes)), ["polyglot"]);
}

#[test]
fn script_in_comment_near_start_is_polyglot() {
    let original = sample!("Canon_40D.jpg");
    let comment = b"<script>alert(document.cookie)</script>";
    let mut bytes = original[..2].to_vec();
    bytes.extend_from_slice(&[0xFF, COM]);
    bytes.extend_from_slice(&u16::try_from(comment.len() + 2).unwrap().to_be_bytes());
    bytes.extend_from_slice(comment);
    bytes.extend_from_slice(&original[2..]);
    assert_eq!(rejected_codes(&check("x.jpg", "", &bytes)), ["polyglot"]);
}

#[test]
fn zero_padding_after_end_is_dropped() {
    let original = sample!("Canon_40D.jpg");
    let mut bytes = original.clone();
    bytes.extend_from_slice(&[0; 512]);
    let outcome = check("x.jpg", "image/jpeg", &bytes);
    let Outcome::Accepted {
        cleaned: Some(cleaned),
        ..
    } = &outcome
    else {
        panic!("expected a cleaned JPEG, got {outcome:?}");
    };
    assert!(cleaned.ends_with(&[0xFF, 0xD9]));
    assert_eq!(cleaned, &cleaned_jpeg("x.jpg", &original));
}

#[test]
fn unknown_trailer_is_dropped_as_metadata() {
    let mut bytes = sample!("Canon_40D.jpg");
    bytes.extend_from_slice(b"SEFH camera trailer Image_UTC_Data1458170015363");
    let outcome = check("x.jpg", "image/jpeg", &bytes);
    assert_eq!(codes(&outcome), ["metadata-removed"]);
    let Outcome::Accepted {
        cleaned: Some(cleaned),
        ..
    } = outcome
    else {
        panic!("expected a cleaned JPEG");
    };
    assert!(!contains(&cleaned, b"Image_UTC_Data"));
}

#[test]
fn jpeg_named_pdf_is_renamed() {
    let outcome = check("scan.pdf", "application/pdf", &sample!("Canon_40D.jpg"));
    assert_eq!(codes(&outcome), ["type-mismatch", "metadata-removed"]);
}

/// Inserts an APP2 segment after SOI.
fn with_app2(jpeg: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut bytes = jpeg[..2].to_vec();
    bytes.extend_from_slice(&[0xFF, 0xE2]);
    bytes.extend_from_slice(&u16::try_from(payload.len() + 2).unwrap().to_be_bytes());
    bytes.extend_from_slice(payload);
    bytes.extend_from_slice(&jpeg[2..]);
    bytes
}

#[test]
fn declared_multi_picture_images_are_dropped() {
    // CIPA DC-007 multi-picture files store more JPEGs after the first EOI and list them in
    // APP2 "MPF". The index itself is not parsed, because only its presence matters.
    let original = sample!("Canon_40D.jpg");
    let mut bytes = with_app2(&original, b"MPF\0MM\0*\0\0\0\x08");
    bytes.extend_from_slice(&original);

    let outcome = check("x.jpg", "image/jpeg", &bytes);
    assert_eq!(codes(&outcome), ["metadata-removed"]);
    let Outcome::Accepted {
        cleaned: Some(cleaned),
        ..
    } = outcome
    else {
        panic!("expected a cleaned JPEG");
    };
    assert_eq!(cleaned, cleaned_jpeg("x.jpg", &original));
}

#[test]
fn undeclared_jpeg_after_end_is_polyglot() {
    let original = sample!("Canon_40D.jpg");
    let mut bytes = original.clone();
    bytes.extend_from_slice(&original);
    assert_eq!(rejected_codes(&check("x.jpg", "", &bytes)), ["polyglot"]);
}

#[test]
fn icc_profile_is_kept() {
    let original = sample!("Canon_40D.jpg");
    let profile = b"ICC_PROFILE\0\x01\x01fake-profile-bytes";
    let cleaned = cleaned_jpeg("x.jpg", &with_app2(&original, profile));
    assert!(contains(&cleaned, profile));
}
