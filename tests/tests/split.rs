//! The audit component deployed as an app of its own, in a host process of its own, and the
//! other components in another: they reach each other's private roles over HTTPS on the
//! `/internal/...` routes, each call carrying a service token, and nothing else gets in.
#![expect(
    clippy::expect_used,
    reason = "a test reports a missing value by panicking"
)]

use base64ct::{Base64, Encoding};
use portal_audit::{AuditAction, AuditActor, AuditEvent, Component, Entity, EntityType, Outcome};
use portal_e2e::client::{Client, Clock};
use portal_e2e::process::{Certificate, HostProcess, Launch, free_port, runtime_config};
use portal_policy::{PurposeOfUse, RequestId, Role, UserId};
use portal_tokens::{SigningKey, TokenIssuer};
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery staple";
const REST_SEED: [u8; 32] = [7; 32];
const AUDIT_SEED: [u8; 32] = [9; 32];

fn jwks(kid: &str, seed: &[u8; 32]) -> String {
    let key = SigningKey::from_seed(kid, seed).expect("service key");
    json!({ "keys": [key.verifying_key().to_jwk()] }).to_string()
}

fn service_token(seed: &[u8; 32], receiver: &str, request: &str, now: i64) -> String {
    signed_as(seed, "rest-1", "messaging", receiver, request, now)
}

fn signed_as(
    seed: &[u8; 32],
    kid: &str,
    caller: &str,
    receiver: &str,
    request: &str,
    now: i64,
) -> String {
    let key = SigningKey::from_seed(kid, seed).expect("service key");
    TokenIssuer::new(portal_tokens::SERVICE_ISSUER, key)
        .issue_service(caller, receiver, request, now)
        .expect("service token")
}

fn event() -> String {
    AuditEvent {
        actor: AuditActor::User {
            id: UserId::new("user-clinician").expect("user id"),
            role: Role::Clinician,
        },
        on_behalf_of: None,
        action: AuditAction::SignIn,
        entity: Entity {
            kind: EntityType::Session,
            id: "session-1".into(),
        },
        patient: None,
        outcome: Outcome::Success,
        claimed_time_ms: 1_764_000_000_000,
        source_address: None,
        purpose: PurposeOfUse::Operations,
        component: Component::Auth,
        request_id: RequestId::new("req-split").expect("request id"),
        reason: None,
        justification: None,
    }
    .to_json()
    .expect("event JSON")
}

/// Returns the tree size of the audit app's current checkpoint.
async fn tree_size(client: &Client) -> u64 {
    let (status, checkpoint) = client.send_text("/audit/checkpoint").await;
    assert_eq!(status, 200, "{checkpoint}");
    checkpoint
        .lines()
        .nth(1)
        .and_then(|line| line.parse().ok())
        .expect("tree size")
}

