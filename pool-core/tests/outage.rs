//! Outages: the circuit breaker turns a dead backend into fast, explained
//! failures, keeps create attempts independent of the number of callers,
//! and lets the pool recover by itself. Paused tokio time throughout.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use pool_core::{
    BreakerConfig, BreakerPhase, BreakerState, Manager, Metrics, Pool, PoolError, RecycleResult,
};
use tokio::time::Instant;

/// A backend that refuses connections until `up_at`; a create takes 5 ms.
struct Flaky {
    up_at: Instant,
    attempts: AtomicUsize,
}

#[derive(Debug)]
struct Refused;

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Connection refused (os error 111)")
    }
}

const CREATE_TIME: Duration = Duration::from_millis(5);

impl Manager for Flaky {
    type Type = ();
    type Error = Refused;

    async fn create(&self) -> Result<(), Refused> {
        self.attempts.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(CREATE_TIME).await;
        if Instant::now() < self.up_at {
            Err(Refused)
        } else {
            Ok(())
        }
    }

    async fn recycle(&self, _: &mut (), _: &Metrics) -> RecycleResult<Refused> {
        Ok(())
    }
}

struct Outcome {
    attempts_during_outage: usize,
    slowest_failure: Duration,
    recovered_after: Duration,
    saw_explained_error: bool,
}

/// `callers` tasks hammer a pool of 8 whose backend is down for `outage`.
async fn run(callers: usize, outage: Duration) -> Outcome {
    let start = Instant::now();
    let up_at = start + outage;
    let pool: Pool<Flaky> = Pool::builder(Flaky {
        up_at,
        attempts: AtomicUsize::new(0),
    })
    .max_size(8)
    .breaker_seed(7)
    .build()
    .unwrap();
    let slowest_failure = Arc::new(std::sync::Mutex::new(Duration::ZERO));
    let first_success = Arc::new(std::sync::Mutex::new(None::<Instant>));
    let explained = Arc::new(AtomicUsize::new(0));
    let stop = up_at + Duration::from_secs(40);
    let tasks: Vec<_> = (0..callers)
        .map(|_| {
            let pool = pool.clone();
            let slowest_failure = slowest_failure.clone();
            let first_success = first_success.clone();
            let explained = explained.clone();
            tokio::spawn(async move {
                while Instant::now() < stop {
                    let asked = Instant::now();
                    match pool.get().await {
                        Ok(obj) => {
                            first_success.lock().unwrap().get_or_insert(Instant::now());
                            tokio::time::sleep(Duration::from_millis(10)).await;
                            drop(obj);
                        }
                        Err(e) => {
                            {
                                let took = asked.elapsed();
                                let mut s = slowest_failure.lock().unwrap();
                                *s = (*s).max(took);
                            }
                            let msg = e.to_string();
                            if matches!(
                                e,
                                PoolError::Unavailable {
                                    last_error: Some(_),
                                    ..
                                }
                            ) && msg.contains("creates failed")
                                && msg.contains("Connection refused")
                            {
                                explained.fetch_add(1, Ordering::SeqCst);
                            }
                            drop(e);
                            tokio::time::sleep(Duration::from_millis(200)).await;
                        }
                    }
                }
            })
        })
        .collect();
    tokio::time::sleep_until(up_at).await;
    let attempts_during_outage = pool.manager().attempts.load(Ordering::SeqCst);
    for t in tasks {
        t.await.unwrap();
    }
    let recovered_at = first_success.lock().unwrap().expect("the pool recovered");
    let slowest = *slowest_failure.lock().unwrap();
    assert_eq!(pool.breaker().state, BreakerState::Closed);
    Outcome {
        attempts_during_outage,
        slowest_failure: slowest,
        recovered_after: recovered_at - up_at,
        saw_explained_error: explained.load(Ordering::SeqCst) > 0,
    }
}

/// The breaker's schedule never probes faster than one per 100 ms (delays
/// in `[ceiling/2, ceiling]`, the ceiling at least 200 ms): at most 10 a
/// second. Plus the first burst: the threshold's 5 failures and at most
/// `max_concurrent_creates` (2) creates already in flight when it opened.
fn attempt_bound(outage: Duration) -> usize {
    5 + 2 + 10 * outage.as_secs() as usize
}

async fn check(callers: usize, outage: Duration) -> usize {
    let o = run(callers, outage).await;
    assert!(
        o.attempts_during_outage <= attempt_bound(outage),
        "{callers} callers, {outage:?}: {} create attempts",
        o.attempts_during_outage
    );
    // A caller may queue behind the (at most 2 concurrent) creates whose
    // failures open the breaker: 5 failures of 5 ms, then refusals at once.
    assert!(
        o.slowest_failure <= CREATE_TIME * 5,
        "a failing get took {:?}",
        o.slowest_failure
    );
    // Probed again within the longest ceiling (800 ms) of the backend's
    // return, plus a caller's 200 ms pause before it asks again.
    assert!(
        o.recovered_after <= Duration::from_secs(1),
        "recovered only after {:?}",
        o.recovered_after
    );
    assert!(
        o.saw_explained_error,
        "Unavailable names the failures and the last error"
    );
    eprintln!(
        "{callers} callers, {outage:?} outage: {} create attempts, slowest failing get {:?}, served again {:?} after recovery",
        o.attempts_during_outage, o.slowest_failure, o.recovered_after
    );
    o.attempts_during_outage
}

