//! Type detection: the bytes decide the type, allowed text passes, and every other kind of file
//! is rejected with its own code.

mod common;

use common::{ZipEntry, check, deflate, rejected_codes, zip};
use portal_sanitize::{FileType, Outcome};

fn detected(outcome: &Outcome) -> Option<&'static str> {
    match outcome {
        Outcome::Rejected { detected, .. } => *detected,
        Outcome::Accepted { .. } => None,
    }
}

fn message(outcome: &Outcome) -> &str {
    match outcome {
        Outcome::Accepted { findings, .. } | Outcome::Rejected { findings, .. } => {
            &findings[0].message
        }
    }
}

fn text_accepted(bytes: &[u8]) -> Outcome {
    let outcome = check("notes.txt", "text/plain", bytes);
    assert_eq!(
        outcome,
        Outcome::Accepted {
            file_type: FileType::Text,
            cleaned: None,
            findings: Vec::new(),
        }
    );
    outcome
}

fn docx(extra: &[ZipEntry<'_>]) -> Vec<u8> {
    let mut entries = vec![
        ZipEntry::stored("[Content_Types].xml", b"<Types/>"),
        ZipEntry::stored("word/document.xml", b"<w:document/>"),
    ];
    for entry in extra {
        entries.push(ZipEntry {
            name: entry.name,
            data: entry.data.clone(),
            method: entry.method,
            uncompressed_size: entry.uncompressed_size,
        });
    }
    zip(&entries)
}

#[test]
fn empty_file_is_rejected() {
    assert_eq!(
        rejected_codes(&check("a.pdf", "application/pdf", b"")),
        ["empty"]
    );
}

#[test]
fn plain_text_is_accepted_unchanged() {
    text_accepted(
        b"Blood pressure 120/80 at 9:00.\r\nTook 5 mg as prescribed.\tNo side effects.\n",
    );
    text_accepted("Temp. 37,2 °C — naïve façade 日本語\u{000C}".as_bytes());
    text_accepted(b"\xEF\xBB\xBFtext with a byte order mark");
}

#[test]
fn eicar_test_string_is_accepted_as_text() {
    // Antivirus scanning happens in a later step; the EICAR string is valid plain text.
    text_accepted(br"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*");
}

#[test]
fn text_with_control_characters_is_rejected() {
    let outcome = check("a.txt", "text/plain", b"ring the bell \x07 now");
    assert_eq!(rejected_codes(&outcome), ["type-not-allowed"]);
    assert!(message(&outcome).contains("control characters"));
}

#[test]
fn text_not_in_utf8_is_rejected() {
    let outcome = check("a.txt", "text/plain", b"caf\xe9 au lait");
    assert_eq!(rejected_codes(&outcome), ["type-not-allowed"]);
    assert!(message(&outcome).contains("UTF-8"));
}

#[test]
fn svg_with_script_is_rejected() {
    let svg = br#"<?xml version="1.0"?>
<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.domain)</script></svg>"#;
    let outcome = check("chart.svg", "image/svg+xml", svg);
    assert_eq!(rejected_codes(&outcome), ["svg"]);
    assert_eq!(detected(&outcome), Some("image/svg+xml"));
}

#[test]
fn html_named_png_is_rejected() {
    let html = b"  <!DOCTYPE html>\n<html><body><img src=x onerror=alert(1)></body></html>";
    let outcome = check("xray.png", "image/png", html);
    assert_eq!(rejected_codes(&outcome), ["html"]);
    assert_eq!(detected(&outcome), Some("text/html"));
}

#[test]
fn script_inside_text_is_rejected() {
    let outcome = check(
        "a.txt",
        "",
        b"Dear doctor,\nsee <ScRiPt src=//x.example/a.js></script>",
    );
    assert_eq!(rejected_codes(&outcome), ["html"]);
}

#[test]
fn sniffed_html_start_is_rejected() {
    for start in [&b"<p>hello</p>"[..], b"<!-- note -->", b"<TABLE border=1>"] {
        assert_eq!(rejected_codes(&check("a.txt", "", start)), ["html"]);
    }
}

#[test]
fn docx_with_macros_is_rejected() {
    let bytes = docx(&[ZipEntry::stored(
        "word/vbaProject.bin",
        b"\xd0\xcf\x11\xe0macro",
    )]);
    assert_eq!(
        rejected_codes(&check("report.docx", "", &bytes)),
        ["office-macros"]
    );
}

#[test]
fn docx_without_macros_is_office_document() {
    let outcome = check("report.docx", "", &docx(&[]));
    assert_eq!(rejected_codes(&outcome), ["office-document"]);
    assert_eq!(
        detected(&outcome),
        Some("application/vnd.openxmlformats-officedocument.wordprocessingml.document")
    );
}

