#![doc = include_str!("../README.md")]
// Libraries log through `tracing`, never to stdout.
#![deny(clippy::print_stdout, clippy::print_stderr)]
// Every public item says what it is for.
#![warn(missing_docs)]

// The map, leaves first: `settings` uses nothing of the crate; `manager`
// opens connections with the settings; `config` builds pools from managers;
// `env` reads both from `SQLITE_*` variables; `read_write` pairs two pools.
mod config;
mod env;
mod manager;
mod read_write;
mod settings;

pub use pool_core;
pub use pool_core::managed::reexports::*;
pub use pool_sync::reexports::*;
pub use rusqlite;

pub use config::{Config, ConfigError};
pub use env::EnvError;
pub use manager::Manager;
pub use read_write::ReadWritePool;
pub use settings::{JournalMode, SettingError, Settings, Synchronous, TempStore};

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
pub type PoolError = pool_core::PoolError<rusqlite::Error>;
/// A pooled connection.
pub type Object = pool_core::Object<Manager>;
/// A pooled connection (deadpool-sqlite's name).
pub type Connection = Object;
/// A hook run on connections.
pub type Hook = pool_core::Hook<Manager>;
/// Error of a hook.
pub type HookError = pool_core::HookError<rusqlite::Error>;
