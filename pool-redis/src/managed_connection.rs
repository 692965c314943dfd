//! The pooled value: a Redis connection plus what the pool learned from
//! its traffic, and the tracked path every command takes.
//!
//! A checkout is a [`Connection`](crate::Connection) (`connection.rs`); it
//! derefs to the pooled [`ManagedConnection`], which derefs to redis's
//! `MultiplexedConnection`.
//! Commands sent through either of the first two (`&mut conn` or
//! `&mut *conn` in a generic `ConnectionLike` position: `query_async`,
//! pipelines, `AsyncCommands`) take the tracked path: session state is
//! noted, the answer is awaited within the command timeout, and a failure
//! or an abandoned request marks the connection for closing. Only a place
//! that needs the `MultiplexedConnection` type itself (a raw borrow) goes
//! around the tracking; it gets a handle with redis's fixed response
//! timeout, and the connection is `RESET` before its next user.

use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionLike, MultiplexedConnection};
use redis::{RedisError, RedisResult};
use tokio::time::Instant;

use crate::commands::{self, Blocking, Kind};
use crate::retry::{Batch, Request, Retry, Single, connection_broke, pause};
use crate::target::Stamp;

/// A pooled Redis connection plus what the pool learned from its traffic.
///
/// It implements `ConnectionLike` itself, so `query_async(&mut *conn)` on a
/// checked-out [`Connection`](crate::Connection) is tracked exactly like `query_async(&mut
/// conn)`. It derefs to `MultiplexedConnection` for code that names that
/// type (`fn f(c: &mut MultiplexedConnection)`): such a raw borrow is
/// bounded by the command timeout but untracked, so the connection is
/// `RESET` (login and database restored) before its next checkout. A clone
/// of the inner connection (`(*conn).clone()`) is an untracked handle on
/// the same socket that outlives the checkout; it keeps the fixed response
/// timeout.
pub struct ManagedConnection {
    /// The tracked path's handle. On pools built from a `Config` it has no
    /// response timeout of its own: the tracked path applies one per
    /// command, longer for blocking commands.
    conn: MultiplexedConnection,
    /// What a raw borrow gets: a handle on the same connection whose every
    /// request is bounded by redis's fixed response timeout (the command
    /// timeout when there is one), blocking commands included.
    raw: MultiplexedConnection,
    /// A command failed in a way that leaves the connection unusable.
    pub(crate) broken: bool,
    /// The connection carries session state a reset cannot undo cheaply
    /// (`SELECT`, a subscription, a client name, ...): closed at return,
    /// and never silently replaced by a retry.
    session: bool,
    /// The connection carries session state (`WATCH`) to reset.
    pub(crate) needs_reset: bool,
    /// The raw connection was lent out: anything may have been sent; a full
    /// `RESET` (plus re-login and `SELECT`) before reuse.
    pub(crate) exposed: bool,
    /// A request was sent and we stopped waiting for its answer (its future
    /// was dropped, or it timed out): the answer is still on its way, so
    /// the connection is closed, not reused.
    in_flight: bool,
    /// `MULTI` sent without its `EXEC`/`DISCARD`.
    in_multi: bool,
    /// `Some`: the wrapper applies this per command, or, for a blocking
    /// command (`BLPOP key 5`), the command's own timeout plus this margin.
    command_timeout: Option<Duration>,
    /// The pool's retry policy and counters.
    retry: Arc<Retry>,
    /// Where a fresh connection comes from when a read is retried: the
    /// pool's weak handle, set at the first checkout (`connection.rs`; weak:
    /// a connection does not keep its pool alive).
    pub(crate) pool: Option<Box<dyn Renew>>,
    /// For a node found through Sentinel: the view it was made for, so a
    /// connection to a node that is no longer the master (or a serving
    /// replica) is recognised and closed.
    pub(crate) stamp: Option<Stamp>,
}

impl std::fmt::Debug for ManagedConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ManagedConnection")
            .field("broken", &self.broken)
            .field("needs_reset", &self.needs_reset)
            .field("exposed", &self.exposed)
            .finish_non_exhaustive()
    }
}

impl Deref for ManagedConnection {
    type Target = MultiplexedConnection;
    fn deref(&self) -> &MultiplexedConnection {
        &self.raw
    }
}

