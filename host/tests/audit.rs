//! The real audit component under the host: chained ingest, signed checkpoints and proofs.

mod support;

use base64ct::{Base64, Encoding};
use portal_audit::{AuditAction, AuditActor, AuditEvent, Component, Entity, EntityType, Outcome};
use portal_auditlog::{CheckpointSigner, CheckpointVerifier};
use portal_policy::{PatientId, PurposeOfUse, RequestId, Role, UserId};
use support::{Host, Options, client, fixture};

const ORIGIN: &str = "portal.test/audit";

fn audit_host() -> Host {
    Host::start(Options {
        manifest: fixture("audit.toml"),
        runtime_config: Some(fixture("audit-runtime.toml")),
        ..Options::default()
    })
}

fn verifier() -> CheckpointVerifier {
    let signer = CheckpointSigner::from_seed("portal-audit-test", &[7; 32])
        .unwrap_or_else(|e| panic!("{e}"));
    CheckpointVerifier::from_verifier_key(&signer.verifier_key()).unwrap_or_else(|e| panic!("{e}"))
}

fn event(request: &str) -> String {
    let event = AuditEvent {
        actor: AuditActor::User {
            id: UserId::new("user-clinician").unwrap_or_else(|e| panic!("{e:?}")),
            role: Role::Clinician,
        },
        on_behalf_of: None,
        action: AuditAction::ThreadRead,
        entity: Entity {
            kind: EntityType::Thread,
            id: "thread-1".into(),
        },
        patient: Some(PatientId::new("patient-1").unwrap_or_else(|e| panic!("{e:?}"))),
        outcome: Outcome::Success,
        claimed_time_ms: 1_764_000_000_000,
        source_address: None,
        purpose: PurposeOfUse::Treatment,
        component: Component::Messaging,
        request_id: RequestId::new(request).unwrap_or_else(|e| panic!("{e:?}")),
        reason: Some("care_team_member".into()),
        justification: None,
    };
    event.to_json().unwrap_or_else(|e| panic!("{e}"))
}

/// Sends `body` to the ingest route through the probe, as another component would.
async fn ingest(host: &Host, body: String) -> (u16, serde_json::Value) {
    let reply = client()
        .post(host.url("/probe/post?url=http://audit-ingest.spin.internal/ingest"))
        .body(body)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .text()
        .await
        .unwrap_or_default();
    let (status, json) = reply.split_once(' ').unwrap_or_default();
    (
        status.parse().unwrap_or(0),
        serde_json::from_str(json).unwrap_or_default(),
    )
}

