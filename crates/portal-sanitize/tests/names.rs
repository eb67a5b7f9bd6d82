//! Display names and type-mismatch notes.

mod common;

use common::{check, codes, encode_png};
use portal_sanitize::{FileType, corrected_name};

#[test]
fn extension_follows_detected_type() {
    assert_eq!(corrected_name("scan.pdf", FileType::Png), "scan.png");
    assert_eq!(corrected_name("scan.jpg", FileType::Png), "scan.png");
    assert_eq!(
        corrected_name("IMG_0001.JPEG", FileType::Jpeg),
        "IMG_0001.jpg"
    );
    assert_eq!(
        corrected_name("IMG_0002.HEIC", FileType::Heic),
        "IMG_0002.heic"
    );
    assert_eq!(corrected_name("notes", FileType::Text), "notes.txt");
    assert_eq!(
        corrected_name("report.pdf.exe", FileType::Pdf),
        "report.pdf.pdf"
    );
}

#[test]
fn path_parts_are_stripped() {
    assert_eq!(
        corrected_name("../../etc/passwd", FileType::Text),
        "passwd.txt"
    );
    assert_eq!(
        corrected_name("..\\..\\Windows\\win.ini", FileType::Text),
        "win.txt"
    );
    assert_eq!(
        corrected_name("C:\\Users\\pat\\scan.jpg", FileType::Jpeg),
        "scan.jpg"
    );
    assert_eq!(corrected_name("../", FileType::Pdf), "file.pdf");
    assert_eq!(corrected_name("..", FileType::Pdf), "file.pdf");
}

#[test]
fn control_characters_are_removed() {
    assert_eq!(
        corrected_name("re\0port\u{7}.pdf", FileType::Pdf),
        "report.pdf"
    );
    assert_eq!(
        corrected_name("line\r\nbreak.png", FileType::Png),
        "linebreak.png"
    );
    assert_eq!(corrected_name("a\u{9B}b.png", FileType::Png), "ab.png");
}

#[test]
fn bidi_overrides_are_removed() {
    // Shown as "invoiceexe.pdf" without the fix, but really ends in ".fdp.exe" reversed.
    assert_eq!(
        corrected_name("invoice\u{202E}fdp.exe", FileType::Pdf),
        "invoicefdp.pdf"
    );
    assert_eq!(
        corrected_name("\u{2067}scan\u{2069}\u{200F}.jpg", FileType::Jpeg),
        "scan.jpg"
    );
}

#[test]
fn empty_stem_becomes_file() {
    assert_eq!(corrected_name("", FileType::Png), "file.png");
    assert_eq!(corrected_name(".png", FileType::Png), "file.png");
    assert_eq!(corrected_name("\u{202E}.jpg", FileType::Jpeg), "file.jpg");
    assert_eq!(corrected_name("  . .pdf", FileType::Pdf), "file.pdf");
}

#[test]
fn long_stem_is_cut_to_100_characters() {
    let long = format!("{}.jpg", "é".repeat(300));
    let corrected = corrected_name(&long, FileType::Jpeg);
    assert_eq!(corrected, format!("{}.jpg", "é".repeat(100)));
}

#[test]
fn reserved_characters_are_removed() {
    assert_eq!(
        corrected_name("a<b>c:d\"e|f?g*h.txt", FileType::Text),
        "abcdefgh.txt"
    );
}

#[test]
fn matching_name_and_type_add_no_note() {
    let png = encode_png(4, 4, None);
    assert!(codes(&check("x.png", "image/png", &png)).is_empty());
    assert!(codes(&check("x.PNG", "image/png; charset=binary", &png)).is_empty());
    assert!(codes(&check("x", "", &png)).is_empty());
    assert!(codes(&check("x", "application/octet-stream", &png)).is_empty());
}

#[test]
fn disagreeing_declared_type_adds_note() {
    let png = encode_png(4, 4, None);
    assert_eq!(codes(&check("x", "image/jpeg", &png)), ["type-mismatch"]);
}

#[test]
fn unknown_extension_adds_note() {
    let png = encode_png(4, 4, None);
    let outcome = check("x.docx", "", &png);
    assert_eq!(codes(&outcome), ["type-mismatch"]);
}
