//! Loom models of the hand-off between returns and waiters, on pool-core's
//! real code (its `sync` facade is loom's under `--cfg loom`).
//!
//! Run with `ci/loom.sh`. What loom sees and what it takes on trust is in
//! docs/ARCHITECTURE.md ("Verification").
#![cfg(loom)]

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use loom_tests::{model, spawn};
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

/// Objects that count their own drops, and a manager that counts creates,
/// so a model can check every created object is dropped exactly once.
mod counted {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use pool_core::{Manager, Metrics, RecycleResult};

    #[derive(Default)]
    pub struct Counts {
        pub created: AtomicUsize,
        pub dropped: AtomicUsize,
        pub recycled: AtomicUsize,
    }

    impl Counts {
        pub fn balanced(&self) -> bool {
            self.created.load(Ordering::Relaxed) == self.dropped.load(Ordering::Relaxed)
        }
    }

    pub struct Obj(Arc<Counts>);

    impl Drop for Obj {
        fn drop(&mut self) {
            self.0.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub struct Counted(pub Arc<Counts>);

    impl Manager for Counted {
        type Type = Obj;
        type Error = ();

        async fn create(&self) -> Result<Obj, ()> {
            self.0.created.fetch_add(1, Ordering::Relaxed);
            Ok(Obj(self.0.clone()))
        }

        async fn recycle(&self, _: &mut Obj, _: &Metrics) -> RecycleResult<()> {
            self.0.recycled.fetch_add(1, Ordering::Relaxed);
            Ok(())
        }
    }
}

use counted::{Counted, Counts};

fn counted_pool(max_size: usize) -> (Pool<Counted>, std::sync::Arc<Counts>) {
    let counts = std::sync::Arc::new(Counts::default());
    let pool = Pool::builder(Counted(counts.clone()))
        .max_size(max_size)
        .store(Store::LockFree)
        .build()
        .unwrap();
    (pool, counts)
}

/// `close()` racing a waiter and a return: the waiter ends (with the
/// object, if the return served it before the close, else `Closed`), no
/// get succeeds after the close, and every object is dropped exactly once.
#[test]
fn close_races_a_waiter_and_a_return() {
    model(|| {
        let (pool, counts) = counted_pool(1);
        let held = loom::future::block_on(pool.get()).unwrap();
        let waiter = spawn({
            let pool = pool.clone();
            move || loom::future::block_on(pool.get()).map(drop)
        });
        let returner = spawn(move || drop(held));
        pool.close();
        let served = waiter.join().unwrap();
        returner.join().unwrap();
        assert!(matches!(served, Ok(()) | Err(pool_core::PoolError::Closed)));
        assert!(matches!(
            loom::future::block_on(pool.get()),
            Err(pool_core::PoolError::Closed)
        ));
        assert_eq!(pool.status().available, 0, "nothing idle after close");
        drop(pool);
        assert!(counts.balanced(), "an object leaked or was dropped twice");
    });
}

/// `resize` down to 1 while two objects are out and a third get waits:
/// the returns shed the surplus, the waiter is served, and the pool ends
/// with at most one object.
#[test]
fn resize_down_while_objects_are_out() {
    model(|| {
        let (pool, counts) = counted_pool(2);
        let a = loom::future::block_on(pool.get()).unwrap();
        let b = loom::future::block_on(pool.get()).unwrap();
        let waiter = spawn({
            let pool = pool.clone();
            move || loom::future::block_on(pool.get()).map(drop)
        });
        let returner = spawn(move || drop(a));
        pool.resize(1);
        drop(b);
        returner.join().unwrap();
        assert!(waiter.join().unwrap().is_ok());
        let st = pool.status();
        assert!(st.size <= 1 && st.available <= 1, "{st:?}");
        drop(pool);
        assert!(counts.balanced());
    });
}

/// The background task's moves, racing a get and a return: `warm` (the
/// warmer: claim a slot, create, put) and `retain` (the reaper's way of
/// taking idle objects out). Never above `max_size`, nothing lost, nothing
/// dropped twice.
#[test]
fn warmer_and_reaper_race_gets_and_returns() {
    model(|| {
        let (pool, counts) = counted_pool(2);
        let user = spawn({
            let pool = pool.clone();
            move || {
                let obj = loom::future::block_on(pool.get()).unwrap();
                assert!(pool.status().size <= 2);
                drop(obj);
            }
        });
        let warmer = spawn({
            let pool = pool.clone();
            move || loom::future::block_on(pool.warm(2)).unwrap()
        });
        let reaped = pool.retain(|_, _| false);
        assert!(pool.status().size <= 2);
        user.join().unwrap();
        let _ = warmer.join().unwrap();
        let st = pool.status();
        assert!(st.size <= 2 && st.available == st.size, "{st:?}");
        drop(reaped);
        drop(pool);
        assert!(counts.balanced());
    });
}

/// A manager whose creates always fail, noting how many run at once.
struct Failing {
    in_flight: loom::sync::atomic::AtomicUsize,
    most: loom::sync::atomic::AtomicUsize,
}

impl Manager for Failing {
    type Type = u32;
    type Error = ();

