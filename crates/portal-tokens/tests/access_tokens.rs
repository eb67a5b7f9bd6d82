//! Access, service and download tokens: round trips and the attack table.

#![expect(
    clippy::unwrap_used,
    reason = "a test reports an unexpected error by panicking"
)]

mod common;

use common::{
    ClientKey, ISSUER, NOW, access_claims, access_grant, access_header, compact, issuer,
    sign_with_issuer_key, signing_key, verifier,
};
use jwt_simple::prelude::{HS256Key, HeaderOptions, JWTClaims, MACLike, NoCustomClaims};
use portal_policy::{FileId, SessionId, UserId};
use portal_tokens::{
    DownloadGrant, KeySet, SigningKey, TokenError, TokenVerifier, service_audience,
};
use serde_json::{Value, json};

fn jkt() -> String {
    ClientKey::es256(7).thumbprint()
}

fn verify(token: &str) -> Result<(), TokenError> {
    verifier().verify_access(token, NOW).map(drop)
}

fn forged(header: Value, claims: Value) -> String {
    sign_with_issuer_key(&header, &claims)
}

fn with(mut claims: Value, name: &str, value: Value) -> Value {
    claims[name] = value;
    claims
}

fn without(mut claims: Value, name: &str) -> Value {
    claims.as_object_mut().unwrap().remove(name);
    claims
}

#[test]
fn issued_access_token_verifies() {
    let token = issuer().issue_access(&access_grant(&jkt()), NOW).unwrap();
    assert!(verifier().verify_access(&token, NOW).is_ok());
}

#[test]
fn hand_built_valid_token_verifies() {
    // The attack table below changes one thing at a time from this token.
    let token = forged(access_header(), access_claims(&jkt()));
    assert_eq!(verify(&token), Ok(()));
}

#[test]
fn alg_none_is_rejected() {
    let header = json!({"alg": "none", "typ": "at+jwt", "kid": "k1"});
    let token = compact(&header, &access_claims(&jkt()), |_| Vec::new());
    assert_eq!(verify(&token), Err(TokenError::AlgorithmNotAllowed));
}

#[test]
fn es256_header_is_rejected() {
    let header = json!({"alg": "ES256", "typ": "at+jwt", "kid": "k1"});
    let attacker = ClientKey::es256(3);
    let token = compact(&header, &access_claims(&jkt()), |input| {
        attacker.sign(input)
    });
    assert_eq!(verify(&token), Err(TokenError::AlgorithmNotAllowed));
}

#[test]
fn ed25519_algorithm_alias_is_rejected() {
    let header = json!({"alg": "Ed25519", "typ": "at+jwt", "kid": "k1"});
    let token = forged(header, access_claims(&jkt()));
    assert_eq!(verify(&token), Err(TokenError::AlgorithmNotAllowed));
}

#[test]
fn hs256_signed_with_public_key_is_rejected() {
    let public_key = ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::new([1; 32])).pk;
    let hmac_key = HS256Key::from_bytes(&public_key[..]).with_key_id("k1");
    let claims: JWTClaims<NoCustomClaims> = serde_json::from_value(access_claims(&jkt())).unwrap();
    let options = HeaderOptions {
        signature_type: Some("at+jwt".into()),
        content_type: None,
    };
    let token = hmac_key
        .authenticate_with_options(claims, &options)
        .unwrap();

    assert_eq!(verify(&token), Err(TokenError::AlgorithmNotAllowed));
}

#[test]
fn unknown_kid_is_rejected() {
    let header = json!({"alg": "EdDSA", "typ": "at+jwt", "kid": "k9"});
    assert_eq!(
        verify(&forged(header, access_claims(&jkt()))),
        Err(TokenError::UnknownKeyId)
    );
}

#[test]
fn missing_kid_is_rejected() {
    let header = json!({"alg": "EdDSA", "typ": "at+jwt"});
    assert_eq!(
        verify(&forged(header, access_claims(&jkt()))),
        Err(TokenError::MissingKeyId)
    );
}

#[test]
fn token_signed_by_another_key_is_rejected() {
    let other = ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::new([2; 32]));
    let token = compact(&access_header(), &access_claims(&jkt()), |input| {
        other.sk.sign(input, None).to_vec()
    });
    assert_eq!(verify(&token), Err(TokenError::BadSignature));
}

#[test]
fn expired_token_is_rejected() {
    let token = issuer().issue_access(&access_grant(&jkt()), NOW).unwrap();
    let late = NOW + 900 + 31;
    assert_eq!(
        verifier().verify_access(&token, late).map(drop),
        Err(TokenError::Expired)
    );
}

#[test]
fn expiry_within_leeway_is_accepted() {
    let token = issuer().issue_access(&access_grant(&jkt()), NOW).unwrap();
    assert!(verifier().verify_access(&token, NOW + 900 + 30).is_ok());
}

#[test]
fn not_yet_valid_token_is_rejected() {
    let claims = with(access_claims(&jkt()), "nbf", json!(NOW + 120));
    assert_eq!(
        verify(&forged(access_header(), claims)),
        Err(TokenError::NotYetValid)
    );
}