#[test]
fn legacy_office_files_are_rejected() {
    let mut ole = vec![0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
    ole.extend_from_slice(&[0; 504]);
    assert_eq!(
        rejected_codes(&check("a.doc", "", &ole)),
        ["office-document"]
    );

    ole.extend_from_slice(
        "_VBA_PROJECT"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect::<Vec<_>>()
            .as_slice(),
    );
    assert_eq!(rejected_codes(&check("a.xls", "", &ole)), ["office-macros"]);
}

#[test]
fn plain_zip_is_archive() {
    let bytes = zip(&[ZipEntry::stored("scan.jpg", b"\xff\xd8\xff")]);
    let outcome = check("scans.zip", "application/zip", &bytes);
    assert_eq!(rejected_codes(&outcome), ["archive"]);
    assert_eq!(detected(&outcome), Some("application/zip"));
}

#[test]
fn small_zip_declaring_huge_contents_is_rejected() {
    // One kilobyte of deflate that expands to 1 MiB of zeros, declared as almost 4 GiB.
    let bomb = ZipEntry {
        name: "bomb.bin",
        data: deflate(&vec![0; 1024 * 1024]),
        method: 8,
        uncompressed_size: 0xFFFF_FF00,
    };
    let bytes = zip(&[bomb]);
    assert!(bytes.len() < 1536, "zip is {} bytes", bytes.len());

    let outcome = check("photos.zip", "", &bytes);
    assert_eq!(rejected_codes(&outcome), ["archive"]);
    assert!(
        message(&outcome).contains("more than 256 MiB"),
        "{}",
        message(&outcome)
    );
    assert!(message(&outcome).contains("not accepted or unpacked"));
}

#[test]
fn compressed_archives_are_rejected() {
    let cases: [(&[u8], &str); 6] = [
        (b"\x1f\x8b\x08\x00\x00\x00\x00\x00", "application/gzip"),
        (b"7z\xbc\xaf\x27\x1c\x00\x04", "application/x-7z-compressed"),
        (b"Rar!\x1a\x07\x01\x00", "application/vnd.rar"),
        (b"BZh91AY&SY\x00\x00", "application/x-bzip2"),
        (b"\xfd7zXZ\x00\x00\x04", "application/x-xz"),
        (b"\x28\xb5\x2f\xfd\x00\x00", "application/zstd"),
    ];
    for (bytes, media_type) in cases {
        let outcome = check("a.pdf", "application/pdf", bytes);
        assert_eq!(rejected_codes(&outcome), ["archive"], "{media_type}");
        assert_eq!(detected(&outcome), Some(media_type));
    }

    let mut tar = vec![0; 512];
    tar[..8].copy_from_slice(b"scan.jpg");
    tar[257..262].copy_from_slice(b"ustar");
    assert_eq!(rejected_codes(&check("a.tar", "", &tar)), ["archive"]);
}

#[test]
fn executables_are_rejected() {
    let mut mz = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00".to_vec();
    mz.extend_from_slice(&[0; 112]);
    let cases: [&[u8]; 6] = [
        &mz,
        b"\x7fELF\x02\x01\x01\x00",
        b"\xcf\xfa\xed\xfe\x07\x00\x00\x01",
        b"\xca\xfe\xba\xbe\x00\x00\x00\x34",
        b"\x00asm\x01\x00\x00\x00",
        b"#!/bin/sh\nrm -rf ~\n",
    ];
    for bytes in cases {
        assert_eq!(
            rejected_codes(&check("photo.jpg", "image/jpeg", bytes)),
            ["executable"],
            "{:?}",
            &bytes[..4]
        );
    }
}

#[test]
fn other_image_formats_are_not_allowed() {
    let mut bmp = b"BM\x36\x00\x00\x00\x00\x00\x00\x00\x36\x00\x00\x00\x28\x00\x00\x00".to_vec();
    bmp.extend_from_slice(&[0; 40]);
    let cases: [(&[u8], &str); 4] = [
        (b"GIF89a\x01\x00\x01\x00", "image/gif"),
        (&bmp, "image/bmp"),
        (b"II*\x00\x08\x00\x00\x00", "image/tiff"),
        (b"RIFF\x24\x00\x00\x00WEBPVP8 ", "image/webp"),
    ];
    for (bytes, media_type) in cases {
        let outcome = check("a.png", "image/png", bytes);
        assert_eq!(
            rejected_codes(&outcome),
            ["type-not-allowed"],
            "{media_type}"
        );
        assert_eq!(detected(&outcome), Some(media_type));
        assert!(message(&outcome).contains("convert it to JPEG, PNG or PDF"));
    }
}

#[test]
fn unknown_binary_is_not_allowed() {
    let outcome = check("a.pdf", "application/pdf", &[0x00, 0x13, 0x37, 0x00, 0xAB]);
    assert_eq!(rejected_codes(&outcome), ["type-not-allowed"]);
    assert_eq!(detected(&outcome), None);
}

#[test]
fn text_that_starts_like_a_bitmap_is_text() {
    text_accepted(b"BMI 24.1, measured on Monday");
    text_accepted(b"MZ clinic follow-up");
}

#[test]
fn pdf_header_in_text_is_polyglot() {
    let outcome = check("a.txt", "", b"notes\n%PDF-1.4\n1 0 obj << >> endobj");
    assert_eq!(rejected_codes(&outcome), ["polyglot"]);
}
