//! Transparent retry of reads: a read-only request (`commands::read_only`)
//! whose connection broke under it is sent again on a fresh connection,
//! with backoff, within a budget, so a quick server restart or a dropped
//! connection is invisible to readers.
//!
//! Decisions:
//! - Only a broken connection is retried (reset, broken pipe, EOF, a dead
//!   connection: `RedisError::is_connection_dropped`). A read that timed
//!   out is not: the server may be slow rather than gone, and sending the
//!   read again would add load to a struggling server after the caller has
//!   already waited the full command timeout.
//! - Writes, scripts, transactions, blocking commands and anything outside
//!   the read table are never sent twice.
//! - An exclusive connection is retried only while it carries no session
//!   state (no `WATCH`, open `MULTI`, `SELECT`, client name, subscription or
//!   raw borrow): a silent new connection would break the caller's
//!   transaction or optimistic lock. Then the error goes to the caller.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use redis::RedisError;
use redis::aio::MultiplexedConnection;

/// How reads are retried. Default: at most 3 attempts (the first and two
/// retries) within 500 ms of the first failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Sends of one request in all, the first included; `1` turns retry off.
    pub attempts: u32,
    /// Time from the first failure within which retries may start (waiting
    /// for a fresh connection included).
    pub budget: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 3,
            budget: Duration::from_millis(500),
        }
    }
}

impl RetryPolicy {
    /// Retry turned off: every error goes to the caller.
    #[must_use]
    pub fn off() -> Self {
        Self {
            attempts: 1,
            budget: Duration::ZERO,
        }
    }

    pub(crate) fn enabled(&self) -> bool {
        self.attempts > 1 && !self.budget.is_zero()
    }

    /// When retries must have started by, from now: a budget too large for
    /// an `Instant` (`Duration::MAX`) is a day, not an overflow panic.
    pub(crate) fn deadline(&self) -> tokio::time::Instant {
        let now = tokio::time::Instant::now();
        now.checked_add(self.budget)
            .unwrap_or_else(|| now + Duration::from_secs(86_400))
    }
}

/// What retrying did, since the pool was built.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct RetryStats {
    /// Reads sent again after their connection broke.
    pub retries: u64,
    /// Reads that succeeded on a retry (the caller saw no error).
    pub recovered: u64,
    /// Reads whose retries ran out (attempts or budget): the caller got the
    /// error.
    pub exhausted: u64,
}

/// A pool's retry policy and counters, shared by its connections.
#[derive(Debug, Default)]
pub(crate) struct Retry {
    /// Read only after a failure, never on the request path.
    policy: Mutex<RetryPolicy>,
    retries: AtomicU64,
    recovered: AtomicU64,
    exhausted: AtomicU64,
}

impl Retry {
    pub(crate) fn policy(&self) -> RetryPolicy {
        *self.policy.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn set_policy(&self, policy: RetryPolicy) {
        *self.policy.lock().unwrap_or_else(|p| p.into_inner()) = policy;
    }

    pub(crate) fn retried(&self) {
        self.retries.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn recovered(&self) {
        self.recovered.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn exhausted(&self) {
        self.exhausted.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn stats(&self) -> RetryStats {
        RetryStats {
            retries: self.retries.load(Ordering::Relaxed),
            recovered: self.recovered.load(Ordering::Relaxed),
            exhausted: self.exhausted.load(Ordering::Relaxed),
        }
    }
}

/// Whether `e` says the connection broke (so a read may be sent again on
/// another one). Timeouts are not breaks.
pub(crate) fn connection_broke(e: &RedisError) -> bool {
    e.is_connection_dropped()
}

/// The pause before the `n`th try (from 0) to get a fresh connection:
/// 10 ms doubling to 100 ms. Each try itself goes through the breaker and
/// its own schedule; this only keeps a retry from asking in a tight loop.
pub(crate) fn pause(n: u32) -> Duration {
    Duration::from_millis(10u64 << n.min(4)).min(Duration::from_millis(100))
}

/// A request: one command or a pipeline. Every send path (the tracked
/// exclusive connection, shared mode) is written once over this, so a rule
/// about retries, timeouts or session state holds for both shapes.
pub(crate) trait Request: Sync {
    type Output: Send;
    /// Sends it on `conn` (redis-rs's own future, not boxed again).
    fn send<'c>(
        &'c self,
        conn: &'c mut MultiplexedConnection,
    ) -> impl std::future::Future<Output = redis::RedisResult<Self::Output>> + Send + 'c;
    /// Its commands, in order.
    fn commands(&self) -> impl Iterator<Item = &redis::Cmd>;
    /// Whether every command only reads (so it may be sent again).
    fn is_read_only(&self) -> bool;
    /// Refuses what shared mode cannot carry (session changes, blocking
    /// commands), naming the command.
    fn refuse_shared(&self) -> redis::RedisResult<()>;
    /// Whether a `READONLY` refusal proves it did not run at all (a single
    /// command: a pipeline's other commands may have).
    fn is_single(&self) -> bool;
}

pub(crate) struct Single<'a>(pub(crate) &'a redis::Cmd);

impl Request for Single<'_> {
    type Output = redis::Value;
    fn send<'c>(
        &'c self,
        conn: &'c mut MultiplexedConnection,
    ) -> impl std::future::Future<Output = redis::RedisResult<redis::Value>> + Send + 'c {
        conn.send_packed_command(self.0)
    }
    fn commands(&self) -> impl Iterator<Item = &redis::Cmd> {
        std::iter::once(self.0)
    }
    fn is_read_only(&self) -> bool {
        crate::commands::read_only::is_read_only(self.0)
    }
    fn refuse_shared(&self) -> redis::RedisResult<()> {
        crate::commands::shared_policy::refuse_single(self.0)
    }
    fn is_single(&self) -> bool {
        true
    }
}

pub(crate) struct Batch<'a> {
    pub(crate) pipeline: &'a redis::Pipeline,
    pub(crate) offset: usize,
    pub(crate) count: usize,
}

impl Request for Batch<'_> {
    type Output = Vec<redis::Value>;
    fn send<'c>(
        &'c self,
        conn: &'c mut MultiplexedConnection,
    ) -> impl std::future::Future<Output = redis::RedisResult<Vec<redis::Value>>> + Send + 'c {
        conn.send_packed_commands(self.pipeline, self.offset, self.count)
    }
    fn commands(&self) -> impl Iterator<Item = &redis::Cmd> {
        self.pipeline.cmd_iter()
    }
    fn is_read_only(&self) -> bool {
        crate::commands::read_only::pipeline_is_read_only(self.pipeline)
    }
    fn refuse_shared(&self) -> redis::RedisResult<()> {
        crate::commands::shared_policy::refuse_pipeline(self.pipeline)
    }
    fn is_single(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_largest_budget_is_a_far_deadline_not_a_panic() {
        let policy = RetryPolicy {
            attempts: 3,
            budget: Duration::MAX,
        };
        assert!(policy.deadline() > tokio::time::Instant::now() + Duration::from_secs(3600));
    }
}
