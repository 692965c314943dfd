//! The code deadpool-redis users really write, against a real server: that
//! it compiles unchanged (the crate renamed), and that `&mut *conn` takes
//! the same tracked path as `&mut conn` (no reset round trip at the next
//! checkout, the same session tracking, the same command timeout). Only a
//! place that names `MultiplexedConnection` is a raw borrow, reset before
//! reuse.

mod common;

use std::ops::DerefMut;
use std::time::Duration;

use common::{RedisServer, calls};
use pool_redis::redis::aio::MultiplexedConnection;
use pool_redis::redis::{self, AsyncCommands, RedisResult, cmd};
use pool_redis::{Config, Connection, Pool, PoolConfig};

fn pool(server: &RedisServer, max_size: usize) -> Pool {
    Config {
        pool: Some(PoolConfig::new(max_size)),
        ..Config::from_url(server.url())
    }
    .create_pool(None)
    .unwrap()
}

async fn client_id<C: redis::aio::ConnectionLike>(conn: &mut C) -> i64 {
    cmd("CLIENT").arg("ID").query_async(conn).await.unwrap()
}

// The idioms, as functions so that each must compile as written in
// deadpool-redis code.

/// `query_async(&mut *conn)`: the most common form in public code.
async fn get_through_deref(conn: &mut Connection, key: &str) -> RedisResult<Option<String>> {
    cmd("GET").arg(key).query_async(&mut **conn).await
}

/// A pipeline through `&mut *conn`.
async fn pipeline_through_deref(conn: &mut Connection) -> RedisResult<(i64, i64)> {
    redis::pipe()
        .cmd("INCR")
        .arg("p")
        .cmd("INCR")
        .arg("p")
        .query_async(&mut **conn)
        .await
}

/// `AsyncCommands` through `*conn`, and through `deref_mut()`.
async fn commands_through_deref(conn: &mut Connection) -> RedisResult<i64> {
    (**conn).set::<_, _, ()>("a", 1).await?;
    conn.deref_mut().incr("a", 1).await
}

/// A helper written for redis-rs's connection type.
async fn takes_multiplexed(conn: &mut MultiplexedConnection) -> RedisResult<String> {
    cmd("PING").query_async(conn).await
}

#[tokio::test]
async fn deref_commands_are_tracked_without_a_reset_round_trip() {
    let server = RedisServer::start();
    let pool = pool(&server, 1);
    let mut admin = server.admin().await;
    let mut conn = pool.get().await.unwrap();
    let first = client_id(&mut *conn).await;
    // The common forms, each through `&mut *conn`.
    let _: () = cmd("SET")
        .arg("k")
        .arg("v")
        .query_async(&mut *conn)
        .await
        .unwrap();
    assert_eq!(
        get_through_deref(&mut conn, "k").await.unwrap().as_deref(),
        Some("v")
    );
    assert_eq!(pipeline_through_deref(&mut conn).await.unwrap(), (1, 2));
    assert_eq!(commands_through_deref(&mut conn).await.unwrap(), 2);
    let v: String = (*conn).get("k").await.unwrap();
    assert_eq!(v, "v");
    drop(conn);
    for _ in 0..20 {
        let mut conn = pool.get().await.unwrap();
        let _: Option<String> = cmd("GET").arg("k").query_async(&mut *conn).await.unwrap();
        assert_eq!(client_id(&mut *conn).await, first, "the same connection");
    }
    assert_eq!(
        calls(&mut admin, "reset").await,
        0,
        "no RESET after `&mut *conn`"
    );
    assert_eq!(calls(&mut admin, "ping").await, 0, "no PING within 1 s");
}

#[tokio::test]
async fn session_state_set_through_deref_is_tracked() {
    let server = RedisServer::start();
    let pool = pool(&server, 1);
    let mut admin = server.admin().await;

    // WATCH through `&mut *conn`: UNWATCH before the next user.
    let mut conn = pool.get().await.unwrap();
    let first = client_id(&mut *conn).await;
    let _: () = cmd("WATCH").arg("w").query_async(&mut *conn).await.unwrap();
    drop(conn);
    let mut conn = pool.get().await.unwrap();
    assert_eq!(client_id(&mut *conn).await, first);
    assert_eq!(calls(&mut admin, "unwatch").await, 1, "UNWATCH at checkout");

    // MULTI left open through `&mut *conn`: closed, not reused.
    let _: () = cmd("MULTI").query_async(&mut *conn).await.unwrap();
    drop(conn);
    let mut conn = pool.get().await.unwrap();
    let second = client_id(&mut *conn).await;
    assert_ne!(second, first, "a connection left in MULTI is not reused");

    // SELECT through `&mut *conn`: closed, not reused.
    let _: () = cmd("SELECT").arg(3).query_async(&mut *conn).await.unwrap();
    drop(conn);
    let mut conn = pool.get().await.unwrap();
    assert_ne!(client_id(&mut *conn).await, second, "after SELECT");
    assert_eq!(calls(&mut admin, "reset").await, 0, "never needed a RESET");
}

