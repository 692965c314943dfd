//! Per-object metrics, as deadpool's `Metrics`.
//!
//! Invariant: every timestamp is a `tokio::time::Instant`, the one clock of
//! the crate, so tests on paused time see consistent ages.

use std::time::Duration;

use tokio::time::Instant;

/// What the pool knows of one object's life.
#[derive(Clone, Copy, Debug)]
#[must_use]
pub struct Metrics {
    /// When the object was created.
    pub created: Instant,
    /// When it was last recycled successfully.
    pub recycled: Option<Instant>,
    /// How often it was recycled.
    pub recycle_count: usize,
}

impl Metrics {
    /// Metrics of an object created at `now`.
    pub(crate) fn new(now: Instant) -> Self {
        Self {
            created: now,
            recycled: None,
            recycle_count: 0,
        }
    }

    /// Time since creation.
    #[must_use]
    pub fn age(&self) -> Duration {
        self.created.elapsed()
    }

    /// Time since the last recycle (or creation).
    #[must_use]
    pub fn last_used(&self) -> Duration {
        self.recycled.unwrap_or(self.created).elapsed()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new(Instant::now())
    }
}
