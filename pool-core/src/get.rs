//! The get path: claim an idle object or a slot (or wait in line), then
//! recycle the object or create into the slot, through the hooks and
//! timeouts.
//!
//! A `get()` holds at most one of: nothing (fast path or waiting), a slot
//! (capacity to create), an object being recycled. Each is held in a guard
//! whose `Drop` gives it back, so dropping the future at any `.await` loses
//! neither an object nor capacity. No lock is held across any `.await`.

use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use tokio::time::Instant;

use crate::admission::ProbeGuard;
use crate::config::Timeouts;
use crate::errors::DisplayHook;
use crate::errors::{PoolError, TimeoutType};
use crate::handoff::{Claim, FastClaim, Grant, WaitHandle};
use crate::inner::{ObjectInner, ObjectState, PoolInner};
use crate::manager::Manager;
use crate::metrics::Metrics;
use crate::observe::{CloseReason, GetProgress, Recorder};
use crate::sync::Ordering;

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
                let (checkouts, used) = (inner.checkouts, inner.metrics.used);
                // The pool's reference first: its locked increment waits for
                // the store buffer to drain, so the count's store goes after it.
                let object = Object {
                    inner: Some(inner),
                    pool: pool.inner.clone(),
                };
                outcome.rec.served(&outcome.progress, checkouts, used);
                Ok(object.into())
            }
            Err(e) => {
                outcome.ended = true;
                outcome.rec.failed(&outcome.progress, &e);
                Err(*e)
            }
        }
    }};
}
pub(crate) use recorded_get;

