//! Nothing hangs with the defaults: a server that accepts TCP and never
//! answers, or a connection whose server stopped answering, ends a `get()`
//! in an error within the documented bounds
//! ([`DEFAULT_CONNECT_TIMEOUT`], [`DEFAULT_RECYCLE_TIMEOUT`]), never in a
//! wait without end. One PostgreSQL server for the binary.

use std::sync::OnceLock;
use std::time::Duration;

mod common;

use common::chain;
use pg_harness::PgServer;
use pool_postgres::{
    Config, DEFAULT_CONNECT_TIMEOUT, DEFAULT_RECYCLE_TIMEOUT, PoolConfig, Runtime,
    tokio_postgres::NoTls,
};
use redis_harness::PartitionProxy;

fn server() -> &'static PgServer {
    static SERVER: OnceLock<PgServer> = OnceLock::new();
    SERVER.get_or_init(PgServer::start)
}

/// Past this the test fails instead of waiting for ever.
const GUARD: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_accepts_and_never_answers_fails_the_connect_by_default() {
    // Accepts (the kernel completes the handshake into the backlog) and
    // never reads or answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let mut cfg = Config::new();
    cfg.url = Some(format!("postgres://app@127.0.0.1:{port}/app"));
    let pool = cfg.create_pool(Some(Runtime::Tokio1), NoTls).unwrap();
    let started = tokio::time::Instant::now();
    let err = tokio::time::timeout(GUARD, pool.get())
        .await
        .expect("get() hung past the connect timeout")
        .expect_err("nothing answered");
    let took = started.elapsed();
    assert!(took >= DEFAULT_CONNECT_TIMEOUT, "{took:?}");
    let text = chain(&err);
    assert!(text.contains("timeout"), "{text}");
    // The breaker's description, what later callers and the logs see,
    // names the address and the bound.
    let m = pool.metrics();
    assert_eq!(m.creates_failed, 1, "{m:?}");
    drop(silent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_whose_server_stops_answering_is_replaced_not_waited_on() {
    let server = server();
    let proxy =
        PartitionProxy::start(format!("127.0.0.1:{}", server.port()).parse().unwrap()).await;
    let mut cfg = Config::new();
    cfg.url = Some(format!(
        "postgres://postgres@127.0.0.1:{}/postgres",
        proxy.port()
    ));
    // A quick connect bound so that the replacement's failure does not
    // dominate; the recycle bound stays the default.
    cfg.connect_timeout = Some(Duration::from_secs(1));
    let mut pc = PoolConfig::new(1);
    pc.health_check_interval = Some(Duration::ZERO);
    cfg.pool = Some(pc);
    let pool = cfg.create_pool(Some(Runtime::Tokio1), NoTls).unwrap();
    {
        let client = pool.get().await.unwrap();
        client.simple_query("SELECT 1").await.unwrap();
    }
    proxy.cut();
    let started = tokio::time::Instant::now();
    let outcome = tokio::time::timeout(GUARD, pool.get())
        .await
        .expect("get() hung on a silent connection");
    let took = started.elapsed();
    let err = outcome.expect_err("the server is unreachable");
    assert!(
        took >= DEFAULT_RECYCLE_TIMEOUT,
        "{took:?}: the check was not waited for"
    );
    let m = pool.metrics();
    assert_eq!(
        m.recycles_failed, 1,
        "the silent connection was dropped: {m:?}"
    );
    assert!(chain(&err).contains("timeout"), "{}", chain(&err));
    proxy.heal();
    let client = pool.get().await.expect("served again after the partition");
    client.simple_query("SELECT 1").await.unwrap();
}
