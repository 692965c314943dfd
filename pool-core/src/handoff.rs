//! The hand-off protocol: who gets an idle object, who may create one, and
//! who waits. Generic over the pooled value; it knows nothing of managers,
//! hooks or timeouts (`get.rs` and `inner.rs` do), so the loom models check exactly this.
//!
//! # Implementation
//! - The state word (`state.rs`) counts idle objects and free capacity and
//!   carries the `WAITERS` and `CLOSED` flags.
//! - Fast path (no lock): a getter CASes `idle - 1` (then pops the store) or
//!   `free - 1` (then creates). A return pushes to the store and then
//!   `fetch_add`s `idle + 1`.
//! - Slow path: a getter that finds neither, or finds `WAITERS` set (it must
//!   not overtake the tasks already queued), locks the waiter queue, appends
//!   its cell, sets `WAITERS` and then runs `serve_locked` itself: this is
//!   the re-check after registering that closes the lost-wake-up race.
//! - Anyone whose RMW made an object or capacity available and whose RMW
//!   returned a word with `WAITERS` (or `CLOSED`, or negative `free`) calls
//!   `settle`, which takes the lock and serves the queue front to back.
//!   Serving means: claim through the word and dequeue the waiter's cell
//!   under the lock; after releasing it, write the grant into the cell,
//!   drop the server's reference and wake the waiter (`finish`); the woken
//!   waiter, then the cell's only holder, takes the grant without the
//!   cell's lock. A returned object is thus handed straight to the longest
//!   waiter; the woken task never competes for it again.
//! - A waiter that gives up finds its cell either still queued (it leaves
//!   the queue) or dequeued: then it takes back a grant already written, or
//!   marks the cell `abandoned` so that the server undoes the grant itself.
//!
//! # Orderings
//! - Return `fetch_add(IDLE_ONE, Release)` pairs with the claim CAS
//!   (`Acquire`) of `idle - 1`: the push into the store happens-before the
//!   pop that follows the claim. (The crossbeam queue also synchronises
//!   internally, but loom cannot see that, so we do not rely on it.)
//! - Everything else on the word is `AcqRel`/`Acquire`; the lost-wake-up
//!   argument rests on the single location's modification order (see
//!   `state.rs`), not on orderings. Grants travel through the cell's mutex,
//!   or, to a waiter left alone with its cell, through the `Arc` count: the
//!   server's `Release` decrement, the waiter's `Acquire` in `try_unwrap`.
//! - `creating` and `max_size` are `Relaxed`: they feed `status()` only
//!   (documented as eventually consistent) or are written under the lock.

use std::collections::VecDeque;
use std::task::{Context, Poll, Waker};

use crossbeam_utils::CachePadded;

use crate::config::QueueMode;
use crate::state::{CLOSED, FREE_ONE, IDLE_ONE, WAITERS, Word};
use crate::store::{IdleStore, Store};
use crate::sync::{Arc, AtomicU64, AtomicUsize, Mutex, Ordering};

/// What a getter holds after a claim.
#[derive(Debug)]
pub(crate) enum Claim<T> {
    /// An idle object, popped from the store.
    Object(T),
    /// One unit of capacity: the getter must create an object. Counted in
    /// `creating` until it becomes an object or is released.
    Slot,
}

/// What a waiter is handed.
#[derive(Debug)]
pub(crate) enum Grant<T> {
    Claim(Claim<T>),
    Closed,
}

/// Outcome of the lock-free fast path.
pub(crate) enum FastClaim<T> {
    Got(Claim<T>),
    MustWait,
    Closed,
}

/// One waiting getter. A server dequeues it under the queue lock and writes
/// its grant after releasing that lock; the cell's own lock is never held
/// while the queue lock is being acquired.
struct WaiterCell<T> {
    inner: Mutex<CellState<T>>,
}

struct CellState<T> {
    grant: Option<Grant<T>>,
    waker: Option<Waker>,
    /// The waiter gave up after a server had dequeued it: the server keeps
    /// (and undoes) what it meant to grant.
    abandoned: bool,
}

struct WaiterQueue<T> {
    /// Front = longest waiting. Invariant: `WAITERS` is set iff non-empty.
    cells: VecDeque<Arc<WaiterCell<T>>>,
}

