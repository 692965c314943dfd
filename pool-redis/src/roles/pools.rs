//! The role pools (master for writes, replica for reads, local) built from
//! [`RoleSettings`], and a router over them: writes go to master, reads to
//! the replica, and reads fall back to master while the replica cannot
//! serve (its breaker open, or its connections failing).

use std::sync::atomic::{AtomicU64, Ordering};

use super::Role;
use super::env::{EnvError, RolePool, RoleSettings};
use crate::config::Config;
use crate::config_error::ConfigError;
use crate::connection::Connection;
use crate::pool::{CreatePoolError, Pool, PoolError};
use crate::secret::MaskedUrl;
use pool_core::PoolConfig;

/// Where each role's server is: `redis://` URLs, or, with the `sentinel`
/// feature, `redis+sentinel://host:26379,host2:26379/MASTER_NAME[/DB]`
/// (the master and replica roles then follow the master and the replicas
/// Sentinel names, failovers included; see `pool_redis::sentinel`).
/// `Debug` masks passwords.
#[derive(Clone)]
pub struct RoleAddrs {
    /// Writes.
    pub master: String,
    /// Reads.
    pub replica: String,
    /// This host's Redis.
    pub local: String,
}

impl std::fmt::Debug for RoleAddrs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoleAddrs")
            .field("master", &MaskedUrl(Some(&self.master)))
            .field("replica", &MaskedUrl(Some(&self.replica)))
            .field("local", &MaskedUrl(Some(&self.local)))
            .finish()
    }
}

/// Why the role pools could not be built.
#[derive(Debug)]
pub enum RolePoolsError {
    /// A bad environment value.
    Env(EnvError),
    /// A role's address or settings were refused.
    Pool {
        /// The role.
        role: Role,
        /// Why.
        error: CreatePoolError,
    },
}

impl std::fmt::Display for RolePoolsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RolePoolsError::Env(e) => e.fmt(f),
            RolePoolsError::Pool { role, error } => write!(f, "{role:?} pool: {error}"),
        }
    }
}

impl std::error::Error for RolePoolsError {}

/// The three role pools and the read/write router.
#[derive(Debug)]
pub struct RolePools {
    master: Pool,
    replica: Pool,
    local: Pool,
    read_fallbacks: AtomicU64,
}

impl RolePools {
    /// From the process environment (`REDIS_*_POOL_*`, see [`crate::env`]).
    ///
    /// # Errors
    /// A bad variable (named, with its value) or a refused address.
    pub fn from_env(addrs: &RoleAddrs) -> Result<Self, RolePoolsError> {
        Self::new(
            &RoleSettings::from_env().map_err(RolePoolsError::Env)?,
            addrs,
        )
    }

    /// From `(name, value)` pairs instead of the process environment.
    ///
    /// # Errors
    /// As [`RolePools::from_env`].
    pub fn from_vars<K: Into<String>, V: Into<String>>(
        vars: impl IntoIterator<Item = (K, V)>,
        addrs: &RoleAddrs,
    ) -> Result<Self, RolePoolsError> {
        Self::new(
            &RoleSettings::from_vars(vars).map_err(RolePoolsError::Env)?,
            addrs,
        )
    }

    /// From settings already read.
    ///
    /// # Errors
    /// A refused address.
    pub fn new(settings: &RoleSettings, addrs: &RoleAddrs) -> Result<Self, RolePoolsError> {
        let build = |role: Role, url: &str| -> Result<Pool, RolePoolsError> {
            let RolePool {
                enabled,
                size,
                min_idle,
            } = settings.role(role);
            let refused = |error| RolePoolsError::Pool { role, error };
            let manager =
                manager_for(role, url).map_err(|e| refused(CreatePoolError::Config(e)))?;
            let manager = if enabled {
                manager
            } else {
                manager.single_use()
            };
            let config = PoolConfig {
                max_size: size,
                min_idle,
                ..Config::default().get_pool_config()
            };
            Pool::builder(manager)
                .config(config)
                .build()
                .map_err(|e| refused(CreatePoolError::Build(e)))
        };
        Ok(RolePools {
            master: build(Role::Master, &addrs.master)?,
            replica: build(Role::Replica, &addrs.replica)?,
            local: build(Role::Local, &addrs.local)?,
            read_fallbacks: AtomicU64::new(0),
        })
    }

    /// A role's pool.
    #[must_use]
    pub fn pool(&self, role: Role) -> &Pool {
        match role {
            Role::Master => &self.master,
            Role::Replica => &self.replica,
            Role::Local => &self.local,
        }
    }

    /// A connection for writes (master).
    ///
    /// # Errors
    /// The master pool's error.
    pub async fn writer(&self) -> Result<Connection, PoolError> {
        self.master.get().await
    }

    /// A connection for reads: the replica, or master while the replica
    /// cannot serve (counted in [`RolePools::read_fallbacks`]).
    ///
    /// # Errors
    /// The master pool's error if both fail.
    pub async fn reader(&self) -> Result<Connection, PoolError> {
        match self.replica.get().await {
            Ok(conn) => Ok(conn),
            Err(e) => {
                self.read_fallbacks.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(error = %e, "replica unavailable: read served by master");
                self.master.get().await
            }
        }
    }

    /// Reads served by master because the replica could not serve.
    #[must_use]
    pub fn read_fallbacks(&self) -> u64 {
        self.read_fallbacks.load(Ordering::Relaxed)
    }
}

/// The manager for one role's address: a server, or the sentinels of a
/// master (the replica role then serves from the replicas).
fn manager_for(role: Role, url: &str) -> Result<crate::Manager, ConfigError> {
    #[cfg(feature = "sentinel")]
    if crate::sentinel::is_sentinel_url(url) {
        let server_type = match role {
            Role::Replica => crate::sentinel::SentinelServerType::Replica,
            Role::Master | Role::Local => crate::sentinel::SentinelServerType::Master,
        };
        return crate::sentinel::manager_from_url(url, server_type);
    }
    #[cfg(not(feature = "sentinel"))]
    if url.starts_with("redis+sentinel://") || url.starts_with("rediss+sentinel://") {
        let _ = role;
        return Err(ConfigError::SentinelUrl(
            "a redis+sentinel:// address needs pool-redis's `sentinel` feature".to_owned(),
        ));
    }
    Config::from_url(url).manager()
}
