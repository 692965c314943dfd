//! The pool's state word: every fact that a `get()` and a return must agree
//! on, packed into one `AtomicU64` so that each transition is a single
//! read-modify-write.
//!
//! ```text
//!  63                 32 31                     2   1        0
//! +--------------------+------------------------+--------+---------+
//! | free + FREE_BIAS   | idle                   | CLOSED | WAITERS |
//! +--------------------+------------------------+--------+---------+
//! ```
//!
//! - `idle`: objects in the idle store that nobody has claimed yet.
//!   Invariant: the store holds at least `idle` objects (an object is pushed
//!   *before* `idle` is incremented and popped *after* it is decremented).
//! - `free`: capacity left, `max_size + max_overflow - slots`, where `slots`
//!   counts objects that exist plus creates in flight; `free < max_overflow`
//!   means objects above `max_size` exist, and a returned one is closed. Signed: after `resize` down it is
//!   negative until enough objects have come back. A create is only started
//!   by a CAS that takes `free` from `n > 0` to `n - 1`, so `slots` never
//!   exceeds `max_size` (or, after a shrink, the count at the shrink).
//! - `WAITERS`: the waiter queue is not empty. Set and cleared only under the
//!   waiter lock, so under that lock it is exact.
//! - `CLOSED`: set once by `close()`, never cleared.
//!
//! # Why one word
//! The classic lost wake-up is a store-buffer race: a getter registers as a
//! waiter and re-checks `idle`, while a returner increments `idle` and checks
//! for waiters. With two locations this needs `fence(SeqCst)` on both sides.
//! With one location it needs nothing: all RMWs on one atomic are totally
//! ordered and each reads the latest value, so either the returner's
//! `fetch_add` comes first (and the getter's re-check after its `fetch_or`
//! sees `idle > 0`) or the getter's `fetch_or` comes first (and the
//! returner's `fetch_add` returns a word with `WAITERS`, so the returner
//! serves the waiter). The loom model `return_races_new_waiter` checks it.

/// Waiter queue non-empty.
pub(crate) const WAITERS: u64 = 1;
/// The pool is closed.
pub(crate) const CLOSED: u64 = 1 << 1;
const IDLE_SHIFT: u32 = 2;
/// One idle object.
pub(crate) const IDLE_ONE: u64 = 1 << IDLE_SHIFT;
const IDLE_MASK: u64 = ((1 << 30) - 1) << IDLE_SHIFT;
const FREE_SHIFT: u32 = 32;
/// One unit of free capacity.
pub(crate) const FREE_ONE: u64 = 1 << FREE_SHIFT;
const FREE_BIAS: i64 = 1 << 31;

/// The largest `max_size` the state word can represent (`idle` has 30 bits,
/// and `free` must stay inside its biased 32 bits after any resize).
pub const MAX_POOL_SIZE: usize = (1 << 30) - 1;

/// A decoded copy of the state word.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Word(pub(crate) u64);

impl Word {
    /// The word of a new pool with `max_size` free slots.
    pub(crate) fn new(max_size: usize) -> Self {
        debug_assert!(max_size <= MAX_POOL_SIZE);
        Word(((max_size as i64 + FREE_BIAS) as u64) << FREE_SHIFT)
    }

    pub(crate) fn idle(self) -> usize {
        ((self.0 & IDLE_MASK) >> IDLE_SHIFT) as usize
    }

    pub(crate) fn free(self) -> i64 {
        (self.0 >> FREE_SHIFT) as i64 - FREE_BIAS
    }

    pub(crate) fn has_waiters(self) -> bool {
        self.0 & WAITERS != 0
    }

    pub(crate) fn is_closed(self) -> bool {
        self.0 & CLOSED != 0
    }

    /// Something other than the plain fast path must happen after a change
    /// that made an object or capacity available: waiters to serve, or a
    /// closed pool, or more objects than `max_size` (after a shrink, or
    /// overflow objects: `free` below the overflow allowance) to shed.
    pub(crate) fn needs_settling(self, overflow: i64) -> bool {
        self.0 & (WAITERS | CLOSED) != 0 || self.free() < overflow
    }

    /// The delta that moves `free` by `by` (wrapping arithmetic on the high
    /// half only; the low half is untouched).
    pub(crate) fn free_delta(by: i64) -> u64 {
        (by << FREE_SHIFT) as u64
    }
}

impl std::fmt::Debug for Word {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Word")
            .field("idle", &self.idle())
            .field("free", &self.free())
            .field("waiters", &self.has_waiters())
            .field("closed", &self.is_closed())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_round_trip() {
        let w = Word::new(16);
        assert_eq!((w.idle(), w.free()), (0, 16));
        let w = Word(w.0 - FREE_ONE + IDLE_ONE);
        assert_eq!((w.idle(), w.free()), (1, 15));
        let w = Word(w.0.wrapping_add(Word::free_delta(-20)));
        assert_eq!((w.idle(), w.free()), (1, -5));
        assert!(w.needs_settling(0));
        let w = Word(w.0 | WAITERS);
        assert!(w.has_waiters() && !w.is_closed());
        let w = Word(w.0.wrapping_add(Word::free_delta(5)));
        assert_eq!((w.idle(), w.free(), w.has_waiters()), (1, 0, true));
    }

    /// Settling is needed for waiters, a closed pool, or `free` below the
    /// overflow allowance, and only then.
    #[test]
    fn needs_settling_exactly_when_something_waits_or_must_go() {
        let w = Word::new(16);
        assert!(!w.needs_settling(0));
        assert!(Word(w.0 | WAITERS).needs_settling(0));
        assert!(Word(w.0 | CLOSED).needs_settling(0));
        // `free` 16 against an overflow allowance of 16: none above
        // `max_size`; of 17: one.
        assert!(!w.needs_settling(16));
        assert!(w.needs_settling(17));
    }

    #[test]
    fn debug_shows_every_field() {
        let w = Word(Word::new(3).0 + IDLE_ONE + WAITERS);
        assert_eq!(
            format!("{w:?}"),
            "Word { idle: 1, free: 3, waiters: true, closed: false }"
        );
    }

    #[test]
    fn extremes_do_not_bleed_into_neighbours() {
        let w = Word::new(MAX_POOL_SIZE);
        assert_eq!(w.free(), MAX_POOL_SIZE as i64);
        let w = Word(w.0.wrapping_add(Word::free_delta(-2 * MAX_POOL_SIZE as i64)));
        assert_eq!((w.free(), w.idle()), (-(MAX_POOL_SIZE as i64), 0));
        let w = Word(w.0 + (MAX_POOL_SIZE as u64) * IDLE_ONE);
        assert_eq!(
            (w.free(), w.idle()),
            (-(MAX_POOL_SIZE as i64), MAX_POOL_SIZE)
        );
    }
}