pub(crate) struct Handoff<T> {
    /// Every get and return writes it; on lines of its own so that the
    /// fields every get only reads (the config, the recorder) and the
    /// `Arc` count before the pool never share its line.
    state: CachePadded<AtomicU64>,
    store: IdleStore<T>,
    waiters: Mutex<WaiterQueue<T>>,
    /// Written only under the queue lock (resize, close).
    max_size: AtomicUsize,
    /// Claimed slots whose object does not exist yet.
    creating: AtomicUsize,
    /// `max_concurrent_creates`: creates that may run at once (a permit is
    /// reserved in `creating` before capacity is claimed).
    max_creates: usize,
    /// `max_overflow`: capacity above `max_size` for bursts; an object
    /// returned while more than `max_size` exist is closed, not kept.
    overflow: i64,
}

/// What the lock holder decided to hand out or drop, acted on only after
/// the lock is released: writing a grant touches the waiter's cell (often on
/// another core), waking runs scheduler code, and dropping an object may run
/// user code. Keeping them out of the queue lock keeps its critical sections
/// to a few loads and one RMW.
pub(crate) struct Deferred<T> {
    /// The common case is one grant; the rest only on resize and close.
    first: Option<(Arc<WaiterCell<T>>, Grant<T>)>,
    rest: Vec<(Arc<WaiterCell<T>>, Grant<T>)>,
    pub(crate) surplus: Vec<T>,
}

impl<T> Deferred<T> {
    fn new() -> Self {
        Deferred {
            first: None,
            rest: Vec::new(),
            surplus: Vec::new(),
        }
    }

    fn grant(&mut self, cell: Arc<WaiterCell<T>>, grant: Grant<T>) {
        if self.first.is_none() {
            self.first = Some((cell, grant));
        } else {
            self.rest.push((cell, grant));
        }
    }
}

/// A snapshot for `status()`.
pub(crate) struct Counts {
    pub(crate) max_size: usize,
    pub(crate) size: usize,
    pub(crate) idle: usize,
    pub(crate) waiting: usize,
    pub(crate) creating: usize,
}

impl<T> Handoff<T> {
    pub(crate) fn new(
        max_size: usize,
        max_overflow: usize,
        max_creates: usize,
        store: Store,
        mode: QueueMode,
    ) -> Self {
        Handoff {
            max_creates: if max_creates == 0 {
                usize::MAX
            } else {
                max_creates
            },
            state: CachePadded::new(AtomicU64::new(Word::new(max_size + max_overflow).0)),
            overflow: max_overflow as i64,
            store: IdleStore::new(store, mode, max_size),
            waiters: Mutex::new(WaiterQueue {
                cells: VecDeque::new(),
            }),
            max_size: AtomicUsize::new(max_size),
            creating: AtomicUsize::new(0),
        }
    }

    /// Values only, no capacity (the unmanaged pool's objects): `free` is
    /// zero for good, so a claim or a waiter is only ever handed a value
    /// someone `put`; the store is sized for `capacity` values.
    #[cfg(feature = "unmanaged")]
    pub(crate) fn values_only(capacity: usize, store: Store) -> Self {
        let mut slots = Self::new(0, 0, 0, store, QueueMode::Fifo);
        slots.store = IdleStore::new(store, QueueMode::Fifo, capacity);
        slots
    }

    fn load(&self) -> Word {
        Word(self.state.load(Ordering::Acquire))
    }

    /// The lock-free claim: an idle object, else a unit of capacity. Never
    /// claims when tasks are already queued (first come, first served).
    #[inline]
    pub(crate) fn try_claim(&self) -> FastClaim<T> {
        // The common case inline: an idle object, nobody queued.
        let w = Word(self.state.load(Ordering::Relaxed));
        if w.idle() > 0 && !w.has_waiters() && !w.is_closed() {
            // Acquire: as in `claim_from`.
            if self
                .state
                .compare_exchange_weak(w.0, w.0 - IDLE_ONE, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                return FastClaim::Got(Claim::Object(self.store.pop()));
            }
        }
        self.try_claim_slow()
    }

    #[inline(never)]
    fn try_claim_slow(&self) -> FastClaim<T> {
        let mut w = Word(self.state.load(Ordering::Relaxed));
        loop {
            if w.is_closed() {
                return FastClaim::Closed;
            }
            if w.has_waiters() {
                return FastClaim::MustWait;
            }
            match self.claim_from(w, false) {
                Ok(Some(claim)) => return FastClaim::Got(claim),
                Ok(None) => return FastClaim::MustWait,
                Err(actual) => w = actual,
            }
        }
    }

