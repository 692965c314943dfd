//! A half-open partition (the server stops answering, sockets stay open)
//! holds no caller for long, whichever way it sends: the `Connection`
//! wrapper, `&mut *conn`, a raw borrow, shared mode, or a checkout whose
//! check or connect never answers. And when the network heals, every path
//! serves again within a second.
//!
//! A real server behind `PartitionProxy` (in this process): 16 tasks per
//! path, each path its own pool of 16 with deadpool-style timeouts (wait
//! 2 s, create 1 s, recycle 1 s); 1 s of traffic, a 4 s cut, 2 s after.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{PartitionProxy, RedisServer};
use pool_redis::redis::aio::MultiplexedConnection;
use pool_redis::redis::{AsyncCommands, RedisResult, cmd};
use pool_redis::{Config, Connection, Pool, PoolConfig, RedisPoolExt, Timeouts};

const TASKS: usize = 16;
const PARTITION: Duration = Duration::from_secs(4);
/// The longest any operation may take, checkout included.
const BOUND: Duration = Duration::from_millis(3500);
/// How soon after the heal each path must serve a new request.
const RECOVERY: Duration = Duration::from_secs(1);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Path {
    Wrapper,
    Deref,
    RawBorrow,
    Shared,
    Checkout,
}

struct Op {
    path: Path,
    start: Instant,
    end: Instant,
    ok: bool,
}

/// One command on a checked-out connection, sent the way `path` says.
async fn command(path: Path, conn: &mut Connection) -> RedisResult<Option<String>> {
    match path {
        Path::Wrapper => conn.get("k").await,
        Path::Deref => cmd("GET").arg("k").query_async(&mut **conn).await,
        Path::RawBorrow => {
            let raw: &mut MultiplexedConnection = conn;
            cmd("GET").arg("k").query_async(raw).await
        }
        Path::Checkout | Path::Shared => Ok(None),
    }
}

