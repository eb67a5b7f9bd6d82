//! Secure messaging under the host: how long a send and a read take, and how many messages
//! per second the portal accepts from several senders at once.
//!
//! A send is `POST /messages/threads/<id>/messages` with a 500-character body: token and proof
//! checks, the session check with auth, sealing, the audit append, the compare-and-swap append
//! to the thread and the notice request to auth (with no gateway configured). A read is
//! `GET /messages/threads/<id>` returning the newest 20 messages, each opened.
//!
//! `cargo bench -p portal-e2e --bench messaging`; the figures go in docs/benchmarks.md.
#![expect(
    clippy::expect_used,
    reason = "a benchmark reports a broken set-up by panicking"
)]

use std::time::{Duration, Instant};

use portal_e2e::client::Client;
use portal_e2e::world::World;
use serde_json::json;

const SAMPLES: usize = 200;
const SENDERS: usize = 4;
const PER_SENDER: usize = 50;

fn body() -> String {
    "The swelling went down after two days of rest and ice. ".repeat(9)
}

async fn send(client: &Client, path: &str, text: &str) -> Duration {
    let started = Instant::now();
    let reply = client
        .send_bytes(
            "POST",
            path,
            json!({ "body": text }).to_string().into_bytes(),
            &[("content-type", "application/json")],
        )
        .await;
    let elapsed = started.elapsed();
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    elapsed
}

fn report(case: &str, samples: &mut [Duration]) {
    samples.sort();
    let at = |quantile: f64| samples[((samples.len() - 1) as f64 * quantile) as usize];
    println!(
        "{case}: n={}, median {:.2?}, p95 {:.2?}, max {:.2?}",
        samples.len(),
        at(0.5),
        at(0.95),
        at(1.0)
    );
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let world = World::start(&[("access_token_ttl_secs", "3600")]).await;
    let (patient, patient_id) = world.patient("bench@example.org").await;
    let (clinician, clinician_id) = world.staff("doctor@example.org", "clinician").await;
    let team = world
        .care_team("Bench", &[&patient_id, &clinician_id])
        .await;
    let opened = patient
        .send_bytes(
            "POST",
            "/messages/threads",
            json!({ "care_team": team, "subject": "Knee", "category": "clinical", "body": body() })
                .to_string()
                .into_bytes(),
            &[("content-type", "application/json")],
        )
        .await;
    assert_eq!(opened.status, 201, "{:?}", opened.body);
    let thread = opened.body["thread"]["id"]
        .as_str()
        .expect("thread")
        .to_owned();
    let replies = format!("/messages/threads/{thread}/messages");
    let text = body();

    // One sender at a time.
    let mut sends = Vec::with_capacity(SAMPLES);
    for _ in 0..SAMPLES {
        sends.push(send(&clinician, &replies, &text).await);
    }
    report("send (one sender)", &mut sends);

    let latest = format!("/messages/threads/{thread}?after={}&limit=20", SAMPLES - 19);
    let mut reads = Vec::with_capacity(SAMPLES);
    for _ in 0..SAMPLES {
        let started = Instant::now();
        let reply = patient.send("GET", &latest, None).await;
        reads.push(started.elapsed());
        assert_eq!(reply.status, 200, "{:?}", reply.body);
    }
    report("read of 20 messages", &mut reads);

    // Several senders at once, each in a thread of its own, so the figure is the portal's
    // throughput rather than contention on one thread record.
    let mut threads = Vec::new();
    for index in 0..SENDERS {
        let opened = patient
            .send_bytes(
                "POST",
                "/messages/threads",
                json!({ "care_team": team, "subject": format!("Load {index}"), "category": "general", "body": "start" })
                    .to_string()
                    .into_bytes(),
                &[("content-type", "application/json")],
            )
            .await;
        assert_eq!(opened.status, 201, "{:?}", opened.body);
        let id = opened.body["thread"]["id"]
            .as_str()
            .expect("thread")
            .to_owned();
        threads.push(format!("/messages/threads/{id}/messages"));
    }
    let clinician = std::sync::Arc::new(clinician);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for path in threads {
        let clinician = clinician.clone();
        let text = text.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..PER_SENDER {
                send(&clinician, &path, &text).await;
            }
        }));
    }
    for task in tasks {
        task.await.expect("sender finished");
    }
    let elapsed = started.elapsed();
    let total = SENDERS * PER_SENDER;
    println!(
        "throughput: {total} messages from {SENDERS} concurrent senders in {elapsed:.2?}, {:.0} messages/s",
        total as f64 / elapsed.as_secs_f64()
    );
}
