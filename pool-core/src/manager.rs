//! The trait a backend implements: how to make, check and drop its objects.

use std::future::Future;

use crate::errors::RecycleError;
use crate::metrics::Metrics;

/// Result of [`Manager::recycle`].
pub type RecycleResult<E> = Result<(), RecycleError<E>>;

/// Creates and recycles objects of one kind. deadpool's `Manager`, plus
/// [`Manager::is_broken`], and `'static` (the pool's background task owns a
/// weak handle to it; every manager that can be used from a spawned task
/// already is).
pub trait Manager: Sync + Send + 'static {
    /// The pooled object.
    type Type: Send;
    /// The error of `create` and `recycle`.
    type Error: Send;

    /// Creates a new object.
    fn create(&self) -> impl Future<Output = Result<Self::Type, Self::Error>> + Send;

    /// Checks (and may reset) an idle object before it is handed out. An
    /// error discards the object and the pool tries the next one.
    fn recycle(
        &self,
        obj: &mut Self::Type,
        metrics: &Metrics,
    ) -> impl Future<Output = RecycleResult<Self::Error>> + Send;

    /// Called when an object leaves the pool for good (taken, failed,
    /// broken, or no longer wanted).
    fn detach(&self, _obj: &mut Self::Type) {}

    /// The health-check interval of pools whose config leaves it unset
    /// (`PoolConfig::health_check_interval`): `ZERO` recycles on every
    /// checkout, as deadpool does. A backend whose objects report their own
    /// failures (pool-redis) can skip the round trip for recently used ones.
    fn health_check_interval(&self) -> std::time::Duration {
        std::time::Duration::ZERO
    }

    /// A cheap, synchronous test at checkout: `true` makes the pool run
    /// `recycle` on this object even if the health-check interval would let
    /// it skip (the manager knows the object carries state to reset, e.g.
    /// a Redis connection that sent `WATCH`). Not in deadpool.
    fn needs_recycle(&self, _obj: &mut Self::Type) -> bool {
        false
    }

    /// A fuller text of a create error than its `Display`, for the
    /// breaker's `Unavailable` error and the pool's log (pool-postgres: the
    /// source chain, where tokio-postgres keeps the server's message).
    /// `None` (the default): `Display` says it all. Not in deadpool.
    fn describe_error(&self, _error: &Self::Error) -> Option<String> {
        None
    }

    /// A cheap, synchronous test run every time an object comes back: `true`
    /// discards it instead of keeping it idle, so an object that just failed
    /// is never handed out again.
    fn is_broken(&self, _obj: &mut Self::Type) -> bool {
        false
    }
}
