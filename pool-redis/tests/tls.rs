//! TLS (`rediss://`) against real TLS `redis-server`s, with certificates
//! this test makes at run time. Needs `--features tls-rustls-insecure` (the
//! test command passes it). One server per certificate the tests need a
//! server to present (good, expired, for the wrong name, asking for client
//! certificates), each started once and shared by the checks that use it.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::RedisServer;
use pool_redis::redis::{AsyncCommands, cmd};
use pool_redis::{
    Config, Manager, Pool, PoolConfig, RedisPoolExt, SharedPoolRegistry, TlsCertificates,
};
use redis_harness::{TestCerts, TlsRedisServer};

fn pool_for(url: String) -> Result<Pool, String> {
    Config {
        pool: Some(PoolConfig::new(4)),
        ..Config::from_url(url)
    }
    .create_pool(None)
    .map_err(|e| e.to_string())
}

/// The error of a first checkout.
async fn checkout_error(pool: &Pool) -> String {
    match pool.get().await {
        Ok(_) => "connected".into(),
        Err(e) => e.to_string(),
    }
}

fn path(p: &std::path::Path) -> String {
    p.display().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verified_tls_in_every_mode_and_each_failure_explained() {
    let certs = TestCerts::generate();
    let server = TlsRedisServer::start(&certs.ca, &certs.server_cert, &certs.server_key, false);
    let ca = path(&certs.ca);
    let url = format!("{}/0?tls_ca={ca}", server.url());

    // Verified against the test CA: exclusive, shared, pub/sub.
    let pool = pool_for(url.clone()).unwrap();
    let mut conn = pool.get().await.unwrap();
    conn.set::<_, _, ()>("k", "over tls").await.unwrap();
    let v: String = cmd("GET").arg("k").query_async(&mut *conn).await.unwrap();
    assert_eq!(v, "over tls");
    drop(conn);
    let v: String = pool.shared().get("k").await.unwrap();
    assert_eq!(v, "over tls");
    let mut sub = pool.pubsub().await.unwrap();
    sub.subscribe("news").await.unwrap();
    let mut publisher = pool.get().await.unwrap();
    let _: i64 = publisher.publish("news", "hello").await.unwrap();
    let msg = tokio::time::timeout(Duration::from_secs(5), async {
        use futures_util::StreamExt;
        sub.on_message().next().await
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(msg.get_payload::<String>().unwrap(), "hello");
    drop(publisher);

    // Certificates as bytes, through the Manager.
    let manager = Manager::new_with_tls(
        format!("{}/0", server.url()),
        TlsCertificates {
            root_cert: Some(std::fs::read(&certs.ca).unwrap()),
            ..TlsCertificates::default()
        },
    )
    .unwrap();
    let by_bytes: Pool = Pool::builder(manager).max_size(2).build().unwrap();
    let v: String = by_bytes.get().await.unwrap().get("k").await.unwrap();
    assert_eq!(v, "over tls");

    // #insecure: no verification at all (feature tls-rustls-insecure).
    let insecure = pool_for(format!("{}/0#insecure", server.url())).unwrap();
    let v: String = insecure.get().await.unwrap().get("k").await.unwrap();
    assert_eq!(v, "over tls");
    // The same through deadpool-redis's connection types.
    let by_info = Config::from_connection_info(pool_redis::ConnectionInfo {
        addr: pool_redis::ConnectionAddr::TcpTls {
            host: "127.0.0.1".into(),
            port: server.port,
            insecure: true,
        },
        redis: pool_redis::RedisConnectionInfo::default(),
    })
    .create_pool(None)
    .unwrap();
    let v: String = by_info.get().await.unwrap().get("k").await.unwrap();
    assert_eq!(v, "over tls");

    // Role pools from the environment's settings, with a rediss:// address
    // that names its CA.
    let roles = pool_redis::RolePools::from_vars(
        [("REDIS_ASYNC_POOL_MIN", "0")],
        &pool_redis::RoleAddrs {
            master: url.clone(),
            replica: url.clone(),
            local: url.clone(),
        },
    )
    .unwrap();
    let v: String = roles.reader().await.unwrap().get("k").await.unwrap();
    assert_eq!(v, "over tls");
    assert_eq!(roles.read_fallbacks(), 0);

    // Failures, each explained.
    let untrusted = pool_for(format!("{}/0", server.url())).unwrap();
    let e = checkout_error(&untrusted).await;
    assert!(e.contains("not signed by a trusted CA"), "{e}");
    let other_ca = pool_for(format!(
        "{}/0?tls_ca={}",
        server.url(),
        path(&certs.other_ca)
    ))
    .unwrap();
    let e = checkout_error(&other_ca).await;
    assert!(e.contains("not signed by a trusted CA"), "{e}");

    let expired = TlsRedisServer::start(&certs.ca, &certs.expired_cert, &certs.expired_key, false);
    let e = checkout_error(&pool_for(format!("{}/0?tls_ca={ca}", expired.url())).unwrap()).await;
    assert!(e.contains("expired"), "{e}");

    // A server whose certificate names someone else.
    let wrong_name = TlsRedisServer::start(&certs.ca, &certs.client_cert, &certs.client_key, false);
    let e = checkout_error(&pool_for(format!("{}/0?tls_ca={ca}", wrong_name.url())).unwrap()).await;
    assert!(e.contains("not valid for this host name"), "{e}");

    // A plaintext server behind rediss://, and a redis:// URL at a TLS port.
    let plain = RedisServer::start();
    let e = checkout_error(
        &pool_for(format!("rediss://127.0.0.1:{}/0?tls_ca={ca}", plain.port)).unwrap(),
    )
    .await;
    assert!(e.contains("not speak TLS"), "{e}");
    let e =
        checkout_error(&pool_for(format!("redis://127.0.0.1:{}/0", server.port)).unwrap()).await;
    assert!(e.contains("may want TLS"), "{e}");

    // Failing TLS creates open the breaker like any other: no storm.
    let storm = pool_for(format!("{}/0", server.url())).unwrap();
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(1) {
        let _ = storm.get().await;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let m = storm.metrics();
    let attempts = m.creates_ok + m.creates_failed;
    assert!(attempts <= 5 + 10, "{attempts} TLS connects in 1 s");

    // The registry keeps TLS and plaintext pools to one address apart.
    let registry = SharedPoolRegistry::new();
    let tls_pool = registry.pool(&Config::from_url(url.clone()), None).unwrap();
    let plain_pool = registry
        .pool(
            &Config::from_url(format!("redis://127.0.0.1:{}/0", server.port)),
            None,
        )
        .unwrap();
    let other_ca_pool = registry
        .pool(
            &Config::from_url(format!(
                "{}/0?tls_ca={}",
                server.url(),
                path(&certs.other_ca)
            )),
            None,
        )
        .unwrap();
    assert_eq!(registry.get_pool_stats().total_pools, 3);
    drop((tls_pool, plain_pool, other_ca_pool));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_certificate_files_are_refused_at_pool_creation_by_name() {
    let certs = TestCerts::generate();
    let base = "rediss://127.0.0.1:6380/0";
    let missing = certs.dir.join("missing.pem");
    let e = pool_for(format!("{base}?tls_ca={}", path(&missing))).unwrap_err();
    assert!(
        e.contains("tls_ca file") && e.contains("missing.pem") && e.contains("cannot be read"),
        "{e}"
    );
    let not_pem = certs.dir.join("not.pem");
    std::fs::write(&not_pem, "hello").unwrap();
    let e = pool_for(format!("{base}?tls_ca={}", path(&not_pem))).unwrap_err();
    assert!(
        e.contains("not.pem") && e.contains("no PEM certificate"),
        "{e}"
    );
    let e = pool_for(format!(
        "{base}?tls_cert={}&tls_key={}",
        path(&certs.client_cert),
        path(&certs.server_key)
    ))
    .unwrap_err();
    assert!(
        e.contains("server.key") && e.contains("does not match") && e.contains("client.pem"),
        "{e}"
    );
    let e = pool_for(format!("{base}?tls_cert={}", path(&certs.client_cert))).unwrap_err();
    assert!(e.contains("without tls_key"), "{e}");
    let e = pool_for(format!(
        "redis://127.0.0.1:6379/0?tls_ca={}",
        path(&certs.ca)
    ))
    .unwrap_err();
    assert!(e.contains("not rediss://"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_and_a_restart_under_load() {
    let certs = TestCerts::generate();
    let mut server = TlsRedisServer::start(&certs.ca, &certs.server_cert, &certs.server_key, true);
    let ca = path(&certs.ca);
    let base = format!("{}/0?tls_ca={ca}", server.url());

    let e = checkout_error(&pool_for(base.clone()).unwrap()).await;
    assert!(e.contains("wants a client certificate"), "{e}");
    let stranger = pool_for(format!(
        "{base}&tls_cert={}&tls_key={}",
        path(&certs.stranger_cert),
        path(&certs.stranger_key)
    ))
    .unwrap();
    let e = checkout_error(&stranger).await;
    assert!(e.contains("refused our client certificate"), "{e}");

    let pool = pool_for(format!(
        "{base}&tls_cert={}&tls_key={}",
        path(&certs.client_cert),
        path(&certs.client_key)
    ))
    .unwrap();
    let mut conn = pool.get().await.unwrap();
    let pong: String = cmd("PING").query_async(&mut conn).await.unwrap();
    assert_eq!(pong, "PONG");
    drop(conn);

    // A restart of the TLS server under load: reads do not notice, and the
    // pool makes no storm of TLS connects.
    let stop = Arc::new(AtomicBool::new(false));
    let errors = Arc::new(AtomicU64::new(0));
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let (pool, stop, errors) = (pool.clone(), stop.clone(), errors.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let read = async {
                        let mut conn = pool.get().await.map_err(|e| e.to_string())?;
                        conn.get::<_, Option<String>>("k")
                            .await
                            .map_err(|e| e.to_string())
                    };
                    if read.await.is_err() {
                        errors.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                }
            })
        })
        .collect();
    pool.set_read_retry(pool_redis::RetryPolicy {
        attempts: 10,
        budget: Duration::from_secs(2),
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = pool.metrics();
    tokio::task::block_in_place(|| server.restart());
    tokio::time::sleep(Duration::from_millis(1000)).await;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.unwrap();
    }
    let after = pool.metrics();
    let connects =
        after.creates_ok + after.creates_failed - before.creates_ok - before.creates_failed;
    eprintln!(
        "TLS restart: {} errors, {connects} connects, retries {:?}",
        errors.load(Ordering::Relaxed),
        pool.retry_stats()
    );
    assert_eq!(errors.load(Ordering::Relaxed), 0);
    assert!(pool.retry_stats().recovered > 0, "the restart was seen");
    assert!(connects <= 4 + 5 + 10, "{connects} TLS connects");
}

/// Sentinel over TLS: the pool asks a TLS-only sentinel (trusting the CA
/// named in its URL) and connects to the TLS master it names, verifying its
/// certificate with the same CA; a sentinel URL without the CA fails, naming
/// the certificate problem.
#[cfg(feature = "sentinel")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sentinel_over_tls_to_the_sentinels_and_the_nodes() {
    use pool_redis::sentinel::{
        Config as SentinelConfig, SentinelNodeConnectionInfo, SentinelServerType, TlsMode,
    };
    let certs = TestCerts::generate();
    let master = TlsRedisServer::start(&certs.ca, &certs.server_cert, &certs.server_key, false);
    let sentinel = redis_harness::start_tls_sentinel(
        master.port,
        &certs.ca,
        &certs.server_cert,
        &certs.server_key,
    );
    let tls_nodes = Some(SentinelNodeConnectionInfo {
        tls_mode: Some(TlsMode::Secure),
        redis_connection_info: None,
    });
    let url = format!(
        "rediss://127.0.0.1:{}?tls_ca={}",
        sentinel.port,
        path(&certs.ca)
    );
    let pool = SentinelConfig::from_urls(
        vec![url],
        redis_harness::MASTER_NAME.to_owned(),
        SentinelServerType::Master,
    )
    .with_node_connection_info(tls_nodes.clone())
    .create_pool(None)
    .expect("a Sentinel pool over TLS");
    let mut conn = pool.get().await.expect("a TLS connection to the master");
    conn.set::<_, _, ()>("sentinel:tls", 7).await.unwrap();
    assert_eq!(conn.get::<_, i64>("sentinel:tls").await.unwrap(), 7);
    assert_eq!(
        pool.manager().nodes(),
        vec![format!("127.0.0.1:{}", master.port)]
    );
    let mut shared = pool.shared();
    assert_eq!(shared.get::<_, i64>("sentinel:tls").await.unwrap(), 7);

    // Without the CA the sentinel's certificate is not trusted.
    let untrusted = SentinelConfig::from_urls(
        vec![format!("rediss://127.0.0.1:{}", sentinel.port)],
        redis_harness::MASTER_NAME.to_owned(),
        SentinelServerType::Master,
    )
    .with_node_connection_info(tls_nodes)
    .create_pool(None)
    .unwrap();
    let error = match untrusted.get().await {
        Ok(_) => panic!("an untrusted sentinel was used"),
        Err(e) => e.to_string(),
    };
    assert!(
        error.contains("certificate") || error.contains("Certificate") || error.contains("TLS"),
        "{error}"
    );
}

/// Cluster over TLS: six TLS-only nodes (bus and replication over TLS too);
/// the pool verifies them with the private CA given in `ClusterSettings`,
/// in exclusive and shared mode; without the CA it is refused.
#[cfg(feature = "cluster")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_over_tls_with_a_private_ca() {
    use pool_redis::cluster::{ClusterPoolExt, ClusterSettings, Config as ClusterConfig};
    let certs = TestCerts::generate();
    let set = redis_harness::TlsClusterSet::start(&certs.ca, &certs.server_cert, &certs.server_key);
    let mut settings = ClusterSettings::default();
    settings.certificates = Some(TlsCertificates {
        root_cert: Some(std::fs::read(&certs.ca).unwrap()),
        ..TlsCertificates::default()
    });
    let pool = ClusterConfig::from_urls(set.urls())
        .builder_with(&settings)
        .expect("a TLS cluster pool")
        .build()
        .unwrap();
    let mut conn = pool.get().await.expect("a verified TLS cluster connection");
    for i in 0..30 {
        let key = format!("tls:cluster:{i}");
        conn.set::<_, _, ()>(&key, i).await.unwrap();
        assert_eq!(conn.get::<_, i64>(&key).await.unwrap(), i);
    }
    let mut shared = pool.shared();
    assert_eq!(shared.get::<_, i64>("tls:cluster:7").await.unwrap(), 7);

    let untrusted = ClusterConfig::from_urls(set.urls())
        .create_pool(None)
        .unwrap();
    let error = match untrusted.get().await {
        Ok(_) => panic!("an untrusted cluster was used"),
        Err(e) => e.to_string(),
    };
    assert!(
        error.to_lowercase().contains("certificate") || error.contains("TLS"),
        "{error}"
    );
}
