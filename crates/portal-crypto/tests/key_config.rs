//! Loading KEKs and blind index keys from variables.

#![expect(
    clippy::unwrap_used,
    reason = "a test reports an unexpected error by panicking"
)]

mod common;

use common::{base64_key, message_binding, tenant, variables};
use portal_crypto::{
    BlindIndexKeys, CryptoError, Domain, DomainKeys, FieldKind, InMemoryCounter, KekId,
    KeyConfigError, KeyRing, MAX_LIVE_KEY_VERSIONS, TenantId,
};

fn load(pairs: &[(&str, String)]) -> Result<DomainKeys, KeyConfigError> {
    DomainKeys::from_variables(tenant("acme"), Domain::Messaging, variables(pairs))
}

#[test]
fn keys_load_from_variables() {
    let keys = load(&[
        ("kek_acme_messaging_active", "3".into()),
        ("kek_acme_messaging_oldest", "2".into()),
        ("kek_acme_messaging_v2", base64_key(2)),
        ("kek_acme_messaging_v3", base64_key(3)),
    ])
    .unwrap();

    assert_eq!(keys.active_version(), 3);
    assert_eq!(keys.oldest_allowed_version(), 2);
    assert_eq!(
        keys.active_kek_id().variable_name(),
        "kek_acme_messaging_v3"
    );
}

#[test]
fn loaded_keys_decrypt_what_they_encrypt() {
    let keys = load(&[
        ("kek_acme_messaging_active", "1".into()),
        ("kek_acme_messaging_v1", base64_key(9)),
    ])
    .unwrap();
    let mut ring = KeyRing::new();
    ring.insert(keys);

    let envelope = ring
        .encrypt(&InMemoryCounter::new(), &message_binding(), b"hello")
        .unwrap();
    assert_eq!(
        ring.decrypt(&message_binding(), &envelope)
            .unwrap()
            .as_slice(),
        b"hello"
    );
}

#[test]
fn oldest_defaults_to_active() {
    let keys = load(&[
        ("kek_acme_messaging_active", "4".into()),
        ("kek_acme_messaging_v4", base64_key(4)),
    ])
    .unwrap();
    assert_eq!(keys.oldest_allowed_version(), 4);
}

#[test]
fn missing_active_variable_is_rejected() {
    let error = load(&[("kek_acme_messaging_v1", base64_key(1))]).unwrap_err();
    assert_eq!(
        error,
        KeyConfigError::MissingVariable {
            name: "kek_acme_messaging_active".into()
        }
    );
}

#[test]
fn missing_key_version_is_rejected() {
    let error = load(&[
        ("kek_acme_messaging_active", "2".into()),
        ("kek_acme_messaging_oldest", "1".into()),
        ("kek_acme_messaging_v2", base64_key(2)),
    ])
    .unwrap_err();
    assert_eq!(
        error,
        KeyConfigError::MissingVariable {
            name: "kek_acme_messaging_v1".into()
        }
    );
}

#[test]
fn short_key_is_rejected() {
    let error = load(&[
        ("kek_acme_messaging_active", "1".into()),
        ("kek_acme_messaging_v1", "AAECAwQFBgcICQoLDA0ODw==".into()),
    ])
    .unwrap_err();
    assert_eq!(
        error,
        KeyConfigError::InvalidKeyEncoding {
            name: "kek_acme_messaging_v1".into()
        }
    );
}

#[test]
fn key_error_message_does_not_echo_the_value() {
    let secret_looking = "not-base64-but-secret!";
    let error = load(&[
        ("kek_acme_messaging_active", "1".into()),
        ("kek_acme_messaging_v1", secret_looking.into()),
    ])
    .unwrap_err();
    assert!(!error.to_string().contains(secret_looking));
}

#[test]
fn invalid_version_numbers_are_rejected() {
    for value in ["0", "-1", "two", "4294967296"] {
        let error = load(&[("kek_acme_messaging_active", value.into())]).unwrap_err();
        assert_eq!(
            error,
            KeyConfigError::InvalidVersion {
                name: "kek_acme_messaging_active".into()
            },
            "{value:?}"
        );
    }
}

#[test]
fn oldest_newer_than_active_is_rejected() {
    let error = load(&[
        ("kek_acme_messaging_active", "2".into()),
        ("kek_acme_messaging_oldest", "3".into()),
    ])
    .unwrap_err();
    assert_eq!(
        error,
        KeyConfigError::VersionOrder {
            active: 2,
            oldest: 3
        }
    );
}

#[test]
fn too_many_live_versions_are_rejected() {
    let error = load(&[
        ("kek_acme_messaging_active", "100".into()),
        ("kek_acme_messaging_oldest", "1".into()),
    ])
    .unwrap_err();
    assert_eq!(
        error,
        KeyConfigError::TooManyVersions {
            count: 100,
            max: MAX_LIVE_KEY_VERSIONS
        }
    );
}

#[test]
fn explicit_key_set_must_cover_every_allowed_version() {
    let error =
        DomainKeys::new(tenant("acme"), Domain::Auth, 2, 1, [(2, common::key(2))]).unwrap_err();
    assert_eq!(
        error,
        KeyConfigError::MissingKey {
            kek: KekId {
                tenant: tenant("acme"),
                domain: Domain::Auth,
                version: 1
            }
        }
    );
}

#[test]
fn tenant_names_follow_variable_rules() {
    assert!(TenantId::new("acme2").is_ok());
    for name in ["", "Acme", "acme_corp", "acme-corp", &"a".repeat(33)] {
        assert_eq!(
            TenantId::new(name),
            Err(KeyConfigError::InvalidTenant),
            "{name:?}"
        );
    }
}

#[test]
fn counter_key_names_the_kek() {
    let id = KekId {
        tenant: tenant("acme"),
        domain: Domain::Uploads,
        version: 5,
    };
    assert_eq!(id.counter_key(), "kek-count/acme/uploads/v5");
    assert_eq!(id.to_string(), "acme/uploads/v5");
}

#[test]
fn blind_index_key_loads_from_variables() {
    let name = BlindIndexKeys::variable_name(&tenant("acme"), Domain::Auth);
    assert_eq!(name, "blind_index_key_acme_auth");

    let keys = BlindIndexKeys::from_variables(
        tenant("acme"),
        Domain::Auth,
        variables(&[("blind_index_key_acme_auth", base64_key(5))]),
    )
    .unwrap();
    assert!(keys.index(FieldKind::Email, "a@example.com").is_ok());
}

#[test]
fn missing_blind_index_key_is_rejected() {
    let error =
        BlindIndexKeys::from_variables(tenant("acme"), Domain::Auth, variables(&[])).unwrap_err();
    assert_eq!(
        error,
        KeyConfigError::MissingVariable {
            name: "blind_index_key_acme_auth".into()
        }
    );
}

#[test]
fn ring_without_domain_keys_rejects_decryption() {
    let mut ring = KeyRing::new();
    ring.insert(common::domain_keys("acme", Domain::Messaging, 1, 1));
    let envelope = ring
        .encrypt(&InMemoryCounter::new(), &message_binding(), b"hello")
        .unwrap();

    let empty = KeyRing::new();
    let error = empty.decrypt(&message_binding(), &envelope).unwrap_err();
    assert_eq!(
        error,
        CryptoError::NoKeysForDomain {
            tenant: tenant("acme"),
            domain: Domain::Messaging
        }
    );
}
