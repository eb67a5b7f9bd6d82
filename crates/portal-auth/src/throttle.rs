//! The login throttle's schedule: how many attempts run freely, how long each later attempt
//! waits, and when an account locks until an admin or a password reset clears it.
//!
//! The auth component keeps three records per account in key-value storage, all deleted on
//! success: a counter of attempt numbers and a counter of checked failures, both changed by
//! atomic increments, and a gate `{seq, open_at}` that admits one attempt per backoff window,
//! claimed with compare-and-swap. Parallel attempts past the free ones therefore run one at a
//! time, each after its wait, and only checked failures count toward the lock.

/// Throttle settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    /// Failures allowed before backoff starts.
    pub free_attempts: u64,
    /// Wait after the first failure past the free ones, in seconds; it doubles with each
    /// further failure.
    pub base_delay_secs: i64,
    /// Longest wait between attempts, in seconds.
    pub max_delay_secs: i64,
    /// Consecutive failures after which the account locks until an admin unlocks it or the
    /// password is reset. NIST SP 800-63B-4 allows at most 100.
    pub lock_after: u64,
}

/// NIST SP 800-63B-4's ceiling on consecutive failed attempts.
pub const NIST_MAX_FAILURES: u64 = 100;

impl Default for Schedule {
    fn default() -> Self {
        Self {
            free_attempts: 5,
            base_delay_secs: 30,
            max_delay_secs: 15 * 60,
            lock_after: NIST_MAX_FAILURES,
        }
    }
}

impl Schedule {
    /// Clamps settings into their safe ranges: the lock at no more than
    /// [`NIST_MAX_FAILURES`], at least one free attempt, and delays of at least one second.
    pub fn clamped(self) -> Self {
        Self {
            free_attempts: self.free_attempts.max(1),
            base_delay_secs: self.base_delay_secs.max(1),
            max_delay_secs: self.max_delay_secs.max(self.base_delay_secs.max(1)),
            lock_after: self.lock_after.clamp(1, NIST_MAX_FAILURES),
        }
    }

    /// Whether an account with `failures` consecutive failures is locked.
    pub fn is_locked(&self, failures: u64) -> bool {
        failures >= self.lock_after
    }

    /// Whether the next attempt after `failures` failures must pass the gate.
    pub fn needs_gate(&self, failures: u64) -> bool {
        failures >= self.free_attempts
    }

    /// The wait that follows an attempt made after `failures` failures, in seconds.
    pub fn delay_after(&self, failures: u64) -> i64 {
        let past_free = failures.saturating_sub(self.free_attempts);
        let doublings = u32::try_from(past_free.min(30)).unwrap_or(30);
        self.base_delay_secs
            .saturating_mul(1i64 << doublings)
            .min(self.max_delay_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_and_cap() {
        let schedule = Schedule::default();
        assert!(!schedule.needs_gate(4));
        assert!(schedule.needs_gate(5));
        assert_eq!(schedule.delay_after(5), 30);
        assert_eq!(schedule.delay_after(6), 60);
        assert_eq!(schedule.delay_after(7), 120);
        assert_eq!(schedule.delay_after(50), 15 * 60);
        assert_eq!(schedule.delay_after(u64::MAX), 15 * 60);
    }

    #[test]
    fn lock_never_exceeds_the_nist_ceiling() {
        let schedule = Schedule {
            lock_after: 1_000,
            ..Schedule::default()
        }
        .clamped();
        assert_eq!(schedule.lock_after, NIST_MAX_FAILURES);
        assert!(schedule.is_locked(100));
        assert!(!schedule.is_locked(99));
    }

    #[test]
    fn clamping_keeps_settings_usable() {
        let schedule = Schedule {
            free_attempts: 0,
            base_delay_secs: -5,
            max_delay_secs: 0,
            lock_after: 0,
        }
        .clamped();
        assert_eq!(schedule.free_attempts, 1);
        assert_eq!(schedule.base_delay_secs, 1);
        assert_eq!(schedule.max_delay_secs, 1);
        assert_eq!(schedule.lock_after, 1);
    }
}
