//! Redis Cluster throughput, side by side in alternating rounds: pool-redis
//! exclusive (a checkout per request) and shared mode, deadpool-redis's
//! cluster pool, and one `ClusterConnection` cloned into every task, on a
//! three-master cluster this example starts (six nodes).
//!
//! `cargo run --release -p pool-benches --example cluster_rounds -- [ROUNDS] [SECONDS] [TASKS,..] [get|set] [all|shared]`
//! (`shared`: only pool-redis shared mode and one `ClusterConnection`, for
//! more rounds of the pair whose ratio is closest to 1).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use pool_redis::cluster::ClusterPoolExt;
use redis::AsyncCommands;
use redis_harness::cluster::ClusterSet;

const KEYS: u64 = 1000;
const CONTENDERS: [&str; 6] = [
    "pool-redis exclusive",
    "pool-redis shared",
    "deadpool-redis",
    "one ClusterConnection",
    "one, pool-redis's timeouts",
    "shared, no timeouts",
];

#[derive(Clone)]
enum Handle {
    Ours(pool_redis::cluster::Pool),
    Shared(pool_redis::cluster::ClusterShared),
    Theirs(deadpool_redis::cluster::Pool),
    One(redis::cluster_async::ClusterConnection),
}

async fn op(handle: &mut Handle, set: bool, i: u64) -> redis::RedisResult<()> {
    let key = format!("bench:{}", i % KEYS);
    macro_rules! run {
        ($c:expr) => {
            if set {
                $c.set::<_, _, ()>(&key, i).await
            } else {
                $c.get::<_, Option<u64>>(&key).await.map(|_| ())
            }
        };
    }
    match handle {
        Handle::Ours(pool) => {
            let mut conn = pool.get().await.map_err(|e| {
                redis::RedisError::from((redis::ErrorKind::Io, "pool", e.to_string()))
            })?;
            run!(conn)
        }
        Handle::Shared(shared) => run!(shared),
        Handle::Theirs(pool) => {
            let mut conn = pool.get().await.map_err(|e| {
                redis::RedisError::from((redis::ErrorKind::Io, "pool", e.to_string()))
            })?;
            run!(conn)
        }
        Handle::One(conn) => run!(conn),
    }
}

