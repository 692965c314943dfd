#![doc = include_str!("../README.md")]
// docs.rs (`--cfg docsrs`, nightly) marks the feature-gated modules.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(clippy::print_stdout, clippy::print_stderr)]
// Every public item says what it is for.
#![warn(missing_docs)]

// deadpool-redis's smol runtime features name a runtime pool-core does not
// serve; refuse them plainly rather than build a pool that cannot run.
// (Not under docsrs, so documentation with every feature still builds.)
#[cfg(all(
    not(docsrs),
    any(
        feature = "rt_smol_2",
        feature = "smol-comp",
        feature = "smol-native-tls-comp",
        feature = "smol-rustls-comp"
    )
))]
compile_error!(
    "pool-redis runs on tokio only: the smol features (rt_smol_2, smol-comp, \
     smol-native-tls-comp, smol-rustls-comp) are not supported; use rt_tokio_1 \
     (on by default)"
);

// Before the modules that invoke it (`pool`, `sentinel`, `cluster`).
#[macro_use]
mod aliases;
#[cfg(feature = "cluster")]
#[cfg_attr(docsrs, doc(cfg(feature = "cluster")))]
pub mod cluster;
mod commands;
mod config;
mod config_error;
mod connection;
mod ext;
mod managed_connection;
mod manager;
mod pool;
mod pubsub;
mod registry;
mod retry;
mod roles;
mod secret;
#[cfg(feature = "sentinel")]
#[cfg_attr(docsrs, doc(cfg(feature = "sentinel")))]
pub mod sentinel;
mod shared;
mod target;
mod tls;

pub use pool_core;
pub use pool_core::managed::reexports::*;
pub use redis;
pub use registry::{
    DEFAULT_CLEANUP_INTERVAL, DEFAULT_IDLE_PERIOD, PoolStats, ProcessMemory, RegistryStats,
    SharedPoolRegistry,
};
pub use roles::{Role, RoleAddrs, RolePools, RolePoolsError, env};
pub use shared::{DEFAULT_SHARED_DEPTH, SharedConnection, SharedStats};

pub use connection::Connection;
pub use ext::{PUBSUB_CONNECT_TIMEOUT, RedisPoolExt};
pub use managed_connection::ManagedConnection;
pub use manager::{DEFAULT_COMMAND_TIMEOUT, DEFAULT_HEALTH_CHECK_INTERVAL, Manager, RedisManager};
pub use pubsub::PubSub;
pub use retry::{RetryPolicy, RetryStats};
pub use secret::masked_url;
pub use tls::TlsCertificates;

pub use self::config::{
    Config, ConnectionAddr, ConnectionInfo, ProtocolVersion, RedisConnectionInfo,
};
pub use config_error::ConfigError;

pub use pool::{
    BuildError, CreatePoolError, Hook, HookError, Object, Pool, PoolBuilder, PoolError, QueueMode,
    WeakPool,
};
