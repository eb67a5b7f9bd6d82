//! Signed checkpoints: the published signed-note example, round trips, and every tamper.

use base64ct::{Base64, Encoding};
use portal_auditlog::{Checkpoint, CheckpointError, CheckpointSigner, CheckpointVerifier};

const ORIGIN: &str = "portal.example.org/audit";

fn signer() -> CheckpointSigner {
    CheckpointSigner::from_seed("portal-audit", &[9; 32]).unwrap_or_else(|e| panic!("{e}"))
}

fn verifier(signer: &CheckpointSigner) -> CheckpointVerifier {
    CheckpointVerifier::from_verifier_key(&signer.verifier_key()).unwrap_or_else(|e| panic!("{e}"))
}

fn checkpoint() -> Checkpoint {
    Checkpoint {
        origin: ORIGIN.to_owned(),
        size: 1234,
        root: [0xab; 32],
    }
}

fn signed() -> String {
    signer()
        .sign(&checkpoint())
        .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn signed_note_example_key_id_and_signature_verify() {
    // The example key and note of the Go signed-note package (golang.org/x/mod/sumdb/note).
    let key = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    let note = "If you think cryptography is the answer to your problem,\n\
                then you don't know what your problem is.\n\
                \n\
                \u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
    let verifier = CheckpointVerifier::from_verifier_key(key).unwrap_or_else(|e| panic!("{e}"));
    // The text is not a checkpoint, so only the signature step can succeed.
    assert_eq!(
        verifier.verify(note, ORIGIN),
        Err(CheckpointError::Malformed(
            "tree size is not a canonical decimal"
        ))
    );
    let tampered = note.replace("cryptography", "cryptographY");
    assert_eq!(
        verifier.verify(&tampered, ORIGIN),
        Err(CheckpointError::BadSignature("PeterNeumann".to_owned()))
    );
}

#[test]
fn signed_checkpoint_round_trips() {
    let signer = signer();
    let note = signed();
    assert!(
        note.starts_with("portal.example.org/audit\n1234\n"),
        "{note}"
    );
    assert!(note.contains("\n\n\u{2014} portal-audit "), "{note}");
    assert_eq!(verifier(&signer).verify(&note, ORIGIN), Ok(checkpoint()));
}

#[test]
fn tampered_fields_are_rejected() {
    let signer = signer();
    let verifier = verifier(&signer);
    let note = signed();
    let root = Base64::encode_string(&[0xab; 32]);
    for (from, to) in [
        ("\n1234\n", "\n1235\n"),
        (ORIGIN, "portal.example.org/audiT"),
        (root.as_str(), &root.replace('q', "r")),
    ] {
        let tampered = note.replacen(from, to, 1);
        assert_ne!(tampered, note, "{from} not found");
        assert!(
            verifier.verify(&tampered, ORIGIN).is_err(),
            "{from} -> {to}"
        );
    }
}

#[test]
fn flipped_signature_bit_is_rejected() {
    let signer = signer();
    let note = signed();
    let line = note.lines().last().unwrap_or_default();
    let encoded = line.rsplit(' ').next().unwrap_or_default();
    let mut blob: Vec<u8> = Base64::decode_vec(encoded).unwrap_or_default();
    blob[10] ^= 1;
    let forged = note.replace(encoded, &Base64::encode_string(&blob));
    assert_eq!(
        verifier(&signer).verify(&forged, ORIGIN),
        Err(CheckpointError::BadSignature("portal-audit".to_owned()))
    );
}

#[test]
fn signature_by_another_key_is_not_enough() {
    let other =
        CheckpointSigner::from_seed("portal-audit", &[8; 32]).unwrap_or_else(|e| panic!("{e}"));
    let note = other.sign(&checkpoint()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        verifier(&signer()).verify(&note, ORIGIN),
        Err(CheckpointError::NotSigned("portal-audit".to_owned()))
    );
}

#[test]
fn extra_signature_by_another_key_is_ignored() {
    let signer = signer();
    let witness =
        CheckpointSigner::from_seed("witness", &[7; 32]).unwrap_or_else(|e| panic!("{e}"));
    let witnessed = witness
        .sign(&checkpoint())
        .unwrap_or_else(|e| panic!("{e}"));
    let witness_line = witnessed.lines().last().unwrap_or_default();
    let note = format!("{}{witness_line}\n", signed());
    assert_eq!(verifier(&signer).verify(&note, ORIGIN), Ok(checkpoint()));
}

#[test]
fn checkpoint_for_another_log_is_rejected() {
    let signer = signer();
    assert_eq!(
        verifier(&signer).verify(&signed(), "elsewhere.example/log"),
        Err(CheckpointError::WrongOrigin)
    );
}

#[test]
fn malformed_notes_are_rejected() {
    let signer = signer();
    let verifier = verifier(&signer);
    let note = signed();
    let cases = [
        note.trim_end().to_owned(),
        note.replacen("\n\n", "\n", 1),
        note.replacen("\n1234\n", "\n01234\n", 1),
        note.replacen("\n1234\n", "\n+1234\n", 1),
        note.replacen('\u{2014}', "-", 1),
        format!("{note}\u{2014} trailing\n"),
    ];
    for case in cases {
        assert!(verifier.verify(&case, ORIGIN).is_err(), "{case:?}");
    }
}

#[test]
fn verifier_key_with_wrong_id_is_rejected() {
    let key = signer().verifier_key();
    let mut parts: Vec<&str> = key.split('+').collect();
    parts[1] = "00000000";
    assert!(CheckpointVerifier::from_verifier_key(&parts.join("+")).is_err());
    assert!(CheckpointVerifier::from_verifier_key("no-plus-signs").is_err());
    assert!(CheckpointSigner::from_seed("has space", &[1; 32]).is_err());
}

#[test]
fn signer_debug_shows_no_key() {
    let debug = format!("{:?}", signer());
    assert!(debug.contains("portal-audit"), "{debug}");
    assert!(!debug.contains("key_pair"), "{debug}");
}