impl DerefMut for ManagedConnection {
    /// Lends the raw connection: commands sent through it bypass the
    /// tracking, so the connection is fully reset before its next use.
    fn deref_mut(&mut self) -> &mut MultiplexedConnection {
        self.exposed = true;
        &mut self.raw
    }
}

impl ManagedConnection {
    pub(crate) fn new(
        conn: MultiplexedConnection,
        command_timeout: Option<Duration>,
        retry: Arc<Retry>,
    ) -> Self {
        let mut raw = conn.clone();
        if let Some(timeout) = command_timeout {
            raw.set_response_timeout(timeout);
        }
        Self {
            conn,
            raw,
            command_timeout,
            retry,
            pool: None,
            stamp: None,
            broken: false,
            session: false,
            needs_reset: false,
            exposed: false,
            in_flight: false,
            in_multi: false,
        }
    }

    /// Marks the connection as made for `stamp`'s view.
    pub(crate) fn followed(mut self, stamp: Stamp) -> Self {
        self.stamp = Some(stamp);
        self
    }

    /// Whether the connection goes to a node that is no longer one of its
    /// target's (the old master after a failover).
    pub(crate) fn is_stale(&mut self) -> bool {
        self.stamp.as_mut().is_some_and(Stamp::is_stale)
    }

    /// The connection for the manager's own checks (recycle).
    pub(crate) fn checked(&mut self) -> &mut MultiplexedConnection {
        &mut self.conn
    }

    /// The per-command timeout, if the tracked path applies one.
    pub(crate) fn command_timeout(&self) -> Option<Duration> {
        self.command_timeout
    }

    /// The connection leaves the pool for good: the bounded handle.
    pub(crate) fn into_raw(self) -> MultiplexedConnection {
        self.raw
    }

    /// Notes what a command will leave behind on the connection.
    fn note_command(&mut self, cmd: &redis::Cmd) {
        let name = commands::name(cmd);
        match commands::kind_of(cmd) {
            Kind::Watch => self.needs_reset = true,
            Kind::Multi => self.in_multi = true,
            Kind::ExecOrDiscard => self.in_multi = false,
            Kind::Session => {
                tracing::debug!(
                    command = %String::from_utf8_lossy(name),
                    "session-changing command on a pooled connection: it will not be reused"
                );
                self.session = true;
            }
            Kind::Plain | Kind::Unwatch | Kind::Blocking => {}
        }
    }

    /// Notes the outcome of a request (`timed_out`: we stopped waiting, the
    /// answer is still on its way, so the request stays in flight).
    fn note_result<T>(&mut self, result: &RedisResult<T>, timed_out: bool) {
        self.in_flight = timed_out;
        let Err(e) = result else { return };
        if e.is_unrecoverable_error() || e.is_connection_dropped() {
            tracing::debug!(error = %e, "connection failed: it will be dropped at return");
            self.broken = true;
            if let Some(stamp) = &self.stamp {
                stamp.suspect();
            }
        } else if let Some(stamp) = &self.stamp
            && is_read_only_error(e)
        {
            // The node we took for the master was demoted: close this
            // connection and ask the sentinels.
            tracing::info!(
                addr = stamp.addr(),
                "READONLY from the node we took for the master: asking Sentinel"
            );
            self.broken = true;
            stamp.suspect();
        }
    }

    /// Before a command: while a planned failover is announced, waits for
    /// it (until the command's timeout at most: then it fails, not sent);
    /// a connection whose node is no longer the target's (the pool saw a
    /// failover) is replaced by a fresh one when it carries no session
    /// state; otherwise the command fails without being sent.
    async fn follow_target(&mut self, limit: Option<Duration>) -> RedisResult<()> {
        if let Some(stamp) = &self.stamp
            && stamp.target().is_fenced()
        {
            let target = Arc::clone(stamp.target());
            target
                .pass_fence(limit.map(|l| tokio::time::Instant::now() + l))
                .await?;
        }
        if !self.is_stale() {
            return Ok(());
        }
        self.broken = true;
        let moved = |why: &str| {
            RedisError::from((
                redis::ErrorKind::Io,
                "the Redis node changed (Sentinel failover)",
                why.to_owned(),
            ))
        };
        if self.carries_session() {
            return Err(moved(
                "this connection carries session state and was closed; check out a new one",
            ));
        }
        let Some(pool) = self.pool.as_deref() else {
            return Err(moved("this connection was closed"));
        };
        let deadline = self.retry.policy().deadline();
        let mut pauses = 0;
        match fresh_connection(pool, deadline, &mut pauses).await {
            Some(fresh) => {
                self.swap_in(fresh);
                Ok(())
            }
            None => Err(moved("no connection to the new node in time")),
        }
    }

