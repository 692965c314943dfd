//! pool-redis against a real redis-server: the TTL health check, passive
//! failure detection, session-state reset. (deadpool-redis's own tests run
//! against it too: scripts/dropin-deadpool-redis.sh.)

mod common;

use std::time::Duration;

use common::{RedisServer, calls, other_client_ids};
use pool_redis::redis::{AsyncCommands, cmd};
use pool_redis::{Config, Connection, RedisPoolExt, Runtime};

/// The server-side id of the connection.
async fn client_id(conn: &mut Connection) -> i64 {
    cmd("CLIENT").arg("ID").query_async(conn).await.unwrap()
}

/// A pool built the drop-in way, from the server's URL.
fn pool(server: &RedisServer) -> pool_redis::Pool {
    Config::from_url(server.url()).create_pool(None).unwrap()
}

#[tokio::test]
async fn set_and_get_through_the_pool() {
    let server = RedisServer::start();
    let pool = Config::from_url(server.url())
        .create_pool(Some(Runtime::Tokio1))
        .unwrap();
    let mut conn = pool.get().await.unwrap();
    conn.set::<_, _, ()>("k", 42).await.unwrap();
    let v: i64 = conn.get("k").await.unwrap();
    assert_eq!(v, 42);
}

#[tokio::test]
async fn a_busy_connection_is_not_pinged_on_every_checkout() {
    let server = RedisServer::start();
    let pool = pool(&server);
    for _ in 0..200 {
        let mut conn = pool.get().await.unwrap();
        let _: Option<String> = conn.get("k").await.unwrap();
    }
    let mut admin = server.admin().await;
    let pings = calls(&mut admin, "ping").await;
    assert!(pings <= 2, "200 back-to-back checkouts sent {pings} PINGs");
    assert_eq!(calls(&mut admin, "get").await, 200);
}

#[tokio::test]
async fn an_idle_connection_is_checked_after_the_interval() {
    let server = RedisServer::start();
    let pool = pool(&server);
    drop(pool.get().await.unwrap());
    tokio::time::sleep(Duration::from_millis(1100)).await;
    drop(pool.get().await.unwrap());
    let pings = calls(&mut server.admin().await, "ping").await;
    assert_eq!(pings, 1, "idle for more than 1 s: one PING");
}

#[tokio::test]
async fn a_killed_connection_fails_once_and_is_replaced() {
    let server = RedisServer::start();
    let pool = pool(&server);
    let id: i64 = {
        let mut conn = pool.get().await.unwrap();
        client_id(&mut conn).await
    };
    let mut admin = server.admin().await;
    let _: () = cmd("CLIENT")
        .arg("KILL")
        .arg("ID")
        .arg(id)
        .query_async(&mut admin)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    {
        // Within the interval: no PING, so the dead connection is handed out
        // and its first write fails (the documented cost; a read would be
        // retried on a fresh connection, see tests/retry.rs)...
        let mut conn = pool.get().await.unwrap();
        let r: redis::RedisResult<i64> = conn.incr("n", 1).await;
        assert!(r.is_err(), "the killed connection's command fails");
    }
    // ...and it is never handed out again.
    let mut conn = pool.get().await.unwrap();
    let new_id: i64 = client_id(&mut conn).await;
    assert_ne!(new_id, id);
    let v: Option<String> = conn.get("k").await.unwrap();
    assert_eq!(v, None);
    // A read on a killed connection is retried on a fresh one, unseen.
    let _: () = cmd("CLIENT")
        .arg("KILL")
        .arg("ID")
        .arg(new_id)
        .query_async(&mut admin)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let v: Option<String> = conn.get("k").await.unwrap();
    assert_eq!(v, None);
    assert_eq!(pool.retry_stats().recovered, 1);
}

#[tokio::test]
async fn watch_is_reset_even_inside_the_interval() {
    let server = RedisServer::start();
    let pool = pool(&server);
    {
        let mut conn = pool.get().await.unwrap();
        let _: () = cmd("WATCH")
            .arg("watched")
            .query_async(&mut conn)
            .await
            .unwrap();
    }
    let mut conn = pool.get().await.unwrap();
    let mut other = server.admin().await;
    let _: () = other.set("watched", "v").await.unwrap();
    // Had WATCH survived, this transaction would abort (nil).
    let r: redis::Value = redis::pipe()
        .atomic()
        .set("t", "x")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(r, redis::Value::Array(vec![redis::Value::Okay]));
}

