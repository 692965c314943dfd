//! `Config`: deadpool-postgres's configuration, field for field, plus the
//! settings it lacks. Every field it declares is applied (deadpool-postgres
//! drops `target_session_attrs`, `channel_binding` and `load_balance_hosts`).

use std::{env, fmt, net::IpAddr, str::FromStr, time::Duration};

use pool_core::PoolConfig;
use tokio_postgres::config::{
    ChannelBinding as PgChannelBinding, LoadBalanceHosts as PgLoadBalanceHosts,
    SslMode as PgSslMode, TargetSessionAttrs as PgTargetSessionAttrs,
};
use tokio_postgres::{
    Socket,
    tls::{MakeTlsConnect, TlsConnect},
};

use crate::config_error::ConfigError;
use crate::manager::{ManagerConfig, RecyclingMethod};
use crate::pool::{CreatePoolError, Pool, PoolBuilder};
use crate::statement_cache::DEFAULT_STATEMENT_CACHE_SIZE;
use pool_core::Runtime;

/// Configuration of a pool: deadpool-postgres's `Config` (the same fields,
/// names and serde shape, so `PG__HOST`, `PG__POOL__MAX_SIZE`, ... keep
/// working), plus `keepalives_interval`, `keepalives_retries`,
/// `statement_timeout` and `statement_cache_size`. pool-core's settings
/// (`max_overflow`, `min_idle`, `idle_timeout`, `max_lifetime`, the breaker,
/// the health-check interval) are in `pool`.
///
/// ```env
/// PG__HOST=pg.example.com
/// PG__USER=john_doe
/// PG__PASSWORD=topsecret
/// PG__DBNAME=example
/// PG__POOL__MAX_SIZE=16
/// PG__POOL__MAX_OVERFLOW=4
/// PG__POOL__TIMEOUTS__WAIT__SECS=5
/// PG__POOL__TIMEOUTS__WAIT__NANOS=0
/// ```
///
/// `Debug` never shows the password.
#[derive(Clone, Default)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize, serde::Serialize))]
pub struct Config {
    /// Parsed first; the other fields override it, except `host`/`hosts`,
    /// which add to the URL's hosts (as deadpool-postgres).
    pub url: Option<String>,
    /// See [`tokio_postgres::Config::user`]. Unset: the URL's, else `$USER`.
    pub user: Option<String>,
    /// See [`tokio_postgres::Config::password`].
    pub password: Option<String>,
    /// See [`tokio_postgres::Config::dbname`]. Required (here or in the URL).
    pub dbname: Option<String>,
    /// See [`tokio_postgres::Config::options`].
    pub options: Option<String>,
    /// See [`tokio_postgres::Config::application_name`].
    pub application_name: Option<String>,
    /// See [`tokio_postgres::Config::ssl_mode`].
    pub ssl_mode: Option<SslMode>,
    /// One host (fits an environment variable); see `hosts`.
    pub host: Option<String>,
    /// See [`tokio_postgres::Config::host`].
    pub hosts: Option<Vec<String>>,
    /// See [`tokio_postgres::Config::hostaddr`].
    pub hostaddr: Option<IpAddr>,
    /// See [`tokio_postgres::Config::hostaddr`].
    pub hostaddrs: Option<Vec<IpAddr>>,
    /// One port (fits an environment variable); see `ports`.
    pub port: Option<u16>,
    /// See [`tokio_postgres::Config::port`].
    pub ports: Option<Vec<u16>>,
    /// See [`tokio_postgres::Config::connect_timeout`]. The pool applies
    /// it to the whole connect (TCP, TLS and login); `None`:
    /// [`DEFAULT_CONNECT_TIMEOUT`](crate::DEFAULT_CONNECT_TIMEOUT) (10 s),
    /// so a server that accepts and never answers cannot hold a `get()`.
    pub connect_timeout: Option<Duration>,
    /// See [`tokio_postgres::Config::keepalives`].
    pub keepalives: Option<bool>,
    /// See [`tokio_postgres::Config::keepalives_idle`].
    pub keepalives_idle: Option<Duration>,
    /// See [`tokio_postgres::Config::target_session_attrs`]: `ReadWrite` for
    /// a writer pool over several hosts, `ReadOnly` for a reader pool.
    pub target_session_attrs: Option<TargetSessionAttrs>,
    /// See [`tokio_postgres::Config::channel_binding`].
    pub channel_binding: Option<ChannelBinding>,
    /// See [`tokio_postgres::Config::load_balance_hosts`].
    pub load_balance_hosts: Option<LoadBalanceHosts>,
    /// [`Manager`](crate::Manager) configuration.
    pub manager: Option<ManagerConfig>,
    /// Pool configuration (pool-core's: deadpool's fields plus
    /// `max_overflow`, `min_idle`, `idle_timeout`, `max_lifetime`,
    /// `breaker`, `health_check_interval`).
    pub pool: Option<PoolConfig>,
    /// See [`tokio_postgres::Config::keepalives_interval`] (not in
    /// deadpool-postgres).
    #[cfg_attr(feature = "serde", serde(default))]
    pub keepalives_interval: Option<Duration>,
    /// See [`tokio_postgres::Config::keepalives_retries`] (not in
    /// deadpool-postgres).
    #[cfg_attr(feature = "serde", serde(default))]
    pub keepalives_retries: Option<u32>,
    /// The server's `statement_timeout` for every connection, sent as a
    /// startup option (not in deadpool-postgres).
    #[cfg_attr(feature = "serde", serde(default))]
    pub statement_timeout: Option<Duration>,
    /// Prepared statements kept per connection, least recently used evicted
    /// first; `None`: [`DEFAULT_STATEMENT_CACHE_SIZE`](crate::DEFAULT_STATEMENT_CACHE_SIZE) (not in
    /// deadpool-postgres, whose cache is unbounded).
    #[cfg_attr(feature = "serde", serde(default))]
    pub statement_cache_size: Option<usize>,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("url", &self.url.as_deref().map(crate::secret::masked_url))
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "<hidden>"))
            .field("dbname", &self.dbname)
            .field("options", &self.options)
            .field("application_name", &self.application_name)
            .field("ssl_mode", &self.ssl_mode)
            .field("host", &self.host)
            .field("hosts", &self.hosts)
            .field("hostaddr", &self.hostaddr)
            .field("hostaddrs", &self.hostaddrs)
            .field("port", &self.port)
            .field("ports", &self.ports)
            .field("connect_timeout", &self.connect_timeout)
            .field("keepalives", &self.keepalives)
            .field("keepalives_idle", &self.keepalives_idle)
            .field("keepalives_interval", &self.keepalives_interval)
            .field("keepalives_retries", &self.keepalives_retries)
            .field("target_session_attrs", &self.target_session_attrs)
            .field("channel_binding", &self.channel_binding)
            .field("load_balance_hosts", &self.load_balance_hosts)
            .field("statement_timeout", &self.statement_timeout)
            .field("statement_cache_size", &self.statement_cache_size)
            .field("manager", &self.manager)
            .field("pool", &self.pool)
            .finish()
    }
}

