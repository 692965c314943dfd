//! The pool: `get()` as an async state machine over the hand-off protocol
//! (`slots.rs`), plus the manager, hooks and timeouts around it.
//!
//! A `get()` holds at most one of: nothing (fast path or waiting), a slot
//! (capacity to create), an object being recycled. Each is held in a guard
//! whose `Drop` gives it back, so dropping the future at any `.await` loses
//! neither an object nor capacity. No lock is held across any `.await`.

use std::{
    fmt,
    future::Future,
    marker::PhantomData,
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use tokio::time::Instant;

use crate::breaker::{Admission, Breaker, BreakerSnapshot, BreakerState, Transition};
use crate::errors::SharedError;
use crate::hooks::Hooks;
use crate::object::{ObjectInner, ObjectState};
use crate::observe::{
    CloseReason, Gauges, GetOutcomes, GetProgress, Health, HealthThresholds, MetricsSnapshot,
    RatePoint, Recorder, SizeAdvice, Summary, USE_SAMPLE,
};
use crate::slots::{Claim, FastClaim, Grant, Slots, WaitHandle};
use crate::state::MAX_POOL_SIZE;
use crate::sync::{AtomicUsize, HandleArc, HandleWeak, Mutex, OnceLock, Ordering, StdMutex};
use crate::{
    Manager, Metrics, Object, PoolBuilder, PoolConfig, PoolError, Status, Store, TimeoutType,
    Timeouts,
};
use tokio::sync::Notify;

/// The body of a `get()`: acquire, then record its one outcome. A macro,
/// not an `async fn`, so the plain path has no extra future layer (an
/// extra layer on the hottest path measurably slows every get) and the
/// traced path shares the same code.
macro_rules! recorded_get {
    ($pool:expr, $timeouts:expr) => {{
        let pool = $pool;
        let mut outcome = Outcome {
            rec: &pool.inner.observe,
            progress: GetProgress::default(),
            ended: false,
        };
        match pool.inner.acquire($timeouts, &mut outcome.progress).await {
            Ok(inner) => {
                outcome.ended = true;
                outcome.rec.served(&outcome.progress, inner.checkouts);
                Ok(Object {
                    inner: Some(inner),
                    pool: pool.inner.clone(),
                }
                .into())
            }
            Err(e) => {
                outcome.ended = true;
                outcome.rec.failed(&outcome.progress, &e);
                Err(*e)
            }
        }
    }};
}

/// A pool of objects made by a [`Manager`]. Cheap to clone: clones share the
/// pool.
pub struct Pool<M: Manager, W: From<Object<M>> = Object<M>> {
    inner: HandleArc<PoolInner<M>>,
    _wrapper: PhantomData<fn() -> W>,
}

pub(crate) struct PoolInner<M: Manager> {
    manager: M,
    pub(crate) slots: Slots<ObjectInner<M>>,
    pub(crate) config: PoolConfig,
    hooks: Hooks<M>,
    /// Source of object ids; `Relaxed`: only uniqueness matters.
    next_id: AtomicUsize,
    /// Consulted before every create, told every outcome. Only the create
    /// path touches it, never a get that finds an idle object.
    pub(crate) breaker: Mutex<BreakerCell<M::Error>>,
    /// Live `Pool` handles (objects hold the inner `Arc` too, so its count
    /// cannot tell). At zero the background task ends. `AcqRel`/`Acquire`:
    /// the task's check pairs with the last handle's decrement.
    pub(crate) handles: AtomicUsize,
    /// The background task, once started (`maintenance.rs`).
    task: OnceLock<HandleArc<Notify>>,
    /// How often the background task runs.
    pub(crate) tick: Duration,
    /// The configured health-check interval, or the manager's default.
    health_check_interval: Duration,
    /// Counters and histograms (`observe`).
    pub(crate) observe: Recorder,
    /// The snapshot the last `health()` judged up to: the next report's
    /// window starts there.
    health_mark: StdMutex<Option<MetricsSnapshot>>,
    /// Points of earlier `metrics()` calls, for the windowed rates.
    rate_history: StdMutex<std::collections::VecDeque<RatePoint>>,
}

/// The breaker and the last create error it refuses callers with.
pub(crate) struct BreakerCell<E> {
    breaker: Breaker,
    /// Shared, so `PoolError::Unavailable` can carry it without `E: Clone`.
    last_error: Option<SharedError<E>>,
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
    /// A builder for a new pool.
    pub fn builder(manager: M) -> PoolBuilder<M, W> {
        PoolBuilder::new(manager)
    }

    pub(crate) fn from_builder(
        manager: M,
        config: PoolConfig,
        store: Store,
        breaker_seed: u64,
        hooks: Hooks<M>,
    ) -> Self {
        let health_check_interval = config
            .health_check_interval
            .unwrap_or_else(|| manager.health_check_interval());
        Self::without_task(HandleArc::new(PoolInner {
            health_check_interval,
            observe: Recorder::new(config.record_metrics),
            health_mark: StdMutex::new(None),
            rate_history: StdMutex::new(std::collections::VecDeque::from([RatePoint::zero(
                Instant::now(),
            )])),
            manager,
            slots: Slots::new(
                config.max_size,
                config.max_overflow,
                config.max_concurrent_creates,
                store,
                config.queue_mode,
            ),
            config,
            hooks,
            next_id: AtomicUsize::new(0),
            breaker: Mutex::new(BreakerCell {
                breaker: Breaker::new(config.breaker, breaker_seed),
                last_error: None,
            }),
            handles: AtomicUsize::new(0),
            task: OnceLock::new(),
            tick: crate::maintenance::tick_interval(config.idle_timeout, config.max_lifetime),
        }))
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
        let target = self.inner.slots.counts().idle + n;
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
    pub fn publish_metrics(&self, name: &str) {
        crate::observe::export::publish(name, &self.metrics());
    }

    /// A health report over the time since the previous report (or since
    /// the pool was built), with the seeds' default thresholds.
    #[must_use]
    pub fn health(&self) -> Health {
        self.health_with(&HealthThresholds::default())
    }

    /// [`Pool::health`] with other thresholds.
    #[must_use]
    pub fn health_with(&self, thresholds: &HealthThresholds) -> Health {
        let now = self.inner.metrics();
        let mut mark = self
            .inner
            .health_mark
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let before = mark.take().unwrap_or(MetricsSnapshot {
            gets: GetOutcomes::default(),
            creates_failed: 0,
            uptime: Duration::ZERO,
            wait: Summary::default(),
            ..now
        });
        let report = crate::observe::judge_window(&now, &before, thresholds);
        *mark = Some(now);
        report
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
        let size = self.inner.slots.counts().size;
        self.inner
            .observe
            .expect_resized_away(size.saturating_sub(max_size));
        let surplus = self.inner.slots.resize(max_size);
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
            let surplus = inner.slots.release_slot(false);
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
        let surplus = self.inner.slots.close();
        self.inner.detach_all(surplus);
        self.inner.wake_task();
    }

    /// Whether [`Pool::close`] was called.
    pub fn is_closed(&self) -> bool {
        self.inner.slots.is_closed()
    }

    /// A snapshot of the pool's size. Eventually consistent: the fields are
    /// read one after another while other tasks go on.
    #[must_use]
    pub fn status(&self) -> Status {
        let counts = self.inner.slots.counts();
        Status {
            max_size: counts.max_size,
            size: counts.size,
            available: counts.idle,
            waiting: counts.waiting,
        }
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

impl<M: Manager> PoolInner<M> {
    /// Starts the background task if the pool needs one and a tokio runtime
    /// is at hand (a pool built outside a runtime starts it with the first
    /// handle made inside one).
    fn ensure_task(&self, this: &HandleArc<Self>) {
        let c = &self.config;
        if self.task.get().is_some()
            || (c.min_idle == 0 && c.idle_timeout.is_none() && c.max_lifetime.is_none())
        {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let notify = HandleArc::new(Notify::new());
        if self.task.set(notify.clone()).is_ok() {
            runtime.spawn(crate::maintenance::run(HandleArc::downgrade(this), notify));
        }
    }

    /// Wakes the background task (if any) before its next tick.
    fn wake_task(&self) {
        if let Some(notify) = self.task.get() {
            notify.notify_one();
        }
    }

    fn metrics(&self) -> MetricsSnapshot {
        let counts = self.slots.counts();
        let breaker = self.breaker.lock().breaker.snapshot();
        let gauges = Gauges {
            size: counts.size,
            idle: counts.idle,
            in_use: counts.size.saturating_sub(counts.idle),
            waiting: counts.waiting,
            max_size: counts.max_size,
            min_idle: self.config.min_idle,
            breaker: match breaker.state {
                BreakerState::Closed => "closed",
                BreakerState::Open { .. } => "open",
                BreakerState::HalfOpen => "half-open",
            },
        };
        let mut m = self.observe.snapshot(gauges, breaker.opens);
        let mut history = self.rate_history.lock().unwrap_or_else(|p| p.into_inner());
        crate::observe::rates(&mut history, &mut m, Instant::now());
        m
    }

    /// The body of `get()`.
    ///
    /// The error is boxed: `PoolError` is several words with odd-sized
    /// fields, and moving it inline through every `Poll` of the hot path cost
    /// a measurable share of get+drop (store-forwarding stalls); a boxed
    /// error keeps the success path's value two words wide.
    async fn acquire(
        &self,
        timeouts: &Timeouts,
        progress: &mut GetProgress,
    ) -> Result<ObjectInner<M>, Box<PoolError<M::Error>>> {
        // Not a helper `async fn`: an extra future layer on the hottest path
        // measurably slows every get.
        // The wait timeout is one budget for the whole get, counted from
        // its first recycle or wait: a get whose recycle failed and then
        // waits again gets what is left, so a checkout takes at most the
        // wait timeout plus its create (or recycle) timeouts, not a fresh
        // wait after every failed check. Read only off the fast path.
        let mut waiting_since: Option<Instant> = None;
        macro_rules! claim {
            () => {
                match self.slots.try_claim() {
                    FastClaim::Got(claim) => claim,
                    FastClaim::Closed => return Err(Box::new(PoolError::Closed)),
                    FastClaim::MustWait => {
                        progress.waited = true;
                        progress.slow(&self.observe, Instant::now);
                        let limit = timeouts.wait.map(|wait| {
                            let since = *waiting_since.get_or_insert_with(Instant::now);
                            wait.saturating_sub(since.elapsed())
                        });
                        self.wait(limit).await.map_err(Box::new)?
                    }
                }
            };
        }
        let mut claim = claim!();
        loop {
            claim = match claim {
                Claim::Object(obj) => {
                    let mut held = Held {
                        pool: self,
                        obj: Some(obj),
                    };
                    // The one clock read of a checkout: the TTL decision and
                    // every stamp below use it.
                    let now = Instant::now();
                    let inner = held.get_mut();
                    let expired = inner.expires_at.is_some_and(|t| t <= now);
                    let fresh = inner.metrics.is_fresh(now, self.health_check_interval)
                        && !self.manager.needs_recycle(&mut inner.obj);
                    if !expired && fresh {
                        inner.metrics.used = Some(now);
                        inner.checkouts = inner.checkouts.wrapping_add(1);
                        return Ok(held.keep());
                    }
                    progress.recycled_from = Some(now);
                    waiting_since.get_or_insert(now);
                    if !expired && self.recycle(inner, timeouts, now).await {
                        let inner = held.get_mut();
                        inner.metrics.used = Some(now);
                        inner.checkouts = inner.checkouts.wrapping_add(1);
                        return Ok(held.keep());
                    }
                    // Discard it (freeing its slot) and look for another
                    // object, as deadpool; a new create takes a permit like
                    // any other.
                    self.observe.closed(
                        if expired {
                            CloseReason::MaxLifetime
                        } else {
                            CloseReason::RecycleFailed
                        },
                        1,
                    );
                    drop(held);
                    claim!()
                }
                Claim::Slot => {
                    progress.slow(&self.observe, Instant::now);
                    let slot = SlotGuard { pool: self };
                    match self.slots.trade_slot_for_idle() {
                        Some(obj) => {
                            std::mem::forget(slot);
                            Claim::Object(obj)
                        }
                        None => {
                            let probe = match self.admit() {
                                Ok(probe) => probe,
                                Err(refused) => {
                                    drop(slot); // the capacity goes to the next in line
                                    return Err(Box::new(refused));
                                }
                            };
                            return self.create(slot, probe, timeouts).await.map_err(Box::new);
                        }
                    }
                }
            }
        }
    }

    /// Waits in line for an object or a slot.
    async fn wait(
        &self,
        limit: Option<Duration>,
    ) -> Result<Claim<ObjectInner<M>>, PoolError<M::Error>> {
        if limit == Some(Duration::ZERO) {
            return Err(PoolError::Timeout(TimeoutType::Wait));
        }
        let waiting = Waiting {
            pool: self,
            handle: self.slots.waiter(),
        };
        let granted = match limit {
            None => Ok(waiting.await),
            Some(limit) => tokio::time::timeout(limit, waiting).await,
        };
        match granted {
            Ok(Grant::Claim(claim)) => Ok(claim),
            Ok(Grant::Closed) => Err(PoolError::Closed),
            // Waited out while creates fail: say why, not just "timed out".
            Err(_) => Err(self
                .unavailable(Instant::now())
                .unwrap_or(PoolError::Timeout(TimeoutType::Wait))),
        }
    }

    /// Asks the breaker whether a create may start. `Ok(probe)`: yes (the
    /// guard says whether it is the half-open probe); `Err`: refused, with
    /// the error to give the caller.
    pub(crate) fn admit(&self) -> Result<ProbeGuard<'_, M>, PoolError<M::Error>> {
        let now = Instant::now();
        let mut cell = self.breaker.lock();
        match cell.breaker.admit(now) {
            Admission::Allowed => Ok(ProbeGuard {
                pool: self,
                probe: false,
                done: false,
            }),
            Admission::Probe => {
                tracing::info!("breaker half-open: one probe create");
                Ok(ProbeGuard {
                    pool: self,
                    probe: true,
                    done: false,
                })
            }
            Admission::Refused { retry_in } => Err(PoolError::Unavailable {
                last_error: cell.last_error.clone(),
                failures: cell.breaker.consecutive_failures(),
                retry_in,
            }),
        }
    }

    /// `Unavailable` if creates are currently failing, for a caller that
    /// gave up waiting.
    fn unavailable(&self, now: Instant) -> Option<PoolError<M::Error>> {
        let cell = self.breaker.lock();
        let failures = cell.breaker.consecutive_failures();
        if failures == 0 {
            return None;
        }
        let retry_in = match cell.breaker.snapshot().state {
            crate::BreakerState::Open { until } => until.saturating_duration_since(now),
            _ => Duration::ZERO,
        };
        Some(PoolError::Unavailable {
            last_error: cell.last_error.clone(),
            failures,
            retry_in,
        })
    }

    /// deadpool's recycle: hooks around `Manager::recycle`, each able to
    /// reject the object. `false`: the object must not be handed out.
    async fn recycle(&self, inner: &mut ObjectInner<M>, timeouts: &Timeouts, now: Instant) -> bool {
        if !self.hooks.pre_recycle.is_empty()
            && let Err(e) = self
                .hooks
                .pre_recycle
                .apply(&mut inner.obj, &inner.metrics)
                .await
        {
            tracing::debug!(error = %DisplayHook(&e), "pre_recycle hook rejected an object");
            return false;
        }
        let recycle = self.manager.recycle(&mut inner.obj, &inner.metrics);
        let recycled = match timeouts.recycle {
            None => Ok(recycle.await),
            Some(limit) => tokio::time::timeout(limit, recycle).await,
        };
        self.observe.recycle_done(matches!(recycled, Ok(Ok(()))));
        match recycled {
            Ok(Ok(())) => {}
            Ok(Err(_)) => {
                tracing::debug!(id = inner.id, "recycle failed; object discarded");
                return false;
            }
            Err(_) => {
                tracing::debug!(id = inner.id, "recycle timed out; object discarded");
                return false;
            }
        }
        if !self.hooks.post_recycle.is_empty()
            && let Err(e) = self
                .hooks
                .post_recycle
                .apply(&mut inner.obj, &inner.metrics)
                .await
        {
            tracing::debug!(error = %DisplayHook(&e), "post_recycle hook rejected an object");
            return false;
        }
        inner.metrics.recycle_count += 1;
        inner.metrics.recycled = Some(now);
        true
    }

    /// Creates an object into a claimed slot.
    pub(crate) async fn create(
        &self,
        slot: SlotGuard<'_, M>,
        probe: ProbeGuard<'_, M>,
        timeouts: &Timeouts,
    ) -> Result<ObjectInner<M>, PoolError<M::Error>> {
        let started = self.observe.enabled.then(Instant::now);
        let created = match timeouts.create {
            None => Ok(self.manager.create().await),
            Some(limit) => tokio::time::timeout(limit, self.manager.create()).await,
        };
        if let Some(started) = started {
            self.observe
                .create_done(started.elapsed(), matches!(created, Ok(Ok(_))));
        }
        let obj = match created {
            Ok(Ok(obj)) => {
                probe.succeeded();
                obj
            }
            Ok(Err(e)) => return Err(probe.failed(Some(e))),
            Err(_) => return Err(probe.failed(None)),
        };
        std::mem::forget(slot);
        let surplus = self.slots.slot_filled();
        self.detach_all(surplus);
        let created_at = Instant::now();
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut held = Held {
            pool: self,
            obj: Some(Box::new(ObjectState {
                obj,
                id,
                checkouts: 1,
                metrics: Metrics {
                    used: Some(created_at),
                    ..Metrics::new(created_at)
                },
                expires_at: self
                    .config
                    .max_lifetime
                    .map(|life| created_at + jittered(life, id)),
            })),
        };
        if !self.hooks.post_create.is_empty() {
            let inner = held.get_mut();
            if let Err(e) = self
                .hooks
                .post_create
                .apply(&mut inner.obj, &inner.metrics)
                .await
            {
                return Err(PoolError::PostCreateHook(e));
            }
        }
        Ok(held.keep())
    }

    /// An object comes back from a caller.
    pub(crate) fn return_object(&self, mut inner: ObjectInner<M>) {
        if self.observe.enabled
            && inner.checkouts.is_multiple_of(USE_SAMPLE)
            && let Some(used) = inner.metrics.used
        {
            self.observe.used_for(used.elapsed());
        }
        if self.manager.is_broken(&mut inner.obj) {
            tracing::debug!(id = inner.id, "object broken at return; discarded");
            self.observe.closed(CloseReason::Broken, 1);
            self.detach(&mut inner.obj);
            return;
        }
        self.put(inner);
    }

    /// Puts a healthy object back (to a waiter or the idle store).
    pub(crate) fn put(&self, inner: ObjectInner<M>) {
        let surplus = self.slots.put(inner);
        self.detach_all(surplus);
    }

    /// An object leaves the pool for good: the manager is told and its slot
    /// is freed (which may serve a waiter).
    pub(crate) fn detach(&self, obj: &mut M::Type) {
        self.manager.detach(obj);
        let surplus = self.slots.release_slot(false);
        self.detach_all(surplus);
    }

    /// A slot kept by [`Object::keep_slot`](crate::Object::keep_slot) is
    /// given up (its object already left; the manager was not told, as the
    /// caller owns the object).
    pub(crate) fn release_kept_slot(&self) {
        let surplus = self.slots.release_slot(false);
        self.detach_all(surplus);
    }

    /// Takes every idle object out once, asks `keep` about each, and puts
    /// the kept ones back after the sweep, in the order taken. Returns the
    /// others; their slots are still taken (the caller releases them).
    /// Putting back at once would let the sweep meet the same object again
    /// and miss another: the lock-free store is FIFO only within each of its
    /// segments (a fuzzer found `retain` skipping an object that way).
    pub(crate) fn sweep_idle(
        &self,
        mut keep: impl FnMut(&ObjectInner<M>) -> bool,
    ) -> Vec<ObjectInner<M>> {
        let mut kept = Vec::new();
        let mut removed = Vec::new();
        for _ in 0..self.slots.counts().idle {
            let Some(obj) = self.slots.take_idle() else {
                break;
            };
            if keep(&obj) {
                kept.push(obj);
            } else {
                removed.push(obj);
            }
        }
        for obj in kept {
            self.put(obj);
        }
        removed
    }

    /// Drops objects the protocol shed (their slots are already released):
    /// the pool closed, or they came back above `max_size`.
    fn detach_all(&self, surplus: Vec<ObjectInner<M>>) {
        if !surplus.is_empty() {
            if self.slots.is_closed() {
                self.observe.closed(CloseReason::PoolClosed, surplus.len());
            } else {
                self.observe.shed(surplus.len());
            }
        }
        for mut inner in surplus {
            self.manager.detach(&mut inner.obj);
        }
    }
}

/// The outcome of one `get()`: recorded exactly once, as cancelled if the
/// future is dropped before `acquire` ends.
struct Outcome<'a> {
    rec: &'a Recorder,
    progress: GetProgress,
    ended: bool,
}

impl Drop for Outcome<'_> {
    fn drop(&mut self) {
        if !self.ended {
            self.rec.cancelled(&self.progress);
        }
    }
}

/// A create admitted by the breaker. Its outcome must be reported:
/// `succeeded`, `failed`, or (dropped unreported: the `get()` was cancelled)
/// the probe slot is freed for the next caller.
pub(crate) struct ProbeGuard<'a, M: Manager> {
    pool: &'a PoolInner<M>,
    probe: bool,
    done: bool,
}

impl<M: Manager> ProbeGuard<'_, M> {
    fn succeeded(mut self) {
        self.done = true;
        let transition = self.pool.breaker.lock().breaker.on_success(self.probe);
        if transition == Transition::Closed {
            tracing::info!("breaker closed: create succeeded");
        }
    }

    /// Records a failed create (`None`: it timed out) and returns the error
    /// for the caller: the backend's own while the breaker stays closed,
    /// `Unavailable` (with this error as the last one) once it is open.
    fn failed(mut self, error: Option<M::Error>) -> PoolError<M::Error> {
        self.done = true;
        tracing::warn!(
            timed_out = error.is_none(),
            probe = self.probe,
            "create failed"
        );
        let now = Instant::now();
        let mut cell = self.pool.breaker.lock();
        let transition = cell.breaker.on_failure(now, self.probe);
        let failures = cell.breaker.consecutive_failures();
        match transition {
            Transition::Opened { delay } => {
                tracing::warn!(failures, retry_in = ?delay, "breaker opened: creates keep failing");
                let last_error = error.map(SharedError::new);
                cell.last_error = last_error.clone();
                PoolError::Unavailable {
                    last_error,
                    failures,
                    retry_in: delay,
                }
            }
            _ => match error {
                Some(e) => PoolError::Backend(e),
                None => PoolError::Timeout(TimeoutType::Create),
            },
        }
    }
}

