//! pool-postgres against a real PostgreSQL server (one per test binary,
//! started with initdb/pg_ctl in a temp dir and stopped at the end; the
//! scenarios share it and run one after another, each on its own database
//! objects and application name).

use std::time::{Duration, Instant};

mod common;

use common::chain;
use pg_harness::PgServer;
use pool_postgres::{
    ChannelBinding, Config, ManagerConfig, Pool, PoolConfig, RecyclingMethod, Runtime,
    TargetSessionAttrs, tokio_postgres::NoTls,
};

const APP_PASSWORD: &str = "app-s3cret-pw";

#[test]
fn against_a_real_server() {
    let server = PgServer::start();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        setup(&server).await;
        for (name, scenario) in scenarios() {
            eprintln!("scenario: {name}");
            scenario(&server).await;
        }
    });
}

type Scenario =
    for<'a> fn(&'a PgServer) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + 'a>>;

fn scenarios() -> Vec<(&'static str, Scenario)> {
    vec![
        ("dead connections are not handed out", |s| {
            Box::pin(dead_connections_not_handed_out(s))
        }),
        (
            "a connection ended a moment before its checkout is replaced invisibly (default)",
            |s| Box::pin(ended_before_first_statement(s, RecyclingMethod::Verified)),
        ),
        (
            "a connection ended a moment before its checkout is replaced invisibly (Fast)",
            |s| Box::pin(ended_before_first_statement(s, RecyclingMethod::Fast)),
        ),
        ("only a checkout's first statement is moved", |s| {
            Box::pin(only_the_first_statement_is_moved(s))
        }),
        ("no transaction reaches the next user (default)", |s| {
            Box::pin(no_transaction_leaks(s, RecyclingMethod::Verified, None))
        }),
        (
            "no transaction reaches the next user (checked every checkout)",
            |s| {
                Box::pin(no_transaction_leaks(
                    s,
                    RecyclingMethod::Verified,
                    Some(Duration::ZERO),
                ))
            },
        ),
        ("no transaction reaches the next user (Clean)", |s| {
            Box::pin(no_transaction_leaks(s, RecyclingMethod::Clean, None))
        }),
        ("Clean resets temporary tables and SET", |s| {
            Box::pin(clean_resets_session(s))
        }),
        ("Fast sends nothing at checkout", |s| {
            Box::pin(fast_sends_nothing(s))
        }),
        ("statement cache is bounded, LRU", |s| {
            Box::pin(statement_cache_bounded(s))
        }),
        ("stale cached plan evicted and rerun", |s| {
            Box::pin(stale_plan(s))
        }),
        ("pool-core settings from Config", |s| {
            Box::pin(pool_settings(s))
        }),
        ("declared settings are applied", |s| {
            Box::pin(settings_applied(s))
        }),
        ("tuned preset", |s| Box::pin(tuned_preset(s))),
        ("wrong password and unreachable server fail fast", |s| {
            Box::pin(failures_fail_fast(s))
        }),
        ("server restart under load", |s| {
            Box::pin(restart_under_load(s))
        }),
    ]
}

async fn setup(server: &PgServer) {
    let admin = server.admin().await;
    admin.batch_execute("CREATE DATABASE app").await.unwrap();
    admin
        .batch_execute(&format!("CREATE ROLE app LOGIN PASSWORD '{APP_PASSWORD}'"))
        .await
        .unwrap();
    admin
        .batch_execute("ALTER DATABASE app OWNER TO app")
        .await
        .unwrap();
}

fn config(server: &PgServer, app: &str) -> Config {
    let mut cfg = Config::new();
    cfg.url = Some(server.url("app", "app"));
    cfg.password = Some(APP_PASSWORD.into());
    cfg.application_name = Some(app.into());
    cfg
}

