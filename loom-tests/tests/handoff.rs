//! Loom models of the hand-off between returns and waiters, on pool-core's
//! real code (its `sync` facade is loom's under `--cfg loom`).
//!
//! Run with `bin/loom.sh`. What loom sees and what it takes on trust is in
//! docs/ARCHITECTURE.md ("Verification").
#![cfg(loom)]

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use loom::thread;
use pool_core::{Manager, Metrics, Pool, RecycleResult, Store};

/// A manager with no I/O: objects are numbers.
struct Numbers;

impl Manager for Numbers {
    type Type = u32;
    type Error = ();

    async fn create(&self) -> Result<u32, ()> {
        Ok(7)
    }

    async fn recycle(&self, _: &mut u32, _: &Metrics) -> RecycleResult<()> {
        Ok(())
    }
}

/// `loom::model`, with the body on a thread whose stack fits the pool's
/// futures (loom's coroutines default to a small stack).
fn model<F: Fn() + Sync + Send + 'static>(f: F) {
    let f = std::sync::Arc::new(f);
    loom::model(move || {
        let f = f.clone();
        spawn(move || f()).join().unwrap();
    });
}

fn spawn<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> thread::JoinHandle<T> {
    thread::Builder::new().stack_size(1 << 20).spawn(f).unwrap()
}

fn pool(max_size: usize) -> Pool<Numbers> {
    Pool::builder(Numbers)
        .max_size(max_size)
        .store(Store::LockFree)
        .build()
        .unwrap()
}

/// Records whether the wrapped future ever returned `Pending`, i.e. whether
/// the thread running it really parked in `block_on`.
struct NotePending<F> {
    fut: Pin<Box<F>>,
    parked: &'static AtomicBool,
}

impl<F: Future> Future for NotePending<F> {
    type Output = F::Output;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let poll = self.fut.as_mut().poll(cx);
        if poll.is_pending() {
            self.parked.store(true, Ordering::Relaxed);
        }
        poll
    }
}

/// A return racing a new waiter: the waiter must get the object (a lost
/// wake-up shows as a deadlock: the waiter parked forever).
#[test]
fn return_races_new_waiter() {
    static PARKED: AtomicBool = AtomicBool::new(false);
    model(|| {
        let pool = pool(1);
        let held = loom::future::block_on(pool.get()).unwrap();
        let waiter = spawn({
            let pool = pool.clone();
            move || {
                let get = NotePending {
                    fut: Box::pin(async move { pool.get().await.map(|o| *o) }),
                    parked: &PARKED,
                };
                loom::future::block_on(get)
            }
        });
        drop(held);
        assert_eq!(waiter.join().unwrap().ok(), Some(7));
        let st = pool.status();
        assert_eq!((st.size, st.available, st.waiting), (1, 1, 0));
    });
    assert!(
        PARKED.load(Ordering::Relaxed),
        "no explored execution made the waiter park"
    );
}

/// A waiter abandoned after an object may have been handed to it: the object
/// goes back and is not lost.
#[test]
fn waiter_cancelled_around_handoff_loses_nothing() {
    model(|| {
        let pool = pool(1);
        let held = loom::future::block_on(pool.get()).unwrap();
        let waiter = spawn({
            let pool = pool.clone();
            move || {
                let mut get = Box::pin(pool.get());
                let mut cx = Context::from_waker(std::task::Waker::noop());
                let got = get.as_mut().poll(&mut cx).is_ready();
                drop(get); // cancelled: before, during or after the hand-off
                got
            }
        });
        drop(held);
        let _ = waiter.join().unwrap();
        let st = pool.status();
        assert_eq!((st.size, st.available, st.waiting), (1, 1, 0), "{st:?}");
    });
}

/// Two getters race for the last slot while a third thread takes (detaches)
/// an object: never more than `max_size` created, and nobody is stranded.
#[test]
fn created_count_never_exceeds_max_size() {
    model(|| {
        let pool = pool(1);
        let getters: Vec<_> = (0..2)
            .map(|_| {
                let pool = pool.clone();
                spawn(move || {
                    let obj = loom::future::block_on(pool.get()).unwrap();
                    assert!(pool.status().size <= 1);
                    let _ = pool_core::Object::take(obj);
                })
            })
            .collect();
        for g in getters {
            g.join().unwrap();
        }
        let st = pool.status();
        assert_eq!((st.size, st.available, st.waiting), (0, 0, 0));
    });
}

/// Two waiters queue behind one held object (the second registers while the
/// queue is non-empty, so it relies on whoever frees the object to serve
/// the queue): both are served, one after the other.
#[test]
fn two_waiters_are_both_served() {
    model(|| {
        let pool = pool(1);
        let held = loom::future::block_on(pool.get()).unwrap();
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                let pool = pool.clone();
                spawn(move || {
                    let obj = loom::future::block_on(pool.get()).unwrap();
                    drop(obj);
                })
            })
            .collect();
        drop(held);
        for w in waiters {
            w.join().unwrap();
        }
        let st = pool.status();
        assert_eq!((st.size, st.available, st.waiting), (1, 1, 0));
    });
}

/// With one create permit, a second getter waits for it (not for an
/// object) and is served when the first create finishes: the permit's
/// return is a wake-up that must not be lost.
#[test]
fn create_permit_return_wakes_a_waiter() {
    model(|| {
        let pool: Pool<Numbers> = Pool::builder(Numbers)
            .max_size(2)
            .max_concurrent_creates(1)
            .store(Store::LockFree)
            .build()
            .unwrap();
        let getters: Vec<_> = (0..2)
            .map(|_| {
                let pool = pool.clone();
                spawn(move || {
                    let obj = loom::future::block_on(pool.get()).unwrap();
                    pool_core::Object::take(obj)
                })
            })
            .collect();
        for g in getters {
            assert_eq!(g.join().unwrap(), 7);
        }
        assert_eq!(pool.status().size, 0);
    });
}
