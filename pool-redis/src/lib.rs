//! A Redis connection pool built on [`pool_core`]: a drop-in replacement for
//! deadpool-redis 0.23 (rename the crate, nothing else), plus what it lacks:
//!
//! - **No PING on every checkout.** The health-check interval is 1 s by
//!   default: a connection used successfully within the last second goes
//!   straight to the caller; an older one is checked (`UNWATCH` + `PING`).
//! - **Passive failure detection.** [`Connection`] sees the result of every
//!   command sent through it; a connection whose command failed with an
//!   unrecoverable or connection-dropped error is marked broken and
//!   dropped when it comes back, never handed out again. The one cost of
//!   skipping the PING: a connection that dies silently within the interval
//!   fails one command before it is replaced.
//! - **Session state never leaks to the next user.** A connection that sent
//!   `WATCH` is recycled (`UNWATCH` + `PING`) at its next checkout even
//!   inside the interval; one left in `MULTI`, or that sent `SELECT` or a
//!   `SUBSCRIBE`, or whose request future was dropped before its answer
//!   arrived, is closed at return, not reused. A connection whose raw
//!   `MultiplexedConnection` was borrowed mutably (`DerefMut`: commands that
//!   bypass the wrapper) is `RESET` before its next use, with its login and
//!   database restored, in one pipelined round trip.
//! - Everything pool-core adds: fair hand-off, a create circuit breaker
//!   with backoff (`PoolError::Unavailable`), `min_idle`, lifetimes.

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
pub use ext::RedisPoolExt;
pub use managed::ManagedConnection;
pub use manager::{Manager, RedisManager};
pub use pubsub::PubSub;
pub use retry::{RetryPolicy, RetryStats};
pub use tls::TlsCertificates;

pub use self::config::{
    Config, ConfigError, ConnectionAddr, ConnectionInfo, DEFAULT_COMMAND_TIMEOUT,
    DEFAULT_HEALTH_CHECK_INTERVAL, ProtocolVersion, RedisConnectionInfo,
};

pool_aliases!(Manager, Connection, ConfigError);
