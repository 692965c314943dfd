//! Sentinel against real processes: a master, two replicas and three
//! sentinels (`redis-server sentinel.conf --sentinel`) on free loopback
//! ports, one set-up for the failover scenarios (one test, its scenarios in
//! order: each leaves the set-up settled for the next), and a set-up of its
//! own for the silent-deployment test.
//!
//! The clock is the test's own subscription to `+switch-master`: Sentinel's
//! election time is not the pool's doing. Figures are printed
//! (`--nocapture`) for docs/benchmarks.md.

#![cfg(feature = "sentinel")]

use std::time::{Duration, Instant};

use pool_redis::RedisPoolExt;
use pool_redis::sentinel::{Config, Pool, PoolError, SentinelServerType};
use redis_harness::failover::{
    Outcome, Report, SwitchClock, Writers, pool_clients, read_naming_node, write_naming_node,
};
use redis_harness::{MASTER_NAME, SentinelSet, calls, query_sentinel};

const TASKS: usize = 16;
/// From the switch to the first write the new master acknowledges.
const FIRST_SUCCESS_BOUND: Duration = Duration::from_secs(2);
/// After the first success, this long without a single error.
const QUIET: Duration = Duration::from_secs(5);
/// The old master must not see the pool's connections, nor acknowledge its
/// writes, this long after the switch.
const CLOSE_BOUND: Duration = Duration::from_secs(1);

/// The failover scenarios measure timings on a 2-core machine: one
/// Sentinel set-up at a time.
static ONE_SETUP_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sentinel_failover() {
    let _alone = ONE_SETUP_AT_A_TIME.lock().await;
    let mut set = tokio::task::spawn_blocking(|| SentinelSet::start(2, 3))
        .await
        .unwrap();
    basics(&set).await;
    planned_failover(&mut set).await;
    planned_failovers_lose_no_acknowledged_write(&mut set).await;
    master_killed(&mut set).await;
    replica_killed(&mut set).await;
    sentinel_killed(&mut set).await;
}

/// Five sentinels that name a master which accepts connections and never
/// answers (a half-open partition): a `get()` ends within the discovery
/// deadline, with an error naming it, instead of checking the silent node
/// once per sentinel, a second each, under the lock every new connection
/// waits on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_of_a_silent_deployment_ends_at_its_deadline() {
    let master = redis_harness::RedisServer::start();
    let proxy = redis_harness::PartitionProxy::start(([127, 0, 0, 1], master.port).into()).await;
    let port = proxy.port();
    let sentinels: Vec<_> = tokio::task::spawn_blocking(move || {
        (0..5)
            .map(|_| redis_harness::start_sentinel(port))
            .collect::<Vec<_>>()
    })
    .await
    .unwrap();
    proxy.cut();
    let cfg = Config::from_urls(
        sentinels.iter().map(|s| s.url()).collect::<Vec<_>>(),
        MASTER_NAME.to_owned(),
        SentinelServerType::Master,
    );
    let pool = cfg.create_pool(None).unwrap();
    let started = Instant::now();
    let err = tokio::time::timeout(Duration::from_secs(30), pool.get())
        .await
        .expect("get() hung")
        .expect_err("no node answers");
    let took = started.elapsed();
    let text = format!("{err}");
    assert!(text.contains("Sentinel discovery timed out"), "{text}");
    assert!(text.contains(MASTER_NAME), "{text}");
    assert!(
        took < pool_redis::sentinel::DISCOVERY_TIMEOUT + Duration::from_secs(1),
        "{took:?}"
    );
}

