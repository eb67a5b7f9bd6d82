//! Reading the audit log through the real components: who may search what, pagination,
//! exports with proofs that verify offline, FHIR bundles, and every read recorded.
#![expect(
    clippy::expect_used,
    reason = "a test reports a missing value by panicking"
)]

use base64ct::Encoding;
use portal_auditlog::{CheckpointSigner, CheckpointVerifier, ExportFailure, verify_export};
use portal_e2e::Portal;
use portal_e2e::client::{Client, Clock};
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery staple";
const BOOTSTRAP: &str = "bootstrap-secret-for-this-test-only";
/// The development checkpoint key from `runtime-config.toml`.
const CHECKPOINT_SEED: &str = "ZGV2ZWxvcG1lbnQtb25seS1ub3QtYS1zZWNyZXQtISE=";

async fn patient(portal: &Portal, clock: &Clock, email: &str) -> Client {
    let mut client = Client::new(&portal.url(""), clock);
    let registered = client
        .send(
            "POST",
            "/auth/register",
            Some(json!({ "email": email, "password": PASSWORD })),
        )
        .await;
    assert_eq!(registered.status, 202);
    assert_eq!(client.login(email, PASSWORD).await.status, 200);
    client
}

async fn staff(portal: &Portal, clock: &Clock, admin: &Client, email: &str, role: &str) -> Client {
    let invitation = admin
        .send(
            "POST",
            "/auth/invitations",
            Some(json!({ "email": email, "role": role })),
        )
        .await;
    assert_eq!(invitation.status, 201, "{:?}", invitation.body);
    let mut client = Client::new(&portal.url(""), clock);
    let accepted = client
        .send(
            "POST",
            "/auth/invitations/accept",
            Some(json!({ "invitation": invitation.body["invitation"], "password": PASSWORD })),
        )
        .await;
    assert_eq!(accepted.status, 201);
    assert_eq!(client.login(email, PASSWORD).await.status, 200);
    assert_eq!(client.enrol_totp().await.status, 200);
    client
}

async fn user_id(client: &Client) -> String {
    let me = client.send("GET", "/auth/me", None).await;
    me.body["user_id"].as_str().expect("user id").to_owned()
}

