//! Drives `portal-host` as a process with the probe guest: routing, stores, variables, outbound
//! policy, chaining, dependencies, limits and the test clock.

mod support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::Duration;

use support::{Host, Options, client, probe_options};

/// Starts a loopback HTTP server that responds to every request with `echo`, and returns its port.
fn start_echo_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind: {e}"));
    let port = listener.local_addr().map(|a| a.port()).unwrap_or_default();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(64) {
            let Ok(mut stream) = stream else { continue };
            let mut buffer = [0u8; 4096];
            let _ = stream.read(&mut buffer);
            let _ = stream.write_all(
                b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\nconnection: close\r\n\r\necho",
            );
        }
    });
    port
}

fn probe_with_echo(echo_port: u16) -> Options {
    let mut options = probe_options();
    options
        .env
        .push(("SPIN_VARIABLE_ECHO_PORT".into(), echo_port.to_string()));
    options
}

async fn get(host: &Host, path: &str) -> (u16, String, Option<String>) {
    let response = client()
        .get(host.url(path))
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {path}: {e}"));
    let status = response.status().as_u16();
    let route = response
        .headers()
        .get("x-probe-route")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = response.text().await.unwrap_or_default();
    (status, body, route)
}

#[tokio::test(flavor = "multi_thread")]
async fn routing_prefers_exact_then_longest_prefix() {
    let host = Host::start(probe_options());

    let (status, _, route) = get(&host, "/probe/exact").await;
    assert_eq!(status, 200);
    assert_eq!(route.as_deref(), Some("/probe/exact"));

    let (_, _, route) = get(&host, "/probe/deeper/hello").await;
    assert_eq!(route.as_deref(), Some("/probe/deeper/..."));

    let (status, body, route) = get(&host, "/probe/hello").await;
    assert_eq!(status, 200);
    assert_eq!(body, "hello from probe");
    assert_eq!(route.as_deref(), Some("/probe/..."));

    let (status, body, _) = get(&host, "/elsewhere").await;
    assert_eq!(status, 404);
    assert!(body.contains("no route matches"), "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn spin_headers_are_set_and_cannot_be_spoofed() {
    let host = Host::start(probe_options());
    let response = client()
        .get(host.url("/probe/headers?x=1"))
        .header("spin-client-addr", "10.9.9.9:1")
        .header("spin-path-info", "/admin")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let headers: serde_json::Value = response.json().await.unwrap_or_default();

    assert_eq!(headers["spin-path-info"], "/headers");
    assert_eq!(headers["spin-matched-route"], "/probe/...");
    assert_eq!(headers["spin-component-route"], "/probe");
    let client_addr = headers["spin-client-addr"].as_str().unwrap_or_default();
    assert!(client_addr.starts_with("127.0.0.1:"), "{client_addr}");
    let full_url = headers["spin-full-url"].as_str().unwrap_or_default();
    assert!(full_url.starts_with("http://127.0.0.1:"), "{full_url}");
    assert!(full_url.ends_with("/probe/headers?x=1"), "{full_url}");
    let uri = headers["uri"].as_str().unwrap_or_default();
    assert!(
        uri.starts_with("http://"),
        "guest URI is not absolute: {uri}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn private_route_is_unreachable_from_outside() {
    let host = Host::start(probe_options());
    let response = client()
        .get(host.url("/hello"))
        .header("host", "private.spin.internal")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(response.status().as_u16(), 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn private_route_is_reachable_by_chaining() {
    let host = Host::start(probe_options());
    let (status, body, _) = get(
        &host,
        "/probe/outbound?url=http://private.spin.internal/hello",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, "200 hello from probe");

    // Chained requests carry Spin's synthetic match, whatever the component's public routes.
    let (_, body, _) = get(
        &host,
        "/probe/outbound?url=http://private.spin.internal/headers",
    )
    .await;
    let headers: serde_json::Value =
        serde_json::from_str(body.trim_start_matches("200 ")).unwrap_or_default();
    assert_eq!(headers["spin-matched-route"], "/...");
    assert_eq!(headers["spin-path-info"], "/headers");
    assert_eq!(headers["spin-client-addr"], "0.0.0.0:0");
    assert_eq!(
        headers["spin-full-url"],
        "http://private.spin.internal/headers"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn chaining_to_an_unlisted_component_is_denied() {
    let host = Host::start(probe_options());
    let (status, body, _) = get(
        &host,
        "/probe/outbound?url=http://exact.spin.internal/probe/exact",
    )
    .await;
    assert_eq!(status, 502, "{body}");
    assert!(body.contains("HttpRequestDenied"), "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn store_label_not_granted_is_refused() {
    let host = Host::start(probe_options());
    let (status, body, _) = get(&host, "/probe/kv/open?label=default").await;
    assert_eq!((status, body.as_str()), (200, "opened"));

    let (status, body, _) = get(&host, "/probe/kv/open?label=audit").await;
    assert_eq!((status, body.as_str()), (403, "access-denied"));

    // Another component of the same app was granted nothing.
    let (status, _, _) = get(&host, "/probe/deeper/kv/open?label=default").await;
    assert_eq!(status, 403);
}

#[tokio::test(flavor = "multi_thread")]
async fn store_files_are_private_to_the_owner() {
    use std::os::unix::fs::PermissionsExt;

    let host = Host::start(probe_options());
    let (status, _, _) = get(&host, "/probe/kv/set?key=k&value=v").await;
    assert_eq!(status, 200);
    let database = host.state_dir.path().join("sqlite_key_value.db");
    let mode = std::fs::metadata(&database)
        .map(|m| m.permissions().mode() & 0o777)
        .unwrap_or_else(|e| panic!("{}: {e}", database.display()));
    assert_eq!(mode, 0o600, "{mode:o}");
}

#[tokio::test(flavor = "multi_thread")]
async fn parallel_increments_count_exactly() {
    let host = Host::start(probe_options());
    let url = host.url("/probe/kv/incr?key=hits");
    let client = client();
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let client = client.clone();
            let url = url.clone();
            tokio::spawn(async move { client.post(url).send().await.map(|r| r.status()) })
        })
        .collect();
    for task in tasks {
        let status = task.await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(status.map(|s| s.as_u16()).ok(), Some(200));
    }
    let (_, body, _) = get(&host, "/probe/kv/incr?key=hits").await;
    assert_eq!(body, "101");
}

#[tokio::test(flavor = "multi_thread")]
async fn compare_and_swap_loses_no_update() {
    let host = Host::start(probe_options());
    let url = host.url("/probe/kv/cas?key=cas-counter");
    let client = client();
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let client = client.clone();
            let url = url.clone();
            tokio::spawn(async move {
                let response = client.post(url).send().await?;
                let status = response.status().as_u16();
                Ok::<_, reqwest::Error>((status, response.text().await?))
            })
        })
        .collect();
    let mut retried = 0;
    for task in tasks {
        let (status, body) = task
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(status, 200, "{body}");
        let attempts: u32 = body
            .split(' ')
            .nth(1)
            .and_then(|a| a.parse().ok())
            .unwrap_or(0);
        retried += u32::from(attempts > 1);
    }
    let (_, body, _) = get(&host, "/probe/kv/get?key=cas-counter").await;
    assert_eq!(body, "50");
    // Not asserted: whether any request had to retry depends on scheduling.
    eprintln!("{retried} of 50 compare-and-swap requests retried");
}

#[tokio::test(flavor = "multi_thread")]
async fn keys_are_listed_through_the_v3_stream() {
    let host = Host::start(probe_options());
    for key in ["b", "a", "c"] {
        let (status, _, _) = get(&host, &format!("/probe/kv/set?key={key}&value=1")).await;
        assert_eq!(status, 200);
    }
    let (status, body, _) = get(&host, "/probe/kv/keys").await;
    assert_eq!((status, body.as_str()), (200, "a,b,c"));
}

#[tokio::test(flavor = "multi_thread")]
async fn increment_on_a_non_counter_returns_an_error() {
    let host = Host::start(probe_options());
    let (status, _, _) = get(&host, "/probe/kv/set?key=word&value=hello").await;
    assert_eq!(status, 200);
    let (status, body, _) = get(&host, "/probe/kv/incr?key=word").await;
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("not a counter"), "{body}");

    let (status, _, _) = get(&host, "/probe/hello").await;
    assert_eq!(
        status, 200,
        "host stopped serving after the failed increment"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn variables_resolve_from_each_source() {
    let mut options = probe_options();
    options.env.push((
        "SPIN_VARIABLE_FROM_ENV".into(),
        "from the environment".into(),
    ));
    let host = Host::start(options);

    let (_, body, _) = get(&host, "/probe/var?name=greeting").await;
    assert_eq!(body, "hello from the manifest");
    let (_, body, _) = get(&host, "/probe/var?name=from_static").await;
    assert_eq!(body, "from runtime config");
    let (_, body, _) = get(&host, "/probe/var?name=from_env").await;
    assert_eq!(body, "from the environment");
    let (_, body, _) = get(&host, "/probe/var?name=composed").await;
    assert_eq!(body, "hello from the manifest / yes");

    let (status, body, _) = get(&host, "/probe/var?name=needed").await;
    assert_eq!(
        status, 404,
        "a variable the component did not declare leaked: {body}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn secret_variables_are_not_logged() {
    let host = Host::start(probe_options());
    let (_, body, _) = get(&host, "/probe/var?name=secret_value").await;
    assert_eq!(body, "s3cr3t-value");
    let log = host.log();
    assert!(
        !log.contains("s3cr3t-value"),
        "secret found in the log:\n{log}"
    );
}

#[test]
fn missing_required_variable_stops_startup() {
    let options = Options {
        manifest: support::fixture("probe.toml"),
        ..Options::default()
    };
    let log = match Host::try_start(options) {
        Ok(_) => panic!("host started without its required variables"),
        Err(log) => log,
    };
    assert!(log.contains("needed"), "{log}");
    assert!(log.contains("secret_value"), "{log}");
}

#[tokio::test(flavor = "multi_thread")]
async fn outbound_to_listed_loopback_server_works() {
    let port = start_echo_server();
    let host = Host::start(probe_with_echo(port));
    let (status, body, _) = get(
        &host,
        &format!("/probe/outbound?url=http://127.0.0.1:{port}/"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, "200 echo");
}

#[tokio::test(flavor = "multi_thread")]
async fn outbound_to_unlisted_host_is_refused() {
    let port = start_echo_server();
    let other = start_echo_server();
    let host = Host::start(probe_with_echo(port));
    for url in [
        format!("http://127.0.0.1:{other}/"),
        format!("http://localhost:{port}/"),
        format!("https://127.0.0.1:{port}/"),
        format!("http://127.0.0.1:{other}@127.0.0.1:{port}/"),
    ] {
        let (status, body, _) = get(&host, &format!("/probe/outbound?url={url}")).await;
        assert_eq!(status, 502, "{url}: {body}");
        assert!(body.contains("HttpRequestDenied"), "{url}: {body}");
    }
    assert!(host.log().contains("outbound request denied"));
}

#[tokio::test(flavor = "multi_thread")]
async fn raw_tcp_follows_the_allowlist() {
    let port = start_echo_server();
    let other = start_echo_server();
    let host = Host::start(probe_with_echo(port));

    let (status, body, _) = get(&host, &format!("/probe/tcp?addr=127.0.0.1:{port}")).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.starts_with("HTTP/1.1 200"), "{body}");

    let (status, body, _) = get(&host, &format!("/probe/tcp?addr=127.0.0.1:{other}")).await;
    assert_eq!(
        status, 502,
        "unlisted TCP destination was reachable: {body}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn body_over_the_limit_gets_413() {
    let mut options = probe_options();
    options.args = vec!["--max-request-body".into(), "1024".into()];
    let host = Host::start(options);
    let client = client();

    let small = client
        .post(host.url("/probe/echo"))
        .body(vec![b'a'; 1000])
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(small.status().as_u16(), 200);
    assert_eq!(small.text().await.unwrap_or_default(), "1000");

    let declared = client
        .post(host.url("/probe/echo"))
        .body(vec![b'a'; 4096])
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(declared.status().as_u16(), 413);
    let problem: serde_json::Value = declared.json().await.unwrap_or_default();
    assert!(
        problem["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("1024")
    );

    let chunks = futures::stream::iter((0..8).map(|_| Ok::<_, std::io::Error>(vec![b'b'; 512])));
    let streamed = client
        .post(host.url("/probe/echo"))
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(streamed.status().as_u16(), 413);
}

#[tokio::test(flavor = "multi_thread")]
async fn endless_guest_is_stopped_at_the_deadline() {
    let mut options = probe_options();
    options.args = vec!["--request-timeout-ms".into(), "1500".into()];
    let host = Host::start(options);
    let client = client();

    let looping = {
        let client = client.clone();
        let url = host.url("/probe/loop");
        tokio::spawn(async move { client.get(url).send().await.map(|r| r.status().as_u16()) })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (status, _, _) = get(&host, "/probe/hello").await;
    assert_eq!(
        status, 200,
        "other requests must be served while a guest loops"
    );

    let status = looping.await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(status.ok(), Some(504));
}

#[tokio::test(flavor = "multi_thread")]
async fn exhausted_instance_slots_get_503() {
    let mut options = probe_options();
    options.args = vec![
        "--max-instances".into(),
        "1".into(),
        "--request-timeout-ms".into(),
        "3000".into(),
    ];
    let host = Host::start(options);
    let client = client();
    let looping = {
        let client = client.clone();
        let url = host.url("/probe/loop");
        tokio::spawn(async move { client.get(url).send().await.map(|r| r.status().as_u16()) })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;

    let busy = client
        .get(host.url("/probe/hello"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(busy.status().as_u16(), 503);
    assert_eq!(
        busy.headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("1")
    );
    assert_eq!(
        looping.await.unwrap_or_else(|e| panic!("{e}")).ok(),
        Some(504)
    );

    let (status, _, _) = get(&host, "/probe/hello").await;
    assert_eq!(status, 200, "the slot was not released after the deadline");
}

#[tokio::test(flavor = "multi_thread")]
async fn host_header_that_rewrites_the_url_is_rejected() {
    let host = Host::start(probe_options());
    for value in ["x/admin#", "x/admin?", "user@x", "x y"] {
        let response = client()
            .get(host.url("/probe/headers"))
            .header("host", value)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(response.status().as_u16(), 400, "Host: {value}");
    }
    let response = client()
        .get(host.url("/probe/headers"))
        .header("host", "portal.example:8443")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let headers: serde_json::Value = response.json().await.unwrap_or_default();
    assert_eq!(headers["uri"], "http://portal.example:8443/probe/headers");
}

#[tokio::test(flavor = "multi_thread")]
async fn memory_limit_stops_growth() {
    let mut options = probe_options();
    options.args = vec!["--max-memory-mib".into(), "64".into()];
    let host = Host::start(options);

    let (status, body, _) = get(&host, "/probe/memory?mib=16").await;
    assert_eq!(status, 200, "{body}");
    let (status, body, _) = get(&host, "/probe/memory?mib=128").await;
    assert_eq!(status, 507, "{body}");
    let (status, _, _) = get(&host, "/probe/hello").await;
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn dependency_gets_no_capabilities() {
    let host = Host::start(probe_options());
    let (status, body, _) = get(&host, "/probe/dep/reverse?text=abc").await;
    assert_eq!((status, body.as_str()), (200, "cba"));

    let (_, body, _) = get(&host, "/probe/dep/store?label=default").await;
    assert_eq!(
        body, "access-denied",
        "dependency opened its importer's store"
    );

    let (_, body, _) = get(&host, "/probe/dep/config?name=greeting").await;
    assert_eq!(body, "missing", "dependency read its importer's variable");
}

#[tokio::test(flavor = "multi_thread")]
async fn test_clock_moves_guest_time_only_when_enabled() {
    let mut options = probe_options();
    options.args = vec!["--danger-test-clock".into()];
    let host = Host::start(options);
    let (_, before, _) = get(&host, "/probe/clock").await;
    let before: u64 = before.parse().unwrap_or(0);

    let advanced = client()
        .post(host.url("/.well-known/portal-host/test-clock?advance_secs=86400"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(advanced.status().as_u16(), 200);
    let (_, after, _) = get(&host, "/probe/clock").await;
    let after: u64 = after.parse().unwrap_or(0);
    assert!(
        after >= before + 86_400,
        "clock did not move: {before} -> {after}"
    );

    let by_get = client()
        .get(host.url("/.well-known/portal-host/test-clock?advance_secs=60"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(by_get.status().as_u16(), 405);

    let plain = Host::start(probe_options());
    let refused = client()
        .post(plain.url("/.well-known/portal-host/test-clock?advance_secs=60"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(refused.status().as_u16(), 404);
}

#[test]
fn test_clock_refuses_a_public_listener() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_portal-host"))
        .args(["up", "--listen", "0.0.0.0:0", "--danger-test-clock"])
        .arg("--state-dir")
        .arg(std::env::temp_dir().join("portal-host-refused"))
        .arg("--from")
        .arg(support::fixture("probe.toml"))
        .arg("--runtime-config-file")
        .arg(support::fixture("probe-runtime.toml"))
        .args([
            "--tls-cert",
            "/nonexistent.pem",
            "--tls-key",
            "/nonexistent.key",
        ])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("loopback"), "{stderr}");
}

#[test]
fn plain_http_on_a_public_address_is_refused() {
    support::require_guests();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_portal-host"))
        .args(["up", "--listen", "0.0.0.0:0"])
        .arg("--state-dir")
        .arg(std::env::temp_dir().join("portal-host-refused"))
        .arg("--from")
        .arg(support::fixture("probe.toml"))
        .arg("--runtime-config-file")
        .arg(support::fixture("probe-runtime.toml"))
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("refusing to serve plain HTTP"), "{stderr}");
}

#[test]
fn build_runs_each_component_command_in_its_workdir() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    std::fs::create_dir(dir.path().join("one")).unwrap_or_else(|e| panic!("{e}"));
    let manifest = dir.path().join("spin.toml");
    std::fs::write(
        &manifest,
        r#"spin_manifest_version = 2
[application]
name = "build-test"
[component.one]
source = "one.wasm"
[component.one.build]
command = "echo built > marker"
workdir = "one"
[component.two]
source = "two.wasm"
[component.two.build]
command = "exit 3"
"#,
    )
    .unwrap_or_else(|e| panic!("{e}"));

    let run = |component: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_portal-host"))
            .args(["build", "--from"])
            .arg(&manifest)
            .args(["--component-id", component])
            .output()
            .unwrap_or_else(|e| panic!("{e}"))
    };
    assert!(run("one").status.success());
    let marker = std::fs::read_to_string(dir.path().join("one/marker")).unwrap_or_default();
    assert_eq!(marker.trim(), "built");

    let failed = run("two");
    assert!(!failed.status.success());
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(
        stderr.contains("build of component \"two\" failed"),
        "{stderr}"
    );
}

#[test]
fn silent_connection_is_closed_after_header_timeout() {
    let host = Host::start(probe_options());
    let mut silent = std::net::TcpStream::connect(host.address).unwrap_or_else(|e| panic!("{e}"));
    silent
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap_or_else(|e| panic!("{e}"));
    let started = std::time::Instant::now();
    let mut buffer = [0u8; 256];
    // The host closes the connection (read returns 0) or answers 408; it must not hang.
    let read = silent.read(&mut buffer).unwrap_or(0);
    let elapsed = started.elapsed();
    assert!(
        elapsed < Duration::from_secs(25),
        "connection held for {elapsed:?}"
    );
    assert!(
        read == 0 || String::from_utf8_lossy(&buffer[..read]).starts_with("HTTP/1.1 408"),
        "{:?}",
        String::from_utf8_lossy(&buffer[..read])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_stops_the_host_cleanly() {
    let host = Host::start(probe_options());
    let (status, _, _) = get(&host, "/probe/hello").await;
    assert_eq!(status, 200);
    let exit = host.terminate();
    assert!(exit.success(), "{exit}");
}
