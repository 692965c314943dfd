//! Redis Cluster: a drop-in for deadpool-redis's `cluster` module (same
//! items, same configuration) over redis-rs's async `ClusterConnection`,
//! plus what it lacks:
//!
//! - **Bounded requests.** The cluster client's timeouts and retries get
//!   defaults under which a request waits at most
//!   [`DEFAULT_CLUSTER_OVERALL_TIMEOUT`] (3 s) over all its attempts when a
//!   node dies ([`ClusterSettings`]; redis-rs's own defaults retry 16 times
//!   with waits from 1.28 s). There is no per-attempt timeout by default:
//!   redis-rs resends a timed-out attempt, writes included, so a reply that
//!   arrives within the overall bound reaches the caller and a slow write
//!   runs once. A request that hits the overall bound is an error, and a
//!   write that timed out **may have run**: the caller decides whether to
//!   send it again.
//! - **No PING per checkout**: a connection used within the health-check
//!   interval (1 s) goes straight to the caller.
//! - **Session-state safety**: in a cluster only an atomic pipeline
//!   (`redis::pipe().atomic()`, keys in one slot) is a transaction; redis-rs
//!   routes a bare `MULTI`/`EXEC` to whichever node it picks. A connection
//!   that sent a bare `MULTI` (without its `EXEC`), `WATCH`, or a
//!   session-changing command is closed at return, never reused.
//! - **Shared mode** ([`ClusterPoolExt::shared`]): plain commands and
//!   pipelines over one `ClusterConnection` (one connection per node), no
//!   checkout; an exclusive pool of N holds N connections per node.
//!
//! `MOVED` and `ASK` redirects (slot migrations, failovers) are followed
//! inside one request, within its overall timeout; what is sent again and
//! what is not is decided in one place (`send.rs`): only what provably did
//! not run, or reads.

mod config;
mod send;

use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use redis::aio::ConnectionLike;
use redis::cluster_read_routing::RandomReplicaStrategy;
use redis::{IntoConnectionInfo, RedisError, RedisResult};

use crate::commands::shared_policy::{refuse_pipeline, refuse_single};
use crate::commands::{self, Kind};
use crate::manager::DEFAULT_HEALTH_CHECK_INTERVAL;

pub use redis::cluster::{ClusterClient, ClusterClientBuilder};
pub use redis::cluster_async::ClusterConnection;

pub use self::config::{
    ClusterSettings, Config, ConfigError, DEFAULT_CLUSTER_CONNECTION_TIMEOUT,
    DEFAULT_CLUSTER_OVERALL_TIMEOUT, DEFAULT_CLUSTER_RESPONSE_TIMEOUT, DEFAULT_CLUSTER_RETRIES,
    DEFAULT_CLUSTER_RETRY_WAIT,
};
pub use pool_core::ObjectId;
pub use pool_core::managed::reexports::*;

pool_aliases!(Manager, Connection, ConfigError);

/// A pooled cluster connection plus what its traffic showed. Implements
/// `ConnectionLike` (the tracked path, so `query_async(&mut *conn)` is
/// tracked like `query_async(&mut conn)`) and derefs to redis-rs's
/// `ClusterConnection` for code that names that type (untracked, as in
/// deadpool-redis).
pub struct ManagedCluster {
    conn: ClusterConnection,
    /// What may be sent again, and for how long.
    resend: send::Resend,
    /// `WATCH` or a session-changing command was sent: closed at return.
    session: bool,
    /// A bare `MULTI` without its `EXEC`/`DISCARD`.
    in_multi: bool,
}

impl std::fmt::Debug for ManagedCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ManagedCluster")
            .field("session", &self.session)
            .field("in_multi", &self.in_multi)
            .finish_non_exhaustive()
    }
}

impl ManagedCluster {
    fn note(&mut self, cmd: &redis::Cmd) {
        match commands::kind_of(cmd) {
            // UNWATCH would go to whichever node redis-rs picks, not the
            // one holding the watch: the connection is closed instead.
            Kind::Watch | Kind::Session => self.session = true,
            Kind::Multi => self.in_multi = true,
            Kind::ExecOrDiscard => self.in_multi = false,
            Kind::Plain | Kind::Unwatch | Kind::Blocking => {}
        }
    }

    fn unusable(&self) -> bool {
        self.session || self.in_multi
    }
}

impl Deref for ManagedCluster {
    type Target = ClusterConnection;
    fn deref(&self) -> &ClusterConnection {
        &self.conn
    }
}

impl DerefMut for ManagedCluster {
    /// The raw connection: commands sent through it are not tracked.
    fn deref_mut(&mut self) -> &mut ClusterConnection {
        &mut self.conn
    }
}

