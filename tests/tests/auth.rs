//! The auth component through the host with the real wasm: accounts, sign-in, second
//! factors, sessions, throttling, step-up, and revocation seen by another component.
#![expect(
    clippy::expect_used,
    reason = "a test reports a missing value by panicking"
)]

use portal_e2e::Portal;
use portal_e2e::client::{Client, Clock, Reply};
use serde_json::json;

const PASSWORD: &str = "correct horse battery staple";

async fn start(overrides: &[(&str, &str)]) -> (Portal, Clock) {
    let portal = Portal::start_with(overrides, true)
        .await
        .unwrap_or_else(|e| panic!("portal failed to start (build the components first): {e:#}"));
    (portal, Clock::default())
}

fn base(portal: &Portal) -> String {
    portal.url("")
}

/// Registers a patient and signs in without a second factor.
async fn patient(portal: &Portal, clock: &Clock, email: &str) -> Client {
    let mut client = Client::new(&base(portal), clock);
    let registered = client
        .send(
            "POST",
            "/auth/register",
            Some(json!({ "email": email, "password": PASSWORD })),
        )
        .await;
    assert_eq!(registered.status, 202, "{:?}", registered.body);
    let signed_in = client.login(email, PASSWORD).await;
    assert_eq!(signed_in.status, 200, "{:?}", signed_in.body);
    assert_eq!(signed_in.body["enrol_second_factor"], true);
    client
}

async fn me_in_messaging(client: &Client) -> Reply {
    client.send("GET", "/messages/me", None).await
}