/// A checkout and one command (shared mode: one command, no checkout).
async fn once(path: Path, pool: &Pool, shared: &mut pool_redis::SharedConnection) -> bool {
    if path == Path::Shared {
        return shared.get::<_, Option<String>>("k").await.is_ok();
    }
    match pool.get().await {
        Ok(mut conn) => command(path, &mut conn).await.is_ok(),
        Err(_) => false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_half_open_partition_holds_no_caller_and_heals_fast() {
    let server = RedisServer::start();
    let proxy = PartitionProxy::start(([127, 0, 0, 1], server.port).into()).await;
    let config = PoolConfig {
        timeouts: Timeouts {
            wait: Some(Duration::from_secs(2)),
            create: Some(Duration::from_secs(1)),
            recycle: Some(Duration::from_secs(1)),
        },
        ..PoolConfig::new(TASKS)
    };
    let stop = Arc::new(AtomicBool::new(false));
    let ops = Arc::new(Mutex::new(Vec::<Op>::new()));
    let mut tasks = Vec::new();
    let mut pools = Vec::new();
    let paths = [
        Path::Wrapper,
        Path::Deref,
        Path::RawBorrow,
        Path::Shared,
        Path::Checkout,
    ];
    for path in paths {
        let config = PoolConfig {
            // The checkout path checks the connection at every checkout.
            health_check_interval: (path == Path::Checkout).then_some(Duration::ZERO),
            ..config
        };
        let pool = Config {
            pool: Some(config),
            ..Config::from_url(proxy.url())
        }
        .create_pool(None)
        .unwrap();
        pools.push((path, pool.clone()));
        for _ in 0..TASKS {
            let (pool, stop, ops) = (pool.clone(), stop.clone(), ops.clone());
            tasks.push((
                path,
                tokio::spawn(async move {
                    let mut shared = pool.shared();
                    while !stop.load(Ordering::Relaxed) {
                        let start = Instant::now();
                        let ok = once(path, &pool, &mut shared).await;
                        let end = Instant::now();
                        ops.lock().unwrap().push(Op {
                            path,
                            start,
                            end,
                            ok,
                        });
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                }),
            ));
        }
    }

    tokio::time::sleep(Duration::from_secs(1)).await;
    // One connection per command path, checked out before the cut and used
    // after it: a command certainly in flight during the partition on a
    // connection that needs no check (a loop's commands are, by chance).
    let mut held = Vec::new();
    for (path, pool) in &pools {
        if matches!(path, Path::Wrapper | Path::Deref | Path::RawBorrow) {
            held.push((*path, pool.get().await.unwrap()));
        }
    }
    let cut = Instant::now();
    proxy.cut();
    tokio::time::sleep(Duration::from_millis(100)).await;
    for (path, mut conn) in held {
        let ops = ops.clone();
        tasks.push((
            path,
            tokio::spawn(async move {
                let start = Instant::now();
                let ok = command(path, &mut conn).await.is_ok();
                let end = Instant::now();
                ops.lock().unwrap().push(Op {
                    path,
                    start,
                    end,
                    ok,
                });
            }),
        ));
    }
    tokio::time::sleep(PARTITION - Duration::from_millis(100)).await;
    let healed = Instant::now();
    proxy.heal();
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::Relaxed);
    // A task stuck in an operation that never ends is a failure, not a
    // hang of the test.
    let mut problems = Vec::new();
    let deadline = tokio::time::Instant::now() + BOUND;
    for (path, task) in tasks {
        match tokio::time::timeout_at(deadline, task).await {
            Ok(done) => done.unwrap(),
            Err(_) => problems.push(format!("{path:?}: an operation never finished")),
        }
    }

    let ops = ops.lock().unwrap();
    for path in paths {
        let mine: Vec<&Op> = ops.iter().filter(|op| op.path == path).collect();
        let longest = mine.iter().map(|op| op.end - op.start).max().unwrap();
        let before = mine.iter().filter(|op| op.ok && op.end < cut).count();
        let failed = mine.iter().filter(|op| !op.ok).count();
        let recovered = mine
            .iter()
            .filter(|op| op.ok && op.start >= healed)
            .map(|op| op.end - healed)
            .min();
        eprintln!(
            "{path:?}: {} ops, {before} ok before the cut, {failed} failed, longest {longest:?}, \
             served again {recovered:?} after the heal",
            mine.len()
        );
        if before == 0 {
            problems.push(format!("{path:?}: nothing served before the cut"));
        }
        if failed == 0 {
            problems.push(format!(
                "{path:?}: no operation failed: the partition was not seen"
            ));
        }
        if longest > BOUND {
            problems.push(format!("{path:?}: an operation took {longest:?}"));
        }
        match recovered {
            Some(after) if after <= RECOVERY => {}
            other => problems.push(format!("{path:?}: served again after {other:?}")),
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

/// `pubsub()` holds a pool slot while it connects: a server that accepts
/// and never answers ends it in an error naming the address within
/// `PUBSUB_CONNECT_TIMEOUT`, and the slot comes back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pubsub_to_a_silent_server_fails_within_its_bound_naming_the_address() {
    let server = RedisServer::start();
    let proxy = PartitionProxy::start(([127, 0, 0, 1], server.port).into()).await;
    let pool = Config::from_url(proxy.url()).create_pool(None).unwrap();
    drop(pool.get().await.unwrap()); // an idle connection, fresh: no PING
    proxy.cut();
    let outcome = tokio::time::timeout(Duration::from_secs(20), pool.pubsub())
        .await
        .expect("pubsub() hung on a silent server");
    let err = outcome.expect_err("nothing answers").to_string();
    assert!(err.contains("timed out"), "{err}");
    assert!(
        err.contains(&format!("127.0.0.1:{}", proxy.port())),
        "{err}"
    );
    assert_eq!(pool.status().size, 0, "the slot came back");
}