/// A planned failover that Sentinel aborts: the selected replica cannot
/// be promoted (`SLAVEOF`/`REPLICAOF` are renamed away on it), so after
/// the failover timeout (2 s here) a sentinel announces
/// `-failover-abort-slave-timeout`. The pool stops writing when the
/// failover starts and resumes on the old master the moment the abort is
/// announced, not when its own fence limit runs out (5 s after the start);
/// nothing it acknowledged is lost, and a write that waited too long fails
/// naming the failover.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_aborted_failover_resumes_on_the_old_master() {
    const FAILOVER_TIMEOUT_MS: u64 = 2000;
    let _alone = ONE_SETUP_AT_A_TIME.lock().await;
    let set = tokio::task::spawn_blocking(|| {
        SentinelSet::start_with(
            1,
            3,
            &[
                "--rename-command",
                "SLAVEOF",
                "",
                "--rename-command",
                "REPLICAOF",
                "",
            ],
        )
    })
    .await
    .unwrap();
    let old = set.master_port();
    let leader = set.sentinels[0].port;
    for s in &set.sentinels {
        let port = s.port;
        tokio::task::spawn_blocking(move || {
            let _: () = query_sentinel(
                port,
                redis::cmd("SENTINEL")
                    .arg("SET")
                    .arg(MASTER_NAME)
                    .arg("failover-timeout")
                    .arg(FAILOVER_TIMEOUT_MS),
            )
            .expect("SENTINEL SET failover-timeout");
        })
        .await
        .unwrap();
    }
    let selected = event_clock(leader, "+selected-slave").await;
    let aborted = event_clock(leader, "-failover-abort-*").await;
    let pool = sentinel_pool(&set, SentinelServerType::Master);
    let p = pool.clone();
    let writers = Writers::start(TASKS, move || {
        let p = p.clone();
        async move {
            let mut conn = p.get().await.map_err(|e| e.to_string())?;
            let ((_, port),): ((String, u16),) = write_naming_node()
                .query_async(&mut conn)
                .await
                .map_err(|e| e.to_string())?;
            Ok(port)
        }
    });
    tokio::time::sleep(Duration::from_secs(1)).await;
    tokio::task::spawn_blocking(move || sentinel_failover_command(leader))
        .await
        .unwrap();
    let (abort_at, event) = tokio::time::timeout(Duration::from_secs(15), aborted)
        .await
        .expect("no -failover-abort-* within 15 s")
        .expect("the abort clock");
    assert_eq!(event, "-failover-abort-slave-timeout");
    let (selected_at, _) = selected.await.expect("+selected-slave before the abort");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let outcomes = writers.stop().await;

    assert_eq!(set.master_port(), old, "the master is unchanged");
    assert_eq!(redis_harness::role(old).as_deref(), Some("master"));
    let acknowledged = outcomes.iter().filter(|o| o.result.is_ok()).count();
    assert!(
        outcomes
            .iter()
            .all(|o| o.result.as_ref().map_or(true, |&p| p == old)),
        "a write went elsewhere than the old master"
    );
    // The fence held from the replica's selection (plus the writes already
    // on the wire then) to the abort (less a margin: the pool may hear of
    // the abort a little before this test's own subscription does).
    let fenced = selected_at + Duration::from_millis(100)..abort_at - Duration::from_millis(50);
    let during: Vec<&Outcome> = outcomes
        .iter()
        .filter(|o| o.result.is_ok() && fenced.contains(&o.at))
        .collect();
    assert!(
        during.is_empty(),
        "{} writes acknowledged while the failover ran (began, ended after the selection; the abort {:?} after it): {:?}",
        during.len(),
        abort_at - selected_at,
        during
            .iter()
            .map(|o| (o.at - o.took - selected_at, o.at - selected_at))
            .collect::<Vec<_>>()
    );
    // ...and lifted at the abort.
    let resumed = outcomes
        .iter()
        .find(|o| o.at >= abort_at && o.result.is_ok())
        .map(|o| o.at - abort_at)
        .expect("writes resumed after the abort");
    println!("aborted failover: writes resumed {resumed:?} after the abort was announced");
    assert!(
        resumed < Duration::from_millis(500),
        "writes resumed {resumed:?} after the abort"
    );
    for o in &outcomes {
        if let Err(e) = &o.result {
            assert!(
                e.contains("failover"),
                "an error not naming the failover: {e}"
            );
        }
    }
    let mut admin = redis::Client::open(format!("redis://127.0.0.1:{old}"))
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let counted: i64 = redis::cmd("GET")
        .arg("failover:counter")
        .query_async(&mut admin)
        .await
        .unwrap();
    assert!(
        counted >= acknowledged as i64,
        "{acknowledged} writes acknowledged, {counted} on the master"
    );
}

/// Resolves with the time and channel of the first event matching
/// `pattern` that `sentinel_port` publishes about [`MASTER_NAME`];
/// subscribed when this returns.
async fn event_clock(
    sentinel_port: u16,
    pattern: &str,
) -> tokio::sync::oneshot::Receiver<(Instant, String)> {
    use futures_util::StreamExt;
    let client = redis::Client::open(format!("redis://127.0.0.1:{sentinel_port}")).unwrap();
    let mut pubsub = client.get_async_pubsub().await.unwrap();
    pubsub.psubscribe(pattern).await.unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let mut messages = pubsub.into_on_message();
        while let Some(msg) = messages.next().await {
            let payload: String = msg.get_payload().unwrap_or_default();
            if payload.contains(MASTER_NAME) {
                let _ = tx.send((Instant::now(), msg.get_channel_name().to_owned()));
                return;
            }
        }
    });
    rx
}

