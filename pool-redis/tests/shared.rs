//! Shared mode (`pool.shared()`) and dedicated pub/sub (`pool.pubsub()`)
//! against a real redis-server.

mod common;

use std::time::Duration;

use common::{RedisServer, calls, other_client_ids};
use pool_redis::redis::{self, AsyncCommands, ErrorKind, cmd};
use pool_redis::{Config, Manager, Pool, PoolConfig, RedisPoolExt};

fn pool_with(server: &RedisServer, max_size: usize, depth: usize) -> Pool {
    let manager = Manager::new(server.url()).unwrap().shared_depth(depth);
    Pool::builder(manager).max_size(max_size).build().unwrap()
}

/// `tasks` tasks each send `per_task` GETs through clones of one handle;
/// returns how many failed.
async fn load(pool: &Pool, tasks: usize, per_task: usize) -> usize {
    let shared = pool.shared();
    let handles: Vec<_> = (0..tasks)
        .map(|t| {
            let mut conn = shared.clone();
            tokio::spawn(async move {
                let mut failed = 0;
                for i in 0..per_task {
                    let r: redis::RedisResult<Option<String>> =
                        conn.get(format!("k{}", (t + i) % 16)).await;
                    failed += usize::from(r.is_err());
                }
                failed
            })
        })
        .collect();
    let mut failed = 0;
    for h in handles {
        failed += h.await.unwrap();
    }
    failed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_connection_serves_many_tasks_below_the_depth() {
    let server = RedisServer::start();
    let pool = pool_with(&server, 8, 64);
    assert_eq!(load(&pool, 50, 200).await, 0);
    assert_eq!(calls(&mut server.admin().await, "get").await, 50 * 200);
    let stats = pool.shared_stats();
    assert_eq!(stats.connections, 1, "{stats:?}");
    assert_eq!(other_client_ids(&mut server.admin().await).await.len(), 1);
    assert_eq!(pool.status().size, 0, "shared mode takes no checkout");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_spill_to_more_connections_but_never_above_max_size() {
    let server = RedisServer::start();
    let pool = pool_with(&server, 4, 1);
    assert_eq!(load(&pool, 64, 100).await, 0);
    let stats = pool.shared_stats();
    assert!(
        stats.connections > 1 && stats.connections <= 4,
        "depth 1 and 64 tasks: {stats:?}"
    );
    let ours = other_client_ids(&mut server.admin().await).await;
    assert!(ours.len() <= 4, "server connections: {ours:?}");
    assert_eq!(stats.in_flight, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_connection_fails_only_its_in_flight_commands() {
    let server = RedisServer::start();
    let pool = pool_with(&server, 2, 4);
    // What the lane logic does alone: reads are otherwise retried on the
    // other lane (tests/retry.rs).
    pool.set_read_retry(pool_redis::RetryPolicy::off());
    // Fill both lanes.
    assert_eq!(load(&pool, 8, 50).await, 0);
    let mut admin = server.admin().await;
    let ours = other_client_ids(&mut admin).await;
    assert_eq!(ours.len(), 2, "two shared connections: {ours:?}");

    // Load running while one connection is killed.
    let loader = {
        let pool = pool.clone();
        tokio::spawn(async move { load(&pool, 8, 2_000).await })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    let _: () = cmd("CLIENT")
        .arg("KILL")
        .arg("ID")
        .arg(ours[0])
        .query_async(&mut admin)
        .await
        .unwrap();
    let failed = tokio::time::timeout(Duration::from_secs(30), loader)
        .await
        .expect("the load finishes")
        .unwrap();
    eprintln!("one of two shared connections killed under load: {failed} commands failed");
    // Every task has at most one request in flight, and the lane is taken
    // out at its first failure: at most one failure per task.
    assert!(failed <= 8, "{failed} commands failed");
    let stats = pool.shared_stats();
    assert_eq!(stats.reconnects, u64::from(failed > 0), "{stats:?}");
    // Serving continues, and the replacement keeps the count bounded.
    assert_eq!(load(&pool, 8, 50).await, 0);
    let now = other_client_ids(&mut admin).await;
    assert!(now.len() <= 2 && !now.contains(&ours[0]), "{now:?}");
}

#[tokio::test]
async fn session_and_blocking_commands_are_refused_by_name() {
    let server = RedisServer::start();
    let pool = pool_with(&server, 2, 8);
    let mut shared = pool.shared();
    for (command, args) in [
        ("BLPOP", vec!["q", "1"]),
        ("WATCH", vec!["k"]),
        ("SELECT", vec!["1"]),
        ("MULTI", vec![]),
        ("SUBSCRIBE", vec!["ch"]),
    ] {
        let err = cmd(command)
            .arg(&args)
            .query_async::<redis::Value>(&mut shared)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Client, "{command}: {err}");
        assert!(err.to_string().contains(command), "{command}: {err}");
    }
    // Nothing refused reached the server, and the connection still works.
    let mut admin = server.admin().await;
    for command in ["blpop", "watch", "select", "multi", "subscribe"] {
        assert_eq!(calls(&mut admin, command).await, 0, "{command}");
    }
    let _: () = shared.set("k", 1).await.unwrap();
    // A transaction written as one pipeline is safe on a shared connection.
    let (a, b): (i64, i64) = redis::pipe()
        .atomic()
        .incr("n", 1)
        .incr("n", 1)
        .query_async(&mut shared)
        .await
        .unwrap();
    assert_eq!((a, b), (1, 2));
    assert_eq!(redis::aio::ConnectionLike::get_db(&shared), 0);
}

#[tokio::test]
async fn an_unreachable_server_fails_fast_instead_of_hanging() {
    let server = RedisServer::start();
    let url = server.url();
    drop(server); // nothing listens on that port any more
    let pool = Pool::builder(Manager::new(url).unwrap()).build().unwrap();
    // Retry off: the shared set's own fail-fast (with retry, a read waits
    // out the retry budget, checked below).
    pool.set_read_retry(pool_redis::RetryPolicy::off());
    let mut shared = pool.shared();
    let first = tokio::time::timeout(
        Duration::from_secs(10),
        shared.get::<_, Option<String>>("k"),
    )
    .await
    .expect("the first command waits for one connect, no longer");
    assert!(first.unwrap_err().is_io_error());
    // While the reconnect backs off, commands fail at once.
    let started = tokio::time::Instant::now();
    let again = shared.get::<_, Option<String>>("k").await;
    assert!(again.is_err());
    assert!(
        started.elapsed() < Duration::from_millis(50),
        "{:?}",
        started.elapsed()
    );
    // With the default retry a read waits at most its budget (500 ms).
    pool.set_read_retry(pool_redis::RetryPolicy::default());
    let started = tokio::time::Instant::now();
    let retried = shared.get::<_, Option<String>>("k").await;
    assert!(retried.unwrap_err().to_string().contains("refused"));
    assert!(
        started.elapsed() < Duration::from_millis(700),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn pubsub_takes_a_slot_while_it_lives_and_receives_messages() {
    use futures_util::StreamExt;

    let server = RedisServer::start();
    let mut cfg = Config::from_url(server.url());
    cfg.pool = Some(PoolConfig::new(2));
    let pool = cfg.create_pool(None).unwrap();

    let mut sub = pool.pubsub().await.unwrap();
    sub.subscribe("news").await.unwrap();
    let held = pool.get().await.unwrap();
    assert_eq!(pool.status().size, 2);
    assert!(
        pool.try_get().await.is_err(),
        "the pub/sub connection holds the second slot"
    );
    let mut conn = held;
    let receivers: i64 = conn.publish("news", "hello").await.unwrap();
    assert_eq!(receivers, 1);
    let msg = tokio::time::timeout(Duration::from_secs(5), sub.on_message().next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(msg.get_payload::<String>().unwrap(), "hello");

    drop(sub);
    let second = tokio::time::timeout(Duration::from_secs(5), pool.get())
        .await
        .expect("the slot is free again")
        .unwrap();
    drop((conn, second));
    // Only pool connections remain: the pub/sub one is closed.
    let ours = other_client_ids(&mut server.admin().await).await;
    assert!(ours.len() <= 2, "{ours:?}");
}
