//! The one place pool-core takes its synchronisation types from.
//!
//! Under `cfg(all(loom, any(test, feature = "loom")))` every atomic, `Arc`
//! and `Mutex` below is loom's, so the `loom-tests` crate model-checks the
//! real pool code (sharded-slab's switch: a feature, not only `cfg(test)`,
//! so another crate can turn it on). Nothing else in the crate may import
//! from `std::sync` or `core::sync::atomic`.
//!
//! Two things are deliberately *not* modelled (see docs/ARCHITECTURE.md):
//! - [`HandleArc`] / [`HandleWeak`]: the reference count of `Pool` handles.
//!   loom's `Arc` has no `Weak`, and `Pool::weak()` needs one. The protocol
//!   state lives inside the handle and is made of the modelled types.
//! - `crossbeam_queue::ArrayQueue` (and the `OnceLock` of its extra
//!   segments) in the idle store: it uses std atomics directly. The protocol never relies on the queue for a happens-before
//!   edge: the state word ([`AtomicU64`]) carries every hand-shake.

#[cfg(all(loom, any(test, feature = "loom")))]
mod imp {
    pub(crate) use loom::sync::Arc;
    pub(crate) use loom::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

    /// A mutex without poisoning, so the code reads the same under loom.
    #[derive(Debug)]
    pub(crate) struct Mutex<T>(loom::sync::Mutex<T>);

    impl<T> Mutex<T> {
        pub(crate) fn new(value: T) -> Self {
            Self(loom::sync::Mutex::new(value))
        }

        pub(crate) fn lock(&self) -> loom::sync::MutexGuard<'_, T> {
            self.0.lock().unwrap_or_else(|poison| poison.into_inner())
        }

        pub(crate) fn into_inner(self) -> T {
            self.0
                .into_inner()
                .unwrap_or_else(|poison| poison.into_inner())
        }
    }
}

#[cfg(not(all(loom, any(test, feature = "loom"))))]
mod imp {
    pub(crate) use std::sync::Arc;
    pub(crate) use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

    /// A mutex without poisoning: a panic in user code (a hook, a manager)
    /// never runs while one of our locks is held, so a poisoned lock still
    /// guards consistent data.
    #[derive(Debug, Default)]
    pub(crate) struct Mutex<T>(std::sync::Mutex<T>);

    impl<T> Mutex<T> {
        pub(crate) fn new(value: T) -> Self {
            Self(std::sync::Mutex::new(value))
        }

        pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, T> {
            self.0.lock().unwrap_or_else(|poison| poison.into_inner())
        }

        /// The value, without locking: the caller owns the only reference.
        pub(crate) fn into_inner(self) -> T {
            self.0
                .into_inner()
                .unwrap_or_else(|poison| poison.into_inner())
        }
    }
}

pub(crate) use imp::*;

/// Reference count of the pool handles (`Pool`, `WeakPool`, `Object`): not
/// modelled, because loom's `Arc` has no `Weak`.
pub(crate) use std::sync::{Arc as HandleArc, Weak as HandleWeak};

/// Lazy allocation of the idle store's extra segments (after a `resize`
/// beyond the first): part of the store, which loom does not see anyway.
pub(crate) use std::sync::OnceLock;

/// A create error shared between the breaker and the callers it refuses
/// (`SharedError`): not protocol state, and public, so never loom's.
pub(crate) use std::sync::Mutex as StdMutex;

/// Statistics counters (`observe`): read by snapshots, never by a protocol
/// decision, all `Relaxed`. Always std's: loom has nothing to check in them,
/// and a pool's few thousand histogram buckets would only slow the models.
pub(crate) use std::sync::atomic::AtomicU64 as StatCounter;