    async fn create(&self) -> Result<u32, ()> {
        use loom::sync::atomic::Ordering::SeqCst;
        let now = self.in_flight.fetch_add(1, SeqCst) + 1;
        self.most.fetch_max(now, SeqCst);
        self.in_flight.fetch_sub(1, SeqCst);
        Err(())
    }

    async fn recycle(&self, _: &mut u32, _: &Metrics) -> RecycleResult<()> {
        Ok(())
    }
}

/// With the breaker open and its delay over (zero here), two gets race for
/// the half-open probe: at most one create runs at a time.
#[test]
fn half_open_breaker_lets_one_probe_through() {
    model(|| {
        let pool: Pool<Failing> = Pool::builder(Failing {
            in_flight: loom::sync::atomic::AtomicUsize::new(0),
            most: loom::sync::atomic::AtomicUsize::new(0),
        })
        .max_size(2)
        .breaker(pool_core::BreakerConfig {
            threshold: 1,
            base: std::time::Duration::ZERO,
            cap: std::time::Duration::ZERO,
        })
        .store(Store::LockFree)
        .build()
        .unwrap();
        // The first failure opens the breaker (for zero time).
        assert!(loom::future::block_on(pool.get()).is_err());
        let racers: Vec<_> = (0..2)
            .map(|_| {
                let pool = pool.clone();
                spawn(move || loom::future::block_on(pool.get()).is_err())
            })
            .collect();
        for r in racers {
            assert!(r.join().unwrap());
        }
        let most = pool
            .manager()
            .most
            .load(loom::sync::atomic::Ordering::SeqCst);
        assert_eq!(most, 1, "two probes ran at once");
    });
}

/// Notes the `used` stamp every `recycle` sees.
struct Stamps(std::sync::Mutex<Vec<Option<tokio::time::Instant>>>);

impl Manager for Stamps {
    type Type = u32;
    type Error = ();

    async fn create(&self) -> Result<u32, ()> {
        Ok(7)
    }

    async fn recycle(&self, _: &mut u32, metrics: &Metrics) -> RecycleResult<()> {
        self.0.lock().unwrap().push(metrics.used);
        Ok(())
    }
}

/// The health-check stamp travels with the object: each checkout that
/// follows another user's decides on (and `recycle` sees) exactly the
/// "used" stamp the previous checkout wrote, whichever way they race.
#[test]
fn last_used_stamp_is_seen_by_the_next_checkout() {
    model(|| {
        let pool = Pool::builder(Stamps(std::sync::Mutex::new(Vec::new())))
            .max_size(1)
            .store(Store::LockFree)
            .build()
            .unwrap();
        let user = |pool: &Pool<Stamps>| {
            let obj = loom::future::block_on(pool.get()).unwrap();
            pool_core::Object::metrics(&obj).used.unwrap()
        };
        let other = spawn({
            let pool = pool.clone();
            move || user(&pool)
        });
        let mut stamps = vec![user(&pool), user(&pool)];
        stamps.push(other.join().unwrap());
        stamps.sort();
        let seen = pool.manager().0.lock().unwrap().clone();
        // One object, three checkouts: created for the first, recycled for
        // the others, each check seeing the checkout before it.
        let expected: Vec<_> = stamps[..2].iter().copied().map(Some).collect();
        assert_eq!(seen, expected);
    });
}

/// Fails its first create, then succeeds.
struct FailsOnce(std::sync::atomic::AtomicBool);

impl Manager for FailsOnce {
    type Type = u32;
    type Error = ();

    async fn create(&self) -> Result<u32, ()> {
        if self.0.swap(false, std::sync::atomic::Ordering::Relaxed) {
            Err(())
        } else {
            Ok(7)
        }
    }

    async fn recycle(&self, _: &mut u32, _: &Metrics) -> RecycleResult<()> {
        Ok(())
    }
}

/// Two gets race for the one slot of a pool whose first create fails, while
/// the winner takes its object away: the failed create gives its slot back
/// (the other get is served, never more than one object exists), and the
/// pool ends empty.
#[test]
fn a_failed_create_gives_its_slot_back() {
    model(|| {
        let pool: Pool<FailsOnce> =
            Pool::builder(FailsOnce(std::sync::atomic::AtomicBool::new(true)))
                .max_size(1)
                .store(Store::LockFree)
                .build()
                .unwrap();
        let getters: Vec<_> = (0..2)
            .map(|_| {
                let pool = pool.clone();
                spawn(move || match loom::future::block_on(pool.get()) {
                    Ok(obj) => {
                        assert!(pool.status().size <= 1);
                        let _ = pool_core::Object::take(obj);
                        true
                    }
                    Err(_) => false,
                })
            })
            .collect();
        let served: usize = getters
            .into_iter()
            .map(|g| usize::from(g.join().unwrap()))
            .sum();
        assert_eq!(served, 1, "exactly one create failed");
        let st = pool.status();
        assert_eq!((st.size, st.available, st.waiting), (0, 0, 0), "{st:?}");
    });
}
