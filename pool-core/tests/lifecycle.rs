//! The background task: min_idle warmer, idle reaper, max_lifetime, and its
//! own lifetime. Paused tokio time.

mod common;

use std::time::Duration;

use common::{Mock, get_n};
use pool_core::Pool;

fn builder(max: usize) -> pool_core::PoolBuilder<Mock> {
    Pool::builder(Mock::new()).max_size(max)
}

/// Lets the background task run a few ticks.
async fn ticks(n: u32) {
    for _ in 0..n {
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn alive_tasks() -> usize {
    tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks()
}

#[tokio::test(start_paused = true)]
async fn warmer_keeps_min_idle() {
    let pool = builder(5).min_idle(3).build().unwrap();
    ticks(2).await;
    assert_eq!(pool.status().available, 3);
    let held: Vec<_> = get_n(&pool, 4).await;
    ticks(4).await;
    let st = pool.status();
    assert_eq!(
        st.size, 5,
        "the warmer filled what capacity was left, no more"
    );
    assert!(pool.manager().max_live() <= 5, "never above max_size");
    drop(held);
    assert_eq!(pool.status().available, 5);
}

#[tokio::test(start_paused = true)]
async fn build_and_warm_waits_for_min_idle() {
    let mock = Mock {
        create_delay: Duration::from_millis(100),
        ..Mock::new()
    };
    let pool: Pool<Mock> = Pool::builder(mock)
        .max_size(8)
        .min_idle(4)
        .build_and_warm()
        .await
        .unwrap();
    assert_eq!(pool.status().available, 4);
    assert_eq!(pool.warm(2).await.unwrap(), 2);
    assert_eq!(pool.status().available, 6);
}

#[tokio::test(start_paused = true)]
async fn idle_reaper_closes_the_unneeded_surplus_but_not_below_min_idle() {
    let pool = builder(10)
        .min_idle(1)
        .idle_timeout(Some(Duration::from_secs(10)))
        .max_lifetime(None)
        .build()
        .unwrap();
    drop(get_n(&pool, 6).await);
    assert_eq!(pool.status().available, 6);
    // Mid-window, 4 are in use for a second: the pool needed 4 of its 6.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let busy = get_n(&pool, 4).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    drop(busy);
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        pool.status().available,
        5,
        "one window: only the never-needed one closed"
    );
    // A quiet window: everything above min_idle goes.
    tokio::time::sleep(Duration::from_secs(11)).await;
    assert_eq!(pool.status().available, 1);
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(pool.status().available, 1, "never below min_idle");
}

#[tokio::test(start_paused = true)]
async fn max_lifetime_expires_objects_apart() {
    let pool = builder(20)
        .idle_timeout(None)
        .max_lifetime(Some(Duration::from_secs(100)))
        .build()
        .unwrap();
    drop(get_n(&pool, 20).await);
    tokio::time::sleep(Duration::from_secs(94)).await;
    assert_eq!(
        pool.status().available,
        20,
        "nothing expires before 95% of its lifetime"
    );
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let mid = pool.status().available;
    assert!(
        mid > 0 && mid < 20,
        "jitter spreads expiry: {mid} of 20 left at 96.5 s"
    );
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(pool.status().available, 0, "all expired by their lifetime");
    assert_eq!(pool.manager().live(), 0);
}

#[tokio::test(start_paused = true)]
async fn an_expired_object_is_not_handed_out() {
    let pool = builder(1)
        .idle_timeout(None)
        .max_lifetime(Some(Duration::from_secs(10)))
        .build()
        .unwrap();
    let first = pool.get().await.unwrap();
    tokio::time::advance(Duration::from_secs(11)).await;
    drop(first);
    // Returned past its lifetime: the next checkout replaces it.
    assert_eq!(pool.get().await.unwrap().id, 1);
}

#[tokio::test(start_paused = true)]
async fn dropping_the_last_handle_ends_the_task() {
    let before = alive_tasks();
    let pool = builder(4).min_idle(2).build().unwrap();
    ticks(1).await;
    assert_eq!(alive_tasks(), before + 1, "one background task");
    let obj = pool.get().await.unwrap(); // an object outlives the handles
    let clone = pool.clone();
    drop(pool);
    ticks(1).await;
    assert_eq!(alive_tasks(), before + 1, "a handle is left");
    drop(clone);
    ticks(1).await;
    assert_eq!(alive_tasks(), before, "no leaked task");
    drop(obj);
}

#[tokio::test(start_paused = true)]
async fn close_ends_the_task() {
    let before = alive_tasks();
    let pool = builder(4).min_idle(2).build().unwrap();
    ticks(1).await;
    assert_eq!(alive_tasks(), before + 1);
    pool.close();
    tokio::task::yield_now().await;
    ticks(1).await;
    assert_eq!(alive_tasks(), before);
}

#[tokio::test(start_paused = true)]
async fn no_task_when_nothing_needs_one() {
    let before = alive_tasks();
    let _pool = builder(4)
        .idle_timeout(None)
        .max_lifetime(None)
        .build()
        .unwrap();
    ticks(1).await;
    assert_eq!(alive_tasks(), before);
}

#[tokio::test(start_paused = true)]
async fn overflow_objects_close_on_return() {
    let pool = builder(2).max_overflow(2).build().unwrap();
    let burst = get_n(&pool, 4).await;
    assert_eq!(
        pool.status().size,
        4,
        "max_size 2 + overflow 2 during the burst"
    );
    assert!(
        pool.try_get().await.is_err(),
        "no more than max_size + max_overflow"
    );
    drop(burst);
    let st = pool.status();
    assert_eq!(
        (st.size, st.available),
        (2, 2),
        "the overflow objects closed on return"
    );
    assert_eq!(pool.manager().live(), 2);
}

#[tokio::test(start_paused = true)]
async fn overflow_objects_go_to_waiters_before_closing() {
    let pool = builder(1).max_overflow(1).build().unwrap();
    let a = pool.get().await.unwrap();
    let b = pool.get().await.unwrap();
    let waiter = tokio::spawn({
        let pool = pool.clone();
        async move { pool.get().await.map(|o| o.id) }
    });
    common::settle().await;
    drop(b); // above max_size, but someone waits: handed over
    assert_eq!(waiter.await.unwrap().unwrap(), 1);
    drop(a);
    assert_eq!(pool.status().size, 1);
}

#[tokio::test(start_paused = true)]
async fn the_warmer_does_not_use_the_overflow_allowance() {
    let pool = builder(2).max_overflow(3).min_idle(4).build().unwrap();
    ticks(4).await;
    assert_eq!(
        pool.status().size,
        2,
        "min_idle is capped by max_size, not max_size + overflow"
    );
}
