//! Envelope encryption for a component's records, with keys from Spin variables and the
//! per-key encryption count in the component's key-value store.

use std::collections::HashMap;

use portal_crypto::{
    BlindIndex, BlindIndexKeys, Domain, DomainKeys, FieldKind, KeyRing, RecordBinding,
    ReservedCount, TenantId,
};
use portal_problem::{Problem, ProblemKind};
use zeroize::Zeroizing;

use crate::kv::Store;

/// The keys of one tenant and data domain.
pub struct Sealer {
    tenant: TenantId,
    domain: Domain,
    ring: KeyRing,
    index_keys: BlindIndexKeys,
}

impl core::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Sealer")
            .field("tenant", &self.tenant)
            .field("domain", &self.domain)
            .finish_non_exhaustive()
    }
}

fn config_error(what: &str) -> Problem {
    eprintln!("encryption keys misconfigured: {what}");
    Problem::new(ProblemKind::ServiceUnavailable)
}

impl Sealer {
    /// Loads the tenant from the `tenant` variable and the domain's KEKs and blind-index key
    /// from their variables (see `portal_crypto::DomainKeys`).
    pub async fn load(domain: Domain) -> Result<Self, Problem> {
        let tenant_name = spin_sdk::variables::get("tenant")
            .await
            .map_err(|_| config_error("tenant variable"))?;
        let tenant = TenantId::new(tenant_name).map_err(|_| config_error("tenant name"))?;
        let prefix = format!("kek_{tenant}_{domain}_", domain = domain.as_str());
        let mut values: HashMap<String, Zeroizing<String>> = HashMap::new();
        for suffix in ["active", "oldest"] {
            let name = format!("{prefix}{suffix}");
            if let Ok(value) = spin_sdk::variables::get(&name).await {
                values.insert(name, Zeroizing::new(value));
            }
        }
        let active: u32 = values
            .get(&format!("{prefix}active"))
            .and_then(|value| value.parse().ok())
            .ok_or_else(|| config_error("active KEK version"))?;
        let oldest: u32 = values
            .get(&format!("{prefix}oldest"))
            .and_then(|value| value.parse().ok())
            .unwrap_or(active);
        for version in oldest.min(active)..=active {
            let name = format!("{prefix}v{version}");
            if let Ok(value) = spin_sdk::variables::get(&name).await {
                values.insert(name, Zeroizing::new(value));
            }
        }
        let index_name = BlindIndexKeys::variable_name(&tenant, domain);
        if let Ok(value) = spin_sdk::variables::get(&index_name).await {
            values.insert(index_name, Zeroizing::new(value));
        }
        let lookup = |name: &str| values.get(name).map(|value| value.to_string());
        let keys = DomainKeys::from_variables(tenant.clone(), domain, lookup)
            .map_err(|_| config_error("KEK variables"))?;
        let index_keys = BlindIndexKeys::from_variables(tenant.clone(), domain, lookup)
            .map_err(|_| config_error("blind index variable"))?;
        let mut ring = KeyRing::new();
        ring.insert(keys);
        Ok(Self {
            tenant,
            domain,
            ring,
            index_keys,
        })
    }

    /// The binding of a record of this tenant and domain.
    pub fn binding(&self, record_type: &str, record_id: &str) -> Result<RecordBinding, Problem> {
        RecordBinding::new(self.tenant.clone(), self.domain, record_type, record_id)
            .map_err(|_| Problem::new(ProblemKind::Internal))
    }

    /// Reserves one encryption under the active KEK in `store`.
    fn reserve(&self, store: &Store) -> Result<ReservedCount, Problem> {
        let kek = self
            .ring
            .active_kek_id(&self.tenant, self.domain)
            .ok_or_else(|| Problem::new(ProblemKind::Internal))?;
        let count = store.increment(&kek.counter_key(), 1)?;
        Ok(ReservedCount::new(
            kek,
            u64::try_from(count).unwrap_or(u64::MAX),
        ))
    }

    /// Encrypts `plaintext` for the record `record_type`/`record_id`.
    pub fn seal(
        &self,
        store: &Store,
        record_type: &str,
        record_id: &str,
        plaintext: &[u8],
    ) -> Result<Vec<u8>, Problem> {
        let binding = self.binding(record_type, record_id)?;
        let reserved = self.reserve(store)?;
        self.ring
            .encrypt(&reserved, &binding, plaintext)
            .map_err(Problem::from)
    }

    /// Decrypts an envelope written by [`Self::seal`] for the same record.
    pub fn open(
        &self,
        record_type: &str,
        record_id: &str,
        envelope: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, Problem> {
        let binding = self.binding(record_type, record_id)?;
        self.ring
            .decrypt(&binding, envelope)
            .map(|plaintext| Zeroizing::new(plaintext.to_vec()))
            .map_err(|error| {
                eprintln!("decryption failed: {error}");
                Problem::new(ProblemKind::Internal)
            })
    }

    /// Encrypts an identifier field on its own and returns it with its blind index.
    pub fn protect(
        &self,
        store: &Store,
        record_type: &str,
        record_id: &str,
        kind: FieldKind,
        value: &str,
    ) -> Result<portal_crypto::ProtectedField, Problem> {
        let binding = self.binding(record_type, record_id)?;
        let reserved = self.reserve(store)?;
        portal_crypto::protect_field(
            &self.ring,
            &reserved,
            &self.index_keys,
            &binding,
            kind,
            value,
        )
        .map_err(Problem::from)
    }

    /// Decrypts a field written by [`Self::protect`].
    pub fn reveal(
        &self,
        record_type: &str,
        record_id: &str,
        kind: FieldKind,
        ciphertext: &[u8],
    ) -> Result<Zeroizing<String>, Problem> {
        let binding = self.binding(record_type, record_id)?;
        portal_crypto::reveal_field(&self.ring, &binding, kind, ciphertext).map_err(|error| {
            eprintln!("field decryption failed: {error}");
            Problem::new(ProblemKind::Internal)
        })
    }

    /// The blind index of a field value, for lookups.
    pub fn index(&self, kind: FieldKind, value: &str) -> Result<BlindIndex, Problem> {
        self.index_keys.index(kind, value).map_err(Problem::from)
    }
}
