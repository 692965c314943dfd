//! A server restart under load: the pool recovers by itself, with no
//! permanent errors and no leaked connections, in exclusive and in shared
//! mode.

mod common;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::{RedisServer, other_client_ids};
use pool_redis::redis::AsyncCommands;
use pool_redis::{Config, Pool, RedisPoolExt};

fn pool(server: &RedisServer) -> Pool {
    let mut cfg = Config::from_url(server.url());
    cfg.pool = Some(pool_redis::PoolConfig {
        max_size: 8,
        health_check_interval: Some(Duration::from_secs(1)),
        timeouts: pool_redis::Timeouts::wait_millis(2000),
        ..pool_redis::PoolConfig::default()
    });
    cfg.create_pool(None).unwrap()
}

/// Runs `op` in 16 tasks across a server restart and checks the recovery.
/// `op(i)` sets one key through the mode under test.
async fn survives_a_restart<F, Fut>(mut server: RedisServer, mode: &str, op: F)
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), String>> + Send,
{
    let op = Arc::new(op);
    let stop = Arc::new(AtomicBool::new(false));
    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..16)
        .map(|i| {
            let (op, stop, ok, failed) = (op.clone(), stop.clone(), ok.clone(), failed.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    match op(i).await {
                        Ok(()) => ok.fetch_add(1, Ordering::Relaxed),
                        Err(_) => {
                            tokio::time::sleep(Duration::from_millis(20)).await;
                            failed.fetch_add(1, Ordering::Relaxed)
                        }
                    };
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        ok.load(Ordering::Relaxed) > 0,
        "{mode}: load running before the restart"
    );
    server.restart();
    let restarted = Instant::now();
    let ok_at_restart = ok.load(Ordering::Relaxed);
    // Served again by itself within a generous bound (backoff starts at
    // 100 ms and doubles, jittered).
    while ok.load(Ordering::Relaxed) < ok_at_restart + 100 {
        assert!(
            restarted.elapsed() < Duration::from_secs(30),
            "{mode}: no recovery within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let recovered_after = restarted.elapsed();
    // No permanent errors: a steady stretch after recovery has no failures.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let failed_before = failed.load(Ordering::Relaxed);
    let ok_before = ok.load(Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        failed.load(Ordering::Relaxed),
        failed_before,
        "{mode}: errors after recovery"
    );
    assert!(ok.load(Ordering::Relaxed) > ok_before + 100);
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.await.unwrap();
    }
    // No leaked connections: the new server sees at most max_size of ours.
    let ours = other_client_ids(&mut server.admin().await).await.len();
    assert!(ours <= 8, "{mode}: {ours} connections after recovery");
    eprintln!(
        "{mode}: served again {recovered_after:?} after the restart, {failed_before} failed operations during it, {ours} connections after"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exclusive_checkouts_recover_from_a_server_restart_under_load() {
    let server = RedisServer::start();
    let pool = pool(&server);
    survives_a_restart(server, "exclusive", move |i| {
        let pool = pool.clone();
        async move {
            let mut conn = pool.get().await.map_err(|e| e.to_string())?;
            conn.set::<_, _, ()>(format!("k{i}"), i)
                .await
                .map_err(|e| e.to_string())
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_mode_recovers_from_a_server_restart_under_load() {
    let server = RedisServer::start();
    let shared = pool(&server).shared();
    survives_a_restart(server, "shared", move |i| {
        let mut conn = shared.clone();
        async move {
            conn.set::<_, _, ()>(format!("k{i}"), i)
                .await
                .map_err(|e| e.to_string())
        }
    })
    .await;
}