    /// One CAS attempt to claim from `w`. `Ok(None)`: nothing to claim (or
    /// all create permits in use). `Err(actual)`: the word changed, retry
    /// with it. `locked`: the caller holds the queue lock (and re-serves).
    #[inline]
    fn claim_from(&self, w: Word, locked: bool) -> Result<Option<Claim<T>>, Word> {
        if w.idle() > 0 {
            // Acquire pairs with the returner's `fetch_add(IDLE_ONE, Release)`:
            // its push into the store happens-before our pop.
            return match self.state.compare_exchange_weak(
                w.0,
                w.0 - IDLE_ONE,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => Ok(Some(Claim::Object(self.store.pop()))),
                Err(actual) => Err(Word(actual)),
            };
        }
        if w.free() <= 0 {
            return Ok(None);
        }
        if !self.reserve_create() {
            return Ok(None);
        }
        match self.state.compare_exchange_weak(
            w.0,
            w.0 - FREE_ONE,
            Ordering::Acquire,
            Ordering::Relaxed,
        ) {
            Ok(_) => Ok(Some(Claim::Slot)),
            Err(actual) => {
                // The permit was held for an instant: a waiter that saw the
                // limit reached meanwhile must hear of its return.
                let surplus = self.create_done(locked);
                debug_assert!(surplus.is_empty());
                Err(Word(actual))
            }
        }
    }

    /// Takes one of the `max_creates` create permits (counted in `creating`).
    fn reserve_create(&self) -> bool {
        let mut c = self.creating.load(Ordering::Relaxed);
        loop {
            if c >= self.max_creates {
                return false;
            }
            match self.creating.compare_exchange_weak(
                c,
                c + 1,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(actual) => c = actual,
            }
        }
    }

    /// Gives a create permit back. Then an RMW on the word: its `Release`
    /// orders the decrement before whatever a later word reader decides (a
    /// registering waiter's re-check reads `creating` after its `fetch_or`),
    /// and the value it returns says whether a waiter may be stuck behind
    /// the limit (then we serve). The same one-word argument as returns.
    fn create_done(&self, locked: bool) -> Vec<T> {
        self.creating.fetch_sub(1, Ordering::Relaxed);
        let prev = Word(self.state.fetch_add(0, Ordering::AcqRel));
        if !locked && prev.has_waiters() && prev.free() > 0 {
            self.settle()
        } else {
            Vec::new()
        }
    }

    /// Takes a create permit for a create that fills no slot (a
    /// replacement for a checked-out object's value): `false` if
    /// `max_concurrent_creates` creates are running. While held, `status()`
    /// counts it as a create in flight.
    pub(crate) fn reserve_replacement(&self) -> bool {
        self.reserve_create()
    }

    /// Gives back a permit from [`Handoff::reserve_replacement`].
    pub(crate) fn replacement_done(&self) -> Vec<T> {
        self.create_done(false)
    }

    /// Trades a held slot (whose object was discarded) for an idle object,
    /// if one is there and nobody is queued for it.
    pub(crate) fn trade_slot_for_idle(&self) -> Option<T> {
        let mut w = Word(self.state.load(Ordering::Relaxed));
        loop {
            if w.idle() == 0 || w.has_waiters() || w.is_closed() {
                return None;
            }
            let next = w.0 - IDLE_ONE + FREE_ONE;
            // Acquire: as in `claim_from`.
            match self
                .state
                .compare_exchange_weak(w.0, next, Ordering::Acquire, Ordering::Relaxed)
            {
                Ok(_) => {
                    let value = self.store.pop();
                    let surplus = self.create_done(false);
                    debug_assert!(surplus.is_empty());
                    return Some(value);
                }
                Err(actual) => w = Word(actual),
            }
        }
    }

    /// Claims one unit of capacity for a background create (the warmer):
    /// only if capacity is free and nobody waits (a waiter would get that
    /// capacity itself). Counted in `creating` until filled or released.
    pub(crate) fn claim_slot(&self) -> bool {
        let mut w = Word(self.state.load(Ordering::Relaxed));
        loop {
            // Never into the overflow allowance: that is for bursts.
            if w.free() <= self.overflow || w.has_waiters() || w.is_closed() {
                return false;
            }
            if !self.reserve_create() {
                return false;
            }
            match self.state.compare_exchange_weak(
                w.0,
                w.0 - FREE_ONE,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(actual) => {
                    let surplus = self.create_done(false);
                    debug_assert!(surplus.is_empty());
                    w = Word(actual);
                }
            }
        }
    }

