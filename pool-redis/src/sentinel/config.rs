//! deadpool-redis's Sentinel configuration types, field for field (and
//! serde shape).

use std::fmt;

use crate::config::{ConnectionAddr, ConnectionInfo, RedisConnectionInfo};
use crate::config_error::ConfigError;
use crate::secret::MaskedUrls;

use super::{CreatePoolError, Pool, PoolBuilder, PoolConfig, Runtime};

/// Configuration of a pool whose nodes Sentinel names: the sentinels'
/// URLs (or connection details), the master name, whether the pool serves
/// the master or the replicas, how to log in to the nodes, and the pool
/// settings. `Debug` masks passwords.
#[derive(Clone)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize, serde::Serialize))]
pub struct Config {
    /// The sentinels' `redis://` (or `rediss://`) URLs.
    pub urls: Option<Vec<String>>,
    /// Whether the pool's connections go to the master or the replicas.
    #[cfg_attr(feature = "serde", serde(default))]
    pub server_type: SentinelServerType,
    /// The name the sentinels monitor the master by (default `mymaster`).
    #[cfg_attr(feature = "serde", serde(default = "default_master_name"))]
    pub master_name: String,
    /// The sentinels' connection details (instead of `urls`).
    pub connections: Option<Vec<ConnectionInfo>>,
    /// How to connect to the nodes the sentinels name (TLS, login,
    /// database).
    pub node_connection_info: Option<SentinelNodeConnectionInfo>,
    /// Pool settings (`None`: the defaults, with the 1 s health-check TTL).
    pub pool: Option<PoolConfig>,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("urls", &MaskedUrls(&self.urls))
            .field("server_type", &self.server_type)
            .field("master_name", &self.master_name)
            .field("connections", &self.connections)
            .field("node_connection_info", &self.node_connection_info)
            .field("pool", &self.pool)
            .finish()
    }
}

impl Config {
    /// Builds the pool. `runtime` is accepted for compatibility.
    ///
    /// # Errors
    /// `CreatePoolError::Config` for a bad URL, no sentinel, or both `urls`
    /// and `connections` set; `CreatePoolError::Build` for bad pool
    /// settings.
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
        let manager = match (&self.urls, &self.connections) {
            (Some(urls), None) => {
                let mut infos = Vec::with_capacity(urls.len());
                let mut certs = None;
                for url in urls {
                    let (url, url_certs) = crate::tls::split_url(url)?;
                    infos.push(redis::IntoConnectionInfo::into_connection_info(
                        url.as_str(),
                    )?);
                    certs = certs.or(url_certs);
                }
                super::Manager::build(
                    infos,
                    self.master_name.clone(),
                    self.node_connection_info.clone(),
                    self.server_type,
                    certs,
                )?
            }
            (None, Some(connections)) => super::Manager::new(
                connections.clone(),
                self.master_name.clone(),
                self.node_connection_info.clone(),
                self.server_type,
            )?,
            (None, None) => super::Manager::new(
                vec![ConnectionInfo::default()],
                self.master_name.clone(),
                self.node_connection_info.clone(),
                self.server_type,
            )?,
            (Some(_), Some(_)) => return Err(ConfigError::UrlAndConnectionSpecified),
        };
        Ok(Pool::builder(manager).config(self.get_pool_config()))
    }

    /// The pool settings: the configured ones, or the defaults.
    #[must_use]
    pub fn get_pool_config(&self) -> PoolConfig {
        self.pool.unwrap_or_default()
    }

    /// A configuration from the sentinels' URLs. Reads no environment
    /// variable.
    #[must_use]
    pub fn from_urls<T: Into<Vec<String>>>(
        urls: T,
        master_name: String,
        server_type: SentinelServerType,
    ) -> Config {
        Config {
            urls: Some(urls.into()),
            connections: None,
            master_name,
            server_type,
            pool: None,
            node_connection_info: None,
        }
    }

    /// Sets how to connect to the nodes the sentinels name.
    #[must_use]
    pub fn with_node_connection_info(
        mut self,
        node_connection_info: Option<SentinelNodeConnectionInfo>,
    ) -> Self {
        self.node_connection_info = node_connection_info;
        self
    }
}

impl Default for Config {
    /// One sentinel on `127.0.0.1:26379`, master `mymaster`.
    fn default() -> Self {
        let default_connection_info = ConnectionInfo {
            addr: ConnectionAddr::Tcp("127.0.0.1".to_string(), 26379),
            ..ConnectionInfo::default()
        };
        Self {
            urls: None,
            connections: Some(vec![default_connection_info]),
            server_type: SentinelServerType::Master,
            master_name: default_master_name(),
            pool: None,
            node_connection_info: None,
        }
    }
}

fn default_master_name() -> String {
    "mymaster".to_string()
}

/// Which nodes a Sentinel pool's connections go to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize, serde::Serialize))]
pub enum SentinelServerType {
    /// The master (reads and writes).
    #[default]
    Master,
    /// The replicas, spread over those that can serve; the master when
    /// none can.
    Replica,
}

impl From<SentinelServerType> for redis::sentinel::SentinelServerType {
    fn from(value: SentinelServerType) -> Self {
        match value {
            SentinelServerType::Master => redis::sentinel::SentinelServerType::Master,
            SentinelServerType::Replica => redis::sentinel::SentinelServerType::Replica,
        }
    }
}

/// Whether TLS connections to the nodes check the server's certificate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize, serde::Serialize))]
pub enum TlsMode {
    /// Check the certificate (the default).
    #[default]
    Secure,
    /// Accept any certificate (anyone on the path can read and change the
    /// traffic).
    Insecure,
}

impl From<TlsMode> for redis::TlsMode {
    fn from(value: TlsMode) -> Self {
        match value {
            TlsMode::Insecure => redis::TlsMode::Insecure,
            TlsMode::Secure => redis::TlsMode::Secure,
        }
    }
}

/// How to connect to the nodes the sentinels name: TLS (`None`: plain
/// TCP) and the login and database.
#[derive(Clone, Debug, Default)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize, serde::Serialize))]
pub struct SentinelNodeConnectionInfo {
    /// TLS to the nodes, and whether it checks certificates.
    pub tls_mode: Option<TlsMode>,
    /// Login, database and protocol on the nodes.
    pub redis_connection_info: Option<RedisConnectionInfo>,
}

impl From<SentinelNodeConnectionInfo> for redis::sentinel::SentinelNodeConnectionInfo {
    fn from(info: SentinelNodeConnectionInfo) -> Self {
        let mut result = redis::sentinel::SentinelNodeConnectionInfo::default();
        if let Some(tls_mode) = info.tls_mode {
            result = result.set_tls_mode(tls_mode.into());
        }
        if let Some(redis_connection_info) = info.redis_connection_info {
            result = result.set_redis_connection_info(redis_connection_info.into());
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_a_password() {
        let cfg = Config::from_urls(
            vec!["redis://:s3cret@127.0.0.1:26379".to_owned()],
            "mymaster".to_owned(),
            SentinelServerType::Master,
        )
        .with_node_connection_info(Some(SentinelNodeConnectionInfo {
            tls_mode: None,
            redis_connection_info: Some(RedisConnectionInfo {
                password: Some("n0de-s3cret".to_owned()),
                ..RedisConnectionInfo::default()
            }),
        }));
        let shown = format!("{cfg:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("127.0.0.1:26379"), "{shown}");
        let manager = cfg.builder().unwrap().build().unwrap();
        let shown = format!("{:?}", manager.manager());
        assert!(!shown.contains("s3cret"), "{shown}");
    }
}
