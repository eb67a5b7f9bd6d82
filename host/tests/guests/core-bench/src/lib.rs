//! Benchmark guest: times envelope encryption and token verification inside the component,
//! with the guest's monotonic clock, and returns the figures as JSON.
//!
//! `GET /bench/encrypt?size=1024&n=2000`, `/bench/decrypt?...`, `/bench/verify?n=500`.

use std::hint::black_box;
use std::time::Instant;

use bytes::Bytes;
use portal_crypto::{
    Domain, DomainKeys, InMemoryCounter, KeyRing, RecordBinding, SecretKey, TenantId,
};
use portal_policy::{Role, SessionId, UserId};
use portal_tokens::{AccessGrant, KeySet, SigningKey, TokenIssuer, TokenVerifier};
use spin_sdk::http::{FullBody, IntoResponse, Request};
use spin_sdk::http_service;

const ISSUER: &str = "https://portal.example.org/auth";

type Response = http::Response<FullBody<Bytes>>;

fn reply(status: u16, body: String) -> Response {
    let mut response = http::Response::new(FullBody::new(Bytes::from(body)));
    *response.status_mut() = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::OK);
    response
}

fn query(request: &Request, name: &str) -> Option<usize> {
    request
        .uri()
        .query()?
        .split('&')
        .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))?
        .parse()
        .ok()
}

#[http_service]
async fn handle(request: Request) -> impl IntoResponse {
    let path = request
        .headers()
        .get("spin-path-info")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let size = query(&request, "size").unwrap_or(1024);
    let count = query(&request, "n").unwrap_or(1000).max(1);
    let result = match path.as_str() {
        "/encrypt" => envelope(size, count, false),
        "/decrypt" => envelope(size, count, true),
        "/verify" => verify(count),
        other => Err(format!("no benchmark at {other}")),
    };
    match result {
        Ok(report) => reply(200, report.to_string()),
        Err(message) => reply(500, message),
    }
}

fn ring() -> Result<(KeyRing, RecordBinding), String> {
    let tenant = TenantId::new("acme").map_err(|e| e.to_string())?;
    let keys = DomainKeys::new(
        tenant.clone(),
        Domain::Messaging,
        1,
        1,
        [(1, SecretKey::from_bytes([7; 32]))],
    )
    .map_err(|e| e.to_string())?;
    let mut ring = KeyRing::new();
    ring.insert(keys);
    let binding = RecordBinding::new(tenant, Domain::Messaging, "message", "msg-0001")
        .map_err(|e| e.to_string())?;
    Ok((ring, binding))
}

fn envelope(size: usize, count: usize, decrypt: bool) -> Result<serde_json::Value, String> {
    let (ring, binding) = ring()?;
    let counter = InMemoryCounter::new();
    let plaintext = vec![0x5A; size];
    let sealed = ring
        .encrypt(&counter, &binding, &plaintext)
        .map_err(|e| e.to_string())?;

    let started = Instant::now();
    for _ in 0..count {
        if decrypt {
            black_box(
                ring.decrypt(&binding, black_box(&sealed))
                    .map_err(|e| e.to_string())?,
            );
        } else {
            black_box(
                ring.encrypt(&counter, &binding, black_box(&plaintext))
                    .map_err(|e| e.to_string())?,
            );
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    Ok(serde_json::json!({
        "operation": if decrypt { "decrypt" } else { "encrypt" },
        "size_bytes": size,
        "iterations": count,
        "microseconds_per_call": seconds * 1e6 / count as f64,
        "mib_per_second": (size * count) as f64 / seconds / (1024.0 * 1024.0),
    }))
}

fn verify(count: usize) -> Result<serde_json::Value, String> {
    let signing = SigningKey::from_seed("k1", &[1; 32]).map_err(|e| e.to_string())?;
    let mut keys = KeySet::new();
    keys.insert(&signing.verifying_key())
        .map_err(|e| e.to_string())?;
    let verifier = TokenVerifier::new(ISSUER, keys);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default();
    let grant = AccessGrant {
        user: UserId::new("user-1").map_err(|e| e.to_string())?,
        role: Role::Patient,
        session: SessionId::new("session-1").map_err(|e| e.to_string())?,
        amr: vec!["pwd".into(), "otp".into(), "mfa".into()],
        auth_time: now,
        acr: "urn:portal:acr:mfa".into(),
        dpop_jkt: "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I".into(),
        on_behalf_of: None,
    };
    let token = TokenIssuer::new(ISSUER, signing)
        .issue_access(&grant, now)
        .map_err(|e| e.to_string())?;

    let started = Instant::now();
    for _ in 0..count {
        black_box(
            verifier
                .verify_access(black_box(&token), now)
                .map_err(|e| e.to_string())?,
        );
    }
    let seconds = started.elapsed().as_secs_f64();
    Ok(serde_json::json!({
        "operation": "verify_access_token",
        "iterations": count,
        "microseconds_per_call": seconds * 1e6 / count as f64,
        "per_second": count as f64 / seconds,
    }))
}
