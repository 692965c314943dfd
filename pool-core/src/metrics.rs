//! Per-object metrics, as deadpool's `Metrics`.
//!
//! Invariant: every timestamp is a `tokio::time::Instant`, the one clock of
//! the crate, so tests on paused time see consistent ages.

use std::time::Duration;

use tokio::time::Instant;

/// What the pool knows of one object's life: deadpool's fields plus `used`.
#[derive(Clone, Copy, Debug)]
#[must_use]
pub struct Metrics {
    /// When the object was created.
    pub created: Instant,
    /// When it was last checked: its last successful `recycle` (the time
    /// the check started).
    pub recycled: Option<Instant>,
    /// When it was last handed to a caller (not in deadpool). It came back
    /// healthy, or it would not be in the pool any more.
    pub used: Option<Instant>,
    /// How often it was recycled.
    pub recycle_count: usize,
}

impl Metrics {
    /// Metrics of an object created at `now`.
    pub(crate) fn new(now: Instant) -> Self {
        Self {
            created: now,
            recycled: None,
            used: None,
            recycle_count: 0,
        }
    }

    /// Time since creation.
    #[must_use]
    pub fn age(&self) -> Duration {
        self.created.elapsed()
    }

    /// Time since the object was last used, checked or created, whichever
    /// is latest. (deadpool's "since the last recycle": the same whenever
    /// every checkout recycles, and still true when the health-check TTL
    /// lets a busy object skip its recycle.)
    #[must_use]
    pub fn last_used(&self) -> Duration {
        self.last_seen_healthy().elapsed()
    }

    /// When the object was last used, checked or created.
    #[must_use]
    pub fn last_seen_healthy(&self) -> Instant {
        let mut t = self.created;
        for seen in [self.recycled, self.used].into_iter().flatten() {
            t = t.max(seen);
        }
        t
    }

    /// Whether a checkout at `now` may skip `recycle` under a health-check
    /// interval (`ZERO`: never).
    pub(crate) fn is_fresh(&self, now: Instant, interval: Duration) -> bool {
        !interval.is_zero() && now.saturating_duration_since(self.last_seen_healthy()) < interval
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new(Instant::now())
    }
}
