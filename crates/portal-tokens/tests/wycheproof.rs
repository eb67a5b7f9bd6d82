//! Project Wycheproof vectors for the signature code that verifies DPoP proofs and, later,
//! WebAuthn assertions: Ed25519 through `ed25519-compact`, and ECDSA P-256 with SHA-256
//! through the `p256` crate, in both IEEE P1363 and ASN.1 DER signature forms.
//!
//! Each test counts the vectors it ran and asserts the exact numbers, so a file that parses
//! to nothing or a filter that skips everything fails instead of passing silently.

#![expect(
    clippy::unwrap_used,
    reason = "a test reports an unexpected error by panicking"
)]

use portal_tokens::PublicJwk;
use portal_tokens::signature::{verify_ed25519, verify_es256, verify_es256_der};
use serde::Deserialize;

#[derive(Deserialize)]
struct Suite {
    #[serde(rename = "numberOfTests")]
    number_of_tests: usize,
    #[serde(rename = "testGroups")]
    groups: Vec<Group>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Group {
    public_key: serde_json::Value,
    public_key_jwk: Option<serde_json::Value>,
    tests: Vec<Case>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Case {
    tc_id: u32,
    msg: String,
    sig: String,
    result: String,
}

#[derive(Debug, Default, PartialEq, Eq)]
struct Tally {
    valid: usize,
    invalid: usize,
    acceptable: usize,
}

fn load(name: &str) -> Suite {
    let path = format!("{}/tests/vectors/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn hex(text: &str) -> Vec<u8> {
    assert!(text.len().is_multiple_of(2), "odd-length hex string");
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

fn key_hex(group: &Group, member: &str) -> Vec<u8> {
    hex(group.public_key[member].as_str().unwrap())
}

/// Runs every case of a suite through `verify`, checking valid ones are accepted and
/// invalid ones rejected, and returns the tally.
fn run(suite: &Suite, verify: impl Fn(&Group, &[u8], &[u8]) -> bool) -> Tally {
    let mut tally = Tally::default();
    for group in &suite.groups {
        for case in &group.tests {
            let accepted = verify(group, &hex(&case.msg), &hex(&case.sig));
            match case.result.as_str() {
                "valid" => {
                    assert!(accepted, "tcId {} must be accepted", case.tc_id);
                    tally.valid += 1;
                }
                "invalid" => {
                    assert!(!accepted, "tcId {} must be rejected", case.tc_id);
                    tally.invalid += 1;
                }
                "acceptable" => tally.acceptable += 1,
                other => panic!("unknown result {other:?}"),
            }
        }
    }
    assert_eq!(
        tally.valid + tally.invalid + tally.acceptable,
        suite.number_of_tests
    );
    tally
}

#[test]
fn ed25519_vectors() {
    let suite = load("wycheproof-ed25519_test.json");
    assert_eq!(suite.number_of_tests, 151);

    let tally = run(&suite, |group, msg, sig| {
        verify_ed25519(&key_hex(group, "pk"), msg, sig)
    });
    assert_eq!(
        tally,
        Tally {
            valid: 88,
            invalid: 63,
            acceptable: 0
        }
    );
}

#[test]
fn ed25519_vectors_through_dpop_jwk() {
    let suite = load("wycheproof-ed25519_test.json");

    let tally = run(&suite, |group, msg, sig| {
        let jwk = PublicJwk::from_json(group.public_key_jwk.as_ref().unwrap()).unwrap();
        jwk.verify(msg, sig)
    });
    assert_eq!(
        tally,
        Tally {
            valid: 88,
            invalid: 63,
            acceptable: 0
        }
    );
}

#[test]
fn ecdsa_p256_p1363_vectors() {
    let suite = load("wycheproof-ecdsa_secp256r1_sha256_p1363_test.json");
    assert_eq!(suite.number_of_tests, 262);

    let tally = run(&suite, |group, msg, sig| {
        verify_es256(&key_hex(group, "uncompressed"), msg, sig)
    });
    assert_eq!(
        tally,
        Tally {
            valid: 173,
            invalid: 89,
            acceptable: 0
        }
    );
}

#[test]
fn ecdsa_p256_p1363_vectors_through_dpop_jwk() {
    let mut suite = load("wycheproof-ecdsa_secp256r1_sha256_p1363_test.json");
    // Nine groups (10 vectors) have no JWK form in the file; the SEC1 test above covers them.
    suite.groups.retain(|group| group.public_key_jwk.is_some());
    suite.number_of_tests = suite.groups.iter().map(|group| group.tests.len()).sum();

    let tally = run(&suite, |group, msg, sig| {
        let jwk = PublicJwk::from_json(group.public_key_jwk.as_ref().unwrap()).unwrap();
        jwk.verify(msg, sig)
    });
    assert_eq!(
        tally,
        Tally {
            valid: 169,
            invalid: 83,
            acceptable: 0
        }
    );
}

#[test]
fn ecdsa_p256_der_vectors() {
    let suite = load("wycheproof-ecdsa_secp256r1_sha256_test.json");
    assert_eq!(suite.number_of_tests, 484);

    let tally = run(&suite, |group, msg, sig| {
        verify_es256_der(&key_hex(group, "uncompressed"), msg, sig)
    });
    assert_eq!(
        tally,
        Tally {
            valid: 174,
            invalid: 310,
            acceptable: 0
        }
    );
}
