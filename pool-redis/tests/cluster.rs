//! Redis Cluster against real processes: six nodes (three masters with a
//! replica each) created with `redis-cli --cluster create`, one cluster for
//! the whole file (one test; its scenarios run in order, each leaving the
//! cluster healthy for the next).

#![cfg(feature = "cluster")]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use pool_redis::cluster::{
    ClusterPoolExt, ClusterSettings, Config, DEFAULT_CLUSTER_OVERALL_TIMEOUT, Pool, PoolError,
};
use pool_redis::redis::{self, AsyncCommands};
use redis_harness::calls;
use redis_harness::cluster::{ClusterSet, query};

const TASKS: usize = 16;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cluster_scenarios() {
    let mut set = tokio::task::spawn_blocking(ClusterSet::start)
        .await
        .unwrap();
    let keys = keys_on_every_master(&set);
    connections_per_node(&set, &keys).await;
    sessions_and_checks(&set).await;
    timeouts_on_and_off(&set).await;
    a_slow_write_is_answered_once(&set).await;
    a_write_whose_connection_died_is_not_sent_again(&set, &keys, false).await;
    a_write_whose_connection_died_is_not_sent_again(&set, &keys, true).await;
    slot_migration(&set, &keys).await;
    failover(&mut set, &keys, false).await;
    failover(&mut set, &keys, true).await;
}

fn pool(set: &ClusterSet, size: usize) -> Pool {
    let mut cfg = Config::from_urls(set.urls());
    cfg.pool = Some(pool_redis::PoolConfig::new(size));
    cfg.create_pool(None).expect("a cluster pool")
}

/// A blocking command that outlives the overall timeout fails under the
/// bounded defaults, within the documented bound, and one inside it is
/// answered; with both timeouts off (redis-rs's defaults) the long one is
/// answered too.
async fn timeouts_on_and_off(set: &ClusterSet) {
    let blpop_for = |secs: u64| {
        let mut cmd = redis::cmd("BLPOP");
        cmd.arg("cluster:never-pushed").arg(secs);
        cmd
    };
    let blpop = || blpop_for(4);
    let bounded = pool(set, 1);
    let mut conn = bounded.get().await.unwrap();
    let started = Instant::now();
    let result: redis::RedisResult<Option<(String, String)>> =
        blpop().query_async(&mut *conn).await;
    assert!(
        result.is_err(),
        "BLPOP for 4 s answered within a 3 s overall timeout: {result:?}"
    );
    assert!(started.elapsed() <= DEFAULT_CLUSTER_OVERALL_TIMEOUT + Duration::from_secs(1));
    drop(conn);
    let mut conn = bounded.get().await.unwrap();
    let short: Option<(String, String)> = blpop_for(1)
        .query_async(&mut *conn)
        .await
        .expect("a 1 s BLPOP fits in the overall timeout");
    assert_eq!(short, None);
    drop(conn);

    let mut cfg = Config::from_urls(set.urls());
    cfg.pool = Some(pool_redis::PoolConfig::new(1));
    let mut settings = ClusterSettings::default();
    settings.response_timeout = None;
    settings.overall_timeout = None;
    let unbounded = cfg.builder_with(&settings).unwrap().build().unwrap();
    let mut conn = unbounded.get().await.unwrap();
    let started = Instant::now();
    // Bounded here only so a regression fails instead of hanging.
    let popped: Option<(String, String)> =
        tokio::time::timeout(Duration::from_secs(10), blpop().query_async(&mut *conn))
            .await
            .expect("BLPOP 2 s still waiting after 10 s")
            .expect("without timeouts the blocking command is answered");
    assert_eq!(popped, None);
    assert!(started.elapsed() >= Duration::from_secs(2));
}

