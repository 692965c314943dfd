//! Where idle objects wait: a lock-free queue or a plain mutex'd deque.
//!
//! The store only carries values. Who may push and pop, and when, is decided
//! by the state word (`state.rs`): a pop happens only after a successful
//! claim of `idle`, so a pop always finds an object. Invariant: the store
//! never has to hold more objects than the pool's `slots`.

use crossbeam_queue::ArrayQueue;
use std::collections::VecDeque;

use crate::config::QueueMode;
use crate::sync::{Mutex, OnceLock};

/// Which idle store a pool uses. Both are always compiled in; the cargo
/// feature `fast-acquire` (on by default) makes `LockFree` the default.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize, serde::Serialize))]
pub enum Store {
    /// `crossbeam_queue::ArrayQueue` segments: no lock on get or return.
    /// FIFO only: `QueueMode::Lifo` with this store is refused at build.
    LockFree,
    /// A `Mutex<VecDeque>`: serves FIFO and LIFO.
    Mutex,
}

impl Default for Store {
    fn default() -> Self {
        if cfg!(feature = "fast-acquire") {
            Store::LockFree
        } else {
            Store::Mutex
        }
    }
}

/// Segments double in size; the first plus 23 more hold `first * (2^24 - 1)`
/// objects, more than the state word can count.
const SEGMENTS: usize = 23;

// The lock-free variant is large (crossbeam pads head and tail to cache
// lines); it stays inline because it is on every get and return.
#[allow(clippy::large_enum_variant)]
pub(crate) enum IdleStore<T> {
    LockFree(Segmented<T>),
    Mutex(Mutex<VecDeque<T>>, QueueMode),
}

impl<T> IdleStore<T> {
    pub(crate) fn new(store: Store, mode: QueueMode, max_size: usize) -> Self {
        match store {
            Store::LockFree => IdleStore::LockFree(Segmented::new(max_size)),
            Store::Mutex => IdleStore::Mutex(Mutex::new(VecDeque::with_capacity(max_size)), mode),
        }
    }

    #[inline]
    pub(crate) fn push(&self, value: T) {
        match self {
            IdleStore::LockFree(q) => q.push(value),
            IdleStore::Mutex(q, _) => q.lock().push_back(value),
        }
    }

    /// Pops an object. Only called after a successful claim of `idle`, which
    /// guarantees that one is there.
    #[inline]
    pub(crate) fn pop(&self) -> T {
        let value = match self {
            IdleStore::LockFree(q) => q.pop(),
            IdleStore::Mutex(q, QueueMode::Fifo) => q.lock().pop_front(),
            IdleStore::Mutex(q, QueueMode::Lifo) => q.lock().pop_back(),
        };
        value.expect("invariant: a claimed idle object is in the store")
    }
}

/// A FIFO of lock-free `ArrayQueue` segments. The first segment is sized for
/// the pool's initial `max_size` and always exists; a later one is allocated
/// only when a `resize` up lets more objects exist than the earlier ones
/// hold, so the common case is one `ArrayQueue` and growth never copies or
/// locks.
pub(crate) struct Segmented<T> {
    first: ArrayQueue<T>,
    /// Segment `i` holds `first.capacity() << (i + 1)` objects.
    /// Boxed: a crossbeam queue is a few cache-padded lines, and these are
    /// rarely touched.
    more: Box<[OnceLock<ArrayQueue<T>>]>,
}

impl<T> Segmented<T> {
    fn new(max_size: usize) -> Self {
        Segmented {
            first: ArrayQueue::new(max_size.max(4)),
            more: (0..SEGMENTS).map(|_| OnceLock::new()).collect(),
        }
    }

    #[inline]
    fn push(&self, value: T) {
        if let Err(value) = self.first.push(value) {
            self.push_beyond_first(value);
        }
    }

    #[cold]
    fn push_beyond_first(&self, mut value: T) {
        for (i, segment) in self.more.iter().enumerate() {
            let q = segment.get_or_init(|| ArrayQueue::new(self.first.capacity() << (i + 1)));
            match q.push(value) {
                Ok(()) => return,
                Err(back) => value = back,
            }
        }
        unreachable!("invariant: the store holds more objects than the state word can count");
    }

    #[inline]
    fn pop(&self) -> Option<T> {
        self.first.pop().or_else(|| self.pop_any())
    }

    /// Pops from the earliest non-empty segment. `None` only if every
    /// segment was empty when looked at; the caller holds a claim, so an
    /// object exists and a rescan finds it (an ArrayQueue pop waits for a
    /// push in progress ahead of it, it never skips it).
    #[cold]
    fn pop_any(&self) -> Option<T> {
        for _ in 0..1024 {
            if let Some(value) = self.first.pop() {
                return Some(value);
            }
            for segment in self.more.iter() {
                let Some(q) = segment.get() else { break };
                if let Some(value) = q.pop() {
                    return Some(value);
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_grow_and_stay_fifo_within_a_segment() {
        let store = IdleStore::new(Store::LockFree, QueueMode::Fifo, 4);
        for i in 0..100 {
            store.push(i);
        }
        let popped: Vec<i32> = (0..100).map(|_| store.pop()).collect();
        let mut sorted = popped.clone();
        sorted.sort();
        assert_eq!(sorted, (0..100).collect::<Vec<_>>());
        assert_eq!(&popped[..4], &[0, 1, 2, 3]);
    }

    /// Segment `i` beyond the first holds `first << (i + 1)`: the sizes
    /// double, so a pool grown by resizes needs few segments.
    #[test]
    fn each_extra_segment_doubles() {
        let store = Segmented::new(4);
        for i in 0..4 + 8 {
            store.push(i);
        }
        let capacity = |i: usize| store.more[i].get().map(ArrayQueue::capacity);
        assert_eq!((capacity(0), capacity(1)), (Some(8), None));
        store.push(12);
        assert_eq!(capacity(1), Some(16));
    }

    #[test]
    fn mutex_store_serves_lifo() {
        let store = IdleStore::new(Store::Mutex, QueueMode::Lifo, 4);
        store.push(1);
        store.push(2);
        assert_eq!(store.pop(), 2);
        assert_eq!(store.pop(), 1);
    }
}