fn pool_of(cfg: &Config, max: usize) -> Pool {
    let mut cfg = cfg.clone();
    let mut pc = cfg.pool.unwrap_or_else(|| PoolConfig::new(max));
    pc.max_size = max;
    pc.timeouts.wait = Some(Duration::from_secs(10));
    cfg.pool = Some(pc);
    cfg.create_pool(Some(Runtime::Tokio1), NoTls).unwrap()
}

/// Every pooled connection killed with `pg_terminate_backend` (and gone
/// from `pg_stat_activity`): none of the next first queries fails.
async fn dead_connections_not_handed_out(server: &PgServer) {
    let pool = pool_of(&config(server, "dead-conns"), 8);
    let clients: Vec<_> = futures_util::future::join_all((0..8).map(|_| pool.get())).await;
    for c in &clients {
        c.as_ref()
            .unwrap()
            .query_one("SELECT 1", &[])
            .await
            .unwrap();
    }
    drop(clients);
    assert_eq!(pool.status().available, 8);
    for round in 0..2 {
        let killed = server.terminate_backends("dead-conns").await;
        assert_eq!(
            killed, 8,
            "round {round}: all 8 pooled connections terminated"
        );
        let results = futures_util::future::join_all((0..8).map(|_| async {
            let c = pool.get().await.map_err(|e| e.to_string())?;
            c.query_one("SELECT 1", &[])
                .await
                .map_err(|e| e.to_string())?;
            Ok::<_, String>(c)
        }))
        .await;
        let failed: Vec<_> = results.iter().filter_map(|r| r.as_ref().err()).collect();
        assert!(
            failed.is_empty(),
            "round {round}: first queries failed: {failed:?}"
        );
    }
}

/// Eight warm connections terminated by the server (`pg_terminate_backend`,
/// not waiting for them to go), then eight checkouts at once, each running
/// a statement: none fails, in every round. Without the replacement of a
/// connection found ended at its checkout's first statement, some of them
/// get `FATAL: terminating connection due to administrator command`.
async fn ended_before_first_statement(server: &PgServer, method: RecyclingMethod) {
    let app = format!("ended-{method:?}").to_lowercase();
    let mut cfg = config(server, &app);
    cfg.manager = Some(ManagerConfig {
        recycling_method: method,
    });
    let pool = pool_of(&cfg, 8);
    let admin = server.admin().await;
    let mut failed = Vec::new();
    for round in 0..5 {
        let clients: Vec<_> = futures_util::future::join_all((0..8).map(|_| pool.get())).await;
        for c in &clients {
            c.as_ref().unwrap().execute("SELECT 1", &[]).await.unwrap();
        }
        drop(clients);
        let killed = PgServer::terminate_backends_now(&admin, &app).await;
        assert_eq!(killed, 8, "round {round}");
        let results = futures_util::future::join_all((0..8).map(|i| {
            let pool = pool.clone();
            async move {
                let c = pool.get().await.map_err(|e| chain(&e))?;
                let row = c
                    .query_one("SELECT $1::INT", &[&i])
                    .await
                    .map_err(|e| chain(&e))?;
                assert_eq!(row.get::<_, i32>(0), i);
                Ok::<_, String>(())
            }
        }))
        .await;
        failed.extend(results.into_iter().filter_map(Result::err));
    }
    assert!(
        failed.is_empty(),
        "{} first statements failed: {failed:?}",
        failed.len()
    );
}

/// Once a checkout has sent something, a connection ended under it is the
/// caller's error: the statement is not run again elsewhere.
async fn only_the_first_statement_is_moved(server: &PgServer) {
    let app = "first-only";
    let pool = pool_of(&config(server, app), 1);
    let c = pool.get().await.unwrap();
    c.execute("SELECT 1", &[]).await.unwrap();
    assert_eq!(server.terminate_backends(app).await, 1);
    let err = c
        .execute("SELECT 2", &[])
        .await
        .expect_err("the checkout's second statement is not moved");
    let text = chain(&err);
    assert!(
        text.contains("terminating connection") || text.contains("closed"),
        "{text}"
    );
    drop(c);
    // The pool drops that connection at its return; the next checkout is
    // served by a new one.
    let c = pool.get().await.unwrap();
    c.execute("SELECT 3", &[]).await.unwrap();
}

