//! The public handle: `Pool` (cheap to clone, every clone the same pool),
//! `WeakPool`, `RetainResult`. Each method is a thin layer over
//! `PoolInner`: the get path is `get.rs`, returns and sweeps `inner.rs`,
//! the background task `maintenance.rs`.

use std::{fmt, marker::PhantomData, time::Duration};

use tokio::time::Instant;

use crate::breaker::BreakerSnapshot;
use crate::config::{PoolConfig, Timeouts};
use crate::errors::PoolError;
use crate::get::{Outcome, recorded_get};
use crate::hooks::Hooks;
use crate::inner::PoolInner;
use crate::manager::Manager;
use crate::metrics::Metrics;
use crate::object::Object;
use crate::observe::{
    CloseReason, GetProgress, Health, HealthThresholds, MetricsSnapshot, SizeAdvice,
};
use crate::state::MAX_POOL_SIZE;
use crate::store::Store;
use crate::sync::{HandleArc, HandleWeak, Ordering};

/// A pool of objects made by a [`Manager`]. Cheap to clone: clones share the
/// pool.
pub struct Pool<M: Manager, W: From<Object<M>> = Object<M>> {
    inner: HandleArc<PoolInner<M>>,
    _wrapper: PhantomData<fn() -> W>,
}

/// Result of [`Pool::retain`].
#[derive(Debug)]
pub struct RetainResult<T> {
    /// Number of idle objects kept.
    pub retained: usize,
    /// Objects removed from the pool (already detached).
    pub removed: Vec<T>,
}

impl<T> Default for RetainResult<T> {
    fn default() -> Self {
        Self {
            retained: 0,
            removed: Vec::new(),
        }
    }
}

impl<M: Manager, W: From<Object<M>>> Clone for Pool<M, W> {
    fn clone(&self) -> Self {
        Self::from_inner(self.inner.clone())
    }
}

impl<M: Manager, W: From<Object<M>>> Drop for Pool<M, W> {
    fn drop(&mut self) {
        // AcqRel: the background task's `Acquire` load that sees zero
        // happens after every handle's last use.
        if self.inner.handles.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.inner.wake_task();
        }
    }
}

