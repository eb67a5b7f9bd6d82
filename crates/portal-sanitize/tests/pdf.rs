//! PDF: scripts, actions, attachments, XFA, rich media and encryption are rejected wherever they
//! hide, every one is reported, and clean documents pass unchanged.

mod common;

use common::{
    ZipEntry, check, minimal_pdf, minimal_pdf_objects, pdf, pdf_stream, rejected_codes, zip, zlib,
};
use portal_sanitize::{FileType, Limits, Outcome, inspect};

fn accepted_unchanged(bytes: &[u8]) -> Outcome {
    let outcome = check("letter.pdf", "application/pdf", bytes);
    assert_eq!(
        outcome,
        Outcome::Accepted {
            file_type: FileType::Pdf,
            cleaned: None,
            findings: Vec::new(),
        }
    );
    outcome
}

/// Builds a PDF whose catalog gets `catalog_entries` and which has `extra` as objects 6 onwards.
fn pdf_with(catalog_entries: &str, extra: &[Vec<u8>]) -> Vec<u8> {
    let mut objects = minimal_pdf_objects(catalog_entries);
    objects.extend_from_slice(extra);
    pdf(&objects, "")
}

/// Builds an object stream (`/Type /ObjStm`) that contains `objects` as objects 100, 101, ...
fn object_stream(objects: &[&str], dict_entries: &str, compress: bool) -> Vec<u8> {
    let mut header = String::new();
    let mut body = String::new();
    for (index, object) in objects.iter().enumerate() {
        header.push_str(&format!("{} {} ", 100 + index, body.len()));
        body.push_str(object);
        body.push('\n');
    }
    let first = header.len();
    let contents = format!("{header}{body}");
    let data = if compress {
        zlib(contents.as_bytes())
    } else {
        contents.into_bytes()
    };
    pdf_stream(
        &format!(
            "/Type /ObjStm /N {} /First {first} {dict_entries}",
            objects.len()
        ),
        &data,
    )
}

#[test]
fn minimal_pdf_is_accepted_unchanged() {
    accepted_unchanged(&minimal_pdf());
}

#[test]
fn javascript_action_is_rejected() {
    let bytes = pdf_with(
        "/Names << /JavaScript 6 0 R >>",
        &[
            b"<< /Names [(init) 7 0 R] >>".to_vec(),
            b"<< /S /JavaScript /JS (app.alert(1)) >>".to_vec(),
        ],
    );
    assert_eq!(
        rejected_codes(&check("x.pdf", "application/pdf", &bytes)),
        ["pdf-javascript"]
    );
}

#[test]
fn open_action_and_launch_are_both_reported() {
    let bytes = pdf_with(
        "/OpenAction 6 0 R",
        &[b"<< /S /Launch /F (cmd.exe) /P (/c calc) >>".to_vec()],
    );
    let outcome = check("x.pdf", "application/pdf", &bytes);
    assert_eq!(rejected_codes(&outcome), ["pdf-open-action", "pdf-launch"]);
    let Outcome::Rejected { findings, .. } = outcome else {
        unreachable!()
    };
    for finding in findings {
        assert!(
            finding.message.ends_with("re-upload."),
            "{}",
            finding.message
        );
        assert!(!finding.message.contains("cmd.exe"), "{}", finding.message);
    }
}

#[test]
fn javascript_in_compressed_object_stream_is_rejected() {
    // Enough objects that zlib compresses them instead of storing them verbatim.
    let mut objects = vec!["<< /S /JavaScript /JS (app.alert(1)) >>"];
    objects.extend(["<< /Type /Font /Subtype /Type1 /BaseFont /Courier >>"; 40]);
    let hidden = object_stream(&objects, "/Filter /FlateDecode", true);
    // The annotation's action is object 100, which only exists inside the object stream.
    let bytes = pdf_with(
        "",
        &[
            hidden,
            b"<< /Type /Annot /Subtype /Link /Rect [0 0 9 9] /A 100 0 R >>".to_vec(),
        ],
    );
    assert!(!common::contains(&bytes, b"JavaScript"));
    assert_eq!(
        rejected_codes(&check("x.pdf", "application/pdf", &bytes)),
        ["pdf-javascript"]
    );
}

#[test]
fn uncompressed_object_stream_is_scanned() {
    let hidden = object_stream(&["<< /AA << /O 7 0 R >> >>"], "", false);
    let bytes = pdf_with("", &[hidden]);
    assert_eq!(
        rejected_codes(&check("x.pdf", "", &bytes)),
        ["pdf-additional-actions"]
    );
}