impl Config {
    /// An empty configuration, as [`Config::default`].
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The preset of the pool-tuning guide for a PostgreSQL server over the
    /// network: 20 connections plus 10 overflow, the health check on
    /// (`Verified` within pool-core's TTL), connections replaced after an
    /// hour, a 30 s wait timeout, a 10 s connect timeout, a 5 min statement
    /// timeout, TCP keepalives after 30 s idle, every 10 s, 5 probes. Set
    /// `url` (or `host`, `dbname`, ...) on the result.
    #[must_use]
    pub fn tuned() -> Self {
        let mut pool = PoolConfig::new(20);
        pool.max_overflow = 10;
        pool.max_lifetime = Some(Duration::from_secs(3600));
        pool.timeouts.wait = Some(Duration::from_secs(30));
        pool.timeouts.create = Some(Duration::from_secs(10));
        Self {
            connect_timeout: Some(Duration::from_secs(10)),
            statement_timeout: Some(Duration::from_secs(300)),
            keepalives: Some(true),
            keepalives_idle: Some(Duration::from_secs(30)),
            keepalives_interval: Some(Duration::from_secs(10)),
            keepalives_retries: Some(5),
            manager: Some(ManagerConfig {
                recycling_method: RecyclingMethod::Verified,
            }),
            pool: Some(pool),
            ..Self::default()
        }
    }

