//! Backups restore: the end-to-end journey's state is backed up with `portal-host backup`,
//! restored with `portal-host restore` into an empty state directory and bucket, and a portal
//! on the restored state signs the same audit tree, contains the same objects and shows the
//! patient the same thread and photo. A damaged backup, a wrong key and a target that is not
//! empty are rejected before anything is written.
#![expect(
    clippy::expect_used,
    reason = "a test reports a missing value by panicking"
)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use base64ct::{Base64, Encoding};
use portal_auditlog::CheckpointVerifier;
use portal_e2e::Portal;
use portal_e2e::client::{Client, Clock};
use portal_e2e::journey::{self, LOG_ORIGIN, PASSWORD, Settings, Time};
use portal_e2e::process::{host_binary, runtime_config};
use portal_e2e::repository_root;
use portal_e2e::sink::Sink;
use serde_json::Value;
use sha2::{Digest, Sha256};

const BOOTSTRAP: &str = "backup-bootstrap-secret";

/// Runs `portal-host ARGS` on the repository's manifest; returns success, stdout and stderr.
fn host(
    command: &str,
    config: &Path,
    state_dir: &Path,
    file_flag: &str,
    file: &Path,
) -> (bool, String, String) {
    let output = Command::new(host_binary())
        .arg(command)
        .arg("--from")
        .arg(repository_root().join("spin.toml"))
        .arg("--runtime-config-file")
        .arg(config)
        .arg("--state-dir")
        .arg(state_dir)
        .arg(file_flag)
        .arg(file)
        .env("RUST_LOG", "warn")
        .output()
        .expect("portal-host runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// SHA-256 of every object file the embedded endpoint keeps under `dir`, by relative path.
fn object_hashes(dir: &Path) -> BTreeMap<PathBuf, String> {
    let mut hashes = BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&next) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let relative = path.strip_prefix(dir).expect("inside").to_path_buf();
                // s3s-fs keeps its own metadata in hidden files, also for objects since deleted
                // (such as quarantined uploads); only object contents count.
                if relative.to_string_lossy().starts_with('.') {
                    continue;
                }
                let bytes = std::fs::read(&path).expect("object file");
                let hash = Sha256::digest(&bytes)
                    .iter()
                    .map(|byte| format!("{byte:02x}"))
                    .collect();
                hashes.insert(relative, hash);
            }
        }
    }
    hashes
}

/// Returns the checkpoint's origin, tree size and root hash lines.
fn tree_head(note: &str) -> String {
    note.lines().take(3).collect::<Vec<_>>().join("\n")
}

