//! Sign-in and caller-check costs through the real components under the host, in process:
//! the client and the portal share this machine's cores.
//!
//! Run with `cargo bench -p portal-e2e --bench auth`; the figures go in docs/benchmarks.md.

use std::time::{Duration, Instant};

use portal_e2e::Portal;
use portal_e2e::client::{Client, Clock};
use serde_json::json;

const PASSWORD: &str = "correct horse battery staple";
const EMAIL: &str = "bench@example.org";

fn summary(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let total: Duration = samples.iter().sum();
    let mean = total / samples.len() as u32;
    let at = |quantile: f64| samples[((samples.len() - 1) as f64 * quantile).round() as usize];
    println!(
        "{name}: n={} mean={:.2?} p50={:.2?} p99={:.2?}",
        samples.len(),
        mean,
        at(0.5),
        at(0.99)
    );
}

async fn sign_in(base: &str, clock: &Clock) -> Client {
    let mut client = Client::new(base, clock);
    let reply = client.login(EMAIL, PASSWORD).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    client
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let portal = Portal::start_with(&[("login_address_failures", "100000")], false)
        .await
        .unwrap_or_else(|error| panic!("portal failed to start: {error:#}"));
    let base = portal.url("");
    let clock = Clock::default();
    let setup = Client::new(&base, &clock);
    let registered = setup
        .send(
            "POST",
            "/auth/register",
            Some(json!({ "email": EMAIL, "password": PASSWORD })),
        )
        .await;
    assert_eq!(registered.status, 202);

    // Warm the instance pool and the store.
    for _ in 0..3 {
        sign_in(&base, &clock).await;
    }

    let mut samples = Vec::new();
    for _ in 0..30 {
        let started = Instant::now();
        sign_in(&base, &clock).await;
        samples.push(started.elapsed());
    }
    summary("sign-in, one at a time", samples);

    for workers in [2usize, 4] {
        let per_worker = 32 / workers;
        let started = Instant::now();
        let tasks: Vec<_> = (0..workers)
            .map(|_| {
                let base = base.clone();
                let clock = clock.clone();
                tokio::spawn(async move {
                    for _ in 0..per_worker {
                        sign_in(&base, &clock).await;
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await
                .unwrap_or_else(|error| panic!("worker failed: {error}"));
        }
        let elapsed = started.elapsed();
        let total = workers * per_worker;
        println!(
            "sign-ins, {workers} concurrent clients: {total} in {elapsed:.2?} = {:.1}/s",
            total as f64 / elapsed.as_secs_f64()
        );
    }

    let client = sign_in(&base, &clock).await;
    for (name, path) in [
        ("GET /messages/health (no caller check)", "/messages/health"),
        (
            "GET /messages/me (token, proof, session check)",
            "/messages/me",
        ),
        (
            "GET /auth/me (token, proof, local session read)",
            "/auth/me",
        ),
    ] {
        for _ in 0..20 {
            client.send("GET", path, None).await;
        }
        let mut samples = Vec::new();
        for _ in 0..300 {
            let started = Instant::now();
            let reply = client.send("GET", path, None).await;
            samples.push(started.elapsed());
            assert_eq!(reply.status, 200, "{path}: {:?}", reply.body);
        }
        summary(name, samples);
    }
}
