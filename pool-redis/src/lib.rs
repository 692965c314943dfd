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

/// deadpool's pool type aliases for one manager, its checkout type and
/// its configuration error (the crate root, `sentinel`, `cluster`).
macro_rules! pool_aliases {
    ($manager:ty, $connection:ty, $config_error:ty) => {
        /// A pool of connections.
        pub type Pool = pool_core::Pool<$manager, $connection>;
        /// A weak handle to a [`Pool`].
        pub type WeakPool = pool_core::WeakPool<$manager, $connection>;
        /// Builder of a [`Pool`].
        pub type PoolBuilder = pool_core::PoolBuilder<$manager, $connection>;
        /// Why a pool could not be built.
        pub type BuildError = pool_core::BuildError;
        /// Why a configuration could not become a pool.
        pub type CreatePoolError = pool_core::CreatePoolError<$config_error>;
        /// Why `get()` failed.
        pub type PoolError = pool_core::PoolError<redis::RedisError>;
        /// A pooled connection as pool-core sees it (prefer the checkout type).
        pub type Object = pool_core::Object<$manager>;
        /// A hook run on connections.
        pub type Hook = pool_core::Hook<$manager>;
        /// Error of a hook.
        pub type HookError = pool_core::HookError<redis::RedisError>;
        /// Reuse order of idle connections.
        pub type QueueMode = pool_core::QueueMode;
    };
}

// The map, leaves first: `commands` and `secret` use nothing of the crate;
// `connection` the classifier; `manager` the connection and `shared`;
// `config`, `roles` and `registry` build pools from managers; `ext` and
// `pubsub` add to the built pool.
#[cfg(feature = "cluster")]
#[cfg_attr(docsrs, doc(cfg(feature = "cluster")))]
pub mod cluster;
mod commands;
mod config;
mod connection;
mod ext;
mod managed;
mod manager;
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

use redis::RedisResult;

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
pub use managed::ManagedConnection;
pub use manager::{Manager, RedisManager};
pub use pubsub::PubSub;
pub use retry::{RetryPolicy, RetryStats};
pub use secret::masked_url;
pub use tls::TlsCertificates;

pub use self::config::{
    Config, ConfigError, ConnectionAddr, ConnectionInfo, DEFAULT_COMMAND_TIMEOUT,
    DEFAULT_HEALTH_CHECK_INTERVAL, ProtocolVersion, RedisConnectionInfo,
};

pool_aliases!(Manager, Connection, ConfigError);
