//! A manager whose `create` or `recycle` fails, and hooks that fail.

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::{Mock, MockError, pool_with, settle};
use pool_core::{BreakerConfig, Hook, HookError, Pool, PoolError};

#[tokio::test(start_paused = true)]
async fn create_error_reaches_the_caller_and_frees_the_slot() {
    let mock = Mock::new();
    mock.fail_create.store(true, Ordering::SeqCst);
    // The breaker off: deadpool's behaviour, every failure reaches its caller.
    let pool: Pool<Mock> = Pool::builder(mock)
        .max_size(2)
        .breaker(BreakerConfig {
            threshold: 0,
            ..BreakerConfig::default()
        })
        .build()
        .unwrap();
    for _ in 0..20 {
        match pool.get().await {
            Err(PoolError::Backend(MockError(msg))) => assert_eq!(msg, "create refused"),
            other => panic!("expected the backend error, got {other:?}"),
        }
    }
    let st = pool.status();
    assert_eq!((st.size, st.waiting), (0, 0));
    pool.manager().fail_create.store(false, Ordering::SeqCst);
    assert!(pool.get().await.is_ok());
}

#[tokio::test(start_paused = true)]
async fn waiters_get_their_turn_when_creates_fail() {
    let mock = Mock {
        create_delay: Duration::from_millis(10),
        ..Mock::new()
    };
    mock.fail_create.store(true, Ordering::SeqCst);
    let pool = pool_with(mock, 1);
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let pool = pool.clone();
            tokio::spawn(async move { pool.get().await.map(|_| ()) })
        })
        .collect();
    settle().await;
    let mut unavailable = 0;
    for t in tasks {
        match t.await.unwrap() {
            Err(PoolError::Backend(_)) => {}
            Err(PoolError::Unavailable { .. }) => unavailable += 1,
            other => panic!("every task must fail, none hang: {other:?}"),
        }
    }
    // The breaker opened at the 5th failure (its default threshold): the
    // other five were told at once instead of trying again.
    assert_eq!(
        pool.manager().counters.create_calls.load(Ordering::SeqCst),
        5
    );
    assert_eq!(unavailable, 6, "the 5th failure and the 5 refused");
}

#[tokio::test(start_paused = true)]
async fn recycle_error_discards_and_tries_the_next_object() {
    let pool = pool_with(Mock::new(), 3);
    let objs = [
        pool.get().await.unwrap(),
        pool.get().await.unwrap(),
        pool.get().await.unwrap(),
    ];
    drop(objs);
    pool.manager().fail_recycle.store(true, Ordering::SeqCst);
    let fresh = pool.get().await.unwrap();
    assert_eq!(
        fresh.id, 3,
        "all three idle objects failed recycle; a new one was created"
    );
    assert_eq!(pool.manager().detached(), 3);
    let st = pool.status();
    assert_eq!((st.size, st.available), (1, 0));
}

#[tokio::test(start_paused = true)]
async fn post_create_hook_error_is_reported_and_the_object_dropped() {
    let pool: Pool<Mock> = Pool::builder(Mock::new())
        .max_size(1)
        .post_create(Hook::sync_fn(|conn: &mut common::Conn, _| {
            if conn.id == 0 {
                Err(HookError::message("first one is bad"))
            } else {
                Ok(())
            }
        }))
        .build()
        .unwrap();
    assert!(matches!(
        pool.get().await,
        Err(PoolError::PostCreateHook(HookError::Message(_)))
    ));
    assert_eq!(pool.manager().live(), 0);
    assert_eq!(pool.get().await.unwrap().id, 1);
}
