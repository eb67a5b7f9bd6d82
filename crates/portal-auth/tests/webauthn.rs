//! WebAuthn ceremonies against a software authenticator with real P-256 and Ed25519 keys:
//! both algorithms register and sign in, and every altered field, flag, signature or counter
//! is refused or flagged.
#![expect(
    clippy::unwrap_used,
    reason = "a test reports an unexpected error by panicking"
)]

use portal_auth::webauthn::software::{Assertion, SoftwareAuthenticator};
use portal_auth::webauthn::{
    Credential, Flags, RelyingParty, WebauthnError, verify_assertion, verify_registration,
};

const RP_ID: &str = "portal.example.org";
const ORIGIN: &str = "https://portal.example.org";

fn rp() -> RelyingParty {
    RelyingParty::for_origin(ORIGIN).unwrap()
}

fn challenge() -> Vec<u8> {
    let mut bytes = vec![0u8; 32];
    getrandom::fill(&mut bytes).unwrap();
    bytes
}

fn authenticators() -> Vec<SoftwareAuthenticator> {
    vec![
        SoftwareAuthenticator::es256(RP_ID, ORIGIN),
        SoftwareAuthenticator::eddsa(RP_ID, ORIGIN),
    ]
}

/// Registers `device` and returns the stored credential.
fn register(device: &mut SoftwareAuthenticator) -> Credential {
    let issued = challenge();
    let response = device.register(&issued, b"user-handle");
    verify_registration(
        &rp(),
        &issued,
        &response.client_data_json,
        &response.attestation_object,
        true,
    )
    .unwrap()
}

fn check(
    credential: &Credential,
    issued: &[u8],
    assertion: &Assertion,
) -> Result<bool, WebauthnError> {
    verify_assertion(
        &rp(),
        credential,
        issued,
        &assertion.client_data_json,
        &assertion.authenticator_data,
        &assertion.signature,
        true,
    )
    .map(|outcome| outcome.counter_regressed)
}

#[test]
fn both_algorithms_register_and_sign_in() {
    for (mut device, algorithm) in authenticators().into_iter().zip([-7, -8]) {
        let credential = register(&mut device);
        assert_eq!(credential.algorithm, algorithm);
        assert_eq!(credential.id, device.credential_id);
        assert!(!credential.backup_eligible);
        for _ in 0..3 {
            let issued = challenge();
            let assertion = device.assert(&issued);
            let outcome = verify_assertion(
                &rp(),
                &credential,
                &issued,
                &assertion.client_data_json,
                &assertion.authenticator_data,
                &assertion.signature,
                true,
            )
            .unwrap();
            assert!(outcome.user_verified);
            assert!(!outcome.counter_regressed);
            assert_eq!(outcome.sign_count, device.sign_count);
        }
    }
}

#[test]
fn registration_from_another_origin_or_rp_is_refused() {
    for mut device in authenticators() {
        let issued = challenge();
        device.origin = "https://portal.example.org.evil.test".to_owned();
        let response = device.register(&issued, b"user");
        let result = verify_registration(
            &rp(),
            &issued,
            &response.client_data_json,
            &response.attestation_object,
            true,
        );
        assert_eq!(result, Err(WebauthnError::WrongOrigin));

        device.origin = ORIGIN.to_owned();
        device.rp_id = "example.org".to_owned();
        let response = device.register(&issued, b"user");
        let result = verify_registration(
            &rp(),
            &issued,
            &response.client_data_json,
            &response.attestation_object,
            true,
        );
        assert_eq!(result, Err(WebauthnError::WrongRpId));
    }
}

#[test]
fn another_challenge_or_ceremony_type_is_refused() {
    for mut device in authenticators() {
        let issued = challenge();
        let response = device.register(&issued, b"user");
        let result = verify_registration(
            &rp(),
            &challenge(),
            &response.client_data_json,
            &response.attestation_object,
            true,
        );
        assert_eq!(result, Err(WebauthnError::WrongChallenge));

        let credential = register(&mut device);
        let issued = challenge();
        let assertion = device.assert(&issued);
        assert_eq!(
            check(&credential, &challenge(), &assertion),
            Err(WebauthnError::WrongChallenge)
        );
        device.client_data_type = Some("webauthn.create".to_owned());
        let assertion = device.assert(&issued);
        assert_eq!(
            check(&credential, &issued, &assertion),
            Err(WebauthnError::WrongType)
        );
    }
}

#[test]
fn flipped_flag_bits_are_refused() {
    let cases = [
        (Flags::USER_VERIFIED, WebauthnError::UserNotPresent),
        (Flags::USER_PRESENT, WebauthnError::UserNotVerified),
        (
            Flags::USER_PRESENT | Flags::USER_VERIFIED | Flags::BACKED_UP,
            WebauthnError::InvalidBackupFlags,
        ),
        (
            Flags::USER_PRESENT | Flags::USER_VERIFIED | Flags::BACKUP_ELIGIBLE,
            WebauthnError::BackupEligibilityChanged,
        ),
    ];
    for mut device in authenticators() {
        let credential = register(&mut device);
        for (flags, expected) in cases {
            device.flags = flags;
            let issued = challenge();
            let assertion = device.assert(&issued);
            assert_eq!(check(&credential, &issued, &assertion), Err(expected));
        }
        // The same flags refuse a registration too, except a change of eligibility.
        for (flags, expected) in &cases[..3] {
            device.flags = *flags;
            let issued = challenge();
            let response = device.register(&issued, b"user");
            let result = verify_registration(
                &rp(),
                &issued,
                &response.client_data_json,
                &response.attestation_object,
                true,
            );
            assert_eq!(result, Err(*expected));
        }
    }
}

