//! The shared pool registry against a real server: sharing, separation by
//! user, stats without secrets, cleanup.

mod common;

use std::time::Duration;

use common::{RedisServer, other_client_ids};
use pool_redis::redis::{AsyncCommands, cmd};
use pool_redis::{Config, RedisPoolExt, SharedPoolRegistry};
use tokio::time::Instant;

async fn client_count(server: &RedisServer) -> usize {
    other_client_ids(&mut server.admin().await).await.len()
}

#[tokio::test]
async fn a_hundred_clients_share_one_pool() {
    let server = RedisServer::start();
    let registry = SharedPoolRegistry::new();
    let config = Config::from_url(server.url());
    let handles: Vec<_> = (0..100)
        .map(|_| registry.pool(&config, None).unwrap())
        .collect();
    let tasks: Vec<_> = handles
        .into_iter()
        .enumerate()
        .map(|(i, pool)| {
            tokio::spawn(async move {
                let mut conn = pool.get().await.unwrap();
                let _: () = conn.set(format!("k{i}"), i).await.unwrap();
                pool
            })
        })
        .collect();
    let mut kept = Vec::new();
    for t in tasks {
        kept.push(t.await.unwrap());
    }
    let stats = registry.get_pool_stats();
    assert_eq!(stats.total_pools, 1);
    let connections = client_count(&server).await;
    let max = kept[0].status().max_size;
    assert!(
        connections <= max,
        "100 clients, {connections} server connections (max_size {max})"
    );
}

#[tokio::test]
async fn different_users_never_share_and_secrets_stay_out_of_stats() {
    let server = RedisServer::start();
    let mut admin = server.admin().await;
    let _: () = cmd("ACL")
        .arg(&["SETUSER", "alice", "on", ">s3cret-alice", "~*", "+@all"])
        .query_async(&mut admin)
        .await
        .unwrap();
    let registry = SharedPoolRegistry::new();
    let anon = registry
        .pool(&Config::from_url(server.url()), None)
        .unwrap();
    let alice_url = format!("redis://alice:s3cret-alice@127.0.0.1:{}", server.port);
    let alice = registry.pool(&Config::from_url(&alice_url), None).unwrap();
    let alice_again = registry.pool(&Config::from_url(&alice_url), None).unwrap();
    let mut a = alice.get().await.unwrap();
    let who: String = cmd("ACL").arg("WHOAMI").query_async(&mut a).await.unwrap();
    assert_eq!(who, "alice");
    drop(a);
    let mut d = anon.get().await.unwrap();
    let who: String = cmd("ACL").arg("WHOAMI").query_async(&mut d).await.unwrap();
    assert_eq!(who, "default");
    drop(d);
    drop(alice_again);
    let stats = registry.get_pool_stats();
    assert_eq!(stats.total_pools, 2);
    let shown = format!("{stats:?}");
    assert!(!shown.contains("s3cret"), "{shown}");
    assert!(shown.contains("user alice"), "{shown}");
}

#[tokio::test]
async fn cleanup_closes_idle_connections_and_forgets_dropped_pools() {
    let server = RedisServer::start();
    let registry = SharedPoolRegistry::new();
    let pool = registry
        .pool(&Config::from_url(server.url()), None)
        .unwrap();
    let held = pool.get().await.unwrap();
    drop(pool.get().await.unwrap()); // one idle, one checked out
    assert_eq!(
        registry.cleanup_once(Instant::now(), Duration::from_secs(300)),
        0,
        "nothing is idle that long yet"
    );
    let later = Instant::now() + Duration::from_secs(301);
    assert_eq!(
        registry.cleanup_once(later, Duration::from_secs(300)),
        1,
        "the idle one closed"
    );
    let st = pool.status();
    assert_eq!(
        (st.size, st.available),
        (1, 0),
        "the checked-out one untouched"
    );
    drop(held);
    drop(pool);
    registry.cleanup_once(Instant::now(), Duration::from_secs(300));
    assert_eq!(
        registry.get_pool_stats().total_pools,
        0,
        "no live handle: forgotten"
    );
}

#[tokio::test]
async fn stats_show_the_breaker_and_shared_connections() {
    let server = RedisServer::start();
    let registry = SharedPoolRegistry::new();
    let pool = registry
        .pool(&Config::from_url(server.url()), None)
        .unwrap();
    let mut shared = pool.shared();
    let _: () = shared.set("k", 1).await.unwrap();
    let stats = registry.get_pool_stats();
    let only = stats.pools.values().next().unwrap();
    assert_eq!(only.breaker, pool_redis::pool_core::BreakerPhase::Closed);
    assert_eq!(only.breaker.to_string(), "closed");
    assert_eq!(only.shared.connections, 1, "{only:?}");

    drop(server); // every create now fails: the breaker opens
    let mut refused = false;
    for _ in 0..10 {
        if let Err(pool_redis::PoolError::Unavailable { .. }) = pool.get().await {
            refused = true;
            break;
        }
    }
    assert!(refused, "the breaker opened within 10 failing gets");
    let stats = registry.get_pool_stats();
    let only = stats.pools.values().next().unwrap();
    assert_eq!(
        (only.breaker, only.breaker_opens),
        (pool_redis::pool_core::BreakerPhase::Open, 1),
        "{only:?}"
    );
}

#[tokio::test]
async fn stats_carry_each_pools_metrics_and_the_process_memory() {
    let server = RedisServer::start();
    let registry = SharedPoolRegistry::new();
    let pool = registry
        .pool(&Config::from_url(server.url()), None)
        .unwrap();
    for _ in 0..5 {
        let mut conn = pool.get().await.unwrap();
        let _: Option<String> = conn.get("k").await.unwrap();
    }
    let stats = registry.get_pool_stats();
    let m = &stats.pools.values().next().unwrap().metrics;
    assert_eq!(m.gets.started, 5, "{m:?}");
    assert_eq!(m.gets.served_at_once, 5);
    assert_eq!(m.creates_ok, 1);
    let mem = stats.process.expect("Linux has /proc/self/status");
    assert!(
        mem.rss_bytes > 1 << 20 && mem.vms_bytes >= mem.rss_bytes,
        "{mem:?}"
    );
}

/// Rotating passwords (or per-tenant URLs) with no cleanup task: each new
/// pool prunes the entries of pools nobody holds any more.
#[test]
fn entries_of_dropped_pools_are_pruned_when_a_pool_is_created() {
    let registry = SharedPoolRegistry::new();
    let kept = registry
        .pool(&Config::from_url("redis://:kept@127.0.0.1:1/0"), None)
        .unwrap();
    for n in 0..50 {
        let url = format!("redis://:rotated-{n}@127.0.0.1:1/0");
        drop(registry.pool(&Config::from_url(url), None).unwrap());
        assert!(
            registry.entries() <= 2,
            "{} entries after {n}",
            registry.entries()
        );
    }
    assert_eq!(registry.get_pool_stats().total_pools, 1);
    drop(kept);
}