fn sentinel_pool(set: &SentinelSet, server_type: SentinelServerType) -> Pool {
    let mut cfg = Config::from_urls(set.sentinel_urls(), MASTER_NAME.to_owned(), server_type);
    cfg.pool = Some(pool_redis::PoolConfig {
        max_size: TASKS + 1,
        timeouts: pool_redis::Timeouts {
            wait: Some(Duration::from_secs(2)),
            create: Some(Duration::from_secs(1)),
            recycle: Some(Duration::from_secs(1)),
        },
        ..Default::default()
    });
    cfg.create_pool(None).expect("a Sentinel pool")
}

/// A write (`INCR`) and the port of the node that acknowledged it, on one
/// connection: a non-atomic pipeline is answered by one node.
fn kind(e: &redis::RedisError) -> String {
    e.code().unwrap_or(e.category()).to_owned()
}

fn pool_kind(e: &PoolError) -> String {
    match e {
        PoolError::Backend(e) => kind(e),
        PoolError::Timeout(t) => format!("pool timeout ({t:?})"),
        PoolError::Unavailable { .. } => "pool unavailable (breaker open)".to_owned(),
        other => format!("{other}"),
    }
}

async fn exclusive(pool: &Pool, pipe: &redis::Pipeline) -> Result<u16, String> {
    let mut conn = pool.get().await.map_err(|e| pool_kind(&e))?;
    let ((_, port),): ((String, u16),) = pipe.query_async(&mut conn).await.map_err(|e| kind(&e))?;
    Ok(port)
}

async fn shared(
    conn: &mut pool_redis::SharedConnection,
    pipe: &redis::Pipeline,
) -> Result<u16, String> {
    let ((_, port),): ((String, u16),) = pipe.query_async(conn).await.map_err(|e| kind(&e))?;
    Ok(port)
}

/// One writer holding one checkout for the whole run: its connection must
/// follow the master too.
async fn held_writer(pool: &Pool) -> Writers {
    let conn = pool.get().await.expect("a connection to hold");
    let held = std::sync::Arc::new(tokio::sync::Mutex::new(conn));
    Writers::start(1, move || {
        let held = held.clone();
        async move {
            let mut conn = held.lock().await;
            let ((_, port),): ((String, u16),) = write_naming_node()
                .query_async(&mut *conn)
                .await
                .map_err(|e| kind(&e))?;
            Ok(port)
        }
    })
}

/// 16 exclusive and 16 shared-mode writers.
fn writers(pool: &Pool) -> (Writers, Writers) {
    let p = pool.clone();
    let exclusive = Writers::start(TASKS, move || {
        let p = p.clone();
        async move { exclusive(&p, &write_naming_node()).await }
    });
    let handle = pool.shared();
    let shared = Writers::start(TASKS, move || {
        let mut conn = handle.clone();
        async move { shared(&mut conn, &write_naming_node()).await }
    });
    (exclusive, shared)
}

async fn settle(set: &SentinelSet) {
    std::thread::scope(|s| {
        s.spawn(|| set.wait_until_settled(Duration::from_secs(40)));
    });
}

fn sentinel_failover_command(sentinel_port: u16) {
    let _: String = query_sentinel(
        sentinel_port,
        redis::cmd("SENTINEL").arg("FAILOVER").arg(MASTER_NAME),
    )
    .expect("SENTINEL FAILOVER accepted");
}

fn check(name: &str, mode: &str, report: &Report) {
    println!("{name} / {mode}: {report:?}");
    let first = report
        .first_success
        .unwrap_or_else(|| panic!("{name} / {mode}: no write reached the new master: {report:?}"));
    assert!(
        first <= FIRST_SUCCESS_BOUND,
        "{name} / {mode}: first write on the new master {first:?} after the switch: {report:?}"
    );
    assert_eq!(
        report.errors_after_first_success, 0,
        "{name} / {mode}: errors in the {QUIET:?} after the first success: {report:?}"
    );
    assert_eq!(
        report.late_old_master_acks, 0,
        "{name} / {mode}: the old master acknowledged writes {CLOSE_BOUND:?} after the switch: {report:?}"
    );
}

