//! The hot-path recorder: what a get, a return, a create and a close add
//! to the counters and histograms, and the snapshot summing them (the
//! module docs of `observe` say what is sampled and why).

use std::cell::Cell;
use std::time::Duration;

use tokio::time::Instant;

use super::histogram::Histogram;
use super::per_thread::{Hot, PerThread, PerThreadHistogram};
use super::snapshot::{ClosedCounts, Gauges, GetOutcomes, MetricsSnapshot};
use crate::sync::{Ordering, StatCounter};

/// Returns whose use time is recorded, and checkouts that ran `recycle`
/// whose wait is: one in this many (by the object's checkout count).
pub(crate) const USE_SAMPLE: u32 = 32;

/// Gets that left the fast path (queued or created) whose wait is timed:
/// one in this many per thread, recorded with this weight. Two clock reads
/// on every waiting get cost a fifth of a contended pool's throughput.
const WAIT_SAMPLE: u32 = 4;

thread_local! {
    static WAIT_COUNTDOWN: Cell<u32> = const { Cell::new(0) };
}

/// `true` once in `every` calls on this thread (no shared state).
fn sample(countdown: &'static std::thread::LocalKey<Cell<u32>>, every: u32) -> bool {
    countdown.with(|c| match c.get() {
        0 => {
            c.set(every - 1);
            true
        }
        n => {
            c.set(n - 1);
            false
        }
    })
}

/// Why an object left the pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CloseReason {
    Broken,
    RecycleFailed,
    IdleSurplus,
    MaxLifetime,
    /// Above `max_size` when it came back, after a shrink.
    ResizedAway,
    /// Above `max_size` when it came back: a burst's overflow object.
    Overflow,
    Taken,
    PoolClosed,
}

const REASONS: usize = 8;

/// The pool's recorder (see the module docs).
pub(crate) struct Recorder {
    pub(crate) enabled: bool,
    created_at: Instant,
    /// Served at once (fast or recycled), after a wait, and pending: the
    /// counters every get touches, one set per thread.
    hot: PerThread,
    served_at_once_slow: StatCounter,
    timed_out: StatCounter,
    backend_error: StatCounter,
    refused_unavailable: StatCounter,
    refused_closed: StatCounter,
    cancelled: StatCounter,
    creates_ok: StatCounter,
    creates_failed: StatCounter,
    recycles_failed: StatCounter,
    closed: [StatCounter; REASONS],
    /// Objects a shrink left above `max_size`, not closed yet: the next
    /// sheds count as resized away, later ones as overflow.
    resize_debt: StatCounter,
    /// Per thread: written on the contended path.
    wait: PerThreadHistogram,
    /// Per thread, as `wait`.
    use_time: PerThreadHistogram,
    create_time: Histogram,
    /// Per thread, as `wait`.
    slow_path: PerThreadHistogram,
    /// Times the slow-path steps: real time, not tokio's (a step never
    /// spans an `.await`), read from the TSC where it is reliable.
    step_clock: quanta::Clock,
}

/// What one `get()` has done so far, for its outcome.
#[derive(Debug, Default)]
pub(crate) struct GetProgress {
    /// The get left the fast path (and is counted in `pending`).
    slow: bool,
    /// When it did, if this get's wait is one of the timed sample.
    start: Option<Instant>,
    /// It queued behind other tasks.
    pub(crate) waited: bool,
    /// It checked an idle object with `recycle`, starting at this time
    /// (the checkout's own clock read); not counted in `pending`.
    pub(crate) recycled_from: Option<Instant>,
    /// How long the recycle that just succeeded took, when it was timed on
    /// the TSC (see `Recorder::recycle_is_timed`): set only right before
    /// the get is served, so it always belongs to the last recycle.
    pub(crate) recycle_took: Option<Duration>,
    /// Its successful recycles, counted when the get ends: the served get
    /// then records them with the rest in one visit to its thread's
    /// counters.
    pub(crate) recycles_ok: u32,
}

impl GetProgress {
    /// This get's wait is one of the timed sample (its slow-path steps
    /// are timed with it).
    pub(crate) fn is_timed(&self) -> bool {
        self.start.is_some()
    }