    /// A created object now fills its slot; its create permit is free.
    #[must_use]
    pub(crate) fn slot_filled(&self) -> Vec<T> {
        self.create_done(false)
    }

    /// Gives a slot back: a create failed or was cancelled, or an object
    /// left the pool for good (`creating` says which).
    pub(crate) fn release_slot(&self, was_creating: bool) -> Vec<T> {
        if was_creating {
            self.creating.fetch_sub(1, Ordering::Relaxed);
        }
        // AcqRel: the returned word decides whether waiters must be served.
        let prev = Word(self.state.fetch_add(FREE_ONE, Ordering::AcqRel));
        if prev.needs_settling(self.overflow) {
            self.settle()
        } else {
            Vec::new()
        }
    }

    /// Returns an object to the pool. Objects the pool no longer wants
    /// (closed, or above `max_size` after a shrink) come back to the caller
    /// to be discarded; their slot is already released.
    #[inline]
    pub(crate) fn put(&self, value: T) -> Vec<T> {
        let w = Word(self.state.load(Ordering::Relaxed));
        if !w.needs_settling(self.overflow) {
            self.store.push(value);
            // Release pairs with the claimer's Acquire CAS (see `claim_from`).
            let prev = Word(self.state.fetch_add(IDLE_ONE, Ordering::AcqRel));
            if prev.needs_settling(self.overflow) {
                return self.settle();
            }
            return Vec::new();
        }
        self.put_slow(value)
    }

    /// Slow return: waiters to hand to, or a surplus to shed.
    #[inline(never)]
    fn put_slow(&self, value: T) -> Vec<T> {
        let mut queue = self.waiters.lock();
        let mut deferred = Deferred::new();
        let w = self.load();
        if w.is_closed() || w.free() < 0 {
            self.state.fetch_add(FREE_ONE, Ordering::AcqRel);
            deferred.surplus.push(value);
        } else if let Some(cell) = queue.cells.pop_front() {
            self.after_dequeue(&mut queue);
            deferred.grant(cell, Grant::Claim(Claim::Object(value)));
        } else if w.free() < self.overflow {
            // An overflow object, no longer needed: closed, not kept idle.
            self.state.fetch_add(FREE_ONE, Ordering::AcqRel);
            deferred.surplus.push(value);
        } else {
            self.store.push(value);
            self.state.fetch_add(IDLE_ONE, Ordering::AcqRel);
        }
        self.settle_locked(&mut queue, &mut deferred);
        drop(queue);
        self.finish(deferred)
    }

    /// Takes the lock and serves waiters and surplus as the word demands.
    pub(crate) fn settle(&self) -> Vec<T> {
        let mut queue = self.waiters.lock();
        let mut deferred = Deferred::new();
        self.settle_locked(&mut queue, &mut deferred);
        drop(queue);
        self.finish(deferred)
    }

    /// After the lock: writes the grants and wakes their waiters. A waiter
    /// that gave up after it was dequeued (its cell says so) gets nothing:
    /// its object goes back through `put`, its slot is released. Returns the
    /// objects to discard.
    fn finish(&self, deferred: Deferred<T>) -> Vec<T> {
        let Deferred {
            first,
            rest,
            mut surplus,
        } = deferred;
        for (cell, grant) in first.into_iter().chain(rest) {
            let granted = cell.grant(grant);
            // Our reference goes before the wake-up, so the woken waiter
            // usually holds the only one and takes its grant without the
            // cell's lock (`poll_wait`).
            drop(cell);
            match granted {
                Ok(Some(waker)) => waker.wake(),
                Ok(None) => {}
                Err(Grant::Claim(Claim::Object(value))) => surplus.extend(self.put(value)),
                Err(Grant::Claim(Claim::Slot)) => surplus.extend(self.release_slot(true)),
                Err(Grant::Closed) => {}
            }
        }
        surplus
    }

