//! pool-redis's Sentinel pool (exclusive and shared mode) and
//! deadpool-redis's, side by side through the same failovers: a master,
//! two replicas and three sentinels started here, 16 writer tasks per pool
//! (`INCR` of the contender's own counter plus the acknowledging node's
//! port), timed from the switch the example itself sees
//! (`+switch-master`). After each failover, every contender's counter on
//! the new master is compared with the increments it saw acknowledged:
//! the difference is acknowledged writes lost.
//!
//! `cargo run --release -p pool-benches --example sentinel_failover [ROUNDS]`

use std::time::{Duration, Instant};

use pool_redis::RedisPoolExt;
use redis_harness::failover::{Report, SwitchClock, Writers, write_naming_node_to};
use redis_harness::{MASTER_NAME, SentinelSet, query_sentinel};

const TASKS: usize = 16;
const AFTER_SWITCH: Duration = Duration::from_secs(7);

fn kind(e: &redis::RedisError) -> String {
    e.code().unwrap_or(e.category()).to_owned()
}

/// Each contender's counter.
const KEYS: [&str; 3] = [
    "failover:pool-redis-exclusive",
    "failover:pool-redis-shared",
    "failover:deadpool-redis",
];

fn start_writers(set: &SentinelSet) -> Vec<(&'static str, Writers)> {
    let urls = set.sentinel_urls();
    let pool_size = Some(pool_redis::PoolConfig::new(TASKS));
    let mut ours = pool_redis::sentinel::Config::from_urls(
        urls.clone(),
        MASTER_NAME.to_owned(),
        pool_redis::sentinel::SentinelServerType::Master,
    );
    ours.pool = pool_size;
    let ours = ours.create_pool(None).expect("pool-redis Sentinel pool");
    let mut theirs = deadpool_redis::sentinel::Config::from_urls(
        urls,
        MASTER_NAME.to_owned(),
        deadpool_redis::sentinel::SentinelServerType::Master,
    );
    theirs.pool = Some(deadpool_redis::PoolConfig::new(TASKS));
    let theirs = theirs
        .create_pool(Some(deadpool_redis::Runtime::Tokio1))
        .expect("deadpool-redis Sentinel pool");

    let p = ours.clone();
    let exclusive = Writers::start(TASKS, move || {
        let p = p.clone();
        async move {
            let mut conn = p.get().await.map_err(|e| match e {
                pool_redis::sentinel::PoolError::Backend(e) => format!("create: {}", kind(&e)),
                pool_redis::sentinel::PoolError::Unavailable { .. } => "breaker open".to_owned(),
                pool_redis::sentinel::PoolError::Timeout(t) => format!("wait timeout ({t:?})"),
                other => format!("pool: {other}"),
            })?;
            let ((_, port),): ((String, u16),) = write_naming_node_to(KEYS[0])
                .query_async(&mut conn)
                .await
                .map_err(|e| kind(&e))?;
            Ok(port)
        }
    });
    let handle = ours.shared();
    let shared = Writers::start(TASKS, move || {
        let mut conn = handle.clone();
        async move {
            let ((_, port),): ((String, u16),) = write_naming_node_to(KEYS[1])
                .query_async(&mut conn)
                .await
                .map_err(|e| kind(&e))?;
            Ok(port)
        }
    });
    let deadpool = Writers::start(TASKS, move || {
        let p = theirs.clone();
        async move {
            let mut conn = p.get().await.map_err(|e| match e {
                deadpool_redis::sentinel::PoolError::Backend(e) => format!("create: {}", kind(&e)),
                deadpool_redis::sentinel::PoolError::Timeout(t) => format!("wait timeout ({t:?})"),
                other => format!("pool: {other}"),
            })?;
            let ((_, port),): ((String, u16),) = write_naming_node_to(KEYS[2])
                .query_async(&mut conn)
                .await
                .map_err(|e| kind(&e))?;
            Ok(port)
        }
    });
    vec![
        ("pool-redis exclusive", exclusive),
        ("pool-redis shared", shared),
        ("deadpool-redis", deadpool),
    ]
}

