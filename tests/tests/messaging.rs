//! Secure messaging through the host with the real wasm: threads between a patient and a care
//! team, who may see them, step-up for sensitive threads, notices without PHI, idempotent
//! sends, sealed storage, attachments, the FHIR export, and problems for bad input.
#![expect(
    clippy::expect_used,
    reason = "a test reports a missing value by panicking"
)]

use std::path::Path;

use portal_e2e::client::{Client, Reply};
use portal_e2e::sink::Sink;
use portal_e2e::world::World;
use serde_json::{Value, json};

const SUBJECT: &str = "Rash after the new amoxicillin prescription";
const BODY: &str = "Since Tuesday I have a red rash on both arms. Should I stop the tablets?";
const REPLY: &str = "Please stop the amoxicillin and come in tomorrow at 9 so we can look at it.";

/// A portal with a patient, a clinician on the patient's care team, and a clinician on
/// another team.
struct Clinic {
    world: World,
    patient: Client,
    patient_id: String,
    clinician: Client,
    clinician_id: String,
    outsider: Client,
    team: String,
}

impl Clinic {
    async fn start(overrides: &[(&str, &str)]) -> Clinic {
        let world = World::start(overrides).await;
        let (patient, patient_id) = world.patient("ada@example.org").await;
        let (clinician, clinician_id) = world.staff("dr.grey@example.org", "clinician").await;
        let (outsider, outsider_id) = world.staff("dr.black@example.org", "clinician").await;
        let team = world
            .care_team("Dermatology", &[&patient_id, &clinician_id])
            .await;
        world.care_team("Cardiology", &[&outsider_id]).await;
        Clinic {
            world,
            patient,
            patient_id,
            clinician,
            clinician_id,
            outsider,
            team,
        }
    }

    /// The patient opens a thread to the care team.
    async fn open(&self, category: &str) -> (String, Reply) {
        let opened = send_json(
            &self.patient,
            "POST",
            "/messages/threads",
            &json!({
                "care_team": self.team,
                "subject": SUBJECT,
                "category": category,
                "body": BODY,
            }),
            None,
        )
        .await;
        assert_eq!(opened.status, 201, "{:?}", opened.body);
        let id = opened.body["thread"]["id"]
            .as_str()
            .expect("thread id")
            .to_owned();
        (id, opened)
    }
}

/// Sends `body` as JSON with an optional `Idempotency-Key`.
async fn send_json(
    client: &Client,
    method: &str,
    path: &str,
    body: &Value,
    key: Option<&str>,
) -> Reply {
    let mut headers = vec![("content-type", "application/json")];
    if let Some(key) = key {
        headers.push(("idempotency-key", key));
    }
    client
        .send_bytes(method, path, body.to_string().into_bytes(), &headers)
        .await
}

