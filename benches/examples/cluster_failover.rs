//! pool-redis's cluster pool (exclusive and shared mode) and
//! deadpool-redis's, side by side through the same topology changes on a
//! six-node cluster this example starts: a slot migrated under load
//! (`MIGRATING`/`IMPORTING` + `MIGRATE`), a planned failover (`CLUSTER
//! FAILOVER` on a replica), and a killed master. 16 tasks per pool doing
//! SET + GET, with a 1 ms pause.
//!
//! `cargo run --release -p pool-benches --example cluster_failover`

use std::time::{Duration, Instant};

use pool_redis::cluster::ClusterPoolExt;
use redis::AsyncCommands;
use redis_harness::cluster::{ClusterSet, query};
use redis_harness::failover::{Outcome, Writers};

const TASKS: usize = 16;

fn key(i: usize) -> String {
    format!("failover:{}", i % 300)
}

fn start(urls: &[String]) -> Vec<(&'static str, Writers)> {
    let mut ours = pool_redis::cluster::Config::from_urls(urls.to_vec());
    ours.pool = Some(pool_redis::PoolConfig::new(TASKS));
    let ours = ours.create_pool(None).unwrap();
    let mut theirs = deadpool_redis::cluster::Config::from_urls(urls.to_vec());
    theirs.pool = Some(deadpool_redis::PoolConfig::new(TASKS));
    let theirs = theirs
        .create_pool(Some(deadpool_redis::Runtime::Tokio1))
        .unwrap();
    let counter = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let next = move || counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let (n1, n2, n3) = (next.clone(), next.clone(), next);
    let p = ours.clone();
    let exclusive = Writers::start(TASKS, move || {
        let (p, k) = (p.clone(), key(n1()));
        async move {
            let mut c = p.get().await.map_err(|e| format!("pool: {e}"))?;
            c.set::<_, _, ()>(&k, 1).await.map_err(|e| e.to_string())?;
            c.get::<_, u64>(&k).await.map_err(|e| e.to_string())?;
            Ok(0)
        }
    });
    let shared = ours.shared();
    let shared = Writers::start(TASKS, move || {
        let (mut c, k) = (shared.clone(), key(n2()));
        async move {
            c.set::<_, _, ()>(&k, 1).await.map_err(|e| e.to_string())?;
            c.get::<_, u64>(&k).await.map_err(|e| e.to_string())?;
            Ok(0)
        }
    });
    let deadpool = Writers::start(TASKS, move || {
        let (p, k) = (theirs.clone(), key(n3()));
        async move {
            let mut c = p.get().await.map_err(|e| format!("pool: {e}"))?;
            c.set::<_, _, ()>(&k, 1).await.map_err(|e| e.to_string())?;
            c.get::<_, u64>(&k).await.map_err(|e| e.to_string())?;
            Ok(0)
        }
    });
    vec![
        ("pool-redis exclusive", exclusive),
        ("pool-redis shared", shared),
        ("deadpool-redis", deadpool),
    ]
}

async fn report(name: &str, writers: Vec<(&str, Writers)>, from: Instant, settled: Instant) {
    println!("\n{name}: settled {:?} after the trigger", settled - from);
    println!(
        "{:<22} {:>8} {:>8} {:>14} {:>12}  errors by kind",
        "pool", "requests", "errors", "last error", "longest"
    );
    for (pool, w) in writers {
        let outcomes: Vec<Outcome> = w.stop().await;
        let errors: Vec<&Outcome> = outcomes
            .iter()
            .filter(|o| o.at >= from && o.result.is_err())
            .collect();
        let mut kinds = std::collections::BTreeMap::new();
        for e in &errors {
            let msg = e.result.clone().unwrap_err();
            let kind: String = msg
                .split(':')
                .next()
                .unwrap_or("")
                .chars()
                .take(40)
                .collect();
            *kinds.entry(kind).or_insert(0) += 1;
        }
        let last = errors.last().map_or("none".to_owned(), |o| {
            if o.at >= settled {
                format!("+{:.0} ms", (o.at - settled).as_secs_f64() * 1e3)
            } else {
                format!("-{:.0} ms", (settled - o.at).as_secs_f64() * 1e3)
            }
        });
        let longest = outcomes.iter().map(|o| o.took).max().unwrap_or_default();
        println!(
            "{pool:<22} {:>8} {:>8} {last:>14} {:>9.0} ms  {kinds:?}",
            outcomes.len(),
            errors.len(),
            longest.as_secs_f64() * 1e3
        );
    }
}

#[tokio::main]
async fn main() {
    let mut set = tokio::task::spawn_blocking(ClusterSet::start)
        .await
        .unwrap();
    let urls = set.urls();

    let w = start(&urls);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let from = Instant::now();
    let set_ref = &set;
    std::thread::scope(|s| {
        s.spawn(|| set_ref.migrate_slot_of(&key(0)));
    });
    let settled = Instant::now();
    tokio::time::sleep(Duration::from_secs(2)).await;
    report("slot migration", w, from, settled).await;

    for kill in [false, true] {
        set.wait_until_ok(Duration::from_secs(60));
        let w = start(&urls);
        tokio::time::sleep(Duration::from_secs(1)).await;
        let old = set.masters()[0];
        let replica = set.replica_of(old);
        let from = Instant::now();
        if kill {
            set.node(old).stop();
        } else {
            let _: () = query(replica, redis::cmd("CLUSTER").arg("FAILOVER")).unwrap();
        }
        while redis_harness::role(replica).as_deref() != Some("master") {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let settled = Instant::now();
        tokio::time::sleep(Duration::from_secs(5)).await;
        report(
            if kill {
                "master killed (\"last error\" from the replica's takeover)"
            } else {
                "CLUSTER FAILOVER (\"last error\" from the replica's takeover)"
            },
            w,
            from,
            settled,
        )
        .await;
        if kill {
            set.node(old).start_again();
        }
    }
}
