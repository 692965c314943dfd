//! Dropping a `get()` future at each await point loses no object and no
//! capacity.

mod common;

use std::pin::pin;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Duration;

use common::{Mock, pool, pool_with, settle};

/// Polls a future once with a no-op waker.
fn poll_once<F: Future>(fut: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(std::task::Waker::noop()))
}

#[tokio::test(start_paused = true)]
async fn cancelled_while_waiting_leaves_the_queue() {
    let pool = pool(1);
    let a = pool.get().await.unwrap();
    {
        let mut fut = pin!(pool.get());
        assert!(poll_once(fut.as_mut()).is_pending());
        assert_eq!(pool.status().waiting, 1);
    }
    assert_eq!(
        pool.status().waiting,
        0,
        "the dropped waiter left the queue"
    );
    drop(a);
    assert_eq!(
        pool.status().available,
        1,
        "the object went idle, not to a ghost"
    );
    assert!(pool.try_get().await.is_ok());
}

#[tokio::test(start_paused = true)]
async fn cancelled_after_handoff_gives_the_object_back() {
    let pool = pool(1);
    let a = pool.get().await.unwrap();
    let mut fut = Box::pin(pool.get());
    assert!(poll_once(fut.as_mut()).is_pending());
    drop(a); // handed straight into the waiter's slot
    assert_eq!(
        pool.status().available,
        0,
        "the object belongs to the waiter now"
    );
    drop(fut); // ...which never looks at it
    let st = pool.status();
    assert_eq!((st.size, st.available, st.waiting), (1, 1, 0));
    assert_eq!(pool.get().await.unwrap().id, 0);
}

#[tokio::test(start_paused = true)]
async fn cancelled_after_handoff_passes_object_to_next_waiter() {
    let pool = pool(1);
    let a = pool.get().await.unwrap();
    let mut first = Box::pin(pool.get());
    assert!(poll_once(first.as_mut()).is_pending());
    let second = tokio::spawn({
        let pool = pool.clone();
        async move { pool.get().await.map(|o| o.id) }
    });
    settle().await;
    assert_eq!(pool.status().waiting, 2);
    drop(a);
    drop(first);
    assert_eq!(second.await.unwrap().unwrap(), 0);
}

#[tokio::test(start_paused = true)]
async fn cancelled_while_creating_releases_the_slot() {
    let mock = Mock {
        create_delay: Duration::from_secs(10),
        ..Mock::new()
    };
    let pool = pool_with(mock, 1);
    let res = tokio::time::timeout(Duration::from_secs(1), pool.get()).await;
    assert!(res.is_err());
    let st = pool.status();
    assert_eq!((st.size, st.waiting), (0, 0));
    pool.manager()
        .counters
        .create_calls
        .store(0, Ordering::SeqCst);
    // The slot is free again: a new get creates.
    let a = pool.get().await.unwrap();
    assert_eq!(
        pool.manager().counters.create_calls.load(Ordering::SeqCst),
        1
    );
    drop(a);
}

#[tokio::test(start_paused = true)]
async fn cancelled_while_waiting_for_a_granted_slot_releases_it() {
    let mock = Mock::new();
    mock.fail_create.store(true, Ordering::SeqCst);
    let mock = Mock {
        create_delay: Duration::from_secs(1),
        ..mock
    };
    let pool = pool_with(mock, 1);
    let first = tokio::spawn({
        let pool = pool.clone();
        async move { pool.get().await.is_err() }
    });
    settle().await;
    let mut second = Box::pin(pool.get());
    assert!(poll_once(second.as_mut()).is_pending());
    tokio::time::sleep(Duration::from_millis(1500)).await; // first create fails: slot granted to `second`
    assert!(first.await.unwrap());
    drop(second); // never polled again: its granted slot must come back
    assert_eq!(pool.status().waiting, 0);
    pool.manager().fail_create.store(false, Ordering::SeqCst);
    assert!(pool.get().await.is_ok(), "capacity was not leaked");
}

#[tokio::test(start_paused = true)]
async fn cancelled_while_recycling_discards_the_object_and_frees_its_slot() {
    let mock = Mock {
        recycle_delay: Duration::from_secs(10),
        ..Mock::new()
    };
    let pool = pool_with(mock, 1);
    drop(pool.get().await.unwrap());
    let res = tokio::time::timeout(Duration::from_secs(1), pool.get()).await;
    assert!(res.is_err());
    let st = pool.status();
    assert_eq!(
        (st.size, st.available),
        (0, 0),
        "an object interrupted mid-recycle is not trusted"
    );
    assert_eq!(pool.manager().detached(), 1);
    assert_eq!(pool.manager().live(), 0);
}