#[tokio::test]
async fn select_makes_a_connection_single_use() {
    let server = RedisServer::start();
    let pool = pool(&server);
    {
        let mut conn = pool.get().await.unwrap();
        let _: () = cmd("SELECT").arg(3).query_async(&mut conn).await.unwrap();
    }
    let mut conn: Connection = pool.get().await.unwrap();
    let _: () = conn.set("k", "db0").await.unwrap();
    let mut admin = server.admin().await;
    let v: Option<String> = admin.get("k").await.unwrap();
    assert_eq!(
        v.as_deref(),
        Some("db0"),
        "the pooled connection is on the configured db"
    );
}

#[tokio::test]
async fn an_unreachable_server_is_reported_by_address() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let pool = Config::from_url(format!("redis://127.0.0.1:{port}"))
        .create_pool(None)
        .unwrap();
    let err = pool.get().await.unwrap_err();
    assert!(matches!(err, pool_redis::PoolError::Backend(_)), "{err:?}");
    assert!(err.to_string().to_lowercase().contains("refused"), "{err}");
}

#[test]
fn url_and_connection_together_is_a_config_error() {
    let cfg = Config {
        url: Some("redis://127.0.0.1".into()),
        ..Config::default()
    };
    let err = cfg.create_pool(None).unwrap_err();
    assert!(err.to_string().contains("url and connection"), "{err}");
}

