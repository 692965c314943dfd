//! deadpool-redis's Cluster configuration, field for field (and serde
//! shape), plus the cluster client's settings deadpool-redis leaves at
//! redis-rs's defaults.

use std::time::Duration;

use crate::config::ConnectionInfo;
pub use crate::config_error::ConfigError;
use crate::secret::MaskedUrls;

use super::{CreatePoolError, Pool, PoolBuilder, PoolConfig, Runtime};

/// Configuration of a Cluster pool: the seed nodes' URLs (or connection
/// details), pool settings, and whether reads may go to replicas. `Debug`
/// masks passwords.
#[derive(Clone)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize, serde::Serialize))]
pub struct Config {
    /// Some of the cluster's nodes (`redis://host:port`); the rest are
    /// found from them.
    pub urls: Option<Vec<String>>,
    /// The nodes' connection details (instead of `urls`).
    pub connections: Option<Vec<ConnectionInfo>>,
    /// Pool settings (`None`: the defaults, with the 1 s health-check TTL).
    pub pool: Option<PoolConfig>,
    /// Reads go to a random replica of the key's master.
    #[cfg_attr(feature = "serde", serde(default))]
    pub read_from_replicas: bool,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("urls", &MaskedUrls(&self.urls))
            .field("connections", &self.connections)
            .field("pool", &self.pool)
            .field("read_from_replicas", &self.read_from_replicas)
            .finish()
    }
}

impl Config {
    /// Builds the pool with [`ClusterSettings::default`]. `runtime` is
    /// accepted for compatibility.
    ///
    /// # Errors
    /// `CreatePoolError::Config` for a bad URL or both `urls` and
    /// `connections` set; `CreatePoolError::Build` for bad pool settings.
    pub fn create_pool(&self, runtime: Option<Runtime>) -> Result<Pool, CreatePoolError> {
        let mut builder = self.builder().map_err(CreatePoolError::Config)?;
        if let Some(runtime) = runtime {
            builder = builder.runtime(runtime);
        }
        builder.build().map_err(CreatePoolError::Build)
    }

    /// A builder with this configuration and [`ClusterSettings::default`].
    ///
    /// # Errors
    /// As [`Config::create_pool`]'s `Config` case.
    pub fn builder(&self) -> Result<PoolBuilder, ConfigError> {
        self.builder_with(&ClusterSettings::default())
    }

    /// A builder with this configuration and the cluster client's
    /// `settings` (timeouts, retries, login, TLS certificates). They are not
    /// fields of `Config`, so deadpool-redis's struct literals keep
    /// compiling.
    ///
    /// # Errors
    /// As [`Config::create_pool`]'s `Config` case.
    pub fn builder_with(&self, settings: &ClusterSettings) -> Result<PoolBuilder, ConfigError> {
        let settings = ClusterSettings {
            read_from_replicas: settings.read_from_replicas || self.read_from_replicas,
            ..settings.clone()
        };
        let manager = match (&self.urls, &self.connections) {
            (Some(urls), None) => {
                let urls: Vec<&str> = urls.iter().map(String::as_str).collect();
                super::Manager::with_settings(urls, &settings)?
            }
            (None, Some(connections)) => {
                super::Manager::with_settings(connections.clone(), &settings)?
            }
            (None, None) => {
                super::Manager::with_settings(vec![ConnectionInfo::default()], &settings)?
            }
            (Some(_), Some(_)) => return Err(ConfigError::UrlAndConnectionSpecified),
        };
        Ok(Pool::builder(manager).config(self.get_pool_config()))
    }

    /// The pool settings: the configured ones, or the defaults.
    #[must_use]
    pub fn get_pool_config(&self) -> PoolConfig {
        self.pool.unwrap_or_default()
    }

    /// A configuration from some of the cluster's nodes' URLs. Reads no
    /// environment variable.
    #[must_use]
    pub fn from_urls<T: Into<Vec<String>>>(urls: T) -> Config {
        Config {
            urls: Some(urls.into()),
            connections: None,
            pool: None,
            read_from_replicas: false,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            urls: None,
            connections: Some(vec![ConnectionInfo::default()]),
            pool: None,
            read_from_replicas: false,
        }
    }
}