async fn scenario(set: &mut SentinelSet, name: &str, kill: bool) {
    let old = set.master_port();
    let mut master = redis::Client::open(format!("redis://127.0.0.1:{old}"))
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .expect("the master");
    for key in KEYS {
        let _: () = redis::cmd("DEL")
            .arg(key)
            .query_async(&mut master)
            .await
            .unwrap();
    }
    let clock = SwitchClock::start(set.sentinels[1].port).await;
    let writers = start_writers(set);
    tokio::time::sleep(Duration::from_secs(1)).await;
    // When a replica first answers `ROLE` as master (asked every
    // millisecond): the promotion, as the nodes see it.
    let replicas: Vec<u16> = set
        .nodes
        .iter()
        .map(|n| n.port)
        .filter(|&p| p != old)
        .collect();
    let promotion = std::thread::spawn(move || {
        let until = Instant::now() + Duration::from_secs(30);
        while Instant::now() < until {
            for &port in &replicas {
                if redis_harness::role(port).as_deref() == Some("master") {
                    return Some(Instant::now());
                }
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        None
    });
    let from = Instant::now();
    if kill {
        set.node(old).stop();
    } else {
        let _: String = query_sentinel(
            set.sentinels[0].port,
            redis::cmd("SENTINEL").arg("FAILOVER").arg(MASTER_NAME),
        )
        .expect("SENTINEL FAILOVER");
    }
    let (switch, new) = clock.wait(Duration::from_secs(30)).await;
    tokio::time::sleep_until((switch + AFTER_SWITCH).into()).await;
    let promoted = promotion.join().expect("the ROLE poller");
    println!("\n{name}: switch {:?} after the trigger", switch - from);
    if let Some(at) = promoted {
        println!(
            "a replica answered ROLE master {:?} after the trigger",
            at - from
        );
    }
    println!(
        "{:<22} {:>10} {:>12} {:>10} {:>9} {:>10} {:>8} {:>9} {:>10}  errors by kind",
        "pool", "resumed", "first@new", "steady", "old acks", "writes", "lost", "gap", "after ROLE"
    );
    let mut stopped = Vec::new();
    for (pool, w) in writers {
        stopped.push((pool, w.stop().await));
    }
    if kill {
        set.node(old).start_again();
    }
    {
        let set = &*set;
        std::thread::scope(|s| {
            s.spawn(|| set.wait_until_settled(Duration::from_secs(60)));
        });
    }
    let mut new_master = redis::Client::open(format!("redis://127.0.0.1:{new}"))
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .expect("the new master");
    for ((pool, outcomes), key) in stopped.into_iter().zip(KEYS) {
        let counted: Option<i64> = redis::cmd("GET")
            .arg(key)
            .query_async(&mut new_master)
            .await
            .unwrap();
        let acknowledged = outcomes.iter().filter(|o| o.result.is_ok()).count() as i64;
        let lost = (acknowledged - counted.unwrap_or(0)).max(0);
        let mut acks: Vec<Instant> = outcomes
            .iter()
            .filter(|o| o.result.is_ok())
            .map(|o| o.at)
            .collect();
        acks.sort();
        let gap = acks.windows(2).map(|w| w[1] - w[0]).max();
        let after_role = promoted.and_then(|at| {
            outcomes
                .iter()
                .filter(|o| o.result == Ok(new) && o.at >= at)
                .map(|o| o.at - at)
                .min()
        });
        let r = Report::new(
            &outcomes,
            from,
            switch,
            old,
            new,
            Duration::from_secs(5),
            Duration::from_secs(1),
        );
        let late_on_old = outcomes
            .iter()
            .filter(|o| o.at > switch && o.result == Ok(old))
            .count();
        println!(
            "{pool:<22} {:>10} {:>12} {:>10} {:>9} {:>10} {:>8} {:>9} {:>10}  {:?}",
            fmt(r.resumed),
            fmt(r.first_success),
            fmt(Some(r.steady)),
            late_on_old,
            r.successes,
            lost,
            fmt(gap),
            fmt(after_role),
            r.errors
        );
    }
}

fn fmt(d: Option<Duration>) -> String {
    d.map_or("never".to_owned(), |d| {
        format!("{:.0} ms", d.as_secs_f64() * 1e3)
    })
}

#[tokio::main]
async fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .map_or(1, |r| r.parse().expect("ROUNDS is a number"));
    let mut set = tokio::task::spawn_blocking(|| SentinelSet::start(2, 3))
        .await
        .unwrap();
    println!(
        "columns: resumed = trigger to the first write the new master acknowledged; first@new = from the switch this example saw to the first such write at or after it; steady = switch to the last failed write; old acks = writes the old master acknowledged after the switch; lost = acknowledged increments missing from the new master; gap = the longest time without an acknowledged write; after ROLE = from the first ROLE master answer of a replica to the pool's first write acknowledged by the new master"
    );
    for round in 1..=rounds {
        println!("\n== round {round}");
        scenario(&mut set, "planned failover (SENTINEL FAILOVER)", false).await;
        scenario(&mut set, "master killed (SIGKILL)", true).await;
    }
}