    /// After a `READONLY` answer to a single command on a connection with
    /// no session state: the command was refused, not run, so it is sent
    /// once more on a fresh connection to the master the sentinels name.
    async fn resend_after_failover<R: Request>(
        &mut self,
        request: &R,
        limit: Option<Duration>,
    ) -> Option<RedisResult<R::Output>> {
        let stamp = self.stamp.clone()?;
        if self.carries_session() {
            return None;
        }
        let pool = self.pool.as_deref()?;
        let deadline = self.retry.policy().deadline();
        let target = stamp.target();
        // Ask now (one discovery for all callers), then connect.
        let _ = tokio::time::timeout_at(deadline, target.refresh(target.refreshes())).await;
        let mut pauses = 0;
        let fresh = fresh_connection(pool, deadline, &mut pauses).await?;
        self.swap_in(fresh);
        if self.stamp.as_ref().is_none_or(|s| s.addr() == stamp.addr()) {
            return None; // still the same node: nothing changed yet
        }
        self.in_flight = true;
        let (result, timed_out) = with_limit(limit, request.send(&mut self.conn)).await;
        self.note_result(&result, timed_out);
        Some(result)
    }

    /// How long to wait for the answer to `cmds`: `None` waits as redis's
    /// own connection settings say (or forever, for `BLPOP key 0`).
    fn answer_timeout<'c>(&self, cmds: impl Iterator<Item = &'c redis::Cmd>) -> Option<Duration> {
        let base = self.command_timeout?;
        let mut longest = base;
        for cmd in cmds {
            match commands::blocking_timeout(cmd) {
                Some(Blocking::Forever) => return None,
                Some(Blocking::For(t)) => longest = longest.max(t.saturating_add(base)),
                None => {}
            }
        }
        Some(longest)
    }

    /// Whether the connection carries state a fresh connection would lack
    /// (so it cannot be silently swapped for one).
    fn carries_session(&self) -> bool {
        self.session || self.needs_reset || self.exposed || self.in_multi
    }

    /// Whether the connection must not go back into the pool.
    pub(crate) fn unusable(&self) -> bool {
        self.broken || self.session || self.in_flight || self.in_multi
    }

    /// Whether a request that failed with `error` may be sent again on a
    /// fresh connection: the connection broke, the request only reads, the
    /// connection carries no session state a new one would lack, and retry
    /// is on.
    fn may_retry(
        &self,
        error: &RedisError,
        timed_out: bool,
        read_only: impl FnOnce() -> bool,
    ) -> bool {
        !timed_out
            && connection_broke(error)
            && !self.carries_session()
            && self.pool.is_some()
            && read_only()
            && self.retry.policy().enabled()
    }

    /// Sends `request` again on fresh connections (swapped in place: the
    /// checkout keeps its slot) until it succeeds, fails otherwise, or the
    /// policy's attempts or budget run out; then the last error.
    async fn retry<R: Request>(
        &mut self,
        request: &R,
        mut error: RedisError,
        limit: Option<Duration>,
    ) -> RedisResult<R::Output> {
        let policy = self.retry.policy();
        let deadline = policy.deadline();
        let mut sends = 1;
        let mut pauses = 0;
        while sends < policy.attempts {
            let Some(pool) = self.pool.as_deref() else {
                break;
            };
            let Some(fresh) = fresh_connection(pool, deadline, &mut pauses).await else {
                break;
            };
            self.swap_in(fresh);
            sends += 1;
            self.retry.retried();
            self.in_flight = true;
            let (result, timed_out) = with_limit(limit, request.send(&mut self.conn)).await;
            self.note_result(&result, timed_out);
            match result {
                Ok(value) => {
                    self.retry.recovered();
                    return Ok(value);
                }
                Err(e) if !timed_out && connection_broke(&e) && Instant::now() < deadline => {
                    error = e;
                }
                Err(e) => {
                    self.retry.exhausted();
                    return Err(e);
                }
            }
        }
        tracing::debug!(%error, sends, "read retry gave up");
        self.retry.exhausted();
        Err(error)
    }

    /// Replaces this connection with `fresh`, keeping the pool link.
    fn swap_in(&mut self, fresh: ManagedConnection) {
        let pool = self.pool.take();
        *self = fresh;
        self.pool = pool;
    }
}