#[tokio::test]
async fn deref_commands_get_the_command_timeout() {
    let server = RedisServer::start();
    let pool = pool(&server, 1);
    let mut conn = pool.get().await.unwrap();
    let first = client_id(&mut *conn).await;
    // A blocking command through `&mut *conn` keeps its own timeout plus
    // the margin (a raw connection would fail it at 500 ms)...
    let popped: Option<(String, String)> = cmd("BLPOP")
        .arg("empty")
        .arg(1)
        .query_async(&mut *conn)
        .await
        .unwrap();
    assert_eq!(popped, None);
    // ...and a command that does not answer within the timeout fails, and
    // its connection is not reused (its answer is still on the way).
    // (Writes paused server-wide for 2 s: this connection's SET waits,
    // while a new connection can still be made.)
    let mut admin = server.admin().await;
    let _: () = cmd("CLIENT")
        .arg("PAUSE")
        .arg(2000)
        .arg("WRITE")
        .query_async(&mut admin)
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let paused: RedisResult<()> = cmd("SET").arg("k").arg(1).query_async(&mut *conn).await;
    assert!(paused.is_err(), "a paused SET answered within 500 ms?");
    assert!(started.elapsed() < Duration::from_millis(1500));
    drop(conn);
    let mut conn = pool.get().await.unwrap();
    assert_ne!(client_id(&mut *conn).await, first);
}

#[tokio::test]
async fn a_raw_borrow_is_bounded_and_reset_before_reuse() {
    let server = RedisServer::start();
    let pool = pool(&server, 1);
    let mut admin = server.admin().await;
    let mut conn = pool.get().await.unwrap();
    // Each way deadpool-redis code reaches the raw connection compiles.
    assert_eq!(takes_multiplexed(&mut conn).await.unwrap(), "PONG");
    #[allow(clippy::explicit_auto_deref)] // the idiom under test, as users write it
    let pong = takes_multiplexed(&mut *conn).await.unwrap();
    assert_eq!(pong, "PONG");
    assert_eq!(takes_multiplexed(conn.as_mut()).await.unwrap(), "PONG");
    let _: () = cmd("SELECT")
        .arg(4)
        .query_async(conn.as_mut())
        .await
        .unwrap();
    drop(conn);
    let mut conn = pool.get().await.unwrap();
    assert_eq!(
        calls(&mut admin, "reset").await,
        1,
        "one RESET after raw use"
    );
    let _: () = cmd("SET")
        .arg("x")
        .arg(1)
        .query_async(&mut *conn)
        .await
        .unwrap();
    let db0: Option<i64> = admin.get("x").await.unwrap();
    assert_eq!(db0, Some(1), "the configured database was selected again");

    // Through a raw borrow even a blocking command is cut at the fixed
    // response timeout (deadpool-redis's behaviour), never unbounded.
    let first = client_id(&mut *conn).await;
    let raw: &mut MultiplexedConnection = &mut conn;
    let started = std::time::Instant::now();
    let blocked: RedisResult<Option<(String, String)>> =
        cmd("BLPOP").arg("empty").arg(5).query_async(raw).await;
    assert!(
        blocked.is_err(),
        "BLPOP 5 through a raw borrow: {blocked:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
    drop(conn);
    // The server still blocks that connection: its reset check fails
    // within the command timeout and a new connection serves.
    let started = std::time::Instant::now();
    let mut conn = pool.get().await.unwrap();
    assert_ne!(client_id(&mut *conn).await, first);
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn a_clone_of_the_inner_connection_outlives_the_checkout() {
    let server = RedisServer::start();
    let pool = pool(&server, 1);
    let conn = pool.get().await.unwrap();
    let mut clone: MultiplexedConnection = (*conn).clone();
    drop(conn);
    // Untracked, and still a handle on the same connection.
    let pong: String = cmd("PING").query_async(&mut clone).await.unwrap();
    assert_eq!(pong, "PONG");
    // `Connection::take` detaches the connection and frees the slot.
    let conn = pool.get().await.unwrap();
    let mut taken = Connection::take(conn);
    let pong: String = cmd("PING").query_async(&mut taken).await.unwrap();
    assert_eq!(pong, "PONG");
    assert_eq!(pool.status().size, 0);
}
