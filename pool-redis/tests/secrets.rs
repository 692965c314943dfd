//! A password never appears in any output: `Debug` and `Display` of every
//! public type and error, `tracing` at TRACE and `log`, for a server that
//! accepts it, one that refuses it, and one that is not there. Alone in its
//! own test binary: it installs process-wide `tracing` and `log` sinks.

mod common;

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use common::RedisServer;
use pool_redis::redis::{AsyncCommands, cmd};
use pool_redis::{
    Config, ConnectionAddr, ConnectionInfo, PoolConfig, RedisConnectionInfo, RedisPoolExt,
    RoleAddrs, RolePools, SharedPoolRegistry,
};

const PASSWORD: &str = "pw-Zq81x-DO-NOT-SHOW";

/// Everything logged, as text.
#[derive(Default, Clone)]
struct Captured(Arc<Mutex<String>>);

impl Captured {
    fn push(&self, line: &str) {
        let mut all = self.0.lock().unwrap();
        all.push_str(line);
        all.push('\n');
    }
    fn text(&self) -> String {
        self.0.lock().unwrap().clone()
    }
}

/// Writes every field of every span and event.
struct Fields<'a>(&'a mut String);

impl tracing::field::Visit for Fields<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, " {}={value:?}", field.name());
    }
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        let _ = write!(self.0, " {}={value}", field.name());
    }
    fn record_error(
        &mut self,
        field: &tracing::field::Field,
        value: &(dyn std::error::Error + 'static),
    ) {
        let _ = write!(self.0, " {}={value} / {value:?}", field.name());
    }
}

struct Tracer {
    out: Captured,
    next: std::sync::atomic::AtomicU64,
}

impl tracing::Subscriber for Tracer {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        let mut line = format!("span {}", span.metadata().name());
        span.record(&mut Fields(&mut line));
        self.out.push(&line);
        tracing::span::Id::from_u64(
            1 + self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        )
    }
    fn record(&self, _: &tracing::span::Id, values: &tracing::span::Record<'_>) {
        let mut line = "record".to_string();
        values.record(&mut Fields(&mut line));
        self.out.push(&line);
    }
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut line = format!("event {}", event.metadata().target());
        event.record(&mut Fields(&mut line));
        self.out.push(&line);
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

struct Logger(Captured);

