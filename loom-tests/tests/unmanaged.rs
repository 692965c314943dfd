//! Loom models of the unmanaged pool's hand-offs, on pool-core's real code:
//! its objects and its room for adds each go through the managed pool's
//! protocol (`handoff.rs` models that protocol itself); these check what
//! the unmanaged layer adds on top: a return reaching a waiter, a
//! cancelled wait giving back what it was handed, a take making room for a
//! waiting add.
//!
//! Run with `ci/loom.sh`.
#![cfg(loom)]

use std::task::Context;

use loom_tests::{model, spawn};
use pool_core::unmanaged::{Object, Pool};

/// An object coming back races a new waiter: the waiter gets it (a lost
/// wake-up is a deadlock: the waiter parked for ever).
#[test]
fn unmanaged_return_races_new_waiter() {
    model(|| {
        let pool = Pool::from(vec![7u32]);
        let held = pool.try_get().unwrap();
        let waiter = spawn({
            let pool = pool.clone();
            move || loom::future::block_on(pool.get()).map(|o| *o)
        });
        drop(held);
        assert_eq!(waiter.join().unwrap().ok(), Some(7));
        let st = pool.status();
        assert_eq!((st.size, st.available, st.waiting), (1, 1, 0));
    });
}

/// A waiter that gives up before, during or after the object is handed to
/// it: the object is not lost.
#[test]
fn unmanaged_cancelled_waiter_loses_nothing() {
    model(|| {
        let pool = Pool::from(vec![7u32]);
        let held = pool.try_get().unwrap();
        let waiter = spawn({
            let pool = pool.clone();
            move || {
                let mut get = Box::pin(pool.get());
                let mut cx = Context::from_waker(std::task::Waker::noop());
                let got = std::future::Future::poll(get.as_mut(), &mut cx).is_ready();
                drop(get);
                got
            }
        });
        drop(held);
        let _ = waiter.join().unwrap();
        let st = pool.status();
        assert_eq!((st.size, st.available, st.waiting), (1, 1, 0), "{st:?}");
    });
}

/// A full pool: an `add` waits while another thread takes an object out
/// for good; the add gets the place, and the pool never holds more than
/// `max_size`.
#[test]
fn unmanaged_take_makes_room_for_a_waiting_add() {
    model(|| {
        let pool = Pool::from(vec![1u32]);
        let adder = spawn({
            let pool = pool.clone();
            move || {
                loom::future::block_on(pool.add(2)).unwrap();
                assert!(pool.status().size <= 1);
            }
        });
        let taken = Object::take(loom::future::block_on(pool.get()).unwrap());
        adder.join().unwrap();
        assert_eq!(taken, 1);
        let st = pool.status();
        assert_eq!((st.size, st.available), (1, 1));
        assert_eq!(pool.try_remove().unwrap(), 2);
    });
}