/// Drop-in behaviour beyond deadpool-redis's own tests: no health check per
/// checkout, shared mode and pub/sub on the master.
async fn basics(set: &SentinelSet) {
    let master = set.master_port();
    let pool = sentinel_pool(set, SentinelServerType::Master);
    assert_eq!(exclusive(&pool, &write_naming_node()).await, Ok(master));
    assert_eq!(pool.manager().nodes(), vec![format!("127.0.0.1:{master}")]);
    // Sentinels PING the master themselves; the pool's check is UNWATCH +
    // PING, so count UNWATCH.
    let client = redis::Client::open(format!("redis://127.0.0.1:{master}")).unwrap();
    let mut admin = client.get_multiplexed_async_connection().await.unwrap();
    let before = calls(&mut admin, "unwatch").await;
    for _ in 0..20 {
        assert_eq!(exclusive(&pool, &write_naming_node()).await, Ok(master));
    }
    assert_eq!(
        calls(&mut admin, "unwatch").await,
        before,
        "a checkout within the health-check interval sent a check"
    );
    let mut handle = pool.shared();
    assert_eq!(shared(&mut handle, &write_naming_node()).await, Ok(master));

    let mut pubsub = pool.pubsub().await.expect("a pub/sub connection");
    pubsub.subscribe("sentinel:news").await.unwrap();
    let _: i64 = redis::cmd("PUBLISH")
        .arg("sentinel:news")
        .arg("hello")
        .query_async(&mut admin)
        .await
        .unwrap();
    role_pools(set).await;

    let msg = tokio::time::timeout(Duration::from_secs(5), {
        use futures_util::StreamExt;
        async move { pubsub.on_message().next().await }
    })
    .await
    .expect("a message within 5 s")
    .expect("a message");
    assert_eq!(msg.get_payload::<String>().unwrap(), "hello");
}

/// The role pools take the master and the replicas from Sentinel when
/// their addresses are `redis+sentinel://` ones.
async fn role_pools(set: &SentinelSet) {
    let master = set.master_port();
    let sentinels: Vec<String> = set
        .sentinels
        .iter()
        .map(|s| format!("127.0.0.1:{}", s.port))
        .collect();
    let url = format!("redis+sentinel://{}/{MASTER_NAME}", sentinels.join(","));
    let pools = pool_redis::RolePools::from_vars(
        [("REDIS_POOL_PRESET", "minimal")],
        &pool_redis::RoleAddrs {
            master: url.clone(),
            replica: url,
            local: format!("redis://127.0.0.1:{master}"),
        },
    )
    .expect("role pools from Sentinel");
    let ((_, port),): ((String, u16),) = read_naming_node()
        .query_async(&mut pools.writer().await.unwrap())
        .await
        .unwrap();
    assert_eq!(port, master, "writes go to the master Sentinel names");
    let ((_, port),): ((String, u16),) = read_naming_node()
        .query_async(&mut pools.reader().await.unwrap())
        .await
        .unwrap();
    assert_ne!(port, master, "reads go to a replica");
    assert!(set.nodes.iter().any(|n| n.port == port));
    assert_eq!(pools.read_fallbacks(), 0);
}