/// Each way a transaction can be left open; the next user (same
/// connection: a pool of one) must autocommit. With the default TTL the
/// next checkout comes moments later, so its `ROLLBACK` is sent ahead of
/// the next statement; with `check_every` = zero it is awaited at checkout.
async fn no_transaction_leaks(
    server: &PgServer,
    method: RecyclingMethod,
    check_every: Option<Duration>,
) {
    let app = format!("leaks-{method:?}-{}", check_every.is_some()).to_lowercase();
    let mut cfg = config(server, &app);
    cfg.manager = Some(ManagerConfig {
        recycling_method: method,
    });
    let mut pc = PoolConfig::new(1);
    pc.health_check_interval = check_every;
    cfg.pool = Some(pc);
    let pool = pool_of(&cfg, 1);
    let admin = server.admin_in("app").await;
    let table = format!("leak_{}", app.replace('-', "_"));
    admin
        .batch_execute(&format!(
            "CREATE TABLE {table} (who text); GRANT ALL ON {table} TO app"
        ))
        .await
        .unwrap();
    let paths = [
        "batch_execute",
        "simple_query",
        "raw client",
        "forgotten Transaction",
        "forgotten raw Transaction",
    ];
    for path in paths {
        {
            let mut c = pool.get().await.unwrap();
            let insert = format!("INSERT INTO {table} VALUES ('left open by {path}')");
            match path {
                "batch_execute" => c.batch_execute(&format!("BEGIN; {insert}")).await.unwrap(),
                "simple_query" => drop(c.simple_query(&format!("BEGIN; {insert}")).await.unwrap()),
                "raw client" => {
                    let raw: &pool_postgres::tokio_postgres::Client = &c;
                    raw.batch_execute(&format!("BEGIN; {insert}"))
                        .await
                        .unwrap();
                }
                "forgotten Transaction" => {
                    let txn = c.transaction().await.unwrap();
                    txn.batch_execute(&insert).await.unwrap();
                    std::mem::forget(txn);
                }
                "forgotten raw Transaction" => {
                    let raw: &mut pool_postgres::tokio_postgres::Client = &mut c;
                    let txn = raw.transaction().await.unwrap();
                    txn.batch_execute(&insert).await.unwrap();
                    std::mem::forget(txn);
                }
                _ => unreachable!(),
            }
        }
        let c = pool.get().await.unwrap();
        c.execute(&format!("INSERT INTO {table} VALUES ('next user')"), &[])
            .await
            .unwrap();
        drop(c);
        let rows = admin
            .query(&format!("SELECT who FROM {table}"), &[])
            .await
            .unwrap();
        let who: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
        assert_eq!(
            who,
            vec!["next user".to_string()],
            "{path}: the next user's insert must be committed on its own and the left-open one rolled back"
        );
        admin
            .batch_execute(&format!("DELETE FROM {table}"))
            .await
            .unwrap();
    }
    // Transactions used properly cost no rollback round trip: the session
    // is known clean again.
    let mut c = pool.get().await.unwrap();
    let txn = c.transaction().await.unwrap();
    txn.commit().await.unwrap();
    c.batch_execute("BEGIN; COMMIT").await.unwrap();
}

/// `Clean`: the next user does not see the previous one's temporary table
/// or `SET`, even with a health-check TTL set in the pool config (the TTL
/// never skips `Clean`).
async fn clean_resets_session(server: &PgServer) {
    let mut cfg = config(server, "clean-reset");
    cfg.manager = Some(ManagerConfig {
        recycling_method: RecyclingMethod::Clean,
    });
    let mut pc = PoolConfig::new(1);
    pc.health_check_interval = Some(Duration::from_secs(3600));
    cfg.pool = Some(pc);
    let pool = pool_of(&cfg, 1);
    {
        let c = pool.get().await.unwrap();
        c.batch_execute("CREATE TEMP TABLE scratch (x int); SET statement_timeout = '1234ms'")
            .await
            .unwrap();
    }
    let c = pool.get().await.unwrap();
    let row = c
        .query_one(
            "SELECT to_regclass('pg_temp.scratch')::text, current_setting('statement_timeout')",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        row.get::<_, Option<String>>(0),
        None,
        "temporary table survived Clean"
    );
    assert_eq!(row.get::<_, String>(1), "0", "SET survived Clean");
}

