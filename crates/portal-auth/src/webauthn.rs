//! WebAuthn Level 3 ceremonies, relying-party side: verifying a new passkey's registration
//! and an assertion made with it.
//!
//! The checks follow sections 7.1 and 7.2 of the specification: the client data's type,
//! challenge and origin; the authenticator data's RP ID hash and flags (user present, user
//! verified when required, no backup state without backup eligibility); the credential
//! public key's algorithm (ES256 and EdDSA); the signature; and the signature counter,
//! where a counter that does not increase is reported so the caller can flag it. Attestation
//! statements are not verified: the portal asks for `none` and trusts no authenticator
//! vendor, so a registration is as strong as the user verification behind it.
//!
//! Challenges are the caller's to store: each is random, single use and short-lived, and the
//! caller passes the one it issued.

use base64ct::{Base64UrlUnpadded, Encoding};
use coset::{AsCborValue, CoseKey, KeyType, Label, iana};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// COSE algorithm identifier of ES256 (ECDSA with P-256 and SHA-256).
pub const ES256: i64 = -7;
/// COSE algorithm identifier of EdDSA (Ed25519).
pub const EDDSA: i64 = -8;

/// Maximum credential id length, in bytes (the specification's limit).
pub const MAX_CREDENTIAL_ID_LEN: usize = 1023;

/// Maximum client data length, in bytes.
const MAX_CLIENT_DATA_LEN: usize = 4096;

/// The reason a ceremony failed, with a stable snake_case code for the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WebauthnError {
    /// The client data is not the JSON the specification describes.
    #[error("the client data is malformed")]
    ClientDataMalformed,
    /// The client data is for the other ceremony.
    #[error("the client data has the wrong type")]
    WrongType,
    /// The challenge is not the one issued.
    #[error("the challenge does not match")]
    WrongChallenge,
    /// The origin is not the portal's.
    #[error("the origin is not allowed")]
    WrongOrigin,
    /// The ceremony ran in a cross-origin frame.
    #[error("cross-origin ceremonies are not allowed")]
    CrossOrigin,
    /// The authenticator data is truncated or inconsistent.
    #[error("the authenticator data is malformed")]
    AuthenticatorDataMalformed,
    /// The attestation object is not the CBOR map the specification describes.
    #[error("the attestation object is malformed")]
    AttestationMalformed,
    /// The RP ID hash is not that of the portal's RP ID.
    #[error("the RP ID does not match")]
    WrongRpId,
    /// The user-present flag is not set.
    #[error("the user was not present")]
    UserNotPresent,
    /// User verification was required and the flag is not set.
    #[error("the user was not verified")]
    UserNotVerified,
    /// The backup-state flag is set without backup eligibility, which the specification
    /// forbids.
    #[error("backup state without backup eligibility")]
    InvalidBackupFlags,
    /// A credential's backup eligibility differs from its registration's. The specification
    /// fixes it per credential, so a change means another authenticator.
    #[error("backup eligibility changed")]
    BackupEligibilityChanged,
    /// A registration without attested credential data.
    #[error("no credential in the registration")]
    CredentialMissing,
    /// The credential id is empty or longer than the specification allows.
    #[error("the credential id is not valid")]
    CredentialIdInvalid,
    /// The public key is not an ES256 or EdDSA COSE key.
    #[error("the key algorithm is not supported")]
    UnsupportedAlgorithm,
    /// The public key does not decode.
    #[error("the public key is malformed")]
    KeyMalformed,
    /// The signature does not verify.
    #[error("the signature is not valid")]
    BadSignature,
}