impl<M: Manager> Drop for ProbeGuard<'_, M> {
    fn drop(&mut self) {
        if !self.done && self.probe {
            self.pool.breaker.lock().breaker.on_probe_cancelled();
        }
    }
}

/// A claimed slot with no object yet. Dropped: the capacity is released.
pub(crate) struct SlotGuard<'a, M: Manager> {
    pool: &'a PoolInner<M>,
}

impl<'a, M: Manager> SlotGuard<'a, M> {
    /// Takes over a slot already claimed (and counted in `creating`).
    pub(crate) fn new(pool: &'a PoolInner<M>) -> Self {
        Self { pool }
    }
}

impl<M: Manager> Drop for SlotGuard<'_, M> {
    fn drop(&mut self) {
        let surplus = self.pool.slots.release_slot(true);
        self.pool.detach_all(surplus);
    }
}

/// An object that is not ready to be handed out (being recycled, or just
/// created and in its hooks). Dropped: the object is discarded and its slot
/// released.
struct Held<'a, M: Manager> {
    pool: &'a PoolInner<M>,
    obj: Option<ObjectInner<M>>,
}

impl<M: Manager> Held<'_, M> {
    fn get_mut(&mut self) -> &mut ObjectInner<M> {
        self.obj.as_mut().expect("held until kept or discarded")
    }

    fn keep(mut self) -> ObjectInner<M> {
        self.obj.take().expect("held until kept or discarded")
    }
}