/// Every node under `CLIENT PAUSE 1500 WRITE`: an `INCR` and an `LPOP`
/// sent meanwhile are answered when the pause ends (inside the overall
/// timeout), and each ran exactly once.
async fn a_slow_write_is_answered_once(set: &ClusterSet) {
    let pool = pool(set, 2);
    let mut conn = pool.get().await.unwrap();
    let _: () = conn.set("cluster:paused-counter", 10).await.unwrap();
    let _: () = conn.del("cluster:paused-list").await.unwrap();
    let _: () = conn
        .rpush("cluster:paused-list", &["a", "b", "c"])
        .await
        .unwrap();
    let ports: Vec<u16> = set
        .masters()
        .into_iter()
        .flat_map(|m| [m, set.replica_of(m)])
        .collect();
    for &port in &ports {
        let _: () = query(
            port,
            redis::cmd("CLIENT").arg("PAUSE").arg(1500).arg("WRITE"),
        )
        .unwrap();
    }
    let started = Instant::now();
    let counted: redis::RedisResult<i64> = conn.incr("cluster:paused-counter", 1).await;
    let popped: redis::RedisResult<Option<String>> = conn.lpop("cluster:paused-list", None).await;
    let took = started.elapsed();
    assert_eq!(counted.expect("the INCR's reply reached the caller"), 11);
    assert_eq!(
        popped
            .expect("the LPOP's reply reached the caller")
            .as_deref(),
        Some("a")
    );
    assert!(took < DEFAULT_CLUSTER_OVERALL_TIMEOUT, "{took:?}");
    let counter: i64 = conn.get("cluster:paused-counter").await.unwrap();
    let left: Vec<String> = conn.lrange("cluster:paused-list", 0, -1).await.unwrap();
    assert_eq!(counter, 11, "the INCR ran once");
    assert_eq!(left, ["b", "c"], "the LPOP ran once");
    drop(conn);

    // With a per-attempt timeout chosen: the write times out, its caller
    // gets the error, and it is not sent again (it runs once, when the
    // pause ends).
    let mut cfg = Config::from_urls(set.urls());
    cfg.pool = Some(pool_redis::PoolConfig::new(1));
    let mut settings = ClusterSettings::default();
    settings.response_timeout = Some(Duration::from_millis(300));
    let timed = cfg.builder_with(&settings).unwrap().build().unwrap();
    let mut conn = timed.get().await.unwrap();
    for &port in &ports {
        let _: () = query(
            port,
            redis::cmd("CLIENT").arg("PAUSE").arg(1000).arg("WRITE"),
        )
        .unwrap();
    }
    let counted: redis::RedisResult<i64> = conn.incr("cluster:paused-counter", 1).await;
    assert!(
        counted.is_err(),
        "answered within 300 ms of a 1 s pause: {counted:?}"
    );
    drop(conn);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let counter: i64 = query(
        owner_of(set, "cluster:paused-counter"),
        redis::cmd("GET").arg("cluster:paused-counter"),
    )
    .unwrap();
    assert_eq!(
        counter, 12,
        "the timed-out INCR ran once, not once per attempt"
    );
}

/// The master serving `key` (the one that answers a read of it instead
/// of redirecting).
fn owner_of(set: &ClusterSet, key: &str) -> u16 {
    set.masters()
        .into_iter()
        .find(|&m| query::<Option<String>>(m, redis::cmd("GET").arg(key)).is_ok())
        .expect("a master serves every key")
}

/// The node runs an `INCR` and the connection dies before its reply
/// leaves (the node sleeps in `DEBUG SLEEP` while the `INCR` and a
/// `CLIENT KILL` of every normal client queue up; it runs both in the
/// order they arrived, and the killed client's reply is never written).
/// The caller gets the error, and the `INCR` ran once: it is not sent again
/// on a new connection (redis-rs's own resend made it run twice).
async fn a_write_whose_connection_died_is_not_sent_again(
    set: &ClusterSet,
    keys: &[String],
    shared: bool,
) {
    let pool = pool(set, 1);
    let counter = format!("{{{}}}:died", keys[0]);
    let node = owner_of(set, &keys[0]);
    let url = format!("redis://127.0.0.1:{node}");
    for round in 0..3 {
        let _: () = query(node, redis::cmd("SET").arg(&counter).arg(0)).unwrap();
        let mut exclusive = pool.get().await.unwrap();
        let mut handle = pool.shared();
        // Both in place before the node goes to sleep.
        let _: i64 = if shared {
            handle.incr(&counter, 0).await.unwrap()
        } else {
            exclusive.incr(&counter, 0).await.unwrap()
        };
        let mut killer = redis::Client::open(url.as_str())
            .unwrap()
            .get_connection()
            .unwrap();
        let sleeper = std::thread::spawn({
            let url = url.clone();
            move || {
                let mut conn = redis::Client::open(url.as_str())
                    .unwrap()
                    .get_connection()
                    .unwrap();
                let _: redis::RedisResult<()> =
                    redis::cmd("DEBUG").arg("SLEEP").arg(0.6).query(&mut conn);
            }
        });
        tokio::time::sleep(Duration::from_millis(150)).await;
        let incr = async {
            if shared {
                handle.incr::<_, _, i64>(&counter, 1).await
            } else {
                exclusive.incr::<_, _, i64>(&counter, 1).await
            }
        };
        let kill = async {
            tokio::time::sleep(Duration::from_millis(150)).await;
            tokio::task::block_in_place(|| {
                let _: redis::RedisResult<i64> = redis::cmd("CLIENT")
                    .arg("KILL")
                    .arg("TYPE")
                    .arg("normal")
                    .arg("SKIPME")
                    .arg("yes")
                    .query(&mut killer);
            });
        };
        let (result, ()) = tokio::join!(incr, kill);
        sleeper.join().unwrap();
        let ran: i64 = query(node, redis::cmd("GET").arg(&counter)).unwrap();
        assert_eq!(
            ran,
            1,
            "round {round} ({}): the INCR ran {ran} times; the caller got {result:?}",
            if shared { "shared" } else { "exclusive" }
        );
        assert!(
            result.is_err(),
            "round {round}: its reply never left the node, yet the caller got {result:?}"
        );
    }
}

