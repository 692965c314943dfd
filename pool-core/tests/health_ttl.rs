//! The TTL-cached health check: `recycle` only for objects not used,
//! checked or created within `health_check_interval`.

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::Mock;
use pool_core::{Object, Pool};
use tokio::time::Instant;

fn pool(interval: Duration) -> Pool<Mock> {
    Pool::builder(Mock::new())
        .max_size(4)
        .health_check_interval(interval)
        .build()
        .unwrap()
}

fn recycled(pool: &Pool<Mock>) -> usize {
    pool.manager().counters.recycled.load(Ordering::SeqCst)
}

async fn busy_checkouts(pool: &Pool<Mock>, n: usize) {
    for _ in 0..n {
        let obj = pool.get().await.unwrap();
        tokio::time::sleep(Duration::from_millis(1)).await;
        drop(obj);
    }
}

#[tokio::test(start_paused = true)]
async fn a_busy_object_skips_the_round_trip() {
    let pool = pool(Duration::from_secs(1));
    busy_checkouts(&pool, 1000).await;
    assert!(
        recycled(&pool) <= 3,
        "recycle ran {} times",
        recycled(&pool)
    );
    assert_eq!(pool.manager().created(), 1);
}

#[tokio::test(start_paused = true)]
async fn zero_interval_recycles_every_checkout() {
    let pool = pool(Duration::ZERO);
    drop(pool.get().await.unwrap()); // created, not recycled
    busy_checkouts(&pool, 1000).await;
    assert_eq!(recycled(&pool), 1000);
}

#[tokio::test(start_paused = true)]
async fn an_object_idle_past_the_interval_is_checked() {
    let pool = pool(Duration::from_secs(1));
    drop(pool.get().await.unwrap());
    tokio::time::advance(Duration::from_millis(999)).await;
    drop(pool.get().await.unwrap());
    assert_eq!(recycled(&pool), 0, "used 999 ms ago: still fresh");
    tokio::time::advance(Duration::from_secs(1)).await;
    let obj = pool.get().await.unwrap();
    assert_eq!(recycled(&pool), 1, "idle for 1 s: checked");
    assert_eq!(Object::metrics(&obj).recycle_count, 1);
}

#[tokio::test(start_paused = true)]
async fn a_stale_object_that_fails_its_check_is_replaced() {
    let pool = pool(Duration::from_secs(1));
    drop(pool.get().await.unwrap());
    tokio::time::advance(Duration::from_secs(5)).await;
    pool.manager().fail_recycle.store(true, Ordering::SeqCst);
    let obj = pool.get().await.unwrap();
    assert_eq!(
        obj.id, 1,
        "the stale object failed its check and was replaced"
    );
    assert_eq!(pool.manager().detached(), 1);
}

#[tokio::test(start_paused = true)]
async fn check_in_still_catches_broken_objects() {
    let pool = pool(Duration::from_secs(60));
    let mut obj = pool.get().await.unwrap();
    obj.broken = true;
    drop(obj);
    let next = pool.get().await.unwrap();
    assert_eq!(
        next.id, 1,
        "a broken object is never handed out again, TTL or not"
    );
}

#[tokio::test(start_paused = true)]
async fn metrics_report_created_used_and_checked_on_one_clock() {
    let pool = pool(Duration::from_secs(1));
    let t0 = Instant::now();
    drop(pool.get().await.unwrap());
    tokio::time::advance(Duration::from_millis(300)).await;
    let obj = pool.get().await.unwrap();
    let m = *Object::metrics(&obj);
    assert_eq!(m.created, t0);
    assert_eq!(m.used, Some(t0 + Duration::from_millis(300)));
    assert_eq!(m.recycled, None, "fresh: not checked");
    drop(obj);
    tokio::time::advance(Duration::from_secs(2)).await;
    let obj = pool.get().await.unwrap();
    let m = *Object::metrics(&obj);
    let t2 = t0 + Duration::from_millis(2300);
    assert_eq!(
        (m.recycled, m.used, m.recycle_count),
        (Some(t2), Some(t2), 1)
    );
    assert_eq!(m.age(), Duration::from_millis(2300));
    assert_eq!(m.last_used(), Duration::ZERO);
}

/// A manager that flags objects needing a reset (as a Redis connection
/// that sent `WATCH`): they are recycled even inside the interval.
struct Flagging(Mock);

impl pool_core::Manager for Flagging {
    type Type = common::Conn;
    type Error = common::MockError;

    async fn create(&self) -> Result<common::Conn, common::MockError> {
        self.0.create().await
    }

    async fn recycle(
        &self,
        conn: &mut common::Conn,
        m: &pool_core::Metrics,
    ) -> pool_core::RecycleResult<common::MockError> {
        self.0.recycle(conn, m).await
    }

    fn needs_recycle(&self, conn: &mut common::Conn) -> bool {
        conn.id % 2 == 1
    }
}

#[tokio::test(start_paused = true)]
async fn needs_recycle_overrides_the_interval() {
    let pool: Pool<Flagging> = Pool::builder(Flagging(Mock::new()))
        .max_size(2)
        .health_check_interval(Duration::from_secs(60))
        .build()
        .unwrap();
    let (a, b) = (pool.get().await.unwrap(), pool.get().await.unwrap());
    drop((a, b)); // ids 0 and 1
    let (a, b) = (pool.get().await.unwrap(), pool.get().await.unwrap());
    assert_eq!((a.id, b.id), (0, 1));
    let recycled = pool.manager().0.counters.recycled.load(Ordering::SeqCst);
    assert_eq!(
        recycled, 1,
        "only the flagged object was recycled inside the interval"
    );
}