impl WebauthnError {
    /// Returns the stable code of the error, for audit records.
    pub fn code(self) -> &'static str {
        match self {
            WebauthnError::ClientDataMalformed => "client_data_malformed",
            WebauthnError::WrongType => "wrong_type",
            WebauthnError::WrongChallenge => "wrong_challenge",
            WebauthnError::WrongOrigin => "wrong_origin",
            WebauthnError::CrossOrigin => "cross_origin",
            WebauthnError::AuthenticatorDataMalformed => "authenticator_data_malformed",
            WebauthnError::AttestationMalformed => "attestation_malformed",
            WebauthnError::WrongRpId => "wrong_rp_id",
            WebauthnError::UserNotPresent => "user_not_present",
            WebauthnError::UserNotVerified => "user_not_verified",
            WebauthnError::InvalidBackupFlags => "invalid_backup_flags",
            WebauthnError::BackupEligibilityChanged => "backup_eligibility_changed",
            WebauthnError::CredentialMissing => "credential_missing",
            WebauthnError::CredentialIdInvalid => "credential_id_invalid",
            WebauthnError::UnsupportedAlgorithm => "unsupported_algorithm",
            WebauthnError::KeyMalformed => "key_malformed",
            WebauthnError::BadSignature => "bad_signature",
        }
    }
}

/// The relying party: the RP ID credentials are scoped to, and the origins ceremonies may
/// run on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelyingParty {
    /// The RP ID, a registrable domain such as `portal.example.org`.
    pub id: String,
    /// Origins allowed in client data, such as `https://portal.example.org`.
    pub origins: Vec<String>,
}

impl RelyingParty {
    /// Returns the relying party of one origin, with the origin's host as RP ID.
    pub fn for_origin(origin: &str) -> Option<Self> {
        let parsed = url::Url::parse(origin).ok()?;
        let host = parsed.host_str()?.to_owned();
        let origin = parsed.origin().ascii_serialization();
        Some(Self {
            id: host,
            origins: vec![origin],
        })
    }

    fn id_hash(&self) -> [u8; 32] {
        Sha256::digest(self.id.as_bytes()).into()
    }
}

/// The authenticator data's flag byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flags(u8);

impl Flags {
    /// User present (UP).
    pub const USER_PRESENT: u8 = 0x01;
    /// User verified (UV).
    pub const USER_VERIFIED: u8 = 0x04;
    /// Backup eligible (BE).
    pub const BACKUP_ELIGIBLE: u8 = 0x08;
    /// Backed up (BS).
    pub const BACKED_UP: u8 = 0x10;
    /// Attested credential data included (AT).
    pub const ATTESTED: u8 = 0x40;
    /// Extension data included (ED).
    pub const EXTENSIONS: u8 = 0x80;

    fn has(self, bit: u8) -> bool {
        self.0 & bit != 0
    }

    /// Returns whether the user was verified.
    pub fn user_verified(self) -> bool {
        self.has(Self::USER_VERIFIED)
    }

    /// Returns whether the credential may be backed up (a synced passkey).
    pub fn backup_eligible(self) -> bool {
        self.has(Self::BACKUP_ELIGIBLE)
    }

    /// Returns whether the credential is backed up now.
    pub fn backed_up(self) -> bool {
        self.has(Self::BACKED_UP)
    }
}

/// Parsed authenticator data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticatorData {
    /// SHA-256 of the RP ID the authenticator used.
    pub rp_id_hash: [u8; 32],
    /// The flags.
    pub flags: Flags,
    /// The signature counter.
    pub sign_count: u32,
    /// The new credential, in a registration.
    pub credential: Option<AttestedCredential>,
}

/// The attested credential data of a registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttestedCredential {
    /// The authenticator model's AAGUID (all zeros when the authenticator hides it).
    pub aaguid: [u8; 16],
    /// The credential id.
    pub id: Vec<u8>,
    /// The credential public key, a COSE_Key in CBOR.
    pub public_key: Vec<u8>,
}

