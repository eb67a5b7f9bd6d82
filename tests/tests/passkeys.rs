//! Passkeys through the host with the real wasm: enrolment, sign-in without a password, use
//! as the second factor and for step-up, and the attacks a relying party must refuse
//! (replayed challenge, another origin or RP ID, cleared flags, a copied credential).
#![expect(
    clippy::expect_used,
    reason = "a test reports a missing value by panicking"
)]

use base64ct::{Base64UrlUnpadded, Encoding};
use portal_auth::webauthn::Flags;
use portal_auth::webauthn::software::{Assertion, Registration, SoftwareAuthenticator};
use portal_e2e::client::{Client, Reply};
use portal_e2e::sink::Sink;
use portal_e2e::world::{PASSWORD, World, user_id};
use serde_json::{Value, json};

fn b64(bytes: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(bytes)
}

fn challenge_of(reply: &Reply) -> Vec<u8> {
    let text = reply.body["challenge"].as_str().expect("challenge");
    Base64UrlUnpadded::decode_vec(text).expect("base64url challenge")
}

/// Builds the JSON a browser's `PublicKeyCredential.toJSON()` gives for a registration.
fn registration_json(response: &Registration) -> Value {
    json!({
        "id": b64(&response.credential_id),
        "rawId": b64(&response.credential_id),
        "type": "public-key",
        "response": {
            "clientDataJSON": b64(&response.client_data_json),
            "attestationObject": b64(&response.attestation_object),
            "transports": ["internal"],
        },
        "clientExtensionResults": {},
    })
}

/// Builds the JSON a browser gives for an assertion.
fn assertion_json(response: &Assertion) -> Value {
    json!({
        "id": b64(&response.credential_id),
        "rawId": b64(&response.credential_id),
        "type": "public-key",
        "response": {
            "clientDataJSON": b64(&response.client_data_json),
            "authenticatorData": b64(&response.authenticator_data),
            "signature": b64(&response.signature),
            "userHandle": b64(&response.user_handle),
        },
        "clientExtensionResults": {},
    })
}

/// Returns the portal's origin and its host, the RP ID.
fn relying_party(world: &World) -> (String, String) {
    let origin = world.portal.url("");
    let host = origin
        .trim_start_matches("http://")
        .split(':')
        .next()
        .expect("host")
        .to_owned();
    (origin, host)
}

/// Requests registration options and registers `device` with them.
async fn enrol(client: &Client, device: &mut SoftwareAuthenticator, name: &str) -> Reply {
    let options = client
        .send("POST", "/auth/passkeys/registration-options", None)
        .await;
    assert_eq!(options.status, 200, "{:?}", options.body);
    assert_eq!(
        options.body["authenticatorSelection"]["userVerification"],
        "required"
    );
    let handle =
        Base64UrlUnpadded::decode_vec(options.body["user"]["id"].as_str().expect("user id"))
            .expect("user handle");
    let response = device.register(&challenge_of(&options), &handle);
    client
        .send(
            "POST",
            "/auth/passkeys",
            Some(json!({ "name": name, "credential": registration_json(&response) })),
        )
        .await
}

/// Asks for a sign-in challenge and signs it with `device`.
async fn assertion(client: &Client, device: &mut SoftwareAuthenticator) -> Assertion {
    let options = client
        .send("POST", "/auth/passkeys/authentication-options", None)
        .await;
    assert_eq!(options.status, 200, "{:?}", options.body);
    device.assert(&challenge_of(&options))
}

async fn passkey_login(client: &mut Client, response: &Assertion) -> Reply {
    let reply = client
        .send(
            "POST",
            "/auth/passkeys/login",
            Some(json!({ "credential": assertion_json(response) })),
        )
        .await;
    if reply.status == 200 {
        client.keep_tokens(&reply);
    }
    reply
}

