//! Measures the host's per-request cost without the network: a fresh instance of a component
//! from its pre-instantiated form, one call of its health route, and the response collected.
//!
//! Run: `cargo run --release -p portal-host --example instantiate -- 2000`

use std::time::Instant;

use http_body_util::BodyExt;
use portal_host::app::{App, Limits, LoadOptions, Origin};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let iterations: u32 = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(2000);
    let state = tempfile::tempdir()?;
    let started = Instant::now();
    let app = App::load(&LoadOptions {
        manifest: "spin.toml".into(),
        runtime_config: Some("runtime-config.toml".into()),
        state_dir: state.path().to_path_buf(),
        limits: Limits::default(),
        danger_test_clock: false,
        embedded_s3: true,
        components: Vec::new(),
    })
    .await?;
    println!(
        "load (compile 5 components): {:.1} ms",
        started.elapsed().as_secs_f64() * 1e3
    );

    let origin = Origin {
        client: ([127, 0, 0, 1], 1).into(),
        scheme: "http",
        authority: "localhost".into(),
    };
    let mut samples = Vec::with_capacity(iterations as usize);
    for _ in 0..iterations {
        let request = http::Request::get("/auth/health").body(portal_host::body::full(""))?;
        let started = Instant::now();
        let response = app.handle_public(request, origin.clone()).await;
        let _ = response.into_body().collect().await;
        samples.push(started.elapsed().as_secs_f64() * 1e6);
    }
    samples.sort_by(f64::total_cmp);
    let mean = samples.iter().sum::<f64>() / samples.len() as f64;
    let p50 = samples[samples.len() / 2];
    let p99 = samples[samples.len() * 99 / 100];
    println!(
        "instantiate + call + collect, {iterations} runs: mean {mean:.1} us, p50 {p50:.1} us, p99 {p99:.1} us"
    );
    Ok(())
}
