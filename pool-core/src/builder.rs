//! Building a pool, with the checks that turn bad input into errors.

use std::{fmt, marker::PhantomData, time::Duration};

use crate::config::{PoolConfig, QueueMode, Timeouts};
use crate::errors::BuildError;
use crate::handle::Pool;
use crate::hooks::{Hook, Hooks};
use crate::manager::Manager;
use crate::object::Object;
use crate::runtime::Runtime;
use crate::state::MAX_POOL_SIZE;
use crate::store::Store;

/// Builder of a [`Pool`].
#[must_use = "builder does nothing itself, use `.build()` to build it"]
pub struct PoolBuilder<M, W = Object<M>>
where
    M: Manager,
    W: From<Object<M>>,
{
    pub(crate) manager: M,
    pub(crate) config: PoolConfig,
    pub(crate) store: Option<Store>,
    pub(crate) breaker_seed: Option<u64>,
    pub(crate) hooks: Hooks<M>,
    _wrapper: PhantomData<fn() -> W>,
}

impl<M: Manager, W: From<Object<M>>> Pool<M, W> {
    /// A builder for a new pool.
    pub fn builder(manager: M) -> PoolBuilder<M, W> {
        PoolBuilder::new(manager)
    }
}

impl<M, W> PoolBuilder<M, W>
where
    M: Manager,
    W: From<Object<M>>,
{
    pub(crate) fn new(manager: M) -> Self {
        Self {
            manager,
            config: PoolConfig::default(),
            store: None,
            breaker_seed: None,
            hooks: Hooks::default(),
            _wrapper: PhantomData,
        }
    }

    /// Builds the pool and starts its background task.
    ///
    /// # Errors
    /// [`BuildError`] names what is wrong with the configuration.
    pub fn build(self) -> Result<Pool<M, W>, BuildError> {
        let pool = self.build_without_task()?;
        pool.start_task();
        Ok(pool)
    }

    fn build_without_task(self) -> Result<Pool<M, W>, BuildError> {
        let max_size = self.config.max_size;
        if max_size.saturating_add(self.config.max_overflow) > MAX_POOL_SIZE {
            return Err(BuildError::MaxSizeTooLarge {
                max_size,
                limit: MAX_POOL_SIZE,
            });
        }
        let breaker = self.config.breaker;
        if breaker.base > breaker.cap {
            return Err(BuildError::BreakerBaseAboveCap {
                base: breaker.base,
                cap: breaker.cap,
            });
        }
        let store = match (self.store, self.config.queue_mode) {
            (Some(Store::LockFree), QueueMode::Lifo) => {
                return Err(BuildError::LifoNeedsMutexStore);
            }
            (Some(store), _) => store,
            (None, QueueMode::Lifo) => Store::Mutex,
            (None, QueueMode::Fifo) => Store::default(),
        };
        if max_size == 0 {
            // deadpool accepts 0 (a paused pool, grown later by `resize`), and
            // its tests rely on it; say so, since `get()` will wait until then.
            tracing::warn!("pool built with max_size 0: every get() waits until resize() grows it");
        }
        let seed = self
            .breaker_seed
            .unwrap_or_else(crate::breaker::random_seed);
        Ok(Pool::from_builder(
            self.manager,
            self.config,
            store,
            seed,
            self.hooks,
        ))
    }

    /// Sets the whole [`PoolConfig`].
    pub fn config(mut self, value: PoolConfig) -> Self {
        self.config = value;
        self
    }

    /// Maximum number of objects (default: twice the CPU cores).
    pub fn max_size(mut self, value: usize) -> Self {
        self.config.max_size = value;
        self
    }

    /// All timeouts.
    pub fn timeouts(mut self, value: Timeouts) -> Self {
        self.config.timeouts = value;
        self
    }

    /// The wait timeout.
    pub fn wait_timeout(mut self, value: Option<Duration>) -> Self {
        self.config.timeouts.wait = value;
        self
    }

    /// The create timeout.
    pub fn create_timeout(mut self, value: Option<Duration>) -> Self {
        self.config.timeouts.create = value;
        self
    }

    /// The recycle timeout.
    pub fn recycle_timeout(mut self, value: Option<Duration>) -> Self {
        self.config.timeouts.recycle = value;
        self
    }

    /// Turns recording of outcomes, counters and histograms on or off
    /// (`Pool::metrics`; default on). Off, the gauges still work.
    pub fn record_metrics(mut self, value: bool) -> Self {
        self.config.record_metrics = value;
        self
    }

    /// Skip `recycle` on checkout for objects used, checked or created within
    /// this interval (default: the manager's, `ZERO` unless it says
    /// otherwise: recycle every time, as deadpool).
    pub fn health_check_interval(mut self, value: Duration) -> Self {
        self.config.health_check_interval = Some(value);
        self
    }

    /// Objects allowed above `max_size` in a burst, closed on return
    /// (default 0).
    pub fn max_overflow(mut self, value: usize) -> Self {
        self.config.max_overflow = value;
        self
    }

    /// Creates that may run at once (default 2; 0 = no limit).
    pub fn max_concurrent_creates(mut self, value: usize) -> Self {
        self.config.max_concurrent_creates = value;
        self
    }

    /// Idle objects the background task keeps ready (default 0).
    pub fn min_idle(mut self, value: usize) -> Self {
        self.config.min_idle = value;
        self
    }

    /// Close idle surplus after this long unneeded (default 10 min).
    pub fn idle_timeout(mut self, value: Option<Duration>) -> Self {
        self.config.idle_timeout = value;
        self
    }

    /// Close objects after this long, with up to 5% jitter (default 30 min).
    pub fn max_lifetime(mut self, value: Option<Duration>) -> Self {
        self.config.max_lifetime = value;
        self
    }

    /// Builds the pool and waits until `min_idle` objects exist (or a create
    /// fails: the pool is returned anyway, the background task keeps trying,
    /// and a warning is logged).
    ///
    /// # Errors
    /// As [`PoolBuilder::build`].
    pub async fn build_and_warm(self) -> Result<Pool<M, W>, BuildError> {
        // The background task starts after this warm-up, so the two do not
        // race for the same objects.
        let pool = self.build_without_task()?;
        let min_idle = pool.min_idle();
        if let Err(e) = pool.warm(min_idle).await {
            tracing::warn!(error = %crate::errors::DisplayKind(&e), "warming to min_idle stopped early");
        }
        pool.start_task();
        Ok(pool)
    }

    /// The create circuit breaker: failures to open it, backoff base and cap.
    pub fn breaker(mut self, value: crate::BreakerConfig) -> Self {
        self.config.breaker = value;
        self
    }

    /// Seeds the breaker's jitter, for reproducible tests. Not part of the
    /// stable API.
    #[doc(hidden)]
    pub fn breaker_seed(mut self, seed: u64) -> Self {
        self.breaker_seed = Some(seed);
        self
    }

    /// FIFO (default) or LIFO reuse of idle objects.
    pub fn queue_mode(mut self, value: QueueMode) -> Self {
        self.config.queue_mode = value;
        self
    }

    /// The idle store (default: `LockFree` with the `fast-acquire` feature,
    /// else `Mutex`; `Mutex` for `QueueMode::Lifo`).
    pub fn store(mut self, value: Store) -> Self {
        self.store = Some(value);
        self
    }

    /// Accepted for deadpool compatibility; tokio is the only runtime.
    pub fn runtime(self, _value: Runtime) -> Self {
        self
    }

    /// A hook run after an object was created.
    pub fn post_create(mut self, hook: impl Into<Hook<M>>) -> Self {
        self.hooks.post_create.push(hook.into());
        self
    }

    /// A hook run before an idle object is recycled.
    pub fn pre_recycle(mut self, hook: impl Into<Hook<M>>) -> Self {
        self.hooks.pre_recycle.push(hook.into());
        self
    }

    /// A hook run after an idle object was recycled.
    pub fn post_recycle(mut self, hook: impl Into<Hook<M>>) -> Self {
        self.hooks.post_recycle.push(hook.into());
        self
    }
}

impl<M, W> fmt::Debug for PoolBuilder<M, W>
where
    M: Manager + fmt::Debug,
    W: From<Object<M>>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PoolBuilder")
            .field("manager", &self.manager)
            .field("config", &self.config)
            .field("store", &self.store)
            .field("hooks", &self.hooks)
            .finish()
    }
}
