//! The created count never exceeds `max_size`.

mod common;

use std::time::Duration;

use common::{Mock, pool_with};
use pool_core::{Object, Pool, Store};

async fn hammer(pool: Pool<Mock>, tasks: usize) {
    let handles: Vec<_> = (0..tasks)
        .map(|i| {
            let pool = pool.clone();
            tokio::spawn(async move {
                let mut obj = pool.get().await.unwrap();
                if i % 7 == 0 {
                    obj.leave_pool();
                    let _ = Object::take(obj); // frees its slot
                } else {
                    tokio::time::sleep(Duration::from_millis((i % 5) as u64)).await;
                }
            })
        })
        .collect();
    for h in handles {
        h.await.unwrap();
    }
}

#[tokio::test(start_paused = true)]
async fn thousand_concurrent_gets_never_exceed_max_size() {
    for store in [Store::LockFree, Store::Mutex] {
        let mock = Mock {
            create_delay: Duration::from_millis(3),
            ..Mock::new()
        };
        let pool: Pool<Mock> = Pool::builder(mock)
            .max_size(10)
            .store(store)
            .build()
            .unwrap();
        hammer(pool.clone(), 1000).await;
        let m = pool.manager();
        assert!(
            m.max_live() <= 10,
            "{store:?}: {} live at once",
            m.max_live()
        );
        assert!(m.created() >= 10);
        assert!(pool.status().size <= 10);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bound_holds_on_a_multithreaded_runtime() {
    let pool = pool_with(Mock::new(), 8);
    hammer(pool.clone(), 1000).await;
    // Taken objects stop counting just before they leave the pool, so
    // live-at-once is what the pool held at once.
    assert!(
        pool.manager().max_live() <= 8,
        "{}",
        pool.manager().max_live()
    );
}

#[tokio::test(start_paused = true)]
async fn after_shrink_the_count_never_exceeds_the_count_at_the_shrink() {
    let mock = Mock {
        create_delay: Duration::from_millis(1),
        ..Mock::new()
    };
    let pool = pool_with(mock, 8);
    let objs: Vec<_> = {
        let mut v = Vec::new();
        for _ in 0..6 {
            v.push(pool.get().await.unwrap());
        }
        v
    };
    pool.resize(2);
    let getters: Vec<_> = (0..20)
        .map(|_| {
            let pool = pool.clone();
            tokio::spawn(async move { drop(pool.get().await.unwrap()) })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_eq!(
        pool.manager().max_live(),
        6,
        "no create while above the new size"
    );
    drop(objs);
    for g in getters {
        g.await.unwrap();
    }
    assert_eq!(pool.status().size, 2);
    assert_eq!(pool.manager().live(), 2);
}

/// The reconnect-storm measurement: a burst of 50 gets on an empty pool of 64, a
/// backend that takes 150 ms to connect, holders that keep their object
/// 2 ms. With at most 2 creates at once, the burst is served by objects
/// coming back, not by a connection per caller.
#[tokio::test(start_paused = true)]
async fn a_burst_creates_few_objects() {
    let mock = Mock {
        create_delay: Duration::from_millis(150),
        ..Mock::new()
    };
    let pool: Pool<Mock> = Pool::builder(mock)
        .max_size(64)
        .idle_timeout(None)
        .max_lifetime(None)
        .build()
        .unwrap();
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let pool = pool.clone();
            tokio::spawn(async move {
                let obj = pool.get().await.unwrap();
                tokio::time::sleep(Duration::from_millis(2)).await;
                drop(obj);
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let created = pool.manager().created();
    eprintln!("burst of 50 gets, 150 ms connect, 2 ms hold: {created} objects created");
    assert!(created <= 8, "{created} objects created");
    assert!(pool.manager().max_live() <= 8);
}

#[tokio::test(start_paused = true)]
async fn no_more_than_max_concurrent_creates_at_once() {
    let mock = Mock {
        create_delay: Duration::from_millis(100),
        ..Mock::new()
    };
    let pool: Pool<Mock> = Pool::builder(mock)
        .max_size(32)
        .max_concurrent_creates(3)
        .build()
        .unwrap();
    let tasks: Vec<_> = (0..32)
        .map(|_| {
            let pool = pool.clone();
            tokio::spawn(async move { Object::take(pool.get().await.unwrap()) })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let calls = pool
        .manager()
        .counters
        .create_calls
        .load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(calls, 3, "3 creates in flight, the rest queued");
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(
        pool.manager().created(),
        32,
        "every caller served, 3 at a time"
    );
}

#[tokio::test(start_paused = true)]
async fn a_kept_slot_counts_against_max_size_until_dropped() {
    let pool = pool_with(Mock::new(), 2);
    let a = pool.get().await.unwrap();
    let (conn, kept) = Object::keep_slot(pool.get().await.unwrap());
    drop(conn); // the object is gone, its slot is not
    assert_eq!(pool.status().size, 2);
    assert!(
        pool.try_get().await.is_err(),
        "the kept slot must not be handed out"
    );
    let waiter = tokio::spawn({
        let pool = pool.clone();
        async move { pool.get().await.map(|o| o.id) }
    });
    tokio::task::yield_now().await;
    assert_eq!(pool.status().waiting, 1);
    drop(kept);
    let served = tokio::time::timeout(Duration::from_secs(1), waiter)
        .await
        .expect("dropping the kept slot serves the waiter")
        .unwrap();
    assert!(served.is_ok());
    assert_eq!(pool.status().size, 2, "a, plus the waiter's new object");
    drop(a);
}