#[tokio::test(flavor = "multi_thread")]
async fn register_enrol_login_refresh_logout_and_the_old_token_fails_elsewhere() {
    let (portal, clock) = start(&[]).await;
    let mut client = patient(&portal, &clock, "ana@example.org").await;
    assert_eq!(me_in_messaging(&client).await.status, 200);

    let enrolled = client.enrol_totp().await;
    assert_eq!(enrolled.status, 200, "{:?}", enrolled.body);
    assert_eq!(client.recovery_codes.len(), 10);

    // With a second factor enrolled, the password alone is not enough.
    let mut device = Client::new(&base(&portal), &clock);
    let password_only = device.login("ana@example.org", PASSWORD).await;
    assert_eq!(password_only.status, 401);
    assert_eq!(password_only.body["field"], "totp_code");
    device.totp = client.totp.clone();
    clock.advance(&base(&portal), 30).await;
    let signed_in = device.login("ana@example.org", PASSWORD).await;
    assert_eq!(signed_in.status, 200, "{:?}", signed_in.body);
    assert!(
        signed_in.headers["cache-control"]
            .to_str()
            .unwrap_or_default()
            .contains("no-store")
    );

    let me = me_in_messaging(&device).await;
    assert_eq!(me.status, 200, "{:?}", me.body);
    assert_eq!(me.body["role"], "patient");

    let first_refresh = device.refresh_token.clone();
    let refreshed = device.refresh().await;
    assert_eq!(refreshed.status, 200, "{:?}", refreshed.body);
    assert_ne!(device.refresh_token, first_refresh);
    assert_eq!(me_in_messaging(&device).await.status, 200);

    let sessions = device.send("GET", "/auth/sessions", None).await;
    assert_eq!(sessions.status, 200);
    assert_eq!(sessions.body["sessions"].as_array().map(Vec::len), Some(2));

    let old_token = device.access_token.clone();
    let logout = device.send("POST", "/auth/logout", None).await;
    assert_eq!(logout.status, 204, "{:?}", logout.body);
    // The access token has not expired, yet messaging refuses it at once.
    assert_eq!(device.access_token, old_token);
    let after = me_in_messaging(&device).await;
    assert_eq!(after.status, 401, "{:?}", after.body);
    assert_eq!(after.problem_type(), "unauthenticated");
    assert_eq!(device.refresh().await.status, 401);
    // The other session is untouched.
    assert_eq!(me_in_messaging(&client).await.status, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn tokens_need_a_fresh_proof_by_the_bound_key() {
    let (portal, clock) = start(&[]).await;
    let client = patient(&portal, &clock, "ben@example.org").await;
    let url = portal.url("/messages/me");
    let token = client.access_token.clone().expect("token");

    let no_proof = client.send_raw("GET", &url, None, Some(&token), None).await;
    assert_eq!(no_proof.status, 401);

    let proof = client.key.proof("GET", &url, clock.now(), Some(&token));
    let first = client
        .send_raw("GET", &url, None, Some(&token), Some(&proof))
        .await;
    assert_eq!(first.status, 200, "{:?}", first.body);
    let replayed = client
        .send_raw("GET", &url, None, Some(&token), Some(&proof))
        .await;
    assert_eq!(replayed.status, 401, "a replayed proof must fail");

    // A stolen token with the thief's own key.
    let thief = Client::new(&base(&portal), &clock);
    let stolen = thief.key.proof("GET", &url, clock.now(), Some(&token));
    let reply = thief
        .send_raw("GET", &url, None, Some(&token), Some(&stolen))
        .await;
    assert_eq!(reply.status, 401);

    // A proof made for another URL or method.
    let elsewhere = client
        .key
        .proof("GET", &portal.url("/auth/me"), clock.now(), Some(&token));
    let reply = client
        .send_raw("GET", &url, None, Some(&token), Some(&elsewhere))
        .await;
    assert_eq!(reply.status, 401);
    let post = client.key.proof("POST", &url, clock.now(), Some(&token));
    let reply = client
        .send_raw("GET", &url, None, Some(&token), Some(&post))
        .await;
    assert_eq!(reply.status, 401);

    // A tampered token.
    let mut tampered = token.clone();
    tampered.pop();
    tampered.push(if token.ends_with('A') { 'B' } else { 'A' });
    let proof = client.key.proof("GET", &url, clock.now(), Some(&tampered));
    let reply = client
        .send_raw("GET", &url, None, Some(&tampered), Some(&proof))
        .await;
    assert_eq!(reply.status, 401);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_totp_code_works_once_in_sequence_and_in_parallel() {
    let (portal, clock) = start(&[]).await;
    let mut client = patient(&portal, &clock, "cy@example.org").await;
    assert_eq!(client.enrol_totp().await.status, 200);

    // The enrolment code's step is used; the same code cannot step up.
    let code = client.totp_code();
    let again = client
        .send("POST", "/auth/step-up", Some(json!({ "totp_code": code })))
        .await;
    assert_eq!(again.status, 401, "{:?}", again.body);

    clock.advance(&base(&portal), 30).await;
    let code = client.totp_code();
    let body = json!({ "totp_code": code });
    let (first, second) = tokio::join!(
        client.send("POST", "/auth/step-up", Some(body.clone())),
        client.send("POST", "/auth/step-up", Some(body.clone())),
    );
    let passed = [first.status, second.status]
        .iter()
        .filter(|status| **status == 200)
        .count();
    assert_eq!(
        passed, 1,
        "exactly one parallel use passes: {} {}",
        first.status, second.status
    );
    let serial = client.send("POST", "/auth/step-up", Some(body)).await;
    assert_eq!(serial.status, 401);

    // A recovery code works once too.
    let recovery = client.recovery_codes[0].clone();
    let used = client
        .send(
            "POST",
            "/auth/step-up",
            Some(json!({ "recovery_code": recovery })),
        )
        .await;
    assert_eq!(used.status, 200, "{:?}", used.body);
    let reused = client
        .send(
            "POST",
            "/auth/step-up",
            Some(json!({ "recovery_code": recovery })),
        )
        .await;
    assert_eq!(reused.status, 401);
}

#[tokio::test(flavor = "multi_thread")]
async fn reusing_a_rotated_refresh_token_revokes_the_family() {
    let (portal, clock) = start(&[]).await;
    let mut client = patient(&portal, &clock, "dee@example.org").await;
    let stolen = client.refresh_token.clone().expect("refresh token");
    assert_eq!(client.refresh().await.status, 200);
    assert_eq!(me_in_messaging(&client).await.status, 200);

    // The thief has the device key too (a copied browser profile) and replays the old token
    // after the few seconds in which a resend counts as a lost race.
    clock.advance(&base(&portal), 11).await;
    let reuse = client
        .send(
            "POST",
            "/auth/token",
            Some(json!({ "refresh_token": stolen })),
        )
        .await;
    assert_eq!(reuse.status, 401);
    // The whole session is gone: the current refresh token and access token fail.
    assert_eq!(client.refresh().await.status, 401);
    assert_eq!(me_in_messaging(&client).await.status, 401);

    // A refresh token presented with another device key is refused.
    let mut other = patient(&portal, &clock, "eve@example.org").await;
    let token = other.refresh_token.clone();
    other.key = portal_e2e::client::DpopKey::generate();
    other.refresh_token = token;
    assert_eq!(other.refresh().await.status, 401);
}

#[tokio::test(flavor = "multi_thread")]
async fn parallel_wrong_passwords_are_throttled_then_the_account_locks() {
    let (portal, clock) = start(&[
        ("login_free_attempts", "3"),
        ("login_base_delay_secs", "30"),
        ("login_lock_after", "6"),
        ("login_address_failures", "1000"),
    ])
    .await;
    let mut client = patient(&portal, &clock, "fay@example.org").await;

    let attempts = (0..50).map(|_| {
        let client = &client;
        async move {
            client
                .send(
                    "POST",
                    "/auth/login",
                    Some(
                        json!({ "email": "fay@example.org", "password": "wrong password attempt" }),
                    ),
                )
                .await
        }
    });
    let replies = futures_join_all(attempts).await;
    let verified = replies.iter().filter(|reply| reply.status == 401).count();
    let throttled = replies.iter().filter(|reply| reply.status == 429).count();
    assert_eq!(verified + throttled, 50, "only 401 and 429 are expected");
    assert!(
        verified <= 4,
        "at most the 3 free attempts and one gated attempt ran: {verified}"
    );
    assert!(throttled >= 46);
    let retry_after = replies
        .iter()
        .find(|reply| reply.status == 429)
        .and_then(|reply| reply.headers.get("retry-after"))
        .expect("Retry-After on 429");
    assert!(
        retry_after
            .to_str()
            .unwrap_or_default()
            .parse::<u64>()
            .unwrap_or(0)
            >= 1
    );

    // Even the right password waits for the backoff.
    assert_eq!(client.login("fay@example.org", PASSWORD).await.status, 429);

    // Failures continue after each backoff until the lock.
    for _ in 0..6 {
        clock.advance(&base(&portal), 16 * 60).await;
        let _ = client
            .login("fay@example.org", "wrong password attempt")
            .await;
    }
    clock.advance(&base(&portal), 16 * 60).await;
    let locked = client.login("fay@example.org", PASSWORD).await;
    assert_eq!(locked.status, 429, "{:?}", locked.body);
    assert!(
        locked.body["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("locked")
    );

    // Another account's counter is separate.
    let mut other = patient(&portal, &clock, "gus@example.org").await;
    assert_eq!(other.login("gus@example.org", PASSWORD).await.status, 200);
}

/// Runs futures concurrently and collects their outputs in order.
async fn futures_join_all<F: std::future::Future>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output> {
    let mut set = Vec::new();
    for future in futures {
        set.push(future);
    }
    let mut outputs = Vec::with_capacity(set.len());
    let pinned: Vec<_> = set.into_iter().map(Box::pin).collect();
    let mut pending: Vec<_> = pinned.into_iter().map(Some).collect();
    let mut results: Vec<Option<F::Output>> = (0..pending.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut done = true;
        for (index, slot) in pending.iter_mut().enumerate() {
            if let Some(future) = slot {
                match future.as_mut().poll(cx) {
                    std::task::Poll::Ready(output) => {
                        results[index] = Some(output);
                        *slot = None;
                    }
                    std::task::Poll::Pending => done = false,
                }
            }
        }
        if done {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    for result in results {
        outputs.push(result.expect("every future finished"));
    }
    outputs
}

#[tokio::test(flavor = "multi_thread")]
async fn idle_and_absolute_timeouts_end_sessions() {
    let (portal, clock) = start(&[
        ("access_token_ttl_secs", "900"),
        ("session_idle_timeout_secs", "120"),
        ("session_absolute_lifetime_secs", "400"),
    ])
    .await;
    let mut client = patient(&portal, &clock, "hal@example.org").await;
    clock.advance(&base(&portal), 60).await;
    assert_eq!(me_in_messaging(&client).await.status, 200);
    clock.advance(&base(&portal), 130).await;
    // The access token is still within its 15 minutes, but the session idled out.
    assert_eq!(me_in_messaging(&client).await.status, 401);
    assert_eq!(client.refresh().await.status, 401);

    let mut active = Client::new(&base(&portal), &clock);
    assert_eq!(active.login("hal@example.org", PASSWORD).await.status, 200);
    for _ in 0..3 {
        clock.advance(&base(&portal), 100).await;
        assert_eq!(active.refresh().await.status, 200);
    }
    clock.advance(&base(&portal), 110).await;
    // Activity kept it from idling, but 410 s passed the 400 s absolute lifetime.
    assert_eq!(active.refresh().await.status, 401);
    assert_eq!(me_in_messaging(&active).await.status, 401);
}

#[tokio::test(flavor = "multi_thread")]
async fn password_change_needs_a_recent_second_factor_and_ends_other_sessions() {
    let (portal, clock) = start(&[]).await;
    let mut client = patient(&portal, &clock, "ida@example.org").await;
    assert_eq!(client.enrol_totp().await.status, 200);
    let mut other = Client::new(&base(&portal), &clock);
    other.totp = client.totp.clone();
    clock.advance(&base(&portal), 30).await;
    assert_eq!(other.login("ida@example.org", PASSWORD).await.status, 200);

    // Past the 10-minute step-up window the change is refused.
    clock.advance(&base(&portal), 11 * 60).await;
    assert_eq!(client.refresh().await.status, 200);
    let body = json!({ "current_password": PASSWORD, "new_password": "a brand new passphrase" });
    let stale = client
        .send("POST", "/auth/password", Some(body.clone()))
        .await;
    assert_eq!(stale.status, 401, "{:?}", stale.body);
    assert_eq!(stale.problem_type(), "step-up-required");

    let code = client.totp_code();
    let stepped = client
        .send("POST", "/auth/step-up", Some(json!({ "totp_code": code })))
        .await;
    assert_eq!(stepped.status, 200, "{:?}", stepped.body);
    client.keep_tokens(&stepped);

    // Reusing the current password is refused.
    let reuse = client
        .send(
            "POST",
            "/auth/password",
            Some(json!({ "current_password": PASSWORD, "new_password": PASSWORD })),
        )
        .await;
    assert_eq!(reuse.status, 422);
    assert_eq!(reuse.body["field"], "new_password");
    let wrong = client
        .send("POST", "/auth/password", Some(json!({ "current_password": "not the password", "new_password": "a brand new passphrase" })))
        .await;
    assert_eq!(wrong.status, 422);
    assert_eq!(wrong.body["field"], "current_password");

    let changed = client.send("POST", "/auth/password", Some(body)).await;
    assert_eq!(changed.status, 204, "{:?}", changed.body);
    assert_eq!(me_in_messaging(&client).await.status, 200);
    assert_eq!(
        me_in_messaging(&other).await.status,
        401,
        "other sessions end"
    );

    // The elevation expires.
    clock.advance(&base(&portal), 11 * 60).await;
    assert_eq!(client.refresh().await.status, 200);
    let later = client
        .send("POST", "/auth/password", Some(json!({ "current_password": "a brand new passphrase", "new_password": "another new passphrase" })))
        .await;
    assert_eq!(later.status, 401);
    assert_eq!(later.problem_type(), "step-up-required");
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_account_and_wrong_password_answer_alike() {
    let (portal, clock) = start(&[("login_address_failures", "1000")]).await;
    let _known = patient(&portal, &clock, "jo@example.org").await;
    let probe = Client::new(&base(&portal), &clock);
    let mut wrong_times = Vec::new();
    let mut unknown_times = Vec::new();
    let mut bodies = Vec::new();
    for round in 0..3 {
        for (email, times) in [
            ("jo@example.org", &mut wrong_times),
            ("nobody@example.org", &mut unknown_times),
        ] {
            let started = std::time::Instant::now();
            let reply = probe
                .send(
                    "POST",
                    "/auth/login",
                    Some(json!({ "email": email, "password": format!("wrong password {round}") })),
                )
                .await;
            times.push(started.elapsed());
            assert_eq!(reply.status, 401);
            bodies.push(reply.body);
        }
    }
    assert!(
        bodies.windows(2).all(|pair| pair[0] == pair[1]),
        "{bodies:?}"
    );
    wrong_times.sort();
    unknown_times.sort();
    // Both paths run one Argon2id; a missing hash would make the unknown case many times faster.
    let ratio = unknown_times[1].as_secs_f64() / wrong_times[1].as_secs_f64();
    assert!((0.5..2.0).contains(&ratio), "median ratio {ratio}");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_registrations_get_problems_naming_the_field() {
    let (portal, clock) = start(&[]).await;
    let client = Client::new(&base(&portal), &clock);
    let cases = [
        (
            json!({ "email": "kim@example.org", "password": "password" }),
            422,
            "password",
        ),
        (
            json!({ "email": "kim@example.org", "password": "short pass" }),
            422,
            "password",
        ),
        (
            json!({ "email": "kim@example.org", "password": "kim@example.org is my password" }),
            422,
            "password",
        ),
        (
            json!({ "email": "not-an-email", "password": PASSWORD }),
            422,
            "email",
        ),
        (json!({ "email": "kim@example.org" }), 422, "password"),
        (json!({ "email": 7, "password": PASSWORD }), 422, "email"),
    ];
    for (body, status, field) in cases {
        let reply = client
            .send("POST", "/auth/register", Some(body.clone()))
            .await;
        assert_eq!(reply.status, status, "{body} -> {:?}", reply.body);
        assert_eq!(reply.body["field"], field, "{body}");
        assert_eq!(reply.headers["content-type"], "application/problem+json");
    }
    let common = client
        .send(
            "POST",
            "/auth/register",
            Some(json!({ "email": "kim@example.org", "password": "films+pic+galeries" })),
        )
        .await;
    assert_eq!(common.status, 422);
    let short = client
        .send(
            "POST",
            "/auth/register",
            Some(json!({ "email": "kim@example.org", "password": "short pass" })),
        )
        .await;
    assert_eq!(short.body["limit"], 15);

    let unknown = client
        .send(
            "POST",
            "/auth/register",
            Some(json!({ "email": "kim@example.org", "password": PASSWORD, "role": "admin" })),
        )
        .await;
    assert_eq!(unknown.status, 400);
    assert_eq!(unknown.problem_type(), "unknown-field");

    let url = portal.url("/auth/register");
    let raw = reqwest::Client::new();
    let text = raw
        .post(&url)
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .expect("reply");
    assert_eq!(text.status(), 415);
    let broken = raw
        .post(&url)
        .header("content-type", "application/json")
        .body("{\"email\":")
        .send()
        .await
        .expect("reply");
    assert_eq!(broken.status(), 400);
    let huge = raw
        .post(&url)
        .header("content-type", "application/json")
        .body(format!("{{\"email\":\"{}\"}}", "a".repeat(20 * 1024)))
        .send()
        .await
        .expect("reply");
    assert_eq!(huge.status(), 413);

    // Nothing was half-written: the address is still free.
    let registered = client
        .send(
            "POST",
            "/auth/register",
            Some(json!({ "email": "kim@example.org", "password": PASSWORD })),
        )
        .await;
    assert_eq!(registered.status, 202);
    let mut kim = Client::new(&base(&portal), &clock);
    assert_eq!(kim.login("kim@example.org", PASSWORD).await.status, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn admins_bootstrap_invite_manage_teams_and_disable_accounts() {
    let secret = "bootstrap-secret-for-this-test-only";
    let (portal, clock) = start(&[("bootstrap_secret", secret)]).await;
    let mut admin = Client::new(&base(&portal), &clock);
    let wrong = admin
        .send("POST", "/auth/bootstrap", Some(json!({ "bootstrap_secret": "guess-guess-guess-guess", "email": "root@example.org", "password": PASSWORD })))
        .await;
    assert_eq!(wrong.status, 403);
    let created = admin
        .send("POST", "/auth/bootstrap", Some(json!({ "bootstrap_secret": secret, "email": "root@example.org", "password": PASSWORD })))
        .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let again = admin
        .send("POST", "/auth/bootstrap", Some(json!({ "bootstrap_secret": secret, "email": "root2@example.org", "password": PASSWORD })))
        .await;
    assert_eq!(again.status, 403, "bootstrap works once");

    // Staff without a second factor can only enrol one.
    let signed_in = admin.login("root@example.org", PASSWORD).await;
    assert_eq!(signed_in.status, 200);
    assert_eq!(signed_in.body["enrolment_only"], true);
    assert_eq!(me_in_messaging(&admin).await.status, 401);
    assert_eq!(
        admin
            .send(
                "POST",
                "/auth/care-teams",
                Some(json!({ "name": "Cardiology" }))
            )
            .await
            .status,
        403
    );
    assert_eq!(admin.enrol_totp().await.status, 200);

    let invitation = admin
        .send(
            "POST",
            "/auth/invitations",
            Some(json!({ "email": "dr.lee@example.org", "role": "clinician" })),
        )
        .await;
    assert_eq!(invitation.status, 201, "{:?}", invitation.body);
    let invite = invitation.body["invitation"]
        .as_str()
        .expect("invitation")
        .to_owned();
    let mut clinician = Client::new(&base(&portal), &clock);
    let accepted = clinician
        .send(
            "POST",
            "/auth/invitations/accept",
            Some(json!({ "invitation": invite, "password": PASSWORD })),
        )
        .await;
    assert_eq!(accepted.status, 201, "{:?}", accepted.body);
    assert_eq!(accepted.body["role"], "clinician");
    let clinician_id = accepted.body["user_id"].as_str().expect("id").to_owned();
    let reused = clinician
        .send(
            "POST",
            "/auth/invitations/accept",
            Some(json!({ "invitation": invite, "password": PASSWORD })),
        )
        .await;
    assert_eq!(reused.status, 422, "an invitation works once");
    assert_eq!(
        clinician.login("dr.lee@example.org", PASSWORD).await.status,
        200
    );
    assert_eq!(clinician.enrol_totp().await.status, 200);

    let team = admin
        .send(
            "POST",
            "/auth/care-teams",
            Some(json!({ "name": "Cardiology", "response_hours": 24 })),
        )
        .await;
    assert_eq!(team.status, 201, "{:?}", team.body);
    let team_id = team.body["id"].as_str().expect("team id").to_owned();
    let member_path = format!("/auth/care-teams/{team_id}/members/{clinician_id}");
    assert_eq!(admin.send("PUT", &member_path, None).await.status, 200);
    let me = me_in_messaging(&clinician).await;
    assert_eq!(me.body["care_teams"], json!([team_id]));
    assert_eq!(admin.send("DELETE", &member_path, None).await.status, 200);
    let me = me_in_messaging(&clinician).await;
    assert_eq!(
        me.body["care_teams"],
        json!([]),
        "removal applies on the next request"
    );

    // A patient cannot administer.
    let patient = patient(&portal, &clock, "max@example.org").await;
    let denied = patient
        .send(
            "POST",
            "/auth/invitations",
            Some(json!({ "email": "x@example.org", "role": "admin" })),
        )
        .await;
    assert_eq!(denied.status, 403);

    // Disabling ends the clinician's sessions everywhere at once.
    let found = admin
        .send(
            "POST",
            "/auth/users/search",
            Some(json!({ "email": "dr.lee@example.org" })),
        )
        .await;
    assert_eq!(found.body["user_id"], clinician_id.as_str());
    assert_eq!(
        admin
            .send("POST", &format!("/auth/users/{clinician_id}/disable"), None)
            .await
            .status,
        204
    );
    assert_eq!(me_in_messaging(&clinician).await.status, 401);
    clock.advance(&base(&portal), 30).await;
    assert_eq!(
        clinician.login("dr.lee@example.org", PASSWORD).await.status,
        401
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn jwks_publishes_the_verification_key() {
    let (portal, _clock) = start(&[]).await;
    let reply: serde_json::Value = reqwest::get(portal.url("/auth/jwks"))
        .await
        .expect("reply")
        .json()
        .await
        .expect("json");
    let key = &reply["keys"][0];
    assert_eq!(key["kty"], "OKP");
    assert_eq!(key["kid"], "dev-1");
    assert!(key.get("d").is_none(), "no private key material");
}

/// Refreshes a client whose session may have idled: signs in again with its TOTP.
async fn refreshed(mut client: Client) -> Client {
    let reply = client.login("root@example.org", PASSWORD).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    client
}

/// Bootstraps an admin with TOTP and returns its client.
async fn admin(portal: &Portal, clock: &Clock, secret: &str) -> Client {
    let mut admin = Client::new(&base(portal), clock);
    let created = admin
        .send("POST", "/auth/bootstrap", Some(json!({ "bootstrap_secret": secret, "email": "root@example.org", "password": PASSWORD })))
        .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    assert_eq!(admin.login("root@example.org", PASSWORD).await.status, 200);
    assert_eq!(admin.enrol_totp().await.status, 200);
    admin
}

async fn user_id(client: &Client) -> String {
    let me = client.send("GET", "/auth/me", None).await;
    assert_eq!(me.status, 200, "{:?}", me.body);
    me.body["user_id"].as_str().expect("user id").to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn notifications_carry_no_personal_data() {
    let sink = portal_e2e::sink::Sink::start().await.expect("sink");
    let url = sink.url();
    let origin = sink.origin();
    let (portal, clock) = start(&[
        ("notification_webhook_url", url.as_str()),
        ("notification_webhook_origin", origin.as_str()),
        ("portal_public_url", "https://portal.example.org"),
    ])
    .await;
    let mut client = patient(&portal, &clock, "lou.grant@example.org").await;
    assert_eq!(client.enrol_totp().await.status, 200);

    // A sign-in from a new device.
    let mut laptop = Client::new(&base(&portal), &clock);
    laptop.totp = client.totp.clone();
    clock.advance(&base(&portal), 30).await;
    assert_eq!(
        laptop.login("lou.grant@example.org", PASSWORD).await.status,
        200
    );

    // A new destination: both the old and the new one hear of it.
    let changed = client
        .send(
            "PUT",
            "/auth/notification-destination",
            Some(json!({ "phone": "+1 415 555 0100" })),
        )
        .await;
    assert_eq!(changed.status, 204, "{:?}", changed.body);
    let bad = client
        .send(
            "PUT",
            "/auth/notification-destination",
            Some(json!({ "phone": "555" })),
        )
        .await;
    assert_eq!(bad.status, 422);
    assert_eq!(bad.body["field"], "phone");

    // A recovery code used, then someone registering the same address.
    let recovery = client.recovery_codes[0].clone();
    let used = laptop
        .send(
            "POST",
            "/auth/step-up",
            Some(json!({ "recovery_code": recovery })),
        )
        .await;
    assert_eq!(used.status, 200, "{:?}", used.body);
    let again = client
        .send(
            "POST",
            "/auth/register",
            Some(json!({ "email": "lou.grant@example.org", "password": PASSWORD })),
        )
        .await;
    assert_eq!(again.status, 202);

    let received = sink.received();
    let destinations: Vec<(&str, &str)> = received
        .iter()
        .map(|notice| {
            (
                notice["channel"].as_str().unwrap_or_default(),
                notice["to"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        destinations,
        vec![
            ("email", "lou.grant@example.org"),
            ("email", "lou.grant@example.org"),
            ("email", "lou.grant@example.org"),
            ("email", "lou.grant@example.org"),
            ("sms", "+14155550100"),
            ("sms", "+14155550100"),
            ("email", "lou.grant@example.org"),
        ],
        "account created, second factor, new device, old and new destination, recovery code, registration: {received:?}"
    );
    for notice in &received {
        let object = notice.as_object().expect("JSON object");
        let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["channel", "link", "text", "to"]);
        assert_eq!(notice["link"], "https://portal.example.org");
        let text = notice["text"].as_str().unwrap_or_default();
        for personal in ["lou", "grant", "example.org", "415", "patient"] {
            assert!(
                !text.to_lowercase().contains(personal),
                "{text:?} contains {personal:?}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn admins_unlock_accounts_and_issue_single_use_resets() {
    let secret = "bootstrap-secret-for-this-test-only";
    let (portal, clock) = start(&[
        ("bootstrap_secret", secret),
        ("login_free_attempts", "1"),
        ("login_lock_after", "2"),
    ])
    .await;
    let admin = admin(&portal, &clock, secret).await;
    let mut client = patient(&portal, &clock, "mo@example.org").await;
    assert_eq!(client.enrol_totp().await.status, 200);
    let id = user_id(&client).await;
    assert_eq!(
        client
            .send("POST", &format!("/auth/users/{id}/unlock"), None)
            .await
            .status,
        403,
        "a patient cannot unlock"
    );

    for _ in 0..2 {
        clock.advance(&base(&portal), 16 * 60).await;
        assert_eq!(
            client
                .login("mo@example.org", "wrong password attempt")
                .await
                .status,
            401
        );
    }
    clock.advance(&base(&portal), 16 * 60).await;
    assert_eq!(
        client.login("mo@example.org", PASSWORD).await.status,
        429,
        "locked"
    );
    let admin = refreshed(admin).await;
    assert_eq!(
        admin
            .send("POST", &format!("/auth/users/{id}/unlock"), None)
            .await
            .status,
        204
    );
    assert_eq!(client.login("mo@example.org", PASSWORD).await.status, 200);

    let reset = admin
        .send("POST", &format!("/auth/users/{id}/password-reset"), None)
        .await;
    assert_eq!(reset.status, 201, "{:?}", reset.body);
    let token = reset.body["reset_token"]
        .as_str()
        .expect("reset token")
        .to_owned();
    let body = json!({ "reset_token": token, "new_password": "a brand new passphrase" });
    let done = client
        .send("POST", "/auth/password/reset", Some(body.clone()))
        .await;
    assert_eq!(done.status, 204, "{:?}", done.body);
    assert_eq!(
        me_in_messaging(&client).await.status,
        401,
        "every session ends"
    );
    let reused = client
        .send("POST", "/auth/password/reset", Some(body))
        .await;
    assert_eq!(reused.status, 422, "a reset works once");

    clock.advance(&base(&portal), 30).await;
    assert_eq!(client.login("mo@example.org", PASSWORD).await.status, 401);
    // The second factor is still required after a reset.
    let totp = client.totp.take();
    assert_eq!(
        client
            .login("mo@example.org", "a brand new passphrase")
            .await
            .status,
        401
    );
    client.totp = totp;
    // One free attempt in this test's settings, so the next one waits for the backoff.
    clock.advance(&base(&portal), 16 * 60).await;
    assert_eq!(
        client
            .login("mo@example.org", "a brand new passphrase")
            .await
            .status,
        200
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn users_list_and_end_their_own_sessions_only() {
    let (portal, clock) = start(&[]).await;
    let phone = patient(&portal, &clock, "ned@example.org").await;
    let mut tablet = Client::new(&base(&portal), &clock);
    assert_eq!(tablet.login("ned@example.org", PASSWORD).await.status, 200);
    let stranger = patient(&portal, &clock, "ola@example.org").await;

    let listed = phone.send("GET", "/auth/sessions", None).await;
    let sessions = listed.body["sessions"]
        .as_array()
        .expect("sessions")
        .clone();
    assert_eq!(sessions.len(), 2);
    assert!(
        sessions
            .iter()
            .all(|session| session["address"] == "127.0.0.1")
    );
    assert_eq!(
        sessions
            .iter()
            .filter(|session| session["current"] == true)
            .count(),
        1
    );
    let other = sessions
        .iter()
        .find(|session| session["current"] == false)
        .and_then(|session| session["id"].as_str())
        .expect("the tablet's session")
        .to_owned();

    let foreign = stranger
        .send("DELETE", &format!("/auth/sessions/{other}"), None)
        .await;
    assert_eq!(
        foreign.status, 404,
        "another user's session is not theirs to end"
    );
    assert_eq!(me_in_messaging(&tablet).await.status, 200);

    let ended = phone
        .send("DELETE", &format!("/auth/sessions/{other}"), None)
        .await;
    assert_eq!(ended.status, 204);
    assert_eq!(me_in_messaging(&tablet).await.status, 401);
    assert_eq!(me_in_messaging(&phone).await.status, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn signing_keys_rotate_by_kid() {
    use portal_tokens::{AccessGrant, SigningKey, TokenIssuer};

    let old_seed = [7u8; 32];
    let new_seed = [9u8; 32];
    let old_key = SigningKey::from_seed("old-1", &old_seed).expect("key");
    let new_key = SigningKey::from_seed("new-2", &new_seed).expect("key");
    let jwks =
        json!({ "keys": [new_key.verifying_key().to_jwk(), old_key.verifying_key().to_jwk()] })
            .to_string();
    use base64ct::Encoding;
    let new_seed_text = base64ct::Base64::encode_string(&new_seed);
    let (portal, clock) = start(&[
        ("token_signing_kid", "new-2"),
        ("token_signing_key", new_seed_text.as_str()),
        ("token_verification_keys", jwks.as_str()),
    ])
    .await;
    let mut client = patient(&portal, &clock, "pia@example.org").await;
    let published = client.send("GET", "/auth/jwks", None).await;
    let kids: Vec<&str> = published.body["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .filter_map(|key| key["kid"].as_str())
        .collect();
    assert_eq!(kids, ["new-2", "old-1"]);
    assert_eq!(
        me_in_messaging(&client).await.status,
        200,
        "tokens by the new key verify"
    );

    // A token the old key signed for this session still verifies while the old key is listed.
    let me = client.send("GET", "/auth/me", None).await;
    let grant = AccessGrant {
        user: portal_policy::UserId::new(me.body["user_id"].as_str().expect("user")).expect("id"),
        role: portal_policy::Role::Patient,
        session: portal_policy::SessionId::new(me.body["session_id"].as_str().expect("session"))
            .expect("id"),
        amr: vec!["pwd".to_owned()],
        auth_time: clock.now(),
        acr: "urn:portal:acr:pwd".to_owned(),
        dpop_jkt: client.key.thumbprint(),
        on_behalf_of: None,
    };
    let old_token = TokenIssuer::new(portal_spin_issuer(), old_key)
        .issue_access(&grant, clock.now())
        .expect("token");
    client.access_token = Some(old_token);
    assert_eq!(me_in_messaging(&client).await.status, 200);

    // A key that is not listed is refused, even with the right kid.
    let forged_key = SigningKey::from_seed("old-1", &[1u8; 32]).expect("key");
    let forged = TokenIssuer::new(portal_spin_issuer(), forged_key)
        .issue_access(&grant, clock.now())
        .expect("token");
    client.access_token = Some(forged);
    assert_eq!(me_in_messaging(&client).await.status, 401);
}

/// The issuer name access tokens carry.
fn portal_spin_issuer() -> &'static str {
    "urn:portal:auth"
}

#[tokio::test(flavor = "multi_thread")]
async fn changes_fail_and_leave_nothing_when_audit_is_down() {
    let secret = "bootstrap-secret-for-this-test-only";
    let settings = [("bootstrap_secret", secret)];
    let (portal, clock) = start(&settings).await;
    let mut admin = admin(&portal, &clock, secret).await;
    let mut client = patient(&portal, &clock, "quinn@example.org").await;
    let id = user_id(&client).await;
    let team = admin
        .send(
            "POST",
            "/auth/care-teams",
            Some(json!({ "name": "Oncology" })),
        )
        .await;
    let team_id = team.body["id"].as_str().expect("team").to_owned();

    // The same stores, with the audit ingest address pointing at a path that does not exist.
    let broken = [
        ("bootstrap_secret", secret),
        ("audit_url", "http://audit-ingest.spin.internal/missing"),
    ];
    let down = portal
        .start_sharing(&broken, true)
        .await
        .expect("second portal");
    let down_base = down.url("");
    admin.base = down_base.clone();
    client.base = down_base.clone();

    let change = client
        .send(
            "POST",
            "/auth/password",
            Some(json!({ "current_password": PASSWORD, "new_password": "a brand new passphrase" })),
        )
        .await;
    assert_eq!(change.status, 503, "{:?}", change.body);
    let disable = admin
        .send("POST", &format!("/auth/users/{id}/disable"), None)
        .await;
    assert_eq!(disable.status, 503);
    let member = admin
        .send(
            "PUT",
            &format!("/auth/care-teams/{team_id}/members/{id}"),
            None,
        )
        .await;
    assert_eq!(member.status, 503);
    let registered = Client::new(&down_base, &clock)
        .send(
            "POST",
            "/auth/register",
            Some(json!({ "email": "rae@example.org", "password": PASSWORD })),
        )
        .await;
    assert_eq!(registered.status, 503);
    let mut fresh = Client::new(&down_base, &clock);
    let signed_in = fresh.login("quinn@example.org", PASSWORD).await;
    assert_eq!(signed_in.status, 503, "no tokens without the audit record");
    assert!(fresh.access_token.is_none());
    drop(down);

    // Back on a working audit log, nothing of the failed changes is there.
    client.base = base(&portal);
    admin.base = base(&portal);
    let me = me_in_messaging(&client).await;
    assert_eq!(
        me.status, 200,
        "the account was not disabled: {:?}",
        me.body
    );
    assert_eq!(
        me.body["care_teams"],
        json!([]),
        "the membership was not added"
    );
    let mut again = Client::new(&base(&portal), &clock);
    assert_eq!(
        again.login("quinn@example.org", PASSWORD).await.status,
        200,
        "the password did not change"
    );
    // Registering again with another password works only if the failed attempt left no account.
    let mut rae = Client::new(&base(&portal), &clock);
    let registered = rae
        .send(
            "POST",
            "/auth/register",
            Some(json!({ "email": "rae@example.org", "password": "another fine passphrase" })),
        )
        .await;
    assert_eq!(registered.status, 202);
    assert_eq!(
        rae.login("rae@example.org", "another fine passphrase")
            .await
            .status,
        200,
        "the address was free"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn one_address_failing_on_many_accounts_is_throttled() {
    let (portal, clock) = start(&[("login_address_failures", "3")]).await;
    let mut victim = patient(&portal, &clock, "sal@example.org").await;
    let stuffer = Client::new(&base(&portal), &clock);
    for account in ["a@example.org", "b@example.org", "c@example.org"] {
        let reply = stuffer
            .send(
                "POST",
                "/auth/login",
                Some(json!({ "email": account, "password": "a leaked password" })),
            )
            .await;
        assert_eq!(reply.status, 401);
    }
    let blocked = stuffer
        .send(
            "POST",
            "/auth/login",
            Some(json!({ "email": "d@example.org", "password": "a leaked password" })),
        )
        .await;
    assert_eq!(blocked.status, 429);
    assert!(blocked.headers.contains_key("retry-after"));
    // Every client here shares 127.0.0.1, so the victim waits too; a success does not clear
    // the address's window.
    assert_eq!(victim.login("sal@example.org", PASSWORD).await.status, 429);
    clock.advance(&base(&portal), 16 * 60).await;
    assert_eq!(victim.login("sal@example.org", PASSWORD).await.status, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn parallel_refreshes_by_one_device_keep_the_session() {
    let (portal, clock) = start(&[]).await;
    let mut client = patient(&portal, &clock, "tim@example.org").await;
    let token = client.refresh_token.clone().expect("refresh token");
    let body = json!({ "refresh_token": token });
    let (first, second) = tokio::join!(
        client.send("POST", "/auth/token", Some(body.clone())),
        client.send("POST", "/auth/token", Some(body.clone())),
    );
    let mut statuses = [first.status, second.status];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 409], "one wins, the other lost a race");
    let winner = if first.status == 200 { first } else { second };
    client.keep_tokens(&winner);
    assert_eq!(me_in_messaging(&client).await.status, 200);
    assert_eq!(client.refresh().await.status, 200, "the session goes on");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_oldest_sessions_past_the_cap_end_and_all_end_on_password_change() {
    let (portal, clock) = start(&[("login_address_failures", "1000")]).await;
    let first = patient(&portal, &clock, "uma@example.org").await;
    let mut second = Client::new(&base(&portal), &clock);
    assert_eq!(second.login("uma@example.org", PASSWORD).await.status, 200);
    let mut newest = Client::new(&base(&portal), &clock);
    for _ in 0..49 {
        newest = Client::new(&base(&portal), &clock);
        assert_eq!(newest.login("uma@example.org", PASSWORD).await.status, 200);
    }
    // 51 sign-ins: the first session ended to stay within 50.
    assert_eq!(me_in_messaging(&first).await.status, 401);
    assert_eq!(me_in_messaging(&second).await.status, 200);
    let listed = newest.send("GET", "/auth/sessions", None).await;
    assert_eq!(listed.body["sessions"].as_array().map(Vec::len), Some(50));

    let changed = newest
        .send(
            "POST",
            "/auth/password",
            Some(json!({ "current_password": PASSWORD, "new_password": "a brand new passphrase" })),
        )
        .await;
    assert_eq!(changed.status, 204, "{:?}", changed.body);
    assert_eq!(
        me_in_messaging(&second).await.status,
        401,
        "the oldest live session ends too"
    );
    assert_eq!(me_in_messaging(&newest).await.status, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_session_guessing_codes_or_passwords_is_ended() {
    let (portal, clock) = start(&[]).await;
    let mut client = patient(&portal, &clock, "vic@example.org").await;
    assert_eq!(client.enrol_totp().await.status, 200);
    let right = client.totp_code();
    let wrong = if right == "000000" {
        "111111"
    } else {
        "000000"
    };
    for _ in 0..4 {
        let reply = client
            .send("POST", "/auth/step-up", Some(json!({ "totp_code": wrong })))
            .await;
        assert_eq!(reply.status, 401);
        assert_eq!(me_in_messaging(&client).await.status, 200);
    }
    let fifth = client
        .send("POST", "/auth/step-up", Some(json!({ "totp_code": wrong })))
        .await;
    assert_eq!(fifth.status, 401);
    assert_eq!(
        me_in_messaging(&client).await.status,
        401,
        "the session ended"
    );

    let mut other = patient(&portal, &clock, "wes@example.org").await;
    for _ in 0..5 {
        let reply = other
            .send(
                "POST",
                "/auth/password",
                Some(json!({ "current_password": "not my password at all", "new_password": "a brand new passphrase" })),
            )
            .await;
        assert!(
            reply.status == 422 || reply.status == 401,
            "{:?}",
            reply.body
        );
    }
    assert_eq!(
        me_in_messaging(&other).await.status,
        401,
        "the session ended"
    );
    assert_eq!(other.login("wes@example.org", PASSWORD).await.status, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stale_session_cannot_enrol_and_admins_can_remove_a_factor() {
    let secret = "bootstrap-secret-for-this-test-only";
    let (portal, clock) = start(&[("bootstrap_secret", secret)]).await;
    let mut client = patient(&portal, &clock, "xia@example.org").await;
    clock.advance(&base(&portal), 11 * 60).await;
    assert_eq!(client.refresh().await.status, 200);
    let stale = client.send("POST", "/auth/totp/enrol", None).await;
    assert_eq!(stale.status, 401);
    assert_eq!(stale.problem_type(), "step-up-required");

    let mut fresh = Client::new(&base(&portal), &clock);
    assert_eq!(fresh.login("xia@example.org", PASSWORD).await.status, 200);
    assert_eq!(fresh.enrol_totp().await.status, 200);
    let id = user_id(&fresh).await;

    let admin = admin(&portal, &clock, secret).await;
    let removed = admin
        .send("DELETE", &format!("/auth/users/{id}/second-factor"), None)
        .await;
    assert_eq!(removed.status, 204, "{:?}", removed.body);
    assert_eq!(me_in_messaging(&fresh).await.status, 401, "sessions end");
    fresh.totp = None;
    clock.advance(&base(&portal), 30).await;
    let signed_in = fresh.login("xia@example.org", PASSWORD).await;
    assert_eq!(signed_in.status, 200, "{:?}", signed_in.body);
    assert_eq!(signed_in.body["enrol_second_factor"], true);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_address_window_holds_under_a_parallel_burst() {
    let (portal, clock) = start(&[("login_address_failures", "5")]).await;
    let stuffer = Client::new(&base(&portal), &clock);
    let attempts = (0..20).map(|index| {
        let stuffer = &stuffer;
        async move {
            stuffer
                .send(
                    "POST",
                    "/auth/login",
                    Some(json!({ "email": format!("user{index}@example.org"), "password": "a leaked password" })),
                )
                .await
        }
    });
    let replies = futures_join_all(attempts).await;
    let checked = replies.iter().filter(|reply| reply.status == 401).count();
    let throttled = replies.iter().filter(|reply| reply.status == 429).count();
    assert_eq!(checked + throttled, 20);
    assert!(
        checked <= 5,
        "at most the window's 5 passwords were checked: {checked}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn two_step_sign_in_works_past_the_free_attempts() {
    let (portal, clock) = start(&[("login_free_attempts", "3")]).await;
    let mut client = patient(&portal, &clock, "yan@example.org").await;
    assert_eq!(client.enrol_totp().await.status, 200);
    let mut device = Client::new(&base(&portal), &clock);
    for _ in 0..3 {
        assert_eq!(
            device
                .login("yan@example.org", "wrong password attempt")
                .await
                .status,
            401
        );
    }
    clock.advance(&base(&portal), 30).await;
    // First step: the password alone, as a sign-in page sends it.
    let step_one = device.login("yan@example.org", PASSWORD).await;
    assert_eq!(step_one.status, 401, "{:?}", step_one.body);
    assert_eq!(step_one.body["field"], "totp_code");
    // Second step, at once: the gate the first step passed is given back.
    device.totp = client.totp.clone();
    let step_two = device.login("yan@example.org", PASSWORD).await;
    assert_eq!(step_two.status, 200, "{:?}", step_two.body);
}

#[tokio::test(flavor = "multi_thread")]
async fn proofs_must_name_the_public_origin_and_come_alone() {
    let (portal, clock) = start(&[("public_origin", "https://portal.example.org")]).await;
    let mut client = Client::new(&base(&portal), &clock);
    client.proof_origin = Some("https://portal.example.org".to_owned());
    let registered = client
        .send(
            "POST",
            "/auth/register",
            Some(json!({ "email": "zed@example.org", "password": PASSWORD })),
        )
        .await;
    assert_eq!(registered.status, 202);
    assert_eq!(client.login("zed@example.org", PASSWORD).await.status, 200);
    assert_eq!(me_in_messaging(&client).await.status, 200);

    // A proof for the address the request really went to, with its Host header, is refused.
    let url = portal.url("/messages/me");
    let token = client.access_token.clone().expect("token");
    let local = client.key.proof("GET", &url, clock.now(), Some(&token));
    let reply = client
        .send_raw("GET", &url, None, Some(&token), Some(&local))
        .await;
    assert_eq!(reply.status, 401);

    // Two DPoP headers are refused, even if the first is valid.
    let good = client.key.proof(
        "GET",
        "https://portal.example.org/messages/me",
        clock.now(),
        Some(&token),
    );
    let other = client.key.proof(
        "GET",
        "https://portal.example.org/messages/me",
        clock.now(),
        Some(&token),
    );
    let response = reqwest::Client::new()
        .get(&url)
        .header("authorization", format!("DPoP {token}"))
        .header("dpop", good)
        .header("dpop", other)
        .send()
        .await
        .expect("reply");
    assert_eq!(response.status(), 401);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_invitation_refused_for_an_existing_address_stays_usable() {
    let secret = "bootstrap-secret-for-this-test-only";
    let (portal, clock) = start(&[("bootstrap_secret", secret)]).await;
    let admin = admin(&portal, &clock, secret).await;
    let _patient = patient(&portal, &clock, "amy@example.org").await;
    let invitation = admin
        .send(
            "POST",
            "/auth/invitations",
            Some(json!({ "email": "amy@example.org", "role": "clinician" })),
        )
        .await;
    let invite = invitation.body["invitation"]
        .as_str()
        .expect("invitation")
        .to_owned();
    let body = json!({ "invitation": invite, "password": PASSWORD });
    let guest = Client::new(&base(&portal), &clock);
    for _ in 0..2 {
        let reply = guest
            .send("POST", "/auth/invitations/accept", Some(body.clone()))
            .await;
        assert_eq!(reply.status, 409, "{:?}", reply.body);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_role_change_applies_everywhere_and_demands_a_second_factor() {
    let secret = "bootstrap-secret-for-this-test-only";
    let (portal, clock) = start(&[("bootstrap_secret", secret)]).await;
    let admin = admin(&portal, &clock, secret).await;
    let mut client = patient(&portal, &clock, "bea@example.org").await;
    let id = user_id(&client).await;
    let team = admin
        .send("POST", "/auth/care-teams", Some(json!({ "name": "Renal" })))
        .await;
    let team_id = team.body["id"].as_str().expect("team").to_owned();
    let assigned = admin
        .send(
            "PUT",
            &format!("/auth/care-teams/{team_id}/members/{id}"),
            None,
        )
        .await;
    assert_eq!(assigned.status, 200);
    assert_eq!(
        me_in_messaging(&client).await.body["care_teams"],
        json!([team_id])
    );

    let proxy = admin
        .send(
            "PUT",
            &format!("/auth/users/{id}/role"),
            Some(json!({ "role": "proxy" })),
        )
        .await;
    assert_eq!(proxy.status, 422);
    assert_eq!(proxy.body["field"], "role");
    let by_patient = client
        .send(
            "PUT",
            &format!("/auth/users/{id}/role"),
            Some(json!({ "role": "admin" })),
        )
        .await;
    assert_eq!(
        by_patient.status, 403,
        "a patient cannot promote themselves"
    );

    let changed = admin
        .send(
            "PUT",
            &format!("/auth/users/{id}/role"),
            Some(json!({ "role": "clinician" })),
        )
        .await;
    assert_eq!(changed.status, 204, "{:?}", changed.body);
    assert_eq!(
        me_in_messaging(&client).await.status,
        401,
        "sessions end at once"
    );

    // As a clinician without a second factor, the next session can only enrol one.
    let signed_in = client.login("bea@example.org", PASSWORD).await;
    assert_eq!(signed_in.status, 200);
    assert_eq!(signed_in.body["role"], "clinician");
    assert_eq!(signed_in.body["enrolment_only"], true);
    assert_eq!(me_in_messaging(&client).await.status, 401);
    assert_eq!(client.enrol_totp().await.status, 200);
    let me = me_in_messaging(&client).await;
    assert_eq!(me.status, 200);
    assert_eq!(me.body["role"], "clinician");
    // The patient assignment does not become clinician membership.
    assert_eq!(me.body["care_teams"], json!([]));
}

#[tokio::test(flavor = "multi_thread")]
async fn parallel_guesses_from_one_session_stop_at_five() {
    let (portal, clock) = start(&[]).await;
    let mut client = patient(&portal, &clock, "cal@example.org").await;
    assert_eq!(client.enrol_totp().await.status, 200);
    let right = client.totp_code();
    let wrong = if right == "000000" {
        "111111"
    } else {
        "000000"
    };
    let attempts = (0..20).map(|_| {
        let client = &client;
        async move {
            client
                .send("POST", "/auth/step-up", Some(json!({ "totp_code": wrong })))
                .await
        }
    });
    let replies = futures_join_all(attempts).await;
    assert!(replies.iter().all(|reply| reply.status == 401));
    let checked = replies
        .iter()
        .filter(|reply| {
            reply.body["detail"]
                .as_str()
                .unwrap_or_default()
                .contains("not correct")
        })
        .count();
    assert!(checked <= 5, "at most five codes were checked: {checked}");
    assert_eq!(me_in_messaging(&client).await.status, 401);
}

#[tokio::test(flavor = "multi_thread")]
async fn sign_ins_racing_a_password_change_do_not_survive_it() {
    let (portal, clock) = start(&[("login_address_failures", "1000")]).await;
    let owner = patient(&portal, &clock, "dan@example.org").await;
    let racers: Vec<Client> = (0..6)
        .map(|_| Client::new(&base(&portal), &clock))
        .collect();
    let sign_ins = racers.into_iter().map(|mut racer| async move {
        let reply = racer.login("dan@example.org", PASSWORD).await;
        (racer, reply.status)
    });
    let change = owner.send(
        "POST",
        "/auth/password",
        Some(json!({ "current_password": PASSWORD, "new_password": "a brand new passphrase" })),
    );
    let (results, changed) = tokio::join!(futures_join_all(sign_ins), change);
    assert_eq!(changed.status, 204, "{:?}", changed.body);
    for (racer, status) in results {
        if status == 200 {
            assert_eq!(
                me_in_messaging(&racer).await.status,
                401,
                "a racing session survived"
            );
        }
    }
    assert_eq!(
        me_in_messaging(&owner).await.status,
        200,
        "the changing session goes on"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_changes_need_a_recent_second_factor_and_only_the_newest_reset_works() {
    let secret = "bootstrap-secret-for-this-test-only";
    let (portal, clock) = start(&[("bootstrap_secret", secret)]).await;
    let mut admin = admin(&portal, &clock, secret).await;
    let client = patient(&portal, &clock, "eli@example.org").await;
    let id = user_id(&client).await;

    let first = admin
        .send("POST", &format!("/auth/users/{id}/password-reset"), None)
        .await;
    let second = admin
        .send("POST", &format!("/auth/users/{id}/password-reset"), None)
        .await;
    let first = first.body["reset_token"]
        .as_str()
        .expect("token")
        .to_owned();
    let second = second.body["reset_token"]
        .as_str()
        .expect("token")
        .to_owned();
    let stale = client
        .send(
            "POST",
            "/auth/password/reset",
            Some(json!({ "reset_token": first, "new_password": "a brand new passphrase" })),
        )
        .await;
    assert_eq!(stale.status, 422, "an older reset is void");
    let newest = client
        .send(
            "POST",
            "/auth/password/reset",
            Some(json!({ "reset_token": second, "new_password": "a brand new passphrase" })),
        )
        .await;
    assert_eq!(newest.status, 204);

    clock.advance(&base(&portal), 11 * 60).await;
    assert_eq!(admin.refresh().await.status, 200);
    let invite = admin
        .send(
            "POST",
            "/auth/invitations",
            Some(json!({ "email": "new@example.org", "role": "admin" })),
        )
        .await;
    assert_eq!(invite.status, 401);
    assert_eq!(invite.problem_type(), "step-up-required");
    let code = admin.totp_code();
    let stepped = admin
        .send("POST", "/auth/step-up", Some(json!({ "totp_code": code })))
        .await;
    assert_eq!(stepped.status, 200);
    admin.keep_tokens(&stepped);
    let invite = admin
        .send(
            "POST",
            "/auth/invitations",
            Some(json!({ "email": "new@example.org", "role": "admin" })),
        )
        .await;
    assert_eq!(invite.status, 201);
}

#[tokio::test(flavor = "multi_thread")]
async fn registration_is_limited_per_address() {
    let (portal, clock) = start(&[("register_address_limit", "2")]).await;
    let client = Client::new(&base(&portal), &clock);
    for email in ["fox@example.org", "gil@example.org"] {
        let reply = client
            .send(
                "POST",
                "/auth/register",
                Some(json!({ "email": email, "password": PASSWORD })),
            )
            .await;
        assert_eq!(reply.status, 202, "{:?}", reply.body);
    }
    let third = client
        .send(
            "POST",
            "/auth/register",
            Some(json!({ "email": "hub@example.org", "password": PASSWORD })),
        )
        .await;
    assert_eq!(third.status, 429);
    assert!(third.headers.contains_key("retry-after"));

    clock.advance(&base(&portal), 16 * 60).await;
    let later = client
        .send(
            "POST",
            "/auth/register",
            Some(json!({ "email": "hub@example.org", "password": PASSWORD })),
        )
        .await;
    assert_eq!(later.status, 202, "a new window allows it again");
}