/// Runs writers through a failover started by `trigger`; returns the
/// reports of both modes and the old and new master.
async fn through_failover(
    set: &mut SentinelSet,
    clock_sentinel: usize,
    trigger: impl FnOnce(&mut SentinelSet),
) -> (Report, Report, u16, u16) {
    let old = set.master_port();
    let baseline = pool_clients(old).await;
    let pool = sentinel_pool(set, SentinelServerType::Master);
    // A pool that sits idle through the failover: its connections must be
    // closed too, not only those the writers cycle through.
    let idle = sentinel_pool(set, SentinelServerType::Master);
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(idle.get().await.expect("an idle pool's connection"));
    }
    drop(held);
    assert_eq!(idle.status().available, 4);
    assert_eq!(
        shared(&mut idle.shared(), &write_naming_node()).await,
        Ok(old)
    );
    let clock = SwitchClock::start(set.sentinels[clock_sentinel].port).await;
    let (excl, shrd) = writers(&pool);
    let held = held_writer(&pool).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let from = Instant::now();
    trigger(set);
    let (switch, new) = clock.wait(Duration::from_secs(30)).await;
    assert_ne!(new, old, "the switch names a new master");
    tokio::time::sleep_until((switch + CLOSE_BOUND).into()).await;
    assert_eq!(pool.manager().nodes(), vec![format!("127.0.0.1:{new}")]);
    assert_eq!(idle.manager().nodes(), vec![format!("127.0.0.1:{new}")]);
    let ours: Vec<i64> = pool_clients(old)
        .await
        .into_iter()
        .filter(|id| !baseline.contains(id))
        .collect();
    assert!(
        ours.is_empty(),
        "{CLOSE_BOUND:?} after the switch the old master still has the pool's connections {ours:?}"
    );
    assert_eq!(pool.manager().nodes(), vec![format!("127.0.0.1:{new}")]);
    tokio::time::sleep_until((switch + QUIET + FIRST_SUCCESS_BOUND).into()).await;
    let reports = [excl.stop().await, shrd.stop().await, held.stop().await]
        .map(|outcomes| Report::new(&outcomes, from, switch, old, new, QUIET, CLOSE_BOUND));
    assert_eq!(
        redis_harness::role(new).as_deref(),
        Some("master"),
        "the node that acknowledged writes"
    );
    println!("pool saw {} node change(s)", pool.manager().node_changes());
    check("held checkout", "exclusive", &reports[2]);
    let [a, b, _] = reports;
    (a, b, old, new)
}

/// `SENTINEL FAILOVER` under writes.
async fn planned_failover(set: &mut SentinelSet) {
    let (excl, shrd, _, _) = through_failover(set, 0, |set| {
        sentinel_failover_command(set.sentinels[0].port)
    })
    .await;
    check("planned failover", "exclusive", &excl);
    check("planned failover", "shared", &shrd);
    settle(set).await;
}

/// What one writer of the counted-`INCR` load saw.
#[derive(Default)]
struct Counted {
    /// Increments the master acknowledged.
    acknowledged: i64,
    /// Requests that failed (not acknowledged; they may have run).
    errors: u64,
}

