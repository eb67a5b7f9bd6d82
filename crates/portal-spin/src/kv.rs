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

/// A component's key-value store with JSON records, insert-if-absent, compare-and-swap
/// updates and atomic counters, all through `wasi:keyvalue`.
pub struct Store {
    bucket: store::Bucket,
}

/// A key-value operation failed. The text names the operation, never a key or value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// The store could not be reached or refused the operation.
    Unavailable(&'static str),
    /// A stored record did not parse as the expected type.
    Corrupt(&'static str),
    /// A compare-and-swap update kept losing to concurrent writers.
    Contended,
}

impl core::fmt::Display for StoreError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            StoreError::Unavailable(operation) => write!(f, "key-value {operation} failed"),
            StoreError::Corrupt(what) => write!(f, "stored {what} record is malformed"),
            StoreError::Contended => f.write_str("key-value update lost to concurrent writers"),
        }
    }
}

impl From<StoreError> for portal_problem::Problem {
    fn from(error: StoreError) -> Self {
        eprintln!("{error}");
        portal_problem::Problem::new(portal_problem::ProblemKind::ServiceUnavailable)
    }
}

/// Attempts a compare-and-swap update makes before giving up with [`StoreError::Contended`].
pub const MAX_UPDATE_ATTEMPTS: usize = 32;

/// What an update closure decided.
pub enum Update<T> {
    /// Write this value.
    Set(T),
    /// Delete the record.
    Delete,
    /// Leave the record as it is.
    Keep,
}

impl Store {
    /// Opens the store labelled `label`, which the component's manifest entry must list.
    pub fn open(label: &str) -> Result<Self, StoreError> {
        let bucket = store::open(label).map_err(|_| StoreError::Unavailable("open"))?;
        Ok(Self { bucket })
    }

    /// Reads raw bytes.
    pub fn get_raw(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.bucket
            .get(key)
            .map_err(|_| StoreError::Unavailable("get"))
    }

    /// Reads a JSON record; `what` names the record type in errors.
    pub fn get<T: serde::de::DeserializeOwned>(
        &self,
        key: &str,
        what: &'static str,
    ) -> Result<Option<T>, StoreError> {
        match self.get_raw(key)? {
            // An empty value is a record deleted by `update`.
            None => Ok(None),
            Some(bytes) if bytes.is_empty() => Ok(None),
            Some(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|_| StoreError::Corrupt(what)),
        }
    }

    /// Writes a JSON record unconditionally.
    pub fn set<T: serde::Serialize>(&self, key: &str, value: &T) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(value).map_err(|_| StoreError::Corrupt("new"))?;
        self.bucket
            .set(key, &bytes)
            .map_err(|_| StoreError::Unavailable("set"))
    }

    /// Deletes a record; deleting a missing key succeeds.
    pub fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.bucket
            .delete(key)
            .map_err(|_| StoreError::Unavailable("delete"))
    }

    /// Writes `value` only if `key` is absent. Returns false if the key exists, so of two
    /// parallel inserts exactly one succeeds.
    pub fn insert_new<T: serde::Serialize>(
        &self,
        key: &str,
        value: &T,
    ) -> Result<bool, StoreError> {
        let bytes = serde_json::to_vec(value).map_err(|_| StoreError::Corrupt("new"))?;
        let cas =
            atomics::Cas::new(&self.bucket, key).map_err(|_| StoreError::Unavailable("cas"))?;
        if cas
            .current()
            .map_err(|_| StoreError::Unavailable("cas"))?
            .is_some_and(|bytes| !bytes.is_empty())
        {
            return Ok(false);
        }
        match atomics::swap(cas, &bytes) {
            Ok(()) => Ok(true),
            Err(atomics::CasError::CasFailed(_)) => Ok(false),
            Err(atomics::CasError::StoreError(_)) => Err(StoreError::Unavailable("cas")),
        }
    }

    /// Reads a record, lets `change` decide its new state, and writes that state with
    /// compare-and-swap, retrying from a fresh read when another writer got there first.
    /// Returns what `change` returned on the attempt that was written.
    ///
    /// `change` may run several times, so it must not have side effects.
    pub fn update<T, R, E>(
        &self,
        key: &str,
        what: &'static str,
        mut change: impl FnMut(Option<T>) -> Result<(Update<T>, R), E>,
    ) -> Result<Result<R, E>, StoreError>
    where
        T: serde::Serialize + serde::de::DeserializeOwned,
    {
        for _ in 0..MAX_UPDATE_ATTEMPTS {
            let cas =
                atomics::Cas::new(&self.bucket, key).map_err(|_| StoreError::Unavailable("cas"))?;
            let current_bytes = cas.current().map_err(|_| StoreError::Unavailable("cas"))?;
            let current = match &current_bytes {
                None => None,
                Some(bytes) if bytes.is_empty() => None,
                Some(bytes) => {
                    Some(serde_json::from_slice(bytes).map_err(|_| StoreError::Corrupt(what))?)
                }
            };
            let (decision, result) = match change(current) {
                Ok(outcome) => outcome,
                Err(error) => return Ok(Err(error)),
            };
            let new_bytes = match decision {
                Update::Keep => return Ok(Ok(result)),
                Update::Set(value) => {
                    serde_json::to_vec(&value).map_err(|_| StoreError::Corrupt(what))?
                }
                Update::Delete => {
                    // wasi:keyvalue has no compare-and-delete; an empty value marks the
                    // record deleted, and readers treat it as absent.
                    Vec::new()
                }
            };
            match atomics::swap(cas, &new_bytes) {
                Ok(()) => return Ok(Ok(result)),
                Err(atomics::CasError::CasFailed(_)) => continue,
                Err(atomics::CasError::StoreError(_)) => {
                    return Err(StoreError::Unavailable("cas"));
                }
            }
        }
        Err(StoreError::Contended)
    }

    /// Adds `delta` to the counter at `key` atomically and returns the new value. A missing
    /// counter starts at zero.
    pub fn increment(&self, key: &str, delta: i64) -> Result<i64, StoreError> {
        atomics::increment(&self.bucket, key, delta)
            .map_err(|_| StoreError::Unavailable("increment"))
    }

    /// Reads a counter written by [`Self::increment`]; a missing counter reads as zero.
    /// Backends encode counters differently, so this reads through an increment of zero.
    pub fn counter(&self, key: &str) -> Result<i64, StoreError> {
        self.increment(key, 0)
    }
}