/// For each master, a key whose slot it serves (`CLUSTER KEYSLOT` against
/// `CLUSTER SLOTS`), so every master gets traffic.
fn keys_on_every_master(set: &ClusterSet) -> Vec<String> {
    let port = set.nodes[0].port;
    let slots: Vec<(i64, i64, u16)> = {
        let value: redis::Value = query(port, redis::cmd("CLUSTER").arg("SLOTS")).unwrap();
        let redis::Value::Array(ranges) = value else {
            panic!("CLUSTER SLOTS: {value:?}")
        };
        ranges
            .iter()
            .map(|r| {
                let redis::Value::Array(items) = r else {
                    panic!("{r:?}")
                };
                let int = |v: &redis::Value| match v {
                    redis::Value::Int(i) => *i,
                    other => panic!("{other:?}"),
                };
                let redis::Value::Array(master) = &items[2] else {
                    panic!()
                };
                (int(&items[0]), int(&items[1]), int(&master[1]) as u16)
            })
            .collect()
    };
    let mut by_master: BTreeMap<u16, String> = BTreeMap::new();
    for i in 0.. {
        let key = format!("cluster:key:{i}");
        let slot: i64 = query(port, redis::cmd("CLUSTER").arg("KEYSLOT").arg(&key)).unwrap();
        let (_, _, master) = slots
            .iter()
            .find(|(lo, hi, _)| (*lo..=*hi).contains(&slot))
            .expect("every slot served");
        by_master.entry(*master).or_insert(key);
        if by_master.len() == 3 {
            break;
        }
    }
    by_master.into_values().collect()
}

/// Normal client connections on `port` other than the caller's own
/// inspection connection.
fn clients(port: u16) -> usize {
    let list: String = query(port, redis::cmd("CLIENT").arg("LIST")).unwrap();
    list.lines()
        .filter(|l| l.contains(" flags=N ") && !l.contains(" cmd=client|list "))
        .count()
}

/// An exclusive pool of N holds N connections per master; shared mode one.
async fn connections_per_node(set: &ClusterSet, keys: &[String]) {
    let masters = set.masters();
    let before: Vec<usize> = masters.iter().map(|&p| clients(p)).collect();
    let exclusive = pool(set, 4);
    let mut held = Vec::new();
    for _ in 0..4 {
        let mut conn = exclusive.get().await.unwrap();
        for key in keys {
            let _: () = conn.set(key, 1).await.unwrap();
        }
        held.push(conn);
    }
    let with_exclusive: Vec<usize> = masters.iter().map(|&p| clients(p)).collect();
    drop(held);
    let shared_pool = pool(set, 4);
    let mut handles: Vec<_> = (0..8).map(|_| shared_pool.shared()).collect();
    for h in &mut handles {
        for key in keys {
            let _: () = h.set(key, 2).await.unwrap();
        }
    }
    let with_shared: Vec<usize> = masters.iter().map(|&p| clients(p)).collect();
    println!(
        "connections per master: before {before:?}, exclusive pool of 4 {with_exclusive:?}, plus shared mode (8 handles) {with_shared:?}"
    );
    for i in 0..masters.len() {
        assert_eq!(with_exclusive[i] - before[i], 4, "exclusive: 4 per master");
        assert_eq!(
            with_shared[i] - with_exclusive[i],
            1,
            "shared: 1 per master"
        );
    }
}

