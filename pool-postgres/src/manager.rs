//! `Manager`: connects, checks and resets connections for pool-core.

use std::{fmt, sync::Arc, time::Duration};

use pool_core::{Metrics, RecycleError, RecycleResult};
use tokio_postgres::{
    Config as PgConfig, Error, Socket,
    tls::{MakeTlsConnect, TlsConnect},
};

use crate::client::ClientWrapper;
use crate::reconnect::Connector;
pub use crate::reconnect::{ConfigConnectImpl, Connect, DEFAULT_CONNECT_TIMEOUT};
use crate::statement_cache::{DEFAULT_STATEMENT_CACHE_SIZE, StatementCaches};

/// The health-check TTL of `Verified` (pool-core's
/// `health_check_interval` when the pool config leaves it unset): a
/// connection used, checked or created less than this long ago is handed
/// out without the empty query. It still gets `is_closed()` and, if it may
/// be inside a transaction, a `ROLLBACK`.
pub const DEFAULT_HEALTH_CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// How long the checkout's check (`ROLLBACK`, the empty query, `Clean`'s
/// reset, a custom query) may take before the connection counts as dead
/// and is replaced: a connection whose server stopped answering is never
/// handed out.
pub const DEFAULT_RECYCLE_TIMEOUT: Duration = Duration::from_secs(5);

/// Creates and checks connections (deadpool-postgres's `Manager`).
pub struct Manager {
    config: ManagerConfig,
    /// How connections are opened; shared with every connection made, for
    /// the replacement of one found dead (see [`crate::reconnect`]).
    connector: Arc<Connector>,
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
            .field("pg_config", &self.connector.pg_config)
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
        Self::with_connector(Connector::with_tls(pg_config, tls), config)
    }

    /// A manager that connects through `connect`.
    pub fn from_connect(
        pg_config: PgConfig,
        connect: impl Connect + 'static,
        config: ManagerConfig,
    ) -> Self {
        Self::with_connector(Connector::custom(pg_config, connect), config)
    }

    fn with_connector(connector: Connector, config: ManagerConfig) -> Self {
        Self {
            config,
            connector: Arc::new(connector),
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
        let opened = self.connector.open().await?;
        let wrapper = ClientWrapper::with_cache(opened.client, opened.task, self.cache_size)
            .with_reconnect(Arc::clone(&self.connector), opened.ended_by_server);
        self.statement_caches.attach(&wrapper.statement_cache);
        Ok(wrapper)
    }

    async fn recycle(&self, client: &mut ClientWrapper, _: &Metrics) -> RecycleResult<Error> {
        client.checked_out();
        if client.raw().is_closed() {
            return Err(RecycleError::message("connection closed"));
        }
        match tokio::time::timeout(self.recycle_timeout, self.check(client)).await {
            Ok(checked) => checked,
            Err(_) => Err(RecycleError::message(format!(
                "no answer from {} to the checkout's check within {:?} (recycle timeout): connection replaced",
                self.connector.addresses(),
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
            text = format!(
                "no connection to {} within {:?} (connect timeout)",
                self.connector.addresses(),
                self.connector.limit()
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
        client.checked_out();
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