/// Parses authenticator data (WebAuthn section 6.1).
pub fn parse_authenticator_data(bytes: &[u8]) -> Result<AuthenticatorData, WebauthnError> {
    let malformed = WebauthnError::AuthenticatorDataMalformed;
    if bytes.len() < 37 {
        return Err(malformed);
    }
    let (head, rest) = bytes.split_at(37);
    let rp_id_hash: [u8; 32] = head[..32].try_into().map_err(|_| malformed)?;
    let flags = Flags(head[32]);
    let sign_count = u32::from_be_bytes(head[33..37].try_into().map_err(|_| malformed)?);
    let mut rest = rest;
    let credential = if flags.has(Flags::ATTESTED) {
        if rest.len() < 18 {
            return Err(malformed);
        }
        let aaguid: [u8; 16] = rest[..16].try_into().map_err(|_| malformed)?;
        let id_len = usize::from(u16::from_be_bytes([rest[16], rest[17]]));
        rest = &rest[18..];
        if id_len == 0 || id_len > MAX_CREDENTIAL_ID_LEN {
            return Err(WebauthnError::CredentialIdInvalid);
        }
        if rest.len() < id_len {
            return Err(malformed);
        }
        let (id, after_id) = rest.split_at(id_len);
        // The key is one CBOR item; reading it from a slice leaves the slice after it.
        let mut reader = after_id;
        let _: ciborium::Value =
            ciborium::de::from_reader(&mut reader).map_err(|_| WebauthnError::KeyMalformed)?;
        let key_len = after_id.len() - reader.len();
        let public_key = after_id[..key_len].to_vec();
        rest = reader;
        Some(AttestedCredential {
            aaguid,
            id: id.to_vec(),
            public_key,
        })
    } else {
        None
    };
    if flags.has(Flags::EXTENSIONS) {
        let mut reader = rest;
        let _: ciborium::Value = ciborium::de::from_reader(&mut reader).map_err(|_| malformed)?;
        rest = reader;
    }
    if !rest.is_empty() {
        return Err(malformed);
    }
    Ok(AuthenticatorData {
        rp_id_hash,
        flags,
        sign_count,
        credential,
    })
}

#[derive(Deserialize)]
struct ClientData {
    #[serde(rename = "type")]
    kind: String,
    challenge: String,
    origin: String,
    #[serde(rename = "crossOrigin", default)]
    cross_origin: Option<bool>,
}

/// Checks the client data JSON of a ceremony of `kind` against the issued challenge.
fn check_client_data(
    rp: &RelyingParty,
    client_data_json: &[u8],
    kind: &str,
    challenge: &[u8],
) -> Result<(), WebauthnError> {
    if client_data_json.len() > MAX_CLIENT_DATA_LEN {
        return Err(WebauthnError::ClientDataMalformed);
    }
    let data: ClientData =
        serde_json::from_slice(client_data_json).map_err(|_| WebauthnError::ClientDataMalformed)?;
    if data.kind != kind {
        return Err(WebauthnError::WrongType);
    }
    let sent = Base64UrlUnpadded::decode_vec(data.challenge.trim_end_matches('='))
        .map_err(|_| WebauthnError::WrongChallenge)?;
    if sent.len() != challenge.len() || !bool::from(sent.ct_eq(challenge)) {
        return Err(WebauthnError::WrongChallenge);
    }
    if !rp.origins.iter().any(|origin| origin == &data.origin) {
        return Err(WebauthnError::WrongOrigin);
    }
    if data.cross_origin == Some(true) {
        return Err(WebauthnError::CrossOrigin);
    }
    Ok(())
}

/// Checks the RP ID hash and the flags common to both ceremonies.
fn check_authenticator(
    rp: &RelyingParty,
    data: &AuthenticatorData,
    require_user_verification: bool,
) -> Result<(), WebauthnError> {
    if !bool::from(data.rp_id_hash.ct_eq(&rp.id_hash())) {
        return Err(WebauthnError::WrongRpId);
    }
    if !data.flags.has(Flags::USER_PRESENT) {
        return Err(WebauthnError::UserNotPresent);
    }
    if require_user_verification && !data.flags.user_verified() {
        return Err(WebauthnError::UserNotVerified);
    }
    if data.flags.backed_up() && !data.flags.backup_eligible() {
        return Err(WebauthnError::InvalidBackupFlags);
    }
    Ok(())
}

/// A public key the portal verifies assertions with.
enum PublicKey {
    Es256(p256::ecdsa::VerifyingKey),
    EdDsa(ed25519_compact::PublicKey),
}

