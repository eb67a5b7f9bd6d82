//! Exports verified offline: an intact export passes, and each kind of tampering is reported
//! with the index it touched.

use futures::executor::block_on;
use portal_auditlog::{
    AuditLog, Checkpoint, CheckpointSigner, CheckpointVerifier, ExportFailure, ExportLine,
    MemoryStore, verify_export,
};

const ORIGIN: &str = "portal.test/audit";

struct Fixture {
    lines: Vec<String>,
    note: String,
    verifier: CheckpointVerifier,
    key: String,
}

fn fixture(entries: usize) -> Fixture {
    let store = MemoryStore::new();
    let log = AuditLog::new(&store, "audit");
    for i in 0..entries {
        block_on(log.append(format!("{{\"event\":{i}}}").as_bytes()))
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let head = block_on(log.tree_head()).unwrap_or_else(|e| panic!("{e}"));
    let signer =
        CheckpointSigner::from_seed("portal-audit", &[3; 32]).unwrap_or_else(|e| panic!("{e}"));
    let note = signer
        .sign(&Checkpoint {
            origin: ORIGIN.into(),
            size: head.size,
            root: head.root,
        })
        .unwrap_or_else(|e| panic!("{e}"));
    let lines = block_on(log.export(0, head.size, head.size)).unwrap_or_else(|e| panic!("{e}"));
    let key = signer.verifier_key();
    let verifier = CheckpointVerifier::from_verifier_key(&key).unwrap_or_else(|e| panic!("{e}"));
    Fixture {
        lines,
        note,
        verifier,
        key,
    }
}

fn failures(fixture: &Fixture, lines: &[String]) -> Vec<ExportFailure> {
    let report = verify_export(&lines.join("\n"), &fixture.note, &fixture.verifier, ORIGIN)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!report.is_intact(), "tampering went unnoticed");
    report.failures
}

fn alter(line: &str) -> String {
    let mut parsed: ExportLine = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}"));
    parsed.entry = parsed.entry.replace("event", "evenT");
    serde_json::to_string(&parsed).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn intact_export_verifies() {
    let fixture = fixture(10);
    let report = verify_export(
        &fixture.lines.join("\n"),
        &fixture.note,
        &fixture.verifier,
        ORIGIN,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(report.verified, 10);
}

#[test]
fn altered_entry_is_reported_by_index() {
    let fixture = fixture(10);
    let mut lines = fixture.lines.clone();
    lines[3] = alter(&lines[3]);
    assert_eq!(
        failures(&fixture, &lines),
        vec![ExportFailure::Altered { index: 3 }]
    );
}

#[test]
fn removed_entry_is_reported_missing() {
    let fixture = fixture(10);
    let mut lines = fixture.lines.clone();
    lines.remove(6);
    let found = failures(&fixture, &lines);
    assert!(
        found.contains(&ExportFailure::Missing { index: 6 }),
        "{found:?}"
    );
}

#[test]
fn truncated_export_is_reported_missing() {
    let fixture = fixture(10);
    let found = failures(&fixture, &fixture.lines[..8]);
    assert_eq!(
        found,
        vec![
            ExportFailure::Missing { index: 8 },
            ExportFailure::Missing { index: 9 }
        ]
    );
}

#[test]
fn reordered_entries_are_reported() {
    let fixture = fixture(10);
    let mut lines = fixture.lines.clone();
    lines.swap(4, 5);
    let found = failures(&fixture, &lines);
    assert!(
        found
            .iter()
            .any(|f| matches!(f, ExportFailure::OutOfOrder { index: 5, .. })),
        "{found:?}"
    );
}

#[test]
fn inserted_entry_is_reported() {
    let fixture = fixture(10);
    let mut lines = fixture.lines.clone();
    let forged = alter(&lines[2]);
    lines.insert(3, forged);
    let found = failures(&fixture, &lines);
    assert!(!found.is_empty(), "an inserted entry went unnoticed");
    assert!(
        found
            .iter()
            .any(|f| matches!(f, ExportFailure::OutOfOrder { index: 2, .. })),
        "{found:?}"
    );
}

#[test]
fn moved_and_altered_entry_is_reported_altered() {
    let fixture = fixture(10);
    let mut lines = fixture.lines.clone();
    lines.swap(4, 5);
    lines[5] = alter(&lines[5]);
    let found = failures(&fixture, &lines);
    assert!(
        found.contains(&ExportFailure::Altered { index: 4 }),
        "{found:?}"
    );
}

#[test]
fn huge_index_is_reported_without_panicking() {
    let fixture = fixture(3);
    let mut lines = fixture.lines.clone();
    let mut parsed: ExportLine = serde_json::from_str(&lines[1]).unwrap_or_else(|e| panic!("{e}"));
    parsed.index = u64::MAX;
    lines.insert(
        2,
        serde_json::to_string(&parsed).unwrap_or_else(|e| panic!("{e}")),
    );
    lines.push(fixture.lines[0].clone());
    let found = failures(&fixture, &lines);
    assert!(
        found.contains(&ExportFailure::OutOfOrder {
            line: 3,
            index: u64::MAX
        }),
        "{found:?}"
    );
    assert!(
        found.contains(&ExportFailure::OutOfOrder { line: 5, index: 0 }),
        "a repeated entry was not reported: {found:?}"
    );
}

#[test]
fn forged_checkpoint_is_rejected() {
    let fixture = fixture(4);
    let forged = fixture.note.replacen("\n4\n", "\n3\n", 1);
    assert!(
        verify_export(
            &fixture.lines.join("\n"),
            &forged,
            &fixture.verifier,
            ORIGIN
        )
        .is_err()
    );
}

#[test]
fn command_line_reports_the_altered_index() {
    let fixture = fixture(6);
    let dir = std::env::temp_dir().join(format!("audit-verify-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let export = dir.join("export.jsonl");
    let checkpoint = dir.join("checkpoint.txt");
    std::fs::write(&checkpoint, &fixture.note).unwrap_or_else(|e| panic!("{e}"));

    let run = |lines: &[String]| {
        std::fs::write(&export, lines.join("\n")).unwrap_or_else(|e| panic!("{e}"));
        std::process::Command::new(env!("CARGO_BIN_EXE_audit-verify"))
            .arg("--export")
            .arg(&export)
            .arg("--checkpoint")
            .arg(&checkpoint)
            .args(["--key", &fixture.key, "--origin", ORIGIN])
            .output()
            .unwrap_or_else(|e| panic!("{e}"))
    };

    let intact = run(&fixture.lines);
    assert_eq!(intact.status.code(), Some(0));

    let mut lines = fixture.lines.clone();
    lines[4] = alter(&lines[4]);
    let altered = run(&lines);
    assert_eq!(altered.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&altered.stdout);
    assert!(stdout.contains("entry 4: altered"), "{stdout}");

    let _ = std::fs::remove_dir_all(&dir);
}
