//! Replay detection for single-use values such as DPoP proof ids (`jti`).

use std::collections::HashMap;
use std::sync::Mutex;

/// A store that remembers single-use ids until they expire.
///
/// Implementations must be atomic across replicas: components back this with a key-value
/// compare-and-swap (insert only if absent) on the key given, storing `expires_at` so a
/// cleanup job can delete old entries.
pub trait ReplayGuard {
    /// Records `key` as used until `expires_at` (Unix seconds). Returns `Ok(true)` the first
    /// time a key is seen and `Ok(false)` if it is already recorded and not expired at `now`.
    fn first_use(&self, key: &str, expires_at: i64, now: i64) -> Result<bool, String>;
}

/// Maximum entries the in-memory guard keeps before it starts refusing new ids. Refusing
/// fails closed: a flood of proofs cannot make the guard forget older ids.
pub const IN_MEMORY_REPLAY_CAPACITY: usize = 100_000;

/// An in-process replay guard for tests and single-instance tools. It is not shared between
/// replicas, so production components must not use it.
#[derive(Debug, Default)]
pub struct InMemoryReplayGuard {
    seen: Mutex<HashMap<String, i64>>,
}

impl InMemoryReplayGuard {
    /// Creates an empty guard.
    pub fn new() -> Self {
        Self::default()
    }
}

impl ReplayGuard for InMemoryReplayGuard {
    fn first_use(&self, key: &str, expires_at: i64, now: i64) -> Result<bool, String> {
        let mut seen = self
            .seen
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        if let Some(&expiry) = seen.get(key)
            && expiry > now
        {
            return Ok(false);
        }

        if seen.len() >= IN_MEMORY_REPLAY_CAPACITY {
            seen.retain(|_, expiry| *expiry > now);
            if seen.len() >= IN_MEMORY_REPLAY_CAPACITY {
                return Err("replay guard is full".to_owned());
            }
        }
        seen.insert(key.to_owned(), expires_at);
        Ok(true)
    }
}
