//! A PostgreSQL connection pool on [pool-core](pool_core) and
//! tokio-postgres, and a drop-in for deadpool-postgres 0.14: rename
//! `deadpool_postgres` to `pool_postgres` and the code compiles.
//!
//! What it does that deadpool-postgres does not:
//! - **never hands out a dead connection** with the default settings:
//!   `is_closed()` at checkout and return, and an empty query for a
//!   connection not used within the health-check TTL
//!   ([`DEFAULT_HEALTH_CHECK_INTERVAL`]; `RecyclingMethod::Verified` is the
//!   default, deadpool-postgres's is `Fast`);
//! - **never hands out a connection inside someone else's transaction**: a
//!   `BEGIN` sent by hand, a forgotten [`Transaction`], or any use of the raw
//!   client (`&**client`) makes the next checkout send `ROLLBACK`
//!   (`RecyclingMethod::Clean` also resets temporary tables and `SET`s);
//! - a **bounded statement cache** per connection (LRU,
//!   [`Config::statement_cache_size`]) that evicts a statement whose cached
//!   plan a schema change made stale, and runs it again once when it can;
//! - pool-core's `max_lifetime` with jitter, `min_idle`, `max_overflow`, idle
//!   reaping and circuit breaker, in `Config::pool`;
//! - `target_session_attrs` (with `ReadOnly`), `load_balance_hosts`,
//!   `channel_binding`, `keepalives_interval`, `keepalives_retries` and
//!   `statement_timeout` applied; [`Config::tuned`] as a starting point.
//!
//! ```no_run
//! use pool_postgres::{Config, Runtime, tokio_postgres::NoTls};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let mut cfg = Config::new();
//! cfg.url = Some("postgres://app@db.example.com/app".into());
//! let pool = cfg.create_pool(Some(Runtime::Tokio1), NoTls)?;
//! let client = pool.get().await?;
//! let stmt = client.prepare_cached("SELECT $1::int + 1").await?;
//! let row = client.query_one(&stmt, &[&41]).await?;
//! assert_eq!(row.get::<_, i32>(0), 42);
//! # Ok(())
//! # }
//! ```

// Libraries log through `tracing`, never to stdout.
#![deny(clippy::print_stdout, clippy::print_stderr)]
// Every public item says what it is for.
#![warn(missing_docs)]

#[cfg(all(feature = "rt_async-std_1", not(docsrs)))]
compile_error!(
    "pool-postgres runs on tokio only: the feature rt_async-std_1 is not supported; \
     use rt_tokio_1 (on by default)"
);

// The map, leaves first: `secret`, `session` and `statement_cache` use
// nothing of the crate; `client` the cache and the session; `manager` (with
// its `ManagerConfig`) the client; `config` builds pools from managers;
// `generic_client` adds a trait over `client`.
mod client;
mod config;
mod generic_client;
mod manager;
mod secret;
mod session;
mod statement_cache;

pub use pool_core;
pub use pool_core::managed::reexports::*;
pub use tokio_postgres;

pub use client::{ClientWrapper, Query, Transaction, TransactionBuilder};
pub use config::{
    ChannelBinding, Config, ConfigError, LoadBalanceHosts, SslMode, TargetSessionAttrs,
};
pub use generic_client::GenericClient;
pub use manager::{
    ConfigConnectImpl, Connect, DEFAULT_HEALTH_CHECK_INTERVAL, Manager, ManagerConfig,
    RecyclingMethod,
};
pub use statement_cache::{DEFAULT_STATEMENT_CACHE_SIZE, StatementCache, StatementCaches};

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
