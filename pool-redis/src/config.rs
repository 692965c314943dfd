//! deadpool-redis's configuration types, field for field (and serde shape),
//! so `Config::from_env`-style code and config files keep working.

use std::{fmt, path::PathBuf};

use crate::config_error::ConfigError;
use crate::manager::DEFAULT_COMMAND_TIMEOUT;
use crate::pool::{CreatePoolError, Pool, PoolBuilder};
use crate::secret::{MaskedPassword, MaskedUrl};
use pool_core::{PoolConfig, Runtime};
use redis::RedisResult;

/// Configuration of a pool: a URL or connection info, and pool settings.
/// `Debug` masks the password (`redis://:***@host`); `Serialize` keeps it.
#[derive(Clone)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize, serde::Serialize))]
pub struct Config {
    /// A `redis://` URL.
    pub url: Option<String>,
    /// Connection details (instead of `url`).
    pub connection: Option<ConnectionInfo>,
    /// Pool settings (`None`: the defaults, with the 1 s health-check TTL).
    pub pool: Option<PoolConfig>,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("url", &MaskedUrl(self.url.as_deref()))
            .field("connection", &self.connection)
            .field("pool", &self.pool)
            .finish()
    }
}

impl Config {
    /// Builds the pool. `runtime` is accepted for compatibility.
    ///
    /// # Errors
    /// `CreatePoolError::Config` for a bad URL or both `url` and
    /// `connection` set; `CreatePoolError::Build` for bad pool settings.
    pub fn create_pool(&self, runtime: Option<Runtime>) -> Result<Pool, CreatePoolError> {
        let mut builder = self.builder().map_err(CreatePoolError::Config)?;
        if let Some(runtime) = runtime {
            builder = builder.runtime(runtime);
        }
        builder.build().map_err(CreatePoolError::Build)
    }

    /// A builder with this configuration applied.
    ///
    /// # Errors
    /// As [`Config::create_pool`]'s `Config` case.
    pub fn builder(&self) -> Result<PoolBuilder, ConfigError> {
        Ok(Pool::builder(self.manager()?).config(self.get_pool_config()))
    }

    /// The manager a pool built from this configuration uses: TLS
    /// certificates from the URL, and blocking commands keeping their own
    /// timeouts (redis's fixed 500 ms would fail `BLPOP key 5`).
    pub(crate) fn manager(&self) -> Result<crate::Manager, ConfigError> {
        Ok(match self.target()? {
            (info, None) => crate::Manager::with_command_timeout(info, DEFAULT_COMMAND_TIMEOUT)?,
            (info, Some(certs)) => {
                crate::Manager::new_with_tls(info, certs)?.command_timeout(DEFAULT_COMMAND_TIMEOUT)
            }
        })
    }

    /// Where to connect, and the TLS certificates named in the URL.
    pub(crate) fn target(
        &self,
    ) -> Result<(redis::ConnectionInfo, Option<crate::TlsCertificates>), ConfigError> {
        match (&self.url, &self.connection) {
            (Some(url), None) => {
                let (url, certs) = crate::tls::split_url(url)?;
                Ok((
                    redis::IntoConnectionInfo::into_connection_info(url.as_str())?,
                    certs,
                ))
            }
            (None, Some(connection)) => Ok((redis::ConnectionInfo::from(connection.clone()), None)),
            (None, None) => Ok((redis::ConnectionInfo::from(ConnectionInfo::default()), None)),
            (Some(_), Some(_)) => Err(ConfigError::UrlAndConnectionSpecified),
        }
    }

    /// The pool settings: the configured ones, or the defaults. Either way
    /// an unset `health_check_interval` means the manager's 1 s.
    #[must_use]
    pub fn get_pool_config(&self) -> PoolConfig {
        self.pool.unwrap_or_default()
    }

    /// A configuration from a URL. Reads no environment variable.
    #[must_use]
    pub fn from_url<T: Into<String>>(url: T) -> Config {
        Config {
            url: Some(url.into()),
            connection: None,
            pool: None,
        }
    }

    /// A configuration from connection details.
    #[must_use]
    pub fn from_connection_info<T: Into<ConnectionInfo>>(connection_info: T) -> Config {
        Config {
            url: None,
            connection: Some(connection_info.into()),
            pool: None,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            url: None,
            connection: Some(ConnectionInfo::default()),
            pool: None,
        }
    }
}

