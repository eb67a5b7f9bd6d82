//! Key-value on a real Redis server and on a SQLite file shared by two hosts: atomics stay
//! exact across replicas.

mod support;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::{Host, Options, client, fixture, free_port};

/// A `redis-server` on a Unix socket (no TCP port, so parallel tests cannot collide), stopped
/// on drop.
struct Redis {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Redis {
    fn start() -> Redis {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let socket = dir.path().join("redis.sock");
        let child = Command::new("redis-server")
            .args(["--port", "0", "--save", ""])
            .arg("--unixsocket")
            .arg(&socket)
            .arg("--dir")
            .arg(dir.path())
            .stdout(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("failed to start redis-server ({e}); install it, for example `apt-get install redis-server`")
            });
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
            url: format!("redis+unix://{}", socket.display()),
            _dir: dir,
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn options_with_store(store_table: &str) -> (Options, tempfile::TempDir) {
    options_for("probe.toml", store_table)
}

fn options_for(manifest: &str, store_table: &str) -> (Options, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let runtime = dir.path().join("runtime.toml");
    let base = std::fs::read_to_string(fixture("probe-runtime.toml")).unwrap_or_default();
    std::fs::write(&runtime, format!("{base}\n{store_table}\n")).unwrap_or_else(|e| panic!("{e}"));
    let options = Options {
        manifest: fixture(manifest),
        runtime_config: Some(runtime),
        ..Options::default()
    };
    (options, dir)
}

/// Sends `count` increments spread over `hosts` in parallel and returns the final value.
async fn increment_across(hosts: &[&Host], count: usize) -> String {
    let client = client();
    let tasks: Vec<_> = (0..count)
        .map(|i| {
            let url = hosts[i % hosts.len()].url("/probe/kv/incr?key=shared");
            let client = client.clone();
            tokio::spawn(async move { client.post(url).send().await.map(|r| r.status().as_u16()) })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap_or_else(|e| panic!("{e}")).ok(), Some(200));
    }
    client
        .get(hosts[0].url("/probe/kv/incr?key=shared"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .text()
        .await
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn redis_store_counts_exactly_across_two_hosts() {
    let redis = Redis::start();
    let (options, _dir) = options_with_store(&format!(
        "[key_value_store.default]\ntype = \"redis\"\nurl = \"{}\"",
        redis.url
    ));
    let first = Host::start(options.clone());
    let second = Host::start(options);
    assert_eq!(increment_across(&[&first, &second], 100).await, "101");
}

#[tokio::test(flavor = "multi_thread")]
async fn redis_compare_and_swap_and_errors() {
    let redis = Redis::start();
    let (options, _dir) = options_with_store(&format!(
        "[key_value_store.default]\ntype = \"redis\"\nurl = \"{}\"",
        redis.url
    ));
    let host = Host::start(options);
    let client = client();
    let tasks: Vec<_> = (0..30)
        .map(|_| {
            let client = client.clone();
            let url = host.url("/probe/kv/cas?key=c");
            tokio::spawn(async move { client.post(url).send().await.map(|r| r.status().as_u16()) })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap_or_else(|e| panic!("{e}")).ok(), Some(200));
    }
    let value = client
        .get(host.url("/probe/kv/get?key=c"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .text()
        .await
        .unwrap_or_default();
    assert_eq!(value, "30");

    let response = client
        .get(host.url("/probe/kv/incr?key=c"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // "30" is a valid Redis integer, so INCRBY works on it; a word is not.
    assert_eq!(response.status().as_u16(), 200);
    client
        .get(host.url("/probe/kv/set?key=w&value=word"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let response = client
        .get(host.url("/probe/kv/incr?key=w"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(response.status().as_u16(), 409);
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_file_shared_by_two_hosts_counts_exactly() {
    let shared = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = shared.path().join("shared.db");
    let (options, _dir) = options_with_store(&format!(
        "[key_value_store.default]\ntype = \"spin\"\npath = \"{}\"",
        path.display()
    ));
    let first = Host::start(options.clone());
    let second = Host::start(options);
    assert_eq!(increment_across(&[&first, &second], 100).await, "101");
}

#[test]
fn unreachable_redis_stops_startup() {
    let port = free_port();
    let (options, _dir) = options_with_store(&format!(
        "[key_value_store.default]\ntype = \"redis\"\nurl = \"redis://127.0.0.1:{port}\""
    ));
    match Host::try_start(options) {
        Ok(_) => panic!("host started without its Redis store"),
        Err(log) => assert!(log.contains("failed to open key-value store"), "{log}"),
    }
}

/// Appends `count` entries spread over `hosts` in parallel through the log-probe guest, then
/// checks that the indexes are exactly 0..count and that the root over the stored entries,
/// recomputed here, equals the log's root.
async fn append_across(hosts: &[&Host], count: usize) {
    let client = client();
    let tasks: Vec<_> = (0..count)
        .map(|i| {
            let url = hosts[i % hosts.len()].url("/log/append");
            let client = client.clone();
            tokio::spawn(async move {
                let response = client.post(url).body(format!("entry {i}")).send().await?;
                let status = response.status().as_u16();
                Ok::<_, reqwest::Error>((status, response.text().await?))
            })
        })
        .collect();
    let mut indexes = Vec::new();
    for task in tasks {
        let (status, body) = task
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(status, 200, "{body}");
        let reply: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        indexes.push(reply["index"].as_u64().unwrap_or(u64::MAX));
    }
    indexes.sort_unstable();
    assert_eq!(indexes, (0..count as u64).collect::<Vec<_>>());

    let mut tree = portal_merkle::MemoryTree::new();
    let mut seen = std::collections::HashSet::new();
    for index in 0..count {
        let entry = client
            .get(hosts[index % hosts.len()].url(&format!("/log/entry?index={index}")))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .text()
            .await
            .unwrap_or_default();
        assert!(seen.insert(entry.clone()), "entry {entry:?} stored twice");
        tree.push(portal_merkle::leaf_hash(entry.as_bytes()));
    }
    let head: serde_json::Value = client
        .get(hosts[0].url("/log/head"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .json()
        .await
        .unwrap_or_default();
    let expected: String = tree
        .root_at(count as u64)
        .unwrap_or_default()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(head["size"], count);
    assert_eq!(head["root"], expected);
}

#[tokio::test(flavor = "multi_thread")]
async fn audit_log_on_redis_never_forks() {
    let redis = Redis::start();
    let (options, _dir) = options_for(
        "log-probe.toml",
        &format!(
            "[key_value_store.default]\ntype = \"redis\"\nurl = \"{}\"",
            redis.url
        ),
    );
    let first = Host::start(options.clone());
    let second = Host::start(options);
    append_across(&[&first, &second], 60).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn audit_log_on_shared_sqlite_never_forks() {
    let shared = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (options, _dir) = options_for(
        "log-probe.toml",
        &format!(
            "[key_value_store.default]\ntype = \"spin\"\npath = \"{}\"",
            shared.path().join("log.db").display()
        ),
    );
    let first = Host::start(options.clone());
    let second = Host::start(options);
    append_across(&[&first, &second], 60).await;
}
