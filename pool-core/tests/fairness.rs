//! First come, first served: waiters are served in arrival order and no
//! newcomer overtakes them.

mod common;

use std::sync::{Arc, Mutex};

use common::{pool, settle};

#[tokio::test(start_paused = true)]
async fn tasks_256_over_4_objects_are_served_in_arrival_order() {
    let pool = pool(4);
    let held: Vec<_> = {
        let mut v = Vec::new();
        for _ in 0..4 {
            v.push(pool.get().await.unwrap());
        }
        v
    };
    let order = Arc::new(Mutex::new(Vec::new()));
    let tasks: Vec<_> = (0..256)
        .map(|i| {
            let pool = pool.clone();
            let order = order.clone();
            tokio::spawn(async move {
                let obj = pool.get().await.unwrap();
                order.lock().unwrap().push(i);
                tokio::task::yield_now().await; // hold it across a yield
                drop(obj);
            })
        })
        .collect();
    settle().await;
    assert_eq!(
        pool.status().waiting,
        256,
        "every task queued behind the held objects"
    );
    drop(held);
    for t in tasks {
        t.await.unwrap();
    }
    let order = order.lock().unwrap();
    assert_eq!(
        *order,
        (0..256).collect::<Vec<_>>(),
        "served in arrival order"
    );
    assert_eq!(pool.manager().created(), 4);
}

#[tokio::test(start_paused = true)]
async fn a_newcomer_does_not_overtake_a_waiter() {
    let pool = pool(1);
    let a = pool.get().await.unwrap();
    let waiter = tokio::spawn({
        let pool = pool.clone();
        async move { pool.get().await.map(|o| o.id) }
    });
    settle().await;
    drop(a); // handed to the waiter, not left for the next caller
    assert!(
        pool.try_get().await.is_err(),
        "newcomer must not take the waiter's object"
    );
    assert_eq!(waiter.await.unwrap().unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multithreaded_oversubscription_serves_everyone() {
    let pool = pool(16);
    let tasks: Vec<_> = (0..256)
        .map(|_| {
            let pool = pool.clone();
            tokio::spawn(async move {
                for _ in 0..200 {
                    let obj = pool.get().await.unwrap();
                    tokio::task::yield_now().await;
                    drop(obj);
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let st = pool.status();
    assert_eq!((st.size, st.available, st.waiting), (16, 16, 0));
    assert!(pool.manager().created() <= 16);
}
