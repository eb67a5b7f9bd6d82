//! Envelope round trips, tamper detection, rotation and the encryption ceiling.

#![expect(
    clippy::unwrap_used,
    reason = "a test reports an unexpected error by panicking"
)]

mod common;

use common::{binding, domain_keys, key, message_binding, ring_v1, ring_with, tenant};
use portal_crypto::format::{NONCE_LEN, TAG_LEN, WRAPPED_KEY_LEN};
use portal_crypto::{
    CryptoError, DEFAULT_ENCRYPTION_CEILING, Domain, EncryptionCounter, InMemoryCounter, KekId,
    KeyConfigError, KeyRing, MAX_ENCRYPTION_CEILING, RecordBinding, ReservedCount, Rewrap,
};

const PLAINTEXT: &[u8] = b"Patient reports chest pain since Tuesday.";

fn kek(version: u32) -> KekId {
    KekId {
        tenant: tenant("acme"),
        domain: Domain::Messaging,
        version,
    }
}

fn encrypt_v1() -> Vec<u8> {
    ring_v1()
        .encrypt(&InMemoryCounter::new(), &message_binding(), PLAINTEXT)
        .unwrap()
}

/// Header length for tenant `acme`: 5 + 4 + 1 + 4 + 12 + 48 + 12.
const HEADER_LEN: usize = 5 + 4 + 1 + 4 + NONCE_LEN + WRAPPED_KEY_LEN + NONCE_LEN;

#[test]
fn encrypt_then_decrypt_returns_plaintext() {
    let ring = ring_v1();
    let envelope = encrypt_v1();

    let plaintext = ring.decrypt(&message_binding(), &envelope).unwrap();
    assert_eq!(plaintext.as_slice(), PLAINTEXT);
}

