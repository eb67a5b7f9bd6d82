//! `audit-verify` as a compliance officer runs it: exit 0 for an intact export and for a
//! consistent pair of checkpoints, 1 when an entry or a proof was altered, 2 for bad input.

use std::path::Path;
use std::process::Command;

use base64ct::{Base64, Encoding};
use futures::executor::block_on;
use portal_auditlog::{AuditLog, Checkpoint, CheckpointSigner, MemoryStore};

const ORIGIN: &str = "portal.test/audit";

struct Files {
    dir: tempfile::TempDir,
    key: String,
}

impl Files {
    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    fn write(&self, name: &str, text: &str) {
        std::fs::write(self.dir.path().join(name), text).unwrap_or_else(|e| panic!("{e}"));
    }
}

/// A log of 9 entries with checkpoints at 5 and 9, the export at 9, and the consistency proof
/// between the two checkpoints, as the routes return them.
fn files() -> Files {
    let store = MemoryStore::new();
    let log = AuditLog::new(&store, "audit");
    let signer =
        CheckpointSigner::from_seed("portal-audit", &[9; 32]).unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let files = Files {
        dir,
        key: signer.verifier_key(),
    };
    for size in [5u64, 9] {
        let current = block_on(log.tree_head())
            .unwrap_or_else(|e| panic!("{e}"))
            .size;
        for i in current..size {
            block_on(log.append(format!("{{\"event\":{i}}}").as_bytes()))
                .unwrap_or_else(|e| panic!("{e}"));
        }
        let head = block_on(log.tree_head()).unwrap_or_else(|e| panic!("{e}"));
        let note = signer
            .sign(&Checkpoint {
                origin: ORIGIN.into(),
                size: head.size,
                root: head.root,
            })
            .unwrap_or_else(|e| panic!("{e}"));
        files.write(&format!("checkpoint-{size}.txt"), &note);
    }
    let lines = block_on(log.export(0, 9, 9)).unwrap_or_else(|e| panic!("{e}"));
    files.write("export.jsonl", &(lines.join("\n") + "\n"));
    let proof = block_on(log.consistency_proof(5, 9)).unwrap_or_else(|e| panic!("{e}"));
    let proof: Vec<String> = proof
        .iter()
        .map(|hash| Base64::encode_string(hash))
        .collect();
    files.write(
        "proof.json",
        &serde_json::json!({ "first": 5, "second": 9, "proof": proof }).to_string(),
    );
    files
}

fn run(files: &Files, args: &[&str]) -> (i32, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_audit-verify"))
        .args(args)
        .args(["--key", &files.key, "--origin", ORIGIN])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status.code().unwrap_or(-1), text)
}

fn consistency(files: &Files, older: &str, newer: &str, proof: &str) -> (i32, String) {
    run(
        files,
        &[
            "--older-checkpoint",
            &files.path(older),
            "--checkpoint",
            &files.path(newer),
            "--consistency-proof",
            &files.path(proof),
        ],
    )
}

#[test]
fn intact_export_and_consistent_checkpoints_pass() {
    let files = files();
    let export = files.path("export.jsonl");
    let checkpoint = files.path("checkpoint-9.txt");
    let (code, text) = run(&files, &["--export", &export, "--checkpoint", &checkpoint]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("9 entries verified"), "{text}");

    let (code, text) = consistency(&files, "checkpoint-5.txt", "checkpoint-9.txt", "proof.json");
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("extends the checkpoint of 5 entries"),
        "{text}"
    );
}

#[test]
fn altered_entries_and_proofs_fail() {
    let files = files();
    let export = std::fs::read_to_string(Path::new(&files.path("export.jsonl")))
        .unwrap_or_else(|e| panic!("{e}"));
    files.write(
        "altered.jsonl",
        &export.replacen("\\\"event\\\":3", "\\\"event\\\":33", 1),
    );
    let (code, text) = run(
        &files,
        &[
            "--export",
            &files.path("altered.jsonl"),
            "--checkpoint",
            &files.path("checkpoint-9.txt"),
        ],
    );
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("entry 3: altered"), "{text}");

    // A proof with one hash changed does not show consistency.
    let mut proof: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(files.path("proof.json")).unwrap_or_else(|e| panic!("{e}")),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    proof["proof"][0] = serde_json::json!(Base64::encode_string(&[0u8; 32]));
    files.write("forged.json", &proof.to_string());
    let (code, text) = consistency(
        &files,
        "checkpoint-5.txt",
        "checkpoint-9.txt",
        "forged.json",
    );
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("does not extend"), "{text}");

    // Checkpoints swapped: the proof is for other sizes.
    let (code, text) = consistency(&files, "checkpoint-9.txt", "checkpoint-5.txt", "proof.json");
    assert_eq!(code, 2, "{text}");

    // A checkpoint signed by another key is rejected outright.
    let other =
        CheckpointSigner::from_seed("portal-audit", &[1; 32]).unwrap_or_else(|e| panic!("{e}"));
    let forged_note = other
        .sign(&Checkpoint {
            origin: ORIGIN.into(),
            size: 9,
            root: [0; 32],
        })
        .unwrap_or_else(|e| panic!("{e}"));
    files.write("forged-checkpoint.txt", &forged_note);
    let (code, text) = consistency(
        &files,
        "checkpoint-5.txt",
        "forged-checkpoint.txt",
        "proof.json",
    );
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("checkpoint rejected"), "{text}");
}
