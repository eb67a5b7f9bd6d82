//! DPoP proofs (RFC 9449): valid proofs, each rejected variation, and binding to access
//! tokens.

#![expect(
    clippy::unwrap_used,
    reason = "a test reports an unexpected error by panicking"
)]

mod common;

use common::{
    ClientKey, NOW, URL, access_claims, access_grant, access_header, compact, issuer, proof,
    proof_claims, proof_header, sign_with_issuer_key, verifier,
};
use portal_tokens::{
    DpopError, DpopPolicy, DpopRequest, InMemoryReplayGuard, VerifiedProof, jwk_thumbprint,
    verify_dpop_proof,
};
use serde_json::{Value, json};

const JTI: &str = "c3f1b0a2-9d4e-4f6a-8b7c";
const ACCESS_TOKEN: &str = "eyJhbGciOiJFZERTQSJ9.e30.c2ln";

fn request(key: &ClientKey) -> (DpopRequest<'static>, String) {
    let jkt = key.thumbprint();
    let request = DpopRequest {
        access_token: Some(ACCESS_TOKEN),
        ..DpopRequest::new("GET", URL)
    };
    (request, jkt)
}

/// Verifies `proof` for `GET URL` with the access token, expecting `key`'s thumbprint.
fn check(key: &ClientKey, proof: &str) -> Result<VerifiedProof, DpopError> {
    let (request, jkt) = request(key);
    let request = DpopRequest {
        expected_jkt: Some(&jkt),
        ..request
    };
    verify_dpop_proof(
        proof,
        &request,
        NOW,
        &DpopPolicy::default(),
        &InMemoryReplayGuard::new(),
    )
}

fn claims() -> Value {
    proof_claims(Some(ACCESS_TOKEN), JTI)
}

fn with(mut value: Value, name: &str, new: Value) -> Value {
    value[name] = new;
    value
}

#[test]
fn valid_es256_proof_is_accepted() {
    let key = ClientKey::es256(7);
    let verified = check(&key, &proof(&key, &claims())).unwrap();
    assert_eq!(verified.jkt, key.thumbprint());
    assert_eq!(verified.jti, JTI);
    assert_eq!(verified.issued_at, NOW);
}

#[test]
fn valid_eddsa_proof_is_accepted() {
    let key = ClientKey::eddsa(8);
    assert!(check(&key, &proof(&key, &claims())).is_ok());
}

#[test]
fn wrong_method_is_rejected() {
    let key = ClientKey::es256(7);
    let claims = with(claims(), "htm", json!("POST"));
    assert_eq!(
        check(&key, &proof(&key, &claims)),
        Err(DpopError::WrongMethod)
    );
}

#[test]
fn lowercase_method_is_rejected() {
    let key = ClientKey::es256(7);
    let claims = with(claims(), "htm", json!("get"));
    assert_eq!(
        check(&key, &proof(&key, &claims)),
        Err(DpopError::WrongMethod)
    );
}

#[test]
fn wrong_url_is_rejected() {
    let key = ClientKey::es256(7);
    for htu in [
        "https://portal.example.org/api/messages/threads/1",
        "https://attacker.example/api/messages/threads",
        "http://portal.example.org/api/messages/threads",
        "https://portal.example.org:8443/api/messages/threads",
        "https://user@portal.example.org/api/messages/threads",
        "/api/messages/threads",
    ] {
        let claims = with(claims(), "htu", json!(htu));
        assert_eq!(
            check(&key, &proof(&key, &claims)),
            Err(DpopError::WrongUrl),
            "{htu}"
        );
    }
}

#[test]
fn query_fragment_and_default_port_are_ignored() {
    let key = ClientKey::es256(7);
    for htu in [
        "https://portal.example.org/api/messages/threads?page=2",
        "https://portal.example.org/api/messages/threads#top",
        "https://PORTAL.example.org:443/api/messages/threads",
    ] {
        let claims = with(claims(), "htu", json!(htu));
        assert!(check(&key, &proof(&key, &claims)).is_ok(), "{htu}");
    }
}