impl<M: Manager> PoolInner<M> {
    /// The body of `get()`.
    ///
    /// The error is boxed: `PoolError` is several words with odd-sized
    /// fields, and moving it inline through every `Poll` of the hot path cost
    /// a measurable share of get+drop (store-forwarding stalls); a boxed
    /// error keeps the success path's value two words wide.
    pub(crate) async fn acquire(
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
                match self.handoff.try_claim() {
                    FastClaim::Got(claim) => claim,
                    FastClaim::Closed => return Err(Box::new(PoolError::Closed)),
                    FastClaim::MustWait => {
                        progress.waited = true;
                        progress.slow(&self.observe, Instant::now);
                        let limit = timeouts.wait.map(|wait| {
                            let since = *waiting_since.get_or_insert_with(Instant::now);
                            wait.saturating_sub(since.elapsed())
                        });
                        self.wait(limit, progress.is_timed())
                            .await
                            .map_err(Box::new)?
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
                    let recycled = if expired {
                        false
                    } else if self.observe.recycle_is_timed(progress, inner.checkouts) {
                        self.timed_recycle(inner, timeouts, now, progress).await
                    } else {
                        self.recycle(inner, timeouts, now, progress).await
                    };
                    if recycled {
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
                    let slot = SlotGuard::new(self);
                    match self.handoff.trade_slot_for_idle() {
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
        timed: bool,
    ) -> Result<Claim<ObjectInner<M>>, PoolError<M::Error>> {
        if limit == Some(Duration::ZERO) {
            return Err(PoolError::Timeout(TimeoutType::Wait));
        }
        let waiting = Waiting {
            pool: self,
            handle: self.handoff.waiter(),
            timed,
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

    /// `recycle`, timed on the TSC: a recycle that never yielded cannot
    /// have let tokio's clock move (paused time in tests moves only while
    /// tasks wait), so real time is its time, and two TSC reads replace a
    /// read of tokio's clock at its end. One that yielded leaves
    /// `recycle_took` empty, and the end is read from tokio's clock.
    async fn timed_recycle(
        &self,
        inner: &mut ObjectInner<M>,
        timeouts: &Timeouts,
        now: Instant,
        progress: &mut GetProgress,
    ) -> bool {
        let started = self.observe.real_now();
        let mut yielded = false;
        let recycled = {
            let mut recycle = std::pin::pin!(self.recycle(inner, timeouts, now, progress));
            std::future::poll_fn(|cx| {
                let poll = recycle.as_mut().poll(cx);
                yielded |= poll.is_pending();
                poll
            })
            .await
        };
        if recycled && !yielded {
            progress.recycle_took = Some(self.observe.real_since(started));
        }
        recycled
    }

    /// deadpool's recycle: hooks around `Manager::recycle`, each able to
    /// reject the object. `false`: the object must not be handed out.
    async fn recycle(
        &self,
        inner: &mut ObjectInner<M>,
        timeouts: &Timeouts,
        now: Instant,
        progress: &mut GetProgress,
    ) -> bool {
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
        match recycled {
            Ok(Ok(())) => progress.recycles_ok += 1,
            Ok(Err(_)) => {
                self.observe.recycle_failed();
                tracing::debug!(id = inner.id, "recycle failed; object discarded");
                return false;
            }
            Err(_) => {
                self.observe.recycle_failed();
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
        let obj = self.run_create(probe, timeouts.create).await?;
        std::mem::forget(slot);
        let surplus = self.handoff.slot_filled();
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
                    .map(|life| crate::time::later(created_at, jittered(life, id))),
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
}

impl<M: Manager> PoolInner<M> {
    /// A new value to swap into an object that is checked out and whose
    /// value broke: through the breaker (`Unavailable` while it is open) and
    /// the create limiter (`Timeout(Create)` at once, nothing attempted,
    /// while `max_concurrent_creates` creates run), within the create
    /// timeout. It takes no slot: the checked-out object keeps its own, so
    /// replacing cannot deadlock on a full pool. Cancellation-safe (the
    /// permit and a probe are given back by their guards).
    pub(crate) async fn create_replacement(&self) -> Result<M::Type, PoolError<M::Error>> {
        if self.handoff.is_closed() {
            return Err(PoolError::Closed);
        }
        if !self.handoff.reserve_replacement() {
            return Err(PoolError::Timeout(TimeoutType::Create));
        }
        let _permit = ReplacementPermit { pool: self };
        let probe = self.admit()?;
        self.run_create(probe, self.config.timeouts.create).await
    }

    /// `Manager::create` within `limit`, recorded, its outcome told to the
    /// breaker through `probe`.
    async fn run_create(
        &self,
        probe: ProbeGuard<'_, M>,
        limit: Option<Duration>,
    ) -> Result<M::Type, PoolError<M::Error>> {
        let started = self.observe.enabled.then(Instant::now);
        let created = match limit {
            None => Ok(self.manager.create().await),
            Some(limit) => tokio::time::timeout(limit, self.manager.create()).await,
        };
        if let Some(started) = started {
            self.observe
                .create_done(started.elapsed(), matches!(created, Ok(Ok(_))));
        }
        match created {
            Ok(Ok(obj)) => {
                probe.succeeded();
                Ok(obj)
            }
            Ok(Err(e)) => Err(probe.failed(Some(e))),
            Err(_) => Err(probe.failed(None)),
        }
    }
}

/// A create permit held by a replacement create; dropped, it is given back
/// (and a waiter stuck behind the limit is served).
struct ReplacementPermit<'a, M: Manager> {
    pool: &'a PoolInner<M>,
}

impl<M: Manager> Drop for ReplacementPermit<'_, M> {
    fn drop(&mut self) {
        let surplus = self.pool.handoff.replacement_done();
        self.pool.detach_all(surplus);
    }
}

/// The outcome of one `get()`: recorded exactly once, as cancelled if the
/// future is dropped before `acquire` ends.
pub(crate) struct Outcome<'a> {
    pub(crate) rec: &'a Recorder,
    pub(crate) progress: GetProgress,
    pub(crate) ended: bool,
}

impl Drop for Outcome<'_> {
    fn drop(&mut self) {
        if !self.ended {
            self.rec.cancelled(&self.progress);
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
        let surplus = self.pool.handoff.release_slot(true);
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
    /// Its steps are timed (the get's wait is in the timed sample).
    timed: bool,
}

impl<M: Manager> Future for Waiting<'_, M> {
    type Output = Grant<ObjectInner<M>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let (handoff, handle) = (&this.pool.handoff, &mut this.handle);
        this.pool
            .observe
            .time_slow_path(this.timed, || handoff.poll_wait(handle, cx))
    }
}

impl<M: Manager> Drop for Waiting<'_, M> {
    fn drop(&mut self) {
        if !self.handle.is_pending() {
            return;
        }
        match self.pool.handoff.cancel_wait(&mut self.handle) {
            Some(Grant::Claim(Claim::Object(obj))) => self.pool.return_object(obj),
            Some(Grant::Claim(Claim::Slot)) => drop(SlotGuard::new(self.pool)),
            Some(Grant::Closed) | None => {}
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
    // Capped first: `mul_f64` of a duration near `Duration::MAX` overflows.
    life.min(crate::time::FAR_FUTURE)
        .mul_f64(1.0 - 0.05 * fraction)
}
