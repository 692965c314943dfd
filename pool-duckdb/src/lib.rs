#![doc = include_str!("../README.md")]
// Libraries log through `tracing`, never to stdout.
#![deny(clippy::print_stdout, clippy::print_stderr)]
// Every public item says what it is for.
#![warn(missing_docs)]

// The map, leaves first: `settings` and `error` use nothing of the crate;
// `open_files` keeps one database instance per file per process;
// `manager` makes connections of an open database; `config` opens the
// database and builds the pool; `env` reads a config from `DUCKDB_*`.
mod config;
mod env;
mod error;
mod manager;
mod open_files;
mod settings;

pub use duckdb;
pub use pool_core;
pub use pool_core::managed::reexports::*;
pub use pool_sync::reexports::*;

pub use config::{Config, CreatePoolError};
pub use env::EnvError;
pub use error::Error;
pub use manager::{DbConnection, Manager};
pub use settings::{AccessMode, SettingError, Settings};

/// A pool of connections to one DuckDB database.
pub type Pool = pool_core::Pool<Manager>;
/// A weak handle to a [`Pool`].
pub type WeakPool = pool_core::WeakPool<Manager>;
/// Builder of a [`Pool`].
pub type PoolBuilder = pool_core::PoolBuilder<Manager>;
/// Why a pool could not be built.
pub type BuildError = pool_core::BuildError;
/// Why `get()` failed.
pub type PoolError = pool_core::PoolError<Error>;
/// A pooled connection.
pub type Object = pool_core::Object<Manager>;
/// A pooled connection.
pub type Connection = Object;
/// A hook run on connections.
pub type Hook = pool_core::Hook<Manager>;
/// Error of a hook.
pub type HookError = pool_core::HookError<Error>;
