//! Two `portal-host` processes, as two replicas behind a load balancer, on one Redis server
//! and one S3 endpoint: sign-in throttling counts across both, a refresh token rotated on
//! one is rejected on the other, and concurrent writes through both leave one audit tree with
//! no fork, gap or duplicate.
#![expect(
    clippy::expect_used,
    reason = "a test reports a missing value by panicking"
)]

use std::collections::BTreeSet;

use portal_auditlog::{CheckpointVerifier, verify_export};
use portal_e2e::client::{Client, Clock, Reply};
use portal_e2e::journey::{LOG_ORIGIN, development_verifier_key};
use portal_e2e::process::{HostProcess, Launch, Redis, free_port, runtime_config};
use portal_host::objects::EmbeddedS3;
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery staple";
const BOOTSTRAP: &str = "replicas-bootstrap-secret";
const PATIENTS: usize = 4;
const THREADS_EACH: usize = 5;

/// Moves both replicas' test clocks; `clock` (the clients') moves once.
async fn advance(clock: &Clock, replicas: &[&HostProcess; 2], seconds: i64) {
    clock.advance(&replicas[0].origin, seconds).await;
    Clock::default().advance(&replicas[1].origin, seconds).await;
}

async fn register(client: &mut Client, email: &str) {
    let registered = client
        .send(
            "POST",
            "/auth/register",
            Some(json!({ "email": email, "password": PASSWORD })),
        )
        .await;
    assert_eq!(registered.status, 202, "{:?}", registered.body);
}

fn checked(reply: Reply, status: u16, what: &str) -> Reply {
    assert_eq!(reply.status, status, "{what}: {:?}", reply.body);
    reply
}

