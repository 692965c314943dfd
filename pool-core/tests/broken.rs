//! `Manager::is_broken` at check-in: a broken object is never handed out.

mod common;

use common::{pool, settle};

#[tokio::test(start_paused = true)]
async fn broken_object_is_dropped_at_return() {
    let pool = pool(2);
    let mut a = pool.get().await.unwrap();
    a.broken = true;
    drop(a);
    let st = pool.status();
    assert_eq!((st.size, st.available), (0, 0));
    assert_eq!(pool.manager().live(), 0);
    assert_eq!(pool.manager().detached(), 1);
    assert_eq!(
        pool.get().await.unwrap().id,
        1,
        "a fresh object, not the broken one"
    );
}

#[tokio::test(start_paused = true)]
async fn broken_return_lets_a_waiter_create() {
    let pool = pool(1);
    let mut a = pool.get().await.unwrap();
    let waiter = tokio::spawn({
        let pool = pool.clone();
        async move { pool.get().await.map(|o| o.id) }
    });
    settle().await;
    a.broken = true;
    drop(a);
    assert_eq!(
        waiter.await.unwrap().unwrap(),
        1,
        "the waiter got the freed slot"
    );
}
