//! Proxy access and break-the-glass through the host with the real wasm: a guardian whose
//! access follows the child's age on the test clock, a caregiver held to scopes, an expiry
//! and revocation on every component, and emergency access that needs a reason and alerts.
#![expect(
    clippy::expect_used,
    reason = "a test reports a missing value by panicking"
)]

use portal_e2e::client::{Client, Reply};
use portal_e2e::world::{PASSWORD, World, user_id};
use portal_policy::Date;
use serde_json::{Value, json};

const DAY: i64 = 86_400;

/// Registers an account of `kind` (and a birth date for patients) and signs it in.
async fn register(world: &World, email: &str, extra: Value) -> (Client, String) {
    let mut client = world.client();
    let mut body = json!({ "email": email, "password": PASSWORD });
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    let registered = client.send("POST", "/auth/register", Some(body)).await;
    assert_eq!(registered.status, 202, "{:?}", registered.body);
    assert_eq!(client.login(email, PASSWORD).await.status, 200);
    let id = user_id(&client).await;
    (client, id)
}

/// Signs in again after the clock moved past the session's lifetime.
async fn sign_in_again(client: &mut Client, email: &str) {
    let reply = client.login(email, PASSWORD).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
}

/// Starts the proxy's session acting for `patient` and keeps the new token.
async fn act_for(client: &mut Client, patient: &str) -> Reply {
    let reply = client
        .send("POST", "/auth/act-for", Some(json!({ "patient": patient })))
        .await;
    if reply.status == 200 {
        client.keep_tokens(&reply);
    }
    reply
}

/// A clinician opens a thread to `patient` in `category`; returns its id.
async fn open_thread(clinician: &Client, team: &str, patient: &str, category: &str) -> String {
    let opened = clinician
        .send(
            "POST",
            "/messages/threads",
            Some(json!({
                "care_team": team,
                "patient": patient,
                "subject": format!("About your {category} care"),
                "category": category,
                "body": "Please tell us how the new medicine is working.",
            })),
        )
        .await;
    assert_eq!(opened.status, 201, "{:?}", opened.body);
    opened.body["thread"]["id"]
        .as_str()
        .expect("thread id")
        .to_owned()
}