async fn checkpoint(host: &Host) -> portal_auditlog::Checkpoint {
    let note = client()
        .get(host.url("/audit/checkpoint"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .text()
        .await
        .unwrap_or_default();
    verifier()
        .verify(&note, ORIGIN)
        .unwrap_or_else(|e| panic!("{e}: {note}"))
}

async fn get_json(host: &Host, path: &str) -> (u16, serde_json::Value) {
    let response = client()
        .get(host.url(path))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or_default())
}

fn hashes(value: &serde_json::Value) -> Vec<[u8; 32]> {
    value
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|item| Base64::decode_vec(item.as_str()?).ok()?.try_into().ok())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn chained_events_are_appended_and_provable() {
    let host = audit_host();
    let mut receipts = Vec::new();
    for i in 0..5 {
        let (status, reply) = ingest(&host, event(&format!("req-{i}"))).await;
        assert_eq!(status, 201, "{reply}");
        assert_eq!(reply["index"], i);
        receipts.push(reply);
    }

    let first = checkpoint(&host).await;
    assert_eq!(first.size, 5);
    for (index, receipt) in receipts.iter().enumerate() {
        let leaf: [u8; 32] = Base64::decode_vec(receipt["leaf_hash"].as_str().unwrap_or_default())
            .ok()
            .and_then(|bytes| bytes.try_into().ok())
            .unwrap_or_else(|| panic!("no leaf hash in {receipt}"));
        let (status, proof) = get_json(
            &host,
            &format!("/audit/proof/inclusion?index={index}&size=5"),
        )
        .await;
        assert_eq!(status, 200, "{proof}");
        let path = hashes(&proof["proof"]);
        assert!(
            portal_merkle::verify_inclusion(&leaf, index as u64, 5, &path, &first.root).is_ok(),
            "entry {index}"
        );
    }

    ingest(&host, event("req-5")).await;
    let second = checkpoint(&host).await;
    assert_eq!(second.size, 6);
    let (status, proof) = get_json(&host, "/audit/proof/consistency?first=5&second=6").await;
    assert_eq!(status, 200, "{proof}");
    let path = hashes(&proof["proof"]);
    assert!(portal_merkle::verify_consistency(5, 6, &first.root, &second.root, &path).is_ok());
}

#[tokio::test(flavor = "multi_thread")]
async fn ingest_is_not_reachable_from_outside() {
    let host = audit_host();
    // The public component never ingests, whatever headers a client sends; under `spin up`
    // client-sent `spin-*` headers reach the guest, so they must not matter.
    let response = client()
        .post(host.url("/audit/ingest"))
        .header("spin-matched-route", "/...")
        .header("spin-path-info", "/ingest")
        .body(event("req-outside"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(response.status().as_u16(), 404);

    // Even chained, the public component does not ingest.
    let reply = client()
        .post(host.url("/probe/post?url=http://audit.spin.internal/ingest"))
        .body(event("req-chained-public"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .text()
        .await
        .unwrap_or_default();
    assert!(reply.starts_with("404 "), "{reply}");
    assert_eq!(checkpoint(&host).await.size, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_events_are_rejected_naming_the_field() {
    let host = audit_host();
    let mut with_body: serde_json::Value =
        serde_json::from_str(&event("req-1")).unwrap_or_default();
    with_body["body"] = "Patient reports chest pain".into();
    let (status, problem) = ingest(&host, with_body.to_string()).await;
    assert_eq!(status, 400, "{problem}");
    assert_eq!(problem["status"], 400);

    let mut bad_id: serde_json::Value = serde_json::from_str(&event("req-2")).unwrap_or_default();
    bad_id["entity"]["id"] = "no spaces allowed".into();
    let (status, problem) = ingest(&host, bad_id.to_string()).await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["field"], "entity.id");

    assert_eq!(
        checkpoint(&host).await.size,
        0,
        "a rejected event was stored"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn proofs_beyond_the_log_are_not_found() {
    let host = audit_host();
    ingest(&host, event("req-1")).await;
    let (status, _) = get_json(&host, "/audit/proof/inclusion?index=0&size=2").await;
    assert_eq!(status, 404);
    let (status, problem) = get_json(&host, "/audit/proof/inclusion?index=0").await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["field"], "size");
}

#[tokio::test(flavor = "multi_thread")]
async fn checkpoint_signed_by_another_key_is_refused() {
    let host = audit_host();
    let note = client()
        .get(host.url("/audit/checkpoint"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .text()
        .await
        .unwrap_or_default();
    let other = CheckpointSigner::from_seed("portal-audit-test", &[8; 32])
        .unwrap_or_else(|e| panic!("{e}"));
    let other = CheckpointVerifier::from_verifier_key(&other.verifier_key())
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(other.verify(&note, ORIGIN).is_err());
}

/// Reads the rule names of stored alerts, in order, from the audit store's SQLite file.
fn stored_alert_rules(host: &Host) -> Vec<String> {
    let connection = rusqlite::Connection::open(host.state_dir.path().join("audit.db"))
        .unwrap_or_else(|e| panic!("{e}"));
    let mut statement = connection
        .prepare("SELECT value FROM spin_key_value WHERE store = 'audit' AND key LIKE 'alert:%'")
        .unwrap_or_else(|e| panic!("{e}"));
    let mut alerts: Vec<(i64, String)> = statement
        .query_map([], |row| row.get::<_, Vec<u8>>(0))
        .unwrap_or_else(|e| panic!("{e}"))
        .filter_map(Result::ok)
        .filter_map(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
        .map(|alert| {
            (
                alert["id"].as_i64().unwrap_or_default(),
                alert["rule"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    alerts.sort();
    alerts.into_iter().map(|(_, rule)| rule).collect()
}

fn clinician_event(request: &str, patient: &str, outcome: Outcome, reason: &str) -> AuditEvent {
    AuditEvent {
        actor: AuditActor::User {
            id: UserId::new("user-busy").unwrap_or_else(|e| panic!("{e:?}")),
            role: Role::Clinician,
        },
        on_behalf_of: None,
        action: AuditAction::ThreadRead,
        entity: Entity {
            kind: EntityType::Thread,
            id: format!("thread-{patient}"),
        },
        patient: Some(PatientId::new(patient).unwrap_or_else(|e| panic!("{e:?}"))),
        outcome,
        claimed_time_ms: 1_764_000_000_000,
        source_address: None,
        purpose: PurposeOfUse::Treatment,
        component: Component::Messaging,
        request_id: RequestId::new(request).unwrap_or_else(|e| panic!("{e:?}")),
        reason: Some(reason.into()),
        justification: None,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn alert_rules_fire_past_their_thresholds_and_not_before() {
    let host = audit_host();
    let send = |event: AuditEvent| {
        let host = &host;
        async move {
            let (status, body) =
                ingest(host, event.to_json().unwrap_or_else(|e| panic!("{e}"))).await;
            assert_eq!(status, 201, "{body}");
        }
    };
    // The fixture allows 2 distinct patients per actor per hour.
    for (request, patient) in [("r1", "p-1"), ("r2", "p-2"), ("r3", "p-2")] {
        send(clinician_event(
            request,
            patient,
            Outcome::Success,
            "care_team_member",
        ))
        .await;
    }
    assert_eq!(
        stored_alert_rules(&host),
        Vec::<String>::new(),
        "two distinct patients is the limit"
    );
    send(clinician_event(
        "r4",
        "p-3",
        Outcome::Success,
        "care_team_member",
    ))
    .await;
    assert_eq!(stored_alert_rules(&host), ["excessive_record_views"]);
    send(clinician_event(
        "r5",
        "p-4",
        Outcome::Success,
        "care_team_member",
    ))
    .await;
    assert_eq!(
        stored_alert_rules(&host),
        ["excessive_record_views"],
        "it fires once per hour"
    );

    send(clinician_event(
        "r6",
        "p-5",
        Outcome::MinorFailure,
        "not_on_care_team",
    ))
    .await;
    assert_eq!(
        stored_alert_rules(&host),
        ["excessive_record_views", "access_outside_care_team"]
    );

    let mut glass = clinician_event("r7", "p-6", Outcome::Success, "break_the_glass");
    glass.action = AuditAction::BreakTheGlass;
    glass.entity = Entity {
        kind: EntityType::Patient,
        id: "p-6".into(),
    };
    glass.purpose = PurposeOfUse::EmergencyTreatment;
    glass.justification = Some("Unconscious patient in the emergency department".into());
    send(glass).await;
    assert_eq!(
        stored_alert_rules(&host),
        [
            "excessive_record_views",
            "access_outside_care_team",
            "break_the_glass"
        ]
    );
}

/// Runs one statement against the audit store's SQLite file, as someone with write access to
/// the store would.
fn tamper(host: &Host, statement: &str) {
    let connection = rusqlite::Connection::open(host.state_dir.path().join("audit.db"))
        .unwrap_or_else(|e| panic!("{e}"));
    connection
        .execute(statement, [])
        .unwrap_or_else(|e| panic!("{e}"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_log_that_no_longer_extends_its_last_checkpoint_is_not_signed() {
    let host = audit_host();
    for request in ["c1", "c2", "c3"] {
        let (status, body) = ingest(&host, event(request)).await;
        assert_eq!(status, 201, "{body}");
    }
    assert_eq!(checkpoint(&host).await.size, 3);
    let (status, _) = ingest(&host, event("c4")).await;
    assert_eq!(status, 201);
    assert_eq!(checkpoint(&host).await.size, 4, "a grown log is signed");

    // Dropping the head makes the log look empty: a rollback below the signed size.
    tamper(
        &host,
        "DELETE FROM spin_key_value WHERE store = 'audit' AND key = 'log/head'",
    );
    let response = client()
        .get(host.url("/audit/checkpoint"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(response.status().as_u16(), 503);
    assert!(host.log().contains("does not extend its last checkpoint"));
}

#[tokio::test(flavor = "multi_thread")]
async fn checkpoints_are_archived_write_once() {
    let host = audit_host();
    ingest(&host, event("req-1")).await;
    let first = checkpoint(&host).await;
    let archive = host
        .state_dir
        .path()
        .join("objects/portal/audit-checkpoints");
    let archived = std::fs::read_to_string(archive.join("1")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        verifier()
            .verify(&archived, ORIGIN)
            .unwrap_or_else(|e| panic!("{e}"))
            .root,
        first.root
    );

    // Asking again at the same size finds the same note and changes nothing.
    assert_eq!(checkpoint(&host).await.root, first.root);

    // When the archived note of a size differs from the one the log signs now, the log or the
    // archive was rewritten after that checkpoint was handed out: nothing is signed.
    let forged = "portal.test/audit\n1\nforged\n";
    std::fs::write(archive.join("1"), forged).unwrap_or_else(|e| panic!("{e}"));
    let response = client()
        .get(host.url("/audit/checkpoint"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(response.status().as_u16(), 503);
    let log = std::fs::read_to_string(host.state_dir.path().join("host.log")).unwrap_or_default();
    assert!(
        log.contains("the archived checkpoint of this size differs"),
        "{log}"
    );
    assert_eq!(
        std::fs::read_to_string(archive.join("1")).unwrap_or_default(),
        forged
    );
}

/// Sends a batch body to the batch ingest route through the probe.
async fn ingest_batch(host: &Host, events: &[String]) -> (u16, serde_json::Value) {
    let values: Vec<serde_json::Value> = events
        .iter()
        .map(|event| serde_json::from_str(event).unwrap_or_else(|e| panic!("{e}")))
        .collect();
    let body = serde_json::json!({ "events": values }).to_string();
    let reply = client()
        .post(host.url("/probe/post?url=http://audit-ingest.spin.internal/ingest/batch"))
        .body(body)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .text()
        .await
        .unwrap_or_default();
    let (status, json) = reply.split_once(' ').unwrap_or_default();
    (
        status.parse().unwrap_or(0),
        serde_json::from_str(json).unwrap_or_default(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn batches_are_appended_whole_or_not_at_all() {
    let host = audit_host();
    let (status, reply) = ingest(&host, event("single-0")).await;
    assert_eq!(status, 201, "{reply}");

    let batch: Vec<String> = (0..100).map(|i| event(&format!("batch-{i}"))).collect();
    let (status, reply) = ingest_batch(&host, &batch).await;
    assert_eq!(status, 201, "{reply}");
    assert_eq!(reply["first_index"], 1);
    assert_eq!(reply["count"], 100);
    let leaves = hashes(&reply["leaf_hashes"]);
    assert_eq!(leaves.len(), 100);

    // Every event of the batch is provable at its index.
    let head = checkpoint(&host).await;
    assert_eq!(head.size, 101);
    for offset in [0usize, 1, 50, 99] {
        let index = 1 + offset as u64;
        let (status, proof) = get_json(
            &host,
            &format!("/audit/proof/inclusion?index={index}&size=101"),
        )
        .await;
        assert_eq!(status, 200, "{proof}");
        assert!(
            portal_merkle::verify_inclusion(
                &leaves[offset],
                index,
                101,
                &hashes(&proof["proof"]),
                &head.root
            )
            .is_ok(),
            "entry {index}"
        );
    }

    // One malformed event rejects the whole batch; too many events are rejected too.
    let mut broken = batch[..3].to_vec();
    broken[1] = broken[1].replace("\"thread-1\"", "\"no spaces allowed\"");
    let (status, reply) = ingest_batch(&host, &broken).await;
    assert_eq!(status, 422, "{reply}");
    assert_eq!(reply["field"], "entity.id");
    let too_many: Vec<String> = (0..101).map(|i| event(&format!("many-{i}"))).collect();
    let (status, reply) = ingest_batch(&host, &too_many).await;
    assert_eq!(status, 422, "{reply}");
    assert_eq!(reply["field"], "events");
    let (status, reply) = ingest_batch(&host, &[]).await;
    assert_eq!(status, 422, "{reply}");
    assert_eq!(
        checkpoint(&host).await.size,
        101,
        "nothing of a rejected batch was appended"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_ingest_builds_one_tree() {
    let host = audit_host();
    let singles = (0..24).map(|i| {
        let host = &host;
        async move {
            let (status, reply) = ingest(host, event(&format!("single-{i}"))).await;
            assert_eq!(status, 201, "{reply}");
            vec![reply["index"].as_u64().unwrap_or(u64::MAX)]
        }
    });
    let batches = (0..6).map(|b| {
        let host = &host;
        async move {
            let events: Vec<String> = (0..10).map(|i| event(&format!("batch-{b}-{i}"))).collect();
            let (status, reply) = ingest_batch(host, &events).await;
            assert_eq!(status, 201, "{reply}");
            let first = reply["first_index"].as_u64().unwrap_or(u64::MAX);
            (first..first + 10).collect::<Vec<u64>>()
        }
    });
    let (singles, batches) = tokio::join!(
        futures::future::join_all(singles),
        futures::future::join_all(batches)
    );
    let mut indexes: Vec<u64> = singles.into_iter().chain(batches).flatten().collect();
    indexes.sort_unstable();
    assert_eq!(
        indexes,
        (0..84).collect::<Vec<u64>>(),
        "no gap and no duplicate"
    );
    let head = checkpoint(&host).await;
    assert_eq!(head.size, 84);
    // A second checkpoint after more appends extends the first.
    ingest(&host, event("after")).await;
    let next = checkpoint(&host).await;
    let (status, proof) = get_json(&host, "/audit/proof/consistency?first=84&second=85").await;
    assert_eq!(status, 200, "{proof}");
    assert!(
        portal_merkle::verify_consistency(84, 85, &head.root, &next.root, &hashes(&proof["proof"]))
            .is_ok()
    );
}