#[test]
fn empty_plaintext_round_trips() {
    let ring = ring_v1();
    let envelope = ring
        .encrypt(&InMemoryCounter::new(), &message_binding(), b"")
        .unwrap();

    assert_eq!(envelope.len(), HEADER_LEN + TAG_LEN);
    assert!(
        ring.decrypt(&message_binding(), &envelope)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn envelope_layout_matches_format_documentation() {
    let envelope = encrypt_v1();

    assert_eq!(&envelope[0..2], b"PE");
    assert_eq!(envelope[2], 1, "format version");
    assert_eq!(envelope[3], 1, "suite");
    assert_eq!(envelope[4], 4, "tenant length");
    assert_eq!(&envelope[5..9], b"acme");
    assert_eq!(envelope[9], Domain::Messaging.code());
    assert_eq!(&envelope[10..14], &1u32.to_be_bytes());
    assert_eq!(envelope.len(), HEADER_LEN + PLAINTEXT.len() + TAG_LEN);
}

#[test]
fn two_encryptions_of_same_plaintext_differ() {
    let first = encrypt_v1();
    let second = encrypt_v1();
    assert_ne!(first, second);
    assert_ne!(first[14..26], second[14..26], "wrap nonces must differ");
}

#[test]
fn envelope_names_its_kek() {
    let envelope = encrypt_v1();
    assert_eq!(KeyRing::envelope_kek_id(&envelope).unwrap(), kek(1));
}

#[test]
fn another_record_id_is_rejected() {
    let envelope = encrypt_v1();
    let moved = binding("message", "msg-0002");

    let error = ring_v1().decrypt(&moved, &envelope).unwrap_err();
    assert_eq!(error, CryptoError::KeyUnwrapFailed);
}

#[test]
fn another_record_type_is_rejected() {
    let envelope = encrypt_v1();
    let moved = binding("thread_subject", "msg-0001");

    let error = ring_v1().decrypt(&moved, &envelope).unwrap_err();
    assert_eq!(error, CryptoError::KeyUnwrapFailed);
}

#[test]
fn another_tenant_is_rejected() {
    let envelope = encrypt_v1();
    let moved =
        RecordBinding::new(tenant("globex"), Domain::Messaging, "message", "msg-0001").unwrap();

    let error = ring_v1().decrypt(&moved, &envelope).unwrap_err();
    assert_eq!(error, CryptoError::BindingMismatch { field: "tenant" });
}

#[test]
fn another_domain_is_rejected() {
    let envelope = encrypt_v1();
    let moved = RecordBinding::new(tenant("acme"), Domain::Uploads, "message", "msg-0001").unwrap();

    let error = ring_v1().decrypt(&moved, &envelope).unwrap_err();
    assert_eq!(error, CryptoError::BindingMismatch { field: "domain" });
}

#[test]
fn relabelled_key_version_is_rejected() {
    // The envelope was wrapped under v2; relabel it as v1, which is configured and allowed.
    let ring = ring_with(2, 1);
    let mut envelope = ring
        .encrypt(&InMemoryCounter::new(), &message_binding(), PLAINTEXT)
        .unwrap();
    envelope[10..14].copy_from_slice(&1u32.to_be_bytes());

    let error = ring.decrypt(&message_binding(), &envelope).unwrap_err();
    assert_eq!(error, CryptoError::KeyUnwrapFailed);
}

#[test]
fn unknown_key_version_is_rejected() {
    let mut envelope = encrypt_v1();
    envelope[10..14].copy_from_slice(&7u32.to_be_bytes());

    let error = ring_v1()
        .decrypt(&message_binding(), &envelope)
        .unwrap_err();
    assert_eq!(error, CryptoError::UnknownKey { kek: kek(7) });
}

#[test]
fn wrong_kek_material_is_rejected() {
    let envelope = encrypt_v1();
    let mut ring = KeyRing::new();
    let keys =
        portal_crypto::DomainKeys::new(tenant("acme"), Domain::Messaging, 1, 1, [(1, key(0xEE))])
            .unwrap();
    ring.insert(keys);

    let error = ring.decrypt(&message_binding(), &envelope).unwrap_err();
    assert_eq!(error, CryptoError::KeyUnwrapFailed);
}

#[test]
fn unconfigured_tenant_is_rejected() {
    let ring = KeyRing::new();
    let error = ring
        .encrypt(&InMemoryCounter::new(), &message_binding(), PLAINTEXT)
        .unwrap_err();
    assert_eq!(
        error,
        CryptoError::NoKeysForDomain {
            tenant: tenant("acme"),
            domain: Domain::Messaging
        }
    );
}

/// Returns the error expected after flipping the lowest bit of header byte `index` of a v1
/// envelope for tenant `acme`, decrypted by [`ring_v1`].
fn expected_header_error(index: usize, flipped: u8) -> CryptoError {
    match index {
        0 | 1 => CryptoError::BadMagic,
        2 => CryptoError::UnsupportedFormatVersion { version: flipped },
        3 => CryptoError::UnsupportedSuite { suite: flipped },
        // Length 5 takes the domain byte into the tenant name.
        4 => CryptoError::MalformedHeader { field: "tenant" },
        5..=8 if flipped.is_ascii_lowercase() || flipped.is_ascii_digit() => {
            CryptoError::BindingMismatch { field: "tenant" }
        }
        5..=8 => CryptoError::MalformedHeader { field: "tenant" },
        // Messaging (2) becomes uploads (3).
        9 => CryptoError::BindingMismatch { field: "domain" },
        // Version 1 becomes 0 in the last byte, or a version with high bits set.
        13 => CryptoError::MalformedHeader {
            field: "kek_version",
        },
        10..=12 => {
            let mut version = [0, 0, 0, 1];
            version[index - 10] = flipped;
            CryptoError::UnknownKey {
                kek: kek(u32::from_be_bytes(version)),
            }
        }
        14..=73 => CryptoError::KeyUnwrapFailed,
        _ => CryptoError::DecryptionFailed,
    }
}

#[test]
fn every_flipped_header_byte_is_rejected() {
    let ring = ring_v1();
    let envelope = encrypt_v1();

    for index in 0..HEADER_LEN {
        let mut tampered = envelope.clone();
        tampered[index] ^= 0x01;
        let expected = expected_header_error(index, tampered[index]);

        let error = ring.decrypt(&message_binding(), &tampered).unwrap_err();
        assert_eq!(error, expected, "header byte {index}");
    }
}

#[test]
fn every_flipped_payload_byte_is_rejected() {
    let ring = ring_v1();
    let envelope = encrypt_v1();

    for index in HEADER_LEN..envelope.len() {
        let mut tampered = envelope.clone();
        tampered[index] ^= 0x80;

        let error = ring.decrypt(&message_binding(), &tampered).unwrap_err();
        assert_eq!(error, CryptoError::DecryptionFailed, "payload byte {index}");
    }
}

#[test]
fn truncated_envelope_is_rejected() {
    let ring = ring_v1();
    let envelope = encrypt_v1();

    for len in 0..envelope.len() {
        let expected = if len < HEADER_LEN + TAG_LEN {
            CryptoError::Truncated
        } else {
            CryptoError::DecryptionFailed
        };
        let error = ring
            .decrypt(&message_binding(), &envelope[..len])
            .unwrap_err();
        assert_eq!(error, expected, "length {len}");
    }
}

#[test]
fn appended_bytes_are_rejected() {
    let mut envelope = encrypt_v1();
    envelope.push(0);

    let error = ring_v1()
        .decrypt(&message_binding(), &envelope)
        .unwrap_err();
    assert_eq!(error, CryptoError::DecryptionFailed);
}

#[test]
fn payload_spliced_from_another_envelope_is_rejected() {
    let first = encrypt_v1();
    let second = encrypt_v1();
    let mut spliced = first[..HEADER_LEN].to_vec();
    spliced.extend_from_slice(&second[HEADER_LEN..]);

    let error = ring_v1().decrypt(&message_binding(), &spliced).unwrap_err();
    assert_eq!(error, CryptoError::DecryptionFailed);
}

#[test]
fn rotation_rewrap_and_retirement() {
    let counter = InMemoryCounter::new();
    let record = message_binding();

    // Written while only v1 exists.
    let v1_envelope = ring_v1().encrypt(&counter, &record, PLAINTEXT).unwrap();

    // Rotate: v2 encrypts, v1 still decrypts.
    let rotated = ring_with(2, 1);
    assert_eq!(
        rotated.decrypt(&record, &v1_envelope).unwrap().as_slice(),
        PLAINTEXT
    );
    let Rewrap::Rewrapped(v2_envelope) = rotated.rewrap(&counter, &record, &v1_envelope).unwrap()
    else {
        panic!("a v1 envelope must be rewrapped under v2");
    };
    assert_eq!(KeyRing::envelope_kek_id(&v2_envelope).unwrap(), kek(2));
    assert_eq!(
        v2_envelope[HEADER_LEN - NONCE_LEN..],
        v1_envelope[HEADER_LEN - NONCE_LEN..],
        "payload nonce and ciphertext must be unchanged"
    );
    assert_eq!(counter.get(&kek(2)), 1, "a rewrap counts as one encryption");

    // Retire v1: v1 is dropped from the ring.
    let retired = ring_with(2, 2);
    assert_eq!(
        retired.decrypt(&record, &v2_envelope).unwrap().as_slice(),
        PLAINTEXT
    );
    let error = retired.decrypt(&record, &v1_envelope).unwrap_err();
    assert_eq!(
        error,
        CryptoError::RetiredKeyVersion {
            kek: kek(1),
            oldest_allowed: 2
        }
    );
}

#[test]
fn retired_key_version_is_rejected() {
    let envelope = encrypt_v1();
    let ring = ring_with(3, 2);

    let error = ring.decrypt(&message_binding(), &envelope).unwrap_err();
    assert_eq!(
        error,
        CryptoError::RetiredKeyVersion {
            kek: kek(1),
            oldest_allowed: 2
        }
    );
}

#[test]
fn retired_key_version_cannot_be_rewrapped() {
    let envelope = encrypt_v1();
    let ring = ring_with(3, 2);

    let error = ring
        .rewrap(&InMemoryCounter::new(), &message_binding(), &envelope)
        .unwrap_err();
    assert!(matches!(error, CryptoError::RetiredKeyVersion { .. }));
}

#[test]
fn rewrap_of_current_envelope_is_unchanged() {
    let envelope = encrypt_v1();
    let counter = InMemoryCounter::new();

    let result = ring_v1()
        .rewrap(&counter, &message_binding(), &envelope)
        .unwrap();
    assert_eq!(result, Rewrap::Unchanged);
    assert_eq!(counter.get(&kek(1)), 0);
}

#[test]
fn rewrap_of_tampered_envelope_is_rejected() {
    let mut envelope = encrypt_v1();
    envelope[30] ^= 0x01;

    let error = ring_with(2, 1)
        .rewrap(&InMemoryCounter::new(), &message_binding(), &envelope)
        .unwrap_err();
    assert_eq!(error, CryptoError::KeyUnwrapFailed);
}

#[test]
fn rewrap_under_another_binding_is_rejected() {
    let envelope = encrypt_v1();
    let other = binding("message", "msg-9999");

    let error = ring_with(2, 1)
        .rewrap(&InMemoryCounter::new(), &other, &envelope)
        .unwrap_err();
    assert_eq!(error, CryptoError::KeyUnwrapFailed);
}

#[test]
fn encryption_past_ceiling_is_refused() {
    let mut ring = ring_v1();
    ring.set_encryption_ceiling(3).unwrap();
    let counter = InMemoryCounter::new();

    for _ in 0..3 {
        ring.encrypt(&counter, &message_binding(), PLAINTEXT)
            .unwrap();
    }
    let error = ring
        .encrypt(&counter, &message_binding(), PLAINTEXT)
        .unwrap_err();
    assert_eq!(
        error,
        CryptoError::CeilingReached {
            kek: kek(1),
            ceiling: 3
        }
    );
}

#[test]
fn default_ceiling_refuses_at_two_to_the_thirty() {
    let ring = ring_v1();
    let counter = InMemoryCounter::new();
    counter.set(&kek(1), DEFAULT_ENCRYPTION_CEILING - 1);

    ring.encrypt(&counter, &message_binding(), PLAINTEXT)
        .unwrap();
    let error = ring
        .encrypt(&counter, &message_binding(), PLAINTEXT)
        .unwrap_err();
    assert_eq!(
        error,
        CryptoError::CeilingReached {
            kek: kek(1),
            ceiling: 1 << 30
        }
    );
}

#[test]
fn rotation_resets_the_ceiling() {
    let counter = InMemoryCounter::new();
    counter.set(&kek(1), DEFAULT_ENCRYPTION_CEILING);

    let error = ring_v1()
        .encrypt(&counter, &message_binding(), PLAINTEXT)
        .unwrap_err();
    assert!(matches!(error, CryptoError::CeilingReached { .. }));
    ring_with(2, 1)
        .encrypt(&counter, &message_binding(), PLAINTEXT)
        .unwrap();
}

#[test]
fn ceiling_above_maximum_is_rejected() {
    let mut ring = KeyRing::new();
    let error = ring
        .set_encryption_ceiling(MAX_ENCRYPTION_CEILING + 1)
        .unwrap_err();
    assert_eq!(
        error,
        KeyConfigError::CeilingOutOfRange {
            ceiling: MAX_ENCRYPTION_CEILING + 1,
            max: 1 << 31
        }
    );
    assert!(ring.set_encryption_ceiling(0).is_err());
}

struct FailingCounter;

impl EncryptionCounter for FailingCounter {
    fn increment(&self, _kek: &KekId) -> Result<u64, portal_crypto::CounterError> {
        Err(portal_crypto::CounterError::new("store unavailable"))
    }
}

#[test]
fn counter_failure_refuses_encryption() {
    let error = ring_v1()
        .encrypt(&FailingCounter, &message_binding(), PLAINTEXT)
        .unwrap_err();
    assert_eq!(
        error,
        CryptoError::Counter(portal_crypto::CounterError::new("store unavailable"))
    );
}

#[test]
fn reserved_count_allows_one_encryption() {
    let ring = ring_v1();
    let reserved = ReservedCount::new(kek(1), 42);

    ring.encrypt(&reserved, &message_binding(), PLAINTEXT)
        .unwrap();
    let error = ring
        .encrypt(&reserved, &message_binding(), PLAINTEXT)
        .unwrap_err();
    assert!(matches!(error, CryptoError::Counter(_)));
}

#[test]
fn reserved_count_for_another_version_is_refused() {
    let reserved = ReservedCount::new(kek(1), 1);
    let error = ring_with(2, 1)
        .encrypt(&reserved, &message_binding(), PLAINTEXT)
        .unwrap_err();
    assert!(matches!(error, CryptoError::Counter(_)));
}

#[test]
fn invalid_bindings_are_rejected() {
    let acme = || tenant("acme");
    let cases = [
        ("", "id-1", "record_type"),
        ("Message", "id-1", "record_type"),
        ("message", "", "record_id"),
        ("message", "two words", "record_id"),
    ];
    for (record_type, record_id, field) in cases {
        let error = RecordBinding::new(acme(), Domain::Auth, record_type, record_id).unwrap_err();
        assert!(
            matches!(error, CryptoError::InvalidBinding { field: f, .. } if f == field),
            "{record_type:?} {record_id:?}"
        );
    }
}

#[test]
fn debug_output_shows_no_key_material() {
    let ring = ring_v1();
    let printed = format!("{ring:?}");

    assert!(printed.contains("KeyRing"));
    assert!(printed.contains("AES-256-GCM"));
    assert!(printed.ends_with(".. }"));
    assert!(!printed.contains("[1, 1, 1"));
    let keys = domain_keys("acme", Domain::Audit, 1, 1);
    assert!(format!("{keys:?}").ends_with(".. }"));
}