    /// A pool from this configuration. `runtime` is accepted for
    /// deadpool-postgres's signature (tokio is the only runtime).
    ///
    /// # Errors
    /// [`CreatePoolError::Config`] names the bad field;
    /// [`CreatePoolError::Build`] a pool setting that cannot work.
    pub fn create_pool<T>(&self, runtime: Option<Runtime>, tls: T) -> Result<Pool, CreatePoolError>
    where
        T: MakeTlsConnect<Socket> + Clone + Sync + Send + 'static,
        T::Stream: Sync + Send,
        T::TlsConnect: Sync + Send,
        <T::TlsConnect as TlsConnect<Socket>>::Future: Send,
    {
        let mut builder = self.builder(tls).map_err(CreatePoolError::Config)?;
        if let Some(runtime) = runtime {
            builder = builder.runtime(runtime);
        }
        builder.build().map_err(CreatePoolError::Build)
    }

    /// A pool builder from this configuration.
    ///
    /// # Errors
    /// See [`ConfigError`].
    pub fn builder<T>(&self, tls: T) -> Result<PoolBuilder, ConfigError>
    where
        T: MakeTlsConnect<Socket> + Clone + Sync + Send + 'static,
        T::Stream: Sync + Send,
        T::TlsConnect: Sync + Send,
        <T::TlsConnect as TlsConnect<Socket>>::Future: Send,
    {
        let pg_config = self.get_pg_config()?;
        let manager = crate::Manager::from_config(pg_config, tls, self.get_manager_config())
            .with_statement_cache_size(
                self.statement_cache_size
                    .unwrap_or(DEFAULT_STATEMENT_CACHE_SIZE),
            );
        Ok(Pool::builder(manager).config(self.get_pool_config()))
    }

    /// The [`tokio_postgres::Config`] these settings describe.
    ///
    /// # Errors
    /// See [`ConfigError`].
    pub fn get_pg_config(&self) -> Result<tokio_postgres::Config, ConfigError> {
        let mut cfg = match &self.url {
            Some(url) => tokio_postgres::Config::from_str(url).map_err(ConfigError::InvalidUrl)?,
            None => tokio_postgres::Config::new(),
        };
        if let Some(user) = self.user.as_deref().filter(|s| !s.is_empty()) {
            cfg.user(user);
        }
        if cfg.get_user().is_none_or(str::is_empty)
            && let Ok(user) = env::var("USER")
        {
            cfg.user(&user);
        }
        if let Some(password) = &self.password {
            cfg.password(password);
        }
        if let Some(dbname) = self.dbname.as_deref().filter(|s| !s.is_empty()) {
            cfg.dbname(dbname);
        }
        match cfg.get_dbname() {
            None => return Err(ConfigError::DbnameMissing),
            Some("") => return Err(ConfigError::DbnameEmpty),
            Some(_) => {}
        }
        let options = match (&self.options, self.statement_timeout) {
            (Some(o), Some(t)) => Some(format!("{o} -c statement_timeout={}", t.as_millis())),
            (None, Some(t)) => Some(format!("-c statement_timeout={}", t.as_millis())),
            (o, None) => o.clone(),
        };
        if let Some(options) = options {
            cfg.options(&options);
        }
        if let Some(name) = &self.application_name {
            cfg.application_name(name);
        }
        if let Some(host) = &self.host {
            cfg.host(host);
        }
        for host in self.hosts.iter().flatten() {
            cfg.host(host);
        }
        if cfg.get_hosts().is_empty() {
            // As libpq and deadpool-postgres: the usual socket directories.
            cfg.host_path("/run/postgresql");
            cfg.host_path("/var/run/postgresql");
            cfg.host_path("/tmp");
        }
        if let Some(addr) = self.hostaddr {
            cfg.hostaddr(addr);
        }
        for addr in self.hostaddrs.iter().flatten() {
            cfg.hostaddr(*addr);
        }
        if let Some(port) = self.port {
            cfg.port(port);
        }
        for port in self.ports.iter().flatten() {
            cfg.port(*port);
        }
        if let Some(t) = self.connect_timeout {
            cfg.connect_timeout(t);
        }
        if let Some(on) = self.keepalives {
            cfg.keepalives(on);
        }
        if let Some(t) = self.keepalives_idle {
            cfg.keepalives_idle(t);
        }
        if let Some(t) = self.keepalives_interval {
            cfg.keepalives_interval(t);
        }
        if let Some(n) = self.keepalives_retries {
            cfg.keepalives_retries(n);
        }
        if let Some(mode) = self.ssl_mode {
            cfg.ssl_mode(mode.into());
        }
        if let Some(attrs) = self.target_session_attrs {
            cfg.target_session_attrs(attrs.into());
        }
        if let Some(cb) = self.channel_binding {
            cfg.channel_binding(cb.into());
        }
        if let Some(lb) = self.load_balance_hosts {
            cfg.load_balance_hosts(lb.into());
        }
        Ok(cfg)
    }

