//! Bad configuration is an error that names the problem.

mod common;

use common::Mock;
use pool_core::{BuildError, MAX_POOL_SIZE, Pool, QueueMode, Store};

#[test]
fn max_size_too_large_is_refused() {
    let err = Pool::<Mock>::builder(Mock::new())
        .max_size(usize::MAX)
        .build()
        .unwrap_err();
    assert_eq!(
        err,
        BuildError::MaxSizeTooLarge {
            max_size: usize::MAX,
            limit: MAX_POOL_SIZE
        }
    );
    assert!(err.to_string().contains(&usize::MAX.to_string()), "{err}");
}

#[test]
fn lifo_with_the_lock_free_store_is_refused() {
    let err = Pool::<Mock>::builder(Mock::new())
        .queue_mode(QueueMode::Lifo)
        .store(Store::LockFree)
        .build()
        .unwrap_err();
    assert_eq!(err, BuildError::LifoNeedsMutexStore);
    assert!(err.to_string().contains("Lifo"), "{err}");
}

#[test]
fn default_max_size_is_twice_the_cores() {
    let pool = Pool::<Mock>::builder(Mock::new()).build().unwrap();
    let cores = std::thread::available_parallelism().unwrap().get();
    assert_eq!(pool.status().max_size, 2 * cores);
}

#[test]
fn a_breaker_base_above_its_cap_is_refused() {
    use std::time::Duration;
    let err = Pool::<Mock>::builder(Mock::new())
        .breaker(pool_core::BreakerConfig {
            threshold: 1,
            base: Duration::from_secs(5),
            cap: Duration::from_secs(1),
        })
        .build()
        .unwrap_err();
    assert!(
        matches!(err, BuildError::BreakerBaseAboveCap { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("5s"), "{err}");
}

/// `Duration::MAX` (or any duration past what an `Instant` can hold) for a
/// lifetime, a timeout or the breaker's backoff means "never", not a panic.
#[tokio::test]
async fn the_largest_durations_are_accepted_and_never_panic() {
    use std::sync::atomic::Ordering;
    use std::time::Duration;
    let pool = Pool::<Mock>::builder(Mock::new())
        .max_size(2)
        .max_lifetime(Some(Duration::MAX))
        .idle_timeout(Some(Duration::MAX))
        .wait_timeout(Some(Duration::MAX))
        .create_timeout(Some(Duration::MAX))
        .recycle_timeout(Some(Duration::MAX))
        .breaker(pool_core::BreakerConfig {
            threshold: 1,
            base: Duration::MAX,
            cap: Duration::MAX,
        })
        .build()
        .unwrap();
    drop(pool.get().await.unwrap());
    drop(pool.get().await.unwrap());
    // A failed create opens the breaker for "ever" without overflowing.
    let manager = pool.manager();
    manager.fail_create.store(true, Ordering::SeqCst);
    let first = pool.get().await;
    drop(pool.get().await);
    assert!(first.is_ok(), "the idle object is still served");
    assert_eq!(pool.status().size, 1);
}
