//! Reads survive a server restart unseen, writes are never sent twice, and
//! an outage is answered fast, without a connection storm, and left fast.
//! Real servers; real time.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::{PartitionProxy, RedisServer};
use pool_redis::redis::{AsyncCommands, cmd};
use pool_redis::{Config, Pool, PoolConfig, RedisPoolExt, RetryPolicy};

fn pool(url: String, max_size: usize) -> Pool {
    Config {
        pool: Some(PoolConfig::new(max_size)),
        ..Config::from_url(url)
    }
    .create_pool(None)
    .unwrap()
}

/// What `tasks` tasks running `op` in a loop saw.
#[derive(Default)]
struct Tally {
    ok: AtomicU64,
    errors: AtomicU64,
    first_error: std::sync::Mutex<Option<String>>,
    /// Ok answers after `mark` was set, and when the first came.
    first_ok_after_mark: std::sync::Mutex<Option<Instant>>,
    mark: std::sync::Mutex<Option<Instant>>,
    /// The longest a failed call took.
    slowest_error: std::sync::Mutex<Duration>,
}

/// One of the ways a reader sends `GET k`.
#[derive(Clone)]
enum Reader {
    /// `pool.get()`, then `conn.get(..)` (`&mut conn`).
    Wrapper(Pool),
    /// `pool.get()`, then `query_async(&mut *conn)`.
    Deref(Pool),
    /// `pool.shared()`.
    Shared(pool_redis::SharedConnection),
}

impl Reader {
    async fn read(&self) -> Result<(), String> {
        let result = match self {
            Reader::Wrapper(p) => {
                let mut conn = p.get().await.map_err(|e| e.to_string())?;
                conn.get::<_, Option<String>>("k").await
            }
            Reader::Deref(p) => {
                let mut conn = p.get().await.map_err(|e| e.to_string())?;
                cmd("GET").arg("k").query_async(&mut *conn).await
            }
            Reader::Shared(s) => s.clone().get::<_, Option<String>>("k").await,
        };
        result.map(drop).map_err(|e| e.to_string())
    }
}