    /// The manager configuration (`manager`, or the default).
    #[must_use]
    pub fn get_manager_config(&self) -> ManagerConfig {
        self.manager.clone().unwrap_or_default()
    }

    /// The pool configuration (`pool`, or the default).
    #[must_use]
    pub fn get_pool_config(&self) -> PoolConfig {
        self.pool.unwrap_or_default()
    }
}

/// What a session must allow (tokio-postgres's `TargetSessionAttrs`, with
/// serde).
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize, serde::Serialize))]
#[non_exhaustive]
pub enum TargetSessionAttrs {
    /// Any server.
    Any,
    /// A server that accepts writes (the primary).
    ReadWrite,
    /// A server that accepts only reads (a standby); not in
    /// deadpool-postgres.
    ReadOnly,
}

impl From<TargetSessionAttrs> for PgTargetSessionAttrs {
    fn from(attrs: TargetSessionAttrs) -> Self {
        match attrs {
            TargetSessionAttrs::Any => Self::Any,
            TargetSessionAttrs::ReadWrite => Self::ReadWrite,
            TargetSessionAttrs::ReadOnly => Self::ReadOnly,
        }
    }
}

/// TLS use (tokio-postgres's `SslMode`, with serde).
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize, serde::Serialize))]
#[non_exhaustive]
pub enum SslMode {
    /// No TLS.
    Disable,
    /// TLS when the server offers it.
    Prefer,
    /// TLS or no connection.
    Require,
}

impl From<SslMode> for PgSslMode {
    fn from(mode: SslMode) -> Self {
        match mode {
            SslMode::Disable => Self::Disable,
            SslMode::Prefer => Self::Prefer,
            SslMode::Require => Self::Require,
        }
    }
}

/// SCRAM channel binding (tokio-postgres's `ChannelBinding`, with serde).
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize, serde::Serialize))]
#[non_exhaustive]
pub enum ChannelBinding {
    /// Never.
    Disable,
    /// When possible.
    Prefer,
    /// Always, or no connection.
    Require,
}

impl From<ChannelBinding> for PgChannelBinding {
    fn from(cb: ChannelBinding) -> Self {
        match cb {
            ChannelBinding::Disable => Self::Disable,
            ChannelBinding::Prefer => Self::Prefer,
            ChannelBinding::Require => Self::Require,
        }
    }
}

/// Order of connection attempts over several hosts (tokio-postgres's
/// `LoadBalanceHosts`, with serde).
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize, serde::Serialize))]
#[non_exhaustive]
pub enum LoadBalanceHosts {
    /// In the order given.
    Disable,
    /// In a random order.
    Random,
}

impl From<LoadBalanceHosts> for PgLoadBalanceHosts {
    fn from(lb: LoadBalanceHosts) -> Self {
        match lb {
            LoadBalanceHosts::Disable => Self::Disable,
            LoadBalanceHosts::Random => Self::Random,
        }
    }
}