/// Signs the patient in and returns the thread's message bodies and the photo's SHA-256.
async fn patient_view(client: &mut Client, thread: &str, photo: &str) -> (Vec<String>, String) {
    let signed_in = client.login("pat@example.org", PASSWORD).await;
    assert_eq!(signed_in.status, 200, "{:?}", signed_in.body);
    let read = client
        .send("GET", &format!("/messages/threads/{thread}"), None)
        .await;
    assert_eq!(read.status, 200, "{:?}", read.body);
    let bodies = read.body["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|message| message["body"].as_str().unwrap_or_default().to_owned())
        .collect();
    let link = client
        .send("POST", &format!("/files/{photo}/links"), None)
        .await;
    assert_eq!(link.status, 201, "{:?}", link.body);
    let (status, _, bytes) = client.fetch(link.body["url"].as_str().expect("url")).await;
    assert_eq!(status, 200);
    let hash = Sha256::digest(&bytes)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    (bodies, hash)
}

#[tokio::test(flavor = "multi_thread")]
async fn restore_verifies_journey_backup() {
    let work = tempfile::tempdir().expect("temporary directory");
    let key = Base64::encode_string(&[42u8; 32]);
    let config = runtime_config(
        &work.path().join("backup.toml"),
        &[("backup_key", &key)],
        None,
        "",
    );
    let other_key = Base64::encode_string(&[43u8; 32]);
    let wrong_config = runtime_config(
        &work.path().join("wrong.toml"),
        &[("backup_key", &other_key)],
        None,
        "",
    );

    // The journey runs on the first portal.
    let sink = Sink::start().await.expect("sink");
    let (url, origin) = (sink.url(), sink.origin());
    let overrides = [
        ("bootstrap_secret", BOOTSTRAP),
        ("notification_webhook_url", url.as_str()),
        ("notification_webhook_origin", origin.as_str()),
    ];
    let first = Portal::start_with(&overrides, true)
        .await
        .expect("portal starts");
    let clock = Clock::default();
    let settings = Settings {
        base: first.url(""),
        clock: clock.clone(),
        bootstrap_secret: BOOTSTRAP.to_owned(),
        time: Time::TestClock,
        verifier_key: journey::development_verifier_key().expect("verifier key"),
        output: None,
        narrate: false,
    };
    let outcome = journey::run(&settings, &sink).await.expect("journey");
    let ids = &outcome.ids;
    clock.advance(&first.url(""), 30).await;
    let mut patient = Client::new(&first.url(""), &clock);
    patient.totp = outcome.patient_totp.clone();
    let before = patient_view(&mut patient, &ids.thread, &ids.photo).await;
    let (status, head_before) = patient.send_text("/audit/checkpoint").await;
    assert_eq!(status, 200, "{head_before}");
    let source = first.state_dir.clone();
    drop(first);

    // Back up the stopped portal's state.
    let backup = work.path().join("portal.backup");
    let (ok, stdout, stderr) = host("backup", &config, source.path(), "--output", &backup);
    assert!(ok, "backup failed: {stderr}");
    let summary: Value = serde_json::from_str(stdout.trim()).expect("summary JSON");
    assert!(summary["objects"].as_u64().unwrap_or(0) >= 3, "{summary}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&backup)
            .expect("backup file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "the backup is readable by others");
    }
    let sealed = std::fs::read(&backup).expect("backup bytes");
    for needle in [
        b"pat@example.org".as_slice(),
        b"auth.sign_in",
        b"audit-checkpoints",
    ] {
        assert!(
            !sealed.windows(needle.len()).any(|window| window == needle),
            "plaintext in the backup file"
        );
    }

    // A damaged part is named, and nothing is written.
    let damaged = work.path().join("damaged.backup");
    let mut bytes = sealed.clone();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&damaged, &bytes).expect("write damaged copy");
    let empty = tempfile::tempdir().expect("temporary directory");
    let (ok, _, stderr) = host("restore", &config, empty.path(), "--input", &damaged);
    assert!(!ok);
    assert!(
        stderr.contains("backup part ") && stderr.contains("is damaged"),
        "{stderr}"
    );
    assert!(
        object_hashes(&empty.path().join("objects")).is_empty(),
        "a rejected restore wrote objects"
    );

    // A cut-off file, and a backup opened with another key, are rejected too.
    let truncated = work.path().join("truncated.backup");
    std::fs::write(&truncated, &sealed[..sealed.len() - 100]).expect("write truncated copy");
    let (ok, _, stderr) = host("restore", &config, empty.path(), "--input", &truncated);
    assert!(!ok, "a truncated backup was restored");
    assert!(stderr.contains("damaged"), "{stderr}");
    let (ok, _, stderr) = host("restore", &wrong_config, empty.path(), "--input", &backup);
    assert!(!ok, "a backup opened with another key was restored");
    assert!(stderr.contains("manifest fails authentication"), "{stderr}");

    // The restore into an empty state directory and bucket.
    let target = Arc::new(tempfile::tempdir().expect("temporary directory"));
    let (ok, stdout, stderr) = host("restore", &config, target.path(), "--input", &backup);
    assert!(ok, "restore failed: {stderr}");
    let restored: Value = serde_json::from_str(stdout.trim()).expect("summary JSON");
    assert_eq!(restored["objects"], summary["objects"]);
    assert_eq!(restored["stores"], summary["stores"]);
    assert_eq!(
        object_hashes(&target.path().join("objects")),
        object_hashes(&source.path().join("objects"))
    );

    // Restoring again over the restored state is rejected.
    let (ok, _, stderr) = host("restore", &config, target.path(), "--input", &backup);
    assert!(!ok, "a restore over existing state succeeded");
    assert!(stderr.contains("empty"), "{stderr}");

    // A portal on the restored state signs the same tree head, and the signature verifies.
    let second = Portal::start_in_dir(target.clone(), &overrides, true)
        .await
        .expect("portal on the restored state");
    let mut again = Client::new(&second.url(""), &clock);
    let offset = clock.now()
        - std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| elapsed.as_secs() as i64)
            .unwrap_or_default();
    // `clock` already carries the first portal's offset: the second portal's clock catches
    // up, then both move past the TOTP step the patient last used.
    Clock::default().advance(&second.url(""), offset).await;
    clock.advance(&second.url(""), 30).await;
    let (status, head_after) = again.send_text("/audit/checkpoint").await;
    assert_eq!(status, 200, "{head_after}");
    assert_eq!(tree_head(&head_after), tree_head(&head_before));
    let verifier = CheckpointVerifier::from_verifier_key(&settings.verifier_key).expect("verifier");
    verifier
        .verify(&head_after, LOG_ORIGIN)
        .expect("the restored checkpoint verifies");

    // The journey's data reads back for the patient.
    again.totp = outcome.patient_totp.clone();
    let after = patient_view(&mut again, &ids.thread, &ids.photo).await;
    assert_eq!(after, before);
    assert_eq!(after.0.len(), 2, "the message and the reply");
}
