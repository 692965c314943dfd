//! Role pools from the REDIS_*_POOL_* variables, against a real master and a real
//! replica (`redis-server --replicaof`).

mod common;

use std::time::{Duration, Instant};

use common::RedisServer;
use pool_redis::env::Role;
use pool_redis::redis::{AsyncCommands, cmd};
use pool_redis::{Connection, RoleAddrs, RolePools};

fn addrs(master: &RedisServer, replica: &RedisServer) -> RoleAddrs {
    RoleAddrs {
        master: master.url(),
        replica: replica.url(),
        local: master.url(),
    }
}

async fn port_of(conn: &mut Connection) -> u16 {
    let (_, port): (String, String) = cmd("CONFIG")
        .arg("GET")
        .arg("port")
        .query_async(conn)
        .await
        .unwrap();
    port.parse().unwrap()
}

#[tokio::test]
async fn writes_go_to_master_and_reads_to_the_replica() {
    let master = RedisServer::start();
    let replica = RedisServer::replica_of(&master);
    let pools = RolePools::from_vars(
        [("REDIS_POOL_PRESET", "minimal")],
        &addrs(&master, &replica),
    )
    .unwrap();
    assert_eq!(pools.pool(Role::Master).status().max_size, 5);
    assert_eq!(pools.pool(Role::Replica).status().max_size, 10);
    let mut w = pools.writer().await.unwrap();
    assert_eq!(port_of(&mut w).await, master.port);
    let _: () = w.set("k", "v").await.unwrap();
    let mut r = pools.reader().await.unwrap();
    assert_eq!(port_of(&mut r).await, replica.port);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let v: Option<String> = r.get("k").await.unwrap();
        if v.as_deref() == Some("v") {
            break;
        }
        assert!(Instant::now() < deadline, "the replica never caught up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(pools.read_fallbacks(), 0);
}

#[tokio::test]
async fn reads_fall_back_to_master_when_the_replica_is_down() {
    let master = RedisServer::start();
    let replica = RedisServer::replica_of(&master);
    let addrs = addrs(&master, &replica);
    drop(replica);
    let pools = RolePools::from_vars([("REDIS_ASYNC_POOL_ENABLED", "0")], &addrs).unwrap();
    for _ in 0..8 {
        let mut r = pools.reader().await.unwrap();
        assert_eq!(port_of(&mut r).await, master.port);
    }
    assert_eq!(pools.read_fallbacks(), 8, "every read said it fell back");
}

#[tokio::test]
async fn a_disabled_role_opens_a_fresh_connection_per_checkout() {
    let master = RedisServer::start();
    let replica = RedisServer::replica_of(&master);
    let pools = RolePools::from_vars(
        [("REDIS_MASTER_POOL_ENABLED", "0")],
        &addrs(&master, &replica),
    )
    .unwrap();
    let mut ids = Vec::new();
    for _ in 0..3 {
        let mut w = pools.writer().await.unwrap();
        let id: i64 = cmd("CLIENT").arg("ID").query_async(&mut w).await.unwrap();
        ids.push(id);
    }
    ids.dedup();
    assert_eq!(ids.len(), 3, "no connection reused: {ids:?}");
    assert_eq!(pools.pool(Role::Master).status().available, 0);
}

#[test]
fn a_bad_variable_is_named() {
    let addrs = RoleAddrs {
        master: "redis://127.0.0.1:1".into(),
        replica: "redis://127.0.0.1:1".into(),
        local: "redis://127.0.0.1:1".into(),
    };
    let err = RolePools::from_vars([("REDIS_MASTER_POOL_SIZE", "abc")], &addrs).unwrap_err();
    assert!(
        err.to_string().contains("REDIS_MASTER_POOL_SIZE=\"abc\""),
        "{err}"
    );
}
