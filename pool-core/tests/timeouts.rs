//! Timeouts of each phase, on paused time.

mod common;

use std::time::Duration;

use common::Mock;
use pool_core::{Pool, PoolError, TimeoutType, Timeouts};
use tokio::time::Instant;

#[tokio::test(start_paused = true)]
async fn wait_timeout_fires_at_its_deadline() {
    let pool: Pool<Mock> = Pool::builder(Mock::new())
        .max_size(1)
        .wait_timeout(Some(Duration::from_millis(300)))
        .build()
        .unwrap();
    let _a = pool.get().await.unwrap();
    let start = Instant::now();
    let err = pool.get().await.unwrap_err();
    assert!(matches!(err, PoolError::Timeout(TimeoutType::Wait)));
    assert_eq!(start.elapsed(), Duration::from_millis(300));
    assert_eq!(pool.status().waiting, 0);
}

#[tokio::test(start_paused = true)]
async fn create_timeout() {
    let mock = Mock {
        create_delay: Duration::from_secs(5),
        ..Mock::new()
    };
    let pool: Pool<Mock> = Pool::builder(mock)
        .max_size(1)
        .create_timeout(Some(Duration::from_secs(1)))
        .build()
        .unwrap();
    let err = pool.get().await.unwrap_err();
    assert!(matches!(err, PoolError::Timeout(TimeoutType::Create)));
    assert_eq!(pool.status().size, 0);
}

#[tokio::test(start_paused = true)]
async fn recycle_timeout_discards_and_creates_anew() {
    let mock = Mock {
        recycle_delay: Duration::from_secs(5),
        ..Mock::new()
    };
    let pool: Pool<Mock> = Pool::builder(mock)
        .max_size(1)
        .recycle_timeout(Some(Duration::from_secs(1)))
        .build()
        .unwrap();
    drop(pool.get().await.unwrap());
    let start = Instant::now();
    let b = pool.get().await.unwrap();
    assert_eq!(b.id, 1, "the slow object was replaced");
    assert_eq!(start.elapsed(), Duration::from_secs(1));
    assert_eq!(pool.manager().detached(), 1);
}

#[tokio::test(start_paused = true)]
async fn timeout_get_overrides_the_configured_timeouts() {
    let pool: Pool<Mock> = Pool::builder(Mock::new())
        .max_size(1)
        .wait_timeout(Some(Duration::from_secs(60)))
        .build()
        .unwrap();
    let _a = pool.get().await.unwrap();
    let start = Instant::now();
    let err = pool
        .timeout_get(&Timeouts::wait_millis(50))
        .await
        .unwrap_err();
    assert!(matches!(err, PoolError::Timeout(TimeoutType::Wait)));
    assert_eq!(start.elapsed(), Duration::from_millis(50));
}

#[tokio::test(start_paused = true)]
async fn waiter_served_before_its_timeout_gets_the_object() {
    let pool: Pool<Mock> = Pool::builder(Mock::new())
        .max_size(1)
        .wait_timeout(Some(Duration::from_secs(1)))
        .build()
        .unwrap();
    let a = pool.get().await.unwrap();
    let waiter = tokio::spawn({
        let pool = pool.clone();
        async move { pool.get().await.map(|o| o.id) }
    });
    tokio::time::sleep(Duration::from_millis(999)).await;
    drop(a);
    assert_eq!(waiter.await.unwrap().unwrap(), 0);
}
