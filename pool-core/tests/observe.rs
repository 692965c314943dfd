//! Metrics, health and the sizing advisor, on paused time with mock
//! managers.

mod common;

use std::time::Duration;

use common::{Mock, MockPool, quiet_pool};
use pool_core::{HealthStatus, Pool, PoolError, Timeouts};
use tokio::time::Instant;

/// xorshift64*, for reproducible arrivals.
struct Rng(u64);

impl Rng {
    fn unit(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        ((self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    /// Exponentially distributed with this mean.
    fn exp(&mut self, mean: Duration) -> Duration {
        mean.mul_f64(-self.unit().ln())
    }
}

#[tokio::test(start_paused = true)]
async fn every_get_ends_in_exactly_one_outcome() {
    let mock = Mock {
        create_delay: Duration::from_millis(5),
        ..Mock::new()
    };
    let pool = quiet_pool(mock, 3);
    let mut rng = Rng(7);
    let mut calls = 0u64;
    let mut handles = Vec::new();
    for i in 0..400u64 {
        calls += 1;
        let task_pool = pool.clone();
        let hold = rng.exp(Duration::from_millis(20));
        let cancel_after = (i % 7 == 0).then(|| rng.exp(Duration::from_millis(10)));
        let timeouts = Timeouts {
            wait: (i % 5 == 0).then_some(Duration::from_millis(15)),
            ..Timeouts::default()
        };
        if i % 50 == 25 {
            pool.manager()
                .fail_create
                .store(true, std::sync::atomic::Ordering::SeqCst);
        }
        if i % 50 == 30 {
            pool.manager()
                .fail_create
                .store(false, std::sync::atomic::Ordering::SeqCst);
        }
        handles.push(tokio::spawn(async move {
            let pool = task_pool;
            let get = async {
                if let Ok(mut obj) = pool.timeout_get(&timeouts).await {
                    tokio::time::sleep(hold).await;
                    // Some come back broken, so creates keep happening
                    // (and fail while the backend refuses).
                    obj.broken = i % 4 == 0;
                    drop(obj);
                }
            };
            match cancel_after {
                Some(after) => {
                    let _ = tokio::time::timeout(after, get).await;
                }
                None => get.await,
            }
        }));
        tokio::time::sleep(rng.exp(Duration::from_millis(4))).await;
        if i == 200 {
            // Mid-run: the identity holds with gets in flight too.
            let m = pool.metrics();
            let g = m.gets;
            assert_eq!(
                g.started,
                g.served_at_once
                    + g.served_after_wait
                    + g.timed_out
                    + g.backend_error
                    + g.refused_unavailable
                    + g.refused_closed
                    + g.cancelled
                    + g.pending
            );
            assert!(g.started <= calls, "{g:?}");
        }
    }
    for h in handles {
        h.await.unwrap();
    }
    let g = pool.metrics().gets;
    assert_eq!(g.pending, 0, "{g:?}");
    assert_eq!(g.started, calls, "every call counted once: {g:?}");
    assert!(
        g.served_after_wait > 0 && g.timed_out > 0 && g.cancelled > 0,
        "{g:?}"
    );
    assert!(g.backend_error + g.refused_unavailable > 0, "{g:?}");
    // Served gets are the wait histogram's count (waits are sampled with
    // weights, so allow the sampling's slack).
    let m = pool.metrics();
    let served = g.served_at_once + g.served_after_wait;
    let counted = m.wait.count as f64;
    assert!(
        (counted - served as f64).abs() <= 0.2 * served as f64 + 8.0,
        "{m:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn counters_follow_creates_recycles_and_closes() {
    let pool = quiet_pool(Mock::new(), 2);
    let a = pool.get().await.unwrap();
    let mut b = pool.get().await.unwrap();
    b.broken = true;
    drop(b); // closed: broken
    let _ = pool_core::Object::take(a); // closed: taken
    drop(pool.get().await.unwrap());
    drop(pool.get().await.unwrap()); // an idle object: recycled (interval 0)
    pool.manager()
        .fail_create
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let held = pool.get().await.unwrap();
    assert!(matches!(pool.try_get().await, Err(PoolError::Backend(_))));
    drop(held);
    let m = pool.metrics();
    assert_eq!((m.creates_ok, m.creates_failed), (3, 1), "{m:?}");
    assert_eq!(m.recycles_ok, 2, "{m:?}");
    assert_eq!((m.closed.broken, m.closed.taken), (1, 1), "{m:?}");
    assert_eq!(m.gauges.size, 1);
    assert_eq!(m.gauges.idle, 1);
    assert_eq!(m.create_time.count, 4);
    pool.close();
    assert_eq!(pool.metrics().closed.pool_closed, 1);
}

#[tokio::test(start_paused = true)]
async fn recording_can_be_turned_off() {
    let pool: MockPool = Pool::builder(Mock::new())
        .max_size(2)
        .record_metrics(false)
        .build()
        .unwrap();
    drop(pool.get().await.unwrap());
    let m = pool.metrics();
    assert!(!m.enabled);
    assert_eq!(m.gets.started, 0);
    assert_eq!(m.gauges.size, 1, "gauges still work");
}

#[tokio::test(start_paused = true)]
async fn health_degrades_under_saturation_and_recovers() {
    let pool = quiet_pool(Mock::new(), 2);
    assert_eq!(pool.health().status, HealthStatus::Healthy);
    // Saturate: both objects held for 3 s while others queue for them.
    let holders: Vec<_> = (0..6)
        .map(|_| {
            let pool = pool.clone();
            tokio::spawn(async move {
                let obj = pool.get().await.unwrap();
                tokio::time::sleep(Duration::from_secs(3)).await;
                drop(obj);
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(10)).await;
    let during = pool.health();
    assert_eq!(during.status, HealthStatus::Degraded, "{during:?}");
    assert!(!during.recommendations.is_empty());
    for h in holders {
        h.await.unwrap();
    }
    // The waits of that burst were long (3 s and 6 s): the window that
    // ends now still says so...
    let after = pool.health();
    assert_eq!(after.status, HealthStatus::Degraded, "{after:?}");
    // ...and a quiet window after it is healthy again.
    for _ in 0..10 {
        drop(pool.get().await.unwrap());
    }
    let quiet = pool.health();
    assert_eq!(quiet.status, HealthStatus::Healthy, "{quiet:?}");
}

#[tokio::test(start_paused = true)]
async fn failing_creates_make_the_pool_unhealthy() {
    let pool = quiet_pool(Mock::new(), 2);
    pool.manager()
        .fail_create
        .store(true, std::sync::atomic::Ordering::SeqCst);
    for _ in 0..12 {
        let _ = pool.get().await;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let h = pool.health();
    assert_eq!(h.status, HealthStatus::Unhealthy, "{h:?}");
}

/// Poisson arrivals at `rate`/s, exponential holds of mean `hold`, for
/// `span` of paused time; returns the p99 wait and the advice taken at the
/// end.
async fn synthetic_load(
    max_size: usize,
    rate: f64,
    hold: Duration,
    span: Duration,
) -> (Duration, Option<pool_core::SizeAdvice>) {
    let pool = quiet_pool(Mock::new(), max_size);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let end = Instant::now() + span;
    let mut tasks = Vec::new();
    while Instant::now() < end {
        let pool = pool.clone();
        let tx = tx.clone();
        let held = rng.exp(hold);
        tasks.push(tokio::spawn(async move {
            let asked = Instant::now();
            let obj = pool.get().await.unwrap();
            tx.send(asked.elapsed()).unwrap();
            tokio::time::sleep(held).await;
            drop(obj);
        }));
        tokio::time::sleep(rng.exp(Duration::from_secs_f64(1.0 / rate))).await;
    }
    for t in tasks {
        t.await.unwrap();
    }
    drop(tx);
    let mut waits = Vec::new();
    while let Some(w) = rx.recv().await {
        waits.push(w);
    }
    waits.sort();
    let p99 = waits[(waits.len() * 99 / 100).min(waits.len() - 1)];
    (p99, pool.recommend_size())
}

#[tokio::test(start_paused = true)]
async fn the_advisor_is_within_20_percent_of_a_measured_sweep() {
    let (rate, hold, span) = (100.0, Duration::from_millis(50), Duration::from_secs(120));
    let bound = Duration::from_millis(10);
    // The truth: the smallest size whose p99 wait stays under the bound.
    let mut needed = None;
    for size in 1..=20 {
        let (p99, _) = synthetic_load(size, rate, hold, span).await;
        if p99 <= bound {
            needed = Some(size);
            break;
        }
    }
    let needed = needed.expect("some size up to 20 meets the bound") as f64;
    // The advice, from a run on a generous pool.
    let (_, advice) = synthetic_load(40, rate, hold, span).await;
    let advice = advice.expect("enough was measured");
    let ratio = advice.max_size as f64 / needed;
    eprintln!(
        "advisor: {} (from {:.1} gets/s x {:?}); sweep: {needed} is the smallest size with p99 wait <= {bound:?}",
        advice.max_size, advice.arrival_rate, advice.mean_use
    );
    assert!(
        (0.8..=1.2).contains(&ratio),
        "advised {} ({}), the sweep needed {needed}",
        advice.max_size,
        advice.reason
    );
}

#[tokio::test(start_paused = true)]
async fn rates_cover_the_last_minute() {
    let pool = quiet_pool(Mock::new(), 4);
    // 10 gets a second for 30 s, then 40 a second for 60 s; every tenth
    // comes back broken (churn: a close and a create).
    for second in 0..90u64 {
        let per_sec = if second < 30 { 10 } else { 40 };
        for i in 0..per_sec {
            let mut obj = pool.get().await.unwrap();
            obj.broken = i % 10 == 0;
            drop(obj);
            tokio::time::sleep(Duration::from_millis(1000 / per_sec)).await;
        }
        if second % 10 == 9 {
            let _ = pool.metrics();
        }
    }
    let r = pool.metrics().rates.expect("rates after a second");
    assert!(
        r.window <= Duration::from_secs(70) && r.window >= Duration::from_secs(60),
        "{r:?}"
    );
    assert!((r.arrivals_per_sec - 40.0).abs() < 2.0, "{r:?}");
    assert!((r.completions_per_sec - 40.0).abs() < 2.0, "{r:?}");
    // 4 broken returns a second = 4 closes + 4 creates: 480 a minute.
    assert!((r.churn_per_min - 480.0).abs() < 30.0, "{r:?}");
}

/// A recycle that yields may let paused time pass, so its wait is read
/// from tokio's clock; one that never yields is timed on the TSC, so it
/// takes no paused time at all.
#[tokio::test(start_paused = true)]
async fn a_recycle_that_sleeps_counts_in_the_wait_and_one_that_does_not_stays_short() {
    let recycle = Duration::from_millis(10);
    let slow = quiet_pool(
        Mock {
            recycle_delay: recycle,
            ..Mock::new()
        },
        1,
    );
    let quick = quiet_pool(Mock::new(), 1);
    // One checkout in 32 of an object has its recycle's wait recorded.
    for _ in 0..64 {
        drop(slow.get().await.unwrap());
        drop(quick.get().await.unwrap());
    }
    let (slow_wait, quick_wait) = (slow.metrics().wait, quick.metrics().wait);
    assert!(
        slow_wait.max_ns >= recycle.as_nanos() as u64,
        "{slow_wait:?}"
    );
    assert!(quick_wait.count >= 64, "{quick_wait:?}");
    assert!(quick_wait.max_ns < 1_000_000, "{quick_wait:?}");
}

/// A queued get's wait ends after the recycle of the object it was
/// handed: queued 5 ms, then a 10 ms recycle, is a 15 ms wait.
#[tokio::test(start_paused = true)]
async fn a_queued_get_counts_the_recycle_after_its_hand_off() {
    let pool = quiet_pool(
        Mock {
            recycle_delay: Duration::from_millis(10),
            ..Mock::new()
        },
        1,
    );
    // One waiting get in four is timed (per thread): four rounds.
    for _ in 0..4 {
        let held = pool.get().await.unwrap();
        let waiter = {
            let pool = pool.clone();
            tokio::spawn(async move { drop(pool.get().await.unwrap()) })
        };
        tokio::time::sleep(Duration::from_millis(5)).await;
        drop(held);
        waiter.await.unwrap();
    }
    let wait = pool.metrics().wait;
    assert!(wait.max_ns >= 15_000_000, "{wait:?}");
}

#[tokio::test(start_paused = true)]
async fn waiting_gets_record_their_slow_path() {
    let pool = quiet_pool(Mock::new(), 1);
    let held = pool.get().await.unwrap();
    let waiters: Vec<_> = (0..40)
        .map(|_| {
            let pool = pool.clone();
            tokio::spawn(async move { drop(pool.get().await.unwrap()) })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(1)).await;
    drop(held);
    for w in waiters {
        w.await.unwrap();
    }
    let m = pool.metrics();
    // Each waiter polls at least twice (registers, then takes its hand-off);
    // one step in four is timed, with weight four.
    assert!(m.slow_path.count >= 40, "{:?}", m.slow_path);
    assert_eq!(m.gets.served_after_wait, 40);
}

#[tokio::test(start_paused = true)]
async fn shed_objects_are_told_apart_resized_away_or_overflow() {
    let pool: MockPool = Pool::builder(Mock::new())
        .max_size(2)
        .max_overflow(1)
        .idle_timeout(None)
        .max_lifetime(None)
        .build()
        .unwrap();
    let a = pool.get().await.unwrap();
    let b = pool.get().await.unwrap();
    let burst = pool.get().await.unwrap(); // the overflow object
    drop(burst);
    let m = pool.metrics();
    assert_eq!(
        (m.closed.overflow, m.closed.resized_away),
        (1, 0),
        "{:?}",
        m.closed
    );
    pool.resize(1);
    drop(a); // above the new size: closed
    drop(b); // fits: kept
    let m = pool.metrics();
    assert_eq!(
        (m.closed.overflow, m.closed.resized_away),
        (1, 1),
        "{:?}",
        m.closed
    );
    assert_eq!(m.gauges.idle, 1);
}