/// No PING per checkout; a bare MULTI or a WATCH closes the connection at
/// return; shared mode refuses session commands.
async fn sessions_and_checks(set: &ClusterSet) {
    let pool = pool(set, 2);
    let masters = set.masters();
    let mut admins = Vec::new();
    for &port in &masters {
        let client = redis::Client::open(format!("redis://127.0.0.1:{port}")).unwrap();
        admins.push(client.get_multiplexed_async_connection().await.unwrap());
    }
    {
        let mut conn = pool.get().await.unwrap();
        let _: () = conn.set("cluster:ttl", 1).await.unwrap();
    }
    let mut before = 0;
    for a in &mut admins {
        before += calls(a, "ping").await;
    }
    let first = pool_redis::cluster::Connection::id(&pool.get().await.unwrap());
    for _ in 0..20 {
        let mut conn = pool.get().await.unwrap();
        let _: () = conn.set("cluster:ttl", 1).await.unwrap();
    }
    let mut after = 0;
    for a in &mut admins {
        after += calls(a, "ping").await;
    }
    assert_eq!(
        after, before,
        "a checkout within the health-check interval sent a PING"
    );
    let again = pool_redis::cluster::Connection::id(&pool.get().await.unwrap());
    assert_eq!(first, again, "connections are reused");

    for session in [redis::cmd("MULTI"), {
        let mut watch = redis::cmd("WATCH");
        watch.arg("cluster:ttl");
        watch
    }] {
        let id = {
            let mut conn = pool.get().await.unwrap();
            let _: redis::Value = session.query_async(&mut *conn).await.unwrap();
            pool_redis::cluster::Connection::id(&conn)
        };
        let next = pool_redis::cluster::Connection::id(&pool.get().await.unwrap());
        assert_ne!(id, next, "a connection left in a session was reused");
    }

    let mut shared = pool.shared();
    let refused: redis::RedisResult<()> =
        redis::cmd("WATCH").arg("k").query_async(&mut shared).await;
    assert!(refused.unwrap_err().to_string().contains("WATCH"));
    let refused: redis::RedisResult<()> = redis::cmd("BLPOP")
        .arg("k")
        .arg(1)
        .query_async(&mut shared)
        .await;
    assert!(refused.unwrap_err().to_string().contains("BLPOP"));
    let atomic: (i64,) = redis::pipe()
        .atomic()
        .incr("{cluster:tx}a", 1)
        .query_async(&mut shared)
        .await
        .unwrap();
    assert!(atomic.0 >= 1);
}

/// When a request ended, how long it took, and its error.
type Outcome = (Instant, Duration, Option<String>);

