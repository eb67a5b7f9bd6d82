//! The optional ClamAV scan against a real clamd from Debian's packages, with a signature
//! database the test writes itself (the EICAR test file's hash), since the public database
//! cannot be downloaded here.
#![expect(
    clippy::expect_used,
    reason = "a test reports a missing value by panicking"
)]

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use portal_e2e::client::{Client, Reply};
use portal_e2e::world::World;

/// The EICAR anti-virus test file: harmless, and detected as malware by every scanner.
const EICAR: &[u8] = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

/// A clamd on a loopback port, killed when dropped.
struct Clamd {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Clamd {
    fn start() -> Clamd {
        let dir = tempfile::tempdir().expect("temp dir");
        let database = dir.path().join("db");
        std::fs::create_dir(&database).expect("db dir");
        let digest = md5_hex(EICAR);
        std::fs::write(
            database.join("portal-test.hdb"),
            format!("{digest}:{}:Portal-Test-EICAR\n", EICAR.len()),
        )
        .expect("signature");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("free port")
            .port();
        let config = dir.path().join("clamd.conf");
        std::fs::write(
            &config,
            format!(
                "Foreground yes\nTCPSocket {port}\nTCPAddr 127.0.0.1\nDatabaseDirectory {}\n\
                 StreamMaxLength 30M\nLogFile {}\n",
                database.display(),
                dir.path().join("clamd.log").display()
            ),
        )
        .expect("config");
        let binary = std::env::var("CLAMD").unwrap_or_else(|_| "/usr/sbin/clamd".to_owned());
        let child = Command::new(&binary)
            .arg("-c")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| {
                panic!("{binary}: {error}; install clamd (apt-get install clamav-daemon)")
            });
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "clamd did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Clamd {
            child,
            port,
            _dir: dir,
        }
    }
}

impl Drop for Clamd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// MD5 as clamd's hash signatures name it; computed with the system's md5sum so the test
/// needs no MD5 crate.
fn md5_hex(bytes: &[u8]) -> String {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("sample");
    std::fs::write(&path, bytes).expect("sample");
    let output = Command::new("md5sum").arg(&path).output().expect("md5sum");
    String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .next()
        .expect("digest")
        .to_owned()
}

async fn upload(client: &Client, name: &str, body: &[u8]) -> Reply {
    client
        .send_bytes(
            "POST",
            "/files",
            body.to_vec(),
            &[("content-type", "text/plain"), ("x-file-name", name)],
        )
        .await
}

#[tokio::test(flavor = "multi_thread")]
async fn scan_rejects_eicar_fails_closed() {
    let clamd = Clamd::start();
    let address = format!("127.0.0.1:{}", clamd.port);
    let origin = format!("tcp://{address}");
    let world = World::start(&[
        ("clamav_address", address.as_str()),
        ("clamav_origin", origin.as_str()),
    ])
    .await;
    let (patient, _) = world.patient("ann@example.org").await;

    let clean = upload(&patient, "notes.txt", b"blood pressure 120/80 this morning").await;
    assert_eq!(clean.status, 201, "{:?}", clean.body);
    assert_eq!(clean.body["state"], "available");

    let infected = upload(&patient, "notes.txt", EICAR).await;
    assert_eq!(infected.status, 422, "{:?}", infected.body);
    assert_eq!(infected.body["reason"], "file_malware_found");
    assert_eq!(infected.body["findings"][0]["code"], "malware");
    let id = infected.body["file_id"].as_str().expect("file id");
    let described = patient.send("GET", &format!("/files/{id}"), None).await;
    assert_eq!(described.body["state"], "rejected");

    // With clamd gone, nothing is released.
    drop(clamd);
    let unscanned = upload(&patient, "notes.txt", b"a harmless note").await;
    assert_eq!(unscanned.status, 422, "{:?}", unscanned.body);
    assert_eq!(unscanned.body["findings"][0]["code"], "scan-failed");
}

#[tokio::test(flavor = "multi_thread")]
async fn scan_outside_allowlist_fails() {
    let clamd = Clamd::start();
    let address = format!("127.0.0.1:{}", clamd.port);
    // The allowlist names another port, so the host refuses the connection.
    let world = World::start(&[
        ("clamav_address", address.as_str()),
        ("clamav_origin", "tcp://127.0.0.1:9"),
    ])
    .await;
    let (patient, _) = world.patient("ann@example.org").await;
    let reply = upload(&patient, "notes.txt", b"a harmless note").await;
    assert_eq!(reply.status, 422, "{:?}", reply.body);
    assert_eq!(reply.body["findings"][0]["code"], "scan-failed");
}
