//! Counting encryptions per KEK version, so a key is rotated long before AES-GCM's limit.
//!
//! Every wrap of a data key is one AES-GCM encryption under the KEK with a random 96-bit
//! nonce. NIST SP 800-38D (section 8.3) limits the total number of invocations of the
//! authenticated encryption function with random 96-bit IVs to 2^32 per key, which keeps the
//! chance of two wraps sharing a nonce below 2^-32. A repeated nonce under GCM reveals the
//! XOR of two plaintexts and the authentication subkey.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::CounterError;
use crate::keyring::KekId;

/// Default ceiling of encryptions per KEK version: 2^30, a quarter of the NIST SP 800-38D
/// limit of 2^32 for random 96-bit nonces.
///
/// At 2^30 wraps the chance of any nonce collision is about 2^60 / 2^97 = 2^-37. The margin
/// below 2^32 also absorbs counts that replicas reserved but never used, and leaves time to
/// rotate after the warning threshold.
pub const DEFAULT_ENCRYPTION_CEILING: u64 = 1 << 30;

/// Highest ceiling the key ring accepts: 2^31, half the NIST limit, so that no setting can
/// approach 2^32.
pub const MAX_ENCRYPTION_CEILING: u64 = 1 << 31;

/// A shared counter of encryptions per KEK version.
///
/// Implementations must be atomic across every replica that encrypts with the same keys:
/// components back this with a key-value atomic increment on [`KekId::counter_key`]. The
/// trait is synchronous; a component whose store is asynchronous increments first and
/// passes the result in a [`ReservedCount`].
pub trait EncryptionCounter {
    /// Adds one to the count for `kek` and returns the count after the increment, so the
    /// first encryption under a key returns 1.
    fn increment(&self, kek: &KekId) -> Result<u64, CounterError>;
}

/// An in-process counter for tests and single-instance tools. It is not shared between
/// replicas, so production components must not use it.
#[derive(Debug, Default)]
pub struct InMemoryCounter {
    counts: Mutex<HashMap<KekId, u64>>,
}

impl InMemoryCounter {
    /// Creates a counter with every count at zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the count for `kek`, to test behaviour near the ceiling.
    pub fn set(&self, kek: &KekId, count: u64) {
        let mut counts = self
            .counts
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        counts.insert(kek.clone(), count);
    }

    /// Returns the count for `kek`.
    pub fn get(&self, kek: &KekId) -> u64 {
        let counts = self
            .counts
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        counts.get(kek).copied().unwrap_or(0)
    }
}

impl EncryptionCounter for InMemoryCounter {
    fn increment(&self, kek: &KekId) -> Result<u64, CounterError> {
        let mut counts = self
            .counts
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        let count = counts.entry(kek.clone()).or_insert(0);
        *count = count.saturating_add(1);
        Ok(*count)
    }
}

/// One count already taken from an asynchronous store, for exactly one encryption.
///
/// The component reads [`crate::KeyRing::active_kek_id`], increments
/// [`KekId::counter_key`] in its key-value store, and passes the new count here. If the
/// active version changed in between, encryption fails with a [`CounterError`] and the
/// component retries.
#[derive(Debug)]
pub struct ReservedCount {
    kek: KekId,
    count: u64,
    used: AtomicBool,
}

impl ReservedCount {
    /// Wraps the count returned by the store's increment for `kek`.
    pub fn new(kek: KekId, count: u64) -> Self {
        Self {
            kek,
            count,
            used: AtomicBool::new(false),
        }
    }
}

impl EncryptionCounter for ReservedCount {
    fn increment(&self, kek: &KekId) -> Result<u64, CounterError> {
        if *kek != self.kek {
            return Err(CounterError::new(format!(
                "count was reserved for {} but {kek} encrypts",
                self.kek
            )));
        }
        if self.used.swap(true, Ordering::SeqCst) {
            return Err(CounterError::new("reserved count was already used"));
        }
        Ok(self.count)
    }
}
