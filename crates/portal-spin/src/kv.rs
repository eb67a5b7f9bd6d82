//! Spin key-value adapters for the shared crates' storage traits.

use portal_auditlog::{LogStore, StoreFailure};
use spin_sdk::experimental::wasi::keyvalue::{atomics, store};

/// A [`LogStore`] on a Spin key-value store, using `wasi:keyvalue` compare-and-swap.
pub struct SpinLogStore {
    bucket: store::Bucket,
}

impl SpinLogStore {
    /// Opens the store labelled `label`, which the component's manifest entry must list.
    pub fn open(label: &str) -> Result<Self, StoreFailure> {
        let bucket = store::open(label).map_err(failure)?;
        Ok(Self { bucket })
    }
}

fn failure(error: store::Error) -> StoreFailure {
    StoreFailure(match error {
        store::Error::NoSuchStore => "no such key-value store".to_owned(),
        store::Error::AccessDenied => "key-value store access denied".to_owned(),
        store::Error::Other(message) => message,
    })
}

impl LogStore for SpinLogStore {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreFailure> {
        self.bucket.get(key).map_err(failure)
    }

    async fn set(&self, key: &str, value: &[u8]) -> Result<(), StoreFailure> {
        self.bucket.set(key, value).map_err(failure)
    }

    async fn compare_and_swap(
        &self,
        key: &str,
        expected: Option<&[u8]>,
        new: &[u8],
    ) -> Result<bool, StoreFailure> {
        let cas = atomics::Cas::new(&self.bucket, key).map_err(failure)?;
        if cas.current().map_err(failure)?.as_deref() != expected {
            return Ok(false);
        }
        match atomics::swap(cas, new) {
            Ok(()) => Ok(true),
            Err(atomics::CasError::CasFailed(_)) => Ok(false),
            Err(atomics::CasError::StoreError(error)) => Err(failure(error)),
        }
    }
}
