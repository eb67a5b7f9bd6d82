//! Key-encryption keys (KEKs): ids, per-domain version sets, and loading from variables.
//!
//! # Variables
//!
//! Keys come from Spin variables marked `secret = true`. Spin variable names allow only
//! lowercase letters, digits and underscores, so tenant names are `[a-z0-9]{1,32}` and the
//! domains are `auth`, `messaging`, `uploads` and `audit`. For tenant `acme` and domain
//! `messaging`:
//!
//! | variable | value |
//! |---|---|
//! | `kek_acme_messaging_active` | version that encrypts new records, such as `3` |
//! | `kek_acme_messaging_oldest` | oldest version still allowed to decrypt, such as `2`; defaults to the active version |
//! | `kek_acme_messaging_v3` | standard base64 of 32 random bytes (`openssl rand -base64 32`) |
//! | `kek_acme_messaging_v2` | the same for each version from oldest to active |
//!
//! Versions below `oldest` are retired: ciphertexts under them are rejected and their keys
//! are not loaded.

use core::fmt;
use std::collections::BTreeMap;

use crate::error::KeyConfigError;
use crate::secret::SecretKey;

/// Maximum number of key versions allowed to decrypt at once in one domain. Rotation
/// rewraps old records and then retires old versions, so a domain rarely needs more than
/// two or three. The cap bounds how many variables a misconfigured range makes a component
/// read.
pub const MAX_LIVE_KEY_VERSIONS: u32 = 16;

/// Maximum length of a tenant name in bytes.
pub const MAX_TENANT_LEN: usize = 32;

/// A tenant name, `[a-z0-9]{1,32}`, usable inside variable names and envelope headers.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TenantId(String);

impl TenantId {
    /// Parses a tenant name.
    pub fn new(name: impl Into<String>) -> Result<Self, KeyConfigError> {
        let name = name.into();
        if is_valid_tenant(name.as_bytes()) {
            Ok(Self(name))
        } else {
            Err(KeyConfigError::InvalidTenant)
        }
    }

    /// Returns the tenant name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

pub(crate) fn is_valid_tenant(name: &[u8]) -> bool {
    !name.is_empty()
        && name.len() <= MAX_TENANT_LEN
        && name
            .iter()
            .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit())
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("TenantId").field(&self.0).finish()
    }
}

/// A data domain. Each domain has its own KEKs, so a leaked messaging key exposes no
/// uploads or audit records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Domain {
    /// Accounts, credentials and sessions.
    Auth,
    /// Threads and messages.
    Messaging,
    /// Uploaded files.
    Uploads,
    /// The audit log.
    Audit,
    /// Facts about patients that auth's keyless session check must read to decide on proxy
    /// and emergency access: birth dates and break-the-glass reasons. Its own keys let that
    /// role open these and nothing else.
    Access,
}

impl Domain {
    /// Every domain.
    pub const ALL: [Domain; 5] = [
        Domain::Auth,
        Domain::Messaging,
        Domain::Uploads,
        Domain::Audit,
        Domain::Access,
    ];

    /// Returns the name used in variable names.
    pub fn as_str(self) -> &'static str {
        match self {
            Domain::Auth => "auth",
            Domain::Messaging => "messaging",
            Domain::Uploads => "uploads",
            Domain::Audit => "audit",
            Domain::Access => "access",
        }
    }

    /// Returns the byte that stands for the domain in envelope headers.
    pub fn code(self) -> u8 {
        match self {
            Domain::Auth => 1,
            Domain::Messaging => 2,
            Domain::Uploads => 3,
            Domain::Audit => 4,
            Domain::Access => 5,
        }
    }

    /// Returns the domain for a header byte.
    pub fn from_code(code: u8) -> Option<Self> {
        Domain::ALL.into_iter().find(|domain| domain.code() == code)
    }
}

impl fmt::Display for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Identifies one KEK: tenant, domain and version. Displayed as `acme/messaging/v3`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KekId {
    /// The tenant.
    pub tenant: TenantId,
    /// The data domain.
    pub domain: Domain,
    /// The version, from 1.
    pub version: u32,
}

impl KekId {
    /// Returns the name of the variable that contains this key, such as
    /// `kek_acme_messaging_v3`.
    pub fn variable_name(&self) -> String {
        format!(
            "{}v{}",
            variable_prefix(&self.tenant, self.domain),
            self.version
        )
    }

    /// Returns the key-value key under which components count encryptions with this KEK,
    /// such as `kek-count/acme/messaging/v3`.
    pub fn counter_key(&self) -> String {
        format!("kek-count/{self}")
    }
}

impl fmt::Display for KekId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/v{}", self.tenant, self.domain, self.version)
    }
}

/// Returns the common prefix of a domain's key variables, such as `kek_acme_messaging_`.
fn variable_prefix(tenant: &TenantId, domain: Domain) -> String {
    format!("kek_{tenant}_{domain}_")
}

