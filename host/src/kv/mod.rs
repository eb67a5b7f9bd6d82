//! Key-value storage behind `spin:key-value@3.0.0` and `wasi:keyvalue@0.2.0-draft2`.
//!
//! Both interfaces are views over the same labelled stores, as in Spin. Counters written by
//! `increment` use Spin's encodings (8-byte little-endian on SQLite, decimal text on Redis), so
//! data moves between this host and `spin up` unchanged.

mod bindings;
mod redis;
mod sqlite;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use tokio::sync::Mutex;

pub use bindings::{KvState, add_to_linker};

use crate::runtime_config::{KeyValueBackend, RuntimeConfig};

/// Upper bound on one value or on the summed size of a key listing, as in Spin (128 MiB).
pub const MAX_VALUE_BYTES: usize = 128 << 20;

/// Errors a store returns to the guest; host-side detail is logged, not returned.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The stored value is not a counter written by `increment`.
    #[error("value of key is not a counter")]
    NotACounter,
    /// The increment would overflow a signed 64-bit integer.
    #[error("counter overflow")]
    Overflow,
    /// The backend failed.
    #[error("store backend failed: {0}")]
    Backend(String),
}

/// The outcome of a compare-and-swap.
#[derive(Debug, PartialEq, Eq)]
pub enum Swap {
    /// The value was written.
    Written,
    /// Another writer changed the value first; carries the value seen now.
    Conflict(Option<Vec<u8>>),
}

/// Operations one labelled store supports.
#[async_trait::async_trait]
pub trait Store: Send + Sync {
    /// Returns the value of `key`.
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Sets `key` to `value`.
    async fn set(&self, key: &str, value: &[u8]) -> Result<(), StoreError>;
    /// Removes `key`; absent keys are not an error.
    async fn delete(&self, key: &str) -> Result<(), StoreError>;
    /// Returns whether `key` exists.
    async fn exists(&self, key: &str) -> Result<bool, StoreError>;
    /// Lists every key.
    async fn keys(&self) -> Result<Vec<String>, StoreError>;
    /// Adds `delta` to the counter at `key` (absent counts as zero) and returns the new value.
    async fn increment(&self, key: &str, delta: i64) -> Result<i64, StoreError>;
    /// Writes `new` only if the current value still equals `expected`.
    async fn compare_and_swap(
        &self,
        key: &str,
        expected: Option<&[u8]>,
        new: &[u8],
    ) -> Result<Swap, StoreError>;

    /// Returns several values.
    async fn get_many(
        &self,
        keys: Vec<String>,
    ) -> Result<Vec<(String, Option<Vec<u8>>)>, StoreError> {
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            let value = self.get(&key).await?;
            out.push((key, value));
        }
        Ok(out)
    }

    /// Sets several values; not atomic, as the interface allows.
    async fn set_many(&self, entries: Vec<(String, Vec<u8>)>) -> Result<(), StoreError> {
        for (key, value) in entries {
            self.set(&key, &value).await?;
        }
        Ok(())
    }

    /// Removes several keys; not atomic, as the interface allows.
    async fn delete_many(&self, keys: Vec<String>) -> Result<(), StoreError> {
        for key in keys {
            self.delete(&key).await?;
        }
        Ok(())
    }
}

/// Opens stores by label, sharing one backend connection per database.
pub struct StoreManager {
    backends: BTreeMap<String, KeyValueBackend>,
    open: Mutex<HashMap<String, Arc<dyn Store>>>,
}

impl StoreManager {
    /// Prepares the backends of every label some component lists.
    pub fn new<'a>(
        labels: impl IntoIterator<Item = &'a String>,
        config: &RuntimeConfig,
        state_dir: &Path,
    ) -> anyhow::Result<Self> {
        let mut backends = BTreeMap::new();
        for label in labels {
            let backend = config.backend_for(label, state_dir).with_context(|| {
                format!(
                    "key-value store {label:?} is used by a component but not defined in the \
                     runtime config: add a [key_value_store.{label}] table"
                )
            })?;
            backends.insert(label.clone(), backend);
        }
        // Redis keys carry no label prefix, so two labels on one database would share keys and
        // one component could write another's store.
        let mut redis_urls = std::collections::HashMap::new();
        for (label, backend) in &backends {
            if let KeyValueBackend::Redis { url } = backend
                && let Some(other) = redis_urls.insert(url.as_str(), label)
            {
                anyhow::bail!(
                    "key-value stores {other:?} and {label:?} use the same Redis database; give \
                     each label its own database (redis://host/N) or server"
                );
            }
        }
        Ok(Self {
            backends,
            open: Mutex::new(HashMap::new()),
        })
    }

    /// Opens every configured store once, so a bad path or an unreachable server stops
    /// start-up instead of the first request.
    pub async fn check(&self) -> anyhow::Result<()> {
        for label in self.backends.keys() {
            self.get(label)
                .await
                .with_context(|| format!("failed to open key-value store {label:?}"))?;
        }
        Ok(())
    }

    /// Returns the store for `label`, opening its backend on first use.
    pub async fn get(&self, label: &str) -> Result<Arc<dyn Store>, StoreError> {
        let mut open = self.open.lock().await;
        if let Some(store) = open.get(label) {
            return Ok(store.clone());
        }
        let backend = self
            .backends
            .get(label)
            .ok_or_else(|| StoreError::Backend(format!("no backend for store {label:?}")))?;
        let store: Arc<dyn Store> = match backend {
            KeyValueBackend::Sqlite { path } => Arc::new(sqlite::SqliteStore::open(path, label)?),
            KeyValueBackend::Redis { url } => Arc::new(redis::RedisStore::open(url, label).await?),
        };
        open.insert(label.to_owned(), store.clone());
        Ok(store)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_labels_on_one_redis_database_are_rejected() {
        let config = RuntimeConfig::parse(
            "[key_value_store.audit]\ntype = \"redis\"\nurl = \"redis://127.0.0.1/0\"\n\
             [key_value_store.auth]\ntype = \"redis\"\nurl = \"redis://127.0.0.1/0\"\n",
            Path::new("/state"),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let labels = ["audit".to_owned(), "auth".to_owned()];
        let error = StoreManager::new(&labels, &config, Path::new("/state"))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(error.contains("same Redis database"), "{error}");

        let separate = RuntimeConfig::parse(
            "[key_value_store.audit]\ntype = \"redis\"\nurl = \"redis://127.0.0.1/0\"\n\
             [key_value_store.auth]\ntype = \"redis\"\nurl = \"redis://127.0.0.1/1\"\n",
            Path::new("/state"),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(StoreManager::new(&labels, &separate, Path::new("/state")).is_ok());
    }
}
