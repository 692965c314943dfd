#![doc = include_str!("../README.md")]
// docs.rs (`--cfg docsrs`, nightly) marks the feature-gated items.
#![cfg_attr(docsrs, feature(doc_cfg))]
// Libraries log through `tracing`, never to stdout.
#![deny(clippy::print_stdout, clippy::print_stderr)]
// Every public item says what it is for.
#![warn(missing_docs)]

#[cfg(all(feature = "rt_async-std_1", not(docsrs)))]
compile_error!(
    "pool-core runs on tokio only: feature `rt_async-std_1` exists for deadpool's feature names, not as a runtime; use `rt_tokio_1`"
);
#[cfg(all(feature = "rt_smol_2", not(docsrs)))]
compile_error!(
    "pool-core runs on tokio only: feature `rt_smol_2` exists for deadpool's feature names, not as a runtime; use `rt_tokio_1`"
);

mod admission;
mod breaker;
mod builder;
mod config;
mod errors;
mod get;
mod handle;
mod handoff;
mod hooks;
mod inner;
mod maintenance;
mod manager;
mod metrics;
mod object;
mod observe;
mod runtime;
mod state;
mod store;
mod sync;
mod time;
#[cfg(feature = "unmanaged")]
pub mod unmanaged;

pub use breaker::{
    Backoff, BreakerConfig, BreakerPhase, BreakerSnapshot, BreakerState, DEFAULT_BACKOFF_BASE,
    DEFAULT_BACKOFF_CAP,
};
pub use builder::PoolBuilder;
pub use config::{PoolConfig, QueueMode, Timeouts};
pub use errors::{
    BuildError, CreatePoolError, HookError, PoolError, RecycleError, SharedError, TimeoutType,
};
pub use handle::{Pool, RetainResult, Status, WeakPool};
pub use hooks::{Hook, HookFuture, HookResult};
pub use manager::{Manager, RecycleResult};
pub use metrics::Metrics;
pub use object::{KeptSlot, Object, ObjectId};
pub use observe::{
    ClosedCounts, Gauges, GetOutcomes, Health, HealthStatus, HealthThresholds, MetricsSnapshot,
    Rates, SizeAdvice, Summary, sizing,
};
pub use state::MAX_POOL_SIZE;
pub use store::Store;

pub use runtime::{Runtime, SpawnBlockingError, spawn_blocking, spawn_blocking_background};

/// The same items under deadpool's path, so `deadpool::managed::{...}`
/// becomes `pool_core::managed::{...}` (feature `managed`, on by default).
#[cfg(feature = "managed")]
pub mod managed {
    pub use crate::{
        BreakerConfig, BreakerSnapshot, BreakerState, BuildError, CreatePoolError, Hook, HookError,
        HookFuture, HookResult, KeptSlot, Manager, Metrics, Object, ObjectId, Pool, PoolBuilder,
        PoolConfig, PoolError, QueueMode, RecycleError, RecycleResult, RetainResult, Status, Store,
        TimeoutType, Timeouts, WeakPool,
    };

    /// What backend crates re-export, as deadpool's `managed::reexports`.
    pub mod reexports {
        pub use crate::{Metrics, ObjectId, PoolConfig, Runtime, Status, TimeoutType, Timeouts};
    }
}
