//! Property tests: `inspect` returns on random bytes and on mutated copies of every fixture type,
//! and whatever it cleans is accepted again as the same type.

mod common;

use std::sync::LazyLock;

use common::{
    HeifOptions, ZipEntry, encode_png, heif, insert_before_iend, minimal_pdf, minimal_pdf_objects,
    pdf, pdf_stream, png_chunk, xmp_payload, zip, zlib,
};
use portal_sanitize::{Limits, Outcome, inspect};
use proptest::prelude::*;

/// One fixture of each type, and some variants that reach other code paths.
static FIXTURES: LazyLock<Vec<Vec<u8>>> = LazyLock::new(|| {
    let object_stream = {
        let objects = "100 0 << /Type /Font /Subtype /Type1 /BaseFont /Courier >>";
        pdf_stream(
            "/Type /ObjStm /N 1 /First 8 /Filter /FlateDecode",
            &zlib(objects.as_bytes()),
        )
    };
    let mut pdf_objects = minimal_pdf_objects("/OpenAction [3 0 R /Fit]");
    pdf_objects.push(object_stream);

    vec![
        sample!("Canon_40D.jpg"),
        sample!("DSCN0021.jpg"),
        encode_png(24, 16, Some(("Comment", "fixture"))),
        insert_before_iend(
            &encode_png(8, 8, None),
            &[png_chunk(b"eXIf", b"MM\0*\0\0\0\x08")],
        ),
        heif(&HeifOptions::default()),
        heif(&HeifOptions {
            iloc_version: 2,
            xmp: Some(xmp_payload()),
            large_mdat: true,
            ..HeifOptions::default()
        }),
        minimal_pdf(),
        pdf(&pdf_objects, ""),
        b"Blood pressure 120/80\nTemp 37.2\n".to_vec(),
        zip(&[
            ZipEntry::stored("[Content_Types].xml", b"<Types/>"),
            ZipEntry::stored("word/vbaProject.bin", b"macro"),
        ]),
    ]
});

#[derive(Debug, Clone)]
enum Mutation {
    Set(usize, u8),
    Insert(usize, Vec<u8>),
    Remove(usize, usize),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Set(at, byte)),
        1 => (any::<usize>(), prop::collection::vec(any::<u8>(), 1..16))
            .prop_map(|(at, bytes)| Mutation::Insert(at, bytes)),
        1 => (any::<usize>(), 1..64_usize).prop_map(|(at, len)| Mutation::Remove(at, len)),
        1 => any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn apply(bytes: &mut Vec<u8>, mutation: &Mutation) {
    let position = |at: usize, len: usize| at % (len + 1);
    match mutation {
        Mutation::Set(at, byte) => {
            if !bytes.is_empty() {
                let at = at % bytes.len();
                bytes[at] = *byte;
            }
        }
        Mutation::Insert(at, inserted) => {
            let at = position(*at, bytes.len());
            bytes.splice(at..at, inserted.iter().copied());
        }
        Mutation::Remove(at, len) => {
            let start = position(*at, bytes.len());
            let end = (start + len).min(bytes.len());
            bytes.drain(start..end);
        }
        Mutation::Truncate(at) => {
            let at = position(*at, bytes.len());
            bytes.truncate(at);
        }
    }
}

/// Inspects `bytes` and checks that a cleaned copy is accepted again as the same type.
fn inspect_and_reinspect(bytes: &[u8]) -> Result<(), TestCaseError> {
    let limits = Limits::default();
    if let Outcome::Accepted {
        file_type,
        cleaned: Some(cleaned),
        ..
    } = inspect("upload.bin", "", bytes, &limits)
    {
        let again = inspect("upload.bin", "", &cleaned, &limits);
        prop_assert!(
            matches!(again, Outcome::Accepted { file_type: again_type, .. } if again_type == file_type),
            "cleaned {file_type:?} was not accepted again: {again:?}"
        );
    }
    Ok(())
}

proptest! {
    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..4096)) {
        inspect_and_reinspect(&bytes)?;
    }

    #[test]
    fn random_bytes_after_magic_never_panic(
        magic in prop::sample::select(vec![
            &b"\xff\xd8\xff"[..],
            b"\x89PNG\r\n\x1a\n",
            b"%PDF-1.7\n",
            b"\0\0\0\x18ftypheic\0\0\0\0mif1heic",
            b"PK\x03\x04",
        ]),
        tail in prop::collection::vec(any::<u8>(), 0..2048),
    ) {
        let mut bytes = magic.to_vec();
        bytes.extend_from_slice(&tail);
        inspect_and_reinspect(&bytes)?;
    }

    #[test]
    fn mutated_fixtures_never_panic(
        index in 0..FIXTURES.len(),
        mutations in prop::collection::vec(mutation(), 1..8),
    ) {
        let mut bytes = FIXTURES[index].clone();
        for mutation in &mutations {
            apply(&mut bytes, mutation);
        }
        inspect_and_reinspect(&bytes)?;
    }
}

#[test]
fn fixtures_are_accepted_or_rejected_as_built() {
    let accepted: Vec<bool> = FIXTURES
        .iter()
        .map(|bytes| {
            matches!(
                inspect("f", "", bytes, &Limits::default()),
                Outcome::Accepted { .. }
            )
        })
        .collect();
    assert_eq!(
        accepted,
        [true, true, true, true, true, true, true, true, true, false]
    );
}
