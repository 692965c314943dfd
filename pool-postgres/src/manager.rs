//! `Manager`: connects, checks and resets connections for pool-core.

use std::{fmt, future::Future, pin::Pin, time::Duration};

use pool_core::{Metrics, RecycleError, RecycleResult};
use tokio::task::JoinHandle;
use tokio_postgres::{
    Client as PgClient, Config as PgConfig, Error, Socket,
    tls::{MakeTlsConnect, TlsConnect},
};

use crate::{
    ClientWrapper,
    statement_cache::{DEFAULT_STATEMENT_CACHE_SIZE, StatementCaches},
};

/// The health-check TTL of `Verified` (pool-core's
/// `health_check_interval` when the pool config leaves it unset): a
/// connection used, checked or created less than this long ago is handed
/// out without the empty query. It still gets `is_closed()` and, if it may
/// be inside a transaction, a `ROLLBACK`.
pub const DEFAULT_HEALTH_CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// How long a new connection may take, TCP connect and the startup
/// exchange (TLS, login) together, when `connect_timeout` is not set:
/// tokio-postgres's own `connect_timeout` bounds only the TCP connect, so a
/// server that accepts and never answers would hold `get()` forever.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long the checkout's check (`ROLLBACK`, the empty query, `Clean`'s
/// reset, a custom query) may take before the connection counts as dead
/// and is replaced: a connection whose server stopped answering is never
/// handed out.
pub const DEFAULT_RECYCLE_TIMEOUT: Duration = Duration::from_secs(5);

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Opens a connection (deadpool-postgres's `Connect`): implement it to
/// connect your own way.
pub trait Connect: Sync + Send {
    /// A client and the task driving its connection.
    fn connect(
        &self,
        pg_config: &PgConfig,
    ) -> BoxFuture<'_, Result<(PgClient, JoinHandle<()>), Error>>;
}

/// [`Connect`] through [`tokio_postgres::Config::connect`] with a TLS
/// connector.
#[derive(Debug)]
pub struct ConfigConnectImpl<T>
where
    T: MakeTlsConnect<Socket> + Clone + Sync + Send + 'static,
    T::Stream: Sync + Send,
    T::TlsConnect: Sync + Send,
    <T::TlsConnect as TlsConnect<Socket>>::Future: Send,
{
    /// The TLS connector (`tokio_postgres::NoTls` for none).
    pub tls: T,
}

impl<T> Connect for ConfigConnectImpl<T>
where
    T: MakeTlsConnect<Socket> + Clone + Sync + Send + 'static,
    T::Stream: Sync + Send,
    T::TlsConnect: Sync + Send,
    <T::TlsConnect as TlsConnect<Socket>>::Future: Send,
{
    fn connect(
        &self,
        pg_config: &PgConfig,
    ) -> BoxFuture<'_, Result<(PgClient, JoinHandle<()>), Error>> {
        let tls = self.tls.clone();
        let pg_config = pg_config.clone();
        Box::pin(async move {
            let (client, connection) = pg_config.connect(tls).await?;
            let task = tokio::spawn(async move {
                if let Err(e) = connection.await {
                    tracing::debug!(target: "pool_postgres", "connection ended: {e}");
                }
            });
            Ok((client, task))
        })
    }
}

/// Creates and checks connections (deadpool-postgres's `Manager`).
pub struct Manager {
    config: ManagerConfig,
    pg_config: PgConfig,
    connect: Box<dyn Connect>,
    cache_size: usize,
    /// The bound on the checkout's check.
    recycle_timeout: Duration,
    /// Every live connection's statement cache.
    pub statement_caches: StatementCaches,
}

impl fmt::Debug for Manager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // tokio-postgres's `Config` hides the password in its `Debug`.
        f.debug_struct("Manager")
            .field("config", &self.config)
            .field("pg_config", &self.pg_config)
            .field("statement_cache_size", &self.cache_size)
            .field("statement_caches", &self.statement_caches)
            .finish()
    }
}

impl Manager {
    /// A manager with the default [`ManagerConfig`].
    pub fn new<T>(pg_config: PgConfig, tls: T) -> Self
    where
        T: MakeTlsConnect<Socket> + Clone + Sync + Send + 'static,
        T::Stream: Sync + Send,
        T::TlsConnect: Sync + Send,
        <T::TlsConnect as TlsConnect<Socket>>::Future: Send,
    {
        Self::from_config(pg_config, tls, ManagerConfig::default())
    }

    /// A manager with this [`ManagerConfig`].
    pub fn from_config<T>(pg_config: PgConfig, tls: T, config: ManagerConfig) -> Self
    where
        T: MakeTlsConnect<Socket> + Clone + Sync + Send + 'static,
        T::Stream: Sync + Send,
        T::TlsConnect: Sync + Send,
        <T::TlsConnect as TlsConnect<Socket>>::Future: Send,
    {
        Self::from_connect(pg_config, ConfigConnectImpl { tls }, config)
    }

