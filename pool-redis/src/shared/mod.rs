//! Shared mode: many tasks, no checkout, a few multiplexed connections.
//!
//! redis-rs's `MultiplexedConnection` pipelines every request sent through
//! it; the more requests in flight on one connection, the more each write
//! and read carries. So a [`SharedConnection`] fills the first connection
//! ("lane") up to `depth` requests in flight before spilling to the next,
//! opening lanes up to `max_size`. Picking a lane reads each lane's
//! `ArcSwapOption` and in-flight counter: no lock on the command path.
//!
//! Invariants:
//! - A lane is `None` until its connection is made, and again from the
//!   moment a command on it fails with a dropped/unrecoverable error (the
//!   failing command's `compare_and_swap` takes exactly that connection
//!   out, so one death is handled once).
//! - At most one connect runs per lane (`LaneState::connecting`), in the
//!   background; callers wait for it only when no lane is live at all.
//! - After a failed connect the lane is not retried before its jittered
//!   backoff delay; meanwhile, with no live lane, commands fail at once
//!   with the last connect error instead of piling up.
//!
//! Files: `lanes.rs` the connection set (lanes, their reconnects and
//! backoff, the pick), `handle.rs` the handle callers hold
//! ([`SharedConnection`]: the cached lane, the fence, read retries,
//! `ConnectionLike`).

mod handle;
mod lanes;

pub use handle::SharedConnection;
pub(crate) use lanes::SharedSet;
pub use lanes::SharedStats;

/// Requests in flight on a shared connection before the next one is used.
/// Large, because on 2 cores (client and server together) every extra lane cost
/// throughput (fewer requests per write and read): with 200 tasks, depth 64
/// (4 lanes) ran at 0.66x one multiplexed connection, 128 at 0.74x, 256
/// (one lane) at 0.98x. Machines with more cores may gain from a smaller
/// depth ([`Manager::shared_depth`](crate::Manager::shared_depth)); see
/// docs/benchmarks.md ("shared mode").
pub const DEFAULT_SHARED_DEPTH: usize = 256;
