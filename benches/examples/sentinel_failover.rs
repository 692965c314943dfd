//! pool-redis's Sentinel pool (exclusive and shared mode) and
//! deadpool-redis's, side by side through the same failovers: a master,
//! two replicas and three sentinels started here, 16 writer tasks per pool
//! (`INCR` plus the acknowledging node's port), timed from the switch the
//! example itself sees (`+switch-master`).
//!
//! `cargo run --release -p pool-benches --example sentinel_failover [ROUNDS]`

use std::time::{Duration, Instant};

use pool_redis::RedisPoolExt;
use redis_harness::failover::{Report, SwitchClock, Writers, write_naming_node};
use redis_harness::{MASTER_NAME, SentinelSet, query_sentinel};

const TASKS: usize = 16;
const AFTER_SWITCH: Duration = Duration::from_secs(7);

fn kind(e: &redis::RedisError) -> String {
    e.code().unwrap_or(e.category()).to_owned()
}

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
            let ((_, port),): ((String, u16),) = write_naming_node()
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
            let ((_, port),): ((String, u16),) = write_naming_node()
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
            let ((_, port),): ((String, u16),) = write_naming_node()
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
    let clock = SwitchClock::start(set.sentinels[1].port).await;
    let writers = start_writers(set);
    tokio::time::sleep(Duration::from_secs(1)).await;
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
    println!("\n{name}: switch {:?} after the trigger", switch - from);
    println!(
        "{:<22} {:>10} {:>12} {:>10} {:>9} {:>10}  errors by kind",
        "pool", "resumed", "first@new", "steady", "old acks", "writes"
    );
    for (pool, w) in writers {
        let outcomes = w.stop().await;
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
            "{pool:<22} {:>10} {:>12} {:>10} {:>9} {:>10}  {:?}",
            fmt(r.resumed),
            fmt(r.first_success),
            fmt(Some(r.steady)),
            late_on_old,
            r.successes,
            r.errors
        );
    }
    if kill {
        set.node(old).start_again();
    }
    let set = &*set;
    std::thread::scope(|s| {
        s.spawn(|| set.wait_until_settled(Duration::from_secs(60)));
    });
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
        "columns: resumed = trigger to the first write the new master acknowledged; first@new = from the switch this example saw to the first such write at or after it; steady = switch to the last failed write; old acks = writes the old master acknowledged after the switch"
    );
    for round in 1..=rounds {
        println!("\n== round {round}");
        scenario(&mut set, "planned failover (SENTINEL FAILOVER)", false).await;
        scenario(&mut set, "master killed (SIGKILL)", true).await;
    }
}
