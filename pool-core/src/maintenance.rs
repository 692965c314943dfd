//! The pool's one background task: keeps `min_idle` objects ready, closes
//! idle surplus after `idle_timeout`, closes objects past `max_lifetime`.
//!
//! Invariant: the task holds only a weak reference to the pool between
//! ticks, and ends when the last `Pool` handle is dropped or the pool is
//! closed (both notify it, so it ends at once, not at its next tick).
//! It creates through the same breaker as `get()`, one object at a time,
//! and only into free capacity nobody waits for.

use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use crate::errors::DisplayKind;
use crate::errors::PoolError;
use crate::get::SlotGuard;
use crate::inner::PoolInner;
use crate::manager::Manager;
use crate::observe::CloseReason;
use crate::sync::{HandleArc, HandleWeak, Ordering};

/// How often the task looks at the pool.
fn tick_interval(idle_timeout: Option<Duration>, max_lifetime: Option<Duration>) -> Duration {
    let mut tick = Duration::from_millis(500);
    for d in [idle_timeout, max_lifetime].into_iter().flatten() {
        tick = tick.min(d / 4);
    }
    tick.max(Duration::from_millis(10))
}

/// Task-local state of the idle reaper.
struct Reaper {
    window_start: Instant,
    /// Smallest idle count seen since `window_start`.
    min_seen: usize,
}

pub(crate) async fn run<M: Manager>(pool: HandleWeak<PoolInner<M>>, notify: HandleArc<Notify>) {
    let tick = match pool.upgrade() {
        Some(inner) => tick_interval(inner.config.idle_timeout, inner.config.max_lifetime),
        None => return,
    };
    let mut reaper = Reaper {
        window_start: Instant::now(),
        min_seen: usize::MAX,
    };
    loop {
        {
            let Some(inner) = pool.upgrade() else { return };
            if !inner.is_live() {
                tracing::debug!("pool dropped or closed: maintenance task ends");
                return;
            }
            inner.maintain(&mut reaper).await;
        }
        // Wake early on close, on the last handle's drop, or when an object
        // was discarded (min_idle may need a replacement).
        let _ = tokio::time::timeout(tick, notify.notified()).await;
    }
}

impl<M: Manager> PoolInner<M> {
    async fn maintain(&self, reaper: &mut Reaper) {
        let now = Instant::now();
        self.expire_idle(now);
        self.reap_idle(reaper, now);
        if let Err(e) = self.warm_to(self.config.min_idle).await {
            tracing::debug!(error = %DisplayKind(&e), "warmer: create failed");
        }
    }

    /// Closes idle objects past their lifetime (no lock: `sweep_idle`).
    fn expire_idle(&self, now: Instant) {
        if self.config.max_lifetime.is_none() {
            return;
        }
        for mut obj in self.sweep_idle(|obj| obj.expires_at.is_none_or(|t| t > now)) {
            tracing::debug!(id = obj.id, "max_lifetime reached: closed");
            self.observe.closed(CloseReason::MaxLifetime, 1);
            self.detach(&mut obj.obj);
        }
    }

    /// Closes the idle surplus the pool did not need during the last
    /// `idle_timeout`: the smallest idle count seen, above `min_idle`.
    fn reap_idle(&self, reaper: &mut Reaper, now: Instant) {
        let Some(window) = self.config.idle_timeout else {
            return;
        };
        reaper.min_seen = reaper.min_seen.min(self.handoff.counts().idle);
        if now.duration_since(reaper.window_start) < window {
            return;
        }
        let surplus = reaper.min_seen.saturating_sub(self.config.min_idle);
        let mut closed = 0;
        while closed < surplus {
            let Some(mut obj) = self.handoff.take_idle() else {
                break;
            };
            self.detach(&mut obj.obj);
            closed += 1;
        }
        if closed > 0 {
            tracing::debug!(closed, "idle_timeout: closed idle surplus");
            self.observe.closed(CloseReason::IdleSurplus, closed);
        }
        reaper.window_start = now;
        reaper.min_seen = self.handoff.counts().idle;
    }

    /// Creates objects one at a time until `target` are idle, capacity runs
    /// out, or tasks start waiting (they create for themselves).
    pub(crate) async fn warm_to(&self, target: usize) -> Result<usize, PoolError<M::Error>> {
        let mut created = 0;
        // Creates in flight count as on their way: two warmers (the task and
        // `warm()`) or a warmer and a `get()` do not overshoot together.
        while {
            let c = self.handoff.counts();
            c.idle + c.creating < target
        } {
            if !self.handoff.claim_slot() {
                break;
            }
            let slot = SlotGuard::new(self);
            let probe = match self.admit() {
                Ok(probe) => probe,
                Err(refused) => {
                    drop(slot);
                    return Err(refused);
                }
            };
            let obj = self.create(slot, probe, &self.config.timeouts).await?;
            self.put(obj);
            created += 1;
        }
        Ok(created)
    }

    /// Whether the task should go on.
    fn is_live(&self) -> bool {
        self.handles.load(Ordering::Acquire) > 0 && !self.handoff.is_closed()
    }
}

impl<M: Manager> PoolInner<M> {
    /// Starts the background task if the pool needs one and a tokio runtime
    /// is at hand (a pool built outside a runtime starts it with the first
    /// handle made inside one).
    pub(crate) fn ensure_task(&self, this: &HandleArc<Self>) {
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
            runtime.spawn(run(HandleArc::downgrade(this), notify));
        }
    }
}
