//! How Redis connections are made and checked: the [`Manager`] pool-core
//! drives.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use redis::{AsyncConnectionConfig, Client, IntoConnectionInfo, RedisError, RedisResult};

use crate::managed::{ManagedConnection, with_limit};
use crate::retry::{Retry, RetryPolicy};
use crate::{DEFAULT_HEALTH_CHECK_INTERVAL, DEFAULT_SHARED_DEPTH, Metrics, shared, tls};

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
}

impl std::fmt::Debug for Manager {
    /// The address, database and user; never the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let info = self.client.get_connection_info();
        f.debug_struct("Manager")
            .field("addr", &format_args!("{}", info.addr()))
            .field("db", &info.redis_settings().db())
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
    /// command through [`Connection`] waits `timeout` for its answer, a
    /// blocking one (`BLPOP key 5`, `XREAD BLOCK 5000`) its own timeout plus
    /// `timeout`. A command that times out leaves its answer in flight, so
    /// its connection is closed at return. [`Config::create_pool`] uses this
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
        }
    }

    /// Requests in flight on one shared connection (see
    /// [`RedisPoolExt::shared`]) before the next one is opened; default
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
                config,
                max_connections,
                self.shared_depth,
                self.retry.clone(),
            ))
        })
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

impl pool_core::Manager for Manager {
    type Type = ManagedConnection;
    type Error = RedisError;

    async fn create(&self) -> Result<ManagedConnection, RedisError> {
        let connected = match &self.connection_config {
            Some(config) => {
                self.client
                    .get_multiplexed_async_connection_with_config(config)
                    .await
            }
            None => self.client.get_multiplexed_async_connection().await,
        };
        let conn = connected.map_err(|e| {
            let addr = self.client.get_connection_info().addr();
            tls::explain(
                e,
                matches!(addr, redis::ConnectionAddr::TcpTls { .. }),
                addr,
            )
        })?;
        Ok(ManagedConnection::new(
            conn,
            self.command_timeout,
            self.retry.clone(),
        ))
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
    /// seen by [`Connection`], so a connection used a moment ago needs no
    /// PING.
    fn health_check_interval(&self) -> Duration {
        DEFAULT_HEALTH_CHECK_INTERVAL
    }

    fn needs_recycle(&self, conn: &mut ManagedConnection) -> bool {
        conn.needs_reset || conn.exposed
    }

    fn is_broken(&self, conn: &mut ManagedConnection) -> bool {
        self.single_use || conn.unusable()
    }
}