impl ConnectionLike for ManagedCluster {
    fn req_packed_command<'a>(
        &'a mut self,
        cmd: &'a redis::Cmd,
    ) -> redis::RedisFuture<'a, redis::Value> {
        self.note(cmd);
        Box::pin(send::single(&mut self.conn, cmd, self.resend))
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> redis::RedisFuture<'a, Vec<redis::Value>> {
        for cmd in pipeline.cmd_iter() {
            self.note(cmd);
        }
        Box::pin(send::pipeline(
            &mut self.conn,
            pipeline,
            offset,
            count,
            self.resend,
        ))
    }

    fn get_db(&self) -> i64 {
        self.conn.get_db()
    }
}

/// A connection checked out of a cluster [`Pool`]; it goes back when
/// dropped. Derefs to [`ManagedCluster`] (which derefs to
/// `ClusterConnection`).
pub struct Connection {
    conn: Object,
}

impl Connection {
    /// Detaches the connection from the pool, freeing its slot.
    #[must_use]
    pub fn take(this: Self) -> ClusterConnection {
        Object::take(this.conn).conn
    }

    /// The pooled object's id.
    #[must_use]
    pub fn id(this: &Self) -> ObjectId {
        Object::id(&this.conn)
    }

    /// The pooled object's metrics.
    pub fn metrics(this: &Self) -> &Metrics {
        Object::metrics(&this.conn)
    }
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection").finish_non_exhaustive()
    }
}

impl From<Object> for Connection {
    fn from(conn: Object) -> Self {
        Self { conn }
    }
}

impl Deref for Connection {
    type Target = ManagedCluster;
    fn deref(&self) -> &ManagedCluster {
        &self.conn
    }
}

impl DerefMut for Connection {
    fn deref_mut(&mut self) -> &mut ManagedCluster {
        &mut self.conn
    }
}

impl AsRef<ClusterConnection> for Connection {
    fn as_ref(&self) -> &ClusterConnection {
        &self.conn
    }
}

impl AsMut<ClusterConnection> for Connection {
    fn as_mut(&mut self) -> &mut ClusterConnection {
        &mut self.conn
    }
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(
        &'a mut self,
        cmd: &'a redis::Cmd,
    ) -> redis::RedisFuture<'a, redis::Value> {
        let managed: &'a mut ManagedCluster = &mut self.conn;
        managed.req_packed_command(cmd)
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> redis::RedisFuture<'a, Vec<redis::Value>> {
        let managed: &'a mut ManagedCluster = &mut self.conn;
        managed.req_packed_commands(pipeline, offset, count)
    }

    fn get_db(&self) -> i64 {
        self.conn.get_db()
    }
}

/// Creates and checks cluster connections.
pub struct Manager {
    client: ClusterClient,
    resend: send::Resend,
    ping_number: AtomicUsize,
    /// The shared-mode connection, made at its first command.
    shared: Arc<SharedCluster>,
}

/// A cluster pool's shared connection and where it comes from.
struct SharedCluster {
    client: ClusterClient,
    resend: send::Resend,
    conn: tokio::sync::OnceCell<ClusterConnection>,
}

impl std::fmt::Debug for Manager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Manager").finish_non_exhaustive()
    }
}

impl Manager {
    /// A manager for the cluster some of whose nodes are `params`, with
    /// [`ClusterSettings::default`]'s bounded timeouts.
    ///
    /// # Errors
    /// The redis crate's error for unusable addresses.
    pub fn new<T: IntoConnectionInfo>(
        params: Vec<T>,
        read_from_replicas: bool,
    ) -> RedisResult<Self> {
        Self::with_settings(
            params,
            &ClusterSettings {
                read_from_replicas,
                ..ClusterSettings::default()
            },
        )
    }

    /// A manager with the cluster client's `settings`.
    ///
    /// # Errors
    /// The redis crate's error for unusable addresses or settings.
    pub fn with_settings<T: IntoConnectionInfo>(
        params: Vec<T>,
        settings: &ClusterSettings,
    ) -> RedisResult<Self> {
        // No resends inside redis-rs: it would send anything again, writes
        // and half-run pipelines included; `send` decides instead.
        let mut builder = ClusterClientBuilder::new(params)
            .connection_timeout(settings.connection_timeout)
            .overall_response_timeout(settings.overall_timeout)
            .retries(0)
            .min_retry_wait(duration_ms(settings.min_retry_wait))
            .max_retry_wait(duration_ms(settings.max_retry_wait));
        if let Some(timeout) = settings.response_timeout {
            builder = builder.response_timeout(timeout);
        }
        if settings.read_from_replicas {
            builder = builder.read_routing_strategy(RandomReplicaStrategy);
        }
        if let Some(username) = &settings.username {
            builder = builder.username(username);
        }
        if let Some(password) = &settings.password {
            builder = builder.password(password);
        }
        if let Some(certs) = &settings.certificates {
            crate::tls::check_bytes(certs).map_err(|e| crate::tls::config_error(&e))?;
            #[cfg(any(feature = "tls-rustls", feature = "tls-native-tls"))]
            {
                crate::tls::ensure_crypto_provider();
                builder = builder.certs(crate::tls::to_redis(certs));
            }
            #[cfg(not(any(feature = "tls-rustls", feature = "tls-native-tls")))]
            return Err(RedisError::from((
                redis::ErrorKind::InvalidClientConfig,
                "TLS is not built in",
                "enable pool-redis's `tls-rustls` feature (or `tls-native-tls`)".to_owned(),
            )));
        }
        let client = builder.build()?;
        let resend = send::Resend {
            retries: settings.retries,
            min_wait: settings.min_retry_wait,
            max_wait: settings.max_retry_wait,
            overall: settings.overall_timeout,
        };
        Ok(Self {
            resend,
            shared: Arc::new(SharedCluster {
                resend,
                client: client.clone(),
                conn: tokio::sync::OnceCell::new(),
            }),
            client,
            ping_number: AtomicUsize::new(0),
        })
    }
}

fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl pool_core::Manager for Manager {
    type Type = ManagedCluster;
    type Error = RedisError;

    async fn create(&self) -> Result<ManagedCluster, RedisError> {
        Ok(ManagedCluster {
            conn: self.client.get_async_connection().await?,
            resend: self.resend,
            session: false,
            in_multi: false,
        })
    }

    async fn recycle(
        &self,
        conn: &mut ManagedCluster,
        _: &Metrics,
    ) -> pool_core::RecycleResult<RedisError> {
        let ping_number = self.ping_number.fetch_add(1, Ordering::Relaxed).to_string();
        let n: String = redis::cmd("PING")
            .arg(&ping_number)
            .query_async(&mut conn.conn)
            .await?;
        if n == ping_number {
            Ok(())
        } else {
            Err(pool_core::RecycleError::message("Invalid PING response"))
        }
    }

    /// [`DEFAULT_HEALTH_CHECK_INTERVAL`]: no PING for a connection used in
    /// the last second.
    fn health_check_interval(&self) -> Duration {
        DEFAULT_HEALTH_CHECK_INTERVAL
    }

    fn is_broken(&self, conn: &mut ManagedCluster) -> bool {
        conn.unusable()
    }
}

/// Shared mode for cluster pools. In scope with
/// `use pool_redis::cluster::ClusterPoolExt;`.
pub trait ClusterPoolExt {
    /// A cheap, cloneable handle on the pool's one shared
    /// `ClusterConnection` (one connection per node), for plain commands
    /// and pipelines without a checkout. Commands that hold or change a
    /// connection's session (`WATCH`, a bare `MULTI`, `SUBSCRIBE`, blocking
    /// commands) are refused with an error naming the command, as in
    /// [`RedisPoolExt::shared`](crate::RedisPoolExt::shared).
    fn shared(&self) -> ClusterShared;
}

impl ClusterPoolExt for Pool {
    fn shared(&self) -> ClusterShared {
        ClusterShared {
            shared: Arc::clone(&self.manager().shared),
            conn: None,
        }
    }
}

/// A handle on a cluster pool's shared connection (see
/// [`ClusterPoolExt::shared`]).
#[derive(Clone)]
pub struct ClusterShared {
    shared: Arc<SharedCluster>,
    /// This handle's clone of the connection, once made.
    conn: Option<ClusterConnection>,
}

impl std::fmt::Debug for ClusterShared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterShared")
            .field("connected", &self.shared.conn.initialized())
            .finish_non_exhaustive()
    }
}

impl ClusterShared {
    async fn connection(&mut self) -> RedisResult<&mut ClusterConnection> {
        if self.conn.is_none() {
            let shared = &*self.shared;
            let conn = shared
                .conn
                .get_or_try_init(|| shared.client.get_async_connection())
                .await?;
            self.conn = Some(conn.clone());
        }
        Ok(self.conn.as_mut().expect("set above"))
    }
}

impl ConnectionLike for ClusterShared {
    fn req_packed_command<'a>(
        &'a mut self,
        cmd: &'a redis::Cmd,
    ) -> redis::RedisFuture<'a, redis::Value> {
        Box::pin(async move {
            refuse_single(cmd)?;
            let resend = self.shared.resend;
            let conn = self.connection().await?;
            send::single(conn, cmd, resend).await
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> redis::RedisFuture<'a, Vec<redis::Value>> {
        Box::pin(async move {
            refuse_pipeline(pipeline)?;
            let resend = self.shared.resend;
            let conn = self.connection().await?;
            send::pipeline(conn, pipeline, offset, count, resend).await
        })
    }

    fn get_db(&self) -> i64 {
        0
    }
}
