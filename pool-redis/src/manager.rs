//! How Redis connections are made and checked: the [`Manager`] pool-core
//! drives.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use redis::{AsyncConnectionConfig, Client, IntoConnectionInfo, RedisError, RedisResult};

use crate::managed_connection::{ManagedConnection, with_limit};
use crate::retry::{Retry, RetryPolicy};
use crate::shared::DEFAULT_SHARED_DEPTH;
use crate::target::Target;
use crate::{shared, tls};
use pool_core::Metrics;

/// The health-check interval pool-redis uses unless told otherwise: a
/// connection used successfully within the last second skips its PING.
pub const DEFAULT_HEALTH_CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// How long a command through a pool built from a [`Config`](crate::Config) waits for its
/// answer (a blocking command: its own timeout plus this): redis's default.
pub const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_millis(500);

/// Creates and checks Redis connections.
pub struct Manager {
    pub(crate) client: Client,
    connection_config: Option<AsyncConnectionConfig>,
    /// See [`Manager::with_command_timeout`].
    command_timeout: Option<Duration>,
    /// See [`Manager::single_use`].
    single_use: bool,
    ping_number: AtomicUsize,
    /// See [`Manager::shared_depth`].
    shared_depth: usize,
    /// Read retry policy and counters, shared with every connection.
    pub(crate) retry: Arc<Retry>,
    /// The pool's shared connections, made on the first `shared()`.
    pub(crate) shared: OnceLock<Arc<shared::SharedSet>>,
    /// Sentinel's nodes, when they and not `client`'s address say where
    /// connections go (`client` then only carries the login and database).
    pub(crate) target: Option<Arc<Target>>,
    /// The pool's idle connections follow the target (`watch_idle`).
    idle_watched: OnceLock<()>,
}

impl std::fmt::Debug for Manager {
    /// The address, database and user; never the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let info = self.client.get_connection_info();
        let mut f = f.debug_struct("Manager");
        match &self.target {
            Some(target) => f.field("nodes", &target.addrs()),
            None => f.field("addr", &format_args!("{}", info.addr())),
        };
        f.field("db", &info.redis_settings().db())
            .field("username", &info.redis_settings().username())
            .field("command_timeout", &self.command_timeout)
            .field("single_use", &self.single_use)
            .finish_non_exhaustive()
    }
}

impl Manager {
    /// A manager for the given URL or connection info.
    ///
    /// # Errors
    /// The redis crate's error for an unusable address.
    pub fn new<T: IntoConnectionInfo>(params: T) -> RedisResult<Self> {
        Ok(Self::with_client(Client::open(params)?))
    }

    /// A manager whose connections honour blocking commands' own timeouts:
    /// they are made without redis's fixed response timeout, and every
    /// command through [`Connection`](crate::Connection) waits `timeout` for its answer, a
    /// blocking one (`BLPOP key 5`, `XREAD BLOCK 5000`) its own timeout plus
    /// `timeout`. A command that times out leaves its answer in flight, so
    /// its connection is closed at return. [`Config::create_pool`](crate::Config::create_pool) uses this
    /// with redis's default 500 ms; `Manager::new` keeps redis's behaviour
    /// (as deadpool-redis, whose tests check that a 1 s `BLPOP` fails there).
    ///
    /// # Errors
    /// The redis crate's error for an unusable address.
    pub fn with_command_timeout<T: IntoConnectionInfo>(
        params: T,
        timeout: Duration,
    ) -> RedisResult<Self> {
        Ok(Self {
            connection_config: Some(AsyncConnectionConfig::new().set_response_timeout(None)),
            command_timeout: Some(timeout),
            ..Self::with_client(Client::open(params)?)
        })
    }

    /// A manager for TLS connections (`rediss://`) that trusts the CA in
    /// `certs` (instead of the system's store) and, for mutual TLS, presents
    /// its client certificate. URLs given to a `Config` can name files
    /// instead: `rediss://host:6380/0?tls_ca=/etc/ca.pem&tls_cert=..&tls_key=..`.
    ///
    /// # Errors
    /// An address that is not `rediss://`, a certificate that is not PEM, a
    /// client certificate without its key or with a key that does not
    /// match it (the message says which).
    pub fn new_with_tls<T: IntoConnectionInfo>(
        params: T,
        certs: crate::TlsCertificates,
    ) -> RedisResult<Self> {
        tls::check_bytes(&certs).map_err(|e| tls::config_error(&e))?;
        #[cfg(any(feature = "tls-rustls", feature = "tls-native-tls"))]
        {
            tls::ensure_crypto_provider();
            let client = Client::build_with_tls(params, tls::to_redis(&certs))?;
            Ok(Self::with_client(client))
        }
        #[cfg(not(any(feature = "tls-rustls", feature = "tls-native-tls")))]
        {
            let _ = params;
            Err(redis::RedisError::from((
                redis::ErrorKind::InvalidClientConfig,
                "TLS is not built in",
                "enable pool-redis's `tls-rustls` feature (or `tls-native-tls`)".to_owned(),
            )))
        }
    }