    /// The get leaves the fast path now (or already did).
    pub(crate) fn slow(&mut self, rec: &Recorder, now: impl FnOnce() -> Instant) {
        if rec.enabled && !self.slow {
            self.slow = true;
            rec.hot.add(Hot::LeftFastPath, 1);
            if sample(&WAIT_COUNTDOWN, WAIT_SAMPLE) {
                self.start = Some(now());
            }
        }
    }
}

impl Recorder {
    pub(crate) fn new(enabled: bool) -> Self {
        let c = || StatCounter::new(0);
        Recorder {
            enabled,
            created_at: Instant::now(),
            hot: PerThread::new(),
            served_at_once_slow: c(),
            timed_out: c(),
            backend_error: c(),
            refused_unavailable: c(),
            refused_closed: c(),
            cancelled: c(),
            creates_ok: c(),
            creates_failed: c(),
            recycles_failed: c(),
            closed: std::array::from_fn(|_| c()),
            resize_debt: c(),
            wait: PerThreadHistogram::new(),
            use_time: PerThreadHistogram::new(),
            create_time: Histogram::new(),
            slow_path: PerThreadHistogram::new(),
            step_clock: quanta::Clock::new(),
        }
    }

    /// Whether the recycle about to run on an object checked out
    /// `checkouts` times before is measured: it ends a timed wait, or it is
    /// the sampled recycle of a get served at once (see `served_recycled`).
    #[inline]
    pub(crate) fn recycle_is_timed(&self, progress: &GetProgress, checkouts: u32) -> bool {
        self.enabled
            && if progress.slow {
                progress.is_timed()
            } else {
                checkouts.wrapping_add(1).is_multiple_of(USE_SAMPLE)
            }
    }

    /// A reading of the TSC clock, for `real_since`.
    pub(crate) fn real_now(&self) -> u64 {
        self.step_clock.raw()
    }

    /// Real time since the `real_now` reading `start`.
    pub(crate) fn real_since(&self, start: u64) -> Duration {
        Duration::from_nanos(self.step_clock.delta_as_nanos(start, self.step_clock.raw()))
    }

    /// A get ended without an object: its recycles, and its end if it left
    /// the fast path (an unserved get's wait is not recorded).
    fn ended_unserved(&self, progress: &GetProgress) {
        if progress.recycles_ok > 0 {
            self.hot
                .add(Hot::RecyclesOk, u64::from(progress.recycles_ok));
        }
        if progress.slow {
            self.hot.add(Hot::SlowEndedOther, 1);
        }
    }

    /// A get got its object (`checkouts`: the object's checkout count,
    /// which picks the sampled recycled checkouts; `handed_out`: the
    /// checkout's own clock read, which ends a timed wait).
    #[inline]
    pub(crate) fn served(
        &self,
        progress: &GetProgress,
        checkouts: u32,
        handed_out: Option<Instant>,
    ) {
        if !self.enabled {
            return;
        }
        if progress.slow {
            return self.served_slow(progress, handed_out);
        }
        match progress.recycled_from {
            None => self.hot.add(Hot::ServedFast, 1),
            Some(from) => self.served_recycled(progress, from, checkouts),
        }
    }

    /// Recycled on the spot: its wait is the recycle's time, measured for
    /// one checkout in USE_SAMPLE and recorded with that weight (a second
    /// clock read on every checkout would cost more than the rest of a
    /// deadpool-style get).
    #[inline]
    fn served_recycled(&self, progress: &GetProgress, from: Instant, checkouts: u32) {
        if progress.recycles_ok == 1 {
            self.hot.add(Hot::ServedAfterOneRecycle, 1);
        } else {
            self.hot.add(Hot::ServedRecycled, 1);
            self.hot
                .add(Hot::RecyclesOk, u64::from(progress.recycles_ok));
        }
        if checkouts.is_multiple_of(USE_SAMPLE) {
            self.recycle_wait_sample(from, progress.recycle_took);
        }
    }

    /// `took`: the recycle's time on the TSC, if it never yielded; else
    /// tokio's clock is read, as paused time may have passed.
    #[cold]
    #[inline(never)]
    fn recycle_wait_sample(&self, from: Instant, took: Option<Duration>) {
        let waited = took.unwrap_or_else(|| from.elapsed());
        self.wait
            .record_weighted(nanos(waited), u64::from(USE_SAMPLE));
    }

