//! Fixtures shared by the integration tests.

#![allow(dead_code, reason = "each test binary uses a different subset")]

use base64ct::{Base64, Encoding};
use portal_crypto::{Domain, DomainKeys, KeyRing, RecordBinding, SecretKey, TenantId};

/// Returns a deterministic test key whose bytes are all `seed`.
pub fn key(seed: u8) -> SecretKey {
    SecretKey::from_bytes([seed; 32])
}

pub fn tenant(name: &str) -> TenantId {
    TenantId::new(name).unwrap()
}

/// Messaging keys for `tenant` with versions `oldest..=active`; version N has key bytes N.
pub fn domain_keys(tenant_name: &str, domain: Domain, active: u32, oldest: u32) -> DomainKeys {
    let keys = (oldest..=active).map(|version| (version, key(version as u8)));
    DomainKeys::new(tenant(tenant_name), domain, active, oldest, keys).unwrap()
}

/// A ring for tenants `acme` and `globex`, every domain, with only version 1.
pub fn ring_v1() -> KeyRing {
    ring_with(1, 1)
}

pub fn ring_with(active: u32, oldest: u32) -> KeyRing {
    let mut ring = KeyRing::new();
    for name in ["acme", "globex"] {
        for domain in Domain::ALL {
            ring.insert(domain_keys(name, domain, active, oldest));
        }
    }
    ring
}

pub fn binding(record_type: &str, record_id: &str) -> RecordBinding {
    RecordBinding::new(tenant("acme"), Domain::Messaging, record_type, record_id).unwrap()
}

pub fn message_binding() -> RecordBinding {
    binding("message", "msg-0001")
}

/// Returns a variable lookup over fixed name/value pairs.
pub fn variables(pairs: &[(&str, String)]) -> impl FnMut(&str) -> Option<String> {
    let owned: Vec<(String, String)> = pairs
        .iter()
        .map(|(name, value)| ((*name).to_owned(), value.clone()))
        .collect();
    move |name| {
        owned
            .iter()
            .find(|(candidate, _)| candidate == name)
            .map(|(_, value)| value.clone())
    }
}

pub fn base64_key(seed: u8) -> String {
    Base64::encode_string(&[seed; 32])
}

/// Decodes lowercase or uppercase hex, as used by the Wycheproof files.
pub fn hex(text: &str) -> Vec<u8> {
    assert!(text.len().is_multiple_of(2), "odd-length hex string");
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}