#[test]
fn stale_iat_is_rejected() {
    let key = ClientKey::es256(7);
    for iat in [NOW - 61, NOW + 6, 0] {
        let claims = with(claims(), "iat", json!(iat));
        assert_eq!(
            check(&key, &proof(&key, &claims)),
            Err(DpopError::Stale),
            "iat {iat}"
        );
    }
}

#[test]
fn iat_at_window_edges_is_accepted() {
    let key = ClientKey::es256(7);
    for iat in [NOW - 60, NOW + 5] {
        let claims = with(claims(), "iat", json!(iat));
        assert!(check(&key, &proof(&key, &claims)).is_ok(), "iat {iat}");
    }
}

#[test]
fn wrong_ath_is_rejected() {
    let key = ClientKey::es256(7);
    let other_hash = portal_tokens::access_token_hash("another.token.value");
    let claims = with(claims(), "ath", json!(other_hash));
    assert_eq!(
        check(&key, &proof(&key, &claims)),
        Err(DpopError::WrongAccessTokenHash)
    );
}

#[test]
fn missing_ath_is_rejected() {
    let key = ClientKey::es256(7);
    let proof = proof(&key, &proof_claims(None, JTI));
    assert_eq!(check(&key, &proof), Err(DpopError::WrongAccessTokenHash));
}

#[test]
fn proof_from_another_key_is_rejected() {
    let bound = ClientKey::es256(7);
    let thief = ClientKey::es256(9);
    let stolen_use = proof(&thief, &claims());
    assert_eq!(check(&bound, &stolen_use), Err(DpopError::KeyMismatch));
}

#[test]
fn replayed_jti_is_rejected() {
    let key = ClientKey::es256(7);
    let (request, jkt) = request(&key);
    let request = DpopRequest {
        expected_jkt: Some(&jkt),
        ..request
    };
    let guard = InMemoryReplayGuard::new();
    let policy = DpopPolicy::default();
    let proof = proof(&key, &claims());

    assert!(verify_dpop_proof(&proof, &request, NOW, &policy, &guard).is_ok());
    let replay = verify_dpop_proof(&proof, &request, NOW + 1, &policy, &guard);
    assert_eq!(replay, Err(DpopError::Replayed));
}

#[test]
fn rejected_proof_does_not_consume_jti() {
    let key = ClientKey::es256(7);
    let (request, jkt) = request(&key);
    let request = DpopRequest {
        expected_jkt: Some(&jkt),
        ..request
    };
    let guard = InMemoryReplayGuard::new();
    let policy = DpopPolicy::default();
    let wrong_method = proof(&key, &with(claims(), "htm", json!("DELETE")));

    let first = verify_dpop_proof(&wrong_method, &request, NOW, &policy, &guard);
    assert_eq!(first, Err(DpopError::WrongMethod));
    assert!(verify_dpop_proof(&proof(&key, &claims()), &request, NOW, &policy, &guard).is_ok());
}

#[test]
fn wrong_typ_is_rejected() {
    let key = ClientKey::es256(7);
    let header = with(proof_header(&key), "typ", json!("JWT"));
    let proof = compact(&header, &claims(), |input| key.sign(input));
    assert_eq!(check(&key, &proof), Err(DpopError::WrongType));
}

#[test]
fn algorithm_not_matching_key_is_rejected() {
    let key = ClientKey::es256(7);
    for alg in ["EdDSA", "HS256", "none", "RS256"] {
        let header = with(proof_header(&key), "alg", json!(alg));
        let proof = compact(&header, &claims(), |input| key.sign(input));
        assert_eq!(
            check(&key, &proof),
            Err(DpopError::AlgorithmNotAllowed),
            "{alg}"
        );
    }
}

#[test]
fn private_key_in_header_is_rejected() {
    let key = ClientKey::es256(7);
    let mut header = proof_header(&key);
    header["jwk"]["d"] = json!("c2VjcmV0");
    let proof = compact(&header, &claims(), |input| key.sign(input));
    assert_eq!(check(&key, &proof), Err(DpopError::PrivateKeyInHeader));
}