    /// Connections made without redis-rs's response timeout, every command
    /// through [`Connection`](crate::Connection) waiting `timeout` for its
    /// answer (a blocking one its own timeout plus `timeout`), as
    /// [`Manager::with_command_timeout`] does.
    #[must_use]
    pub fn command_timeout(self, timeout: Duration) -> Self {
        Self {
            connection_config: Some(AsyncConnectionConfig::new().set_response_timeout(None)),
            command_timeout: Some(timeout),
            ..self
        }
    }

    /// A manager whose connections use `connection_config` (timeouts etc.).
    ///
    /// # Errors
    /// The redis crate's error for an unusable address.
    pub fn new_with_config<T: IntoConnectionInfo>(
        params: T,
        connection_config: AsyncConnectionConfig,
    ) -> RedisResult<Self> {
        Ok(Self {
            connection_config: Some(connection_config),
            ..Self::with_client(Client::open(params)?)
        })
    }
}

impl Manager {
    fn with_client(client: Client) -> Self {
        if let redis::ConnectionAddr::TcpTls { insecure, .. } = client.get_connection_info().addr()
        {
            tls::ensure_crypto_provider();
            if *insecure {
                tracing::warn!(
                    addr = %client.get_connection_info().addr(),
                    "TLS without certificate verification (#insecure): anyone on the path can read and change this pool's traffic"
                );
            }
        }
        Self {
            client,
            connection_config: None,
            command_timeout: None,
            single_use: false,
            ping_number: AtomicUsize::new(0),
            shared_depth: DEFAULT_SHARED_DEPTH,
            retry: Arc::new(Retry::default()),
            shared: OnceLock::new(),
            target: None,
            idle_watched: OnceLock::new(),
        }
    }

    /// A manager whose connections go to `target`'s nodes, logging in and
    /// selecting the database as `settings` says.
    #[cfg(feature = "sentinel")]
    pub(crate) fn followed(
        settings: redis::ConnectionInfo,
        target: Arc<Target>,
        command_timeout: Duration,
    ) -> RedisResult<Self> {
        Ok(Self {
            target: Some(target),
            ..Self::with_command_timeout(settings, command_timeout)?
        })
    }

    /// A client for a new connection: `client`, or the next of the
    /// target's nodes (with the stamp its connection carries).
    pub(crate) async fn next_client(&self) -> RedisResult<(Client, Option<crate::target::Stamp>)> {
        match &self.target {
            None => Ok((self.client.clone(), None)),
            Some(target) => {
                let (node, stamp) = target.node().await?;
                Ok((node.client, Some(stamp)))
            }
        }
    }

    /// Requests in flight on one shared connection (see
    /// [`RedisPoolExt::shared`](crate::RedisPoolExt::shared)) before the next one is opened; default
    /// [`DEFAULT_SHARED_DEPTH`].
    #[must_use]
    pub fn shared_depth(mut self, depth: usize) -> Self {
        self.shared_depth = depth.max(1);
        self
    }

    /// The shared connection set, made on first use with `max_connections`
    /// lanes.
    pub(crate) fn shared_set(&self, max_connections: usize) -> &Arc<shared::SharedSet> {
        self.shared.get_or_init(|| {
            let set = self.new_shared_set(max_connections);
            if let Some(target) = &self.target {
                let weak = Arc::downgrade(&set);
                target.on_change(move || {
                    if let Some(set) = weak.upgrade() {
                        set.target_changed();
                    }
                });
            }
            set
        })
    }

    fn new_shared_set(&self, max_connections: usize) -> Arc<shared::SharedSet> {
        // Shared connections run plain commands only, so redis's own
        // response timeout applies (the configured command timeout when
        // there is one).
        let config = match (self.command_timeout, &self.connection_config) {
            (Some(t), _) => AsyncConnectionConfig::new().set_response_timeout(Some(t)),
            (None, Some(config)) => config.clone(),
            (None, None) => AsyncConnectionConfig::new(),
        };
        Arc::new(shared::SharedSet::new(
            self.client.clone(),
            self.target.clone(),
            config,
            max_connections,
            self.shared_depth,
            self.retry.clone(),
        ))
    }

    /// How reads whose connection broke are retried (default
    /// [`RetryPolicy::default`]: 3 attempts within 500 ms;
    /// [`RetryPolicy::off`] turns it off). Also settable on a built pool:
    /// [`RedisPoolExt::set_read_retry`](crate::RedisPoolExt::set_read_retry).
    #[must_use]
    pub fn read_retry(self, policy: RetryPolicy) -> Self {
        self.retry.set_policy(policy);
        self
    }

    /// Connections are never reused: each checkout gets a fresh one, closed
    /// when it comes back (pooling "disabled", as
    /// `REDIS_<ROLE>_POOL_ENABLED=0` asks); `max_size` still bounds how many
    /// exist at once.
    #[must_use]
    pub fn single_use(mut self) -> Self {
        self.single_use = true;
        self
    }
}