    /// Under the lock: hand idle objects and capacity to the queue front to
    /// back, then shed idle objects above `max_size` (or all, if closed).
    fn settle_locked(&self, queue: &mut WaiterQueue<T>, deferred: &mut Deferred<T>) {
        while !queue.cells.is_empty() {
            let w = self.load();
            if w.is_closed() {
                break;
            }
            match self.claim_from(w, true) {
                Ok(Some(claim)) => {
                    // Moved out, not cloned: a clone and a drop of the
                    // cell's `Arc` would be two more locked instructions.
                    let front = queue.cells.pop_front().expect("not empty");
                    self.after_dequeue(queue);
                    deferred.grant(front, Grant::Claim(claim));
                }
                Ok(None) => break,
                Err(_) => continue,
            }
        }
        loop {
            let w = self.load();
            if w.idle() == 0 || !(w.is_closed() || w.free() < self.overflow) {
                break;
            }
            let next = w.0 - IDLE_ONE + FREE_ONE;
            if self
                .state
                .compare_exchange_weak(w.0, next, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                deferred.surplus.push(self.store.pop());
            }
        }
    }

    /// Keeps `WAITERS` true after a cell left the queue.
    fn after_dequeue(&self, queue: &mut WaiterQueue<T>) {
        if queue.cells.is_empty() {
            self.state.fetch_and(!WAITERS, Ordering::AcqRel);
        }
    }

    /// A new, not yet registered waiter. Its first [`Handoff::poll_wait`]
    /// registers it, with that poll's waker already in its cell.
    pub(crate) fn waiter(&self) -> WaitHandle<T> {
        WaitHandle {
            cell: None,
            done: false,
        }
    }

    /// Appends a waiter to the queue and re-checks: the re-check after
    /// registering, without which a concurrent return would be lost.
    fn register(&self, waker: &Waker) -> Option<(Arc<WaiterCell<T>>, bool)> {
        let cell = Arc::new(WaiterCell {
            inner: Mutex::new(CellState {
                grant: None,
                waker: Some(waker.clone()),
                abandoned: false,
            }),
        });
        let mut queue = self.waiters.lock();
        if self.load().is_closed() {
            return None;
        }
        let first = queue.cells.is_empty();
        queue.cells.push_back(cell.clone());
        if !first {
            // WAITERS is already set (it is exact under the lock), so whoever
            // makes an object or capacity available sees it and serves the
            // queue, us included, once we unlock.
            return Some((cell, false));
        }
        // The RMW puts our registration into the word's modification order:
        // any return or release ordered after it sees WAITERS and settles;
        // anything ordered before it is seen by the re-check below.
        self.state.fetch_or(WAITERS, Ordering::AcqRel);
        let mut deferred = Deferred::new();
        // The re-check after registering (without it: lost wake-ups).
        self.settle_locked(&mut queue, &mut deferred);
        // Still queued: nothing was granted to us, and the waker is in the
        // cell already, so the caller may return `Pending` at once.
        let granted = queue.cells.is_empty();
        drop(queue);
        debug_assert!(deferred.surplus.is_empty());
        let surplus = self.finish(deferred);
        debug_assert!(surplus.is_empty());
        Some((cell, granted))
    }