    /// A manager that connects through `connect`.
    pub fn from_connect(
        pg_config: PgConfig,
        connect: impl Connect + 'static,
        config: ManagerConfig,
    ) -> Self {
        Self {
            config,
            pg_config,
            connect: Box::new(connect),
            cache_size: DEFAULT_STATEMENT_CACHE_SIZE,
            recycle_timeout: DEFAULT_RECYCLE_TIMEOUT,
            statement_caches: StatementCaches::default(),
        }
    }

    /// Prepared statements kept per connection (least recently used
    /// evicted first; at least 1).
    #[must_use]
    pub fn with_statement_cache_size(mut self, size: usize) -> Self {
        self.cache_size = size.max(1);
        self
    }

    /// How long the checkout's check may take before the connection is
    /// replaced (default [`DEFAULT_RECYCLE_TIMEOUT`]).
    #[must_use]
    pub fn with_recycle_timeout(mut self, limit: Duration) -> Self {
        self.recycle_timeout = limit;
        self
    }

    /// The servers this manager connects to, as `host:port` (for errors).
    fn addresses(&self) -> String {
        use tokio_postgres::config::Host;
        let ports = self.pg_config.get_ports();
        let hosts: Vec<String> = self
            .pg_config
            .get_hosts()
            .iter()
            .enumerate()
            .map(|(i, host)| {
                let port = ports.get(i).or(ports.first()).copied().unwrap_or(5432);
                match host {
                    Host::Tcp(name) => format!("{name}:{port}"),
                    #[cfg(unix)]
                    Host::Unix(path) => format!("{}/.s.PGSQL.{port}", path.display()),
                }
            })
            .collect();
        if hosts.is_empty() {
            let addrs: Vec<String> = self
                .pg_config
                .get_hostaddrs()
                .iter()
                .map(|a| format!("{a}:{}", ports.first().copied().unwrap_or(5432)))
                .collect();
            return addrs.join(", ");
        }
        hosts.join(", ")
    }
}

impl Manager {
    /// The checkout's round trips: pool-core runs `recycle` when the
    /// health-check TTL expired (or is zero), or when `needs_recycle` asked
    /// for it.
    async fn check(&self, client: &mut ClientWrapper) -> RecycleResult<Error> {
        let method = &self.config.recycling_method;
        if !client.session.is_clean() && *method != RecyclingMethod::Fast {
            // Ends whatever the last user left open; doubles as the
            // liveness check. `Clean` starts with its own ROLLBACK.
            if *method != RecyclingMethod::Clean {
                client.raw().batch_execute("ROLLBACK").await?;
            }
        } else if *method == RecyclingMethod::Verified {
            client.raw().batch_execute("").await?;
            return Ok(());
        }
        match method {
            RecyclingMethod::Clean | RecyclingMethod::Custom(_) => {
                if let Some(sql) = method.query() {
                    client.raw().batch_execute(sql).await?;
                }
            }
            RecyclingMethod::Fast | RecyclingMethod::Verified => {}
        }
        client.session.mark_clean();
        Ok(())
    }
}

impl pool_core::Manager for Manager {
    type Type = ClientWrapper;
    type Error = Error;

    async fn create(&self) -> Result<ClientWrapper, Error> {
        // The whole connect, startup exchange included, within the
        // configured connect timeout (tokio-postgres applies it to the TCP
        // connect alone) or the default.
        let limit = self
            .pg_config
            .get_connect_timeout()
            .copied()
            .unwrap_or(DEFAULT_CONNECT_TIMEOUT);
        let connecting = self.connect.connect(&self.pg_config);
        let Ok(connected) = tokio::time::timeout(limit, connecting).await else {
            tracing::warn!(
                target: "pool_postgres",
                server = %self.addresses(),
                ?limit,
                "no connection within the connect timeout"
            );
            return Err(Error::__private_api_timeout());
        };
        let (client, task) = connected?;
        let wrapper = ClientWrapper::with_cache(client, task, self.cache_size);
        self.statement_caches.attach(&wrapper.statement_cache);
        Ok(wrapper)
    }

    async fn recycle(&self, client: &mut ClientWrapper, _: &Metrics) -> RecycleResult<Error> {
        if client.raw().is_closed() {
            return Err(RecycleError::message("connection closed"));
        }
        match tokio::time::timeout(self.recycle_timeout, self.check(client)).await {
            Ok(checked) => checked,
            Err(_) => Err(RecycleError::message(format!(
                "no answer from {} to the checkout's check within {:?} (recycle timeout): connection replaced",
                self.addresses(),
                self.recycle_timeout
            ))),
        }
    }