    /// Served after leaving the fast path: one increment (two with
    /// recycles other than one); the timed sample out of line.
    #[inline]
    fn served_slow(&self, progress: &GetProgress, handed_out: Option<Instant>) {
        if let Some(start) = progress.start {
            self.timed_wait_ended(progress, start, handed_out);
        }
        match (progress.waited, progress.recycles_ok) {
            (true, 1) => return self.hot.add(Hot::ServedAfterWaitOneRecycle, 1),
            (true, _) => self.hot.add(Hot::ServedAfterWait, 1),
            (false, _) => {
                self.served_at_once_slow.fetch_add(1, Ordering::Relaxed);
            }
        }
        if progress.recycles_ok > 0 {
            self.hot
                .add(Hot::RecyclesOk, u64::from(progress.recycles_ok));
        }
    }

    /// Out of line: one waiting get in `WAIT_SAMPLE` gets here, and its
    /// logging would otherwise bloat every get.
    #[cold]
    #[inline(never)]
    fn timed_wait_ended(
        &self,
        progress: &GetProgress,
        start: Instant,
        handed_out: Option<Instant>,
    ) {
        // The checkout's clock read ends the wait, plus the recycle that
        // ran after it if one did (timed on the TSC when it never yielded;
        // else read now): no read of tokio's clock at the end.
        let end = match (progress.recycled_from, progress.recycle_took) {
            (None, _) => handed_out,
            (Some(from), Some(took)) => Some(from + took),
            (Some(_), None) => None,
        };
        let waited = end.map_or_else(|| start.elapsed(), |e| e.saturating_duration_since(start));
        tracing::debug!(
            wait_us = waited.as_micros() as u64,
            queued = progress.waited,
            "get served"
        );
        self.wait
            .record_weighted(nanos(waited), u64::from(WAIT_SAMPLE));
    }

