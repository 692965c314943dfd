//! Redis Sentinel: a pool whose connections go to the master (or the
//! replicas) the sentinels name, and follow a failover. A drop-in for
//! deadpool-redis's `sentinel` module (same items, same configuration),
//! plus what it lacks:
//!
//! - **It follows a failover.** The pool learns of one from whichever comes
//!   first: a `+switch-master` event (it listens to one sentinel at a time,
//!   moving to the next when it goes away, and asks again after every
//!   subscription since events are delivered at most once), a `READONLY`
//!   answer, or a failed connection. It then asks the sentinels (one
//!   discovery at a time for the whole pool) and checks `ROLE` on the node
//!   named before using it. Idle and shared connections to the former
//!   master are closed at once; a checked-out one is replaced before its
//!   next command (or, if it carries session state, fails that command)
//!   and is closed at return. A single write refused with `READONLY` by a
//!   demoted master was not run, so it is sent once more to the new one.
//! - **Replica pools spread and fall back**: connections are spread over
//!   the replicas Sentinel lists as up; a replica marked down or promoted
//!   is dropped; with no replica able to serve, they go to the master.
//! - Everything pool-redis does for one server: no PING per checkout,
//!   session-state safety, shared mode (`RedisPoolExt::shared`, which
//!   follows the master too), pub/sub, metrics, the breaker, TLS.

mod config;
mod discovery;
mod url;
mod watcher;

pub(crate) use url::{is_sentinel_url, manager_from_url};

use std::sync::Arc;
use std::time::Duration;

use redis::{IntoConnectionInfo, RedisError, RedisResult};

use crate::managed_connection::ManagedConnection;
use crate::manager::DEFAULT_COMMAND_TIMEOUT;
use crate::manager::{RedisManager, sealed};
use crate::target::Target;
use crate::tls::TlsCertificates;

pub use self::config::{Config, SentinelNodeConnectionInfo, SentinelServerType, TlsMode};
pub use crate::config_error::ConfigError;
pub use pool_core::managed::reexports::*;

pub use discovery::DISCOVERY_TIMEOUT;
use discovery::Sentinels;

pool_aliases!(Manager, Connection, ConfigError);
/// A connection checked out of a Sentinel [`Pool`] (see
/// [`crate::Connection`]).
pub type Connection = crate::Connection<Manager>;

/// Creates connections to the nodes the sentinels name and checks them.
pub struct Manager {
    inner: crate::Manager,
    target: Arc<Target>,
    sentinels: Arc<Sentinels>,
}

impl std::fmt::Debug for Manager {
    /// Sentinels, master name and nodes; never a password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sentinels: Vec<String> = self
            .sentinels
            .clients
            .iter()
            .map(|c| c.get_connection_info().addr().to_string())
            .collect();
        f.debug_struct("Manager")
            .field("sentinels", &sentinels)
            .field("master_name", &self.sentinels.master_name)
            .field("server_type", &self.sentinels.server_type)
            .field("nodes", &self.target.addrs())
            .finish_non_exhaustive()
    }
}

impl Manager {
    /// A manager for the master (or replicas) named `service_name` by the
    /// sentinels at `param`. Nothing is contacted until the first
    /// connection.
    ///
    /// Every command through a checked-out connection waits
    /// [`DEFAULT_COMMAND_TIMEOUT`] for its answer (a blocking one its own
    /// timeout plus that).
    ///
    /// # Errors
    /// An unusable sentinel address, or no sentinel at all.
    pub fn new<T: IntoConnectionInfo>(
        param: Vec<T>,
        service_name: String,
        node_connection_info: Option<SentinelNodeConnectionInfo>,
        server_type: SentinelServerType,
    ) -> RedisResult<Self> {
        let infos = param
            .into_iter()
            .map(IntoConnectionInfo::into_connection_info)
            .collect::<RedisResult<Vec<_>>>()?;
        Self::build(infos, service_name, node_connection_info, server_type, None)
    }

    /// The sentinels' clients, the discovery, and the one-server manager
    /// following it (`tls`: TLS to the nodes; `settings`: their login and
    /// database).
    pub(crate) fn follow(
        sentinels: Vec<redis::ConnectionInfo>,
        master_name: String,
        tls: Option<TlsMode>,
        settings: redis::RedisConnectionInfo,
        server_type: SentinelServerType,
        certs: Option<TlsCertificates>,
    ) -> RedisResult<Self> {
        if sentinels.is_empty() {
            return Err(RedisError::from((
                redis::ErrorKind::EmptySentinelList,
                "no sentinel given",
            )));
        }
        let clients = sentinels
            .into_iter()
            .map(|info| client(info, certs.as_ref()))
            .collect::<RedisResult<Vec<_>>>()?;
        if tls == Some(TlsMode::Insecure) {
            tracing::warn!(
                "TLS to the Redis nodes without certificate verification (TlsMode::Insecure): anyone on the path can read and change this pool's traffic"
            );
        }
        let node_settings = settings.clone();
        let node_client = move |host: &str, port: u16| {
            let addr = match tls {
                None => redis::ConnectionAddr::Tcp(host.to_owned(), port),
                Some(mode) => redis::ConnectionAddr::TcpTls {
                    host: host.to_owned(),
                    port,
                    insecure: mode == TlsMode::Insecure,
                    tls_params: None,
                },
            };
            let info = addr
                .into_connection_info()?
                .set_redis_settings(node_settings.clone());
            client(info, certs.as_ref().filter(|_| tls.is_some()))
        };
        let sentinels = Arc::new(Sentinels::new(
            clients,
            master_name,
            server_type,
            node_client,
        ));
        let target = Target::new(Arc::clone(&sentinels));
        let watched = Arc::clone(&sentinels);
        target.on_first_use(move |target| watcher::spawn(target, Arc::clone(&watched)));
        // The login and database every node connection uses; the address
        // is the target's.
        let template = redis::ConnectionAddr::Tcp("sentinel-discovered".to_owned(), 0)
            .into_connection_info()?
            .set_redis_settings(settings);
        let inner =
            crate::Manager::followed(template, Arc::clone(&target), DEFAULT_COMMAND_TIMEOUT)?;
        Ok(Self {
            inner,
            target,
            sentinels,
        })
    }