    /// Polls a waiter for its grant, registering it on the first poll.
    pub(crate) fn poll_wait(
        &self,
        handle: &mut WaitHandle<T>,
        cx: &mut Context<'_>,
    ) -> Poll<Grant<T>> {
        assert!(!handle.done, "waiter polled after completion");
        let cell = match &handle.cell {
            Some(cell) => cell,
            None => match self.register(cx.waker()) {
                Some((cell, false)) => {
                    handle.cell = Some(cell);
                    return Poll::Pending;
                }
                Some((cell, true)) => handle.cell.insert(cell),
                None => {
                    handle.done = true;
                    return Poll::Ready(Grant::Closed);
                }
            },
        };
        // Alone with the cell: it left the queue and its server is done
        // with it, so the grant is written, and is ours without the cell's
        // lock (a compare-and-swap instead of a lock, an unlock and the
        // decrement). `try_unwrap`'s Acquire pairs with the server's
        // Release decrement after it wrote the grant.
        if Arc::strong_count(cell) == 1 {
            let cell = handle.cell.take().expect("matched above");
            match Arc::try_unwrap(cell) {
                Ok(cell) => {
                    let grant = cell
                        .inner
                        .into_inner()
                        .grant
                        .expect("a waiter alone with its cell was served");
                    handle.done = true;
                    return Poll::Ready(grant);
                }
                Err(cell) => handle.cell = Some(cell),
            }
        }
        let cell = handle.cell.as_ref().expect("registered");
        let mut state = cell.inner.lock();
        if let Some(grant) = state.grant.take() {
            drop(state);
            handle.cell = None;
            handle.done = true;
            return Poll::Ready(grant);
        }
        match &state.waker {
            Some(waker) if waker.will_wake(cx.waker()) => {}
            _ => state.waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }

    /// A waiter gives up (timeout, or its future was dropped). If it was
    /// served in the meantime, the grant comes back for the caller to undo.
    pub(crate) fn cancel_wait(&self, handle: &mut WaitHandle<T>) -> Option<Grant<T>> {
        let cell = handle.cell.take()?;
        let mut queue = self.waiters.lock();
        if let Some(pos) = queue.cells.iter().position(|c| Arc::ptr_eq(c, &cell)) {
            queue.cells.remove(pos);
            self.after_dequeue(&mut queue);
            return None;
        }
        drop(queue);
        // Not queued: a server dequeued it. Its grant is either written (we
        // take it back to undo it) or about to be (the server will see
        // `abandoned` and undo it itself).
        let mut state = cell.inner.lock();
        let grant = state.grant.take();
        if grant.is_none() {
            state.abandoned = true;
        }
        grant
    }

    /// Changes `max_size`; returns idle objects that must go.
    pub(crate) fn resize(&self, max_size: usize) -> Vec<T> {
        let mut queue = self.waiters.lock();
        if self.load().is_closed() {
            return Vec::new();
        }
        let old = self.max_size.swap(max_size, Ordering::Relaxed);
        let delta = max_size as i64 - old as i64;
        self.state
            .fetch_add(Word::free_delta(delta), Ordering::AcqRel);
        let mut deferred = Deferred::new();
        self.settle_locked(&mut queue, &mut deferred);
        drop(queue);
        self.finish(deferred)
    }

    /// Closes: every queued waiter gets `Closed`, idle objects come back for
    /// discarding, and later returns are discarded too.
    pub(crate) fn close(&self) -> Vec<T> {
        let mut queue = self.waiters.lock();
        if self.load().is_closed() {
            return Vec::new();
        }
        let old = self.max_size.swap(0, Ordering::Relaxed);
        self.state.fetch_add(
            Word::free_delta(-(old as i64) - self.overflow),
            Ordering::AcqRel,
        );
        self.state.fetch_or(CLOSED, Ordering::AcqRel);
        let mut deferred = Deferred::new();
        while let Some(cell) = queue.cells.pop_front() {
            deferred.grant(cell, Grant::Closed);
        }
        self.after_dequeue(&mut queue);
        self.settle_locked(&mut queue, &mut deferred);
        drop(queue);
        self.finish(deferred)
    }

    /// Claims one idle object for inspection (`retain`), if any and if no
    /// task waits for it. Give it back with [`Handoff::put`] or drop it with
    /// [`Handoff::release_slot`]`(false)`.
    pub(crate) fn take_idle(&self) -> Option<T> {
        let mut w = Word(self.state.load(Ordering::Relaxed));
        loop {
            if w.idle() == 0 || w.has_waiters() {
                return None;
            }
            match self.state.compare_exchange_weak(
                w.0,
                w.0 - IDLE_ONE,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Some(self.store.pop()),
                Err(actual) => w = Word(actual),
            }
        }
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.load().is_closed()
    }

    pub(crate) fn counts(&self) -> Counts {
        let queued = self.waiters.lock().cells.len();
        let w = self.load();
        let max_size = self.max_size.load(Ordering::Relaxed);
        let capacity = if w.is_closed() {
            0
        } else {
            max_size as i64 + self.overflow
        };
        let slots = (capacity - w.free()).max(0) as usize;
        let creating = self.creating.load(Ordering::Relaxed);
        Counts {
            max_size,
            size: slots.saturating_sub(creating),
            idle: w.idle(),
            waiting: queued + creating,
            creating,
        }
    }
}

impl<T> WaiterCell<T> {
    /// Writes the grant and returns the waker to call; or hands the grant
    /// back if the waiter abandoned the wait after it was dequeued.
    fn grant(&self, grant: Grant<T>) -> Result<Option<Waker>, Grant<T>> {
        let mut state = self.inner.lock();
        if state.abandoned {
            return Err(grant);
        }
        debug_assert!(state.grant.is_none());
        state.grant = Some(grant);
        Ok(state.waker.take())
    }
}

/// A waiter: not registered yet (`cell` `None`, not `done`), queued or
/// served (`cell` `Some`), or finished (`done`).
pub(crate) struct WaitHandle<T> {
    cell: Option<Arc<WaiterCell<T>>>,
    done: bool,
}

impl<T> WaitHandle<T> {
    pub(crate) fn is_pending(&self) -> bool {
        self.cell.is_some()
    }
}

/// The races the loom models explore, replayed by hand in the one
/// interleaving that matters, so the fast test suite (and mutation testing)
/// sees them too.
#[cfg(test)]
mod tests {
    use std::task::{Context, Poll, Waker};

