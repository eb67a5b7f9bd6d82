//! Field normalization, blind indexes and field-level encryption.

#![expect(
    clippy::unwrap_used,
    reason = "a test reports an unexpected error by panicking"
)]

mod common;

use common::{key, message_binding, ring_v1, tenant};
use portal_crypto::{
    BlindIndexKeys, CryptoError, Domain, FieldKind, InMemoryCounter, protect_field, reveal_field,
};

fn index_keys() -> BlindIndexKeys {
    BlindIndexKeys::derive(tenant("acme"), Domain::Messaging, &key(0x42))
}

fn normalized(kind: FieldKind, value: &str) -> String {
    kind.normalize(value).unwrap().to_string()
}

fn assert_invalid(kind: FieldKind, value: &str) {
    let error = kind.normalize(value).unwrap_err();
    assert!(
        matches!(error, CryptoError::InvalidField { kind: k, .. } if k == kind),
        "{kind} {value:?} gave {error:?}"
    );
}

#[test]
fn email_is_trimmed_and_lowercased() {
    assert_eq!(
        normalized(FieldKind::Email, "  Jane.Doe@Example.COM \n"),
        "jane.doe@example.com"
    );
}

#[test]
fn malformed_emails_are_rejected() {
    for value in [
        "",
        "jane",
        "@example.com",
        "jane@",
        "a@b@c",
        "jane doe@example.com",
    ] {
        assert_invalid(FieldKind::Email, value);
    }
    let long = format!("{}@example.com", "a".repeat(250));
    assert_invalid(FieldKind::Email, &long);
}

#[test]
fn ssn_keeps_digits_only() {
    assert_eq!(normalized(FieldKind::Ssn, "123-45-6789"), "123456789");
    assert_eq!(normalized(FieldKind::Ssn, " 123 45 6789 "), "123456789");
}

#[test]
fn malformed_ssns_are_rejected() {
    for value in ["12345678", "1234567890", "123-45-678O", "123/45/6789"] {
        assert_invalid(FieldKind::Ssn, value);
    }
}

#[test]
fn never_issued_ssns_are_rejected() {
    for value in [
        "000-12-3456",
        "666-12-3456",
        "900-12-3456",
        "123-00-4567",
        "123-45-0000",
    ] {
        assert_invalid(FieldKind::Ssn, value);
    }
}

#[test]
fn phone_is_reduced_to_e164() {
    assert_eq!(
        normalized(FieldKind::Phone, "+1 (415) 555-0100"),
        "+14155550100"
    );
    assert_eq!(
        normalized(FieldKind::Phone, "+44 20.7946.0958"),
        "+442079460958"
    );
}

#[test]
fn phone_without_country_code_is_rejected() {
    assert_invalid(FieldKind::Phone, "(415) 555-0100");
    assert_invalid(FieldKind::Phone, "+1234567");
    assert_invalid(FieldKind::Phone, "+1234567890123456");
    assert_invalid(FieldKind::Phone, "+1 415 CALL NOW");
}

#[test]
fn payment_token_keeps_case() {
    assert_eq!(
        normalized(FieldKind::PaymentToken, " tok_1AbC "),
        "tok_1AbC"
    );
    assert_invalid(FieldKind::PaymentToken, "tok 1");
    assert_invalid(FieldKind::PaymentToken, "");
}

#[test]
fn medical_record_number_is_uppercased_without_separators() {
    assert_eq!(
        normalized(FieldKind::MedicalRecordNumber, "mrn-00 42a"),
        "MRN0042A"
    );
    assert_invalid(FieldKind::MedicalRecordNumber, "mrn#1");
    assert_invalid(FieldKind::MedicalRecordNumber, "--");
}

#[test]
fn invalid_field_error_does_not_echo_value() {
    let error = FieldKind::Ssn.normalize("123-45-67890").unwrap_err();
    assert!(!error.to_string().contains("67890"));
}

#[test]
fn blind_index_ignores_formatting() {
    let keys = index_keys();
    let first = keys.index(FieldKind::Ssn, "123-45-6789").unwrap();
    let second = keys.index(FieldKind::Ssn, "123 45 6789").unwrap();
    assert_eq!(first, second);

    let upper = keys.index(FieldKind::Email, "JANE@EXAMPLE.COM").unwrap();
    let lower = keys.index(FieldKind::Email, "jane@example.com").unwrap();
    assert_eq!(upper, lower);
}