impl<M: Manager> Drop for Held<'_, M> {
    fn drop(&mut self) {
        if let Some(mut inner) = self.obj.take() {
            self.pool.detach(&mut inner.obj);
        }
    }
}

/// A registered waiter. Dropped before its grant was taken (timeout,
/// cancellation): it leaves the queue, or gives back what it was granted.
struct Waiting<'a, M: Manager> {
    pool: &'a PoolInner<M>,
    handle: WaitHandle<ObjectInner<M>>,
}

impl<M: Manager> Future for Waiting<'_, M> {
    type Output = Grant<ObjectInner<M>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let (slots, handle) = (&this.pool.slots, &mut this.handle);
        this.pool
            .observe
            .time_slow_path(|| slots.poll_wait(handle, cx))
    }
}

impl<M: Manager> Drop for Waiting<'_, M> {
    fn drop(&mut self) {
        if !self.handle.is_pending() {
            return;
        }
        match self.pool.slots.cancel_wait(&mut self.handle) {
            Some(Grant::Claim(Claim::Object(obj))) => self.pool.return_object(obj),
            Some(Grant::Claim(Claim::Slot)) => drop(SlotGuard { pool: self.pool }),
            Some(Grant::Closed) | None => {}
        }
    }
}

/// Formats a hook error without requiring `E: Display`.
struct DisplayHook<'a, E>(&'a crate::HookError<E>);

