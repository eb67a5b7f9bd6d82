//! The key-value operations the log needs, and an in-memory store for tests.

use std::collections::HashMap;
use std::sync::Mutex;

/// A store failure, with a message safe to log (no keys' contents).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct StoreFailure(pub String);

/// A key-value store with compare-and-swap, such as Spin's `wasi:keyvalue` atomics.
#[expect(
    async_fn_in_trait,
    reason = "implemented and used within one component"
)]
pub trait LogStore {
    /// Returns the value of `key`.
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreFailure>;
    /// Sets `key` to `value`.
    async fn set(&self, key: &str, value: &[u8]) -> Result<(), StoreFailure>;
    /// Sets `key` to `new` only if its value is still `expected` (`None`: absent); returns
    /// whether it wrote.
    async fn compare_and_swap(
        &self,
        key: &str,
        expected: Option<&[u8]>,
        new: &[u8],
    ) -> Result<bool, StoreFailure>;
}

/// An in-memory store for tests.
#[derive(Debug, Default)]
pub struct MemoryStore {
    values: Mutex<HashMap<String, Vec<u8>>>,
}

impl MemoryStore {
    /// Creates an empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Overwrites `key` directly, for tamper tests.
    pub fn overwrite(&self, key: &str, value: Vec<u8>) {
        if let Ok(mut values) = self.values.lock() {
            values.insert(key.to_owned(), value);
        }
    }

    /// Removes `key` directly, for crash tests.
    pub fn remove(&self, key: &str) {
        if let Ok(mut values) = self.values.lock() {
            values.remove(key);
        }
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, HashMap<String, Vec<u8>>>, StoreFailure> {
        self.values
            .lock()
            .map_err(|_| StoreFailure("memory store lock poisoned".to_owned()))
    }
}

impl LogStore for MemoryStore {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreFailure> {
        Ok(self.lock()?.get(key).cloned())
    }

    async fn set(&self, key: &str, value: &[u8]) -> Result<(), StoreFailure> {
        self.lock()?.insert(key.to_owned(), value.to_vec());
        Ok(())
    }

    async fn compare_and_swap(
        &self,
        key: &str,
        expected: Option<&[u8]>,
        new: &[u8],
    ) -> Result<bool, StoreFailure> {
        let mut values = self.lock()?;
        if values.get(key).map(Vec::as_slice) != expected {
            return Ok(false);
        }
        values.insert(key.to_owned(), new.to_vec());
        Ok(true)
    }
}

impl<T: LogStore> LogStore for &T {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreFailure> {
        (**self).get(key).await
    }

    async fn set(&self, key: &str, value: &[u8]) -> Result<(), StoreFailure> {
        (**self).set(key, value).await
    }

    async fn compare_and_swap(
        &self,
        key: &str,
        expected: Option<&[u8]>,
        new: &[u8],
    ) -> Result<bool, StoreFailure> {
        (**self).compare_and_swap(key, expected, new).await
    }
}
