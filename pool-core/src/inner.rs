//! `PoolInner`, what every handle of one pool shares: the manager, the
//! hand-off state (`handoff.rs`), the breaker, hooks and recorder; built
//! here, with what happens when an object comes back (return, put, detach)
//! and the sweep over idle objects. The get path (`get.rs`), breaker
//! admission (`admission.rs`) and the background task (`maintenance.rs`)
//! add their own methods in their own modules.

use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use crate::breaker::Breaker;
use crate::config::PoolConfig;
use crate::errors::SharedError;
use crate::handoff::Handoff;
use crate::hooks::Hooks;
use crate::manager::Manager;
use crate::metrics::Metrics;
use crate::observe::{CloseReason, Gauges, MetricsSnapshot, Recorder, Reports, USE_SAMPLE};
use crate::store::Store;
use crate::sync::{AtomicUsize, HandleArc, Mutex, OnceLock};

/// A pooled object plus what the pool knows of it, boxed once at creation:
/// it then travels through the idle store, grants and `Object`s as one
/// pointer instead of being copied at every step.
pub(crate) type ObjectInner<M> = Box<ObjectState<M>>;

/// See [`ObjectInner`].
pub(crate) struct ObjectState<M: Manager> {
    pub(crate) obj: M::Type,
    pub(crate) id: usize,
    /// Checkouts so far (wrapping): picks the sampled returns whose use
    /// time is recorded.
    pub(crate) checkouts: u32,
    pub(crate) metrics: Metrics,
    /// `created + max_lifetime`, shortened by a per-object jitter of up to
    /// 5% so that objects created together do not expire together.
    pub(crate) expires_at: Option<tokio::time::Instant>,
}

pub(crate) struct PoolInner<M: Manager> {
    pub(crate) manager: M,
    pub(crate) handoff: Handoff<ObjectInner<M>>,
    pub(crate) config: PoolConfig,
    pub(crate) hooks: Hooks<M>,
    /// Source of object ids; `Relaxed`: only uniqueness matters.
    pub(crate) next_id: AtomicUsize,
    /// Consulted before every create, told every outcome. Only the create
    /// path touches it, never a get that finds an idle object.
    pub(crate) breaker: Mutex<BreakerCell<M::Error>>,
    /// Live `Pool` handles (objects hold the inner `Arc` too, so its count
    /// cannot tell). At zero the background task ends. `AcqRel`/`Acquire`:
    /// the task's check pairs with the last handle's decrement.
    pub(crate) handles: AtomicUsize,
    /// The background task, once started (`maintenance.rs`).
    pub(crate) task: OnceLock<HandleArc<Notify>>,
    /// The configured health-check interval, or the manager's default.
    pub(crate) health_check_interval: Duration,
    /// Counters and histograms (`observe`).
    pub(crate) observe: Recorder,
    /// What health reports and windowed rates remember between calls.
    pub(crate) reports: Reports,
}

/// The breaker and the last create error it refuses callers with.
pub(crate) struct BreakerCell<E> {
    pub(crate) breaker: Breaker,
    /// Shared, so `PoolError::Unavailable` can carry it without `E: Clone`.
    pub(crate) last_error: Option<SharedError<E>>,
}

impl<M: Manager> PoolInner<M> {
    pub(crate) fn new(
        manager: M,
        config: PoolConfig,
        store: Store,
        breaker_seed: u64,
        hooks: Hooks<M>,
    ) -> Self {
        let health_check_interval = config
            .health_check_interval
            .unwrap_or_else(|| manager.health_check_interval());
        Self {
            health_check_interval,
            observe: Recorder::new(config.record_metrics),
            reports: Reports::new(Instant::now()),
            manager,
            handoff: Handoff::new(
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
        }
    }
    /// Wakes the background task (if any) before its next tick.
    pub(crate) fn wake_task(&self) {
        if let Some(notify) = self.task.get() {
            notify.notify_one();
        }
    }

    pub(crate) fn metrics(&self) -> MetricsSnapshot {
        let counts = self.handoff.counts();
        let breaker = self.breaker.lock().breaker.snapshot();
        let gauges = Gauges {
            size: counts.size,
            idle: counts.idle,
            in_use: counts.size.saturating_sub(counts.idle),
            waiting: counts.waiting,
            max_size: counts.max_size,
            min_idle: self.config.min_idle,
            breaker: breaker.state.into(),
        };
        let mut m = self.observe.snapshot(gauges, breaker.opens);
        self.reports.add_rates(&mut m, Instant::now());
        m
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
        let surplus = self.handoff.put(inner);
        self.detach_all(surplus);
    }

    /// An object leaves the pool for good: the manager is told and its slot
    /// is freed (which may serve a waiter).
    pub(crate) fn detach(&self, obj: &mut M::Type) {
        self.manager.detach(obj);
        let surplus = self.handoff.release_slot(false);
        self.detach_all(surplus);
    }

    /// A slot kept by [`Object::keep_slot`](crate::Object::keep_slot) is
    /// given up (its object already left; the manager was not told, as the
    /// caller owns the object).
    pub(crate) fn release_kept_slot(&self) {
        let surplus = self.handoff.release_slot(false);
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
        for _ in 0..self.handoff.counts().idle {
            let Some(obj) = self.handoff.take_idle() else {
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
    pub(crate) fn detach_all(&self, surplus: Vec<ObjectInner<M>>) {
        if !surplus.is_empty() {
            if self.handoff.is_closed() {
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