#[test]
fn token_issued_in_future_is_rejected() {
    let token = issuer()
        .issue_access(&access_grant(&jkt()), NOW + 120)
        .unwrap();
    let result = verifier().verify_access(&token, NOW).map(drop);
    assert_eq!(result, Err(TokenError::IssuedInFuture));
}

#[test]
fn overlong_lifetime_is_rejected() {
    let claims = with(access_claims(&jkt()), "exp", json!(NOW + 3_600));
    assert_eq!(
        verify(&forged(access_header(), claims)),
        Err(TokenError::LifetimeTooLong)
    );
}

#[test]
fn wrong_audience_is_rejected() {
    let claims = with(access_claims(&jkt()), "aud", json!("urn:portal:download"));
    assert_eq!(
        verify(&forged(access_header(), claims)),
        Err(TokenError::WrongAudience)
    );
}

#[test]
fn missing_audience_is_rejected() {
    let claims = without(access_claims(&jkt()), "aud");
    assert_eq!(
        verify(&forged(access_header(), claims)),
        Err(TokenError::WrongAudience)
    );
}

#[test]
fn wrong_issuer_is_rejected() {
    let claims = with(
        access_claims(&jkt()),
        "iss",
        json!("https://attacker.example/auth"),
    );
    assert_eq!(
        verify(&forged(access_header(), claims)),
        Err(TokenError::WrongIssuer)
    );
}

#[test]
fn tampered_payload_is_rejected() {
    let token = issuer().issue_access(&access_grant(&jkt()), NOW).unwrap();
    let mut parts: Vec<&str> = token.split('.').collect();
    let tampered_claims = with(access_claims(&jkt()), "role", json!("admin"));
    let payload = common::b64(tampered_claims.to_string().as_bytes());
    parts[1] = &payload;

    assert_eq!(verify(&parts.join(".")), Err(TokenError::BadSignature));
}

#[test]
fn missing_required_claims_are_rejected() {
    let cases = [
        ("sub", TokenError::MissingClaim { claim: "sub" }),
        ("exp", TokenError::MissingClaim { claim: "exp" }),
        ("iat", TokenError::MissingClaim { claim: "iat" }),
        ("role", TokenError::MissingClaim { claim: "role" }),
        ("sid", TokenError::MissingClaim { claim: "sid" }),
        ("amr", TokenError::MissingClaim { claim: "amr" }),
        ("auth_time", TokenError::MissingClaim { claim: "auth_time" }),
        ("acr", TokenError::MissingClaim { claim: "acr" }),
        ("iss", TokenError::WrongIssuer),
    ];
    for (claim, expected) in cases {
        let token = forged(access_header(), without(access_claims(&jkt()), claim));
        assert_eq!(verify(&token), Err(expected), "without {claim}");
    }
}

#[test]
fn invalid_claim_values_are_rejected() {
    let unknown_role = with(access_claims(&jkt()), "role", json!("superuser"));
    assert_eq!(
        verify(&forged(access_header(), unknown_role)),
        Err(TokenError::InvalidClaim { claim: "claims" })
    );
    let email_subject = with(access_claims(&jkt()), "sub", json!("jane@example.com"));
    assert_eq!(
        verify(&forged(access_header(), email_subject)),
        Err(TokenError::InvalidClaim { claim: "sub" })
    );
}

#[test]
fn wrong_typ_is_rejected() {
    for typ in [json!("JWT"), json!("download+jwt"), Value::Null] {
        let mut header = access_header();
        header["typ"] = typ.clone();
        assert_eq!(
            verify(&forged(header, access_claims(&jkt()))),
            Err(TokenError::WrongType),
            "{typ}"
        );
    }
}

#[test]
fn malformed_tokens_are_rejected() {
    for token in ["", "abc", "a.b", "a.b.c.d", "!!!.e30.AA"] {
        assert_eq!(verify(token), Err(TokenError::Malformed), "{token:?}");
    }
}

#[test]
fn oversized_token_is_rejected() {
    let token = "a".repeat(portal_tokens::MAX_TOKEN_LEN + 1);
    assert_eq!(verify(&token), Err(TokenError::TooLong));
}

#[test]
fn download_link_cannot_act_as_login() {
    let grant = DownloadGrant {
        user: UserId::new("user-1").unwrap(),
        file: FileId::new("file-1").unwrap(),
        session: SessionId::new("session-1").unwrap(),
        on_behalf_of: None,
    };
    let link = issuer().issue_download_link(&grant, NOW).unwrap();

    assert_eq!(verify(&link), Err(TokenError::WrongType));
    let verified = verifier().verify_download_link(&link, NOW).unwrap();
    assert_eq!(verified.grant, grant);
}

#[test]
fn access_token_cannot_act_as_download_link() {
    let token = issuer().issue_access(&access_grant(&jkt()), NOW).unwrap();
    let result = verifier().verify_download_link(&token, NOW);
    assert_eq!(result.unwrap_err(), TokenError::WrongType);
}

