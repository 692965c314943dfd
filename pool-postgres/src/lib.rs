#![doc = include_str!("../README.md")]
// Libraries log through `tracing`, never to stdout.
#![deny(clippy::print_stdout, clippy::print_stderr)]
// Every public item says what it is for.
#![warn(missing_docs)]

#[cfg(all(feature = "rt_async-std_1", not(docsrs)))]
compile_error!(
    "pool-postgres runs on tokio only: the feature rt_async-std_1 is not supported; \
     use rt_tokio_1 (on by default)"
);

// The map, leaves first: `secret`, `session`, `statement_cache` and
// `reconnect` (opening connections) use nothing of the crate; `client` the
// cache, the session and `reconnect`; `manager` (with its `ManagerConfig`)
// the client; `config` builds pools from managers; `generic_client` adds a
// trait over `client`.
mod client;
mod config;
mod config_error;
mod generic_client;
mod manager;
mod pool;
mod reconnect;
mod secret;
mod session;
mod statement_cache;

pub use pool_core;
pub use pool_core::managed::reexports::*;
pub use tokio_postgres;

pub use client::{ClientWrapper, Query, Transaction, TransactionBuilder};
pub use config::{ChannelBinding, Config, LoadBalanceHosts, SslMode, TargetSessionAttrs};
pub use config_error::ConfigError;
pub use generic_client::GenericClient;
pub use manager::{
    ConfigConnectImpl, Connect, DEFAULT_CONNECT_TIMEOUT, DEFAULT_HEALTH_CHECK_INTERVAL,
    DEFAULT_RECYCLE_TIMEOUT, Manager, ManagerConfig, RecyclingMethod,
};
pub use pool::{
    BuildError, Client, CreatePoolError, Hook, HookError, Object, Pool, PoolBuilder, PoolError,
    QueueMode, WeakPool,
};
pub use secret::masked_url;
pub use statement_cache::{DEFAULT_STATEMENT_CACHE_SIZE, StatementCache, StatementCaches};