/// Tasks doing SET/GET on `keys` through exclusive checkouts and shared
/// mode until stopped; each records (end time, how long it took, error).
/// Non-idempotent writes into the slot being migrated, counted: `INCR`
/// through a checkout and through shared mode; a two-command pipeline
/// whose second key is new each time (so while the slot migrates, the
/// first command runs on the old node and the second is refused with
/// `ASK`), through a checkout and shared mode; and `RPOPLPUSH` from a list
/// into a new key each time (while the list is still on the old node the
/// command is refused with `TRYAGAIN`, its keys being split). No
/// acknowledged write is lost and none runs twice.
struct Counters {
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<(&'static str, u64, u64)>>,
    tag: String,
}

const COUNTED: [&str; 5] = [
    "exclusive",
    "shared",
    "pipelined",
    "shared-pipelined",
    "moved",
];
/// Elements in the list `moved` takes from.
const LIST_LEN: usize = 100_000;

impl Counters {
    async fn start(pool: &Pool, key: &str) -> Self {
        let tag = format!("{{{key}}}");
        let mut conn = pool.get().await.unwrap();
        for name in COUNTED {
            let _: () = conn.del(format!("{tag}:{name}")).await.unwrap();
            let _: () = conn.set(format!("{tag}:{name}"), 0).await.unwrap();
        }
        let list = format!("{tag}:moved");
        let _: () = conn.del(&list).await.unwrap();
        for chunk in (0..LIST_LEN).collect::<Vec<_>>().chunks(10_000) {
            let _: () = conn.rpush(&list, chunk).await.unwrap();
        }
        drop(conn);
        let stop = Arc::new(AtomicBool::new(false));
        let tasks = COUNTED
            .into_iter()
            .map(|name| {
                let (pool, stop, tag) = (pool.clone(), stop.clone(), tag.clone());
                tokio::spawn(async move {
                    let counter = format!("{tag}:{name}");
                    let (mut ok, mut failed) = (0u64, 0u64);
                    let mut shared = pool.shared();
                    let mut n = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        n += 1;
                        let mut pipe = redis::pipe();
                        pipe.incr(&counter, 1)
                            .incr(format!("{tag}:new:{name}:{n}"), 1);
                        let result: redis::RedisResult<()> = match name {
                            "shared" => shared.incr::<_, _, i64>(&counter, 1).await.map(drop),
                            "shared-pipelined" => {
                                pipe.query_async::<(i64, i64)>(&mut shared).await.map(drop)
                            }
                            _ => {
                                let mut conn = pool.get().await.expect("checkout");
                                match name {
                                    "exclusive" => {
                                        conn.incr::<_, _, i64>(&counter, 1).await.map(drop)
                                    }
                                    "pipelined" => {
                                        pipe.query_async::<(i64, i64)>(&mut *conn).await.map(drop)
                                    }
                                    _ => conn
                                        .rpoplpush::<_, _, Option<String>>(
                                            &counter,
                                            format!("{tag}:to:{n}"),
                                        )
                                        .await
                                        .map(drop),
                                }
                            }
                        };
                        if result.is_ok() {
                            ok += 1
                        } else {
                            failed += 1
                        }
                        tokio::time::sleep(Duration::from_millis(2)).await;
                    }
                    (name, ok, failed)
                })
            })
            .collect();
        Self { stop, tasks, tag }
    }

    async fn stop_and_check(self, pool: &Pool) {
        self.stop.store(true, Ordering::Relaxed);
        let mut conn = pool.get().await.unwrap();
        for task in self.tasks {
            let (name, ok, failed) = task.await.unwrap();
            let key = format!("{}:{name}", self.tag);
            let ran: u64 = if name == "moved" {
                let left: u64 = conn.llen(&key).await.unwrap();
                LIST_LEN as u64 - left
            } else {
                conn.get(&key).await.unwrap()
            };
            println!("{name}: {ok} acknowledged, {failed} failed, ran {ran}");
            // Every acknowledged write is there; a write whose caller got
            // an error may have run, once at most.
            assert!(
                (ok..=ok + failed).contains(&ran),
                "{name}: ran {ran} times after {ok} acknowledged and {failed} failed"
            );
            assert!(
                ok > 0,
                "{name}: nothing was acknowledged: the check proves nothing"
            );
            if !name.ends_with("pipelined") {
                assert_eq!(
                    failed, 0,
                    "{name}: a single command failed during the migration"
                );
            }
        }
    }
}

struct Load {
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<Vec<Outcome>>>,
}

impl Load {
    fn start(pool: &Pool, keys: &[String]) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let tasks = (0..TASKS)
            .map(|i| {
                let pool = pool.clone();
                let stop = stop.clone();
                let key = keys[i % keys.len()].clone();
                let mut shared = (i % 2 == 1).then(|| pool.shared());
                tokio::spawn(async move {
                    let mut out = Vec::new();
                    let mut n = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        n += 1;
                        let start = Instant::now();
                        let result: Result<(), String> = async {
                            match &mut shared {
                                Some(shared) => {
                                    let _: () =
                                        shared.set(&key, n).await.map_err(|e| e.to_string())?;
                                    let _: u64 =
                                        shared.get(&key).await.map_err(|e| e.to_string())?;
                                }
                                None => {
                                    let mut conn =
                                        pool.get().await.map_err(|e: PoolError| e.to_string())?;
                                    let _: () =
                                        conn.set(&key, n).await.map_err(|e| e.to_string())?;
                                    let _: u64 = conn.get(&key).await.map_err(|e| e.to_string())?;
                                }
                            }
                            Ok(())
                        }
                        .await;
                        let mode = if shared.is_some() {
                            "shared"
                        } else {
                            "exclusive"
                        };
                        out.push((
                            Instant::now(),
                            start.elapsed(),
                            result.err().map(|e| format!("{mode}: {e}")),
                        ));
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                    out
                })
            })
            .collect();
        Self { stop, tasks }
    }

    async fn stop(self) -> Vec<Outcome> {
        self.stop.store(true, Ordering::Relaxed);
        let mut all = Vec::new();
        for t in self.tasks {
            all.extend(t.await.unwrap());
        }
        all.sort_by_key(|o| o.0);
        all
    }
}

