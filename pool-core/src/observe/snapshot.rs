//! The public snapshot types `Pool::metrics` returns.

use std::time::Duration;

use super::histogram::Summary;

/// How the `get()` calls ended. `started` = every other field summed
/// (`pending`: left the fast path, not ended yet).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct GetOutcomes {
    /// Every `get()` that began.
    pub started: u64,
    /// Got an object without queueing behind other tasks (possibly after
    /// a create or a recycle).
    pub served_at_once: u64,
    /// Queued, then got an object.
    pub served_after_wait: u64,
    /// Ran out of time (`PoolError::Timeout`).
    pub timed_out: u64,
    /// The backend's error (create, recycle, hook).
    pub backend_error: u64,
    /// Refused by the open breaker (`PoolError::Unavailable`).
    pub refused_unavailable: u64,
    /// Refused because the pool was closed.
    pub refused_closed: u64,
    /// Dropped by the caller before it ended.
    pub cancelled: u64,
    /// Left the fast path and not ended yet.
    pub pending: u64,
}

/// Objects that left the pool, by reason.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct ClosedCounts {
    /// Came back broken (`Manager::is_broken`).
    pub broken: u64,
    /// Failed `Manager::recycle` at checkout.
    pub recycle_failed: u64,
    /// Closed by the reaper (`idle_timeout`).
    pub idle_surplus: u64,
    /// Older than `max_lifetime`.
    pub max_lifetime: u64,
    /// Came back above `max_size` after a shrink (`resize`).
    pub resized_away: u64,
    /// A burst's overflow object (`max_overflow`) that came back.
    pub overflow: u64,
    /// `Object::take`, and `retain` removals.
    pub taken: u64,
    /// Closed with the pool.
    pub pool_closed: u64,
}

/// The pool's state now.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct Gauges {
    /// Objects that exist (idle or in use).
    pub size: usize,
    /// Idle objects.
    pub idle: usize,
    /// Objects checked out.
    pub in_use: usize,
    /// `get()` calls waiting for an object.
    pub waiting: usize,
    /// The pool's `max_size`.
    pub max_size: usize,
    /// The pool's `min_idle`.
    pub min_idle: usize,
    /// The circuit breaker's state.
    pub breaker: crate::BreakerPhase,
}

/// Rates over a window.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct Rates {
    /// The window they cover (at most a minute).
    pub window: Duration,
    /// `get()` calls per second.
    pub arrivals_per_sec: f64,
    /// Gets ended (any outcome) per second.
    pub completions_per_sec: f64,
    /// Objects created plus closed, per minute (churn).
    pub churn_per_min: f64,
}

/// Everything the pool recorded (`Pool::metrics`). Durations in
/// nanoseconds.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct MetricsSnapshot {
    /// `false`: recording is off (`PoolBuilder::record_metrics(false)`);
    /// only the gauges mean anything.
    pub enabled: bool,
    /// Since the pool was built.
    pub uptime: Duration,
    /// How the `get()` calls ended.
    pub gets: GetOutcomes,
    /// `Manager::create` calls that succeeded.
    pub creates_ok: u64,
    /// `Manager::create` calls that failed or timed out.
    pub creates_failed: u64,
    /// `Manager::recycle` calls that passed.
    pub recycles_ok: u64,
    /// `Manager::recycle` calls that failed (the object was closed).
    pub recycles_failed: u64,
    /// Objects that left the pool, by reason.
    pub closed: ClosedCounts,
    /// Times the breaker opened.
    pub breaker_opens: u64,
    /// The pool's state now.
    pub gauges: Gauges,
    /// Per-second rates over the last minute (or since the pool was built,
    /// if sooner), between this snapshot and the oldest one kept from
    /// earlier `metrics()` calls; `None` within the pool's first second.
    pub rates: Option<Rates>,
    /// From `get()` to the object in hand, served gets only.
    pub wait: Summary,
    /// From checkout to return, one return in 32 (each object's every 32nd
    /// checkout: a uniform sample); its `count` is of the sampled returns.
    pub use_time: Summary,
    /// `Manager::create`, successful or not.
    pub create_time: Summary,
    /// Time a waiting get spends in the pool's own slow path per step:
    /// registering in the queue under its lock, or taking the object or
    /// slot handed to it (the lock contention time); sampled.
    pub slow_path: Summary,
}
