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