    /// As [`Manager::new`], with TLS certificates (a private CA, a client
    /// certificate) for the sentinels given as `rediss://` and for the
    /// nodes when `node_connection_info` asks for TLS.
    ///
    /// # Errors
    /// As [`Manager::new`], and certificates that are not usable.
    pub fn new_with_tls<T: IntoConnectionInfo>(
        param: Vec<T>,
        service_name: String,
        node_connection_info: Option<SentinelNodeConnectionInfo>,
        server_type: SentinelServerType,
        certs: TlsCertificates,
    ) -> RedisResult<Self> {
        crate::tls::check_bytes(&certs).map_err(|e| crate::tls::config_error(&e))?;
        let infos = param
            .into_iter()
            .map(IntoConnectionInfo::into_connection_info)
            .collect::<RedisResult<Vec<_>>>()?;
        Self::build(
            infos,
            service_name,
            node_connection_info,
            server_type,
            Some(certs),
        )
    }

    pub(crate) fn build(
        sentinels: Vec<redis::ConnectionInfo>,
        master_name: String,
        node_connection_info: Option<SentinelNodeConnectionInfo>,
        server_type: SentinelServerType,
        certs: Option<TlsCertificates>,
    ) -> RedisResult<Self> {
        let node = node_connection_info.unwrap_or_default();
        let settings = node
            .redis_connection_info
            .map(Into::into)
            .unwrap_or_default();
        Self::follow(
            sentinels,
            master_name,
            node.tls_mode,
            settings,
            server_type,
            certs,
        )
    }

    /// The one-server manager doing the work (it follows the sentinels).
    pub(crate) fn into_inner(self) -> crate::Manager {
        self.inner
    }

    /// How many times the pool saw the nodes change (failovers, replicas
    /// coming and going).
    pub fn node_changes(&self) -> u64 {
        self.target.changes()
    }

    /// The nodes connections go to now (`host:port`; empty before the first
    /// connection).
    pub fn nodes(&self) -> Vec<String> {
        self.target.addrs().iter().map(|a| a.to_string()).collect()
    }

    /// The per-command timeout of checked-out connections (default
    /// [`DEFAULT_COMMAND_TIMEOUT`]).
    #[must_use]
    pub fn command_timeout(mut self, timeout: Duration) -> Self {
        self.inner = self.inner.command_timeout(timeout);
        self
    }

    /// Requests in flight on one shared connection before the next is
    /// opened (see [`crate::Manager::shared_depth`]).
    #[must_use]
    pub fn shared_depth(mut self, depth: usize) -> Self {
        self.inner = self.inner.shared_depth(depth);
        self
    }

    /// How reads whose connection broke are retried (see
    /// [`crate::Manager::read_retry`]).
    #[must_use]
    pub fn read_retry(mut self, policy: crate::RetryPolicy) -> Self {
        self.inner = self.inner.read_retry(policy);
        self
    }
}

/// A client for `info`, with `certs` when given (TLS addresses only).
fn client(
    info: redis::ConnectionInfo,
    certs: Option<&TlsCertificates>,
) -> RedisResult<redis::Client> {
    let tls = matches!(info.addr(), redis::ConnectionAddr::TcpTls { .. });
    if tls {
        crate::tls::ensure_crypto_provider();
    }
    match certs.filter(|_| tls) {
        None => redis::Client::open(info),
        #[cfg(any(feature = "tls-rustls", feature = "tls-native-tls"))]
        Some(certs) => redis::Client::build_with_tls(info, crate::tls::to_redis(certs)),
        #[cfg(not(any(feature = "tls-rustls", feature = "tls-native-tls")))]
        Some(_) => Err(RedisError::from((
            redis::ErrorKind::InvalidClientConfig,
            "TLS is not built in",
            "enable pool-redis's `tls-rustls` feature (or `tls-native-tls`)".to_owned(),
        ))),
    }
}

impl sealed::Sealed for Manager {}

impl RedisManager for Manager {
    fn redis_manager(&self) -> &crate::Manager {
        &self.inner
    }
}

impl pool_core::Manager for Manager {
    type Type = ManagedConnection;
    type Error = RedisError;

    async fn create(&self) -> Result<ManagedConnection, RedisError> {
        pool_core::Manager::create(&self.inner).await
    }

    async fn recycle(
        &self,
        conn: &mut ManagedConnection,
        metrics: &Metrics,
    ) -> pool_core::RecycleResult<RedisError> {
        pool_core::Manager::recycle(&self.inner, conn, metrics).await
    }

    fn detach(&self, conn: &mut ManagedConnection) {
        pool_core::Manager::detach(&self.inner, conn);
    }

    fn health_check_interval(&self) -> Duration {
        pool_core::Manager::health_check_interval(&self.inner)
    }

    fn needs_recycle(&self, conn: &mut ManagedConnection) -> bool {
        pool_core::Manager::needs_recycle(&self.inner, conn)
    }

    fn is_broken(&self, conn: &mut ManagedConnection) -> bool {
        pool_core::Manager::is_broken(&self.inner, conn)
    }
}
