//! The guests' wall clock, which tests can move forward when the host is started with
//! `--danger-test-clock`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use wasmtime_wasi::HostWallClock;

/// The system clock plus an offset that only grows.
#[derive(Clone, Default)]
pub struct TestClock {
    offset_ms: Arc<AtomicU64>,
}

impl TestClock {
    /// Moves every guest's wall clock forward by `by`, and returns the total offset.
    pub fn advance(&self, by: Duration) -> Duration {
        let added = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
        let previous = self
            .offset_ms
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |offset| {
                Some(offset.saturating_add(added))
            })
            .unwrap_or_default();
        Duration::from_millis(previous.saturating_add(added))
    }

    /// Returns the current offset from the system clock.
    pub fn offset(&self) -> Duration {
        Duration::from_millis(self.offset_ms.load(Ordering::SeqCst))
    }
}

impl HostWallClock for TestClock {
    fn resolution(&self) -> Duration {
        Duration::from_nanos(1)
    }

    fn now(&self) -> Duration {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        now + self.offset()
    }
}
