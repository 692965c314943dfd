//! The hot counters of the get path and the histograms of its contended
//! part, one set per thread.
//!
//! A thread that records takes a slot number on its first record (kept in
//! a plain `const` thread-local, so finding it is one load) and gives it
//! back when it exits; each recorder has a set of counters per slot number.
//! A slot has one thread at a time, the only writer of its counters, so an
//! increment is a plain load and store: no locked read-modify-write, which
//! was the largest single cost of recording on an uncontended get. Threads
//! beyond `SLOTS` share one more set, written with `fetch_add`. Counts stay
//! exact: a snapshot sums every set, and a set outlives its thread (the
//! next thread given the slot carries on from it).

use std::cell::Cell;

use crossbeam_utils::CachePadded;

use super::histogram::{Histogram, Summary};
use crate::sync::{OnceLock, Ordering, StatCounter, StdMutex};

/// Which hot counter.
#[derive(Clone, Copy, Debug)]
pub(super) enum Hot {
    /// Served at once from an idle object that needed no check (waited 0).
    ServedFast,
    /// Served at once from an idle object checked with `recycle` first
    /// (unless counted below).
    ServedRecycled,
    /// Served at once after exactly one successful `recycle`, the common
    /// checkout with the default zero TTL: one increment for what counts in
    /// both `ServedRecycled` and `RecyclesOk`.
    ServedAfterOneRecycle,
    /// Served after queueing behind other tasks (unless counted below).
    ServedAfterWait,
    /// Served after queueing and exactly one successful `recycle`: one
    /// increment for what counts in both `ServedAfterWait` and
    /// `RecyclesOk`, as `ServedAfterOneRecycle`.
    ServedAfterWaitOneRecycle,
    /// Left the fast path. A get that did and has ended is counted in
    /// `ServedAfterWait`, `ServedAfterWaitOneRecycle`, the shared count of
    /// slow gets served at once, or `SlowEndedOther`, so pending is this
    /// less those: two increments per waiting get, not an increment and a
    /// decrement besides its outcome.
    LeftFastPath,
    /// A get that left the fast path ended without an object (failed or
    /// cancelled).
    SlowEndedOther,
    /// `recycle` succeeded (with the default zero TTL, once per checkout).
    RecyclesOk,
}

const HOT: usize = 8;

/// Slots with a set of their own; enough for every worker of a runtime on
/// most machines, 4 KiB per pool.
const SLOTS: usize = 32;

/// This thread has no slot yet.
const UNASSIGNED: u32 = u32::MAX;
/// This thread found all slots taken and uses the shared set.
const SHARED: u32 = SLOTS as u32;

thread_local! {
    static SLOT: Cell<u32> = const { Cell::new(UNASSIGNED) };
    /// Gives the slot back when the thread exits (touched only when a slot
    /// is taken, so the hot path never pays for its destructor).
    static RELEASE: SlotRelease = const { SlotRelease };
}

/// Slot numbers given back by exited threads, and the next never given.
/// The lock orders a slot's last writer before its next one: the exiting
/// thread's stores happen before its release, the next thread's loads
/// after its take.
static FREE: StdMutex<(Vec<u32>, u32)> = StdMutex::new((Vec::new(), 0));

struct SlotRelease;

impl Drop for SlotRelease {
    fn drop(&mut self) {
        let slot = SLOT.get();
        if slot < SHARED {
            let mut free = FREE.lock().unwrap_or_else(|p| p.into_inner());
            free.0.push(slot);
        }
    }
}

/// This thread's slot number, taken on first use; `SHARED` for threads
/// beyond `SLOTS`.
#[inline]
fn thread_slot() -> usize {
    match SLOT.get() {
        UNASSIGNED => take_slot() as usize,
        slot => slot as usize,
    }
}

/// This thread's slot, taken on first use.
#[cold]
fn take_slot() -> u32 {
    let slot = {
        let mut free = FREE.lock().unwrap_or_else(|p| p.into_inner());
        match free.0.pop() {
            Some(slot) => slot,
            None if (free.1 as usize) < SLOTS => {
                free.1 += 1;
                free.1 - 1
            }
            None => SHARED,
        }
    };
    SLOT.set(slot);
    if slot < SHARED {
        // Registers the destructor. If the thread is already exiting, the
        // slot is not given back: a lost slot, never a shared one.
        let _ = RELEASE.try_with(|_| ());
    }
    slot
}

/// One set of counters, on cache lines of its own so two threads never
/// write the same line.
#[derive(Default)]
#[repr(align(128))]
struct Counts([StatCounter; HOT]);

/// The hot counters (see the module docs): `SLOTS` owned sets, then the
/// shared one.
pub(super) struct PerThread(Box<[Counts]>);

impl PerThread {
    pub(super) fn new() -> Self {
        PerThread((0..=SLOTS).map(|_| Counts::default()).collect())
    }

    /// Adds `n` (wrapping) to this thread's count.
    #[inline]
    pub(super) fn add(&self, which: Hot, n: u64) {
        let slot = SLOT.get();
        match self.0.get(slot as usize) {
            // Only this thread writes its slot's counters, so a load and a
            // store lose nothing; `Relaxed`: the counts order nothing.
            Some(set) if slot < SHARED => {
                let c = &set.0[which as usize];
                c.store(c.load(Ordering::Relaxed).wrapping_add(n), Ordering::Relaxed);
            }
            _ => self.add_slow(which, n),
        }
    }

