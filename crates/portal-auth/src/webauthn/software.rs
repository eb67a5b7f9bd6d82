//! A software authenticator for tests: it makes real registrations and assertions with P-256
//! or Ed25519 keys, as a security key or platform authenticator would, and lets a test change
//! what it reports (flags, counter, origin, RP ID) to build each negative case.
#![expect(
    clippy::expect_used,
    reason = "test support reports a broken environment by panicking"
)]

use base64ct::{Base64UrlUnpadded, Encoding};
use coset::{CborSerializable, CoseKeyBuilder, iana};
use sha2::{Digest, Sha256};

use super::Flags;

enum Key {
    Es256(p256::ecdsa::SigningKey),
    EdDsa(ed25519_compact::KeyPair),
}

/// A response to a registration: what a browser returns from `navigator.credentials.create`.
#[derive(Debug, Clone)]
pub struct Registration {
    /// The credential id.
    pub credential_id: Vec<u8>,
    /// `clientDataJSON`.
    pub client_data_json: Vec<u8>,
    /// `attestationObject`, with the `none` format.
    pub attestation_object: Vec<u8>,
}

/// A response to an authentication: what a browser returns from `navigator.credentials.get`.
#[derive(Debug, Clone)]
pub struct Assertion {
    /// The credential id.
    pub credential_id: Vec<u8>,
    /// `clientDataJSON`.
    pub client_data_json: Vec<u8>,
    /// `authenticatorData`.
    pub authenticator_data: Vec<u8>,
    /// `signature`: DER for ES256, 64 bytes for EdDSA.
    pub signature: Vec<u8>,
    /// `userHandle`.
    pub user_handle: Vec<u8>,
}

/// One credential on a software authenticator.
pub struct SoftwareAuthenticator {
    key: Key,
    /// The credential id.
    pub credential_id: Vec<u8>,
    /// The user handle the RP gave at registration.
    pub user_handle: Vec<u8>,
    /// The RP ID whose hash goes into authenticator data.
    pub rp_id: String,
    /// The origin the "browser" puts in client data.
    pub origin: String,
    /// The flags of the next response; user present and verified by default.
    pub flags: u8,
    /// The signature counter; each assertion adds `counter_step` first.
    pub sign_count: u32,
    /// The step each assertion adds to the counter. Zero imitates authenticators without one.
    pub counter_step: u32,
    /// The client data type of the next response, when a test wants the wrong one.
    pub client_data_type: Option<String>,
}

fn random<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).expect("system randomness");
    bytes
}

impl SoftwareAuthenticator {
    fn new(key: Key, rp_id: &str, origin: &str) -> Self {
        Self {
            key,
            credential_id: random::<16>().to_vec(),
            user_handle: Vec::new(),
            rp_id: rp_id.to_owned(),
            origin: origin.to_owned(),
            flags: Flags::USER_PRESENT | Flags::USER_VERIFIED,
            sign_count: 0,
            counter_step: 1,
            client_data_type: None,
        }
    }

    /// Creates a P-256 (ES256) credential for `rp_id`, used from `origin`.
    pub fn es256(rp_id: &str, origin: &str) -> Self {
        loop {
            if let Ok(key) = p256::ecdsa::SigningKey::from_slice(&random::<32>()) {
                return Self::new(Key::Es256(key), rp_id, origin);
            }
        }
    }

