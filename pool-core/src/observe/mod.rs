//! What the pool records about itself, and how it is read.
//!
//! Recording is lock-free: `Relaxed` counters and log-linear histograms in
//! atomics (`histogram.rs`); the only allocation is a thread's own wait,
//! use-time and slow-path histograms, on its first sampled record
//! (`per_thread.rs`). The hot path (a get that finds a fresh idle object)
//! adds one to a counter only its thread writes (`per_thread.rs`: a load
//! and a store, no locked instruction) and reads no clock of its own. A get
//! that leaves the fast path is timed for one in `WAIT_SAMPLE` per thread:
//! its wait on tokio's clock (so paused time in tests counts), ended by the
//! checkout's own clock read plus the recycle that ran after it (on the TSC
//! when the recycle never yielded, so no paused time could pass; else on
//! tokio's clock), and its steps inside the pool's slow path on quanta's
//! TSC clock (real time at a fifth of the cost of a read of `Instant`
//! here). A return records its use time for one checkout in `USE_SAMPLE`
//! (the object's own checkout count decides, no shared state), so the
//! use-time histogram holds a uniform sample.
//! `PoolBuilder::record_metrics(false)` turns all of it off.
//!
//! Invariant: every `get()` ends in exactly one outcome counter (served at
//! once, served after waiting, timed out, backend error, refused by the
//! breaker, refused because closed, cancelled); a get that left the fast
//! path and has not ended is counted in `pending`. So gets started = the
//! outcomes + pending.
//!
//! Files: `recorder.rs` the hot-path recorder, `snapshot.rs` the public
//! snapshot types, `rates.rs` the rate window, `histogram.rs` and
//! `per_thread.rs` the storage, `health.rs`/`history.rs`/`sizing.rs` what
//! is read off a snapshot, `export.rs` the `metrics` facade.

#[cfg(feature = "metrics")]
pub mod export;
mod health;
mod histogram;
mod history;
mod per_thread;
mod rates;
mod recorder;
pub mod sizing;
mod snapshot;

pub use health::{Health, HealthStatus, HealthThresholds, SizeAdvice};
pub(crate) use health::{advise as advise_size, judge as judge_window};
pub use histogram::Summary;
pub(crate) use history::Reports;
pub(crate) use rates::{RatePoint, rates};
pub(crate) use recorder::{CloseReason, GetProgress, Recorder, USE_SAMPLE};
pub use snapshot::{ClosedCounts, Gauges, GetOutcomes, MetricsSnapshot, Rates};