impl log::Log for Logger {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        self.0
            .push(&format!("log {} {}", record.target(), record.args()));
    }
    fn flush(&self) {}
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_password_in_any_output() {
    let logged = Captured::default();
    tracing::subscriber::set_global_default(Tracer {
        out: logged.clone(),
        next: 0.into(),
    })
    .unwrap();
    log::set_boxed_logger(Box::new(Logger(logged.clone()))).unwrap();
    log::set_max_level(log::LevelFilter::Trace);

    let server = RedisServer::start();
    let mut admin = server.admin().await;
    let _: () = cmd("CONFIG")
        .arg("SET")
        .arg("requirepass")
        .arg(PASSWORD)
        .query_async(&mut admin)
        .await
        .unwrap();
    let port = server.url().rsplit(':').next().unwrap().to_string();
    let good = format!("redis://:{PASSWORD}@127.0.0.1:{port}/0");
    let wrong = format!("redis://:{PASSWORD}-wrong@127.0.0.1:{port}/0");
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let unreachable = format!("redis://:{PASSWORD}@127.0.0.1:{closed_port}/0");

    let mut shown = Vec::<String>::new();
    let mut show = |what: &str, text: String| shown.push(format!("{what}: {text}"));

    // Configurations.
    let by_url = Config {
        pool: Some(PoolConfig::new(2)),
        ..Config::from_url(&good)
    };
    show("Config (url)", format!("{by_url:?}"));
    let by_info = Config::from_connection_info(ConnectionInfo {
        addr: ConnectionAddr::Tcp("127.0.0.1".into(), port.parse().unwrap()),
        redis: RedisConnectionInfo {
            db: 0,
            username: None,
            password: Some(PASSWORD.into()),
            ..RedisConnectionInfo::default()
        },
    });
    show("Config (connection)", format!("{by_info:?}"));
    assert!(
        format!("{by_url:?}").contains(":***@"),
        "masked, not omitted: {by_url:?}"
    );

    // A pool that works: the pool, its manager, a connection, shared mode.
    let pool = by_info.create_pool(None).unwrap();
    let mut conn = pool.get().await.unwrap();
    conn.set::<_, _, ()>("k", 1).await.unwrap();
    show("Pool", format!("{pool:?}"));
    show("Manager", format!("{:?}", pool.manager()));
    show("Connection", format!("{conn:?}"));
    show("ManagedConnection", format!("{:?}", *conn));
    drop(conn);
    let mut shared = pool.shared();
    let _: Option<i64> = shared.get("k").await.unwrap();
    show("SharedConnection", format!("{shared:?}"));
    show("SharedStats", format!("{:?}", pool.shared_stats()));

    // The registry and its stats.
    let registry = SharedPoolRegistry::new();
    let registered = registry.pool(&by_url, None).unwrap();
    drop(registered.get().await.unwrap());
    show("SharedPoolRegistry", format!("{registry:?}"));
    show("RegistryStats", format!("{:?}", registry.get_pool_stats()));

    // Role pools.
    let addrs = RoleAddrs {
        master: good.clone(),
        replica: good.clone(),
        local: good.clone(),
    };
    show("RoleAddrs", format!("{addrs:?}"));
    let roles = RolePools::from_vars([("REDIS_ASYNC_POOL_MIN", "0")], &addrs).unwrap();
    drop(roles.writer().await.unwrap());
    show("RolePools", format!("{roles:?}"));

    // A refused password and an absent server: the errors, exclusive and
    // shared, and the role router's fallback.
    for url in [&wrong, &unreachable] {
        let pool = Config::from_url(url.as_str()).create_pool(None).unwrap();
        let e = pool.get().await.unwrap_err();
        show("PoolError", format!("{e} / {e:?}"));
        let e = pool.shared().get::<_, Option<i64>>("k").await.unwrap_err();
        show("shared error", format!("{e} / {e:?}"));
        let addrs = RoleAddrs {
            master: url.clone(),
            replica: url.clone(),
            local: url.clone(),
        };
        let roles = RolePools::from_vars([("REDIS_ASYNC_POOL_MIN", "0")], &addrs).unwrap();
        let e = roles.reader().await.unwrap_err();
        show("reader error", format!("{e} / {e:?}"));
    }
    // A URL that does not parse.
    let bad = format!("redis://:{PASSWORD}@127.0.0.1:notaport/0");
    let e = Config::from_url(bad.as_str())
        .create_pool(None)
        .unwrap_err();
    show("CreatePoolError", format!("{e} / {e:?}"));
    let e = RolePools::from_vars(
        Vec::<(String, String)>::new(),
        &RoleAddrs {
            master: bad.clone(),
            replica: bad.clone(),
            local: bad,
        },
    )
    .unwrap_err();
    show("RolePoolsError", format!("{e} / {e:?}"));

    // Cluster and Sentinel configurations (built with their features: the
    // test command runs this binary once with them).
    #[cfg(feature = "cluster")]
    {
        use pool_redis::cluster;
        let urls = vec![good.clone(), unreachable.clone()];
        let cfg = cluster::Config::from_urls(urls.clone());
        show("cluster::Config", format!("{cfg:?}"));
        assert!(format!("{cfg:?}").contains(":***@"), "{cfg:?}");
        let mut settings = cluster::ClusterSettings::default();
        settings.password = Some(PASSWORD.into());
        show("ClusterSettings", format!("{settings:?}"));
        let pool = cfg.builder_with(&settings).unwrap().build().unwrap();
        show("cluster Pool", format!("{pool:?}"));
        let e = cluster::Config::from_urls(vec![format!("redis://:{PASSWORD}@127.0.0.1:notaport")])
            .create_pool(None)
            .unwrap_err();
        show("cluster CreatePoolError", format!("{e} / {e:?}"));
    }
    #[cfg(feature = "sentinel")]
    {
        use pool_redis::sentinel;
        let cfg = sentinel::Config::from_urls(
            vec![unreachable.clone()],
            "mymaster".to_owned(),
            sentinel::SentinelServerType::Master,
        )
        .with_node_connection_info(Some(sentinel::SentinelNodeConnectionInfo {
            tls_mode: None,
            redis_connection_info: Some(RedisConnectionInfo {
                password: Some(PASSWORD.into()),
                ..RedisConnectionInfo::default()
            }),
        }));
        show("sentinel::Config", format!("{cfg:?}"));
        let pool = cfg.create_pool(None).unwrap();
        show("sentinel Pool", format!("{pool:?}"));
        let e = pool.get().await.unwrap_err();
        show("sentinel PoolError", format!("{e} / {e:?}"));
    }

    let shown = shown.join("\n");
    let logged = logged.text();
    assert!(
        !shown.is_empty() && logged.contains("event"),
        "the sinks saw nothing: the test would prove nothing"
    );
    assert!(
        !shown.contains(PASSWORD),
        "a password in Debug/Display output:\n{}",
        shown
            .lines()
            .filter(|l| l.contains(PASSWORD))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(
        !logged.contains(PASSWORD),
        "a password in tracing/log output:\n{}",
        logged
            .lines()
            .filter(|l| l.contains(PASSWORD))
            .collect::<Vec<_>>()
            .join("\n")
    );
}