#[test]
fn blind_index_differs_for_different_values() {
    let keys = index_keys();
    let first = keys.index(FieldKind::Ssn, "123-45-6789").unwrap();
    let second = keys.index(FieldKind::Ssn, "123-45-6788").unwrap();
    assert_ne!(first, second);
}

#[test]
fn blind_index_differs_per_field_kind() {
    let keys = index_keys();
    let token = keys.index(FieldKind::PaymentToken, "123456789").unwrap();
    let ssn = keys.index(FieldKind::Ssn, "123456789").unwrap();
    assert_ne!(token, ssn);
}

#[test]
fn blind_index_differs_per_key_and_tenant() {
    let value = "jane@example.com";
    let base = index_keys().index(FieldKind::Email, value).unwrap();
    let other_key = BlindIndexKeys::derive(tenant("acme"), Domain::Messaging, &key(0x43));
    let other_tenant = BlindIndexKeys::derive(tenant("globex"), Domain::Messaging, &key(0x42));

    assert_ne!(base, other_key.index(FieldKind::Email, value).unwrap());
    assert_ne!(base, other_tenant.index(FieldKind::Email, value).unwrap());
}

#[test]
fn blind_index_encodes_as_base64url() {
    let index = index_keys()
        .index(FieldKind::Email, "jane@example.com")
        .unwrap();
    let encoded = index.to_base64url();
    assert_eq!(encoded.len(), 43);
    assert!(
        encoded
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    );
}

#[test]
fn debug_output_hides_index_and_keys() {
    let keys = index_keys();
    let index = keys.index(FieldKind::Email, "jane@example.com").unwrap();
    assert_eq!(format!("{index:?}"), "BlindIndex { .. }");
    let printed = format!("{keys:?}");
    assert!(printed.contains("HMAC-SHA256"));
    assert!(printed.ends_with(".. }"));
}

#[test]
fn protected_field_round_trips_normalized_value() {
    let ring = ring_v1();
    let keys = index_keys();
    let record = message_binding();

    let protected = protect_field(
        &ring,
        &InMemoryCounter::new(),
        &keys,
        &record,
        FieldKind::Ssn,
        "123-45-6789",
    )
    .unwrap();
    let revealed = reveal_field(&ring, &record, FieldKind::Ssn, &protected.ciphertext).unwrap();

    assert_eq!(revealed.as_str(), "123456789");
    assert_eq!(
        protected.index,
        keys.index(FieldKind::Ssn, "123456789").unwrap()
    );
}

#[test]
fn field_ciphertext_cannot_fill_another_field() {
    let ring = ring_v1();
    let record = message_binding();
    let protected = protect_field(
        &ring,
        &InMemoryCounter::new(),
        &index_keys(),
        &record,
        FieldKind::Ssn,
        "123-45-6789",
    )
    .unwrap();

    let error = reveal_field(
        &ring,
        &record,
        FieldKind::PaymentToken,
        &protected.ciphertext,
    )
    .unwrap_err();
    assert_eq!(error, CryptoError::KeyUnwrapFailed);
}

#[test]
fn field_ciphertext_cannot_be_read_as_whole_record() {
    let ring = ring_v1();
    let record = message_binding();
    let protected = protect_field(
        &ring,
        &InMemoryCounter::new(),
        &index_keys(),
        &record,
        FieldKind::Email,
        "jane@example.com",
    )
    .unwrap();

    let error = ring.decrypt(&record, &protected.ciphertext).unwrap_err();
    assert_eq!(error, CryptoError::KeyUnwrapFailed);
}

#[test]
fn invalid_field_value_is_not_encrypted() {
    let counter = InMemoryCounter::new();
    let error = protect_field(
        &ring_v1(),
        &counter,
        &index_keys(),
        &message_binding(),
        FieldKind::Phone,
        "555-0100",
    )
    .unwrap_err();

    assert!(matches!(
        error,
        CryptoError::InvalidField {
            kind: FieldKind::Phone,
            ..
        }
    ));
}