    /// Creates an Ed25519 (EdDSA) credential for `rp_id`, used from `origin`.
    pub fn eddsa(rp_id: &str, origin: &str) -> Self {
        let pair = ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::new(random()));
        Self::new(Key::EdDsa(pair), rp_id, origin)
    }

    /// Returns the credential public key as a COSE_Key.
    pub fn cose_key(&self) -> Vec<u8> {
        let key = match &self.key {
            Key::Es256(key) => {
                let point = key.verifying_key().to_sec1_point(false);
                let bytes = point.as_bytes();
                CoseKeyBuilder::new_ec2_pub_key(
                    iana::EllipticCurve::P_256,
                    bytes[1..33].to_vec(),
                    bytes[33..65].to_vec(),
                )
                .algorithm(iana::Algorithm::ES256)
                .build()
            }
            Key::EdDsa(pair) => CoseKeyBuilder::new_okp_key()
                .param(
                    iana::OkpKeyParameter::Crv as i64,
                    ciborium::Value::from(iana::EllipticCurve::Ed25519 as i64),
                )
                .param(
                    iana::OkpKeyParameter::X as i64,
                    ciborium::Value::Bytes(pair.pk.as_ref().to_vec()),
                )
                .algorithm(iana::Algorithm::EdDSA)
                .build(),
        };
        key.to_vec().expect("COSE key encodes")
    }

    fn client_data(&self, kind: &str, challenge: &[u8]) -> Vec<u8> {
        let kind = self.client_data_type.as_deref().unwrap_or(kind);
        serde_json::json!({
            "type": kind,
            "challenge": Base64UrlUnpadded::encode_string(challenge),
            "origin": self.origin,
            "crossOrigin": false,
        })
        .to_string()
        .into_bytes()
    }

    fn authenticator_data(&self, attested: bool) -> Vec<u8> {
        let mut data = Sha256::digest(self.rp_id.as_bytes()).to_vec();
        let flags = if attested {
            self.flags | Flags::ATTESTED
        } else {
            self.flags
        };
        data.push(flags);
        data.extend_from_slice(&self.sign_count.to_be_bytes());
        if attested {
            data.extend_from_slice(&[0u8; 16]);
            let id_len = u16::try_from(self.credential_id.len()).expect("short credential id");
            data.extend_from_slice(&id_len.to_be_bytes());
            data.extend_from_slice(&self.credential_id);
            data.extend_from_slice(&self.cose_key());
        }
        data
    }

    /// Registers the credential for `user_handle` with `challenge`.
    pub fn register(&mut self, challenge: &[u8], user_handle: &[u8]) -> Registration {
        self.user_handle = user_handle.to_vec();
        let client_data_json = self.client_data("webauthn.create", challenge);
        let auth_data = self.authenticator_data(true);
        let object = ciborium::Value::Map(vec![
            (
                ciborium::Value::Text("fmt".to_owned()),
                ciborium::Value::Text("none".to_owned()),
            ),
            (
                ciborium::Value::Text("attStmt".to_owned()),
                ciborium::Value::Map(Vec::new()),
            ),
            (
                ciborium::Value::Text("authData".to_owned()),
                ciborium::Value::Bytes(auth_data),
            ),
        ]);
        let mut attestation_object = Vec::new();
        ciborium::ser::into_writer(&object, &mut attestation_object).expect("CBOR encodes");
        Registration {
            credential_id: self.credential_id.clone(),
            client_data_json,
            attestation_object,
        }
    }

    /// Signs an assertion of `challenge`, advancing the counter.
    pub fn assert(&mut self, challenge: &[u8]) -> Assertion {
        self.sign_count = self.sign_count.wrapping_add(self.counter_step);
        let client_data_json = self.client_data("webauthn.get", challenge);
        let authenticator_data = self.authenticator_data(false);
        let mut signed = authenticator_data.clone();
        signed.extend_from_slice(&Sha256::digest(&client_data_json));
        let signature = match &self.key {
            Key::Es256(key) => {
                use p256::ecdsa::signature::Signer;
                let signature: p256::ecdsa::Signature = key.sign(&signed);
                signature.to_der().as_bytes().to_vec()
            }
            Key::EdDsa(pair) => pair.sk.sign(&signed, None).as_ref().to_vec(),
        };
        Assertion {
            credential_id: self.credential_id.clone(),
            client_data_json,
            authenticator_data,
            signature,
            user_handle: self.user_handle.clone(),
        }
    }
}