#[tokio::test(start_paused = true)]
async fn ten_second_outage() {
    let few = check(10, Duration::from_secs(10)).await;
    let many = check(1000, Duration::from_secs(10)).await;
    // 100 times the callers, the same attempts (up to the jitter's spread).
    assert!(
        many.abs_diff(few) <= 2 + few / 10,
        "attempts depend on callers: {few} vs {many}"
    );
}

#[tokio::test(start_paused = true)]
async fn hundred_second_outage() {
    let few = check(10, Duration::from_secs(100)).await;
    let many = check(1000, Duration::from_secs(100)).await;
    // 100 times the callers, the same attempts (up to the jitter's spread).
    assert!(
        many.abs_diff(few) <= 2 + few / 10,
        "attempts depend on callers: {few} vs {many}"
    );
}

#[tokio::test(start_paused = true)]
async fn unavailable_message_reads_well() {
    let pool: Pool<Flaky> = Pool::builder(Flaky {
        up_at: Instant::now() + Duration::from_secs(3600),
        attempts: AtomicUsize::new(0),
    })
    .max_size(1)
    .breaker(BreakerConfig {
        threshold: 2,
        ..BreakerConfig::default()
    })
    .breaker_seed(1)
    .build()
    .unwrap();
    assert!(matches!(pool.get().await, Err(PoolError::Backend(_))));
    let err = pool.get().await.unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.starts_with("no object available: the last 2 creates failed; last error: Connection refused (os error 111); next attempt in "),
        "{msg}"
    );
    assert_eq!(pool.breaker().opens, 1);
    // Refused at once while open, with the same explanation.
    let asked = Instant::now();
    let again = pool.get().await.unwrap_err();
    assert_eq!(asked.elapsed(), Duration::ZERO);
    assert!(
        matches!(again, PoolError::Unavailable { failures: 2, .. }),
        "{again:?}"
    );
}

/// A backend switched up and down by the test.
struct Switch(std::sync::atomic::AtomicBool);

impl Manager for Switch {
    type Type = ();
    type Error = Refused;

    async fn create(&self) -> Result<(), Refused> {
        if self.0.load(Ordering::SeqCst) {
            Ok(())
        } else {
            Err(Refused)
        }
    }

    async fn recycle(&self, _: &mut (), _: &Metrics) -> RecycleResult<Refused> {
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn idle_objects_are_still_handed_out_while_open() {
    let pool: Pool<Switch> = Pool::builder(Switch(true.into()))
        .max_size(2)
        .breaker(BreakerConfig {
            threshold: 1,
            ..BreakerConfig::default()
        })
        .build()
        .unwrap();
    drop(pool.get().await.unwrap()); // one idle object
    pool.manager().0.store(false, Ordering::SeqCst); // the backend goes down
    let held = pool.get().await.unwrap(); // the idle one: no create needed
    let err = pool.get().await.unwrap_err(); // needs a create: fails, opens
    assert!(
        matches!(err, PoolError::Unavailable { failures: 1, .. }),
        "{err:?}"
    );
    assert!(matches!(pool.breaker().state, BreakerState::Open { .. }));
    // The gauges say the same, in words for a dashboard.
    let phase = pool.metrics().gauges.breaker;
    assert_eq!(phase, BreakerPhase::Open);
    assert_eq!(phase.to_string(), "open");
    drop(held);
    assert!(
        pool.get().await.is_ok(),
        "an idle object is handed out while the breaker is open"
    );
}

#[tokio::test(start_paused = true)]
async fn min_idle_is_restored_after_an_outage() {
    let start = Instant::now();
    let up_at = start + Duration::from_secs(30);
    let pool: Pool<Flaky> = Pool::builder(Flaky {
        up_at,
        attempts: AtomicUsize::new(0),
    })
    .max_size(8)
    .min_idle(3)
    .breaker_seed(3)
    .build()
    .unwrap();
    tokio::time::sleep_until(up_at).await;
    let attempts = pool.manager().attempts.load(Ordering::SeqCst);
    assert!(
        attempts <= attempt_bound(Duration::from_secs(30)),
        "the warmer alone made {attempts} attempts"
    );
    assert_eq!(pool.status().available, 0);
    // Back up: within one backoff cap (800 ms) plus a tick (500 ms), min_idle
    // is there again.
    tokio::time::sleep(Duration::from_millis(1400)).await;
    assert_eq!(pool.status().available, 3, "min_idle restored by itself");
    assert_eq!(pool.breaker().state, BreakerState::Closed);
}