async fn measure(handle: Handle, tasks: usize, secs: f64, set: bool) -> f64 {
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let joins: Vec<_> = (0..tasks)
        .map(|t| {
            let mut h = handle.clone();
            let stop = stop.clone();
            let done = done.clone();
            tokio::spawn(async move {
                let mut i = t as u64 * 7919;
                while !stop.load(Ordering::Relaxed) {
                    op(&mut h, set, i).await.expect("a request");
                    i += 1;
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs_f64(secs * 0.2)).await;
    let start = (Instant::now(), done.load(Ordering::Relaxed));
    tokio::time::sleep(Duration::from_secs_f64(secs)).await;
    let ops = done.load(Ordering::Relaxed) - start.1;
    let rate = ops as f64 / start.0.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for j in joins {
        j.await.unwrap();
    }
    rate
}

async fn handle(name: &str, urls: &[String], tasks: usize) -> Handle {
    match name {
        "pool-redis exclusive" | "pool-redis shared" => {
            let mut cfg = pool_redis::cluster::Config::from_urls(urls.to_vec());
            cfg.pool = Some(pool_redis::PoolConfig::new(tasks));
            let pool = cfg.create_pool(None).unwrap();
            if name.ends_with("shared") {
                Handle::Shared(pool.shared())
            } else {
                Handle::Ours(pool)
            }
        }
        // Shared mode over a client with redis-rs's default timeouts (no
        // timer per request), like "one ClusterConnection": the ratio
        // between the two is shared mode's own overhead.
        "shared, no timeouts" => {
            let mut cfg = pool_redis::cluster::Config::from_urls(urls.to_vec());
            cfg.pool = Some(pool_redis::PoolConfig::new(tasks));
            let mut settings = pool_redis::cluster::ClusterSettings::default();
            settings.response_timeout = None;
            settings.overall_timeout = None;
            let pool = cfg.builder_with(&settings).unwrap().build().unwrap();
            Handle::Shared(pool.shared())
        }
        "deadpool-redis" => {
            let mut cfg = deadpool_redis::cluster::Config::from_urls(urls.to_vec());
            cfg.pool = Some(deadpool_redis::PoolConfig::new(tasks));
            Handle::Theirs(
                cfg.create_pool(Some(deadpool_redis::Runtime::Tokio1))
                    .unwrap(),
            )
        }
        "one ClusterConnection" => Handle::One(
            redis::cluster::ClusterClient::new(urls.to_vec())
                .unwrap()
                .get_async_connection()
                .await
                .unwrap(),
        ),
        // The same client settings as pool-redis's (ClusterSettings'
        // defaults: a response timeout per attempt and overall), so the
        // ratio to it is shared mode's own overhead.
        _ => {
            use pool_redis::cluster as c;
            let (min_wait, max_wait) = c::DEFAULT_CLUSTER_RETRY_WAIT;
            Handle::One(
                redis::cluster::ClusterClientBuilder::new(urls.to_vec())
                    .connection_timeout(c::DEFAULT_CLUSTER_CONNECTION_TIMEOUT)
                    .response_timeout(c::DEFAULT_CLUSTER_RESPONSE_TIMEOUT)
                    .overall_response_timeout(Some(c::DEFAULT_CLUSTER_OVERALL_TIMEOUT))
                    .retries(c::DEFAULT_CLUSTER_RETRIES)
                    .min_retry_wait(min_wait.as_millis() as u64)
                    .max_retry_wait(max_wait.as_millis() as u64)
                    .build()
                    .unwrap()
                    .get_async_connection()
                    .await
                    .unwrap(),
            )
        }
    }
}

fn median(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    (v[v.len() / 2], v[0], v[v.len() - 1])
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let rounds: usize = args.next().and_then(|v| v.parse().ok()).unwrap_or(5);
    let secs: f64 = args.next().and_then(|v| v.parse().ok()).unwrap_or(2.0);
    let tasks: Vec<usize> = args
        .next()
        .unwrap_or_else(|| "10,50".into())
        .split(',')
        .map(|t| t.parse().expect("TASKS: comma-separated numbers"))
        .collect();
    let set = match args.next().as_deref().unwrap_or("get") {
        "get" => false,
        "set" => true,
        other => panic!("operation must be get or set, not {other:?}"),
    };
    let only_shared = args.next().as_deref() == Some("shared");
    let cluster = tokio::task::spawn_blocking(ClusterSet::start)
        .await
        .unwrap();
    let urls = cluster.urls();
    for &n in &tasks {
        let mut rates: Vec<Vec<f64>> = vec![Vec::new(); CONTENDERS.len()];
        for round in 0..rounds {
            for k in 0..CONTENDERS.len() {
                let c = (round + k) % CONTENDERS.len();
                if only_shared && (c == 0 || c == 2) {
                    rates[c].push(f64::NAN);
                    continue;
                }
                let h = handle(CONTENDERS[c], &urls, n).await;
                rates[c].push(measure(h, n, secs, set).await);
            }
        }
        println!(
            "\n{} at {n} tasks, {rounds} rounds of {secs} s (ops/s median, ratio per round median (range))",
            if set { "SET" } else { "GET" }
        );
        for (c, name) in CONTENDERS.iter().enumerate() {
            let (m, lo, hi) = median(rates[c].clone());
            let vs = |other: usize| {
                median(
                    rates[c]
                        .iter()
                        .zip(&rates[other])
                        .map(|(a, b)| a / b)
                        .collect(),
                )
            };
            let (dm, dlo, dhi) = vs(2);
            let (om, olo, ohi) = vs(3);
            let (bm, blo, bhi) = vs(4);
            println!(
                "{name:<27} {m:>9.0} ({lo:.0}-{hi:.0})  vs deadpool-redis {dm:.2}x ({dlo:.2}-{dhi:.2})  vs one ClusterConnection {om:.2}x ({olo:.2}-{ohi:.2})  vs one with pool-redis's timeouts {bm:.2}x ({blo:.2}-{bhi:.2})"
            );
        }
    }
}