/// A slot moved from its master to another with `MIGRATING`/`IMPORTING` and
/// `MIGRATE` under load: callers see no error (redis-rs follows `ASK` and
/// `MOVED` inside the request).
async fn slot_migration(set: &ClusterSet, keys: &[String]) {
    let pool = pool(set, TASKS);
    let load = Load::start(&pool, keys);
    let counters = Counters::start(&pool, &keys[0]).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let key = keys[0].clone();
    let (slot, owner, dest) =
        std::thread::scope(|s| s.spawn(|| set.migrate_slot_of(&key)).join().unwrap());
    tokio::time::sleep(Duration::from_millis(500)).await;
    counters.stop_and_check(&pool).await;
    let outcomes = load.stop().await;
    let errors: Vec<_> = outcomes.iter().filter(|o| o.2.is_some()).collect();
    println!(
        "slot {slot} migrated from {owner} to {dest}: {} requests, {} errors",
        outcomes.len(),
        errors.len()
    );
    assert!(
        errors.is_empty(),
        "errors during the migration: {:?}",
        &errors[..errors.len().min(5)]
    );
    set.wait_until_ok(Duration::from_secs(30));
}

/// A master's replica takes over (`CLUSTER FAILOVER`), or the master is
/// killed: no caller waits more than the overall timeout (plus slack), and
/// no error 3 s after the replica took over.
async fn failover(set: &mut ClusterSet, keys: &[String], kill: bool) {
    let pool = pool(set, TASKS);
    let load = Load::start(&pool, keys);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let old = set.masters()[0];
    let replica = set.replica_of(old);
    let from = Instant::now();
    if kill {
        set.node(old).stop();
    } else {
        let _: () = query(replica, redis::cmd("CLUSTER").arg("FAILOVER")).unwrap();
    }
    // The replica took over when it says so.
    let deadline = Instant::now() + Duration::from_secs(30);
    while redis_harness::role(replica).as_deref() != Some("master") {
        assert!(Instant::now() < deadline, "the replica never took over");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let took_over = Instant::now();
    // A demoted master (still running) must stop receiving the pool's
    // commands: from 1 s after the takeover, its SET and GET counts stay.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let served = |port: u16| -> u64 {
        let info: String = query(port, redis::cmd("INFO").arg("commandstats")).unwrap_or_default();
        ["cmdstat_set:calls=", "cmdstat_get:calls="]
            .iter()
            .filter_map(|key| {
                info.lines()
                    .find_map(|l| l.strip_prefix(key))
                    .and_then(|rest| rest.split(',').next()?.parse::<u64>().ok())
            })
            .sum()
    };
    let before = (!kill).then(|| served(old));
    tokio::time::sleep(Duration::from_secs(4)).await;
    let outcomes = load.stop().await;
    if let Some(before) = before {
        let after = served(old);
        assert_eq!(
            after,
            before,
            "the demoted master still served {} of the pool's commands after the takeover",
            after - before
        );
    }
    let errors: Vec<_> = outcomes
        .iter()
        .filter(|o| o.2.is_some() && o.0 >= from)
        .collect();
    let late: Vec<_> = errors
        .iter()
        .filter(|o| o.0 > took_over + Duration::from_secs(3))
        .collect();
    let longest = outcomes.iter().map(|o| o.1).max().unwrap_or_default();
    let last_error = errors
        .last()
        .map(|o| o.0.saturating_duration_since(took_over));
    println!(
        "{}: replica took over {:?} after the trigger; {} errors, the last {:?} after the takeover; longest request {:?}",
        if kill {
            "master killed"
        } else {
            "CLUSTER FAILOVER"
        },
        took_over - from,
        errors.len(),
        last_error,
        longest
    );
    assert!(
        late.is_empty(),
        "errors 3 s after the takeover: {:?}",
        &late[..late.len().min(5)]
    );
    assert!(
        longest <= DEFAULT_CLUSTER_OVERALL_TIMEOUT * 2 + Duration::from_secs(1),
        "a request took {longest:?}"
    );
    if kill {
        set.node(old).start_again();
    }
    set.wait_until_ok(Duration::from_secs(60));
}