/// Returns the `amr` claim of the client's access token.
fn amr(client: &Client) -> Vec<String> {
    let token = client.access_token.as_deref().expect("token");
    let payload = token.split('.').nth(1).expect("payload");
    let claims: Value =
        serde_json::from_slice(&Base64UrlUnpadded::decode_vec(payload).expect("base64url"))
            .expect("JSON claims");
    claims["amr"]
        .as_array()
        .expect("amr")
        .iter()
        .map(|method| method.as_str().unwrap_or_default().to_owned())
        .collect()
}

async fn patient(world: &World, email: &str) -> (Client, String) {
    let mut client = world.client();
    let registered = client
        .send(
            "POST",
            "/auth/register",
            Some(json!({ "email": email, "password": PASSWORD })),
        )
        .await;
    assert_eq!(registered.status, 202);
    let signed_in = client.login(email, PASSWORD).await;
    assert_eq!(signed_in.status, 200);
    assert_eq!(
        signed_in.body["second_factor_options"][0], "passkey",
        "patients are offered passkeys first"
    );
    let id = user_id(&client).await;
    (client, id)
}

#[tokio::test(flavor = "multi_thread")]
async fn passkey_signs_in_alone_and_second() {
    let world = World::start(&[]).await;
    let (origin, rp_id) = relying_party(&world);
    let (mut ada, ada_id) = patient(&world, "ada@example.org").await;
    let mut phone = SoftwareAuthenticator::es256(&rp_id, &origin);
    phone.flags |= Flags::BACKUP_ELIGIBLE | Flags::BACKED_UP;
    let enrolled = enrol(&ada, &mut phone, "Phone").await;
    assert_eq!(enrolled.status, 201, "{:?}", enrolled.body);
    assert_eq!(enrolled.body["passkey"]["algorithm"], "ES256");
    assert_eq!(enrolled.body["passkey"]["synced"], true);
    assert_eq!(
        enrolled.body["recovery_codes"].as_array().map(Vec::len),
        Some(10)
    );
    ada.keep_tokens(&enrolled);

    // Without a password: the session is multi-factor, as a synced software key.
    let mut laptop = world.client();
    let response = assertion(&laptop, &mut phone).await;
    let signed_in = passkey_login(&mut laptop, &response).await;
    assert_eq!(signed_in.status, 200, "{:?}", signed_in.body);
    let methods = amr(&laptop);
    for method in ["swk", "user", "mfa"] {
        assert!(methods.iter().any(|m| m == method), "{methods:?}");
    }
    assert_eq!(laptop.send("GET", "/messages/me", None).await.status, 200);

    // The same response again: its challenge was used.
    let mut replay = world.client();
    assert_eq!(passkey_login(&mut replay, &response).await.status, 401);

    // After a password the passkey is the second factor; without it the password is not
    // enough.
    let mut desk = world.client();
    let password_only = desk.login("ada@example.org", PASSWORD).await;
    assert_eq!(password_only.status, 401, "{:?}", password_only.body);
    let response = assertion(&desk, &mut phone).await;
    let both = desk
        .send(
            "POST",
            "/auth/login",
            Some(json!({
                "email": "ada@example.org",
                "password": PASSWORD,
                "passkey": assertion_json(&response),
            })),
        )
        .await;
    assert_eq!(both.status, 200, "{:?}", both.body);
    desk.keep_tokens(&both);
    let methods = amr(&desk);
    assert!(methods.contains(&"pwd".to_owned()), "{methods:?}");
    assert!(methods.contains(&"mfa".to_owned()), "{methods:?}");

    // Step-up with the passkey.
    let response = assertion(&desk, &mut phone).await;
    let stepped = desk
        .send(
            "POST",
            "/auth/step-up",
            Some(json!({ "passkey": assertion_json(&response) })),
        )
        .await;
    assert_eq!(stepped.status, 200, "{:?}", stepped.body);

    // A second key with EdDSA, then list, rename and remove.
    let mut key = SoftwareAuthenticator::eddsa(&rp_id, &origin);
    desk.keep_tokens(&stepped);
    let second = enrol(&desk, &mut key, "Blue key").await;
    assert_eq!(second.status, 201, "{:?}", second.body);
    assert_eq!(second.body["passkey"]["algorithm"], "EdDSA");
    assert!(
        second.body["recovery_codes"].is_null(),
        "codes are issued once"
    );
    desk.keep_tokens(&second);
    let listed = desk.send("GET", "/auth/passkeys", None).await;
    let passkeys = listed.body["passkeys"]
        .as_array()
        .expect("passkeys")
        .clone();
    assert_eq!(passkeys.len(), 2);
    let key_id = b64(&key.credential_id);
    let renamed = desk
        .send(
            "PATCH",
            &format!("/auth/passkeys/{key_id}"),
            Some(json!({ "name": "Keyring" })),
        )
        .await;
    assert_eq!(renamed.status, 200);
    assert_eq!(renamed.body["name"], "Keyring");
    let bad_name = desk
        .send(
            "PATCH",
            &format!("/auth/passkeys/{key_id}"),
            Some(json!({ "name": "two\nlines" })),
        )
        .await;
    assert_eq!(bad_name.status, 422);
    assert_eq!(bad_name.body["field"], "name");
    let removed = desk
        .send("DELETE", &format!("/auth/passkeys/{key_id}"), None)
        .await;
    assert_eq!(removed.status, 204, "{:?}", removed.body);
    // The removed key no longer signs in.
    let mut after = world.client();
    let response = assertion(&after, &mut key).await;
    assert_eq!(passkey_login(&mut after, &response).await.status, 401);

    // An admin removing a lost or stolen factor removes passkeys too.
    let removed = world
        .admin
        .send(
            "DELETE",
            &format!("/auth/users/{ada_id}/second-factor"),
            None,
        )
        .await;
    assert_eq!(removed.status, 204, "{:?}", removed.body);
    let mut stolen = world.client();
    let response = assertion(&stolen, &mut phone).await;
    assert_eq!(passkey_login(&mut stolen, &response).await.status, 401);
}