impl<E> fmt::Display for DisplayHook<'_, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            crate::HookError::Message(msg) => f.write_str(msg),
            crate::HookError::Backend(_) => f.write_str("backend error"),
        }
    }
}

/// Names a `PoolError` in logs without requiring `E: Display`.
pub(crate) struct DisplayKind<'a, E>(pub(crate) &'a PoolError<E>);

impl<E> fmt::Display for DisplayKind<'_, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            PoolError::Timeout(t) => write!(f, "timeout ({t:?})"),
            PoolError::Backend(_) => f.write_str("create failed"),
            PoolError::Closed => f.write_str("closed"),
            PoolError::NoRuntimeSpecified => f.write_str("no runtime"),
            PoolError::PostCreateHook(_) => f.write_str("post_create hook failed"),
            PoolError::Unavailable {
                failures, retry_in, ..
            } => {
                write!(
                    f,
                    "unavailable after {failures} failed creates, retry in {retry_in:?}"
                )
            }
        }
    }
}

/// `life` shortened by a per-object jitter in `[0, 5%)`, derived from the
/// object id (splitmix64), so objects created together expire apart.
fn jittered(life: Duration, id: usize) -> Duration {
    let mut z = (id as u64).wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    let fraction = (z >> 11) as f64 / (1u64 << 53) as f64;
    life.mul_f64(1.0 - 0.05 * fraction)
}