/// A manager of pool-redis connections: [`Manager`] (one server) or
/// Sentinel's. Sealed: it only lets the pool extensions
/// ([`RedisPoolExt`](crate::RedisPoolExt)) and [`Connection`](crate::Connection)
/// serve both.
pub trait RedisManager:
    pool_core::Manager<Type = ManagedConnection, Error = RedisError> + sealed::Sealed
{
    /// The one-server manager doing the work.
    #[doc(hidden)]
    fn redis_manager(&self) -> &Manager;
}

pub(crate) mod sealed {
    pub trait Sealed {}
}

impl sealed::Sealed for Manager {}

impl RedisManager for Manager {
    fn redis_manager(&self) -> &Manager {
        self
    }
}

impl Manager {
    /// Closes the pool's idle connections to a former node whenever the
    /// target's nodes change, and lets a create through at once if the
    /// breaker was open (registered once per manager).
    pub(crate) fn watch_idle<M: RedisManager>(
        &self,
        target: &Arc<Target>,
        pool: pool_core::WeakPool<M>,
    ) {
        if self.idle_watched.set(()).is_err() {
            return;
        }
        target.on_change(move || {
            if let Some(pool) = pool.upgrade() {
                // Creates that failed against the former node say nothing
                // about the new one.
                pool.backend_changed();
                let mut closed = 0;
                let result = pool.retain(|conn, _| {
                    let keep = !conn.stamp.as_ref().is_some_and(|s| s.no_longer_served());
                    closed += usize::from(!keep);
                    keep
                });
                drop(result);
                if closed > 0 {
                    tracing::info!(closed, "idle connections to a former node closed");
                }
            }
        });
    }
}

impl pool_core::Manager for Manager {
    type Type = ManagedConnection;
    type Error = RedisError;

    async fn create(&self) -> Result<ManagedConnection, RedisError> {
        let (client, stamp) = self.next_client().await?;
        let connected = match &self.connection_config {
            Some(config) => {
                client
                    .get_multiplexed_async_connection_with_config(config)
                    .await
            }
            None => client.get_multiplexed_async_connection().await,
        };
        let conn = connected.map_err(|e| {
            if let Some(stamp) = &stamp {
                stamp.suspect();
            }
            let addr = client.get_connection_info().addr();
            tls::explain(
                e,
                matches!(addr, redis::ConnectionAddr::TcpTls { .. }),
                addr,
            )
        })?;
        let conn = ManagedConnection::new(conn, self.command_timeout, self.retry.clone());
        Ok(match stamp {
            Some(stamp) => conn.followed(stamp),
            None => conn,
        })
    }

    async fn recycle(
        &self,
        conn: &mut ManagedConnection,
        _: &Metrics,
    ) -> pool_core::RecycleResult<RedisError> {
        // One round trip. UNWATCH resets a transaction's watches; after the
        // raw connection was lent out, RESET clears everything (MULTI,
        // SELECT, subscriptions, client name) and we log in and select the
        // configured database again. A PING with a unique number proves the
        // answer is ours.
        if conn.is_stale() {
            return Err(pool_core::RecycleError::message(
                "the connection's node is no longer the master (Sentinel failover)",
            ));
        }
        let ping_number = self.ping_number.fetch_add(1, Ordering::Relaxed).to_string();
        let mut pipe = redis::Pipeline::with_capacity(5);
        if conn.exposed {
            let settings = self.client.get_connection_info().redis_settings();
            pipe.cmd("RESET").ignore();
            if let Some(password) = settings.password() {
                let auth = pipe.cmd("AUTH");
                if let Some(user) = settings.username() {
                    auth.arg(user);
                }
                auth.arg(password).ignore();
            }
            pipe.cmd("SELECT").arg(settings.db()).ignore();
        } else {
            pipe.cmd("UNWATCH").ignore();
        }
        pipe.cmd("PING").arg(&ping_number);
        // Bounded like any command: a check that never answers (a half-open
        // connection) fails the recycle, and the connection is dropped.
        let limit = conn.command_timeout();
        let (answer, _) = with_limit(limit, pipe.query_async::<(String,)>(conn.checked())).await;
        let (n,) = answer?;
        if n == ping_number {
            conn.needs_reset = false;
            conn.exposed = false;
            Ok(())
        } else {
            Err(pool_core::RecycleError::message("Invalid PING response"))
        }
    }

    /// [`DEFAULT_HEALTH_CHECK_INTERVAL`] (1 s): every command's outcome is
    /// seen by [`Connection`](crate::Connection), so a connection used a moment ago needs no
    /// PING.
    fn health_check_interval(&self) -> Duration {
        DEFAULT_HEALTH_CHECK_INTERVAL
    }

    fn needs_recycle(&self, conn: &mut ManagedConnection) -> bool {
        conn.needs_reset || conn.exposed || conn.is_stale()
    }

    fn is_broken(&self, conn: &mut ManagedConnection) -> bool {
        self.single_use || conn.unusable() || conn.is_stale()
    }
}
