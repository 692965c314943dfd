//! The unmanaged pool beyond deadpool's own tests: waiters served in
//! arrival order, no object or place lost to a cancelled wait, `add`
//! waiting for room, and `close`.

#![cfg(feature = "unmanaged")]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use pool_core::Runtime;
use pool_core::unmanaged::{Pool, PoolConfig, PoolError};

/// 64 tasks queue for one object, one after another; each keeps it for a
/// moment: they are served exactly in the order they queued.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiters_are_served_in_arrival_order() {
    let pool = Pool::from(vec![0u32]);
    let held = pool.get().await.unwrap();
    let order = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for i in 0..64 {
        let (handle, order) = (pool.clone(), order.clone());
        tasks.push(tokio::spawn(async move {
            let obj = handle.get().await.unwrap();
            order.lock().unwrap().push(i);
            tokio::task::yield_now().await;
            drop(obj);
        }));
        // Queued before the next one starts.
        while pool.status().waiting < i + 1 {
            tokio::task::yield_now().await;
        }
    }
    drop(held);
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(*order.lock().unwrap(), (0..64).collect::<Vec<_>>());
}

/// Gets that give up (timeouts racing returns) lose no object: whatever
/// was handed to a waiter that had just given up goes to the next.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled_waits_lose_no_object() {
    let pool = Pool::from_config(&PoolConfig {
        max_size: 4,
        timeout: None,
        runtime: Some(Runtime::Tokio1),
    });
    for i in 0..4 {
        pool.add(i).await.unwrap();
    }
    let served = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..32)
        .map(|i| {
            let (pool, served) = (pool.clone(), served.clone());
            tokio::spawn(async move {
                for round in 0..200 {
                    let wait = Duration::from_micros(((i * 7 + round) % 50) as u64);
                    if let Ok(obj) = pool.timeout_get(Some(wait)).await {
                        served.fetch_add(1, Ordering::Relaxed);
                        tokio::task::yield_now().await;
                        drop(obj);
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    assert!(served.load(Ordering::Relaxed) > 0);
    let st = pool.status();
    assert_eq!((st.size, st.available, st.waiting), (4, 4, 0), "{st:?}");
}

/// A full pool makes `add` wait; taking an object out lets it in; the
/// pool never holds more than `max_size`.
#[tokio::test]
async fn add_waits_for_room_and_size_stays_bounded() {
    let pool = Pool::new(2);
    pool.add(1).await.unwrap();
    pool.add(2).await.unwrap();
    assert_eq!(pool.try_add(3).unwrap_err(), (3, PoolError::Timeout));
    let adding = tokio::spawn({
        let pool = pool.clone();
        async move { pool.add(3).await }
    });
    tokio::task::yield_now().await;
    assert_eq!(pool.status().size, 2);
    let taken = pool.remove().await.unwrap();
    adding.await.unwrap().unwrap();
    let st = pool.status();
    assert_eq!((st.max_size, st.size, st.available), (2, 2, 2), "{st:?}");
    let mut left = vec![pool.remove().await.unwrap(), pool.remove().await.unwrap()];
    left.sort_unstable();
    assert_eq!((taken, left), (1, vec![2, 3]));
    assert_eq!(pool.status().size, 0);
}

/// `close` ends waiting gets and adds at once, drops idle objects now and
/// objects in use when they come back.
#[tokio::test]
async fn close_ends_waiters_and_drops_every_object() {
    let alive = Arc::new(());
    let pool = Pool::from(vec![alive.clone(), alive.clone()]);
    let in_use = pool.get().await.unwrap();
    let _idle_in_use = pool.get().await.unwrap();
    let getting = tokio::spawn({
        let pool = pool.clone();
        async move { pool.get().await.map(drop) }
    });
    let adding = tokio::spawn({
        let (pool, extra) = (pool.clone(), alive.clone());
        async move { pool.add(extra).await.map_err(|(_, e)| e) }
    });
    tokio::task::yield_now().await;
    pool.close();
    assert_eq!(getting.await.unwrap().unwrap_err(), PoolError::Closed);
    assert_eq!(adding.await.unwrap().unwrap_err(), PoolError::Closed);
    assert!(pool.is_closed());
    drop(in_use);
    drop(_idle_in_use);
    assert_eq!(Arc::strong_count(&alive), 1, "every object dropped");
    assert_eq!(pool.status().size, 0);
    assert_eq!(
        pool.try_add(alive.clone()).unwrap_err().1,
        PoolError::Closed
    );
}
