//! `resize`, `retain` and `close`.

mod common;

use std::time::Duration;

use common::{get_n, pool, settle};
use pool_core::{Object, PoolError};

#[tokio::test(start_paused = true)]
async fn growing_serves_waiters_at_once() {
    let pool = pool(1);
    let _a = pool.get().await.unwrap();
    let waiters: Vec<_> = (0..3)
        .map(|_| {
            let pool = pool.clone();
            tokio::spawn(async move { pool.get().await.map(Object::take) })
        })
        .collect();
    settle().await;
    assert_eq!(pool.status().waiting, 3);
    pool.resize(4);
    for w in waiters {
        assert!(w.await.unwrap().is_ok());
    }
}

#[tokio::test(start_paused = true)]
async fn growing_past_the_first_store_segment_keeps_every_object() {
    let pool = pool(2);
    pool.resize(100);
    let mut objs = Vec::new();
    for _ in 0..100 {
        objs.push(pool.get().await.unwrap());
    }
    drop(objs);
    let st = pool.status();
    assert_eq!((st.size, st.available), (100, 100));
    assert_eq!(pool.manager().live(), 100);
}

#[tokio::test(start_paused = true)]
async fn shrinking_drops_idle_surplus_now_and_busy_surplus_on_return() {
    let pool = pool(4);
    let mut objs = get_n(&pool, 4).await;
    let busy = objs.split_off(2);
    drop(objs); // two idle
    assert_eq!(pool.status().available, 2);
    pool.resize(1);
    assert_eq!(pool.status().available, 0, "idle surplus dropped at once");
    assert_eq!(pool.status().size, 2, "busy objects still counted");
    drop(busy);
    let st = pool.status();
    assert_eq!((st.size, st.available, st.max_size), (1, 1, 1));
    assert_eq!(pool.manager().live(), 1);
}

#[tokio::test(start_paused = true)]
async fn retain_removes_by_predicate_and_frees_slots() {
    let pool = pool(4);
    let objs = get_n(&pool, 4).await;
    drop(objs);
    tokio::time::advance(Duration::from_secs(1)).await;
    let result = pool.retain(|conn, _| conn.id % 2 == 0);
    assert_eq!(result.retained, 2);
    let mut removed: Vec<usize> = result.removed.iter().map(|c| c.id).collect();
    removed.sort();
    assert_eq!(removed, vec![1, 3]);
    drop(result);
    let st = pool.status();
    assert_eq!((st.size, st.available), (2, 2));
    assert_eq!(pool.manager().live(), 2);
    // Freed slots can be used again.
    let objs = get_n(&pool, 4).await;
    assert_eq!(objs.len(), 4);
}

#[tokio::test(start_paused = true)]
async fn retain_removal_serves_a_waiter_with_the_freed_slot() {
    let pool = pool(2);
    let a = pool.get().await.unwrap();
    drop(pool.get().await.unwrap()); // one idle
    let _a = a;
    // Both slots taken (one idle, one busy): a waiter would get the idle one,
    // so make the idle one the only candidate and remove it.
    let result = pool.retain(|_, _| false);
    assert_eq!(result.removed.len(), 1);
    let b = pool.try_get().await;
    assert!(b.is_ok(), "the removed object's slot is free");
}

#[tokio::test(start_paused = true)]
async fn close_wakes_every_waiter_with_closed() {
    let pool = pool(1);
    let a = pool.get().await.unwrap();
    let waiters: Vec<_> = (0..5)
        .map(|_| {
            let pool = pool.clone();
            tokio::spawn(async move { pool.get().await.map(|_| ()) })
        })
        .collect();
    settle().await;
    assert_eq!(pool.status().waiting, 5);
    pool.close();
    for w in waiters {
        assert!(matches!(w.await.unwrap(), Err(PoolError::Closed)));
    }
    assert!(pool.is_closed());
    assert!(matches!(pool.get().await, Err(PoolError::Closed)));
    drop(a);
    assert_eq!(
        pool.status().available,
        0,
        "objects returned after close are dropped"
    );
    assert_eq!(pool.manager().live(), 0);
    pool.resize(8);
    assert_eq!(pool.status().max_size, 0, "a closed pool stays closed");
}

#[tokio::test(start_paused = true)]
async fn close_drops_idle_objects() {
    let pool = pool(3);
    drop(get_n(&pool, 3).await);
    assert_eq!(pool.manager().live(), 3);
    pool.close();
    assert_eq!(pool.manager().live(), 0);
    assert_eq!(pool.manager().detached(), 3);
}
