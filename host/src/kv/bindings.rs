//! Guest-facing implementations of `spin:key-value@3.0.0` and `wasi:keyvalue@0.2.0-draft2`.
//!
//! A component may open only the labels its manifest entry lists; anything else gets
//! `access-denied`. Backend failures reach the guest as `other` with a short message and are
//! logged here with the label, never with keys or values.

use std::collections::HashSet;
use std::sync::Arc;

use wasmtime::component::{Accessor, FutureReader, HasData, Linker, Resource, StreamReader};

use super::{Store, StoreError, StoreManager, Swap};
use crate::bindings::spin::key_value::key_value as v3;
use crate::bindings::wasi::keyvalue::{atomics, batch, store as wasi_store};

/// Open stores a guest may hold at once, as in Spin.
const MAX_OPEN_HANDLES: usize = 256;

/// Per-instance key-value state: the labels granted to the component and its open handles.
pub struct KvState {
    allowed: Arc<HashSet<String>>,
    manager: Arc<StoreManager>,
    stores: Handles<Arc<dyn Store>>,
    swaps: Handles<PendingSwap>,
}

struct PendingSwap {
    store: Arc<dyn Store>,
    key: String,
    seen: Option<Vec<u8>>,
}

impl KvState {
    /// Creates the state for one instance of a component granted `allowed` labels.
    pub fn new(allowed: Arc<HashSet<String>>, manager: Arc<StoreManager>) -> Self {
        Self {
            allowed,
            manager,
            stores: Handles::default(),
            swaps: Handles::default(),
        }
    }

    /// State that grants no store at all, for capability-free dependency components.
    pub fn deny_all(manager: Arc<StoreManager>) -> Self {
        Self::new(Arc::default(), manager)
    }

    async fn open_label(&self, label: &str) -> Result<Arc<dyn Store>, OpenError> {
        open_label(&self.allowed, &self.manager, label).await
    }
}

/// Opens `label` if it is among the `allowed` ones.
async fn open_label(
    allowed: &HashSet<String>,
    manager: &StoreManager,
    label: &str,
) -> Result<Arc<dyn Store>, OpenError> {
    if !allowed.contains(label) {
        tracing::warn!(label, "guest opened a key-value store it was not granted");
        return Err(OpenError::AccessDenied);
    }
    manager.get(label).await.map_err(|error| {
        tracing::error!(label, %error, "failed to open key-value store");
        OpenError::Other(error.to_string())
    })
}

enum OpenError {
    AccessDenied,
    Other(String),
}

/// The `HasData` marker for the key-value bindings.
pub struct KvData;

impl HasData for KvData {
    type Data<'a> = &'a mut KvState;
}

/// Adds every key-value interface to `linker`.
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> &mut KvState,
) -> wasmtime::Result<()> {
    v3::add_to_linker::<T, KvData>(linker, get)?;
    wasi_store::add_to_linker::<T, KvData>(linker, get)?;
    atomics::add_to_linker::<T, KvData>(linker, get)?;
    batch::add_to_linker::<T, KvData>(linker, get)?;
    Ok(())
}

fn v3_error(error: StoreError) -> v3::Error {
    tracing::warn!(%error, "key-value operation failed");
    v3::Error::Other(error.to_string())
}

fn wasi_error(error: StoreError) -> wasi_store::Error {
    tracing::warn!(%error, "key-value operation failed");
    wasi_store::Error::Other(error.to_string())
}

impl v3::Host for KvState {}

impl v3::HostStore for KvState {
    async fn drop(&mut self, handle: Resource<v3::Store>) -> wasmtime::Result<()> {
        self.stores.remove(handle.rep());
        Ok(())
    }
}

/// Looks up an open store handle from inside an accessor.
fn v3_store<T>(
    accessor: &Accessor<T, KvData>,
    handle: &Resource<v3::Store>,
) -> Result<Arc<dyn Store>, v3::Error> {
    let rep = handle.rep();
    accessor
        .with(|mut access| access.get().stores.get(rep).cloned())
        .ok_or(v3::Error::NoSuchStore)
}

impl<T> v3::HostStoreWithStore<T> for KvData {
    async fn open(
        accessor: &Accessor<T, Self>,
        label: String,
    ) -> Result<Resource<v3::Store>, v3::Error> {
        let (allowed, manager) = accessor.with(|mut access| {
            let state = access.get();
            (state.allowed.clone(), state.manager.clone())
        });
        let store = open_label(&allowed, &manager, &label)
            .await
            .map_err(|e| match e {
                OpenError::AccessDenied => v3::Error::AccessDenied,
                OpenError::Other(message) => v3::Error::Other(message),
            })?;
        accessor.with(|mut access| {
            access
                .get()
                .stores
                .insert(store)
                .map(Resource::new_own)
                .ok_or(v3::Error::StoreTableFull)
        })
    }