#[test]
fn missing_or_unsupported_jwk_is_rejected() {
    let key = ClientKey::es256(7);
    let mut missing = proof_header(&key);
    missing.as_object_mut().unwrap().remove("jwk");
    let mut rsa = proof_header(&key);
    rsa["jwk"] = json!({"kty": "RSA", "n": "AQAB", "e": "AQAB"});
    let mut short = proof_header(&key);
    short["jwk"]["x"] = json!("AQAB");

    for header in [missing, rsa, short] {
        let proof = compact(&header, &claims(), |input| key.sign(input));
        assert_eq!(check(&key, &proof), Err(DpopError::InvalidKey));
    }
}

#[test]
fn signature_by_other_key_than_jwk_is_rejected() {
    let key = ClientKey::es256(7);
    let other = ClientKey::es256(9);
    let proof = compact(&proof_header(&key), &claims(), |input| other.sign(input));
    assert_eq!(check(&key, &proof), Err(DpopError::BadSignature));
}

#[test]
fn tampered_claims_are_rejected() {
    let key = ClientKey::eddsa(8);
    let valid = proof(&key, &claims());
    let mut parts: Vec<String> = valid.split('.').map(str::to_owned).collect();
    let changed = with(claims(), "htm", json!("DELETE"));
    parts[1] = common::b64(changed.to_string().as_bytes());
    assert_eq!(check(&key, &parts.join(".")), Err(DpopError::BadSignature));
}

#[test]
fn critical_header_is_rejected() {
    let key = ClientKey::es256(7);
    let header = with(proof_header(&key), "crit", json!(["exp"]));
    let proof = compact(&header, &claims(), |input| key.sign(input));
    assert_eq!(check(&key, &proof), Err(DpopError::CriticalHeader));
}

#[test]
fn missing_or_short_claims_are_rejected() {
    let key = ClientKey::es256(7);
    for claim in ["jti", "htm", "htu", "iat"] {
        let mut claims = claims();
        claims.as_object_mut().unwrap().remove(claim);
        let result = check(&key, &proof(&key, &claims));
        assert!(
            matches!(result, Err(DpopError::InvalidClaim { claim: c }) if c == claim),
            "{claim}"
        );
    }
    let short_jti = proof(&key, &with(claims(), "jti", json!("abc")));
    assert_eq!(
        check(&key, &short_jti),
        Err(DpopError::InvalidClaim { claim: "jti" })
    );
}

#[test]
fn nonce_must_match_when_required() {
    let key = ClientKey::es256(7);
    let (request, _) = request(&key);
    let request = DpopRequest {
        nonce: Some("server-nonce-1"),
        ..request
    };
    let policy = DpopPolicy::default();

    let without = proof(&key, &claims());
    let result = verify_dpop_proof(
        &without,
        &request,
        NOW,
        &policy,
        &InMemoryReplayGuard::new(),
    );
    assert_eq!(result, Err(DpopError::WrongNonce));
    let with_nonce = proof(&key, &with(claims(), "nonce", json!("server-nonce-1")));
    let result = verify_dpop_proof(
        &with_nonce,
        &request,
        NOW,
        &policy,
        &InMemoryReplayGuard::new(),
    );
    assert!(result.is_ok());
}

#[test]
fn malformed_proofs_are_rejected() {
    let key = ClientKey::es256(7);
    let oversized = "a".repeat(portal_tokens::MAX_PROOF_LEN + 1);
    for proof in ["", "a.b", "a.b.c.d", "!.!.!", oversized.as_str()] {
        assert_eq!(check(&key, proof), Err(DpopError::Malformed), "{proof:.20}");
    }
}