    #[cold]
    fn add_slow(&self, which: Hot, n: u64) {
        if SLOT.get() == UNASSIGNED && take_slot() < SHARED {
            return self.add(which, n);
        }
        self.0[SLOTS].0[which as usize].fetch_add(n, Ordering::Relaxed);
    }

    /// Every set's count summed (wrapping, as the counts).
    pub(super) fn sum(&self, which: Hot) -> u64 {
        self.0.iter().fold(0u64, |s, set| {
            s.wrapping_add(set.0[which as usize].load(Ordering::Relaxed))
        })
    }
}

/// A histogram on a pool's contended path (the wait, the slow-path steps),
/// one per thread, so a record is a load and a store on a line the thread
/// owns. Shared, every sampled record was a locked add on a bucket line
/// the other core had just written: nine tenths of a record's time
/// (docs/benchmarks.md). A thread's histogram is allocated on its first
/// record (9.3 KiB: 1,184 buckets); threads beyond `SLOTS` share one more,
/// written with locked adds. A summary merges them all.
/// (Each on lines of its own, so no two threads' histograms share a line
/// through their headers.)
pub(super) struct PerThreadHistogram(Box<[CachePadded<OnceLock<Histogram>>]>);

impl PerThreadHistogram {
    pub(super) fn new() -> Self {
        PerThreadHistogram((0..=SLOTS).map(|_| CachePadded::default()).collect())
    }

    /// Records a sampled value standing for `weight` values.
    #[inline]
    pub(super) fn record_weighted(&self, nanos: u64, weight: u64) {
        let slot = thread_slot();
        let histogram = self.0[slot].get_or_init(Histogram::new);
        if slot < SHARED as usize {
            histogram.record_weighted_single_writer(nanos, weight);
        } else {
            histogram.record_weighted(nanos, weight);
        }
    }

    /// Every thread's values together.
    pub(super) fn summary_with_zeros(&self, zeros: u64) -> Summary {
        Histogram::merged_summary(self.0.iter().filter_map(|h| h.get()), zeros)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// More threads than slots, some at once and some one after another
    /// (reusing the slots of exited ones): no increment is lost.
    #[test]
    fn counts_stay_exact_across_threads_and_slot_reuse() {
        let counts = std::sync::Arc::new(PerThread::new());
        let run = |n: usize| {
            let handles: Vec<_> = (0..n)
                .map(|_| {
                    let counts = counts.clone();
                    std::thread::spawn(move || {
                        for _ in 0..1000 {
                            counts.add(Hot::ServedFast, 1);
                            counts.add(Hot::LeftFastPath, 1);
                        }
                        counts.add(Hot::RecyclesOk, 7);
                    })
                })
                .collect();
            for h in handles {
                h.join().unwrap();
            }
        };
        run(3 * SLOTS); // at once: some share the overflow set
        for _ in 0..10 {
            run(4); // one batch after another: slots given back and reused
        }
        let threads = 3 * SLOTS as u64 + 40;
        assert_eq!(counts.sum(Hot::ServedFast), threads * 1000);
        assert_eq!(counts.sum(Hot::LeftFastPath), threads * 1000);
        assert_eq!(counts.sum(Hot::RecyclesOk), threads * 7);
    }

    /// Values recorded on more threads than slots (some in the shared
    /// histogram) all reach the summary, with the largest exact.
    #[test]
    fn a_per_thread_histogram_merges_every_threads_values() {
        let h = std::sync::Arc::new(PerThreadHistogram::new());
        // All alive at once, so at least half find every slot taken.
        let together = std::sync::Arc::new(std::sync::Barrier::new(2 * SLOTS));
        let handles: Vec<_> = (0..2 * SLOTS as u64)
            .map(|t| {
                let (h, together) = (h.clone(), together.clone());
                std::thread::spawn(move || {
                    take_slot();
                    together.wait();
                    for _ in 0..100 {
                        h.record_weighted(1_000, 4);
                    }
                    h.record_weighted(2_000_000 + t, 1);
                })
            })
            .collect();
        for handle in handles {
            handle.join().unwrap();
        }
        let threads = 2 * SLOTS as u64;
        let s = h.summary_with_zeros(10);
        assert_eq!(s.count, threads * 401 + 10);
        assert_eq!(s.max_ns, 2_000_000 + threads - 1);
        assert!((992..=1_008).contains(&s.p50_ns), "{s:?}");
    }

    /// The next thread gets the slot an exited one gave back (the free
    /// list is a stack). Other tests' threads may take it in between, so
    /// once in a hundred tries is enough; without the give-back, never.
    #[test]
    fn an_exited_thread_gives_its_slot_back() {
        let reused = (0..100).any(|_| {
            let first = std::thread::spawn(take_slot).join().unwrap();
            let next = std::thread::spawn(take_slot).join().unwrap();
            first < SHARED && first == next
        });
        assert!(reused, "an exited thread's slot was never taken again");
    }
}