    use super::*;
    use crate::sync::StatCounter;

    /// A pool of `max_size` and `max_overflow` with `in_use` objects
    /// created and checked out.
    fn checked_out(max_size: usize, overflow: usize, in_use: usize) -> Handoff<u32> {
        let slots = Handoff::new(max_size, overflow, 0, Store::LockFree, QueueMode::Fifo);
        for _ in 0..in_use {
            assert!(matches!(slots.try_claim(), FastClaim::Got(Claim::Slot)));
            assert!(slots.slot_filled().is_empty());
        }
        slots
    }

    /// A pool of `max_size` 1 whose one object exists and is checked out.
    fn one_checked_out() -> Handoff<u32> {
        checked_out(1, 0, 1)
    }

    /// `handle` is granted object `value`, and the word is left with
    /// nothing idle, no capacity free and nobody queued.
    fn granted_last(slots: &Handoff<u32>, handle: &mut WaitHandle<u32>, value: u32) {
        assert!(matches!(
            poll(slots, handle),
            Poll::Ready(Grant::Claim(Claim::Object(v))) if v == value
        ));
        let w = slots.load();
        assert_eq!((w.idle(), w.free(), w.has_waiters()), (0, 0, false));
    }

    fn poll(slots: &Handoff<u32>, handle: &mut WaitHandle<u32>) -> Poll<Grant<u32>> {
        slots.poll_wait(handle, &mut Context::from_waker(Waker::noop()))
    }

    /// A getter failed to claim, then the object came back (idle), then the
    /// getter registers: its re-check must hand it the idle object.
    #[test]
    fn a_waiter_registering_after_a_return_gets_the_idle_object() {
        let slots = one_checked_out();
        assert!(matches!(slots.try_claim(), FastClaim::MustWait));
        assert!(slots.put(7).is_empty()); // nobody queued yet: idle
        let mut handle = slots.waiter();
        granted_last(&slots, &mut handle, 7);
    }

    /// A returner pushed and counted its object idle while a waiter was
    /// queued (it read the word before the waiter registered): until it
    /// settles, a newcomer must not take that object past the waiter, and
    /// the settle hands it to the waiter.
    #[test]
    fn an_idle_object_with_waiters_goes_to_the_waiter_not_a_newcomer() {
        let slots = one_checked_out();
        let mut waiter = slots.waiter();
        assert!(poll(&slots, &mut waiter).is_pending());
        // The returner's fast path, cut before its settle.
        slots.store.push(7);
        slots.state.fetch_add(IDLE_ONE, Ordering::AcqRel);
        assert!(matches!(slots.try_claim(), FastClaim::MustWait));
        assert!(slots.settle().is_empty());
        granted_last(&slots, &mut waiter, 7);
    }

    /// A getter claimed capacity to create (no object was idle then); an
    /// object came back meanwhile: it trades the capacity for that object
    /// instead of creating one more.
    #[test]
    fn a_claimed_slot_is_traded_for_an_object_returned_meanwhile() {
        let slots: Handoff<u32> = Handoff::new(2, 0, 0, Store::LockFree, QueueMode::Fifo);
        assert!(matches!(slots.try_claim(), FastClaim::Got(Claim::Slot)));
        assert!(slots.slot_filled().is_empty()); // object 1 exists, in use
        assert!(slots.trade_slot_for_idle().is_none(), "nothing idle yet");
        assert!(matches!(slots.try_claim(), FastClaim::Got(Claim::Slot)));
        assert!(slots.put(1).is_empty()); // object 1 comes back: idle
        assert_eq!(slots.trade_slot_for_idle(), Some(1));
        let w = slots.load();
        assert_eq!((w.idle(), w.free()), (0, 1), "the capacity went back");
        assert_eq!(slots.creating.load(Ordering::Relaxed), 0, "and the permit");
    }