impl<M: Manager, W: From<Object<M>>> fmt::Debug for Pool<M, W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("status", &self.status())
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl<M: Manager, W: From<Object<M>>> Pool<M, W> {
    pub(crate) fn from_builder(
        manager: M,
        config: PoolConfig,
        store: Store,
        breaker_seed: u64,
        hooks: Hooks<M>,
    ) -> Self {
        Self::without_task(HandleArc::new(PoolInner::new(
            manager,
            config,
            store,
            breaker_seed,
            hooks,
        )))
    }

    pub(crate) fn from_inner(inner: HandleArc<PoolInner<M>>) -> Self {
        let pool = Self::without_task(inner);
        pool.start_task();
        pool
    }

    /// A handle that does not (yet) start the background task.
    fn without_task(inner: HandleArc<PoolInner<M>>) -> Self {
        inner.handles.fetch_add(1, Ordering::Relaxed);
        Self {
            inner,
            _wrapper: PhantomData,
        }
    }

    /// Starts the background task if the pool needs one and it is not
    /// running yet.
    pub(crate) fn start_task(&self) {
        self.inner.ensure_task(&self.inner);
    }

    /// Creates up to `n` objects now (fewer if capacity runs out or tasks
    /// are waiting), one at a time, through the breaker. Returns how many.
    ///
    /// # Errors
    /// The first create error (or `Unavailable` if the breaker is open).
    pub async fn warm(&self, n: usize) -> Result<usize, PoolError<M::Error>> {
        let target = self.inner.handoff.counts().idle + n;
        self.inner.warm_to(target).await
    }

    /// The configured `min_idle`.
    #[must_use]
    pub fn min_idle(&self) -> usize {
        self.inner.config.min_idle
    }

    /// Gets an object, waiting for one if the pool is exhausted.
    ///
    /// # Errors
    /// See [`PoolError`].
    pub async fn get(&self) -> Result<W, PoolError<M::Error>> {
        self.timeout_get(&self.inner.config.timeouts).await
    }

    /// Gets an object without waiting for another task to return one: an
    /// idle object (recycled as usual) or a new one if capacity remains,
    /// else `PoolError::Timeout(TimeoutType::Wait)` at once.
    ///
    /// # Errors
    /// See [`PoolError`].
    pub async fn try_get(&self) -> Result<W, PoolError<M::Error>> {
        let timeouts = Timeouts {
            wait: Some(Duration::ZERO),
            ..self.inner.config.timeouts
        };
        self.timeout_get(&timeouts).await
    }

    /// Gets an object with other timeouts than the configured ones.
    ///
    /// # Errors
    /// See [`PoolError`].
    pub async fn timeout_get(&self, timeouts: &Timeouts) -> Result<W, PoolError<M::Error>> {
        // With debug logging on, the get runs inside a `pool.get` span (boxed,
        // so the span's future layer and state cost nothing otherwise: an
        // instrumented layer on every get measured about a quarter of an
        // uncontended get+drop).
        if tracing::enabled!(tracing::Level::DEBUG) {
            return Box::pin(self.traced_get(timeouts)).await;
        }
        recorded_get!(self, timeouts)
    }

    /// `timeout_get` inside a debug span `pool.get` that ends with the
    /// whole get's time in `wait_us`.
    async fn traced_get(&self, timeouts: &Timeouts) -> Result<W, PoolError<M::Error>> {
        let span = tracing::debug_span!("pool.get", wait_us = tracing::field::Empty);
        let started = Instant::now();
        let get = async { recorded_get!(self, timeouts) };
        let result = tracing::Instrument::instrument(get, span.clone()).await;
        span.record("wait_us", started.elapsed().as_micros() as u64);
        result
    }

    /// A new object value made for a holder of a checked-out object whose
    /// value broke, to swap in (pool-redis uses it to retry a read on a
    /// fresh connection without giving the checkout up). It goes through
    /// the circuit breaker (`PoolError::Unavailable` while it is open) and
    /// the create limiter (`PoolError::Timeout(TimeoutType::Create)` at
    /// once, nothing attempted, while `max_concurrent_creates` creates
    /// run), within the create timeout, and takes no slot: the checked-out
    /// object keeps its own, so this cannot deadlock on a full pool. The
    /// value it replaces should be given to `Manager::detach` by the
    /// caller.
    ///
    /// # Errors
    /// As above, `PoolError::Backend` for a failed create, and
    /// `PoolError::Closed`.
    pub async fn create_replacement(&self) -> Result<M::Type, PoolError<M::Error>> {
        self.inner.create_replacement().await
    }

    /// What the pool recorded: outcomes of every `get()`, creates,
    /// recycles, closes by reason, the gauges, and the wait / use / create
    /// time histograms. Cheap enough to call every second.
    #[must_use]
    pub fn metrics(&self) -> MetricsSnapshot {
        self.inner.metrics()
    }

    /// Publishes [`Pool::metrics`] through the `metrics` crate's facade
    /// under OpenTelemetry's names (`db.client.connection.wait_time`, ...)
    /// with the label `pool.name` = `name` (cargo feature `metrics`). Call
    /// it as often as your exporter scrapes.
    #[cfg(feature = "metrics")]
    #[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
    pub fn publish_metrics(&self, name: &str) {
        crate::observe::export::publish(name, &self.metrics());
    }

    /// A health report over the time since the previous report (or since
    /// the pool was built), with the default thresholds.
    #[must_use]
    pub fn health(&self) -> Health {
        self.health_with(&HealthThresholds::default())
    }

    /// [`Pool::health`] with other thresholds.
    #[must_use]
    pub fn health_with(&self, thresholds: &HealthThresholds) -> Health {
        self.inner.reports.judge(self.inner.metrics(), thresholds)
    }

    /// The `max_size` the load measured since the pool was built needs
    /// (Little's law plus burst headroom), and why; `None` before any
    /// object came back or with recording off.
    #[must_use]
    pub fn recommend_size(&self) -> Option<SizeAdvice> {
        crate::observe::advise_size(&self.inner.metrics())
    }

    /// Changes `max_size`. Growing serves waiting tasks at once; shrinking
    /// drops idle objects above the new size at once and objects in use as
    /// they come back. Does nothing on a closed pool. Values above
    /// [`MAX_POOL_SIZE`](crate::MAX_POOL_SIZE) are clamped (with a warning).
    pub fn resize(&self, max_size: usize) {
        let max_size = if max_size > MAX_POOL_SIZE {
            tracing::warn!(
                max_size,
                limit = MAX_POOL_SIZE,
                "resize: max_size clamped to the limit"
            );
            MAX_POOL_SIZE
        } else {
            max_size
        };
        // Objects beyond the new size will be closed as they come back (or
        // now, if idle): those closes are "resized away", the rest of the
        // shed ones "overflow".
        let size = self.inner.handoff.counts().size;
        self.inner
            .observe
            .expect_resized_away(size.saturating_sub(max_size));
        let surplus = self.inner.handoff.resize(max_size);
        self.inner.detach_all(surplus);
    }

    /// Removes the idle objects for which `predicate` returns `false`. Each
    /// idle object is judged once, without a lock (see `sweep_idle`).
    /// Objects in use are not visited.
    pub fn retain(
        &self,
        mut predicate: impl FnMut(&M::Type, Metrics) -> bool,
    ) -> RetainResult<M::Type> {
        let inner = &*self.inner;
        let mut result = RetainResult::default();
        let mut retained = 0;
        let removed = inner.sweep_idle(|obj| {
            let keep = predicate(&obj.obj, obj.metrics);
            retained += usize::from(keep);
            keep
        });
        result.retained = retained;
        inner.observe.closed(CloseReason::Taken, removed.len());
        for mut obj in removed {
            inner.manager.detach(&mut obj.obj);
            result.removed.push(obj.obj);
            let surplus = inner.handoff.release_slot(false);
            inner.detach_all(surplus);
        }
        result
    }

    /// The configured timeouts.
    pub fn timeouts(&self) -> Timeouts {
        self.inner.config.timeouts
    }

    /// Closes the pool: waiting and later `get()`s fail with
    /// `PoolError::Closed`, idle objects are dropped now and objects in use
    /// when they come back. `status().max_size` is 0 afterwards.
    pub fn close(&self) {
        let surplus = self.inner.handoff.close();
        self.inner.detach_all(surplus);
        self.inner.wake_task();
    }

    /// Whether [`Pool::close`] was called.
    pub fn is_closed(&self) -> bool {
        self.inner.handoff.is_closed()
    }

    /// A snapshot of the pool's size. Eventually consistent: the fields are
    /// read one after another while other tasks go on.
    #[must_use]
    pub fn status(&self) -> Status {
        let counts = self.inner.handoff.counts();
        Status {
            max_size: counts.max_size,
            size: counts.size,
            available: counts.idle,
            waiting: counts.waiting,
        }
    }

    /// Tells the pool its backend moved (a failover to another server):
    /// failures against the old one say nothing about the new one, so an
    /// open breaker lets its probe create through now instead of at the
    /// end of its backoff delay.
    pub fn backend_changed(&self) {
        self.inner
            .breaker
            .lock()
            .breaker
            .on_backend_changed(tokio::time::Instant::now());
    }

    /// The create circuit breaker's state and counters.
    #[must_use]
    pub fn breaker(&self) -> BreakerSnapshot {
        self.inner.breaker.lock().breaker.snapshot()
    }

    /// The pool's manager.
    #[must_use]
    pub fn manager(&self) -> &M {
        &self.inner.manager
    }

    /// A weak handle that does not keep the pool alive.
    pub fn weak(&self) -> WeakPool<M, W> {
        WeakPool {
            inner: HandleArc::downgrade(&self.inner),
            _wrapper: PhantomData,
        }
    }
}