/// Where the server is.
#[derive(Clone, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize, serde::Serialize))]
pub enum ConnectionAddr {
    /// Host and port.
    Tcp(String, u16),
    /// Host and port over TLS.
    TcpTls {
        /// Host.
        host: String,
        /// Port.
        port: u16,
        /// Skip certificate checks.
        insecure: bool,
    },
    /// A Unix socket.
    Unix(PathBuf),
}

impl Default for ConnectionAddr {
    fn default() -> Self {
        Self::Tcp("127.0.0.1".to_string(), 6379)
    }
}

impl From<ConnectionAddr> for redis::ConnectionAddr {
    fn from(addr: ConnectionAddr) -> Self {
        match addr {
            ConnectionAddr::Tcp(host, port) => Self::Tcp(host, port),
            ConnectionAddr::TcpTls {
                host,
                port,
                insecure,
            } => Self::TcpTls {
                host,
                port,
                insecure,
                tls_params: None,
            },
            ConnectionAddr::Unix(path) => Self::Unix(path),
        }
    }
}

impl TryFrom<redis::ConnectionAddr> for ConnectionAddr {
    type Error = ConfigError;

    fn try_from(addr: redis::ConnectionAddr) -> Result<Self, ConfigError> {
        match addr {
            redis::ConnectionAddr::Tcp(host, port) => Ok(Self::Tcp(host, port)),
            redis::ConnectionAddr::TcpTls {
                host,
                port,
                insecure,
                ..
            } => Ok(Self::TcpTls {
                host,
                port,
                insecure,
            }),
            redis::ConnectionAddr::Unix(path) => Ok(Self::Unix(path)),
            other => Err(ConfigError::UnsupportedAddress(format!("{other:?}"))),
        }
    }
}

/// Address plus Redis settings.
#[derive(Clone, Debug, Default)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize, serde::Serialize))]
pub struct ConnectionInfo {
    /// Where the server is.
    pub addr: ConnectionAddr,
    /// Database, credentials, protocol.
    #[cfg_attr(feature = "serde", serde(flatten))]
    pub redis: RedisConnectionInfo,
}

impl From<ConnectionInfo> for redis::ConnectionInfo {
    fn from(info: ConnectionInfo) -> Self {
        redis::IntoConnectionInfo::into_connection_info(redis::ConnectionAddr::from(info.addr))
            .expect("a ConnectionAddr always converts into redis::ConnectionInfo")
            .set_redis_settings(info.redis.into())
    }
}

impl redis::IntoConnectionInfo for ConnectionInfo {
    fn into_connection_info(self) -> RedisResult<redis::ConnectionInfo> {
        Ok(self.into())
    }
}

/// Database, credentials and protocol. `Debug` masks the password.
#[derive(Clone, Default)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize, serde::Serialize))]
pub struct RedisConnectionInfo {
    /// Database number.
    pub db: i64,
    /// ACL user name.
    pub username: Option<String>,
    /// Password.
    pub password: Option<String>,
    /// RESP version.
    pub protocol: ProtocolVersion,
}

impl fmt::Debug for RedisConnectionInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisConnectionInfo")
            .field("db", &self.db)
            .field("username", &self.username)
            .field("password", &MaskedPassword(&self.password))
            .field("protocol", &self.protocol)
            .finish()
    }
}

/// RESP version.
#[derive(Clone, Eq, PartialEq, Default, Debug, Copy)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize, serde::Serialize))]
pub enum ProtocolVersion {
    /// RESP2.
    #[default]
    RESP2,
    /// RESP3.
    RESP3,
}

impl From<RedisConnectionInfo> for redis::RedisConnectionInfo {
    fn from(info: RedisConnectionInfo) -> Self {
        let protocol = match info.protocol {
            ProtocolVersion::RESP2 => redis::ProtocolVersion::RESP2,
            ProtocolVersion::RESP3 => redis::ProtocolVersion::RESP3,
        };
        let mut result = redis::RedisConnectionInfo::default()
            .set_db(info.db)
            .set_protocol(protocol);
        if let Some(username) = info.username {
            result = result.set_username(username);
        }
        if let Some(password) = info.password {
            result = result.set_password(password);
        }
        result
    }
}