    /// After a shrink below the objects in use, a returned object is
    /// closed, even with a getter queued: handing it over would keep more
    /// than `max_size` alive.
    #[test]
    fn after_a_shrink_a_return_is_closed_not_handed_to_a_waiter() {
        let slots = checked_out(2, 0, 2);
        let mut waiter = slots.waiter();
        assert!(poll(&slots, &mut waiter).is_pending());
        assert!(slots.resize(1).is_empty()); // two in use, one allowed
        assert_eq!(slots.put(1), vec![1], "closed, not handed over");
        assert!(poll(&slots, &mut waiter).is_pending());
        assert!(slots.put(2).is_empty());
        assert!(matches!(
            poll(&slots, &mut waiter),
            Poll::Ready(Grant::Claim(Claim::Object(2)))
        ));
    }

    /// An overflow object (above `max_size`, within `max_overflow`) is
    /// closed when it comes back with nobody queued, not kept idle.
    #[test]
    fn an_overflow_object_is_closed_when_it_comes_back() {
        let slots = checked_out(1, 1, 2);
        assert_eq!(slots.put(1), vec![1], "the overflow one goes");
        assert!(slots.put(2).is_empty(), "the one within max_size stays");
        let w = slots.load();
        assert_eq!((w.idle(), w.free()), (1, 1));
    }

    /// A waiting future polled again with another waker (its task moved,
    /// or a `select!` re-polled it) must be woken through the new one.
    #[test]
    fn a_grant_wakes_the_latest_waker() {
        struct Count(StatCounter);
        impl std::task::Wake for Count {
            fn wake(self: crate::sync::HandleArc<Self>) {
                self.0.fetch_add(1, Ordering::Relaxed);
            }
        }
        let slots = one_checked_out();
        let mut waiter = slots.waiter();
        assert!(poll(&slots, &mut waiter).is_pending()); // a no-op waker
        let count = crate::sync::HandleArc::new(Count(StatCounter::new(0)));
        let waker = Waker::from(count.clone());
        assert!(
            slots
                .poll_wait(&mut waiter, &mut Context::from_waker(&waker))
                .is_pending()
        );
        assert!(slots.put(7).is_empty());
        assert_eq!(
            count.0.load(Ordering::Relaxed),
            1,
            "woken through the new waker"
        );
    }

    /// Closing takes the overflow allowance away with `max_size`: the
    /// objects still out count in `size` until they come back.
    #[test]
    fn close_with_overflow_still_counts_the_objects_out() {
        let slots = checked_out(2, 1, 1);
        assert!(slots.close().is_empty());
        assert_eq!(slots.counts().size, 1);
        assert_eq!(slots.put(1), vec![1], "closed pools close returns");
        assert_eq!(slots.counts().size, 0);
    }

    /// A sweep over idle objects finds none in an empty pool and leaves the
    /// word as it was.
    #[test]
    fn take_idle_from_an_empty_pool_takes_nothing() {
        let slots: Handoff<u32> = Handoff::new(2, 0, 0, Store::LockFree, QueueMode::Fifo);
        let before = slots.load();
        assert!(slots.take_idle().is_none());
        assert!(slots.load() == before);
    }

    /// With `max_concurrent_creates` 1, a second getter finds capacity but
    /// no create permit and queues; when the first create ends, the permit's
    /// return must serve it (a slot to create into), or it waits for
    /// nothing.
    #[test]
    fn a_create_permits_return_serves_a_waiter_stuck_behind_the_limit() {
        let slots: Handoff<u32> = Handoff::new(2, 0, 1, Store::LockFree, QueueMode::Fifo);
        assert!(matches!(slots.try_claim(), FastClaim::Got(Claim::Slot)));
        assert!(matches!(slots.try_claim(), FastClaim::MustWait));
        let mut waiter = slots.waiter();
        assert!(poll(&slots, &mut waiter).is_pending());
        // deadpool's `waiting` counts creates in flight with the queued.
        let c = slots.counts();
        assert_eq!((c.waiting, c.creating, c.size), (2, 1, 0));
        assert!(slots.slot_filled().is_empty()); // the first create ends
        assert!(matches!(
            poll(&slots, &mut waiter),
            Poll::Ready(Grant::Claim(Claim::Slot))
        ));
        let w = slots.load();
        assert_eq!((w.idle(), w.free(), w.has_waiters()), (0, 0, false));
    }
}