fn client_tls(components: &[&str], port: u16, certificate: &Certificate) -> String {
    format!(
        "[[client_tls]]\ncomponent_ids = {components:?}\nhosts = [\"localhost:{port}\"]\n\
         ca_roots_file = {:?}\nca_use_webpki_roots = false\n",
        certificate.cert.display().to_string()
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn audit_app_admits_only_service_tokens() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let audit_port = free_port();
    let rest_port = std::iter::repeat_with(free_port)
        .find(|port| *port != audit_port)
        .expect("a second port");
    let audit_cert = Certificate::localhost(dir.path(), "audit");
    let rest_cert = Certificate::localhost(dir.path(), "rest");
    let audit_origin = format!("https://localhost:{audit_port}");
    let rest_origin = format!("https://localhost:{rest_port}");

    // The audit app: the public audit routes, the ingest role for itself and for other apps,
    // and scheduled checkpoints. It checks sessions with the other app's auth.
    let audit_config = runtime_config(
        &dir.path().join("audit.toml"),
        &[
            ("auth_url", &format!("{rest_origin}/internal/auth-session")),
            ("auth_origin", &rest_origin),
            ("service_token_kid", "audit-1"),
            ("service_token_key", &Base64::encode_string(&AUDIT_SEED)),
            (
                "service_token_keys_audit_ingest",
                &jwks("rest-1", &REST_SEED),
            ),
        ],
        None,
        &client_tls(&["audit"], rest_port, &rest_cert),
    );
    let audit = HostProcess::start(&Launch {
        port: audit_port,
        runtime_config: audit_config,
        state_dir: dir.path().join("audit-state"),
        tls: Some((audit_cert.cert.clone(), audit_cert.key.clone())),
        components: [
            "audit",
            "audit-ingest",
            "audit-ingest-remote",
            "audit-checkpoint",
        ]
        .map(str::to_owned)
        .to_vec(),
        args: Vec::new(),
    });

    // Everything else, recording audit events in the audit app.
    let rest_config = runtime_config(
        &dir.path().join("rest.toml"),
        &[
            (
                "audit_url",
                &format!("{audit_origin}/internal/audit-ingest"),
            ),
            ("audit_origin", &audit_origin),
            ("service_token_kid", "rest-1"),
            ("service_token_key", &Base64::encode_string(&REST_SEED)),
            (
                "service_token_keys_auth_session",
                &jwks("audit-1", &AUDIT_SEED),
            ),
        ],
        None,
        &client_tls(
            &["auth", "messaging", "uploads", "uploads-internal"],
            audit_port,
            &audit_cert,
        ),
    );
    let rest = HostProcess::start(&Launch {
        port: rest_port,
        runtime_config: rest_config,
        state_dir: dir.path().join("rest-state"),
        tls: Some((rest_cert.cert.clone(), rest_cert.key.clone())),
        components: [
            "auth",
            "auth-session",
            "auth-session-remote",
            "auth-notify",
            "messaging",
            "uploads",
            "uploads-internal",
        ]
        .map(str::to_owned)
        .to_vec(),
        args: Vec::new(),
    });

    let http = reqwest::Client::builder()
        .add_root_certificate(
            reqwest::Certificate::from_pem(audit_cert.pem.as_bytes()).expect("PEM"),
        )
        .add_root_certificate(
            reqwest::Certificate::from_pem(rest_cert.pem.as_bytes()).expect("PEM"),
        )
        .build()
        .expect("HTTPS client");
    let clock = Clock::with_http(http.clone());

    // A patient signs up and in at the other app; auth records both in the audit app.
    let mut patient = Client::new(&rest.origin, &clock);
    let registered = patient
        .send(
            "POST",
            "/auth/register",
            Some(json!({ "email": "pat@example.org", "password": PASSWORD })),
        )
        .await;
    assert_eq!(
        registered.status,
        202,
        "{:?}\n{}",
        registered.body,
        audit.log()
    );
    let signed_in = patient.login("pat@example.org", PASSWORD).await;
    assert_eq!(
        signed_in.status,
        200,
        "{:?}\n{}",
        signed_in.body,
        audit.log()
    );

    // The audit app authenticates the patient by asking the other app's auth about the
    // session, and its log contains the two events.
    patient.base = audit.origin.clone();
    let events = patient.send("GET", "/audit/events", None).await;
    assert_eq!(events.status, 200, "{:?}\n{}", events.body, rest.log());
    let size_before = tree_size(&patient).await;
    assert!(size_before >= 2, "{size_before}");

    // Each app serves only its own components.
    assert_eq!(
        patient.send("GET", "/messages/threads", None).await.status,
        404
    );
    patient.base = rest.origin.clone();
    assert_eq!(patient.send("GET", "/audit/events", None).await.status, 404);

    // The ingest route for other apps admits only a valid service token for this call.
    let ingest = format!("{audit_origin}/internal/audit-ingest/ingest");
    let now = clock.now();
    let post = |token: Option<String>| {
        let mut request = http
            .post(&ingest)
            .header("content-type", "application/json")
            .body(event());
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        request.send()
    };
    let status_of = |response: reqwest::Result<reqwest::Response>| {
        response.expect("audit app reachable").status().as_u16()
    };
    let cases: [(&str, Option<String>); 7] = [
        ("no token", None),
        (
            "key of an app this receiver does not trust",
            Some(signed_as(
                &AUDIT_SEED,
                "audit-1",
                "messaging",
                "audit-ingest",
                "POST /ingest",
                now,
            )),
        ),
        (
            "unknown key",
            Some(service_token(&[1; 32], "audit-ingest", "POST /ingest", now)),
        ),
        (
            "other audience",
            Some(service_token(
                &REST_SEED,
                "auth-session",
                "POST /ingest",
                now,
            )),
        ),
        (
            "other request",
            Some(service_token(
                &REST_SEED,
                "audit-ingest",
                "POST /ingest/batch",
                now,
            )),
        ),
        (
            "expired",
            Some(service_token(
                &REST_SEED,
                "audit-ingest",
                "POST /ingest",
                now - 600,
            )),
        ),
        (
            "not yet valid",
            Some(service_token(
                &REST_SEED,
                "audit-ingest",
                "POST /ingest",
                now + 600,
            )),
        ),
    ];
    for (case, token) in cases {
        let response = post(token).await.expect("audit app reachable");
        assert_eq!(response.status().as_u16(), 401, "{case}");
        let problem: Value = response.json().await.expect("problem JSON");
        assert_eq!(problem["status"], 401, "{case}: {problem}");
    }
    // A trusted key, but a component that never calls the audit log's ingest.
    let stranger = signed_as(
        &REST_SEED,
        "rest-1",
        "sanitizer",
        "audit-ingest",
        "POST /ingest",
        now,
    );
    assert_eq!(status_of(post(Some(stranger)).await), 403);

    // A valid token is accepted once.
    let valid = service_token(&REST_SEED, "audit-ingest", "POST /ingest", now);
    assert_eq!(status_of(post(Some(valid.clone())).await), 201);
    assert_eq!(status_of(post(Some(valid)).await), 401, "replayed token");
    patient.base = audit.origin.clone();
    assert_eq!(
        tree_size(&patient).await,
        size_before + 1,
        "only the valid call appended"
    );

    // The other direction: auth's session route for other apps rejects calls without a token.
    let session = http
        .get(format!(
            "{rest_origin}/internal/auth-session/session/whatever"
        ))
        .send()
        .await;
    assert_eq!(status_of(session), 401);

    // Without the audit app, the other app rejects actions it cannot record.
    audit.stop();
    let mut again = Client::new(&rest.origin, &clock);
    assert_eq!(again.login("pat@example.org", PASSWORD).await.status, 503);
}