/// An explicit `Fast` keeps deadpool-postgres's meaning: no round trip at
/// checkout, so a transaction left open by hand is still open.
async fn fast_sends_nothing(server: &PgServer) {
    let mut cfg = config(server, "fast");
    cfg.manager = Some(ManagerConfig {
        recycling_method: RecyclingMethod::Fast,
    });
    let pool = pool_of(&cfg, 1);
    pool.get()
        .await
        .unwrap()
        .batch_execute("BEGIN")
        .await
        .unwrap();
    let c = pool.get().await.unwrap();
    let row = c
        .query_one(
            "SELECT state FROM pg_stat_activity WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "active");
    let in_txn = c
        .query_one("SELECT now() <> statement_timestamp()", &[])
        .await
        .unwrap();
    assert!(
        in_txn.get::<_, bool>(0),
        "Fast rolled back: it sent a round trip"
    );
    c.batch_execute("ROLLBACK").await.unwrap();
}

/// At most `statement_cache_size` statements per connection, least recently
/// used out first, and the server holds no more than that.
async fn statement_cache_bounded(server: &PgServer) {
    let mut cfg = config(server, "stmt-cache");
    cfg.statement_cache_size = Some(4);
    let pool = pool_of(&cfg, 1);
    let c = pool.get().await.unwrap();
    let sql = |i: usize| format!("SELECT {i}::int");
    for i in 0..4 {
        c.prepare_cached(&sql(i)).await.unwrap();
    }
    // Use 0 again: 1 is now the least recently used.
    c.prepare_cached(&sql(0)).await.unwrap();
    for i in 4..20 {
        let stmt = c.prepare_cached(&sql(i)).await.unwrap();
        let row = c.query_one(&stmt, &[]).await.unwrap();
        assert_eq!(row.get::<_, i32>(0), i as i32);
        assert!(c.statement_cache.size() <= 4);
    }
    assert_eq!(c.statement_cache.size(), 4);
    assert!(
        c.statement_cache.remove(&sql(1), &[]).is_none(),
        "the LRU entry was kept"
    );
    assert!(
        c.statement_cache.remove(&sql(19), &[]).is_some(),
        "the newest was evicted"
    );
    // The server closed what the cache let go (Close is sent when the last
    // handle drops; this query runs after it on the same connection).
    let row = c
        .query_one("SELECT count(*) FROM pg_prepared_statements", &[])
        .await
        .unwrap();
    assert!(
        row.get::<_, i64>(0) <= 5,
        "server holds {} statements",
        row.get::<_, i64>(0)
    );
}

/// A schema change makes a cached `SELECT *` stale: through the wrapper it
/// is evicted and run again; inside a transaction it is evicted and the
/// error returned.
async fn stale_plan(server: &PgServer) {
    let admin = server.admin_in("app").await;
    admin
        .batch_execute(
            "CREATE TABLE stale (a int); INSERT INTO stale VALUES (1); GRANT ALL ON stale TO app",
        )
        .await
        .unwrap();
    let pool = pool_of(&config(server, "stale-plan"), 1);
    let mut c = pool.get().await.unwrap();
    let stmt = c.prepare_cached("SELECT * FROM stale").await.unwrap();
    assert_eq!(c.query(&stmt, &[]).await.unwrap()[0].len(), 1);
    admin
        .batch_execute("ALTER TABLE stale ADD COLUMN b int")
        .await
        .unwrap();
    let rows = c
        .query(&stmt, &[])
        .await
        .expect("stale plan prepared again and run");
    assert_eq!(rows[0].len(), 2);
    let fresh = c.prepare_cached("SELECT * FROM stale").await.unwrap();
    assert_eq!(
        fresh.columns().len(),
        2,
        "the cache holds the new statement"
    );

    admin
        .batch_execute("ALTER TABLE stale ADD COLUMN c int")
        .await
        .unwrap();
    let txn = c.transaction().await.unwrap();
    let err = txn
        .query(&fresh, &[])
        .await
        .expect_err("inside a transaction: the error");
    let message = err
        .as_db_error()
        .map(|e| e.message().to_string())
        .unwrap_or_default();
    assert!(
        message.contains("cached plan must not change result type"),
        "{err:?}"
    );
    drop(txn);
    let newest = c.prepare_cached("SELECT * FROM stale").await.unwrap();
    assert_eq!(newest.columns().len(), 3, "the stale statement was evicted");
    assert_eq!(c.query(&newest, &[]).await.unwrap()[0].len(), 3);
}

/// `max_overflow`, `min_idle`, `max_lifetime` and `idle_timeout` through
/// `Config::pool`.
async fn pool_settings(server: &PgServer) {
    let mut cfg = config(server, "pool-settings");
    let mut pc = PoolConfig::new(2);
    pc.max_overflow = 1;
    pc.min_idle = 2;
    pc.max_lifetime = Some(Duration::from_secs(2));
    cfg.pool = Some(pc);
    let pool = cfg.create_pool(Some(Runtime::Tokio1), NoTls).unwrap();
    let admin = server.admin().await;
    // min_idle: the pool opens two connections by itself.
    wait_until(Duration::from_secs(10), || async {
        server.backends(&admin, "pool-settings").await == 2
    })
    .await;
    // max_overflow: a third connection during a burst, closed on return.
    let three = futures_util::future::join_all((0..3).map(|_| pool.get())).await;
    assert!(three.iter().all(Result::is_ok));
    assert_eq!(server.backends(&admin, "pool-settings").await, 3);
    drop(three);
    assert_eq!(pool.status().size, 2);
    // max_lifetime: the connections are replaced (new backend pids).
    let first = backend_pid(&pool).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let later = backend_pid(&pool).await;
    assert_ne!(
        first, later,
        "a connection older than max_lifetime was handed out"
    );
    drop(pool);

    // idle_timeout: a burst's connections the pool no longer needs are
    // closed on the server too.
    let mut cfg = config(server, "idle-reaping");
    let mut pc = PoolConfig::new(3);
    pc.idle_timeout = Some(Duration::from_secs(1));
    cfg.pool = Some(pc);
    let pool = cfg.create_pool(Some(Runtime::Tokio1), NoTls).unwrap();
    let burst = futures_util::future::join_all((0..3).map(|_| pool.get())).await;
    assert!(burst.iter().all(Result::is_ok));
    drop(burst);
    assert_eq!(server.backends(&admin, "idle-reaping").await, 3);
    wait_until(Duration::from_secs(10), || async {
        server.backends(&admin, "idle-reaping").await == 0
    })
    .await;
    assert_eq!(pool.metrics().closed.idle_surplus, 3);
    assert_eq!(pool.status().size, 0);
}

/// What deadpool-postgres declares and drops is applied.
async fn settings_applied(server: &PgServer) {
    let mut cfg = config(server, "settings");
    cfg.keepalives_interval = Some(Duration::from_secs(7));
    cfg.keepalives_retries = Some(3);
    cfg.load_balance_hosts = Some(pool_postgres::LoadBalanceHosts::Random);
    let pg = cfg.get_pg_config().unwrap();
    assert_eq!(pg.get_keepalives_interval(), Some(Duration::from_secs(7)));
    assert_eq!(pg.get_keepalives_retries(), Some(3));
    assert_eq!(
        pg.get_load_balance_hosts(),
        pool_postgres::tokio_postgres::config::LoadBalanceHosts::Random
    );

    // read-write finds the primary; read-only has no standby to find.
    cfg.target_session_attrs = Some(TargetSessionAttrs::ReadWrite);
    drop(
        pool_of(&cfg, 1)
            .get()
            .await
            .expect("the primary accepts read-write"),
    );
    cfg.target_session_attrs = Some(TargetSessionAttrs::ReadOnly);
    let mut pc = PoolConfig::new(1);
    pc.timeouts.wait = Some(Duration::from_secs(3));
    cfg.pool = Some(pc);
    let err = cfg
        .create_pool(Some(Runtime::Tokio1), NoTls)
        .unwrap()
        .get()
        .await
        .expect_err("no read-only server is up");
    let text = chain(&err);
    assert!(text.contains("not read only"), "{text}");
    cfg.target_session_attrs = None;

    // channel binding required over a connection without TLS: refused,
    // which proves it reached the connection.
    cfg.channel_binding = Some(ChannelBinding::Require);
    let err = pool_of(&cfg, 1)
        .get()
        .await
        .expect_err("channel binding needs TLS");
    assert!(!err.to_string().contains(APP_PASSWORD));
}

/// `Config::tuned`: the tuning guide's numbers, on a real connection.
async fn tuned_preset(server: &PgServer) {
    let mut cfg = Config::tuned();
    cfg.url = config(server, "tuned").url;
    cfg.password = Some(APP_PASSWORD.into());
    cfg.application_name = Some("tuned".into());
    let pool = cfg.create_pool(Some(Runtime::Tokio1), NoTls).unwrap();
    assert_eq!(pool.status().max_size, 20);
    let pc = cfg.get_pool_config();
    assert_eq!(pc.max_overflow, 10);
    assert_eq!(pc.max_lifetime, Some(Duration::from_secs(3600)));
    assert_eq!(pc.timeouts.wait, Some(Duration::from_secs(30)));
    let pg = cfg.get_pg_config().unwrap();
    assert_eq!(pg.get_connect_timeout(), Some(&Duration::from_secs(10)));
    assert_eq!(pg.get_keepalives_idle(), Duration::from_secs(30));
    assert_eq!(pg.get_keepalives_interval(), Some(Duration::from_secs(10)));
    assert_eq!(pg.get_keepalives_retries(), Some(5));
    assert_eq!(
        cfg.get_manager_config().recycling_method,
        RecyclingMethod::Verified
    );
    let c = pool.get().await.unwrap();
    let row = c.query_one("SHOW statement_timeout", &[]).await.unwrap();
    assert_eq!(row.get::<_, String>(0), "5min");
}

/// A wrong password or a closed port: a prompt error with the server's (or
/// the OS's) reason, no password in it, and the breaker holds creates back.
async fn failures_fail_fast(server: &PgServer) {
    let mut cfg = config(server, "bad-password");
    cfg.password = Some("wrong-pw-123".into());
    let pool = pool_of(&cfg, 4);
    let started = Instant::now();
    let err = pool.get().await.expect_err("wrong password");
    assert!(started.elapsed() < Duration::from_secs(5));
    let text = format!("{} {err:?}", chain(&err));
    assert!(text.contains("password authentication failed"), "{text}");
    assert!(
        !text.contains("wrong-pw-123") && !text.contains(APP_PASSWORD),
        "{text}"
    );
    // Later callers (the breaker opens) are told the same cause.
    for _ in 0..5 {
        let err = pool.get().await.expect_err("wrong password");
        let text = chain(&err);
        assert!(text.contains("password authentication failed"), "{text}");
    }

    let mut cfg = config(server, "unreachable");
    cfg.url = Some(format!(
        "postgres://app@127.0.0.1:{}/app",
        pg_harness::free_port()
    ));
    let mut pc = PoolConfig::new(16);
    pc.timeouts.wait = Some(Duration::from_secs(1));
    cfg.pool = Some(pc);
    let pool = cfg.create_pool(Some(Runtime::Tokio1), NoTls).unwrap();
    let started = Instant::now();
    let mut errors = 0;
    while started.elapsed() < Duration::from_secs(1) {
        let burst = futures_util::future::join_all((0..16).map(|_| pool.get())).await;
        errors += burst.iter().filter(|r| r.is_err()).count();
    }
    let m = pool.metrics();
    assert!(errors > 16);
    let creates = m.creates_ok + m.creates_failed;
    assert!(
        creates <= 20,
        "{creates} connects in 1 s of refusals: the breaker did not hold"
    );
    let err = pool.get().await.expect_err("still refused").to_string();
    assert!(!err.contains(APP_PASSWORD), "{err}");
    // The breaker's error names the cause, not just "error connecting".
    assert!(err.contains("refused"), "{err}");
}

/// The server restarts under 16 tasks: no caller hangs, no connect storm,
/// and every task is served again soon after the server is back.
async fn restart_under_load(server: &PgServer) {
    let mut cfg = config(server, "restart");
    let mut pc = PoolConfig::new(8);
    pc.timeouts.wait = Some(Duration::from_secs(2));
    pc.timeouts.create = Some(Duration::from_secs(2));
    pc.timeouts.recycle = Some(Duration::from_secs(2));
    cfg.pool = Some(pc);
    let pool = cfg.create_pool(Some(Runtime::Tokio1), NoTls).unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let pool = pool.clone();
            let stop = stop.clone();
            tokio::spawn(async move {
                let mut longest = Duration::ZERO;
                let (mut last_ok, mut last_failure) = (None, None);
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let t = Instant::now();
                    let ok = tokio::time::timeout(Duration::from_secs(10), async {
                        let c = pool.get().await.ok()?;
                        c.query_one("SELECT 1", &[]).await.ok()
                    })
                    .await
                    .expect("an operation hung for 10 s")
                    .is_some();
                    longest = longest.max(t.elapsed());
                    if ok {
                        last_ok = Some(Instant::now());
                    } else {
                        last_failure = Some(Instant::now());
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                }
                (longest, last_ok, last_failure)
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = pool.metrics();
    server.stop();
    // A short outage: 3 s down.
    tokio::time::sleep(Duration::from_secs(3)).await;
    server.start_again();
    let back = Instant::now();
    let during = pool.metrics();
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut served_again = Duration::ZERO;
    for t in tasks {
        let (longest, last_ok, last_failure) = t.await.unwrap();
        assert!(
            longest < Duration::from_secs(5),
            "an operation took {longest:?}"
        );
        let last_ok = last_ok.expect("a task was never served");
        assert!(last_ok > back, "a task was not served after the restart");
        if let Some(f) = last_failure {
            served_again = served_again.max(f.saturating_duration_since(back));
        }
    }
    let creates = |m: &pool_postgres::pool_core::MetricsSnapshot| m.creates_ok + m.creates_failed;
    let while_down = creates(&during) - creates(&before);
    eprintln!(
        "  restart: {while_down} connects while down (3 s), last failure {} ms after the server was back",
        served_again.as_millis()
    );
    assert!(
        while_down <= 60,
        "{while_down} connects over a 3 s outage: a storm"
    );
    assert!(
        served_again < Duration::from_secs(2),
        "failures went on {served_again:?} after the server was back"
    );
    // Served again: a fresh checkout works at once.
    let c = pool.get().await.unwrap();
    c.query_one("SELECT 1", &[]).await.unwrap();
}

async fn backend_pid(pool: &Pool) -> i32 {
    let c = pool.get().await.unwrap();
    c.query_one("SELECT pg_backend_pid()", &[])
        .await
        .unwrap()
        .get(0)
}

async fn wait_until<F, Fut>(limit: Duration, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    while !cond().await {
        assert!(
            Instant::now() < deadline,
            "condition not reached in {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