fn bodies(read: &Reply) -> Vec<String> {
    read.body["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|message| message["body"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Events the compliance officer finds for `action`, as (outcome, actor id, reason).
async fn events(officer: &Client, action: &str) -> Vec<(String, String, String)> {
    let found = officer
        .send(
            "GET",
            &format!("/audit/events?action={action}&limit=100"),
            None,
        )
        .await;
    assert_eq!(found.status, 200, "{:?}", found.body);
    found.body["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|entry| {
            let event = &entry["event"];
            let text = |value: &Value| value.as_str().unwrap_or_default().to_owned();
            (
                text(&event["outcome"]),
                text(&event["actor"]["id"]),
                text(&event["reason"]),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_patient_and_a_clinician_write_to_each_other() {
    let clinic = Clinic::start(&[]).await;
    let (thread, opened) = clinic.open("clinical").await;
    let view = &opened.body["thread"];
    assert_eq!(view["subject"], SUBJECT);
    assert_eq!(view["state"], "open");
    assert_eq!(view["care_team"]["expected_response_hours"], 24);
    assert!(
        view["disclaimer"]
            .as_str()
            .expect("disclaimer")
            .contains("not for emergencies")
    );
    assert_eq!(opened.body["message"]["body"], BODY);
    assert_eq!(view["unread"], 0, "the sender has read their own message");

    // The clinician sees the thread with one unread message, then reads it.
    let listed = clinic
        .clinician
        .send("GET", "/messages/threads", None)
        .await;
    assert_eq!(listed.status, 200, "{:?}", listed.body);
    let threads = listed.body["threads"].as_array().expect("threads");
    assert_eq!(threads.len(), 1);
    assert_eq!(threads[0]["id"], thread.as_str());
    assert_eq!(threads[0]["unread"], 1);
    let path = format!("/messages/threads/{thread}");
    let read = clinic.clinician.send("GET", &path, None).await;
    assert_eq!(read.status, 200, "{:?}", read.body);
    assert_eq!(bodies(&read), vec![BODY]);
    assert_eq!(
        read.body["messages"][0]["sender"],
        clinic.patient_id.as_str()
    );
    let listed = clinic
        .clinician
        .send("GET", "/messages/threads", None)
        .await;
    assert_eq!(listed.body["threads"][0]["unread"], 0);

    // The reply reaches the patient as one unread message.
    let replied = send_json(
        &clinic.clinician,
        "POST",
        &format!("{path}/messages"),
        &json!({ "body": REPLY }),
        None,
    )
    .await;
    assert_eq!(replied.status, 201, "{:?}", replied.body);
    assert_eq!(replied.body["message"]["seq"], 2);
    let listed = clinic.patient.send("GET", "/messages/threads", None).await;
    assert_eq!(listed.body["threads"][0]["unread"], 1);
    let read = clinic.patient.send("GET", &path, None).await;
    assert_eq!(bodies(&read), vec![BODY, REPLY]);
    assert_eq!(
        read.body["messages"][1]["sender"],
        clinic.clinician_id.as_str()
    );
    assert_eq!(read.body["messages"][1]["sender_role"], "clinician");

    // Reading a page at a time: after the first message, one more.
    let page = clinic
        .patient
        .send("GET", &format!("{path}?after=1&limit=1"), None)
        .await;
    assert_eq!(bodies(&page), vec![REPLY]);
    assert_eq!(page.body["next_after"], Value::Null);

    // A closed thread takes no replies until it is reopened.
    let closed = clinic
        .patient
        .send("POST", &format!("{path}/close"), None)
        .await;
    assert_eq!(closed.status, 200, "{:?}", closed.body);
    assert_eq!(closed.body["thread"]["state"], "closed");
    let refused = send_json(
        &clinic.clinician,
        "POST",
        &format!("{path}/messages"),
        &json!({ "body": "One more thing." }),
        None,
    )
    .await;
    assert_eq!(refused.status, 409, "{:?}", refused.body);
    let reopened = clinic
        .clinician
        .send("POST", &format!("{path}/reopen"), None)
        .await;
    assert_eq!(reopened.body["thread"]["state"], "open");
    let accepted = send_json(
        &clinic.clinician,
        "POST",
        &format!("{path}/messages"),
        &json!({ "body": "One more thing." }),
        None,
    )
    .await;
    assert_eq!(accepted.status, 201, "{:?}", accepted.body);

    // A clinician may open a thread to a patient of their care team. Thread activity is
    // ordered by the second, so the clock moves on first.
    let base = clinic.world.portal.url("");
    clinic.world.clock.advance(&base, 1).await;
    let from_clinic = send_json(
        &clinic.clinician,
        "POST",
        "/messages/threads",
        &json!({
            "care_team": clinic.team,
            "patient": clinic.patient_id,
            "subject": "Your results",
            "category": "general",
            "body": "Your blood test results are normal.",
        }),
        None,
    )
    .await;
    assert_eq!(from_clinic.status, 201, "{:?}", from_clinic.body);
    let listed = clinic.patient.send("GET", "/messages/threads", None).await;
    let threads = listed.body["threads"].as_array().expect("threads");
    assert_eq!(threads.len(), 2);
    assert_eq!(threads[0]["subject"], "Your results", "newest first");

    // Pages of one thread follow each other without repeats.
    let first = clinic
        .patient
        .send("GET", "/messages/threads?limit=1", None)
        .await;
    let cursor = first.body["next_cursor"].as_str().expect("cursor");
    let second = clinic
        .patient
        .send(
            "GET",
            &format!("/messages/threads?limit=1&cursor={cursor}"),
            None,
        )
        .await;
    assert_eq!(second.body["threads"][0]["id"], thread.as_str());
    assert_eq!(second.body["next_cursor"], Value::Null);
}

#[tokio::test(flavor = "multi_thread")]
async fn only_the_patient_and_their_care_team_see_a_thread() {
    let clinic = Clinic::start(&[]).await;
    let (thread, _) = clinic.open("general").await;
    let path = format!("/messages/threads/{thread}");

    // A clinician of another team gets the same 404 as for a thread that does not exist.
    let denied = clinic.outsider.send("GET", &path, None).await;
    assert_eq!(denied.status, 404, "{:?}", denied.body);
    let unknown = clinic
        .outsider
        .send("GET", "/messages/threads/no-such-thread", None)
        .await;
    assert_eq!(unknown.status, 404);
    assert_eq!(denied.body["detail"], unknown.body["detail"]);
    let listed = clinic.outsider.send("GET", "/messages/threads", None).await;
    assert_eq!(listed.body["threads"], json!([]));
    let reply = send_json(
        &clinic.outsider,
        "POST",
        &format!("{path}/messages"),
        &json!({ "body": "Hello" }),
        None,
    )
    .await;
    assert_eq!(reply.status, 404);
    // Nor may they open a thread to the patient through a team they are not on.
    let opened = send_json(
        &clinic.outsider,
        "POST",
        "/messages/threads",
        &json!({
            "care_team": clinic.team,
            "patient": clinic.patient_id,
            "subject": "Hello",
            "category": "general",
            "body": "Hello",
        }),
        None,
    )
    .await;
    assert_eq!(opened.status, 404, "{:?}", opened.body);

    // Another patient sees nothing either.
    let (stranger, _) = clinic.world.patient("eve@example.org").await;
    assert_eq!(stranger.send("GET", &path, None).await.status, 404);

    // Admins see no message content, whether or not the thread exists.
    let admin_read = clinic.world.admin.send("GET", &path, None).await;
    assert_eq!(admin_read.status, 403, "{:?}", admin_read.body);
    let admin_unknown = clinic
        .world
        .admin
        .send("GET", "/messages/threads/no-such-thread", None)
        .await;
    assert_eq!(admin_unknown.status, 403);
    let admin_list = clinic
        .world
        .admin
        .send("GET", "/messages/threads", None)
        .await;
    assert_eq!(admin_list.status, 403);
    for reply in [&admin_read, &admin_list] {
        let text = reply.body.to_string();
        assert!(!text.contains(SUBJECT), "{text}");
        assert!(!text.contains(BODY), "{text}");
    }
    let (officer, _) = clinic
        .world
        .staff("officer@example.org", "compliance_officer")
        .await;
    assert_eq!(officer.send("GET", &path, None).await.status, 403);

    // Removal from the care team takes effect on the next request.
    assert_eq!(clinic.clinician.send("GET", &path, None).await.status, 200);
    clinic
        .world
        .remove_member(&clinic.team, &clinic.clinician_id)
        .await;
    assert_eq!(clinic.clinician.send("GET", &path, None).await.status, 404);
    let listed = clinic
        .clinician
        .send("GET", "/messages/threads", None)
        .await;
    assert_eq!(listed.body["threads"], json!([]));

    // Each denial is in the audit log with the rule that refused it.
    let reads = events(&officer, "messaging.thread_read").await;
    let outsider_id = portal_e2e::world::user_id(&clinic.outsider).await;
    assert!(
        reads
            .iter()
            .any(|(outcome, actor, reason)| outcome == "minor_failure"
                && actor == &outsider_id
                && reason == "not_on_care_team"),
        "{reads:?}"
    );
    assert!(
        reads
            .iter()
            .any(|(outcome, actor, reason)| outcome == "minor_failure"
                && actor == &clinic.clinician_id
                && reason == "not_on_care_team"),
        "the removed clinician's attempt is recorded: {reads:?}"
    );
    let sends = events(&officer, "messaging.message_sent").await;
    assert!(
        sends
            .iter()
            .any(|(outcome, actor, _)| outcome == "minor_failure" && actor == &outsider_id),
        "{sends:?}"
    );
    let refusals = events(&officer, "messaging.access_refused").await;
    assert!(
        refusals
            .iter()
            .filter(|(_, _, reason)| reason == "clinical_content_not_permitted")
            .count()
            >= 3,
        "{refusals:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sensitive_thread_needs_a_recent_second_factor() {
    let mut clinic = Clinic::start(&[]).await;
    let (thread, opened) = clinic.open("sensitive").await;
    let path = format!("/messages/threads/{thread}");
    // The patient signed in with a password only: they may write, not read back.
    assert_eq!(opened.body["thread"]["subject"], Value::Null);
    assert_eq!(opened.body["thread"]["step_up_required"], true);
    let read = clinic.patient.send("GET", &path, None).await;
    assert_eq!(read.status, 401, "{:?}", read.body);
    assert_eq!(read.problem_type(), "step-up-required");
    assert!(!read.body.to_string().contains(BODY));
    let listed = clinic.patient.send("GET", "/messages/threads", None).await;
    assert_eq!(listed.body["threads"][0]["subject"], Value::Null);

    // The clinician signed in with TOTP moments ago, so reading works.
    let read = clinic.clinician.send("GET", &path, None).await;
    assert_eq!(read.status, 200, "{:?}", read.body);
    assert_eq!(bodies(&read), vec![BODY]);

    // Past the step-up window it does not, until the clinician confirms a code again.
    let base = clinic.world.portal.url("");
    clinic.world.clock.advance(&base, 11 * 60).await;
    assert_eq!(clinic.clinician.refresh().await.status, 200);
    let stale = clinic.clinician.send("GET", &path, None).await;
    assert_eq!(stale.status, 401, "{:?}", stale.body);
    assert_eq!(stale.problem_type(), "step-up-required");
    let code = clinic.clinician.totp_code();
    let stepped = clinic
        .clinician
        .send("POST", "/auth/step-up", Some(json!({ "totp_code": code })))
        .await;
    assert_eq!(stepped.status, 200, "{:?}", stepped.body);
    clinic.clinician.keep_tokens(&stepped);
    let fresh = clinic.clinician.send("GET", &path, None).await;
    assert_eq!(fresh.status, 200, "{:?}", fresh.body);
}

#[tokio::test(flavor = "multi_thread")]
async fn notices_carry_no_phi_and_a_failing_gateway_loses_no_message() {
    let sink = Sink::start().await.expect("sink");
    let (url, origin) = (sink.url(), sink.origin());
    let clinic = Clinic::start(&[
        ("notification_webhook_url", &url),
        ("notification_webhook_origin", &origin),
        ("portal_public_url", "https://portal.example.org"),
    ])
    .await;
    let before = sink.received().len();
    let (thread, _) = clinic.open("clinical").await;
    let replied = send_json(
        &clinic.clinician,
        "POST",
        &format!("/messages/threads/{thread}/messages"),
        &json!({ "body": REPLY }),
        None,
    )
    .await;
    assert_eq!(replied.status, 201);

    let notices: Vec<Value> = sink.received().split_off(before);
    assert_eq!(notices.len(), 2, "{notices:?}");
    assert_eq!(notices[0]["to"], "dr.grey@example.org");
    assert_eq!(notices[1]["to"], "ada@example.org");
    for notice in &notices {
        assert_eq!(notice["link"], "https://portal.example.org");
        let text = notice.to_string();
        for secret in [
            SUBJECT,
            BODY,
            REPLY,
            "amoxicillin",
            "rash",
            "Dermatology",
            clinic.patient_id.as_str(),
            thread.as_str(),
        ] {
            assert!(!text.contains(secret), "{secret:?} in {text}");
        }
    }
    assert!(
        !notices[0].to_string().contains("ada@example.org"),
        "the clinician's notice does not name the patient"
    );

    // A gateway that fails twice gets a third attempt, and one that keeps failing is given
    // up on. The message is stored either way.
    sink.fail_next(2);
    let retried = send_json(
        &clinic.patient,
        "POST",
        &format!("/messages/threads/{thread}/messages"),
        &json!({ "body": "It is spreading." }),
        None,
    )
    .await;
    assert_eq!(retried.status, 201, "{:?}", retried.body);
    assert_eq!(
        sink.received().len(),
        before + 3,
        "delivered on the third attempt"
    );
    sink.fail_next(3);
    let given_up = send_json(
        &clinic.patient,
        "POST",
        &format!("/messages/threads/{thread}/messages"),
        &json!({ "body": "Now on my neck too." }),
        None,
    )
    .await;
    assert_eq!(given_up.status, 201, "{:?}", given_up.body);
    assert_eq!(
        sink.received().len(),
        before + 3,
        "three failures, no fourth attempt"
    );

    // With the gateway gone, the message is still sent and stored.
    drop(sink);
    let sent = send_json(
        &clinic.patient,
        "POST",
        &format!("/messages/threads/{thread}/messages"),
        &json!({ "body": "Thank you." }),
        None,
    )
    .await;
    assert_eq!(sent.status, 201, "{:?}", sent.body);
    let read = clinic
        .patient
        .send("GET", &format!("/messages/threads/{thread}"), None)
        .await;
    assert_eq!(bodies(&read).len(), 5);
}

#[tokio::test(flavor = "multi_thread")]
async fn nothing_is_read_or_sent_when_the_audit_log_cannot_record_it() {
    let mut clinic = Clinic::start(&[]).await;
    let (thread, _) = clinic.open("general").await;
    let path = format!("/messages/threads/{thread}");

    // A second replica on the same stores, whose audit ingest address leads nowhere.
    let broken = clinic
        .world
        .portal
        .start_sharing(
            &[("audit_url", "http://audit-ingest.spin.internal/missing")],
            true,
        )
        .await
        .expect("second replica");
    let working_base = std::mem::replace(&mut clinic.patient.base, broken.url(""));
    let read = clinic.patient.send("GET", &path, None).await;
    assert_eq!(read.status, 503, "{:?}", read.body);
    assert!(!read.body.to_string().contains(BODY));
    let sent = send_json(
        &clinic.patient,
        "POST",
        &format!("{path}/messages"),
        &json!({ "body": "Not recorded, so not sent." }),
        Some("unrecorded"),
    )
    .await;
    assert_eq!(sent.status, 503, "{:?}", sent.body);
    let listed = clinic.patient.send("GET", "/messages/threads", None).await;
    assert_eq!(listed.status, 503);

    // Back on the working replica, the failed send left no message, and its key is free.
    clinic.patient.base = working_base;
    let read = clinic.patient.send("GET", &path, None).await;
    assert_eq!(bodies(&read), vec![BODY]);
    let retried = send_json(
        &clinic.patient,
        "POST",
        &format!("{path}/messages"),
        &json!({ "body": "Not recorded, so not sent." }),
        Some("unrecorded"),
    )
    .await;
    assert_eq!(retried.status, 201, "{:?}", retried.body);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_retried_send_returns_the_first_result() {
    let clinic = Clinic::start(&[]).await;
    let (thread, _) = clinic.open("general").await;
    let path = format!("/messages/threads/{thread}/messages");
    let body = json!({ "body": "Is the clinic open on Saturday?" });
    let first = send_json(&clinic.patient, "POST", &path, &body, Some("retry-1")).await;
    assert_eq!(first.status, 201, "{:?}", first.body);
    let (second, third) = tokio::join!(
        send_json(&clinic.patient, "POST", &path, &body, Some("retry-1")),
        send_json(&clinic.patient, "POST", &path, &body, Some("retry-1")),
    );
    for retry in [&second, &third] {
        assert_eq!(retry.status, 201, "{:?}", retry.body);
        assert_eq!(retry.body["message"]["id"], first.body["message"]["id"]);
    }
    let read = clinic
        .patient
        .send("GET", &format!("/messages/threads/{thread}"), None)
        .await;
    assert_eq!(bodies(&read).len(), 2, "one opening message and one reply");

    // The same key for another request is refused; another user's key is their own.
    let other = send_json(
        &clinic.patient,
        "POST",
        &path,
        &json!({ "body": "Something else" }),
        Some("retry-1"),
    )
    .await;
    assert_eq!(other.status, 422, "{:?}", other.body);
    assert_eq!(other.body["field"], "Idempotency-Key");
    let theirs = send_json(&clinic.clinician, "POST", &path, &body, Some("retry-1")).await;
    assert_eq!(theirs.status, 201);
    assert_ne!(theirs.body["message"]["id"], first.body["message"]["id"]);

    // Opening a thread is idempotent too.
    let open = json!({
        "care_team": clinic.team,
        "subject": "Parking",
        "category": "general",
        "body": "Where do I park?",
    });
    let a = send_json(
        &clinic.patient,
        "POST",
        "/messages/threads",
        &open,
        Some("open-1"),
    )
    .await;
    let b = send_json(
        &clinic.patient,
        "POST",
        "/messages/threads",
        &open,
        Some("open-1"),
    )
    .await;
    assert_eq!(a.status, 201, "{:?}", a.body);
    assert_eq!(a.body["thread"]["id"], b.body["thread"]["id"]);
    let listed = clinic.patient.send("GET", "/messages/threads", None).await;
    assert_eq!(listed.body["threads"].as_array().map(Vec::len), Some(2));
}

#[tokio::test(flavor = "multi_thread")]
async fn subjects_and_bodies_are_sealed_at_rest() {
    let clinic = Clinic::start(&[]).await;
    let (thread, _) = clinic.open("clinical").await;
    let reply = json!({ "body": REPLY });
    let replied = send_json(
        &clinic.clinician,
        "POST",
        &format!("/messages/threads/{thread}/messages"),
        &reply,
        Some("sealed-fingerprint"),
    )
    .await;
    assert_eq!(replied.status, 201);
    // A plain hash of the request would let a reader of the store confirm a guessed body.
    let mut hasher = <sha2::Sha256 as sha2::Digest>::new();
    for part in [
        b"POST".as_slice(),
        format!("/threads/{thread}/messages").as_bytes(),
        reply.to_string().as_bytes(),
    ] {
        sha2::Digest::update(&mut hasher, (part.len() as u64).to_be_bytes());
        sha2::Digest::update(&mut hasher, part);
    }
    let plain_fingerprint = hex(&sha2::Digest::finalize(hasher));

    // Every file the messaging store wrote, including SQLite's journal.
    let dir = clinic.world.portal.state_dir.path();
    let mut raw = Vec::new();
    for entry in std::fs::read_dir(dir).expect("state dir").flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("messaging.db") {
            raw.extend(std::fs::read(entry.path()).expect("store file"));
        }
    }
    assert!(
        !raw.is_empty(),
        "the messaging store is in {}",
        dir.display()
    );
    assert!(
        find(&raw, thread.as_bytes()),
        "the store holds the thread's records"
    );
    for plain in [
        SUBJECT,
        BODY,
        REPLY,
        "amoxicillin",
        plain_fingerprint.as_str(),
    ] {
        assert!(!find(&raw, plain.as_bytes()), "{plain:?} stored in clear");
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_gets_a_problem_naming_the_field_or_limit() {
    let clinic = Clinic::start(&[("message_max_chars", "100")]).await;
    let (thread, _) = clinic.open("general").await;
    let path = format!("/messages/threads/{thread}/messages");

    let long = send_json(
        &clinic.patient,
        "POST",
        &path,
        &json!({ "body": "a".repeat(101) }),
        None,
    )
    .await;
    assert_eq!(long.status, 413, "{:?}", long.body);
    assert_eq!(long.body["field"], "body");
    assert_eq!(long.body["limit"], 100);
    let exact = send_json(
        &clinic.patient,
        "POST",
        &path,
        &json!({ "body": "é".repeat(100) }),
        None,
    )
    .await;
    assert_eq!(exact.status, 201, "the limit counts characters, not bytes");

    let unknown_field = send_json(
        &clinic.patient,
        "POST",
        &path,
        &json!({ "body": "hi", "html": "<b>hi</b>" }),
        None,
    )
    .await;
    assert_eq!(unknown_field.status, 400);
    assert_eq!(unknown_field.problem_type(), "unknown-field");
    let malformed = clinic
        .patient
        .send_bytes(
            "POST",
            &path,
            b"{\"body\": ".to_vec(),
            &[("content-type", "application/json")],
        )
        .await;
    assert_eq!(malformed.status, 400);
    let wrong_type = clinic
        .patient
        .send_bytes(
            "POST",
            &path,
            b"body=hi".to_vec(),
            &[("content-type", "text/plain")],
        )
        .await;
    assert_eq!(wrong_type.status, 415);
    let control = send_json(
        &clinic.patient,
        "POST",
        &path,
        &json!({ "body": "hi\u{0007}" }),
        None,
    )
    .await;
    assert_eq!(control.status, 422);
    assert_eq!(control.body["field"], "body");
    let category = send_json(
        &clinic.patient,
        "POST",
        "/messages/threads",
        &json!({ "care_team": clinic.team, "subject": "x", "category": "urgent", "body": "x" }),
        None,
    )
    .await;
    assert_eq!(category.status, 422);
    assert_eq!(category.body["field"], "category");
    let subject = send_json(
        &clinic.patient,
        "POST",
        "/messages/threads",
        &json!({ "care_team": clinic.team, "subject": "s".repeat(201), "category": "general", "body": "x" }),
        None,
    )
    .await;
    assert_eq!(subject.status, 422);
    assert_eq!(subject.body["field"], "subject");
    let team = send_json(
        &clinic.patient,
        "POST",
        "/messages/threads",
        &json!({ "care_team": "not-my-team", "subject": "x", "category": "general", "body": "x" }),
        None,
    )
    .await;
    assert_eq!(team.status, 422);
    assert_eq!(team.body["field"], "care_team");
    let page = clinic
        .patient
        .send("GET", "/messages/threads?limit=500", None)
        .await;
    assert_eq!(page.status, 422);
    assert_eq!(page.body["field"], "limit");

    // Without a valid token nothing is answered.
    let anonymous = clinic
        .world
        .client()
        .send("GET", "/messages/threads", None)
        .await;
    assert_eq!(anonymous.status, 401);
}

fn sample(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/samples")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

#[tokio::test(flavor = "multi_thread")]
async fn attachments_are_shared_with_the_thread_and_exports_need_step_up() {
    let mut clinic = Clinic::start(&[]).await;
    let photo = clinic
        .patient
        .send_bytes(
            "POST",
            "/files",
            sample("Canon_40D.jpg"),
            &[("content-type", "image/jpeg"), ("x-file-name", "arm.jpg")],
        )
        .await;
    assert_eq!(photo.status, 201, "{:?}", photo.body);
    let photo_id = photo.body["id"].as_str().expect("file id").to_owned();

    // A rejected file and another patient's file cannot be attached.
    let svg = b"<svg xmlns=\"http://www.w3.org/2000/svg\"><script>x()</script></svg>".to_vec();
    let rejected = clinic
        .patient
        .send_bytes(
            "POST",
            "/files",
            svg,
            &[("content-type", "image/svg+xml"), ("x-file-name", "x.svg")],
        )
        .await;
    let rejected_id = rejected.body["file_id"].as_str().expect("file id");
    let open = |attachments: Vec<&str>| {
        json!({
            "care_team": clinic.team,
            "subject": SUBJECT,
            "category": "clinical",
            "body": BODY,
            "attachments": attachments,
        })
    };
    let refused = send_json(
        &clinic.patient,
        "POST",
        "/messages/threads",
        &open(vec![&photo_id, rejected_id]),
        None,
    )
    .await;
    assert_eq!(refused.status, 409, "{:?}", refused.body);
    // uploads checked both files before granting either, so the clean photo was not shared.
    let history = clinic
        .patient
        .send(
            "GET",
            "/audit/events?action=uploads.file_access_granted",
            None,
        )
        .await;
    assert_eq!(history.status, 200, "{:?}", history.body);
    assert_eq!(history.body["events"], json!([]), "no grant was written");
    let (stranger, _) = clinic.world.patient("eve@example.org").await;
    let theirs = send_json(
        &stranger,
        "POST",
        "/messages/threads",
        &json!({ "care_team": clinic.team, "subject": "x", "category": "general", "body": "x", "attachments": [photo_id] }),
        None,
    )
    .await;
    assert_ne!(theirs.status, 201, "{:?}", theirs.body);

    let opened = send_json(
        &clinic.patient,
        "POST",
        "/messages/threads",
        &open(vec![&photo_id]),
        None,
    )
    .await;
    assert_eq!(opened.status, 201, "{:?}", opened.body);
    assert_eq!(opened.body["message"]["attachments"], json!([photo_id]));
    let thread = opened.body["thread"]["id"].as_str().expect("thread");

    // The care team's clinician may download the attachment; the outsider may not.
    let link = clinic
        .clinician
        .send("POST", &format!("/files/{photo_id}/links"), None)
        .await;
    assert_eq!(link.status, 201, "{:?}", link.body);
    let (status, _, bytes) = clinic
        .clinician
        .fetch(link.body["url"].as_str().expect("url"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        hex(&<sha2::Sha256 as sha2::Digest>::digest(&bytes)),
        photo.body["sha256"].as_str().expect("clean hash")
    );
    let outsider = clinic
        .outsider
        .send("POST", &format!("/files/{photo_id}/links"), None)
        .await;
    assert_eq!(outsider.status, 404);

    // The FHIR export needs a recent second factor: the clinician has one.
    let export_path = format!("/messages/threads/{thread}/export");
    let exported = clinic.clinician.send("GET", &export_path, None).await;
    assert_eq!(exported.status, 200, "{:?}", exported.body);
    assert_eq!(exported.body["resourceType"], "Bundle");
    let communication = &exported.body["entry"][0]["resource"];
    assert_eq!(communication["resourceType"], "Communication");
    assert_eq!(communication["status"], "completed");
    assert_eq!(communication["topic"]["text"], SUBJECT);
    assert_eq!(communication["payload"][0]["contentString"], BODY);
    assert_eq!(
        communication["payload"][1]["contentReference"]["identifier"]["value"],
        photo_id.as_str()
    );
    assert_eq!(
        communication["subject"]["identifier"]["value"],
        clinic.patient_id.as_str()
    );
    // The patient signed in with a password only, so they must step up first.
    let patient_export = clinic.patient.send("GET", &export_path, None).await;
    assert_eq!(patient_export.status, 401, "{:?}", patient_export.body);
    assert_eq!(patient_export.problem_type(), "step-up-required");
    assert_eq!(clinic.patient.enrol_totp().await.status, 200);
    let base = clinic.world.portal.url("");
    clinic.world.clock.advance(&base, 30).await;
    let code = clinic.patient.totp_code();
    let stepped = clinic
        .patient
        .send("POST", "/auth/step-up", Some(json!({ "totp_code": code })))
        .await;
    assert_eq!(stepped.status, 200, "{:?}", stepped.body);
    clinic.patient.keep_tokens(&stepped);
    assert_eq!(
        clinic.patient.send("GET", &export_path, None).await.status,
        200
    );

    // The patient's access history shows the clinician's read and export of the thread.
    let history = clinic
        .patient
        .send("GET", "/audit/events?limit=100", None)
        .await;
    assert_eq!(history.status, 200, "{:?}", history.body);
    let seen: Vec<(String, String)> = history.body["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|entry| {
            let text = |value: &Value| value.as_str().unwrap_or_default().to_owned();
            (
                text(&entry["event"]["action"]),
                text(&entry["event"]["actor"]["id"]),
            )
        })
        .collect();
    for action in [
        "messaging.thread_opened",
        "messaging.message_sent",
        "uploads.file_access_granted",
    ] {
        assert!(
            seen.iter().any(|(a, _)| a == action),
            "{action} in {seen:?}"
        );
    }
    assert!(
        seen.iter()
            .any(|(a, actor)| a == "messaging.thread_exported" && actor == &clinic.clinician_id),
        "{seen:?}"
    );
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn sensitive_attachments_follow_their_thread() {
    let mut clinic = Clinic::start(&[]).await;
    // The outsider's team also cares for the patient, so the outsider may read the
    // patient's ordinary files.
    let cardiology = clinic
        .world
        .care_team("Cardiology 2", &[&clinic.patient_id])
        .await;
    let outsider_id = portal_e2e::world::user_id(&clinic.outsider).await;
    clinic.world.add_member(&cardiology, &outsider_id).await;
    let mut uploaded = Vec::new();
    for name in ["note.txt", "result.txt"] {
        let reply = clinic
            .patient
            .send_bytes(
                "POST",
                "/files",
                b"HIV viral load: detectable".to_vec(),
                &[("content-type", "text/plain"), ("x-file-name", name)],
            )
            .await;
        assert_eq!(reply.status, 201, "{:?}", reply.body);
        uploaded.push(reply);
    }
    let (ordinary, secret) = (&uploaded[0], &uploaded[1]);
    let ordinary_id = ordinary.body["id"].as_str().expect("id").to_owned();
    let secret_id = secret.body["id"].as_str().expect("id").to_owned();
    let opened = send_json(
        &clinic.patient,
        "POST",
        "/messages/threads",
        &json!({
            "care_team": clinic.team,
            "subject": "Test result",
            "category": "sensitive",
            "body": "Please look at the attached result.",
            "attachments": [secret_id],
        }),
        None,
    )
    .await;
    assert_eq!(opened.status, 201, "{:?}", opened.body);
    let thread = opened.body["thread"]["id"]
        .as_str()
        .expect("thread")
        .to_owned();

    // The other team's clinician reads the ordinary file but not the sensitive one.
    let path = |id: &str| format!("/files/{id}");
    assert_eq!(
        clinic
            .outsider
            .send("GET", &path(&ordinary_id), None)
            .await
            .status,
        200
    );
    assert_eq!(
        clinic
            .outsider
            .send("GET", &path(&secret_id), None)
            .await
            .status,
        404
    );
    let listed = clinic
        .outsider
        .send(
            "GET",
            &format!("/files?patient={}", clinic.patient_id),
            None,
        )
        .await;
    let ids: Vec<&str> = listed.body["files"]
        .as_array()
        .expect("files")
        .iter()
        .filter_map(|file| file["id"].as_str())
        .collect();
    assert!(ids.contains(&ordinary_id.as_str()), "{ids:?}");
    assert!(!ids.contains(&secret_id.as_str()), "{ids:?}");

    // The thread's clinician reads it with a recent second factor only.
    assert_eq!(
        clinic
            .clinician
            .send("GET", &path(&secret_id), None)
            .await
            .status,
        200
    );
    // The patient signed in with a password only.
    let patient_read = clinic.patient.send("GET", &path(&secret_id), None).await;
    assert_eq!(patient_read.status, 401, "{:?}", patient_read.body);
    assert_eq!(patient_read.problem_type(), "step-up-required");
    let base = clinic.world.portal.url("");
    clinic.world.clock.advance(&base, 11 * 60).await;
    assert_eq!(clinic.clinician.refresh().await.status, 200);
    assert_eq!(clinic.patient.refresh().await.status, 200);
    let stale = clinic
        .clinician
        .send("POST", &format!("/files/{secret_id}/links"), None)
        .await;
    assert_eq!(stale.status, 401, "{:?}", stale.body);

    // A reply does not mark the sender's unopened messages read.
    let code = clinic.clinician.totp_code();
    let stepped = clinic
        .clinician
        .send("POST", "/auth/step-up", Some(json!({ "totp_code": code })))
        .await;
    clinic.clinician.keep_tokens(&stepped);
    let replied = send_json(
        &clinic.clinician,
        "POST",
        &format!("/messages/threads/{thread}/messages"),
        &json!({ "body": "Please book an appointment." }),
        None,
    )
    .await;
    assert_eq!(replied.status, 201);
    let mine = send_json(
        &clinic.patient,
        "POST",
        &format!("/messages/threads/{thread}/messages"),
        &json!({ "body": "Is tomorrow fine?" }),
        None,
    )
    .await;
    assert_eq!(mine.status, 201, "{:?}", mine.body);
    assert_eq!(
        mine.body["thread"]["unread"], 1,
        "the clinician's reply is still unread"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn tampered_thread_records_reveal_nothing() {
    let clinic = Clinic::start(&[]).await;
    let (thread, _) = clinic.open("sensitive").await;
    let (other, other_id) = clinic.world.patient("bob@example.org").await;
    let other_team = clinic.world.care_team("Other", &[&other_id]).await;

    // Someone with write access to the store, but not the keys, edits the thread record.
    let database = clinic.world.portal.state_dir.path().join("messaging.db");
    let edit = |change: &dyn Fn(&mut Value)| {
        let connection = rusqlite::Connection::open(&database).expect("store");
        let key = format!("thread:{thread}");
        let value: Vec<u8> = connection
            .query_row(
                "SELECT value FROM spin_key_value WHERE store = 'messaging' AND key = ?1",
                [&key],
                |row| row.get(0),
            )
            .expect("thread record");
        let mut record: Value = serde_json::from_slice(&value).expect("JSON");
        change(&mut record);
        connection
            .execute(
                "UPDATE spin_key_value SET value = ?1 WHERE store = 'messaging' AND key = ?2",
                rusqlite::params![serde_json::to_vec(&record).expect("JSON"), key],
            )
            .expect("update");
    };

    // Moved to another patient and team: that patient reads nothing.
    edit(&|record| {
        record["patient"] = json!(other_id);
        record["care_team"] = json!(other_team);
        record["category"] = json!("general");
    });
    let path = format!("/messages/threads/{thread}");
    let stolen = other.send("GET", &path, None).await;
    assert_ne!(stolen.status, 200, "{:?}", stolen.body);
    assert!(!stolen.body.to_string().contains(BODY));
    let listed = other.send("GET", "/messages/threads", None).await;
    assert_eq!(listed.status, 200, "one bad record does not break the list");
    assert_eq!(listed.body["threads"], json!([]));

    // Moved out of the sensitive category: the patient still cannot read without step-up.
    edit(&|record| {
        record["patient"] = json!(clinic.patient_id);
        record["care_team"] = json!(clinic.team);
        record["category"] = json!("general");
    });
    let downgraded = clinic.patient.send("GET", &path, None).await;
    assert_ne!(downgraded.status, 200, "{:?}", downgraded.body);
    assert!(!downgraded.body.to_string().contains(BODY));
}

#[tokio::test(flavor = "multi_thread")]
async fn hidden_and_reordering_characters_are_rejected() {
    let clinic = Clinic::start(&[]).await;
    let (thread, _) = clinic.open("general").await;
    let path = format!("/messages/threads/{thread}/messages");
    for body in [
        "\u{200B}\u{200B}",
        "\u{3164}",
        "invoice \u{202E}gpj.exe",
        "tag\u{E0041}",
        " \u{FEFF} ",
    ] {
        let sent = send_json(
            &clinic.patient,
            "POST",
            &path,
            &json!({ "body": body }),
            None,
        )
        .await;
        assert_eq!(sent.status, 422, "{body:?}: {:?}", sent.body);
        assert_eq!(sent.body["field"], "body");
    }
    // Right-to-left marks are ordinary text in Hebrew and Arabic.
    let hebrew = send_json(
        &clinic.patient,
        "POST",
        &path,
        &json!({ "body": "\u{200F}שלום, מתי התור?" }),
        None,
    )
    .await;
    assert_eq!(hebrew.status, 201, "{:?}", hebrew.body);
    assert_eq!(
        hebrew
            .headers
            .get("x-content-type-options")
            .map(|v| v.as_bytes()),
        Some(&b"nosniff"[..])
    );
    // An escaped emoji takes 12 bytes of JSON per character and is still accepted.
    let escaped = format!("{{\"body\": \"{}\"}}", "\\ud83d\\ude00".repeat(2000));
    let emoji = clinic
        .patient
        .send_bytes(
            "POST",
            &path,
            escaped.into_bytes(),
            &[("content-type", "application/json")],
        )
        .await;
    assert_eq!(emoji.status, 201, "{:?}", emoji.body);
}

#[tokio::test(flavor = "multi_thread")]
async fn sends_past_the_hourly_limit_are_rejected() {
    let clinic = Clinic::start(&[]).await;
    let (thread, _) = clinic.open("general").await;
    let path = format!("/messages/threads/{thread}/messages");
    // Opening the thread was the first of the 120 sends an hour allows.
    for number in 2..=120 {
        let sent = send_json(
            &clinic.patient,
            "POST",
            &path,
            &json!({ "body": format!("message {number}") }),
            None,
        )
        .await;
        assert_eq!(sent.status, 201, "send {number}: {:?}", sent.body);
    }
    let refused = send_json(
        &clinic.patient,
        "POST",
        &path,
        &json!({ "body": "one more" }),
        None,
    )
    .await;
    assert_eq!(refused.status, 429, "{:?}", refused.body);
    assert!(refused.headers.contains_key("retry-after"));
    // The clinician has an allowance of their own.
    let reply = send_json(
        &clinic.clinician,
        "POST",
        &path,
        &json!({ "body": "Noted." }),
        None,
    )
    .await;
    assert_eq!(reply.status, 201);

    // A patient taken off the care team can no longer write in its threads.
    clinic
        .world
        .remove_member(&clinic.team, &clinic.patient_id)
        .await;
    let outside = send_json(
        &clinic.clinician,
        "POST",
        &path,
        &json!({ "body": "Still there?" }),
        None,
    )
    .await;
    assert_eq!(outside.status, 201, "the clinician may still answer");
    let late = send_json(
        &clinic.patient,
        "POST",
        &path,
        &json!({ "body": "Hello?" }),
        None,
    )
    .await;
    assert_eq!(
        late.status, 409,
        "the team check comes before the allowance: {:?}",
        late.body
    );
}
