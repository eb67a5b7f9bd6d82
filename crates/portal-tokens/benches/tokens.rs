//! Access token verification and DPoP proof verification per second.
//!
//! Run with `cargo bench -p portal-tokens --bench tokens`.

#![expect(
    clippy::expect_used,
    reason = "a benchmark stops on a setup error by panicking"
)]

use std::hint::black_box;
use std::time::Duration;

use base64ct::{Base64UrlUnpadded, Encoding};
use criterion::{Criterion, criterion_group, criterion_main};
use p256::ecdsa::signature::Signer;
use portal_policy::{Role, SessionId, UserId};
use portal_tokens::{
    AccessGrant, DpopPolicy, DpopRequest, KeySet, PublicJwk, ReplayGuard, SigningKey, TokenIssuer,
    TokenVerifier, access_token_hash, verify_dpop_proof,
};
use serde_json::json;

const ISSUER: &str = "https://portal.example.org/auth";
const NOW: i64 = 1_773_144_000;
const URL: &str = "https://portal.example.org/api/messages/threads";

/// Accepts every proof, so the benchmark measures verification and not the store.
struct NoReplayStore;

impl ReplayGuard for NoReplayStore {
    fn first_use(&self, _key: &str, _expires_at: i64, _now: i64) -> Result<bool, String> {
        Ok(true)
    }
}

fn b64(bytes: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(bytes)
}

fn tokens(c: &mut Criterion) {
    let client = p256::ecdsa::SigningKey::from_slice(&[7; 32]).expect("valid P-256 scalar");
    let point = client.verifying_key().to_sec1_point(false);
    let jwk = json!({
        "kty": "EC",
        "crv": "P-256",
        "x": b64(&point.as_bytes()[1..33]),
        "y": b64(&point.as_bytes()[33..65]),
    });
    let jkt = PublicJwk::from_json(&jwk).expect("valid JWK").thumbprint();

    let signing = SigningKey::from_seed("k1", &[1; 32]).expect("valid key");
    let mut keys = KeySet::new();
    keys.insert(&signing.verifying_key()).expect("key fits");
    let verifier = TokenVerifier::new(ISSUER, keys);
    let grant = AccessGrant {
        user: UserId::new("user-1").expect("valid id"),
        role: Role::Patient,
        session: SessionId::new("session-1").expect("valid id"),
        amr: vec!["pwd".into(), "otp".into(), "mfa".into()],
        auth_time: NOW,
        acr: "urn:portal:acr:mfa".into(),
        dpop_jkt: jkt,
        on_behalf_of: None,
    };
    let token = TokenIssuer::new(ISSUER, signing)
        .issue_access(&grant, NOW)
        .expect("token issues");

    let header = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": jwk});
    let claims = json!({
        "jti": "benchmark-proof-0001",
        "htm": "GET",
        "htu": URL,
        "iat": NOW,
        "ath": access_token_hash(&token),
    });
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let signature: p256::ecdsa::Signature = client.sign(input.as_bytes());
    let proof = format!("{input}.{}", b64(&signature.to_bytes()));
    let request = DpopRequest {
        access_token: Some(&token),
        ..DpopRequest::new("GET", URL)
    };
    let policy = DpopPolicy::default();

    let mut group = c.benchmark_group("tokens");
    group.bench_function("verify_access_eddsa", |b| {
        b.iter(|| verifier.verify_access(black_box(&token), NOW))
    });
    group.bench_function("verify_dpop_proof_es256", |b| {
        b.iter(|| verify_dpop_proof(black_box(&proof), &request, NOW, &policy, &NoReplayStore))
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = tokens
}
criterion_main!(benches);