/// A weak reference to a [`Pool`].
pub struct WeakPool<M: Manager, W: From<Object<M>> = Object<M>> {
    inner: HandleWeak<PoolInner<M>>,
    _wrapper: PhantomData<fn() -> W>,
}

impl<M: Manager> Object<M> {
    /// The pool the object belongs to.
    pub fn pool(this: &Self) -> Option<Pool<M>> {
        Some(Pool::from_inner(this.pool.clone()))
    }
}

impl<M: Manager, W: From<Object<M>>> WeakPool<M, W> {
    /// The pool, if it still exists.
    pub fn upgrade(&self) -> Option<Pool<M, W>> {
        Some(Pool::from_inner(self.inner.upgrade()?))
    }
}

impl<M: Manager, W: From<Object<M>>> Clone for WeakPool<M, W> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            _wrapper: PhantomData,
        }
    }
}

impl<M: Manager, W: From<Object<M>>> fmt::Debug for WeakPool<M, W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WeakPool").finish_non_exhaustive()
    }
}

/// A snapshot of a pool's size, deadpool's four fields. Eventually
/// consistent (see [`Pool::status`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Status {
    /// The maximum size of the pool.
    pub max_size: usize,
    /// Objects that exist (idle or in use), not counting creates in flight.
    pub size: usize,
    /// Idle objects.
    pub available: usize,
    /// `get()` calls that have no object yet: queued, or creating one.
    pub waiting: usize,
}
