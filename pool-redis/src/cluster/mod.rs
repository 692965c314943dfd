//! Redis Cluster: a drop-in for deadpool-redis's `cluster` module (same
//! items, same configuration) over redis-rs's async `ClusterConnection`,
//! plus what it lacks:
//!
//! - **Bounded requests.** The cluster client's timeouts and retries get
//!   defaults under which a request waits at most
//!   [`DEFAULT_CLUSTER_OVERALL_TIMEOUT`] (3 s) over all its attempts when a
//!   node dies ([`ClusterSettings`]; redis-rs's own defaults retry 16 times
//!   with waits from 1.28 s). There is no per-attempt timeout by default:
//!   redis-rs resends a timed-out attempt, writes included, so a reply that
//!   arrives within the overall bound reaches the caller and a slow write
//!   runs once. A request that hits the overall bound is an error, and a
//!   write that timed out **may have run**: the caller decides whether to
//!   send it again.
//! - **No PING per checkout**: a connection used within the health-check
//!   interval (1 s) goes straight to the caller.
//! - **Session-state safety**: in a cluster only an atomic pipeline
//!   (`redis::pipe().atomic()`, keys in one slot) is a transaction; redis-rs
//!   routes a bare `MULTI`/`EXEC` to whichever node it picks. A connection
//!   that sent a bare `MULTI` (without its `EXEC`), `WATCH`, or a
//!   session-changing command is closed at return, never reused.
//! - **Shared mode** ([`ClusterPoolExt::shared`]): plain commands and
//!   pipelines over one `ClusterConnection` (one connection per node), no
//!   checkout; an exclusive pool of N holds N connections per node.
//!
//! `MOVED` and `ASK` redirects (slot migrations, failovers) are followed
//! inside one request, within its overall timeout; what is sent again and
//! what is not is decided in one place (`send.rs`): only what provably did
//! not run, or reads.

mod config;
mod connection;
mod managed_cluster;
mod manager;
mod send;
mod shared;

pub use redis::cluster::{ClusterClient, ClusterClientBuilder};
pub use redis::cluster_async::ClusterConnection;

pub use self::config::{
    ClusterSettings, Config, ConfigError, DEFAULT_CLUSTER_CONNECTION_TIMEOUT,
    DEFAULT_CLUSTER_OVERALL_TIMEOUT, DEFAULT_CLUSTER_RESPONSE_TIMEOUT, DEFAULT_CLUSTER_RETRIES,
    DEFAULT_CLUSTER_RETRY_WAIT,
};
pub use pool_core::ObjectId;
pub use pool_core::managed::reexports::*;

pool_aliases!(Manager, Connection, ConfigError);

pub use self::connection::Connection;
pub use self::managed_cluster::ManagedCluster;
pub use self::manager::Manager;
pub use self::shared::{ClusterPoolExt, ClusterShared};
