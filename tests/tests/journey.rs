//! The whole portal end to end over HTTPS, the way the README walks through it: every step
//! runs against the real components under the host, and every step's audit events are in the
//! export that the offline verifier accepts.
#![expect(
    clippy::expect_used,
    reason = "a test reports a missing value by panicking"
)]

use std::collections::BTreeSet;

use portal_e2e::Portal;
use portal_e2e::client::Clock;
use portal_e2e::journey::{self, Settings, Time};
use portal_e2e::sink::Sink;
use serde_json::Value;

const BOOTSTRAP: &str = "journey-bootstrap-secret";

#[tokio::test(flavor = "multi_thread")]
async fn journey_over_https_is_audited_end_to_end() {
    let sink = Sink::start().await.expect("sink");
    let (url, origin) = (sink.url(), sink.origin());
    let portal = Portal::start_https(
        &[
            ("bootstrap_secret", BOOTSTRAP),
            ("notification_webhook_url", &url),
            ("notification_webhook_origin", &origin),
            ("portal_public_url", "https://portal.example.org"),
        ],
        true,
    )
    .await
    .expect("portal starts");
    assert!(portal.url("").starts_with("https://"));
    let settings = Settings {
        base: portal.url(""),
        clock: Clock::with_http(portal.https_client().expect("client")),
        bootstrap_secret: BOOTSTRAP.to_owned(),
        time: Time::TestClock,
        verifier_key: journey::development_verifier_key().expect("verifier key"),
        output: None,
        narrate: false,
    };
    let outcome = journey::run(&settings, &sink).await.expect("journey");
    let ids = &outcome.ids;

    // Plain HTTP to the HTTPS listener gets nowhere.
    let plain = reqwest::get(format!("http://{}/auth/health", portal.address)).await;
    assert!(
        plain
            .map(|response| !response.status().is_success())
            .unwrap_or(true),
        "plain HTTP must not be served"
    );

    // The notice reached the clinician through the gateway, with the public link only.
    assert_eq!(outcome.notices.len(), 1);
    assert_eq!(outcome.notices[0]["to"], "dr.lee@example.org");
    assert_eq!(outcome.notices[0]["link"], "https://portal.example.org");

    // Every step's events are in the verified export: (action, actor, outcome).
    let events: Vec<Value> = outcome
        .export
        .lines()
        .map(|line| {
            let line: Value = serde_json::from_str(line).expect("export line");
            let entry: Value =
                serde_json::from_str(line["entry"].as_str().expect("entry")).expect("entry");
            entry["event"].clone()
        })
        .collect();
    assert_eq!(events.len() as u64, outcome.verified);
    let recorded: BTreeSet<(String, String, String)> = events
        .iter()
        .map(|event| {
            let text = |value: &Value| value.as_str().unwrap_or_default().to_owned();
            (
                text(&event["action"]),
                text(&event["actor"]["id"]),
                text(&event["outcome"]),
            )
        })
        .collect();
    let expected = [
        ("auth.sign_in", &ids.admin, "success"),
        ("admin.care_team_changed", &ids.admin, "success"),
        ("admin.account_changed", &ids.admin, "success"),
        ("auth.sign_in", &ids.clinician, "success"),
        ("auth.second_factor_changed", &ids.patient, "success"),
        ("auth.sign_in", &ids.patient, "success"),
        ("uploads.file_uploaded", &ids.patient, "success"),
        ("uploads.file_released", &ids.patient, "success"),
        ("messaging.thread_opened", &ids.patient, "success"),
        ("messaging.message_sent", &ids.patient, "success"),
        ("uploads.file_access_granted", &ids.patient, "success"),
        ("messaging.threads_listed", &ids.clinician, "success"),
        ("messaging.thread_read", &ids.clinician, "success"),
        ("messaging.message_sent", &ids.clinician, "success"),
        ("uploads.download_link_issued", &ids.clinician, "success"),
        ("uploads.file_downloaded", &ids.clinician, "success"),
        ("messaging.thread_read", &ids.outsider, "minor_failure"),
        ("uploads.file_viewed", &ids.outsider, "minor_failure"),
        ("messaging.thread_read", &ids.patient, "success"),
        ("record.access_history_viewed", &ids.patient, "success"),
        ("auth.step_up", &ids.officer, "success"),
    ];
    for (action, actor, outcome) in expected {
        assert!(
            recorded.contains(&(action.to_owned(), actor.clone(), outcome.to_owned())),
            "{action} by {actor} ({outcome}) is missing from the export"
        );
    }
    // The outsider's refusal names the patient and the rule.
    let refusal = events
        .iter()
        .find(|event| {
            event["action"] == "messaging.thread_read"
                && event["actor"]["id"] == ids.outsider.as_str()
        })
        .expect("refusal");
    assert_eq!(refusal["patient"], ids.patient.as_str());
    assert_eq!(refusal["reason"], "not_on_care_team");
    assert_eq!(outcome.altered_index, outcome.verified / 2);
    assert!(outcome.checkpoint.starts_with(journey::LOG_ORIGIN));
}