/// `tasks` tasks reading through `reader` in a loop until `stop`.
fn load(
    tasks: usize,
    stop: &Arc<AtomicBool>,
    tally: &Arc<Tally>,
    reader: &Reader,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..tasks)
        .map(|_| {
            let (stop, tally, reader) = (stop.clone(), tally.clone(), reader.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let asked = Instant::now();
                    match reader.read().await {
                        Ok(()) => {
                            tally.ok.fetch_add(1, Ordering::Relaxed);
                            if tally.mark.lock().unwrap().is_some_and(|m| asked >= m) {
                                tally
                                    .first_ok_after_mark
                                    .lock()
                                    .unwrap()
                                    .get_or_insert_with(Instant::now);
                            }
                        }
                        Err(e) => {
                            tally.errors.fetch_add(1, Ordering::Relaxed);
                            tally.first_error.lock().unwrap().get_or_insert(e);
                            {
                                let mut slowest = tally.slowest_error.lock().unwrap();
                                *slowest = (*slowest).max(asked.elapsed());
                            }
                            tokio::time::sleep(Duration::from_millis(10)).await;
                        }
                    }
                }
            })
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_is_invisible_to_readers() {
    let mut server = RedisServer::start();
    let budget = RetryPolicy {
        attempts: 10,
        budget: Duration::from_secs(2),
    };
    let wrapper = pool(server.url(), 8);
    let deref = pool(server.url(), 8);
    let shared_pool = pool(server.url(), 8);
    for p in [&wrapper, &deref, &shared_pool] {
        p.set_read_retry(budget);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let tallies: Vec<Arc<Tally>> = (0..3).map(|_| Arc::new(Tally::default())).collect();
    let readers = [
        Reader::Wrapper(wrapper.clone()),
        Reader::Deref(deref.clone()),
        Reader::Shared(shared_pool.shared()),
    ];
    let mut tasks = Vec::new();
    for (reader, tally) in readers.iter().zip(&tallies) {
        tasks.extend(load(32, &stop, tally, reader));
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    let killed = Instant::now();
    tokio::task::block_in_place(|| server.restart());
    let outage = killed.elapsed();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.unwrap();
    }
    let mut problems = Vec::new();
    for ((name, tally), p) in ["&mut conn", "&mut *conn", "shared"]
        .iter()
        .zip(&tallies)
        .zip([&wrapper, &deref, &shared_pool])
    {
        let stats = p.retry_stats();
        eprintln!(
            "{name}: {} ok, {} errors, outage {outage:?}, retries {stats:?}",
            tally.ok.load(Ordering::Relaxed),
            tally.errors.load(Ordering::Relaxed),
        );
        if tally.errors.load(Ordering::Relaxed) > 0 {
            problems.push(format!(
                "{name}: {} errors, first: {:?}",
                tally.errors.load(Ordering::Relaxed),
                tally.first_error.lock().unwrap()
            ));
        }
        if stats.recovered == 0 {
            problems.push(format!(
                "{name}: no read was retried: the restart was not seen"
            ));
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_whose_reply_is_lost_is_never_sent_again() {
    let server = RedisServer::start();
    let proxy = PartitionProxy::start(([127, 0, 0, 1], server.port).into()).await;
    let exclusive = pool(proxy.url(), 4);
    let shared_pool = pool(proxy.url(), 4);
    let shared = shared_pool.shared();
    let calls = 300;
    let mut ok = 0u64;
    for i in 0..calls {
        // Every tenth call, the reply of the next request dies with its
        // connection (the server did execute it).
        if i % 10 == 5 {
            proxy.swallow_next_reply();
        }
        let done = match i % 3 {
            0 => match exclusive.get().await {
                Ok(mut conn) => conn.incr::<_, _, i64>("n", 1).await.is_ok(),
                Err(_) => false,
            },
            1 => match exclusive.get().await {
                Ok(mut conn) => cmd("INCR")
                    .arg("n")
                    .query_async::<i64>(&mut *conn)
                    .await
                    .is_ok(),
                Err(_) => false,
            },
            _ => shared.clone().incr::<_, _, i64>("n", 1).await.is_ok(),
        };
        ok += u64::from(done);
    }
    let (swallowed, lost_increments) = proxy.swallowed();
    let n: u64 = server.admin().await.get("n").await.unwrap();
    eprintln!(
        "{calls} INCR calls: {ok} succeeded, {swallowed} replies swallowed ({lost_increments} INCR replies), server counted {n}"
    );
    assert!(swallowed >= 20, "the proxy swallowed {swallowed} replies");
    assert!(
        lost_increments > 0,
        "no INCR reply was lost: nothing tested"
    );
    assert!(n <= calls, "{n} increments from {calls} calls");
    assert_eq!(
        n,
        ok + lost_increments,
        "every increment is a success or a lost reply: none was sent twice"
    );
    assert!(
        exclusive.retry_stats().retries == 0 && shared_pool.retry_stats().retries == 0,
        "writes are never retried"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_is_answered_fast_without_a_storm_and_left_fast() {
    let mut server = RedisServer::start();
    let exclusive = pool(server.url(), 8);
    let shared_pool = pool(server.url(), 8);
    let stop = Arc::new(AtomicBool::new(false));
    let tallies: Vec<Arc<Tally>> = (0..2).map(|_| Arc::new(Tally::default())).collect();
    let readers = [
        Reader::Wrapper(exclusive.clone()),
        Reader::Shared(shared_pool.shared()),
    ];
    let mut tasks = Vec::new();
    for (reader, tally) in readers.iter().zip(&tallies) {
        tasks.extend(load(32, &stop, tally, reader));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let creates_before = exclusive.metrics().creates_ok + exclusive.metrics().creates_failed;
    let reconnects_before = shared_pool.shared_stats().connect_attempts;
    server.stop();
    // 3 s here; `POOL_REDIS_OUTAGE_SECS=60` measures a long outage by hand.
    let outage = Duration::from_secs(
        std::env::var("POOL_REDIS_OUTAGE_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(3),
    );
    tokio::time::sleep(outage).await;
    let creates =
        exclusive.metrics().creates_ok + exclusive.metrics().creates_failed - creates_before;
    let reconnects = shared_pool.shared_stats().connect_attempts - reconnects_before;
    tokio::task::block_in_place(|| server.start_again());
    let back = Instant::now();
    for t in &tallies {
        *t.mark.lock().unwrap() = Some(back);
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.unwrap();
    }
    let mut problems = Vec::new();
    for (name, tally) in ["exclusive", "shared"].iter().zip(&tallies) {
        let slowest = *tally.slowest_error.lock().unwrap();
        let recovered = tally.first_ok_after_mark.lock().unwrap().map(|t| t - back);
        let first_error = tally
            .first_error
            .lock()
            .unwrap()
            .clone()
            .unwrap_or_default();
        eprintln!(
            "{name}: {} errors during the {outage:?} outage, slowest {slowest:?}, first: {first_error:?}; served again {recovered:?} after the server was back",
            tally.errors.load(Ordering::Relaxed)
        );
        if slowest > Duration::from_secs(1) {
            problems.push(format!("{name}: a failing call took {slowest:?}"));
        }
        let named = [
            "refused",
            "closed",
            "broken pipe",
            "reset",
            "EOF",
            "terminated",
        ]
        .iter()
        .any(|cause| first_error.to_lowercase().contains(&cause.to_lowercase()));
        if !named {
            problems.push(format!(
                "{name}: the error does not name its cause: {first_error:?}"
            ));
        }
        match recovered {
            Some(after) if after <= Duration::from_secs(1) => {}
            other => problems.push(format!("{name}: served again after {other:?}")),
        }
    }
    eprintln!("creates during the outage: exclusive pool {creates}, shared connects {reconnects}");
    // At most 10 a second, plus the breaker's threshold burst (and, in
    // shared mode, one connect per lane as the lanes die).
    let per_second = 10 * outage.as_secs();
    if creates > 5 + 2 + per_second {
        problems.push(format!(
            "exclusive pool: {creates} creates in a {outage:?} outage"
        ));
    }
    if reconnects > 8 + per_second {
        problems.push(format!(
            "shared: {reconnects} connects in a {outage:?} outage"
        ));
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_with_session_state_is_not_silently_replaced() {
    let mut server = RedisServer::start();
    let pool = pool(server.url(), 2);
    // Without state: the read after the restart is retried on a fresh
    // connection, unseen.
    let mut plain = pool.get().await.unwrap();
    let _: Option<String> = plain.get("k").await.unwrap();
    // With WATCH: the caller's optimistic lock would silently vanish on a
    // new connection, so the error goes to the caller.
    let mut watching = pool.get().await.unwrap();
    let _: () = cmd("WATCH")
        .arg("k")
        .query_async(&mut watching)
        .await
        .unwrap();
    tokio::task::block_in_place(|| server.restart());
    let read = plain.get::<_, Option<String>>("k").await;
    assert!(read.is_ok(), "a plain read is retried: {read:?}");
    let watched = watching.get::<_, Option<String>>("k").await;
    assert!(watched.is_err(), "a read under WATCH is not retried");
    let stats = pool.retry_stats();
    assert_eq!((stats.retries, stats.recovered), (1, 1), "{stats:?}");
}