/// Where a connection being retried gets a fresh one: its pool, through
/// the breaker and the create limiter (`Pool::create_replacement`).
/// Implemented in `connection.rs` for the pool's weak handle, so this module
/// need not know the manager.
pub(crate) trait Renew: Send + Sync {
    /// A fresh connection; `None` when the pool is gone.
    fn renew(&self) -> Renewal<'_>;
}

/// Why a renewal failed: any pool's `get()` error (this module sits below
/// the pool types, which name its connection).
type PoolError = pool_core::PoolError<redis::RedisError>;

/// What [`Renew::renew`] returns.
pub(crate) type Renewal<'a> = std::pin::Pin<
    Box<dyn std::future::Future<Output = Option<Result<ManagedConnection, PoolError>>> + Send + 'a>,
>;

/// A fresh connection from `pool` before `deadline`, pausing between tries;
/// while the breaker is open, waits for its next probe.
async fn fresh_connection(
    pool: &dyn Renew,
    deadline: Instant,
    pauses: &mut u32,
) -> Option<ManagedConnection> {
    loop {
        let now = Instant::now();
        if now >= deadline {
            return None;
        }
        let wait = match tokio::time::timeout(deadline - now, pool.renew()).await {
            Ok(Some(Ok(fresh))) => return Some(fresh),
            Ok(None) | Err(_) => return None,
            Ok(Some(Err(PoolError::Unavailable { retry_in, .. }))) => retry_in.max(pause(*pauses)),
            Ok(Some(Err(_))) => pause(*pauses),
        };
        *pauses += 1;
        tokio::time::sleep_until((now + wait).min(deadline)).await;
    }
}

impl ManagedConnection {
    /// The one send path of both request shapes: tracks what the commands
    /// do, bounds the wait for the answer, follows a failover's fence,
    /// retries a read on a broken connection, and sends a single command
    /// a demoted master refused to the new one.
    fn send_request<'a, R: Request + Send + 'a>(
        &'a mut self,
        request: R,
    ) -> redis::RedisFuture<'a, R::Output> {
        for cmd in request.commands() {
            self.note_command(cmd);
        }
        self.in_flight = true;
        let limit = self.answer_timeout(request.commands());
        Box::pin(async move {
            if self.stamp.is_some() {
                self.follow_target(limit).await?;
            }
            let (result, timed_out) = with_limit(limit, request.send(&mut self.conn)).await;
            self.note_result(&result, timed_out);
            match result {
                Err(e) if self.may_retry(&e, timed_out, || request.is_read_only()) => {
                    self.retry(&request, e, limit).await
                }
                Err(e) if request.is_single() && self.stamp.is_some() && is_read_only_error(&e) => {
                    match self.resend_after_failover(&request, limit).await {
                        Some(result) => result,
                        None => Err(e),
                    }
                }
                other => other,
            }
        })
    }
}

impl ConnectionLike for ManagedConnection {
    fn req_packed_command<'a>(
        &'a mut self,
        cmd: &'a redis::Cmd,
    ) -> redis::RedisFuture<'a, redis::Value> {
        self.send_request(Single(cmd))
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> redis::RedisFuture<'a, Vec<redis::Value>> {
        self.send_request(Batch {
            pipeline,
            offset,
            count,
        })
    }

    fn get_db(&self) -> i64 {
        self.conn.get_db()
    }
}

/// Whether Redis refused a write because the node is a replica.
fn is_read_only_error(e: &RedisError) -> bool {
    e.code() == Some("READONLY")
}

/// Waits for `fut` at most `limit`; `true` if it gave up waiting.
pub(crate) async fn with_limit<T>(
    limit: Option<Duration>,
    fut: impl std::future::Future<Output = RedisResult<T>>,
) -> (RedisResult<T>, bool) {
    match limit {
        None => (fut.await, false),
        Some(limit) => match tokio::time::timeout(limit, fut).await {
            Ok(result) => (result, false),
            Err(_) => (
                Err(RedisError::from(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("no answer from Redis within {} ms", limit.as_millis()),
                ))),
                true,
            ),
        },
    }
}