#[tokio::test(flavor = "multi_thread")]
async fn forged_and_copied_passkeys_are_refused() {
    let sink = Sink::start().await.expect("alert sink");
    let world = World::start(&[
        ("alert_webhook_url", &sink.url()),
        ("alert_webhook_origin", &sink.origin()),
    ])
    .await;
    let (origin, rp_id) = relying_party(&world);
    let (ben, _) = patient(&world, "ben@example.org").await;

    // Registrations from another origin or for another RP ID are refused and audited.
    let mut phishing = SoftwareAuthenticator::es256(&rp_id, "https://portal.example.org.evil.test");
    assert_eq!(enrol(&ben, &mut phishing, "Phish").await.status, 401);
    let mut other_rp = SoftwareAuthenticator::es256("evil.test", &origin);
    assert_eq!(enrol(&ben, &mut other_rp, "Other").await.status, 401);
    // One without user verification cannot stand in for two factors.
    let mut no_uv = SoftwareAuthenticator::es256(&rp_id, &origin);
    no_uv.flags = Flags::USER_PRESENT;
    assert_eq!(enrol(&ben, &mut no_uv, "No UV").await.status, 401);
    // A session that failed five times is ended; start again.
    let mut ben = world.client();
    assert_eq!(ben.login("ben@example.org", PASSWORD).await.status, 200);

    let mut key = SoftwareAuthenticator::es256(&rp_id, &origin);
    let enrolled = enrol(&ben, &mut key, "Security key").await;
    assert_eq!(enrolled.status, 201, "{:?}", enrolled.body);
    // A registration cannot be replayed into another account.
    let (mut cy, _) = patient(&world, "cy@example.org").await;
    let mut copy = SoftwareAuthenticator::es256(&rp_id, &origin);
    copy.credential_id.clone_from(&key.credential_id);
    let duplicate = enrol(&cy, &mut copy, "Copy").await;
    assert_ne!(duplicate.status, 201, "{:?}", duplicate.body);
    assert_eq!(cy.login("cy@example.org", PASSWORD).await.status, 200);

    let mut client = world.client();
    // Cleared user-verification flag, wrong origin, wrong RP ID, bad signature.
    key.flags = Flags::USER_PRESENT;
    let response = assertion(&client, &mut key).await;
    assert_eq!(passkey_login(&mut client, &response).await.status, 401);
    key.flags = Flags::USER_PRESENT | Flags::USER_VERIFIED;
    key.origin = "http://127.0.0.1:1".to_owned();
    let response = assertion(&client, &mut key).await;
    assert_eq!(passkey_login(&mut client, &response).await.status, 401);
    key.origin.clone_from(&origin);
    key.rp_id = "evil.test".to_owned();
    let response = assertion(&client, &mut key).await;
    assert_eq!(passkey_login(&mut client, &response).await.status, 401);
    key.rp_id.clone_from(&rp_id);
    let mut forged = assertion(&client, &mut key).await;
    let last = forged.signature.len() - 1;
    forged.signature[last] ^= 0x01;
    assert_eq!(passkey_login(&mut client, &forged).await.status, 401);

    let good = assertion(&client, &mut key).await;
    assert_eq!(passkey_login(&mut client, &good).await.status, 200);

    // A copy of the key signs with a counter that has not moved: refused and alerted.
    key.sign_count -= 1;
    key.counter_step = 0;
    let mut thief = world.client();
    let cloned = assertion(&thief, &mut key).await;
    let refused = passkey_login(&mut thief, &cloned).await;
    assert_eq!(refused.status, 401, "{:?}", refused.body);
    let alerted = (0..50).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(100));
        sink.received()
            .iter()
            .any(|alert| alert["rule"] == "passkey_counter_regressed")
    });
    assert!(alerted, "{:?}", sink.received());

    // An authenticator without a counter (zero every time) keeps working.
    let mut apple = SoftwareAuthenticator::es256(&rp_id, &origin);
    apple.counter_step = 0;
    apple.flags |= Flags::BACKUP_ELIGIBLE;
    let enrolled = enrol(&cy, &mut apple, "iCloud").await;
    assert_eq!(enrolled.status, 201, "{:?}", enrolled.body);
    for _ in 0..2 {
        let mut device = world.client();
        let response = assertion(&device, &mut apple).await;
        assert_eq!(passkey_login(&mut device, &response).await.status, 200);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn staff_cannot_remove_their_last_factor() {
    let world = World::start(&[]).await;
    let (origin, rp_id) = relying_party(&world);
    let invitation = world
        .admin
        .send(
            "POST",
            "/auth/invitations",
            Some(json!({ "email": "dr.lin@example.org", "role": "clinician" })),
        )
        .await;
    assert_eq!(invitation.status, 201);
    let mut clinician = world.client();
    let accepted = clinician
        .send(
            "POST",
            "/auth/invitations/accept",
            Some(json!({ "invitation": invitation.body["invitation"], "password": PASSWORD })),
        )
        .await;
    assert_eq!(accepted.status, 201);
    let signed_in = clinician.login("dr.lin@example.org", PASSWORD).await;
    assert_eq!(signed_in.body["enrolment_only"], true);

    // The enrolment-only session may enrol a passkey, which makes it a full session.
    let mut key = SoftwareAuthenticator::eddsa(&rp_id, &origin);
    let enrolled = enrol(&clinician, &mut key, "Badge key").await;
    assert_eq!(enrolled.status, 201, "{:?}", enrolled.body);
    clinician.keep_tokens(&enrolled);
    assert_eq!(
        clinician.send("GET", "/messages/me", None).await.status,
        200
    );

    let id = b64(&key.credential_id);
    let refused = clinician
        .send("DELETE", &format!("/auth/passkeys/{id}"), None)
        .await;
    assert_eq!(refused.status, 409, "{:?}", refused.body);
    // Someone else's passkey id is not found.
    let (other, _) = patient(&world, "dee@example.org").await;
    let hidden = other
        .send("DELETE", &format!("/auth/passkeys/{id}"), None)
        .await;
    assert_eq!(hidden.status, 404);
}