#[tokio::test(flavor = "multi_thread")]
async fn replicas_share_stores_and_audit_tree() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let redis = Redis::start();
    let s3 = EmbeddedS3::start(&dir.path().join("objects"))
        .await
        .expect("S3 endpoint");
    let s3_variables = s3.variables();
    let mut values: Vec<(&str, &str)> = vec![
        ("bootstrap_secret", BOOTSTRAP),
        ("login_free_attempts", "3"),
        ("login_base_delay_secs", "30"),
        ("login_lock_after", "6"),
        ("login_address_failures", "1000"),
    ];
    values.extend(
        s3_variables
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str())),
    );
    let config = runtime_config(
        &dir.path().join("runtime-config.toml"),
        &values,
        Some(&redis.store_tables()),
        "",
    );
    let launch = |name: &str| Launch {
        port: free_port(),
        runtime_config: config.clone(),
        state_dir: dir.path().join(name),
        args: vec!["--danger-test-clock".to_owned()],
        ..Launch::default()
    };
    let first = HostProcess::start(&launch("first"));
    let second = HostProcess::start(&launch("second"));
    let replicas = [&first, &second];
    let clock = Clock::default();
    let on = |index: usize| Client::new(&replicas[index % 2].origin, &clock);

    // The first admin is created through one replica and signs in through the other.
    let mut admin = on(0);
    checked(
        admin
            .send(
                "POST",
                "/auth/bootstrap",
                Some(json!({
                    "bootstrap_secret": BOOTSTRAP,
                    "email": "root@example.org",
                    "password": PASSWORD,
                })),
            )
            .await,
        201,
        "bootstrap",
    );
    admin.base = second.origin.clone();
    checked(
        admin.login("root@example.org", PASSWORD).await,
        200,
        "admin sign-in",
    );
    checked(admin.enrol_totp().await, 200, "admin TOTP");

    // Throttling: wrong passwords sent to both replicas at once share one failure count, so
    // only the free attempts and one gated attempt are checked at all.
    let mut fay = on(0);
    register(&mut fay, "fay@example.org").await;
    let attempts: Vec<_> = (0..40)
        .map(|index| {
            let client = on(index);
            tokio::spawn(async move {
                let body = json!({ "email": "fay@example.org", "password": "wrong password" });
                client.send("POST", "/auth/login", Some(body)).await.status
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for attempt in attempts {
        statuses.push(attempt.await.expect("attempt"));
    }
    let checked_attempts = statuses.iter().filter(|status| **status == 401).count();
    let throttled = statuses.iter().filter(|status| **status == 429).count();
    assert_eq!(checked_attempts + throttled, 40, "{statuses:?}");
    assert!(
        checked_attempts <= 4,
        "{checked_attempts} attempts were checked"
    );
    fay.base = second.origin.clone();
    assert_eq!(fay.login("fay@example.org", PASSWORD).await.status, 429);

    // Refresh rotation: a token rotated on one replica is rejected on the other, and reusing
    // it ends the session everywhere.
    let mut gus = on(1);
    register(&mut gus, "gus@example.org").await;
    gus.base = first.origin.clone();
    checked(
        gus.login("gus@example.org", PASSWORD).await,
        200,
        "gus signs in",
    );
    let rotated = gus.refresh_token.clone().expect("refresh token");
    gus.base = second.origin.clone();
    checked(gus.refresh().await, 200, "refresh on the second replica");
    advance(&clock, &replicas, 11).await;
    gus.base = first.origin.clone();
    let reused = gus
        .send(
            "POST",
            "/auth/token",
            Some(json!({ "refresh_token": rotated })),
        )
        .await;
    assert_eq!(reused.status, 401, "{:?}", reused.body);
    gus.base = second.origin.clone();
    assert_eq!(gus.refresh().await.status, 401);

    // Messages: patients on one care team open threads through both replicas at once.
    let mut patients = Vec::new();
    let mut ids = Vec::new();
    for index in 0..PATIENTS {
        let mut patient = on(index);
        let email = format!("patient{index}@example.org");
        register(&mut patient, &email).await;
        checked(
            patient.login(&email, PASSWORD).await,
            200,
            "patient sign-in",
        );
        let me = patient.send("GET", "/auth/me", None).await;
        ids.push(me.body["user_id"].as_str().expect("user id").to_owned());
        patients.push(patient);
    }
    let team = checked(
        admin
            .send(
                "POST",
                "/auth/care-teams",
                Some(json!({ "name": "Dermatology", "response_hours": 24 })),
            )
            .await,
        201,
        "care team",
    );
    let team = team.body["id"].as_str().expect("team id").to_owned();
    for id in &ids {
        let path = format!("/auth/care-teams/{team}/members/{id}");
        checked(admin.send("PUT", &path, None).await, 200, "add member");
    }
    let patients: Vec<std::sync::Arc<Client>> =
        patients.into_iter().map(std::sync::Arc::new).collect();
    let mut sends = Vec::new();
    for (index, patient) in patients.iter().enumerate() {
        for thread in 0..THREADS_EACH {
            let mut client = on(index + thread);
            client.key = patient.key.clone();
            client.access_token = patient.access_token.clone();
            let team = team.clone();
            sends.push(tokio::spawn(async move {
                let body = json!({
                    "care_team": team,
                    "subject": format!("Question {thread}"),
                    "category": "general",
                    "body": "Is the new dose right for me?",
                });
                client.send("POST", "/messages/threads", Some(body)).await
            }));
        }
    }
    for send in sends {
        checked(send.await.expect("send"), 201, "open a thread");
    }
    for (index, patient) in patients.iter().enumerate() {
        let mut reader = on(index + 1);
        reader.key = patient.key.clone();
        reader.access_token = patient.access_token.clone();
        let listed = checked(
            reader.send("GET", "/messages/threads", None).await,
            200,
            "list",
        );
        assert_eq!(
            listed.body["threads"].as_array().expect("threads").len(),
            THREADS_EACH
        );
    }

    // Audit: both replicas sign the same tree, and its export verifies with each request's
    // events recorded once.
    let invitation = checked(
        admin
            .send(
                "POST",
                "/auth/invitations",
                Some(json!({ "email": "audit@example.org", "role": "compliance_officer" })),
            )
            .await,
        201,
        "invite the officer",
    );
    let mut officer = on(1);
    checked(
        officer
            .send(
                "POST",
                "/auth/invitations/accept",
                Some(json!({ "invitation": invitation.body["invitation"], "password": PASSWORD })),
            )
            .await,
        201,
        "accept",
    );
    checked(
        officer.login("audit@example.org", PASSWORD).await,
        200,
        "officer sign-in",
    );
    checked(officer.enrol_totp().await, 200, "officer TOTP");
    advance(&clock, &replicas, 30).await;
    let code = officer.totp_code();
    let stepped = checked(
        officer
            .send("POST", "/auth/step-up", Some(json!({ "totp_code": code })))
            .await,
        200,
        "step-up",
    );
    officer.keep_tokens(&stepped);

    let mut heads = Vec::new();
    for replica in replicas {
        officer.base = replica.origin.clone();
        let (status, checkpoint) = officer.send_text("/audit/checkpoint").await;
        assert_eq!(status, 200, "{checkpoint}");
        heads.push(checkpoint);
    }
    // Origin, size and root hash agree; the signature lines may differ in time.
    let head = |checkpoint: &str| checkpoint.lines().take(3).collect::<Vec<_>>().join("\n");
    assert_eq!(head(&heads[0]), head(&heads[1]));
    let size: u64 = heads[0]
        .lines()
        .nth(1)
        .and_then(|line| line.parse().ok())
        .expect("tree size");

    officer.base = first.origin.clone();
    let (status, export) = officer
        .send_text(&format!("/audit/export?size={size}"))
        .await;
    assert_eq!(status, 200, "{export}");
    let verifier =
        CheckpointVerifier::from_verifier_key(&development_verifier_key().expect("verifier key"))
            .expect("verifier");
    let report = verify_export(&export, &heads[1], &verifier, LOG_ORIGIN).expect("checkpoint");
    assert!(report.is_intact(), "{:?}", report.failures);
    assert_eq!(report.verified, size);

    let mut seen = BTreeSet::new();
    let mut opened = 0;
    for line in export.lines() {
        let line: Value = serde_json::from_str(line).expect("export line");
        let entry: Value =
            serde_json::from_str(line["entry"].as_str().expect("entry")).expect("entry JSON");
        let event = entry.get("event").unwrap_or(&entry);
        let key = (
            event["request_id"].to_string(),
            event["action"].to_string(),
            event["entity"].to_string(),
        );
        assert!(seen.insert(key.clone()), "recorded twice: {key:?}");
        if event["action"] == "messaging.thread_opened" {
            opened += 1;
        }
    }
    assert_eq!(opened, PATIENTS * THREADS_EACH);
}