/// `CLIENT INFO` of the connection, as `key=value` pairs.
async fn client_info(conn: &mut Connection) -> std::collections::HashMap<String, String> {
    let info: String = cmd("CLIENT").arg("INFO").query_async(conn).await.unwrap();
    info.split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[tokio::test]
async fn an_open_multi_is_not_inherited() {
    let server = RedisServer::start();
    let pool = pool(&server);
    {
        let mut conn = pool.get().await.unwrap();
        let _: () = cmd("MULTI").query_async(&mut conn).await.unwrap();
        let _: () = cmd("SET")
            .arg("queued")
            .arg(1)
            .query_async(&mut conn)
            .await
            .unwrap();
    }
    let mut conn = pool.get().await.unwrap();
    let info = client_info(&mut conn).await;
    assert_eq!(info["multi"], "-1", "{info:?}");
    assert_eq!(info["db"], "0");
}

#[tokio::test]
async fn a_cancelled_blocking_command_does_not_delay_the_next_user() {
    let server = RedisServer::start();
    let pool = pool(&server);
    {
        let mut conn = pool.get().await.unwrap();
        // Sent, then abandoned: the server will answer only when the BLPOP
        // times out (0.4 s, inside the default 500 ms response timeout).
        let mut blpop_cmd = cmd("BLPOP");
        blpop_cmd.arg("empty-list").arg(0.4);
        let blpop = blpop_cmd.query_async::<Option<(String, String)>>(&mut conn);
        assert!(
            tokio::time::timeout(Duration::from_millis(50), blpop)
                .await
                .is_err()
        );
    }
    let mut conn = pool.get().await.unwrap();
    let started = std::time::Instant::now();
    let pong: String = cmd("PING").query_async(&mut conn).await.unwrap();
    assert_eq!(pong, "PONG");
    assert!(
        started.elapsed() < Duration::from_millis(200),
        "answered at once, not after the BLPOP"
    );
}

#[tokio::test]
async fn commands_through_the_raw_connection_are_reset() {
    let server = RedisServer::start();
    let pool = pool(&server);
    let first_id: i64 = {
        let mut conn = pool.get().await.unwrap();
        let raw: &mut redis::aio::MultiplexedConnection = &mut conn;
        let id: i64 = cmd("CLIENT").arg("ID").query_async(raw).await.unwrap();
        let _: () = cmd("SELECT").arg(5).query_async(raw).await.unwrap();
        let _: () = cmd("CLIENT")
            .arg("SETNAME")
            .arg("leftover")
            .query_async(raw)
            .await
            .unwrap();
        id
    };
    let mut conn = pool.get().await.unwrap();
    let info = client_info(&mut conn).await;
    assert_eq!(
        info["id"],
        first_id.to_string(),
        "the same connection, reset rather than replaced"
    );
    assert_eq!(info["db"], "0", "{info:?}");
    assert_eq!(info["name"], "");
    assert_eq!(info["multi"], "-1");
}

#[tokio::test]
async fn the_connection_count_never_exceeds_max_size() {
    let server = RedisServer::start();
    let mut cfg = Config::from_url(server.url());
    cfg.pool = Some(pool_redis::PoolConfig::new(4));
    let pool = cfg.create_pool(None).unwrap();
    let tasks: Vec<_> = (0..64)
        .map(|i| {
            let pool = pool.clone();
            tokio::spawn(async move {
                let mut conn = pool.get().await.unwrap();
                let _: () = conn.set(format!("k{i}"), i).await.unwrap();
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let ours = other_client_ids(&mut server.admin().await).await;
    assert!(ours.len() <= 4, "pool connections: {ours:?}");
}

#[tokio::test]
async fn blocking_commands_keep_their_own_timeout() {
    let server = RedisServer::start();
    let pool = pool(&server);
    let mut conn = pool.get().await.unwrap();
    let started = std::time::Instant::now();
    // Redis's fixed 500 ms response timeout would fail this.
    let r: Option<(String, String)> = conn.blpop("empty-list", 2.0).await.unwrap();
    assert_eq!(r, None);
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(1900) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
}

#[tokio::test]
async fn a_late_answer_times_out_and_its_connection_is_replaced() {
    let server = RedisServer::start();
    let pool = pool(&server);
    let first_id: i64 = {
        let mut conn = pool.get().await.unwrap();
        let id: i64 = client_id(&mut conn).await;
        let started = std::time::Instant::now();
        let r: redis::RedisResult<()> = cmd("DEBUG")
            .arg("SLEEP")
            .arg(1)
            .query_async(&mut conn)
            .await;
        let err = r.unwrap_err();
        assert!(err.to_string().contains("500 ms"), "{err}");
        assert!(started.elapsed() < Duration::from_millis(900));
        id
    };
    // The late answer is still on its way: that connection is not reused.
    let mut conn = pool.get().await.unwrap();
    let id: i64 = client_id(&mut conn).await;
    assert_ne!(id, first_id);
}

/// What the previous user leaves behind on its connection.
#[derive(Clone, Copy, Debug)]
enum Leftover {
    Watch,
    OpenMulti,
    SelectOtherDb,
    Subscribe,
    PSubscribe,
    CancelledBlpop,
    RawSelectAndName,
}

impl Leftover {
    async fn leave(self, conn: &mut Connection, server: &RedisServer) {
        match self {
            Leftover::Watch => cmd("WATCH").arg("w").query_async::<()>(conn).await.unwrap(),
            Leftover::OpenMulti => {
                cmd("MULTI").query_async::<()>(conn).await.unwrap();
                let _: redis::Value = cmd("SET").arg("q").arg(1).query_async(conn).await.unwrap();
            }
            Leftover::SelectOtherDb => cmd("SELECT").arg(5).query_async::<()>(conn).await.unwrap(),
            Leftover::Subscribe | Leftover::PSubscribe => {
                let name = if matches!(self, Leftover::Subscribe) {
                    "SUBSCRIBE"
                } else {
                    "PSUBSCRIBE"
                };
                let mut subscribe = cmd(name);
                subscribe.arg("ch");
                // The confirmation may come back as a value or as an error
                // from redis-rs; either way the server has subscribed us.
                let _ = tokio::time::timeout(
                    Duration::from_secs(2),
                    subscribe.query_async::<redis::Value>(conn),
                )
                .await;
            }
            Leftover::CancelledBlpop => {
                let mut blpop = cmd("BLPOP");
                blpop.arg("empty").arg(2);
                let pending = blpop.query_async::<redis::Value>(conn);
                assert!(
                    tokio::time::timeout(Duration::from_millis(50), pending)
                        .await
                        .is_err()
                );
                // It reached the server: a client is blocked there. (Valkey
                // counts a blocking call in its stats only once it ends.)
                let clients: String = cmd("INFO")
                    .arg("clients")
                    .query_async(&mut server.admin().await)
                    .await
                    .unwrap();
                assert!(
                    clients.contains("blocked_clients:1"),
                    "BLPOP never blocked: {clients}"
                );
            }
            Leftover::RawSelectAndName => {
                let raw: &mut redis::aio::MultiplexedConnection = conn;
                cmd("SELECT").arg(5).query_async::<()>(raw).await.unwrap();
                cmd("CLIENT")
                    .arg("SETNAME")
                    .arg("x")
                    .query_async::<()>(raw)
                    .await
                    .unwrap();
            }
        }
    }
}

#[tokio::test]
async fn no_session_state_reaches_the_next_user() {
    let server = RedisServer::start();
    for leftover in [
        Leftover::Watch,
        Leftover::OpenMulti,
        Leftover::SelectOtherDb,
        Leftover::Subscribe,
        Leftover::PSubscribe,
        Leftover::CancelledBlpop,
        Leftover::RawSelectAndName,
    ] {
        // Database 2 is the configured one; one connection, so the next
        // user gets the same one unless it was replaced.
        let mut cfg = Config::from_url(format!("{}/2", server.url()));
        cfg.pool = Some(pool_redis::PoolConfig::new(1));
        let pool = cfg.create_pool(None).unwrap();
        leftover
            .leave(&mut pool.get().await.unwrap(), &server)
            .await;

        let mut conn = tokio::time::timeout(Duration::from_secs(5), pool.get())
            .await
            .unwrap_or_else(|_| panic!("{leftover:?}: checkout hangs"))
            .unwrap();
        let started = tokio::time::Instant::now();
        let info = client_info(&mut conn).await;
        // Generous: an inherited BLPOP would hold the answer for 2 s.
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{leftover:?}: the first command waited {:?}",
            started.elapsed()
        );
        for (key, want) in [("db", "2"), ("sub", "0"), ("psub", "0"), ("name", "")] {
            assert_eq!(info[key], want, "{leftover:?}: {key} in {info:?}");
        }
        // No open transaction: no `x` flag (`multi` outside one is -1 on
        // Redis, 0 on Valkey); Valkey also counts watched keys.
        assert!(
            !info["flags"].contains('x'),
            "{leftover:?}: in MULTI: {info:?}"
        );
        assert!(
            ["-1", "0"].contains(&info["multi"].as_str()),
            "{leftover:?}: multi in {info:?}"
        );
        if let Some(watched) = info.get("watch") {
            assert_eq!(watched, "0", "{leftover:?}: watched keys in {info:?}");
        }
        if matches!(leftover, Leftover::Watch) {
            // WATCH leaves no CLIENT INFO trace on 7.0: prove it is gone by
            // a transaction that would abort if it were not.
            let mut other = server.admin().await;
            let _: () = other.set("w", "changed").await.unwrap();
            cmd("SELECT")
                .arg(2)
                .query_async::<()>(&mut other)
                .await
                .unwrap();
            let _: () = other.set("w", "changed").await.unwrap();
            let r: redis::Value = redis::pipe()
                .atomic()
                .set("t", 1)
                .query_async(&mut conn)
                .await
                .unwrap();
            assert_eq!(
                r,
                redis::Value::Array(vec![redis::Value::Okay]),
                "WATCH survived"
            );
        }
    } // Every leftover really reached the server (none was refused by the
    // client and so proved nothing; BLPOP is seen blocked in place).
    let mut admin = server.admin().await;
    for command in ["watch", "multi", "select", "subscribe", "psubscribe"] {
        assert!(calls(&mut admin, command).await >= 1, "{command} never ran");
    }
}

#[tokio::test]
async fn the_ttl_holds_however_the_pool_is_built() {
    let server = RedisServer::start();
    let mut explicit = Config::from_url(server.url());
    explicit.pool = Some(pool_redis::PoolConfig::new(4));
    let pools = [
        explicit.create_pool(None).unwrap(),
        pool_redis::Pool::builder(pool_redis::Manager::new(server.url()).unwrap())
            .build()
            .unwrap(),
    ];
    for pool in pools {
        for _ in 0..100 {
            let mut conn = pool.get().await.unwrap();
            let _: Option<String> = conn.get("k").await.unwrap();
        }
    }
    let pings = calls(&mut server.admin().await, "ping").await;
    assert!(
        pings <= 4,
        "200 checkouts over two pools sent {pings} PINGs"
    );
}

/// The suite runs against the server `POOL_REDIS_SERVER` names: the one
/// that answers says so in `INFO server` (Valkey adds `valkey_version`).
#[tokio::test]
async fn the_server_under_test_is_the_one_named() {
    let server = RedisServer::start();
    let info: String = cmd("INFO")
        .arg("server")
        .query_async(&mut server.admin().await)
        .await
        .unwrap();
    assert_eq!(
        info.contains("valkey_version:"),
        redis_harness::is_valkey(),
        "{} answered with:\n{info}",
        redis_harness::server_binary()
    );
}