/// How long one connection attempt to a node may take.
pub const DEFAULT_CLUSTER_CONNECTION_TIMEOUT: Duration = Duration::from_secs(1);
/// A per-attempt bound to choose for [`ClusterSettings::response_timeout`]
/// (not the default: see there).
pub const DEFAULT_CLUSTER_RESPONSE_TIMEOUT: Duration = Duration::from_secs(1);
/// How long a request may take over all its attempts, redirects and
/// reconnects: the longest a caller waits when a node dies.
pub const DEFAULT_CLUSTER_OVERALL_TIMEOUT: Duration = Duration::from_secs(3);
/// Attempts after the first: with [`DEFAULT_CLUSTER_RETRY_WAIT`] they
/// span about the overall timeout, so a request keeps trying through a
/// failover that completes within it instead of failing after a few quick
/// attempts (measured: 94 failed requests in a killed-master failover with
/// 6 attempts 10-500 ms apart; see docs/benchmarks.md).
pub const DEFAULT_CLUSTER_RETRIES: u32 = 12;
/// The shortest and longest wait between attempts.
pub const DEFAULT_CLUSTER_RETRY_WAIT: (Duration, Duration) =
    (Duration::from_millis(50), Duration::from_millis(500));

/// The cluster client's settings. The defaults bound every request:
/// redis-rs's own (16 retries, waits from 1.28 s, no overall bound) let a
/// caller wait minutes when a node dies.
#[derive(Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize, serde::Serialize))]
#[cfg_attr(feature = "serde", serde(default))]
#[non_exhaustive]
pub struct ClusterSettings {
    /// Reads go to a random replica of the key's master.
    pub read_from_replicas: bool,
    /// [`DEFAULT_CLUSTER_CONNECTION_TIMEOUT`].
    pub connection_timeout: Duration,
    /// A bound per attempt. Default `None`: redis-rs sends a request
    /// whose attempt timed out again at once, a write included, so a
    /// write held up on a slow node (a `CLIENT PAUSE`, a long `KEYS`) would
    /// run twice and its caller would get an error for a reply that
    /// arrived; with `None` a slow reply inside the overall timeout reaches
    /// the caller. Set it ([`DEFAULT_CLUSTER_RESPONSE_TIMEOUT`] is 1 s)
    /// only for a read-only workload that would rather try again early.
    pub response_timeout: Option<Duration>,
    /// [`DEFAULT_CLUSTER_OVERALL_TIMEOUT`] (all attempts of one request).
    /// `None`: no overall bound, redis-rs's default. Each timeout is a
    /// timer per request: with both off, a request costs what it costs on
    /// a `ClusterConnection` built with redis-rs's defaults, and nothing
    /// bounds how long it may wait (docs/benchmarks.md, "Redis Cluster").
    pub overall_timeout: Option<Duration>,
    /// [`DEFAULT_CLUSTER_RETRIES`].
    pub retries: u32,
    /// [`DEFAULT_CLUSTER_RETRY_WAIT`]'s first.
    pub min_retry_wait: Duration,
    /// [`DEFAULT_CLUSTER_RETRY_WAIT`]'s second.
    pub max_retry_wait: Duration,
    /// The user to log in as on every node (ACL).
    pub username: Option<String>,
    /// The password for every node. Never shown by `Debug`.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub password: Option<String>,
    /// TLS certificates (a private CA, a client certificate) for
    /// `rediss://` nodes.
    #[cfg_attr(feature = "serde", serde(skip))]
    pub certificates: Option<crate::TlsCertificates>,
}

impl Default for ClusterSettings {
    fn default() -> Self {
        Self {
            read_from_replicas: false,
            connection_timeout: DEFAULT_CLUSTER_CONNECTION_TIMEOUT,
            response_timeout: None,
            overall_timeout: Some(DEFAULT_CLUSTER_OVERALL_TIMEOUT),
            retries: DEFAULT_CLUSTER_RETRIES,
            min_retry_wait: DEFAULT_CLUSTER_RETRY_WAIT.0,
            max_retry_wait: DEFAULT_CLUSTER_RETRY_WAIT.1,
            username: None,
            password: None,
            certificates: None,
        }
    }
}

impl std::fmt::Debug for ClusterSettings {
    /// Everything but the password (shown as `***` when set).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterSettings")
            .field("read_from_replicas", &self.read_from_replicas)
            .field("connection_timeout", &self.connection_timeout)
            .field("response_timeout", &self.response_timeout)
            .field("overall_timeout", &self.overall_timeout)
            .field("retries", &self.retries)
            .field("min_retry_wait", &self.min_retry_wait)
            .field("max_retry_wait", &self.max_retry_wait)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("certificates", &self.certificates)
            .finish()
    }
}
