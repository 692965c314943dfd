//! The pool types, by deadpool-postgres's names.

use crate::config_error::ConfigError;
use crate::manager::Manager;

/// A pool of connections.
pub type Pool = pool_core::Pool<Manager>;
/// A weak handle to a [`Pool`].
pub type WeakPool = pool_core::WeakPool<Manager>;
/// Builder of a [`Pool`].
pub type PoolBuilder = pool_core::PoolBuilder<Manager>;
/// Why a pool could not be built.
pub type BuildError = pool_core::BuildError;
/// Why a configuration could not become a pool.
pub type CreatePoolError = pool_core::CreatePoolError<ConfigError>;
/// Why `get()` failed.
pub type PoolError = pool_core::PoolError<tokio_postgres::Error>;
/// A pooled connection.
pub type Object = pool_core::Object<Manager>;
/// A pooled connection (deadpool-postgres's name).
pub type Client = Object;
/// A hook run on connections.
pub type Hook = pool_core::Hook<Manager>;
/// Error of a hook.
pub type HookError = pool_core::HookError<tokio_postgres::Error>;
/// Reuse order of idle connections.
pub type QueueMode = pool_core::QueueMode;
