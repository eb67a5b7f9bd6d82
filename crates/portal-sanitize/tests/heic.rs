//! HEIC/HEIF: Exif and XMP items in hand-built containers are overwritten with zeros in place,
//! and malformed or oversized containers are rejected.

mod common;

use common::{
    HEVC_DATA, HeifOptions, check, contains, exif_payload, heif, rejected_codes, xmp_payload,
};
use portal_sanitize::{FileType, Outcome};

fn cleaned_heif(bytes: &[u8]) -> Vec<u8> {
    match check("IMG_0001.HEIC", "image/heic", bytes) {
        Outcome::Accepted {
            file_type: FileType::Heic,
            cleaned: Some(cleaned),
            findings,
        } => {
            let codes: Vec<_> = findings.iter().map(|finding| finding.code).collect();
            assert_eq!(codes, ["metadata-removed"]);
            cleaned
        }
        other => panic!("expected a cleaned HEIF file, got {other:?}"),
    }
}

/// Returns the offset of `needle` in `haystack`.
fn offset_of(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
        .unwrap_or_else(|| panic!("fixture lacks {needle:?}"))
}

/// Asserts that `cleaned` equals `original` except for `payload`, which is all zeros.
fn assert_only_payload_zeroed(original: &[u8], cleaned: &[u8], payload: &[u8]) {
    let start = offset_of(original, payload);
    let end = start + payload.len();
    assert_eq!(cleaned.len(), original.len());
    assert!(cleaned[start..end].iter().all(|&byte| byte == 0));
    assert_eq!(cleaned[..start], original[..start]);
    assert_eq!(cleaned[end..], original[end..]);
}

#[test]
fn exif_item_is_zeroed_in_place() {
    let original = heif(&HeifOptions::default());
    assert!(contains(&original, b"GPSLatitude=51.500729N"));

    let cleaned = cleaned_heif(&original);
    assert!(!contains(&cleaned, b"GPSLatitude"));
    assert!(!contains(&cleaned, b"Exif\0\0MM"));
    assert!(contains(&cleaned, HEVC_DATA), "image data was changed");
    assert_only_payload_zeroed(&original, &cleaned, &exif_payload());
}

#[test]
fn xmp_item_is_zeroed_in_place() {
    let original = heif(&HeifOptions {
        exif: None,
        xmp: Some(xmp_payload()),
        ..HeifOptions::default()
    });
    let cleaned = cleaned_heif(&original);
    assert!(!contains(&cleaned, b"GPSLatitude"));
    assert_only_payload_zeroed(&original, &cleaned, &xmp_payload());
}

#[test]
fn every_iloc_version_is_read() {
    for iloc_version in [0, 1, 2] {
        let original = heif(&HeifOptions {
            iloc_version,
            xmp: Some(xmp_payload()),
            ..HeifOptions::default()
        });
        let cleaned = cleaned_heif(&original);
        assert!(
            !contains(&cleaned, b"GPSLatitude"),
            "iloc version {iloc_version}"
        );
        assert!(contains(&cleaned, HEVC_DATA), "iloc version {iloc_version}");
    }
}

#[test]
fn large_box_size_is_read() {
    let original = heif(&HeifOptions {
        large_mdat: true,
        ..HeifOptions::default()
    });
    let cleaned = cleaned_heif(&original);
    assert_only_payload_zeroed(&original, &cleaned, &exif_payload());
}

#[test]
fn heif_without_metadata_is_unchanged() {
    let original = heif(&HeifOptions {
        exif: None,
        ..HeifOptions::default()
    });
    assert_eq!(
        check("x.heic", "image/heic", &original),
        Outcome::Accepted {
            file_type: FileType::Heic,
            cleaned: None,
            findings: Vec::new(),
        }
    );
}

#[test]
fn metadata_outside_file_offsets_is_rejected() {
    // Construction method 1 stores the item in `idat`, which cannot be zeroed in place here.
    let original = heif(&HeifOptions {
        iloc_version: 1,
        metadata_construction_method: 1,
        ..HeifOptions::default()
    });
    assert_eq!(
        rejected_codes(&check("x.heic", "", &original)),
        ["corrupt-image"]
    );
}

#[test]
fn enormous_image_size_is_rejected() {
    let original = heif(&HeifOptions {
        width: 100_000,
        height: 100_000,
        ..HeifOptions::default()
    });
    assert_eq!(
        rejected_codes(&check("x.heic", "", &original)),
        ["image-too-large"]
    );
}

#[test]
fn box_past_the_end_is_rejected() {
    let original = heif(&HeifOptions::default());
    let truncated = &original[..original.len() - 4];
    assert_eq!(
        rejected_codes(&check("x.heic", "", truncated)),
        ["corrupt-image"]
    );
}

#[test]
fn extent_past_the_end_is_rejected() {
    let mut original = heif(&HeifOptions::default());
    let exif_start = u32::try_from(offset_of(&original, &exif_payload())).unwrap_or(u32::MAX);
    let exif_len = u32::try_from(exif_payload().len()).unwrap_or(u32::MAX);
    // The extent's offset and length fields in `iloc`; point the offset past the end.
    let mut extent = exif_start.to_be_bytes().to_vec();
    extent.extend_from_slice(&exif_len.to_be_bytes());
    let offset_field = offset_of(&original, &extent);
    original[offset_field..offset_field + 4].copy_from_slice(&u32::MAX.to_be_bytes());
    assert_eq!(
        rejected_codes(&check("x.heic", "", &original)),
        ["corrupt-image"]
    );
}

#[test]
fn avif_is_not_allowed() {
    let mut bytes = heif(&HeifOptions::default());
    bytes[8..12].copy_from_slice(b"avif");
    bytes[16..20].copy_from_slice(b"avif");
    bytes[20..24].copy_from_slice(b"mif1");
    let outcome = check("x.heic", "", &bytes);
    assert_eq!(rejected_codes(&outcome), ["type-not-allowed"]);
    assert!(matches!(
        outcome,
        Outcome::Rejected {
            detected: Some("image/avif"),
            ..
        }
    ));
}

#[test]
fn mp4_video_is_not_allowed() {
    let mut bytes = heif(&HeifOptions::default());
    bytes[8..12].copy_from_slice(b"isom");
    bytes[16..24].copy_from_slice(b"isommp42");
    let outcome = check("clip.heic", "", &bytes);
    assert_eq!(rejected_codes(&outcome), ["type-not-allowed"]);
}