/// The KEK versions of one tenant and domain: which version encrypts, and which versions
/// may still decrypt.
pub struct DomainKeys {
    tenant: TenantId,
    domain: Domain,
    active: u32,
    oldest_allowed: u32,
    keys: BTreeMap<u32, SecretKey>,
}

impl DomainKeys {
    /// Builds the key set from explicit keys. Every version from `oldest_allowed` to
    /// `active` must be present; keys of older versions are dropped, because they may no
    /// longer decrypt.
    pub fn new(
        tenant: TenantId,
        domain: Domain,
        active: u32,
        oldest_allowed: u32,
        keys: impl IntoIterator<Item = (u32, SecretKey)>,
    ) -> Result<Self, KeyConfigError> {
        check_version_range(active, oldest_allowed)?;

        let keys: BTreeMap<u32, SecretKey> = keys
            .into_iter()
            .filter(|(version, _)| (oldest_allowed..=active).contains(version))
            .collect();
        for version in oldest_allowed..=active {
            if !keys.contains_key(&version) {
                let kek = KekId {
                    tenant: tenant.clone(),
                    domain,
                    version,
                };
                return Err(KeyConfigError::MissingKey { kek });
            }
        }

        Ok(Self {
            tenant,
            domain,
            active,
            oldest_allowed,
            keys,
        })
    }

    /// Loads the key set from variables named as described in the [module docs](self).
    /// `lookup` returns a variable's value, or `None` when it is not set.
    pub fn from_variables(
        tenant: TenantId,
        domain: Domain,
        mut lookup: impl FnMut(&str) -> Option<String>,
    ) -> Result<Self, KeyConfigError> {
        let prefix = variable_prefix(&tenant, domain);
        let active = read_version(&mut lookup, &format!("{prefix}active"))?.ok_or_else(|| {
            KeyConfigError::MissingVariable {
                name: format!("{prefix}active"),
            }
        })?;
        let oldest = read_version(&mut lookup, &format!("{prefix}oldest"))?.unwrap_or(active);
        check_version_range(active, oldest)?;

        let mut keys = Vec::new();
        for version in oldest..=active {
            let name = format!("{prefix}v{version}");
            let value = lookup(&name)
                .ok_or_else(|| KeyConfigError::MissingVariable { name: name.clone() })?;
            let value = zeroize::Zeroizing::new(value);
            let key = SecretKey::from_base64(&value)
                .ok_or(KeyConfigError::InvalidKeyEncoding { name })?;
            keys.push((version, key));
        }

        Self::new(tenant, domain, active, oldest, keys)
    }

    /// Returns the tenant.
    pub fn tenant(&self) -> &TenantId {
        &self.tenant
    }

    /// Returns the domain.
    pub fn domain(&self) -> Domain {
        self.domain
    }

    /// Returns the version that encrypts new records.
    pub fn active_version(&self) -> u32 {
        self.active
    }

    /// Returns the oldest version still allowed to decrypt.
    pub fn oldest_allowed_version(&self) -> u32 {
        self.oldest_allowed
    }

    /// Returns the id of the active KEK.
    pub fn active_kek_id(&self) -> KekId {
        self.kek_id(self.active)
    }

    pub(crate) fn kek_id(&self, version: u32) -> KekId {
        KekId {
            tenant: self.tenant.clone(),
            domain: self.domain,
            version,
        }
    }

    pub(crate) fn active_key(&self) -> Option<&SecretKey> {
        self.keys.get(&self.active)
    }

    pub(crate) fn key(&self, version: u32) -> Option<&SecretKey> {
        self.keys.get(&version)
    }
}

impl fmt::Debug for DomainKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DomainKeys")
            .field("tenant", &self.tenant)
            .field("domain", &self.domain)
            .field("active", &self.active)
            .field("oldest_allowed", &self.oldest_allowed)
            .field("algorithm", &"AES-256-GCM")
            .finish_non_exhaustive()
    }
}

fn check_version_range(active: u32, oldest: u32) -> Result<(), KeyConfigError> {
    if oldest == 0 || active == 0 || oldest > active {
        return Err(KeyConfigError::VersionOrder { active, oldest });
    }

    let count = u64::from(active - oldest) + 1;
    if count > u64::from(MAX_LIVE_KEY_VERSIONS) {
        return Err(KeyConfigError::TooManyVersions {
            count,
            max: MAX_LIVE_KEY_VERSIONS,
        });
    }
    Ok(())
}

fn read_version(
    lookup: &mut impl FnMut(&str) -> Option<String>,
    name: &str,
) -> Result<Option<u32>, KeyConfigError> {
    let Some(value) = lookup(name) else {
        return Ok(None);
    };

    match value.trim().parse::<u32>() {
        Ok(version) if version >= 1 => Ok(Some(version)),
        _ => Err(KeyConfigError::InvalidVersion {
            name: name.to_owned(),
        }),
    }
}