#[test]
fn clean_object_stream_is_accepted() {
    let stream = object_stream(
        &["<< /Type /Font /Subtype /Type1 /BaseFont /Courier >>"],
        "/Filter /FlateDecode",
        true,
    );
    accepted_unchanged(&pdf_with("", &[stream]));
}

#[test]
fn hex_escaped_name_is_decoded() {
    let bytes = pdf_with(
        "/OpenAction [3 0 R /Fit]",
        &[b"<< /S /J#61vaScript /J#53 (app.alert(1)) >>".to_vec()],
    );
    assert_eq!(
        rejected_codes(&check("x.pdf", "", &bytes)),
        ["pdf-javascript"]
    );
}

#[test]
fn object_stream_with_other_filter_is_uninspectable() {
    let lzw = object_stream(&["<< >>"], "/Filter /LZWDecode", false);
    assert_eq!(
        rejected_codes(&check("x.pdf", "", &pdf_with("", &[lzw]))),
        ["pdf-uninspectable"]
    );

    let chained = object_stream(&["<< >>"], "/Filter [/ASCII85Decode /FlateDecode]", false);
    assert_eq!(
        rejected_codes(&check("x.pdf", "", &pdf_with("", &[chained]))),
        ["pdf-uninspectable"]
    );
}

#[test]
fn every_dangerous_feature_is_reported() {
    let bytes = pdf_with(
        "/AcroForm << /XFA 6 0 R >> /Names << /EmbeddedFiles 7 0 R >>",
        &[
            b"<< /Type /Annot /Subtype /RichMedia /AA << /PO 8 0 R >> >>".to_vec(),
            pdf_stream("/Type /EmbeddedFile", b"MZ payload"),
            b"<< /S /Launch /F (a.exe) >>".to_vec(),
        ],
    );
    assert_eq!(
        rejected_codes(&check("x.pdf", "", &bytes)),
        [
            "pdf-additional-actions",
            "pdf-launch",
            "pdf-embedded-file",
            "pdf-xfa",
            "pdf-rich-media",
        ]
    );
}

#[test]
fn encrypted_pdf_is_rejected() {
    let mut objects = minimal_pdf_objects("");
    objects.push(b"<< /Filter /Standard /V 2 /R 3 /O <00> /U <00> /P -4 >>".to_vec());
    let bytes = pdf(&objects, "/Encrypt 6 0 R");
    let outcome = check("x.pdf", "", &bytes);
    assert_eq!(rejected_codes(&outcome), ["pdf-encrypted"]);
    let Outcome::Rejected { findings, .. } = outcome else {
        unreachable!()
    };
    assert!(findings[0].message.contains("remove the password"));
}

#[test]
fn open_action_destination_is_accepted() {
    // LaTeX's hyperref writes an open-at-page destination like this into ordinary documents.
    accepted_unchanged(&pdf_with("/OpenAction [3 0 R /Fit]", &[]));
}

#[test]
fn feature_names_inside_strings_are_ignored() {
    let link = b"<< /Type /Annot /Subtype /Link /Rect [0 0 9 9] \
        /A << /S /URI /URI (https://developer.mozilla.org/docs/Web/JavaScript/Launch) >> >>";
    accepted_unchanged(&pdf_with("", &[link.to_vec()]));
}

#[test]
fn short_names_in_image_data_are_ignored() {
    // Binary image data may contain `/JS` or `/AA` by chance; only object syntax counts.
    let image = b"\x00\x01/JS \x02/AA (\x7f\x80/XFA\x00 random bytes".repeat(32);
    let stream = pdf_stream(
        "/Type /XObject /Subtype /Image /Width 8 /Height 8 /BitsPerComponent 8 \
         /ColorSpace /DeviceGray /Filter /FlateDecode",
        &zlib(&image),
    );
    accepted_unchanged(&pdf_with("", &[stream]));
}

#[test]
fn long_names_in_compressed_streams_are_found() {
    let content = zlib(b"q /JavaScript gs Q");
    let stream = pdf_stream("/Filter /FlateDecode", &content);
    assert_eq!(
        rejected_codes(&check("x.pdf", "", &pdf_with("", &[stream]))),
        ["pdf-javascript"]
    );
}