fn integer(value: &ciborium::Value) -> Option<i64> {
    value
        .as_integer()
        .and_then(|number| i64::try_from(number).ok())
}

fn key_parameter(key: &CoseKey, label: i64) -> Option<&ciborium::Value> {
    key.params
        .iter()
        .find(|(name, _)| *name == Label::Int(label))
        .map(|(_, value)| value)
}

/// Decodes a COSE_Key of an algorithm the portal accepts, returning the key and the COSE
/// algorithm identifier.
fn decode_key(cose: &[u8]) -> Result<(PublicKey, i64), WebauthnError> {
    let value: ciborium::Value =
        ciborium::de::from_reader(cose).map_err(|_| WebauthnError::KeyMalformed)?;
    let key = CoseKey::from_cbor_value(value).map_err(|_| WebauthnError::KeyMalformed)?;
    let algorithm = match &key.alg {
        Some(coset::Algorithm::Assigned(iana::Algorithm::ES256)) => ES256,
        Some(coset::Algorithm::Assigned(iana::Algorithm::EdDSA)) => EDDSA,
        _ => return Err(WebauthnError::UnsupportedAlgorithm),
    };
    let bytes = |label: i64| {
        key_parameter(&key, label)
            .and_then(ciborium::Value::as_bytes)
            .ok_or(WebauthnError::KeyMalformed)
    };
    let curve = key_parameter(&key, iana::Ec2KeyParameter::Crv as i64).and_then(integer);
    match (algorithm, &key.kty) {
        (ES256, KeyType::Assigned(iana::KeyType::EC2))
            if curve == Some(iana::EllipticCurve::P_256 as i64) =>
        {
            let x = bytes(iana::Ec2KeyParameter::X as i64)?;
            let y = bytes(iana::Ec2KeyParameter::Y as i64)?;
            if x.len() != 32 || y.len() != 32 {
                return Err(WebauthnError::KeyMalformed);
            }
            let mut point = Vec::with_capacity(65);
            point.push(0x04);
            point.extend_from_slice(x);
            point.extend_from_slice(y);
            let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(&point)
                .map_err(|_| WebauthnError::KeyMalformed)?;
            Ok((PublicKey::Es256(key), ES256))
        }
        (EDDSA, KeyType::Assigned(iana::KeyType::OKP))
            if curve == Some(iana::EllipticCurve::Ed25519 as i64) =>
        {
            let x = bytes(iana::OkpKeyParameter::X as i64)?;
            let key = ed25519_compact::PublicKey::from_slice(x)
                .map_err(|_| WebauthnError::KeyMalformed)?;
            // A point off the curve or of small order can never verify a signature, so as a
            // registered factor it would only lock the user out.
            key.validate().map_err(|_| WebauthnError::KeyMalformed)?;
            Ok((PublicKey::EdDsa(key), EDDSA))
        }
        _ => Err(WebauthnError::UnsupportedAlgorithm),
    }
}

/// A registered credential, as the portal stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    /// The credential id.
    pub id: Vec<u8>,
    /// The COSE_Key, in CBOR.
    pub public_key: Vec<u8>,
    /// The COSE algorithm: [`ES256`] or [`EDDSA`].
    pub algorithm: i64,
    /// The last signature counter seen.
    pub sign_count: u32,
    /// Whether the credential may be synced to other devices.
    pub backup_eligible: bool,
    /// Whether it was backed up at the last ceremony.
    pub backed_up: bool,
    /// The authenticator model's AAGUID.
    pub aaguid: [u8; 16],
}

#[derive(Deserialize)]
struct AttestationObject {
    fmt: String,
    #[serde(rename = "authData", with = "serde_bytes_compat")]
    auth_data: Vec<u8>,
}

/// Reads a CBOR byte string into `Vec<u8>` (serde's default expects a sequence).
mod serde_bytes_compat {
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<u8>, D::Error> {
        let value: ciborium::Value = serde::Deserialize::deserialize(deserializer)?;
        value
            .into_bytes()
            .map_err(|_| serde::de::Error::custom("expected a byte string"))
    }
}

