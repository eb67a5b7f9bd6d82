//! Starts `portal-host up` as a child process against a test manifest.

#![allow(
    dead_code,
    reason = "each test binary uses a different part of the support code"
)]

use std::io::Read;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long the host may take to compile the components and start listening.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

/// Options of one host process.
#[derive(Default, Clone)]
pub struct Options {
    pub manifest: PathBuf,
    pub runtime_config: Option<PathBuf>,
    pub env: Vec<(String, String)>,
    pub args: Vec<String>,
}

/// A running host, killed on drop.
pub struct Host {
    child: Child,
    pub address: SocketAddr,
    pub state_dir: tempfile::TempDir,
    log: PathBuf,
}

/// Path of a file under `host/tests/fixtures`.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// Fails with instructions when the wasm guests have not been built.
pub fn require_guests() {
    let release = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/wasm32-wasip2/release");
    for guest in ["probe.wasm", "probe_dep.wasm"] {
        assert!(
            release.join(guest).exists(),
            "{guest} is missing from {}: build the wasm guests first (`./scripts/test` does)",
            release.display()
        );
    }
}

/// Options for the probe application with its runtime config.
pub fn probe_options() -> Options {
    Options {
        manifest: fixture("probe.toml"),
        runtime_config: Some(fixture("probe-runtime.toml")),
        ..Options::default()
    }
}

/// Returns a loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .unwrap_or_else(|error| panic!("no free port: {error}"))
}

impl Host {
    /// Starts the host and waits until it accepts connections; panics with its log otherwise.
    pub fn start(options: Options) -> Host {
        match Host::try_start(options) {
            Ok(host) => host,
            Err(log) => panic!("host failed to start:\n{log}"),
        }
    }

    /// Starts the host on a port the OS picks; on failure returns what it wrote to stderr.
    pub fn try_start(options: Options) -> Result<Host, String> {
        require_guests();
        let state_dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let log = state_dir.path().join("host.log");

        let mut command = Command::new(env!("CARGO_BIN_EXE_portal-host"));
        command
            .args(["--log-format", "json", "up", "--listen", "127.0.0.1:0"])
            .arg("--from")
            .arg(&options.manifest)
            .arg("--state-dir")
            .arg(state_dir.path())
            .args(&options.args)
            .env("RUST_LOG", "info")
            .env_remove("RUST_BACKTRACE")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).map_err(|e| e.to_string())?);
        if let Some(runtime_config) = &options.runtime_config {
            command.arg("--runtime-config-file").arg(runtime_config);
        }
        for (key, value) in &options.env {
            command.env(key, value);
        }
        let mut child = command.spawn().map_err(|e| e.to_string())?;

        let started = Instant::now();
        loop {
            if let Ok(Some(_)) = child.try_wait() {
                return Err(read_log(&log));
            }
            if let Some(address) = ready_address(&read_log(&log)) {
                return Ok(Host {
                    child,
                    address,
                    state_dir,
                    log,
                });
            }
            if started.elapsed() > STARTUP_TIMEOUT {
                let _ = child.kill();
                return Err(format!(
                    "not listening after {STARTUP_TIMEOUT:?}\n{}",
                    read_log(&log)
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `http://127.0.0.1:PORT` followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// Returns what the host has logged so far.
    pub fn log(&self) -> String {
        read_log(&self.log)
    }

    /// Sends SIGTERM and waits for a clean exit.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status;
            }
            if started.elapsed() > Duration::from_secs(20) {
                panic!("host did not stop after SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Finds the address in the host's JSON `ready` log line.
fn ready_address(log: &str) -> Option<SocketAddr> {
    log.lines().find_map(|line| {
        let event: serde_json::Value = serde_json::from_str(line).ok()?;
        if event["fields"]["message"] != "ready" {
            return None;
        }
        event["fields"]["address"].as_str()?.parse().ok()
    })
}

fn read_log(path: &Path) -> String {
    let mut text = String::new();
    if let Ok(mut file) = std::fs::File::open(path) {
        let _ = file.read_to_string(&mut text);
    }
    text
}

/// Builds the HTTP client the tests use, with a 60-second timeout.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap_or_else(|error| panic!("http client: {error}"))
}