#[test]
fn bound_access_token_with_valid_proof_is_accepted() {
    let key = ClientKey::es256(7);
    let token = issuer()
        .issue_access(&access_grant(&key.thumbprint()), NOW)
        .unwrap();
    let proof = proof(&key, &proof_claims(Some(&token), JTI));

    let pending = verifier().verify_access(&token, NOW).unwrap();
    let access = pending
        .confirm(
            &proof,
            &DpopRequest::new("GET", URL),
            NOW,
            &DpopPolicy::default(),
            &InMemoryReplayGuard::new(),
        )
        .unwrap();

    assert_eq!(access.user.as_str(), "user-1");
    assert_eq!(access.role, portal_policy::Role::Proxy);
    assert_eq!(access.dpop_jkt, key.thumbprint());
    assert_eq!(access.on_behalf_of.as_ref().unwrap().as_str(), "patient-7");
    assert!(access.authentication().multi_factor);
    assert_eq!(access.authentication().auth_time, NOW - 30);
}

#[test]
fn stolen_access_token_with_own_proof_is_rejected() {
    let owner = ClientKey::es256(7);
    let thief = ClientKey::eddsa(8);
    let token = issuer()
        .issue_access(&access_grant(&owner.thumbprint()), NOW)
        .unwrap();
    let proof = proof(&thief, &proof_claims(Some(&token), JTI));

    let pending = verifier().verify_access(&token, NOW).unwrap();
    let result = pending.confirm(
        &proof,
        &DpopRequest::new("GET", URL),
        NOW,
        &DpopPolicy::default(),
        &InMemoryReplayGuard::new(),
    );
    assert_eq!(result, Err(DpopError::KeyMismatch));
}

#[test]
fn proof_for_another_access_token_is_rejected() {
    let key = ClientKey::es256(7);
    let token = issuer()
        .issue_access(&access_grant(&key.thumbprint()), NOW)
        .unwrap();
    let proof = proof(&key, &proof_claims(Some("some.other.token"), JTI));

    let pending = verifier().verify_access(&token, NOW).unwrap();
    let result = pending.confirm(
        &proof,
        &DpopRequest::new("GET", URL),
        NOW,
        &DpopPolicy::default(),
        &InMemoryReplayGuard::new(),
    );
    assert_eq!(result, Err(DpopError::WrongAccessTokenHash));
}

#[test]
fn unbound_access_token_is_rejected() {
    let key = ClientKey::es256(7);
    let mut claims = access_claims("unused");
    claims.as_object_mut().unwrap().remove("cnf");
    let token = sign_with_issuer_key(&access_header(), &claims);
    let proof = proof(&key, &proof_claims(Some(&token), JTI));

    let pending = verifier().verify_access(&token, NOW).unwrap();
    let result = pending.confirm(
        &proof,
        &DpopRequest::new("GET", URL),
        NOW,
        &DpopPolicy::default(),
        &InMemoryReplayGuard::new(),
    );
    assert_eq!(result, Err(DpopError::TokenNotBound));
}

#[test]
fn thumbprint_matches_rfc_9449_example() {
    // The example DPoP key of RFC 9449 and the `cnf.jkt` its example access token carries.
    let jwk = r#"{"kty":"EC","x":"l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs","y":"9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA","crv":"P-256"}"#;
    assert_eq!(
        jwk_thumbprint(jwk).unwrap(),
        "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"
    );
}

#[test]
fn thumbprint_matches_rfc_8037_example() {
    // RFC 8037 appendix A.3.
    let jwk = r#"{"crv":"Ed25519","kty":"OKP","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#;
    assert_eq!(
        jwk_thumbprint(jwk).unwrap(),
        "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
    );
}

#[test]
fn thumbprint_matches_jwt_simple() {
    use jwt_simple::prelude::{ES256PublicKey, Ed25519PublicKey};

    let es = ClientKey::es256(7);
    let jwk = es.jwk().to_string();
    assert_eq!(
        jwk_thumbprint(&jwk).unwrap(),
        ES256PublicKey::from_jwk(&jwk).unwrap().jwk_thumbprint()
    );
    let ed = ClientKey::eddsa(8);
    let jwk = ed.jwk().to_string();
    assert_eq!(
        jwk_thumbprint(&jwk).unwrap(),
        Ed25519PublicKey::from_jwk(&jwk).unwrap().jwk_thumbprint()
    );
}