#[test]
fn altered_signatures_and_signed_data_are_refused() {
    for mut device in authenticators() {
        let credential = register(&mut device);
        let issued = challenge();
        let good = device.assert(&issued);
        assert_eq!(check(&credential, &issued, &good), Ok(false));

        let mut signature = good.clone();
        let last = signature.signature.len() - 1;
        signature.signature[last] ^= 0x01;
        assert_eq!(
            check(&credential, &issued, &signature),
            Err(WebauthnError::BadSignature)
        );

        // The counter is signed: raising it after signing breaks the signature.
        let mut counter = good.clone();
        counter.authenticator_data[36] ^= 0x10;
        assert_eq!(
            check(&credential, &issued, &counter),
            Err(WebauthnError::BadSignature)
        );

        // A key of the same algorithm that did not sign.
        let mut impostor = if credential.algorithm == -7 {
            SoftwareAuthenticator::es256(RP_ID, ORIGIN)
        } else {
            SoftwareAuthenticator::eddsa(RP_ID, ORIGIN)
        };
        let mut other_key = credential.clone();
        other_key.public_key = register(&mut impostor).public_key;
        assert_eq!(
            check(&other_key, &issued, &good),
            Err(WebauthnError::BadSignature)
        );

        let mut truncated = good.clone();
        truncated.authenticator_data.truncate(36);
        assert_eq!(
            check(&credential, &issued, &truncated),
            Err(WebauthnError::AuthenticatorDataMalformed)
        );
        let mut padded = good;
        padded.authenticator_data.push(0);
        assert_eq!(
            check(&credential, &issued, &padded),
            Err(WebauthnError::AuthenticatorDataMalformed)
        );
    }
}

#[test]
fn counter_regression_is_flagged_and_zero_passes() {
    for mut device in authenticators() {
        let mut credential = register(&mut device);
        let issued = challenge();
        let first = device.assert(&issued);
        assert_eq!(check(&credential, &issued, &first), Ok(false));
        credential.sign_count = device.sign_count;

        // A clone replays the counter: the signature is good, the counter has not moved.
        device.counter_step = 0;
        let issued = challenge();
        let cloned = device.assert(&issued);
        assert_eq!(check(&credential, &issued, &cloned), Ok(true));
        device.sign_count = 0;
        let issued = challenge();
        let lower = device.assert(&issued);
        assert_eq!(check(&credential, &issued, &lower), Ok(true));

        // Authenticators without a counter (Apple passkeys) always send zero.
        credential.sign_count = 0;
        let issued = challenge();
        let zero = device.assert(&issued);
        assert_eq!(check(&credential, &issued, &zero), Ok(false));
    }
}

#[test]
fn unsupported_keys_and_malformed_objects_are_refused() {
    let mut device = SoftwareAuthenticator::es256(RP_ID, ORIGIN);
    let issued = challenge();
    let response = device.register(&issued, b"user");
    let result = verify_registration(&rp(), &issued, &response.client_data_json, b"\xa0", true);
    assert_eq!(result, Err(WebauthnError::AttestationMalformed));
    let result = verify_registration(
        &rp(),
        &issued,
        b"{not json",
        &response.attestation_object,
        true,
    );
    assert_eq!(result, Err(WebauthnError::ClientDataMalformed));

    // An RS256 key (COSE -257) is not accepted.
    let mut credential = register(&mut device);
    let rs256 = coset::CoseKeyBuilder::new_ec2_pub_key(
        coset::iana::EllipticCurve::P_256,
        vec![1; 32],
        vec![2; 32],
    )
    .algorithm(coset::iana::Algorithm::RS256)
    .build();
    credential.public_key = coset::CborSerializable::to_vec(rs256).unwrap();
    let issued = challenge();
    let assertion = device.assert(&issued);
    assert_eq!(
        check(&credential, &issued, &assertion),
        Err(WebauthnError::UnsupportedAlgorithm)
    );
}

#[test]
fn weak_ed25519_keys_are_refused_at_registration() {
    let weak = coset::CoseKeyBuilder::new_okp_key()
        .param(
            coset::iana::OkpKeyParameter::Crv as i64,
            ciborium::Value::from(coset::iana::EllipticCurve::Ed25519 as i64),
        )
        .param(
            coset::iana::OkpKeyParameter::X as i64,
            ciborium::Value::Bytes(vec![0; 32]),
        )
        .algorithm(coset::iana::Algorithm::EdDSA)
        .build();
    let weak = coset::CborSerializable::to_vec(weak).unwrap();
    let mut device = SoftwareAuthenticator::eddsa(RP_ID, ORIGIN);
    let issued = challenge();
    let response = device.register(&issued, b"user");
    // Swap the real key in the attested data for the all-zero one, which has small order.
    let real = device.cose_key();
    let mut object = response.attestation_object.clone();
    let at = object
        .windows(real.len())
        .position(|window| window == real.as_slice())
        .unwrap();
    object.splice(at..at + real.len(), weak);
    let result = verify_registration(&rp(), &issued, &response.client_data_json, &object, true);
    assert_eq!(result, Err(WebauthnError::KeyMalformed));
}

#[test]
fn cross_origin_ceremonies_are_refused() {
    let mut device = SoftwareAuthenticator::eddsa(RP_ID, ORIGIN);
    let credential = register(&mut device);
    let issued = challenge();
    let mut assertion = device.assert(&issued);
    let mut data: serde_json::Value = serde_json::from_slice(&assertion.client_data_json).unwrap();
    data["crossOrigin"] = serde_json::Value::Bool(true);
    assertion.client_data_json = data.to_string().into_bytes();
    // The client data is signed, so the check must come before the signature to be seen.
    assert!(matches!(
        check(&credential, &issued, &assertion),
        Err(WebauthnError::CrossOrigin)
    ));
}
