//! Runs `portal-host up` as a child process on the repository's `spin.toml`, for tests that
//! need more than one host: replicas sharing stores, or components deployed as separate apps.
#![expect(
    clippy::expect_used,
    reason = "test setup reports a failure by panicking"
)]

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::repository_root;

/// How long a host may take to compile the components and start listening.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(180);

/// Returns the path of the `portal-host` binary that cargo built beside this test binary.
pub fn host_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    // target/<profile>/deps/<test> -> target/<profile>/portal-host
    let binary = exe
        .parent()
        .and_then(Path::parent)
        .map(|profile| profile.join("portal-host"))
        .expect("target directory");
    assert!(
        binary.exists(),
        "{} is missing: build it first (`cargo build --release -p portal-host`; `./scripts/test` does)",
        binary.display()
    );
    binary
}

/// Returns a loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port")
}

/// A self-signed certificate for `localhost`, written as PEM files into `dir`.
pub struct Certificate {
    /// The certificate PEM.
    pub pem: String,
    /// Path of the certificate file.
    pub cert: PathBuf,
    /// Path of the private key file.
    pub key: PathBuf,
}

impl Certificate {
    /// Generates a certificate for `localhost` and writes `NAME-cert.pem` and `NAME-key.pem`.
    pub fn localhost(dir: &Path, name: &str) -> Certificate {
        let generated =
            rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("certificate");
        let cert = dir.join(format!("{name}-cert.pem"));
        let key = dir.join(format!("{name}-key.pem"));
        std::fs::write(&cert, generated.cert.pem()).expect("write certificate");
        std::fs::write(&key, generated.signing_key.serialize_pem()).expect("write key");
        Certificate {
            pem: generated.cert.pem(),
            cert,
            key,
        }
    }
}

/// Writes a runtime config for a host process: a static provider with `values` first, then
/// `extra` (TOML tables such as `[[client_tls]]`), then the repository's development
/// `runtime-config.toml`, whose key-value tables `stores` replaces when given.
pub fn runtime_config(
    path: &Path,
    values: &[(&str, &str)],
    stores: Option<&str>,
    extra: &str,
) -> PathBuf {
    let mut text =
        String::from("[[variables_provider]]\ntype = \"static\"\n[variables_provider.values]\n");
    for (name, value) in values {
        text.push_str(&format!("{name} = {}\n", toml::Value::from(*value)));
    }
    text.push_str(extra);
    text.push('\n');
    let development = std::fs::read_to_string(repository_root().join("runtime-config.toml"))
        .expect("runtime-config.toml");
    match stores {
        None => text.push_str(&development),
        Some(stores) => {
            let mut table: toml::Table = development.parse().expect("runtime config parses");
            table.remove("key_value_store");
            text.push_str(stores);
            text.push('\n');
            text.push_str(&toml::to_string(&table).expect("runtime config serializes"));
        }
    }
    std::fs::write(path, text).expect("write runtime config");
    path.to_path_buf()
}

/// A `portal-host up` child process on the repository's `spin.toml`, killed on drop.
pub struct HostProcess {
    child: Child,
    /// `http://127.0.0.1:PORT` or `https://localhost:PORT`.
    pub origin: String,
    log: PathBuf,
}

/// How to start a [`HostProcess`].
#[derive(Debug, Default, Clone)]
pub struct Launch {
    /// Port to listen on; pick it with [`free_port`] when another app must know it first.
    pub port: u16,
    /// The runtime config file.
    pub runtime_config: PathBuf,
    /// The state directory (SQLite stores, embedded objects).
    pub state_dir: PathBuf,
    /// Serve HTTPS with this certificate.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Run only these components (`--component-id`).
    pub components: Vec<String>,
    /// Further arguments of `up`.
    pub args: Vec<String>,
}

impl HostProcess {
    /// Starts the host and waits until it accepts connections; panics with its log if it
    /// exits or does not listen in time.
    pub fn start(launch: &Launch) -> HostProcess {
        std::fs::create_dir_all(&launch.state_dir).expect("state directory");
        let log = launch.state_dir.join(format!("host-{}.log", launch.port));
        let mut command = Command::new(host_binary());
        command
            .args(["up", "--listen", &format!("127.0.0.1:{}", launch.port)])
            .arg("--from")
            .arg(repository_root().join("spin.toml"))
            .arg("--runtime-config-file")
            .arg(&launch.runtime_config)
            .arg("--state-dir")
            .arg(&launch.state_dir)
            .args(&launch.args)
            .env("RUST_LOG", "warn")
            .env_remove("RUST_BACKTRACE")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"));
        for component in &launch.components {
            command.arg("--component-id").arg(component);
        }
        if let Some((cert, key)) = &launch.tls {
            command
                .arg("--tls-cert")
                .arg(cert)
                .arg("--tls-key")
                .arg(key);
        }
        let mut child = command.spawn().expect("portal-host starts");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", launch.port)).is_err() {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("portal-host exited with {status}:\n{}", read(&log));
            }
            if started.elapsed() > STARTUP_TIMEOUT {
                let _ = child.kill();
                panic!(
                    "portal-host not listening after {STARTUP_TIMEOUT:?}:\n{}",
                    read(&log)
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let origin = if launch.tls.is_some() {
            format!("https://localhost:{}", launch.port)
        } else {
            format!("http://127.0.0.1:{}", launch.port)
        };
        HostProcess { child, origin, log }
    }

    /// Returns what the host has logged so far.
    pub fn log(&self) -> String {
        read(&self.log)
    }

    /// Stops the host (SIGKILL) and waits for it to exit.
    pub fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for HostProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read(path: &Path) -> String {
    let mut text = String::new();
    if let Ok(mut file) = std::fs::File::open(path) {
        let _ = file.read_to_string(&mut text);
    }
    text
}

/// A `redis-server` on a Unix socket in a temporary directory, with persistence off, stopped
/// on drop.
pub struct Redis {
    child: Child,
    socket: PathBuf,
    _dir: tempfile::TempDir,
}

impl Redis {
    /// Starts Debian's `redis-server` and waits until it accepts connections.
    pub fn start() -> Redis {
        let dir = tempfile::tempdir().expect("temporary directory");
        let socket = dir.path().join("redis.sock");
        let child = Command::new("redis-server")
            .args(["--port", "0", "--save", "", "--appendonly", "no"])
            .arg("--unixsocket")
            .arg(&socket)
            .arg("--dir")
            .arg(dir.path())
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server starts (apt-get install redis-server)");
        let started = Instant::now();
        while std::os::unix::net::UnixStream::connect(&socket).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "redis-server did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Redis {
            child,
            socket,
            _dir: dir,
        }
    }

    /// Returns the runtime config tables that put every store of `spin.toml` on this server,
    /// one database per store.
    pub fn store_tables(&self) -> String {
        ["auth", "messaging", "uploads", "audit"]
            .iter()
            .enumerate()
            .map(|(db, label)| {
                format!(
                    "[key_value_store.{label}]\ntype = \"redis\"\nurl = \"redis+unix://{}?db={db}\"\n",
                    self.socket.display()
                )
            })
            .collect()
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