    async fn get(
        accessor: &Accessor<T, Self>,
        handle: Resource<v3::Store>,
        key: String,
    ) -> Result<Option<Vec<u8>>, v3::Error> {
        let store = v3_store(accessor, &handle)?;
        store.get(&key).await.map_err(v3_error)
    }

    async fn set(
        accessor: &Accessor<T, Self>,
        handle: Resource<v3::Store>,
        key: String,
        value: Vec<u8>,
    ) -> Result<(), v3::Error> {
        let store = v3_store(accessor, &handle)?;
        if value.len() > super::MAX_VALUE_BYTES {
            return Err(v3::Error::Other("value too large".into()));
        }
        store.set(&key, &value).await.map_err(v3_error)
    }

    async fn delete(
        accessor: &Accessor<T, Self>,
        handle: Resource<v3::Store>,
        key: String,
    ) -> Result<(), v3::Error> {
        let store = v3_store(accessor, &handle)?;
        store.delete(&key).await.map_err(v3_error)
    }

    async fn exists(
        accessor: &Accessor<T, Self>,
        handle: Resource<v3::Store>,
        key: String,
    ) -> Result<bool, v3::Error> {
        let store = v3_store(accessor, &handle)?;
        store.exists(&key).await.map_err(v3_error)
    }

    async fn get_keys(
        accessor: &Accessor<T, Self>,
        handle: Resource<v3::Store>,
    ) -> wasmtime::Result<(StreamReader<String>, FutureReader<Result<(), v3::Error>>)> {
        let listing = match v3_store(accessor, &handle) {
            Ok(store) => store.keys().await.map_err(v3_error),
            Err(error) => Err(error),
        };
        let (keys, outcome) = match listing {
            Ok(keys) => (keys, Ok(())),
            Err(error) => (Vec::new(), Err(error)),
        };
        accessor.with(|mut access| {
            let stream = StreamReader::new(&mut access, keys)?;
            let future =
                FutureReader::new(
                    &mut access,
                    async move { Ok::<_, wasmtime::Error>(outcome) },
                )?;
            Ok((stream, future))
        })
    }
}

impl wasi_store::Host for KvState {
    async fn open(
        &mut self,
        label: String,
    ) -> Result<Resource<wasi_store::Bucket>, wasi_store::Error> {
        let store = self.open_label(&label).await.map_err(|e| match e {
            OpenError::AccessDenied => wasi_store::Error::AccessDenied,
            OpenError::Other(message) => wasi_store::Error::Other(message),
        })?;
        self.stores
            .insert(store)
            .map(Resource::new_own)
            .ok_or_else(|| wasi_store::Error::Other("too many open stores".into()))
    }
}

impl KvState {
    fn bucket(
        &self,
        handle: &Resource<wasi_store::Bucket>,
    ) -> Result<Arc<dyn Store>, wasi_store::Error> {
        self.stores
            .get(handle.rep())
            .cloned()
            .ok_or(wasi_store::Error::NoSuchStore)
    }
}

impl wasi_store::HostBucket for KvState {
    async fn get(
        &mut self,
        bucket: Resource<wasi_store::Bucket>,
        key: String,
    ) -> Result<Option<Vec<u8>>, wasi_store::Error> {
        self.bucket(&bucket)?.get(&key).await.map_err(wasi_error)
    }

    async fn set(
        &mut self,
        bucket: Resource<wasi_store::Bucket>,
        key: String,
        value: Vec<u8>,
    ) -> Result<(), wasi_store::Error> {
        if value.len() > super::MAX_VALUE_BYTES {
            return Err(wasi_store::Error::Other("value too large".into()));
        }
        self.bucket(&bucket)?
            .set(&key, &value)
            .await
            .map_err(wasi_error)
    }

    async fn delete(
        &mut self,
        bucket: Resource<wasi_store::Bucket>,
        key: String,
    ) -> Result<(), wasi_store::Error> {
        self.bucket(&bucket)?.delete(&key).await.map_err(wasi_error)
    }

    async fn exists(
        &mut self,
        bucket: Resource<wasi_store::Bucket>,
        key: String,
    ) -> Result<bool, wasi_store::Error> {
        self.bucket(&bucket)?.exists(&key).await.map_err(wasi_error)
    }

    async fn list_keys(
        &mut self,
        bucket: Resource<wasi_store::Bucket>,
        cursor: Option<String>,
    ) -> Result<wasi_store::KeyResponse, wasi_store::Error> {
        if cursor.is_some() {
            return Err(wasi_store::Error::Other(
                "list-keys cursors are not supported; call without a cursor".into(),
            ));
        }
        let keys = self.bucket(&bucket)?.keys().await.map_err(wasi_error)?;
        Ok(wasi_store::KeyResponse { keys, cursor: None })
    }