    /// A get failed with `error` (logged at warn if it timed out).
    #[cold]
    #[inline(never)]
    pub(crate) fn failed<E>(&self, progress: &GetProgress, error: &crate::PoolError<E>) {
        if let crate::PoolError::Timeout(kind) = error {
            tracing::warn!(?kind, "get timed out");
        }
        if !self.enabled {
            return;
        }
        self.ended_unserved(progress);
        let counter = match error {
            crate::PoolError::Timeout(_) => &self.timed_out,
            crate::PoolError::Unavailable { .. } => &self.refused_unavailable,
            crate::PoolError::Closed => &self.refused_closed,
            _ => &self.backend_error,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// A get was dropped before it ended.
    pub(crate) fn cancelled(&self, progress: &GetProgress) {
        if !self.enabled {
            return;
        }
        self.ended_unserved(progress);
        self.cancelled.fetch_add(1, Ordering::Relaxed);
    }

    /// Runs one step of a waiting get inside the pool's own slow path
    /// (registering under the queue's lock, or taking a hand-off), timing
    /// it if the get's wait is timed (`GetProgress::is_timed`): the same
    /// one in `WAIT_SAMPLE` gets, so one step in `WAIT_SAMPLE` in
    /// expectation, without a sampling decision of its own per step.
    #[inline]
    pub(crate) fn time_slow_path<T>(&self, timed: bool, step: impl FnOnce() -> T) -> T {
        if !timed {
            return step();
        }
        let started = self.step_clock.raw();
        let out = step();
        let took = self
            .step_clock
            .delta_as_nanos(started, self.step_clock.raw());
        self.slow_path.record_weighted(took, u64::from(WAIT_SAMPLE));
        out
    }

    pub(crate) fn create_done(&self, took: Duration, ok: bool) {
        if !self.enabled {
            return;
        }
        self.create_time.record(nanos(took));
        if ok {
            &self.creates_ok
        } else {
            &self.creates_failed
        }
        .fetch_add(1, Ordering::Relaxed);
    }

    /// A `recycle` failed or timed out. (Successful ones are counted with
    /// the get's outcome: `GetProgress::recycles_ok`.)
    pub(crate) fn recycle_failed(&self) {
        if self.enabled {
            self.recycles_failed.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn closed(&self, reason: CloseReason, n: usize) {
        if self.enabled && n > 0 {
            self.closed[reason as usize].fetch_add(n as u64, Ordering::Relaxed);
        }
    }

    /// A shrink left `n` objects above the new `max_size`.
    pub(crate) fn expect_resized_away(&self, n: usize) {
        if self.enabled {
            self.resize_debt.store(n as u64, Ordering::Relaxed);
        }
    }

    /// `n` objects came back above `max_size`: resized away while a
    /// shrink's debt lasts, else overflow.
    pub(crate) fn shed(&self, n: usize) {
        if !self.enabled || n == 0 {
            return;
        }
        let n = n as u64;
        let resized =
            match self
                .resize_debt
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |d| {
                    Some(d.saturating_sub(n))
                }) {
                Ok(debt) | Err(debt) => debt.min(n),
            };
        self.closed[CloseReason::ResizedAway as usize].fetch_add(resized, Ordering::Relaxed);
        self.closed[CloseReason::Overflow as usize].fetch_add(n - resized, Ordering::Relaxed);
    }

    /// A sampled return: the object was used since `used`.
    pub(crate) fn used_for(&self, took: Duration) {
        self.use_time.record_weighted(nanos(took), 1);
    }

    pub(crate) fn snapshot(&self, gauges: Gauges, breaker_opens: u64) -> MetricsSnapshot {
        let load = |c: &StatCounter| c.load(Ordering::Relaxed);
        let fast = self.hot.sum(Hot::ServedFast);
        let one_recycle = self.hot.sum(Hot::ServedAfterOneRecycle);
        // The slow gets' ends first, then their starts, so a get that ends
        // between the reads is counted pending rather than ended twice;
        // counts read from other threads' sets without ordering may still
        // be a little off while gets run, so the difference saturates.
        let after_wait = self.hot.sum(Hot::ServedAfterWait);
        let after_wait_one_recycle = self.hot.sum(Hot::ServedAfterWaitOneRecycle);
        let at_once_slow = load(&self.served_at_once_slow);
        let slow_ended = after_wait
            .wrapping_add(after_wait_one_recycle)
            .wrapping_add(at_once_slow)
            .wrapping_add(self.hot.sum(Hot::SlowEndedOther));
        let pending = self.hot.sum(Hot::LeftFastPath).saturating_sub(slow_ended);
        let gets = GetOutcomes {
            served_at_once: fast + self.hot.sum(Hot::ServedRecycled) + one_recycle + at_once_slow,
            served_after_wait: after_wait + after_wait_one_recycle,
            timed_out: load(&self.timed_out),
            backend_error: load(&self.backend_error),
            refused_unavailable: load(&self.refused_unavailable),
            refused_closed: load(&self.refused_closed),
            cancelled: load(&self.cancelled),
            pending,
            started: 0,
        };
        let closed = |r: CloseReason| load(&self.closed[r as usize]);
        MetricsSnapshot {
            enabled: self.enabled,
            uptime: self.created_at.elapsed(),
            gets: GetOutcomes {
                started: gets.served_at_once
                    + gets.served_after_wait
                    + gets.timed_out
                    + gets.backend_error
                    + gets.refused_unavailable
                    + gets.refused_closed
                    + gets.cancelled
                    + gets.pending,
                ..gets
            },
            creates_ok: load(&self.creates_ok),
            creates_failed: load(&self.creates_failed),
            recycles_ok: self.hot.sum(Hot::RecyclesOk) + one_recycle + after_wait_one_recycle,
            recycles_failed: load(&self.recycles_failed),
            closed: ClosedCounts {
                broken: closed(CloseReason::Broken),
                recycle_failed: closed(CloseReason::RecycleFailed),
                idle_surplus: closed(CloseReason::IdleSurplus),
                max_lifetime: closed(CloseReason::MaxLifetime),
                resized_away: closed(CloseReason::ResizedAway),
                overflow: closed(CloseReason::Overflow),
                taken: closed(CloseReason::Taken),
                pool_closed: closed(CloseReason::PoolClosed),
            },
            breaker_opens,
            gauges,
            rates: None,
            wait: self.wait.summary_with_zeros(fast),
            use_time: self.use_time.summary_with_zeros(0),
            create_time: self.create_time.summary_with_zeros(0),
            slow_path: self.slow_path.summary_with_zeros(0),
        }
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}
