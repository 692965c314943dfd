//! Checkout and return: the fast path, status bookkeeping, reuse order,
//! `take`, `try_get`, metrics and the wrapper type.

mod common;

use std::time::Duration;

use common::{Mock, get_n, pool, pool_with};
use pool_core::{Object, Pool, PoolError, QueueMode, Store, TimeoutType};

#[tokio::test(start_paused = true)]
async fn get_creates_then_reuses() {
    let pool = pool(4);
    let a = pool.get().await.unwrap();
    assert_eq!(a.id, 0);
    let st = pool.status();
    assert_eq!(
        (st.size, st.available, st.waiting, st.max_size),
        (1, 0, 0, 4)
    );
    drop(a);
    assert_eq!(pool.status().available, 1);
    let b = pool.get().await.unwrap();
    assert_eq!(b.id, 0, "the idle object is reused, not a new one created");
    assert_eq!(pool.manager().created(), 1);
    assert_eq!(
        pool.manager()
            .counters
            .recycled
            .load(std::sync::atomic::Ordering::SeqCst),
        1
    );
}

#[tokio::test(start_paused = true)]
async fn fifo_reuses_oldest_idle_first() {
    let pool = pool(3);
    let objs: Vec<_> = get_n(&pool, 3).await;
    let ids: Vec<usize> = objs.iter().map(|o| o.id).collect();
    drop(objs); // returned in order 0, 1, 2
    let again: Vec<usize> = get_n(&pool, 3).await.iter().map(|o| o.id).collect();
    assert_eq!(again, ids);
}

#[tokio::test(start_paused = true)]
async fn lifo_reuses_newest_idle_first() {
    let pool: Pool<Mock> = Pool::builder(Mock::new())
        .max_size(3)
        .queue_mode(QueueMode::Lifo)
        .build()
        .unwrap();
    let objs = get_n(&pool, 3).await;
    drop(objs);
    let first = pool.get().await.unwrap();
    assert_eq!(
        first.id, 2,
        "LIFO hands out the most recently returned object"
    );
}

#[tokio::test(start_paused = true)]
async fn take_frees_the_slot() {
    let pool = pool(1);
    let a = pool.get().await.unwrap();
    let conn = Object::take(a);
    assert_eq!(pool.status().size, 0);
    assert_eq!(pool.manager().detached(), 1);
    let b = pool.get().await.unwrap();
    assert_ne!(b.id, conn.id, "a taken object is never handed out again");
    assert_eq!(
        pool.manager().live(),
        2,
        "the taken object lives on with its owner"
    );
}

#[tokio::test(start_paused = true)]
async fn try_get_never_waits() {
    let pool = pool(1);
    let a = pool.try_get().await.unwrap();
    assert!(matches!(
        pool.try_get().await,
        Err(PoolError::Timeout(TimeoutType::Wait))
    ));
    drop(a);
    assert!(pool.try_get().await.is_ok());
}

#[tokio::test(start_paused = true)]
async fn metrics_use_tokio_clock() {
    let pool = pool(1);
    drop(pool.get().await.unwrap());
    tokio::time::advance(Duration::from_secs(5)).await;
    let a = pool.get().await.unwrap();
    let m = Object::metrics(&a);
    assert_eq!(
        m.age(),
        Duration::from_secs(5),
        "paused time: ages are exact"
    );
    assert_eq!(m.recycle_count, 1);
    assert_eq!(m.last_used(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn both_stores_behave_alike() {
    for store in [Store::LockFree, Store::Mutex] {
        let pool: Pool<Mock> = Pool::builder(Mock::new())
            .max_size(2)
            .store(store)
            .build()
            .unwrap();
        let a = pool.get().await.unwrap();
        let b = pool.get().await.unwrap();
        drop(a);
        drop(b);
        let st = pool.status();
        assert_eq!((st.size, st.available), (2, 2), "{store:?}");
        let a = pool.get().await.unwrap();
        assert_eq!(a.id, 0, "{store:?}: FIFO");
    }
}

/// A wrapper type, as deadpool-redis's `Connection` wraps `Object`.
struct Wrapped(Object<Mock>);

impl From<Object<Mock>> for Wrapped {
    fn from(o: Object<Mock>) -> Self {
        Wrapped(o)
    }
}

#[tokio::test(start_paused = true)]
async fn wrapper_type_is_returned_and_returns_on_drop() {
    let pool: Pool<Mock, Wrapped> = Pool::builder(Mock::new()).max_size(1).build().unwrap();
    let w = pool.get().await.unwrap();
    assert_eq!(w.0.id, 0);
    drop(w);
    assert_eq!(pool.status().available, 1);
    let weak = pool.weak();
    assert!(weak.upgrade().is_some());
    drop(pool);
    assert!(weak.upgrade().is_none());
}

#[tokio::test(start_paused = true)]
async fn object_outlives_pool_handles() {
    let pool = pool_with(Mock::new(), 1);
    let counters = pool.manager().counters.clone();
    let a = pool.get().await.unwrap();
    drop(pool);
    assert!(Object::pool(&a).is_some());
    drop(a);
    assert_eq!(
        counters.live.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "everything dropped with the last handle"
    );
}
