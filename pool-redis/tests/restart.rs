//! A server restart under load: the pool recovers by itself, with no
//! permanent errors and no leaked connections.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::{RedisServer, other_client_ids};
use pool_redis::Config;
use pool_redis::redis::AsyncCommands;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pool_recovers_from_a_server_restart_under_load() {
    let mut server = RedisServer::start();
    let mut cfg = Config::from_url(server.url());
    cfg.pool = Some(pool_redis::PoolConfig {
        max_size: 8,
        health_check_interval: Some(Duration::from_secs(1)),
        timeouts: pool_redis::Timeouts::wait_millis(2000),
        ..pool_redis::PoolConfig::default()
    });
    let pool = cfg.create_pool(None).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..16)
        .map(|i| {
            let (pool, stop, ok, failed) = (pool.clone(), stop.clone(), ok.clone(), failed.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let result = async {
                        let mut conn = pool.get().await.map_err(|e| e.to_string())?;
                        conn.set::<_, _, ()>(format!("k{i}"), i)
                            .await
                            .map_err(|e| e.to_string())
                    }
                    .await;
                    match result {
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
        "load running before the restart"
    );
    server.restart();
    let restarted = Instant::now();
    let ok_at_restart = ok.load(Ordering::Relaxed);
    // Served again by itself within a generous bound (the breaker's
    // backoff starts at 100 ms and doubles, jittered).
    while ok.load(Ordering::Relaxed) < ok_at_restart + 100 {
        assert!(
            restarted.elapsed() < Duration::from_secs(30),
            "no recovery within 30 s"
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
        "errors after recovery"
    );
    assert!(ok.load(Ordering::Relaxed) > ok_before + 100);
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.await.unwrap();
    }
    // No leaked connections: the new server sees at most max_size of ours.
    let ours = other_client_ids(&mut server.admin().await).await.len();
    assert!(ours <= 8, "{ours} connections after recovery");
    eprintln!(
        "restart under load: served again {recovered_after:?} after the restart, {} failed gets during it, {ours} connections after",
        failed_before
    );
}