#[test]
fn stray_parenthesis_cannot_hide_objects() {
    // Readers find object 6 through the cross-reference table, so the `(` before it is junk.
    // In the first case a `)` in a later comment closes it, in the second nothing does.
    let hidden_objects: [&[u8]; 2] = [
        b"( junk\n6 0 obj\n<< /S /JavaScript /JS (x) >>\nendobj\n% )\n",
        b"( junk\n6 0 obj\n<< /S /JavaScript /JS (x) >>\nendobj\n",
    ];
    for hidden in hidden_objects {
        let mut bytes = minimal_pdf();
        let xref = bytes
            .windows(5)
            .position(|window| window == b"xref\n")
            .unwrap_or(0);
        bytes.splice(xref..xref, hidden.iter().copied());
        assert_eq!(
            rejected_codes(&check("x.pdf", "", &bytes)),
            ["pdf-javascript"]
        );
    }
}

#[test]
fn flate_bomb_is_rejected() {
    let bomb = zlib(&vec![0; 4 * 1024 * 1024]);
    let stream = pdf_stream("/Filter /FlateDecode", &bomb);
    let bytes = pdf_with("", &[stream]);
    let limits = Limits {
        max_inflated_bytes: 1024 * 1024,
        ..Limits::default()
    };
    assert_eq!(
        rejected_codes(&inspect("x.pdf", "", &bytes, &limits)),
        ["decompression-limit"]
    );
    accepted_unchanged(&bytes);
}

#[test]
fn pdf_with_zip_appended_is_polyglot() {
    let mut bytes = minimal_pdf();
    bytes.extend(zip(&[ZipEntry::stored(
        "evil.hta",
        b"<script>run()</script>",
    )]));
    assert_eq!(rejected_codes(&check("x.pdf", "", &bytes)), ["polyglot"]);
}

#[test]
fn pdf_with_html_after_end_is_polyglot() {
    let mut bytes = minimal_pdf();
    bytes.extend_from_slice(b"<!DOCTYPE html><script>alert(1)</script>");
    assert_eq!(rejected_codes(&check("x.pdf", "", &bytes)), ["polyglot"]);
}

#[test]
fn unknown_pdf_version_is_uninspectable() {
    let mut bytes = minimal_pdf();
    bytes[5..8].copy_from_slice(b"9.9");
    assert_eq!(
        rejected_codes(&check("x.pdf", "", &bytes)),
        ["pdf-uninspectable"]
    );
}

#[test]
fn js_key_alone_is_rejected() {
    let bytes = pdf_with("", &[b"<< /Type /Action /JS 7 0 R >>".to_vec()]);
    assert_eq!(
        rejected_codes(&check("x.pdf", "", &bytes)),
        ["pdf-javascript"]
    );
}

#[test]
fn stray_stream_cannot_hide_the_catalog() {
    // An unreferenced stream with no length and no `endstream` of its own: its data seems to
    // run to the next object's `endstream`, over the catalog that readers parse on their own.
    let mut bytes = b"%PDF-1.7\n99 0 obj\n<< /Filter /FlateDecode >>\nstream\n".to_vec();
    bytes.extend_from_slice(&zlib(b""));
    bytes.extend_from_slice(
        b"\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R \
          /OpenAction << /S /JavaScript /JS (app.alert\\('x'\\)) >> >>\nendobj\n\
          2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n\
          3 0 obj\n<< /Type /Page /Parent 2 0 R /Contents 4 0 R >>\nendobj\n\
          4 0 obj\n<< /Length 8 >>\nstream\nBT ET q\nendstream\nendobj\n\
          trailer\n<< /Root 1 0 R >>\n%%EOF\n",
    );
    let codes = rejected_codes(&check("x.pdf", "application/pdf", &bytes));
    assert!(codes.contains(&"pdf-javascript"), "{codes:?}");
    assert!(codes.contains(&"pdf-open-action"), "{codes:?}");
}

#[test]
fn actions_that_leave_the_document_are_rejected() {
    for action in ["GoToR", "GoToE", "SubmitForm", "ImportData"] {
        let bytes = pdf_with(
            "",
            &[
                format!("<< /Type /Annot /Subtype /Link /A << /S /{action} /F (x) >> >>")
                    .into_bytes(),
            ],
        );
        assert_eq!(
            rejected_codes(&check("x.pdf", "application/pdf", &bytes)),
            ["pdf-launch"],
            "{action}"
        );
    }
}