    async fn drop(&mut self, bucket: Resource<wasi_store::Bucket>) -> wasmtime::Result<()> {
        self.stores.remove(bucket.rep());
        Ok(())
    }
}

impl batch::Host for KvState {
    async fn get_many(
        &mut self,
        bucket: Resource<wasi_store::Bucket>,
        keys: Vec<String>,
    ) -> Result<Vec<(String, Option<Vec<u8>>)>, wasi_store::Error> {
        self.bucket(&bucket)?
            .get_many(keys)
            .await
            .map_err(wasi_error)
    }

    async fn set_many(
        &mut self,
        bucket: Resource<wasi_store::Bucket>,
        entries: Vec<(String, Vec<u8>)>,
    ) -> Result<(), wasi_store::Error> {
        self.bucket(&bucket)?
            .set_many(entries)
            .await
            .map_err(wasi_error)
    }

    async fn delete_many(
        &mut self,
        bucket: Resource<wasi_store::Bucket>,
        keys: Vec<String>,
    ) -> Result<(), wasi_store::Error> {
        self.bucket(&bucket)?
            .delete_many(keys)
            .await
            .map_err(wasi_error)
    }
}

impl atomics::Host for KvState {
    async fn increment(
        &mut self,
        bucket: Resource<wasi_store::Bucket>,
        key: String,
        delta: i64,
    ) -> Result<i64, wasi_store::Error> {
        self.bucket(&bucket)?
            .increment(&key, delta)
            .await
            .map_err(wasi_error)
    }

    async fn swap(
        &mut self,
        cas: Resource<atomics::Cas>,
        value: Vec<u8>,
    ) -> Result<(), atomics::CasError> {
        let pending = self.swaps.remove(cas.rep()).ok_or_else(|| {
            atomics::CasError::StoreError(wasi_store::Error::Other(
                "unknown compare-and-swap handle".into(),
            ))
        })?;
        let outcome = pending
            .store
            .compare_and_swap(&pending.key, pending.seen.as_deref(), &value)
            .await
            .map_err(|e| atomics::CasError::StoreError(wasi_error(e)))?;
        match outcome {
            Swap::Written => Ok(()),
            Swap::Conflict(current) => {
                let retry = PendingSwap {
                    store: pending.store,
                    key: pending.key,
                    seen: current,
                };
                let handle = self.swaps.insert(retry).ok_or_else(|| {
                    atomics::CasError::StoreError(wasi_store::Error::Other(
                        "too many compare-and-swap handles".into(),
                    ))
                })?;
                Err(atomics::CasError::CasFailed(Resource::new_own(handle)))
            }
        }
    }
}

impl atomics::HostCas for KvState {
    async fn new(
        &mut self,
        bucket: Resource<wasi_store::Bucket>,
        key: String,
    ) -> Result<Resource<atomics::Cas>, wasi_store::Error> {
        let store = self.bucket(&bucket)?;
        let seen = store.get(&key).await.map_err(wasi_error)?;
        let handle = self
            .swaps
            .insert(PendingSwap { store, key, seen })
            .ok_or_else(|| wasi_store::Error::Other("too many compare-and-swap handles".into()))?;
        Ok(Resource::new_own(handle))
    }

    async fn current(
        &mut self,
        cas: Resource<atomics::Cas>,
    ) -> Result<Option<Vec<u8>>, wasi_store::Error> {
        self.swaps
            .get(cas.rep())
            .map(|pending| pending.seen.clone())
            .ok_or_else(|| wasi_store::Error::Other("unknown compare-and-swap handle".into()))
    }

    async fn drop(&mut self, cas: Resource<atomics::Cas>) -> wasmtime::Result<()> {
        self.swaps.remove(cas.rep());
        Ok(())
    }
}

/// A bounded table of host objects addressed by the `u32` rep of a guest resource.
struct Handles<V> {
    slots: Vec<Option<V>>,
    free: Vec<u32>,
}

impl<V> Default for Handles<V> {
    fn default() -> Self {
        Self {
            slots: Vec::new(),
            free: Vec::new(),
        }
    }
}

impl<V> Handles<V> {
    fn insert(&mut self, value: V) -> Option<u32> {
        if let Some(index) = self.free.pop() {
            self.slots[index as usize] = Some(value);
            return Some(index);
        }
        if self.slots.len() >= MAX_OPEN_HANDLES {
            return None;
        }
        self.slots.push(Some(value));
        u32::try_from(self.slots.len() - 1).ok()
    }

    fn get(&self, index: u32) -> Option<&V> {
        self.slots.get(index as usize)?.as_ref()
    }

    fn remove(&mut self, index: u32) -> Option<V> {
        let value = self.slots.get_mut(index as usize)?.take()?;
        self.free.push(index);
        Some(value)
    }
}