fn actions(reply: &Value) -> Vec<String> {
    reply["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|event| {
            event["event"]["action"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn each_role_reads_only_what_it_may() {
    let (portal, clock) = (
        Portal::start_with(&[("bootstrap_secret", BOOTSTRAP)], true)
            .await
            .expect("portal"),
        Clock::default(),
    );
    let mut admin = Client::new(&portal.url(""), &clock);
    let created = admin
        .send("POST", "/auth/bootstrap", Some(json!({ "bootstrap_secret": BOOTSTRAP, "email": "root@example.org", "password": PASSWORD })))
        .await;
    assert_eq!(created.status, 201);
    assert_eq!(admin.login("root@example.org", PASSWORD).await.status, 200);
    assert_eq!(admin.enrol_totp().await.status, 200);
    let officer = staff(
        &portal,
        &clock,
        &admin,
        "audit@example.org",
        "compliance_officer",
    )
    .await;
    let ann = patient(&portal, &clock, "ann@example.org").await;
    let bob = patient(&portal, &clock, "bob@example.org").await;
    let ann_id = user_id(&ann).await;
    let bob_id = user_id(&bob).await;
    let mut failed = Client::new(&portal.url(""), &clock);
    assert_eq!(
        failed
            .login("ann@example.org", "not the password at all")
            .await
            .status,
        401
    );

    // A patient's first look finds nothing about their record; the look itself is recorded,
    // so the second finds it, and nothing about anyone else.
    let first = ann.send("GET", "/audit/events", None).await;
    assert_eq!(first.status, 200, "{:?}", first.body);
    assert_eq!(actions(&first.body), Vec::<String>::new());
    let second = ann.send("GET", "/audit/events", None).await;
    assert_eq!(actions(&second.body), ["record.access_history_viewed"]);
    assert_eq!(
        second.body["events"][0]["event"]["patient"],
        ann_id.as_str()
    );
    let other = ann
        .send("GET", &format!("/audit/events?patient={bob_id}"), None)
        .await;
    assert_eq!(other.status, 403);
    let bobs = bob.send("GET", "/audit/events", None).await;
    assert!(
        bobs.body["events"].as_array().expect("events").is_empty(),
        "{:?}",
        bobs.body
    );

    // Admins see administrative events only.
    let admin_view = admin.send("GET", "/audit/events?limit=100", None).await;
    assert_eq!(admin_view.status, 200);
    let seen = actions(&admin_view.body);
    assert!(
        seen.iter().any(|action| action == "admin.account_changed"),
        "{seen:?}"
    );
    assert!(
        !seen
            .iter()
            .any(|action| action == "record.access_history_viewed"),
        "{seen:?}"
    );

    // Compliance officers search by actor, action and outcome, page by page.
    let by_actor = officer
        .send(
            "GET",
            &format!("/audit/events?actor={ann_id}&limit=100"),
            None,
        )
        .await;
    let seen = actions(&by_actor.body);
    assert!(
        seen.iter().any(|action| action == "auth.sign_in"),
        "{seen:?}"
    );
    let failures = officer
        .send(
            "GET",
            "/audit/events?action=auth.sign_in&outcome=minor_failure",
            None,
        )
        .await;
    assert_eq!(failures.status, 200);
    let failed_events = failures.body["events"].as_array().expect("events");
    assert_eq!(failed_events.len(), 1, "{:?}", failures.body);
    assert_eq!(failed_events[0]["event"]["reason"], "wrong_password");
    let page_one = officer
        .send("GET", "/audit/events?action=auth.sign_in&limit=2", None)
        .await;
    let cursor = page_one.body["next_cursor"].as_u64().expect("a next page");
    let page_two = officer
        .send(
            "GET",
            &format!("/audit/events?action=auth.sign_in&limit=2&cursor={cursor}"),
            None,
        )
        .await;
    let first_page: Vec<u64> = page_one.body["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["index"].as_u64())
        .collect();
    let second_page: Vec<u64> = page_two.body["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["index"].as_u64())
        .collect();
    assert_eq!(first_page.len(), 2);
    assert!(!second_page.is_empty());
    assert!(
        second_page
            .iter()
            .all(|index| index < first_page.iter().min().expect("indexes")),
        "newest first, no repeats"
    );

    let bad = officer
        .send("GET", "/audit/events?action=no.such.action", None)
        .await;
    assert_eq!(bad.status, 422);
    assert_eq!(bad.body["field"], "action");
    let unauthenticated = reqwest::get(portal.url("/audit/events"))
        .await
        .expect("reply");
    assert_eq!(unauthenticated.status(), 401);
}

#[tokio::test(flavor = "multi_thread")]
async fn exports_verify_offline_and_are_recorded() {
    let portal = Portal::start_with(&[("bootstrap_secret", BOOTSTRAP)], true)
        .await
        .expect("portal");
    let clock = Clock::default();
    let base = portal.url("");
    let mut admin = Client::new(&base, &clock);
    let created = admin
        .send("POST", "/auth/bootstrap", Some(json!({ "bootstrap_secret": BOOTSTRAP, "email": "root@example.org", "password": PASSWORD })))
        .await;
    assert_eq!(created.status, 201);
    assert_eq!(admin.login("root@example.org", PASSWORD).await.status, 200);
    assert_eq!(admin.enrol_totp().await.status, 200);
    let mut officer = staff(
        &portal,
        &clock,
        &admin,
        "audit@example.org",
        "compliance_officer",
    )
    .await;
    let _ann = patient(&portal, &clock, "ann@example.org").await;

    let denied = admin.send("GET", "/audit/export?size=1", None).await;
    assert_eq!(denied.status, 403, "admins do not export");

    let note = reqwest::get(portal.url("/audit/checkpoint"))
        .await
        .expect("reply")
        .text()
        .await
        .expect("note");
    let size: u64 = note
        .lines()
        .nth(1)
        .expect("size line")
        .parse()
        .expect("size");
    let export = officer
        .send_text(&format!("/audit/export?size={size}"))
        .await;
    assert_eq!(export.0, 200);
    let seed: [u8; 32] = base64ct::Base64::decode_vec(CHECKPOINT_SEED)
        .expect("seed")
        .try_into()
        .expect("32 bytes");
    let signer = CheckpointSigner::from_seed("portal-audit", &seed).expect("signer");
    let verifier = CheckpointVerifier::from_verifier_key(&signer.verifier_key()).expect("verifier");
    let report = verify_export(&export.1, &note, &verifier, "portal.local/audit")
        .expect("checkpoint verifies");
    assert!(report.is_intact(), "{:?}", report.failures);
    assert_eq!(report.verified, size);

    // Altering one exported entry is reported at its index.
    let mut lines: Vec<String> = export.1.lines().map(str::to_owned).collect();
    lines[2] = lines[2].replace("auth.", "auth.x");
    let altered = verify_export(
        &(lines.join("\n") + "\n"),
        &note,
        &verifier,
        "portal.local/audit",
    )
    .expect("report");
    assert_eq!(altered.failures, vec![ExportFailure::Altered { index: 2 }]);

    let bundle = officer
        .send(
            "GET",
            &format!("/audit/export?size={size}&format=fhir"),
            None,
        )
        .await;
    assert_eq!(bundle.status, 200);
    assert_eq!(bundle.body["resourceType"], "Bundle");
    let entries = bundle.body["entry"].as_array().expect("entries");
    assert_eq!(entries.len() as u64, size);
    assert!(
        entries
            .iter()
            .all(|entry| entry["resource"]["resourceType"] == "AuditEvent")
    );

    let recorded = officer
        .send("GET", "/audit/events?action=audit.exported", None)
        .await;
    assert_eq!(
        recorded.body["events"].as_array().map(Vec::len),
        Some(2),
        "both exports recorded"
    );

    let too_big = officer
        .send("GET", &format!("/audit/export?size={}", size + 1000), None)
        .await;
    assert_eq!(too_big.status, 422);
    assert_eq!(too_big.body["field"], "size");

    // Past the step-up window, exporting needs a fresh second factor.
    clock.advance(&base, 11 * 60).await;
    assert_eq!(officer.refresh().await.status, 200);
    let stale = officer
        .send("GET", &format!("/audit/export?size={size}"), None)
        .await;
    assert_eq!(stale.status, 401);
    assert_eq!(stale.problem_type(), "step-up-required");
}

fn rules(reply: &Value) -> Vec<String> {
    let mut rules: Vec<String> = reply["alerts"]
        .as_array()
        .expect("alerts")
        .iter()
        .map(|alert| alert["rule"].as_str().unwrap_or_default().to_owned())
        .collect();
    rules.sort();
    rules
}

#[tokio::test(flavor = "multi_thread")]
async fn sign_in_export_and_reuse_alerts_fire_past_their_thresholds() {
    let sink = portal_e2e::sink::Sink::start().await.expect("sink");
    let (url, origin) = (sink.url(), sink.origin());
    let portal = Portal::start_with(
        &[
            ("bootstrap_secret", BOOTSTRAP),
            ("alert_failed_sign_ins", "3"),
            ("alert_exports_per_day", "1"),
            ("login_free_attempts", "50"),
            ("alert_webhook_url", url.as_str()),
            ("alert_webhook_origin", origin.as_str()),
        ],
        true,
    )
    .await
    .expect("portal");
    let clock = Clock::default();
    let base = portal.url("");
    let mut admin = Client::new(&base, &clock);
    let created = admin
        .send("POST", "/auth/bootstrap", Some(json!({ "bootstrap_secret": BOOTSTRAP, "email": "root@example.org", "password": PASSWORD })))
        .await;
    assert_eq!(created.status, 201);
    assert_eq!(admin.login("root@example.org", PASSWORD).await.status, 200);
    assert_eq!(admin.enrol_totp().await.status, 200);
    let officer = staff(
        &portal,
        &clock,
        &admin,
        "audit@example.org",
        "compliance_officer",
    )
    .await;
    let mut ann = patient(&portal, &clock, "ann@example.org").await;

    let denied = ann.send("GET", "/audit/alerts", None).await;
    assert_eq!(denied.status, 403);

    let mut guesser = Client::new(&base, &clock);
    for _ in 0..3 {
        assert_eq!(
            guesser
                .login("ann@example.org", "not the password at all")
                .await
                .status,
            401
        );
    }
    let none = officer.send("GET", "/audit/alerts", None).await;
    assert_eq!(none.status, 200, "{:?}", none.body);
    assert_eq!(
        rules(&none.body),
        Vec::<String>::new(),
        "three failures is the limit"
    );
    assert_eq!(
        guesser
            .login("ann@example.org", "not the password at all")
            .await
            .status,
        401
    );
    assert_eq!(
        guesser
            .login("ann@example.org", "not the password at all")
            .await
            .status,
        401
    );
    let burst = officer.send("GET", "/audit/alerts", None).await;
    assert_eq!(
        rules(&burst.body),
        [
            "failed_sign_in_burst_account",
            "failed_sign_in_burst_address"
        ],
        "each fires once in its window"
    );

    // A rotated refresh token used again after the race window.
    let old = ann.refresh_token.clone().expect("refresh token");
    assert_eq!(ann.refresh().await.status, 200);
    clock.advance(&base, 11).await;
    let reuse = ann
        .send("POST", "/auth/token", Some(json!({ "refresh_token": old })))
        .await;
    assert_eq!(reuse.status, 401);

    // One export a day is the limit.
    let note = reqwest::get(portal.url("/audit/checkpoint"))
        .await
        .expect("reply")
        .text()
        .await
        .expect("note");
    let size: u64 = note.lines().nth(1).expect("size").parse().expect("size");
    assert_eq!(
        officer
            .send_text(&format!("/audit/export?size={size}"))
            .await
            .0,
        200
    );
    let after_one = officer.send("GET", "/audit/alerts", None).await;
    assert!(!rules(&after_one.body).contains(&"mass_exports".to_owned()));
    assert_eq!(
        officer
            .send_text(&format!("/audit/export?size={size}"))
            .await
            .0,
        200
    );
    let after_two = officer.send("GET", "/audit/alerts", None).await;
    assert_eq!(
        rules(&after_two.body),
        [
            "failed_sign_in_burst_account",
            "failed_sign_in_burst_address",
            "mass_exports",
            "refresh_token_reuse"
        ]
    );

    // The webhook got ids and rule names only.
    let received = sink.received();
    assert_eq!(received.len(), 4, "{received:?}");
    for alert in &received {
        let mut keys: Vec<&str> = alert
            .as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(keys, ["alert_id", "event_index", "rule"]);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn checkpoints_are_archived_on_their_cadence() {
    let portal = Portal::start_with(
        &[
            ("bootstrap_secret", BOOTSTRAP),
            ("audit_checkpoint_every_entries", "3"),
            ("audit_checkpoint_every_secs", "86400"),
        ],
        true,
    )
    .await
    .expect("portal");
    let clock = Clock::default();
    let archive = portal
        .state_dir
        .path()
        .join("objects/portal/audit-checkpoints");
    // Nobody asks for a checkpoint: the appends themselves trigger them.
    let _ann = patient(&portal, &clock, "ann@example.org").await;
    let _ben = patient(&portal, &clock, "ben@example.org").await;
    let _cy = patient(&portal, &clock, "cy@example.org").await;

    let note = reqwest::get(portal.url("/audit/checkpoint"))
        .await
        .expect("reply")
        .text()
        .await
        .expect("note");
    let size: u64 = note
        .lines()
        .nth(1)
        .expect("size line")
        .parse()
        .expect("size");
    assert!(
        size >= 6,
        "three sign-ups append at least six events, got {size}"
    );
    let seed: [u8; 32] = base64ct::Base64::decode_vec(CHECKPOINT_SEED)
        .expect("seed")
        .try_into()
        .expect("32 bytes");
    let signer = CheckpointSigner::from_seed("portal-audit", &seed).expect("signer");
    let verifier = CheckpointVerifier::from_verifier_key(&signer.verifier_key()).expect("verifier");
    for multiple in (3..=size).step_by(3) {
        let path = archive.join(multiple.to_string());
        let archived = std::fs::read_to_string(&path)
            .unwrap_or_else(|error| panic!("no checkpoint archived at size {multiple}: {error}"));
        let checkpoint = verifier
            .verify(&archived, "portal.local/audit")
            .expect("archived checkpoint verifies");
        assert_eq!(checkpoint.size, multiple);
    }
    // The first append of the day's window was due one by time; size 2 was due none.
    assert!(
        archive.join("1").exists(),
        "the window's first append triggers a checkpoint"
    );
    assert!(
        !archive.join("2").exists(),
        "size 2 was neither due nor requested"
    );
}
