//! `Pool::create_replacement`: a new value for a checked-out object whose
//! value broke, through the breaker and the create limiter, without a slot.
//! Paused tokio time, mock manager.

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::{Mock, quiet_pool};
use pool_core::{BreakerConfig, Pool, PoolError, TimeoutType};

#[tokio::test(start_paused = true)]
async fn a_replacement_takes_no_slot_even_in_a_full_pool() {
    let pool = quiet_pool(Mock::new(), 1);
    let held = pool.get().await.unwrap();
    let fresh = pool.create_replacement().await.unwrap();
    assert_eq!(pool.manager().created(), 2);
    let s = pool.status();
    assert_eq!((s.size, s.max_size, s.waiting), (1, 1, 0), "{s:?}");
    assert_eq!(pool.metrics().creates_ok, 2);
    drop(fresh);
    drop(held);
    assert_eq!(pool.status().available, 1);
}

#[tokio::test(start_paused = true)]
async fn the_create_limiter_holds_replacements_too() {
    let pool: Pool<Mock> = Pool::builder(Mock {
        create_delay: Duration::from_millis(100),
        ..Mock::new()
    })
    .max_size(4)
    .max_concurrent_creates(1)
    .build()
    .unwrap();
    let creating = tokio::spawn({
        let pool = pool.clone();
        async move { pool.get().await.map(drop) }
    });
    tokio::time::sleep(Duration::from_millis(10)).await;
    let busy = pool.create_replacement().await.unwrap_err();
    assert!(
        matches!(busy, PoolError::Timeout(TimeoutType::Create)),
        "{busy:?}"
    );
    assert_eq!(
        pool.manager().counters.create_calls.load(Ordering::SeqCst),
        1,
        "nothing attempted"
    );
    creating.await.unwrap().unwrap();
    assert!(pool.create_replacement().await.is_ok());
}

#[tokio::test(start_paused = true)]
async fn an_open_breaker_refuses_replacements() {
    let pool: Pool<Mock> = Pool::builder(Mock::new())
        .max_size(2)
        .breaker(BreakerConfig {
            threshold: 1,
            ..BreakerConfig::default()
        })
        .build()
        .unwrap();
    let held = pool.get().await.unwrap();
    pool.manager().fail_create.store(true, Ordering::SeqCst);
    let first = pool.create_replacement().await.unwrap_err();
    assert!(matches!(first, PoolError::Unavailable { .. }), "{first:?}");
    let refused = pool.create_replacement().await.unwrap_err();
    assert!(
        matches!(refused, PoolError::Unavailable { retry_in, .. } if retry_in > Duration::ZERO),
        "{refused:?}"
    );
    // Once the backend is back, the probe goes through after the delay.
    pool.manager().fail_create.store(false, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(pool.create_replacement().await.is_ok());
    drop(held);
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_replacement_gives_its_permit_back() {
    let pool: Pool<Mock> = Pool::builder(Mock {
        create_delay: Duration::from_millis(100),
        ..Mock::new()
    })
    .max_size(2)
    .max_concurrent_creates(1)
    .build()
    .unwrap();
    let cancelled =
        tokio::time::timeout(Duration::from_millis(10), pool.create_replacement()).await;
    assert!(cancelled.is_err(), "still creating when dropped");
    // The permit is free again: a get may create.
    assert!(pool.get().await.is_ok());
    assert_eq!(pool.status().waiting, 0);
}