/// Verifies a registration (WebAuthn section 7.1) and returns the new credential.
///
/// `challenge` is the one the portal issued for this registration. User verification is
/// required when `require_user_verification` is set, as it is for passkeys that stand in for
/// two factors.
pub fn verify_registration(
    rp: &RelyingParty,
    challenge: &[u8],
    client_data_json: &[u8],
    attestation_object: &[u8],
    require_user_verification: bool,
) -> Result<Credential, WebauthnError> {
    check_client_data(rp, client_data_json, "webauthn.create", challenge)?;
    let object: AttestationObject = ciborium::de::from_reader(attestation_object)
        .map_err(|_| WebauthnError::AttestationMalformed)?;
    if object.fmt.is_empty() {
        return Err(WebauthnError::AttestationMalformed);
    }
    let data = parse_authenticator_data(&object.auth_data)?;
    check_authenticator(rp, &data, require_user_verification)?;
    let credential = data.credential.ok_or(WebauthnError::CredentialMissing)?;
    let (_, algorithm) = decode_key(&credential.public_key)?;
    Ok(Credential {
        id: credential.id,
        public_key: credential.public_key,
        algorithm,
        sign_count: data.sign_count,
        backup_eligible: data.flags.backup_eligible(),
        backed_up: data.flags.backed_up(),
        aaguid: credential.aaguid,
    })
}

/// The facts a verified assertion reports about the credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AssertionOutcome {
    /// The counter the authenticator reported, to store.
    pub sign_count: u32,
    /// Set when the counter did not increase although one of the two counters is not zero:
    /// the credential may have been cloned. The caller records it and decides.
    pub counter_regressed: bool,
    /// Whether the user was verified.
    pub user_verified: bool,
    /// Whether the credential is backed up now.
    pub backed_up: bool,
}

/// Verifies an assertion (WebAuthn section 7.2) made with `credential`.
pub fn verify_assertion(
    rp: &RelyingParty,
    credential: &Credential,
    challenge: &[u8],
    client_data_json: &[u8],
    authenticator_data: &[u8],
    signature: &[u8],
    require_user_verification: bool,
) -> Result<AssertionOutcome, WebauthnError> {
    check_client_data(rp, client_data_json, "webauthn.get", challenge)?;
    let data = parse_authenticator_data(authenticator_data)?;
    if data.credential.is_some() {
        return Err(WebauthnError::AuthenticatorDataMalformed);
    }
    check_authenticator(rp, &data, require_user_verification)?;
    if data.flags.backup_eligible() != credential.backup_eligible {
        return Err(WebauthnError::BackupEligibilityChanged);
    }
    let (key, algorithm) = decode_key(&credential.public_key)?;
    if algorithm != credential.algorithm {
        return Err(WebauthnError::UnsupportedAlgorithm);
    }
    let mut signed = authenticator_data.to_vec();
    signed.extend_from_slice(&Sha256::digest(client_data_json));
    let verified = match key {
        PublicKey::Es256(key) => {
            use p256::ecdsa::signature::Verifier;
            let signature = p256::ecdsa::Signature::from_der(signature)
                .map_err(|_| WebauthnError::BadSignature)?;
            // Authenticators may send either S; ECDSA accepts both, so take the low one.
            let signature = signature.normalize_s();
            key.verify(&signed, &signature).is_ok()
        }
        PublicKey::EdDsa(key) => ed25519_compact::Signature::from_slice(signature)
            .map(|signature| key.verify(&signed, &signature).is_ok())
            .unwrap_or(false),
    };
    if !verified {
        return Err(WebauthnError::BadSignature);
    }
    let counter_regressed = (data.sign_count != 0 || credential.sign_count != 0)
        && data.sign_count <= credential.sign_count;
    Ok(AssertionOutcome {
        sign_count: data.sign_count,
        counter_regressed,
        user_verified: data.flags.user_verified(),
        backed_up: data.flags.backed_up(),
    })
}

#[cfg(feature = "software-authenticator")]
pub mod software;