/// 16 writers (8 with a checkout per pipeline, 8 on the shared
/// connections), each sending pipelines of 10 `INCR` of its own key,
/// through `FAILOVERS` planned failovers (`SENTINEL FAILOVER`, to each
/// sentinel in turn). Afterwards every key on the new master counts at
/// least the increments acknowledged for it (every `INCR` that ran adds
/// one; an acknowledged one the old master ran after the promotion is
/// missing): no acknowledged write was lost. (Without the failover fence the old master
/// acknowledged writes after the promotion, lost when it was made a
/// replica.)
async fn planned_failovers_lose_no_acknowledged_write(set: &mut SentinelSet) {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    const FAILOVERS: usize = 5;
    const WRITERS: usize = 16;
    let pool = sentinel_pool(set, SentinelServerType::Master);
    for round in 0..FAILOVERS {
        let old = set.master_port();
        let stop = Arc::new(AtomicBool::new(false));
        let tasks: Vec<_> = (0..WRITERS)
            .map(|w| {
                let (pool, stop) = (pool.clone(), stop.clone());
                tokio::spawn(async move {
                    let key = format!("lossless:{round}:{w}");
                    let mut pipe = redis::pipe();
                    for _ in 0..10 {
                        pipe.cmd("INCR").arg(&key);
                    }
                    let mut seen = Counted::default();
                    let mut shared = pool.shared();
                    while !stop.load(Ordering::Relaxed) {
                        let answer: redis::RedisResult<Vec<i64>> = if w % 2 == 0 {
                            match pool.get().await {
                                Ok(mut conn) => pipe.query_async(&mut conn).await,
                                Err(e) => Err(redis::RedisError::from((
                                    redis::ErrorKind::Io,
                                    "checkout",
                                    e.to_string(),
                                ))),
                            }
                        } else {
                            pipe.query_async(&mut shared).await
                        };
                        match answer {
                            Ok(values) => seen.acknowledged += values.len() as i64,
                            Err(_) => {
                                seen.errors += 1;
                                tokio::time::sleep(Duration::from_millis(5)).await;
                            }
                        }
                    }
                    (key, seen)
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_secs(1)).await;
        let clock = SwitchClock::start(set.sentinels[0].port).await;
        let leader = set.sentinels[round % set.sentinels.len()].port;
        tokio::task::spawn_blocking(move || sentinel_failover_command(leader))
            .await
            .unwrap();
        let (_, new) = clock.wait(Duration::from_secs(30)).await;
        assert_ne!(new, old, "round {round}: the switch names a new master");
        tokio::time::sleep(Duration::from_millis(1500)).await;
        stop.store(true, Ordering::Relaxed);
        let mut writers = Vec::new();
        for t in tasks {
            writers.push(t.await.unwrap());
        }
        settle(set).await;
        let mut new_master = redis::Client::open(format!("redis://127.0.0.1:{new}"))
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap();
        let (mut acknowledged, mut errors, mut lost) = (0, 0, 0);
        for (key, seen) in &writers {
            let value: Option<i64> = redis::cmd("GET")
                .arg(key)
                .query_async(&mut new_master)
                .await
                .unwrap();
            let value = value.unwrap_or(0);
            acknowledged += seen.acknowledged;
            errors += seen.errors;
            lost += (seen.acknowledged - value).max(0);
        }
        println!(
            "planned failover {round}: {acknowledged} increments acknowledged, {errors} requests failed, {lost} acknowledged increments lost"
        );
        assert_eq!(
            lost, 0,
            "round {round}: acknowledged increments missing from the new master"
        );
        assert!(acknowledged > 0, "round {round}: nothing was written");
    }
}

/// The master killed under writes; brought back afterwards (it rejoins as
/// a replica).
async fn master_killed(set: &mut SentinelSet) {
    let (excl, shrd, old, _) = through_failover(set, 2, |set| {
        let old = set.master_port();
        set.node(old).stop();
    })
    .await;
    check("master killed", "exclusive", &excl);
    check("master killed", "shared", &shrd);
    set.node(old).start_again();
    settle(set).await;
}

/// A replica pool under reads while one replica is killed: reads go on on
/// the other replica (or the master), errors only inside the detection
/// window.
async fn replica_killed(set: &mut SentinelSet) {
    const DETECTION: Duration = Duration::from_secs(2);
    let master = set.master_port();
    let pool = sentinel_pool(set, SentinelServerType::Replica);
    let p = pool.clone();
    let readers = Writers::start(TASKS, move || {
        let p = p.clone();
        async move { exclusive(&p, &read_naming_node()).await }
    });
    tokio::time::sleep(Duration::from_secs(1)).await;
    let serving = pool.manager().nodes();
    assert_eq!(serving.len(), 2, "both replicas serve: {serving:?}");
    let victim: u16 = serving[0].rsplit(':').next().unwrap().parse().unwrap();
    assert_ne!(victim, master);
    let from = Instant::now();
    set.node(victim).stop();
    tokio::time::sleep(Duration::from_secs(6)).await;
    let outcomes = readers.stop().await;
    let errors: Vec<&Outcome> = outcomes
        .iter()
        .filter(|o| o.at >= from && o.result.is_err())
        .collect();
    let late: Vec<&&Outcome> = errors.iter().filter(|o| o.at > from + DETECTION).collect();
    let after: Vec<u16> = outcomes
        .iter()
        .filter(|o| o.at > from + DETECTION)
        .filter_map(|o| o.result.clone().ok())
        .collect();
    println!(
        "replica killed: {} errors, last {:?} after the kill, {} reads after {DETECTION:?}",
        errors.len(),
        errors.last().map(|o| o.at - from),
        after.len()
    );
    assert!(
        late.is_empty(),
        "errors after the detection window: {late:?}"
    );
    assert!(!after.is_empty(), "reads went on");
    assert!(!after.contains(&victim));
    assert!(
        !pool
            .manager()
            .nodes()
            .contains(&format!("127.0.0.1:{victim}"))
    );
    set.node(victim).start_again();
    settle(set).await;
}

/// The sentinel the pool listens to is killed; a failover through another
/// sentinel is still followed, and a new pool still finds the master.
async fn sentinel_killed(set: &mut SentinelSet) {
    let (excl, shrd, _, new) = through_failover(set, 2, |set| {
        set.sentinels[0].stop();
        std::thread::sleep(Duration::from_millis(200));
        sentinel_failover_command(set.sentinels[1].port);
    })
    .await;
    check("sentinel killed", "exclusive", &excl);
    check("sentinel killed", "shared", &shrd);
    let fresh = sentinel_pool(set, SentinelServerType::Master);
    assert_eq!(exclusive(&fresh, &write_naming_node()).await, Ok(new));
}