#[test]
fn download_link_with_forged_type_still_fails_audience() {
    // Even with the access `typ`, a download link's audience does not match.
    let claims = json!({
        "iss": ISSUER, "sub": "user-1", "aud": "urn:portal:download",
        "iat": NOW, "exp": NOW + 300, "jti": "link-1",
        "file": "file-1", "sid": "session-1",
    });
    assert_eq!(
        verify(&forged(access_header(), claims)),
        Err(TokenError::WrongAudience)
    );
}

#[test]
fn service_token_verifies_only_for_its_receiver() {
    let token = issuer()
        .issue_service("uploads", "audit", "POST /ingest", NOW)
        .unwrap();

    let verified = verifier().verify_service(&token, "audit", NOW).unwrap();
    assert_eq!(verified.caller, "uploads");
    assert_eq!(verified.request, "POST /ingest");
    let other = verifier().verify_service(&token, "messaging", NOW);
    assert_eq!(other.unwrap_err(), TokenError::WrongAudience);
    assert_eq!(verify(&token), Err(TokenError::WrongType));
}

#[test]
fn service_token_expires_after_a_minute() {
    let token = issuer()
        .issue_service("uploads", "audit", "POST /ingest", NOW)
        .unwrap();
    let result = verifier().verify_service(&token, "audit", NOW + 60 + 31);
    assert_eq!(result.unwrap_err(), TokenError::Expired);
    assert_eq!(service_audience("audit"), "urn:portal:service:audit");
}

#[test]
fn service_token_without_its_request_is_refused() {
    let claims = json!({
        "iss": ISSUER, "sub": "uploads", "aud": "urn:portal:service:audit",
        "iat": NOW, "nbf": NOW, "exp": NOW + 60, "jti": "service-1",
    });
    let header = json!({ "alg": "EdDSA", "typ": "service+jwt", "kid": "k1" });
    let result = verifier().verify_service(&forged(header, claims), "audit", NOW);
    assert_eq!(
        result.unwrap_err(),
        TokenError::MissingClaim { claim: "req" }
    );
}

#[test]
fn rotated_key_is_selected_by_kid() {
    let old = SigningKey::from_seed("2026-01", &[4; 32]).unwrap();
    let new = SigningKey::from_seed("2026-03", &[5; 32]).unwrap();
    let mut keys = KeySet::new();
    keys.insert(&old.verifying_key()).unwrap();
    keys.insert(&new.verifying_key()).unwrap();
    let verifier = TokenVerifier::new(ISSUER, keys);

    for key in [old, new] {
        let token = portal_tokens::TokenIssuer::new(ISSUER, key)
            .issue_access(&access_grant(&jkt()), NOW)
            .unwrap();
        assert!(verifier.verify_access(&token, NOW).is_ok());
    }
}

#[test]
fn key_set_loads_from_jwks() {
    let jwk = signing_key().verifying_key().to_jwk();
    let jwks = json!({"keys": [jwk]}).to_string();
    let keys = KeySet::from_jwks_json(&jwks).unwrap();
    assert_eq!(keys.len(), 1);

    let token = issuer().issue_access(&access_grant(&jkt()), NOW).unwrap();
    assert!(
        TokenVerifier::new(ISSUER, keys)
            .verify_access(&token, NOW)
            .is_ok()
    );
}

#[test]
fn jwks_with_private_key_is_rejected() {
    let mut jwk = signing_key().verifying_key().to_jwk();
    jwk["d"] = json!("AAAA");
    let jwks = json!({"keys": [jwk]}).to_string();
    assert!(matches!(
        KeySet::from_jwks_json(&jwks),
        Err(TokenError::InvalidKey { .. })
    ));
}

#[test]
fn signing_key_loads_from_base64_seed() {
    let key =
        SigningKey::from_seed_base64("k1", "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=").unwrap();
    assert_eq!(key.verifying_key(), signing_key().verifying_key());
    assert!(SigningKey::from_seed_base64("k1", "AQEB").is_err());
    assert!(SigningKey::from_seed("bad kid", &[1; 32]).is_err());
}

#[test]
fn debug_output_shows_no_key_material() {
    let printed = format!("{:?}", signing_key());
    assert_eq!(
        printed,
        r#"SigningKey { kid: "k1", algorithm: "EdDSA", .. }"#
    );
    let issuer = format!("{:?}", issuer());
    assert!(!issuer.contains("[1, 1"));
}

#[test]
fn pending_access_debug_hides_token() {
    let token = issuer().issue_access(&access_grant(&jkt()), NOW).unwrap();
    let pending = verifier().verify_access(&token, NOW).unwrap();
    let printed = format!("{pending:?}");

    assert!(!printed.contains(&token[..20]), "{printed}");
    assert!(printed.contains("user-1"));
}

#[test]
fn dpop_request_debug_hides_token() {
    let request = portal_tokens::DpopRequest {
        access_token: Some("secret.token.value"),
        ..portal_tokens::DpopRequest::new("GET", common::URL)
    };
    let printed = format!("{request:?}");
    assert!(!printed.contains("secret.token.value"), "{printed}");
}