fn thread_ids(list: &Reply) -> Vec<String> {
    list.body["threads"]
        .as_array()
        .expect("threads")
        .iter()
        .map(|thread| thread["id"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Returns the birth date of someone who turns `age` in `days` days, by the portal's clock.
fn birth_date_turning(world: &World, age: i32, days: i64) -> Date {
    let mut day = portal_policy::Context::at(world.clock.now() + days * DAY).today;
    loop {
        if let Ok(date) = day.replace_year(day.year() - age) {
            return date;
        }
        // 29 February has no counterpart in a common year; take the next day.
        day = day.next_day().expect("a next day");
    }
}

/// Returns the date on which someone born on `birth` turns `age`.
fn birthday(birth: Date, age: i32) -> Date {
    birth
        .replace_year(birth.year() + age)
        .expect("birth dates here are never 29 February")
}

/// Moves the portal's clock to `offset_secs` after the start of the UTC day `date` (negative
/// offsets fall on the day before), so the date is certain whatever the time of day.
async fn advance_to(world: &World, date: Date, offset_secs: i64) {
    const UNIX_EPOCH_JULIAN_DAY: i64 = 2_440_588;
    let target = (i64::from(date.to_julian_day()) - UNIX_EPOCH_JULIAN_DAY) * DAY + offset_secs;
    let step = target - world.clock.now();
    assert!(step > 0, "the test clock only moves forward");
    world.clock.advance(&world.portal.url(""), step).await;
}

fn reply_reply(reply: &Reply) -> String {
    format!("{} {:?}", reply.status, reply.body)
}

#[tokio::test(flavor = "multi_thread")]
async fn guardian_access_follows_the_childs_age() {
    let world = World::start(&[]).await;
    let (clinician, clinician_id) = world.staff("dr.hale@example.org", "clinician").await;
    // Sam is 10: the 12th birthday is 400 days away.
    let birth_date = birth_date_turning(&world, 12, 400);
    let (mut child, child_id) = register(
        &world,
        "sam@example.org",
        json!({ "birth_date": birth_date.to_string() }),
    )
    .await;
    let (mut parent, parent_id) =
        register(&world, "parent@example.org", json!({ "account": "proxy" })).await;
    let team = world
        .care_team("Paediatrics", &[&child_id, &clinician_id])
        .await;

    // A patient cannot make their own guardian, and a proxy cannot be given a birth date.
    let refused = child
        .send(
            "POST",
            &format!("/auth/patients/{child_id}/proxies"),
            Some(json!({
                "grantee_email": "parent@example.org",
                "kind": "guardian",
                "scopes": { "read_messages": true, "send_messages": true, "read_files": true, "upload_files": true },
            })),
        )
        .await;
    assert_ne!(refused.status, 201, "{}", reply_reply(&refused));
    let with_birth_date = world
        .client()
        .send(
            "POST",
            "/auth/register",
            Some(json!({ "email": "x@example.org", "password": PASSWORD, "account": "proxy", "birth_date": "2000-01-01" })),
        )
        .await;
    assert_eq!(with_birth_date.status, 422);
    assert_eq!(with_birth_date.body["field"], "birth_date");

    // The clinician records the parent as guardian, consented in person.
    let granted = clinician
        .send(
            "POST",
            &format!("/auth/patients/{child_id}/proxies"),
            Some(json!({
                "grantee_email": "parent@example.org",
                "kind": "guardian",
                "scopes": { "read_messages": true, "send_messages": false, "read_files": true, "upload_files": false },
                "consent_method": "in_person",
            })),
        )
        .await;
    assert_eq!(granted.status, 201, "{}", reply_reply(&granted));
    assert_eq!(granted.body["state"], "active");
    assert_eq!(granted.body["consent"]["method"], "in_person");
    assert_eq!(
        granted.body["consent"]["recorded_by"],
        clinician_id.as_str()
    );
    let grant_id = granted.body["id"].as_str().expect("grant id").to_owned();

    let general = open_thread(&clinician, &team, &child_id, "general").await;
    let sensitive = open_thread(&clinician, &team, &child_id, "sensitive").await;

    // Before choosing whom to act for, a proxy reaches no record.
    let unchosen = parent.send("GET", "/messages/threads", None).await;
    assert_eq!(unchosen.status, 403);
    let old_token = parent.access_token.clone();
    assert_eq!(act_for(&mut parent, &child_id).await.status, 200);
    // The token from before the choice no longer works anywhere.
    let new_token = std::mem::replace(&mut parent.access_token, old_token);
    let rejected = parent.send("GET", "/messages/me", None).await;
    assert_eq!(rejected.status, 401, "{}", reply_reply(&rejected));
    parent.access_token = new_token;

    // At 10 a guardian holds full access, whatever the recorded scopes.
    let listed = parent.send("GET", "/messages/threads", None).await;
    assert_eq!(listed.status, 200, "{}", reply_reply(&listed));
    let ids = thread_ids(&listed);
    assert!(
        ids.contains(&general) && ids.contains(&sensitive),
        "{ids:?}"
    );
    let read = parent
        .send("GET", &format!("/messages/threads/{general}"), None)
        .await;
    assert_eq!(read.status, 200, "{}", reply_reply(&read));
    let replied = parent
        .send(
            "POST",
            &format!("/messages/threads/{general}/messages"),
            Some(json!({ "body": "Sam sleeps better since Monday." })),
        )
        .await;
    assert_eq!(replied.status, 201, "{}", reply_reply(&replied));
    assert_eq!(
        replied.body["message"]["sender_role"],
        "proxy",
        "{}",
        reply_reply(&replied)
    );
    // The guardian may attach a file of the child's record to a message.
    let uploaded = child
        .send_bytes(
            "POST",
            "/files",
            portal_e2e::journey::letter_pdf(),
            &[
                ("content-type", "application/pdf"),
                ("x-file-name", "school.pdf"),
            ],
        )
        .await;
    assert_eq!(uploaded.status, 201, "{}", reply_reply(&uploaded));
    let attached = parent
        .send(
            "POST",
            &format!("/messages/threads/{general}/messages"),
            Some(json!({ "body": "The school letter.", "attachments": [uploaded.body["id"]] })),
        )
        .await;
    assert_eq!(attached.status, 201, "{}", reply_reply(&attached));

    // The child's "who accessed my record" names the parent, acting for the child.
    let history = child
        .send("GET", "/audit/events?action=messaging.thread_read", None)
        .await;
    assert_eq!(history.status, 200, "{}", reply_reply(&history));
    let by_parent = history.body["events"]
        .as_array()
        .expect("events")
        .iter()
        .any(|entry| {
            entry["event"]["actor"]["id"] == parent_id.as_str()
                && entry["event"]["on_behalf_of"] == child_id.as_str()
        });
    assert!(by_parent, "{:?}", history.body);

    // Five minutes before the 12th birthday nothing has changed; six minutes later, with the
    // same session and token, guardian access waits for the teen's assent.
    let twelfth = birthday(birth_date, 12);
    advance_to(&world, twelfth, -300).await;
    sign_in_again(&mut parent, "parent@example.org").await;
    assert_eq!(act_for(&mut parent, &child_id).await.status, 200);
    let eve = parent.send("GET", "/messages/threads", None).await;
    assert_eq!(thread_ids(&eve).len(), 2, "{}", reply_reply(&eve));
    world.clock.advance(&world.portal.url(""), 360).await;
    let waiting = parent.send("GET", "/messages/threads", None).await;
    assert_eq!(waiting.status, 403, "{}", reply_reply(&waiting));
    // A guardian cannot pass access on to another account to get around the age rules.
    let passed_on = parent
        .send(
            "POST",
            &format!("/auth/patients/{child_id}/proxies"),
            Some(json!({
                "grantee_email": "parent@example.org",
                "kind": "representative",
                "scopes": { "read_messages": true, "send_messages": true, "read_files": true, "upload_files": true },
                "consent_method": "verbal",
            })),
        )
        .await;
    assert_eq!(passed_on.status, 403, "{}", reply_reply(&passed_on));

    // After the teen's assent the access narrows.
    sign_in_again(&mut child, "sam@example.org").await;
    let assented = child
        .send(
            "POST",
            &format!("/auth/patients/{child_id}/proxies/{grant_id}/assent"),
            None,
        )
        .await;
    assert_eq!(assented.status, 200, "{}", reply_reply(&assented));
    let narrowed = parent.send("GET", "/messages/threads", None).await;
    assert_eq!(narrowed.status, 200, "{}", reply_reply(&narrowed));
    assert_eq!(thread_ids(&narrowed), vec![general.clone()]);
    let hidden = parent
        .send("GET", &format!("/messages/threads/{sensitive}"), None)
        .await;
    assert_eq!(hidden.status, 404, "{}", reply_reply(&hidden));
    // The recorded scopes apply from 12: this guardian may read but not send.
    let unsent = parent
        .send(
            "POST",
            &format!("/messages/threads/{general}/messages"),
            Some(json!({ "body": "Checking in." })),
        )
        .await;
    assert_eq!(unsent.status, 403, "{}", reply_reply(&unsent));

    // Five minutes before the 18th birthday the narrowed access still works; six minutes later
    // it has ended on every component, with nobody acting.
    let eighteenth = birthday(birth_date, 18);
    advance_to(&world, eighteenth, -300).await;
    sign_in_again(&mut parent, "parent@example.org").await;
    assert_eq!(act_for(&mut parent, &child_id).await.status, 200);
    let still = parent.send("GET", "/messages/threads", None).await;
    assert_eq!(thread_ids(&still), vec![general.clone()]);
    world.clock.advance(&world.portal.url(""), 360).await;
    for path in ["/messages/threads", "/files", "/audit/events"] {
        let ended = parent.send("GET", path, None).await;
        assert_eq!(ended.status, 403, "{path}: {}", reply_reply(&ended));
    }
    // Choosing the patient again is refused too.
    assert_eq!(act_for(&mut parent, &child_id).await.status, 404);
    sign_in_again(&mut child, "sam@example.org").await;
    let proxies = child
        .send("GET", &format!("/auth/patients/{child_id}/proxies"), None)
        .await;
    assert_eq!(proxies.status, 200, "{}", reply_reply(&proxies));
    assert_eq!(proxies.body["proxies"][0]["state"], "ended_at_majority");
}

#[tokio::test(flavor = "multi_thread")]
async fn caregiver_grants_are_scoped_expire_and_revoke_everywhere() {
    let world = World::start(&[]).await;
    let (clinician, clinician_id) = world.staff("dr.wu@example.org", "clinician").await;
    let (mut patient, patient_id) = register(&world, "ruth@example.org", json!({})).await;
    assert_eq!(patient.enrol_totp().await.status, 200);
    let (mut carer, _) = register(&world, "carer@example.org", json!({ "account": "proxy" })).await;
    let team = world
        .care_team("Geriatrics", &[&patient_id, &clinician_id])
        .await;
    let thread = open_thread(&clinician, &team, &patient_id, "general").await;
    let path = format!("/auth/patients/{patient_id}/proxies");
    let grant_body = json!({
        "grantee_email": "carer@example.org",
        "kind": "caregiver",
        "scopes": { "read_messages": true, "send_messages": false, "read_files": true, "upload_files": false },
    });

    // Bad grants are refused with the field named.
    for (change, field) in [
        (json!({ "consent_method": "written" }), "consent_method"),
        (json!({ "kind": "guardian" }), "kind"),
        (
            json!({ "scopes": { "read_messages": false, "send_messages": false, "read_files": false, "upload_files": false } }),
            "scopes",
        ),
        (
            json!({ "expires_at": world.clock.now() + 200 * DAY }),
            "expires_at",
        ),
        (
            json!({ "grantee_email": "nobody@example.org" }),
            "grantee_email",
        ),
    ] {
        let mut body = grant_body.clone();
        if let (Some(body), Some(change)) = (body.as_object_mut(), change.as_object()) {
            body.extend(change.clone());
        }
        let refused = patient.send("POST", &path, Some(body)).await;
        assert_eq!(refused.status, 422, "{field}: {}", reply_reply(&refused));
        assert_eq!(refused.body["field"], field);
    }
    // A proxy cannot grant access, not even to itself.
    let own = carer.send("POST", &path, Some(grant_body.clone())).await;
    assert_eq!(own.status, 403, "{}", reply_reply(&own));

    let granted = patient.send("POST", &path, Some(grant_body.clone())).await;
    assert_eq!(granted.status, 201, "{}", reply_reply(&granted));
    assert_eq!(granted.body["consent"]["method"], "portal");
    assert_eq!(granted.body["consent"]["consented_by"], patient_id.as_str());
    let expires = granted.body["expires_at"].as_i64().expect("expiry");
    assert!(
        (expires - world.clock.now() - 90 * DAY).abs() < 120,
        "{expires}"
    );
    let grant_id = granted.body["id"].as_str().expect("grant id").to_owned();
    let again = patient.send("POST", &path, Some(grant_body.clone())).await;
    assert_eq!(again.status, 409);

    // Read-only scope: reading works, sending and uploading do not.
    assert_eq!(act_for(&mut carer, &patient_id).await.status, 200);
    let read = carer
        .send("GET", &format!("/messages/threads/{thread}"), None)
        .await;
    assert_eq!(read.status, 200, "{}", reply_reply(&read));
    let sent = carer
        .send(
            "POST",
            &format!("/messages/threads/{thread}/messages"),
            Some(json!({ "body": "She took the evening dose." })),
        )
        .await;
    assert_eq!(sent.status, 403, "{}", reply_reply(&sent));
    let opened = carer
        .send(
            "POST",
            "/messages/threads",
            Some(json!({ "care_team": team, "subject": "Dose", "category": "general", "body": "A question." })),
        )
        .await;
    assert_eq!(opened.status, 403, "{}", reply_reply(&opened));
    let uploaded = carer
        .send_bytes(
            "POST",
            "/files",
            b"%PDF-1.4\n".to_vec(),
            &[
                ("content-type", "application/pdf"),
                ("x-file-name", "note.pdf"),
            ],
        )
        .await;
    assert_eq!(uploaded.status, 404, "{}", reply_reply(&uploaded));
    // Reading a thread is not exporting the record, which only guardians of young children may.
    let exported = carer
        .send("GET", &format!("/messages/threads/{thread}/export"), None)
        .await;
    assert_eq!(exported.status, 403, "{}", reply_reply(&exported));
    let files = carer.send("GET", "/files", None).await;
    assert_eq!(files.status, 200, "{}", reply_reply(&files));
    // Another patient's id is refused, whatever the proxy holds.
    let (other, other_id) = register(&world, "other@example.org", json!({})).await;
    assert_eq!(act_for(&mut carer, &other_id).await.status, 404);
    // A thread of that other patient stays hidden, and the refusal in their access history
    // does not reveal whom the proxy acts for.
    world.add_member(&team, &other_id).await;
    let foreign = open_thread(&clinician, &team, &other_id, "general").await;
    let refused = carer
        .send("GET", &format!("/messages/threads/{foreign}"), None)
        .await;
    assert_eq!(refused.status, 404, "{}", reply_reply(&refused));
    let history = other
        .send("GET", "/audit/events?action=messaging.thread_read", None)
        .await;
    assert_eq!(history.status, 200, "{}", reply_reply(&history));
    let attempt = history.body["events"]
        .as_array()
        .expect("events")
        .iter()
        .find(|entry| entry["event"]["actor"]["role"] == "proxy")
        .expect("the refused attempt is listed")
        .clone();
    assert_eq!(attempt["event"]["outcome"], "minor_failure", "{attempt}");
    assert!(attempt["event"]["on_behalf_of"].is_null(), "{attempt}");

    // Only the patient renews; after 90 days the grant has expired everywhere.
    let renew_path = format!("{path}/{grant_id}/renew");
    assert_eq!(carer.send("POST", &renew_path, None).await.status, 403);
    world
        .clock
        .advance(&world.portal.url(""), 90 * DAY + 60)
        .await;
    sign_in_again(&mut carer, "carer@example.org").await;
    assert_eq!(act_for(&mut carer, &patient_id).await.status, 404);
    sign_in_again(&mut patient, "ruth@example.org").await;
    let listed = patient.send("GET", &path, None).await;
    assert_eq!(listed.body["proxies"][0]["state"], "expired");
    // Renewing needs a recent second factor, like adding a grant.
    world.clock.advance(&world.portal.url(""), 11 * 60).await;
    assert_eq!(patient.refresh().await.status, 200);
    let stale = patient.send("POST", &renew_path, None).await;
    assert_eq!(stale.status, 401, "{}", reply_reply(&stale));
    assert_eq!(stale.problem_type(), "step-up-required");
    let code = patient.totp_code();
    let stepped = patient
        .send("POST", "/auth/step-up", Some(json!({ "totp_code": code })))
        .await;
    assert_eq!(stepped.status, 200, "{}", reply_reply(&stepped));
    patient.keep_tokens(&stepped);
    let renewed = patient.send("POST", &renew_path, None).await;
    assert_eq!(renewed.status, 200, "{}", reply_reply(&renewed));
    assert_eq!(renewed.body["state"], "active");
    assert_eq!(carer.refresh().await.status, 200);
    assert_eq!(act_for(&mut carer, &patient_id).await.status, 200);
    let read = carer
        .send("GET", &format!("/messages/threads/{thread}"), None)
        .await;
    assert_eq!(read.status, 200, "{}", reply_reply(&read));

    // A revocation applies to the proxy's next request on every component.
    let revoked = patient
        .send("DELETE", &format!("{path}/{grant_id}"), None)
        .await;
    assert_eq!(revoked.status, 200, "{}", reply_reply(&revoked));
    assert_eq!(revoked.body["state"], "revoked");
    for path in [
        format!("/messages/threads/{thread}"),
        "/messages/threads".to_owned(),
        "/files".to_owned(),
        "/audit/events".to_owned(),
    ] {
        let refused = carer.send("GET", &path, None).await;
        assert_eq!(refused.status, 403, "{path}: {}", reply_reply(&refused));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn break_glass_needs_reason_and_alerts() {
    let sink = portal_e2e::sink::Sink::start().await.expect("alert sink");
    let world = World::start(&[
        ("alert_webhook_url", &sink.url()),
        ("alert_webhook_origin", &sink.origin()),
    ])
    .await;
    let (clinician, clinician_id) = world.staff("dr.kay@example.org", "clinician").await;
    let (outsider, _) = world.staff("dr.ray@example.org", "clinician").await;
    let (patient, patient_id) = register(&world, "lee@example.org", json!({})).await;
    let team = world
        .care_team("Neurology", &[&patient_id, &clinician_id])
        .await;
    let thread = open_thread(&clinician, &team, &patient_id, "clinical").await;
    let uploaded = patient
        .send_bytes(
            "POST",
            "/files",
            portal_e2e::journey::letter_pdf(),
            &[
                ("content-type", "application/pdf"),
                ("x-file-name", "letter.pdf"),
            ],
        )
        .await;
    assert_eq!(uploaded.status, 201, "{}", reply_reply(&uploaded));
    let file = uploaded.body["id"].as_str().expect("file id").to_owned();
    let files_path = format!("/files?patient={patient_id}");
    let closed = outsider.send("GET", &files_path, None).await;
    assert_eq!(closed.status, 404, "{}", reply_reply(&closed));

    // Outside the care team the thread is not found.
    let denied = outsider
        .send("GET", &format!("/messages/threads/{thread}"), None)
        .await;
    assert_eq!(denied.status, 404);

    let path = format!("/auth/patients/{patient_id}/break-glass");
    let zero_width = "\u{200B}".repeat(12);
    for reason in [
        "",
        "urgent",
        "line one\nline two of the reason",
        &zero_width,
    ] {
        let refused = outsider
            .send("POST", &path, Some(json!({ "reason": reason })))
            .await;
        assert_eq!(refused.status, 422, "{reason:?}: {}", reply_reply(&refused));
        assert_eq!(refused.body["field"], "reason");
    }
    let still_denied = outsider
        .send("GET", &format!("/messages/threads/{thread}"), None)
        .await;
    assert_eq!(still_denied.status, 404);
    // The care team's own clinician needs no emergency access.
    let needless = clinician
        .send(
            "POST",
            &path,
            Some(json!({ "reason": "Reviewing the chart before the ward round" })),
        )
        .await;
    assert_eq!(needless.status, 409);

    // Emergency access needs a recent second factor.
    let mut outsider = outsider;
    world.clock.advance(&world.portal.url(""), 11 * 60).await;
    assert_eq!(outsider.refresh().await.status, 200);
    let reason = json!({ "reason": "Patient unconscious in the emergency department" });
    let stale = outsider.send("POST", &path, Some(reason.clone())).await;
    assert_eq!(stale.status, 401, "{}", reply_reply(&stale));
    let code = outsider.totp_code();
    let stepped = outsider
        .send("POST", "/auth/step-up", Some(json!({ "totp_code": code })))
        .await;
    assert_eq!(stepped.status, 200, "{}", reply_reply(&stepped));
    outsider.keep_tokens(&stepped);
    let opened = outsider.send("POST", &path, Some(reason)).await;
    assert_eq!(opened.status, 201, "{}", reply_reply(&opened));
    let read = outsider
        .send("GET", &format!("/messages/threads/{thread}"), None)
        .await;
    assert_eq!(read.status, 200, "{}", reply_reply(&read));
    let listed = outsider.send("GET", "/messages/threads", None).await;
    assert!(thread_ids(&listed).contains(&thread), "{:?}", listed.body);
    // The patient's files open too.
    let files = outsider.send("GET", &files_path, None).await;
    assert_eq!(files.status, 200, "{}", reply_reply(&files));
    assert_eq!(files.body["files"][0]["id"], file.as_str());
    let described = outsider.send("GET", &format!("/files/{file}"), None).await;
    assert_eq!(described.status, 200, "{}", reply_reply(&described));

    // Compliance is alerted, with no reason text or patient in the alert.
    let alerted = (0..50).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(100));
        sink.received()
            .iter()
            .any(|alert| alert["rule"] == "break_the_glass")
    });
    assert!(alerted, "{:?}", sink.received());
    let text = serde_json::to_string(&sink.received()).expect("alerts");
    assert!(
        !text.contains("unconscious") && !text.contains(&patient_id),
        "{text}"
    );

    // The access is time-boxed: an hour later the thread is hidden again.
    world.clock.advance(&world.portal.url(""), 3600 + 60).await;
    sign_in_again(&mut outsider, "dr.ray@example.org").await;
    let expired = outsider
        .send("GET", &format!("/messages/threads/{thread}"), None)
        .await;
    assert_eq!(expired.status, 404, "{}", reply_reply(&expired));
    let expired = outsider.send("GET", &format!("/files/{file}"), None).await;
    assert_eq!(expired.status, 404, "{}", reply_reply(&expired));
}