    /// tokio-postgres's `Display` is terse ("db error", "error connecting
    /// to server"); the server's message is in the source chain. Its errors
    /// carry no password.
    fn describe_error(&self, error: &Error) -> Option<String> {
        let mut text = error.to_string();
        if text == Error::__private_api_timeout().to_string() {
            let limit = self
                .pg_config
                .get_connect_timeout()
                .copied()
                .unwrap_or(DEFAULT_CONNECT_TIMEOUT);
            text = format!(
                "no connection to {} within {limit:?} (connect timeout)",
                self.addresses()
            );
        }
        let mut source = std::error::Error::source(error);
        while let Some(e) = source {
            text.push_str(": ");
            text.push_str(&e.to_string());
            source = e.source();
        }
        Some(text)
    }

    fn detach(&self, client: &mut ClientWrapper) {
        self.statement_caches.detach(&client.statement_cache);
    }

    fn health_check_interval(&self) -> Duration {
        match self.config.recycling_method {
            // Only `Verified` may skip its round trip for a fresh
            // connection; `Fast` has none, `Clean` and `Custom` always run.
            RecyclingMethod::Verified => DEFAULT_HEALTH_CHECK_INTERVAL,
            _ => Duration::ZERO,
        }
    }

    /// Runs at a checkout the health-check TTL would let skip `recycle`.
    /// A session that may be inside a transaction gets its `ROLLBACK` sent
    /// ahead of the next user's first statement instead of a round trip
    /// here: the connection was seen healthy moments ago, so the awaited
    /// rollback would only prove again what the TTL already trusts. (Code
    /// that runs its SQL through `&**client` makes every checkout such a
    /// session.)
    fn needs_recycle(&self, client: &mut ClientWrapper) -> bool {
        if client.raw().is_closed() {
            return true;
        }
        match self.config.recycling_method {
            RecyclingMethod::Fast => false,
            RecyclingMethod::Verified => {
                if !client.session.is_clean() {
                    client.rollback_ahead();
                }
                false
            }
            // The TTL never skips them, even one set in the pool config.
            RecyclingMethod::Clean | RecyclingMethod::Custom(_) => true,
        }
    }

    fn is_broken(&self, client: &mut ClientWrapper) -> bool {
        client.raw().is_closed()
    }
}

/// How a connection is checked when it is handed out again.
///
/// The default differs from deadpool-postgres's (`Fast`): it is `Verified`,
/// and pool-core's health-check TTL (`PoolConfig::health_check_interval`,
/// default [`DEFAULT_HEALTH_CHECK_INTERVAL`](crate::DEFAULT_HEALTH_CHECK_INTERVAL))
/// skips the round trip for a connection used moments ago. Every method
/// checks `is_closed()` at checkout and return; a connection that may be
/// inside a transaction is rolled back first (except under `Fast`).
#[derive(Clone, Debug, Eq, PartialEq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize, serde::Serialize))]
pub enum RecyclingMethod {
    /// deadpool-postgres's meaning: only `is_closed()`, never a round trip
    /// (not even a rollback of a transaction left open).
    Fast,
    /// `is_closed()` and an empty query, unless the connection was used
    /// within the health-check TTL.
    #[default]
    Verified,
    /// `ROLLBACK` and a reset like `DISCARD ALL` that keeps prepared
    /// statements (`CLOSE ALL; SET SESSION AUTHORIZATION DEFAULT; RESET ALL;
    /// UNLISTEN *; SELECT pg_advisory_unlock_all(); DISCARD TEMP; DISCARD
    /// SEQUENCES`), on every checkout.
    Clean,
    /// Your SQL on every checkout (after a `ROLLBACK` when the connection may
    /// be inside a transaction).
    Custom(String),
}

impl RecyclingMethod {
    const CLEAN_SQL: &'static str = "ROLLBACK; CLOSE ALL; SET SESSION AUTHORIZATION DEFAULT; \
        RESET ALL; UNLISTEN *; SELECT pg_advisory_unlock_all(); DISCARD TEMP; DISCARD SEQUENCES;";

    /// The SQL sent at checkout (`None`: no round trip), as
    /// deadpool-postgres's `query`.
    #[must_use]
    pub fn query(&self) -> Option<&str> {
        match self {
            Self::Fast => None,
            Self::Verified => Some(""),
            Self::Clean => Some(Self::CLEAN_SQL),
            Self::Custom(sql) => Some(sql),
        }
    }
}

/// Configuration of a [`Manager`](crate::Manager).
#[derive(Clone, Debug, Default)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize, serde::Serialize))]
pub struct ManagerConfig {
    /// How connections are checked at checkout.
    pub recycling_method: RecyclingMethod,
}
