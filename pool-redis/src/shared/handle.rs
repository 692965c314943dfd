//! The handle callers hold: picks a lane (staying on its cached one while
//! it is live and below the depth), waits at a planned failover's fence,
//! retries reads, and implements `ConnectionLike`.

use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use redis::aio::{ConnectionLike, MultiplexedConnection};
use redis::{RedisError, RedisResult};
use tokio::time::Instant;

use crate::retry::{Batch, Request, Single, connection_broke, pause};

use super::lanes::{InFlight, Live, Pick, SharedSet, note_failure};

/// A cheap, cloneable handle for plain commands on the pool's shared
/// multiplexed connections: no checkout, no per-command pool work beyond
/// choosing a connection. Implements `ConnectionLike`, so every
/// `AsyncCommands` call, `query_async` and pipeline works on it.
///
/// Commands that change or hold the connection's session (`WATCH`, a
/// `MULTI` outside a pipeline, `SELECT`, `SUBSCRIBE`, `MONITOR`, blocking
/// commands such as `BLPOP`) are refused with a client error naming the
/// command: they would affect every task sharing the connection. Use an
/// exclusive connection (`pool.get()`) or `pool.pubsub()` for those. An
/// atomic pipeline (`redis::pipe().atomic()`) is fine: it is written as
/// one unit.
#[derive(Clone)]
pub struct SharedConnection {
    set: Arc<SharedSet>,
    /// The lane this handle used last and its connection, cloned once:
    /// reused while the same lane is picked, so a command clones nothing.
    cached: Option<Cached>,
}

#[derive(Clone)]
struct Cached {
    live: Arc<Live>,
    conn: MultiplexedConnection,
}

impl SharedSet {
    /// A new handle on this set, with no lane cached yet.
    pub(crate) fn handle(self: &Arc<Self>) -> SharedConnection {
        SharedConnection {
            set: Arc::clone(self),
            cached: None,
        }
    }
}

impl std::fmt::Debug for SharedConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedConnection")
            .field("lanes", &self.set.lanes.len())
            .field("live", &self.set.live_lanes())
            .finish_non_exhaustive()
    }
}

impl SharedConnection {
    /// Points `self.cached` at a live lane (after a planned failover's
    /// fence, if one is raised: a lane of the old master would be stale
    /// once it lifts).
    async fn select(&mut self) -> RedisResult<()> {
        if let Some(target) = &self.set.target
            && target.is_fenced()
        {
            target.pass_fence(None).await?;
        }
        // Fast path: stay on the cached lane while it is live and below the
        // depth (two plain loads; a new pick only when it fills or dies).
        if let Some(c) = &self.cached
            && !c.live.retired.load(Ordering::Relaxed)
            && c.live.in_flight.load(Ordering::Relaxed) < self.set.depth
            && !c.live.is_stale()
        {
            return Ok(());
        }
        let pick = match self.set.pick(self.cached.as_ref().map(|c| &c.live)) {
            Some(pick) => pick,
            None => self.wait_for_a_lane().await?,
        };
        if let Pick::Other(live) = pick {
            let conn = live.conn.clone();
            self.cached = Some(Cached { live, conn });
        }
        Ok(())
    }

    /// No lane is live: wait for the connect in progress (started by
    /// `pick` if none was), or fail with the last connect error.
    async fn wait_for_a_lane(&self) -> RedisResult<Pick> {
        let mut failures_before = None;
        loop {
            let mut ended = pin!(self.set.connect_ended.notified());
            // Registered before looking, so a connect that ends between the
            // look and the wait still wakes us.
            ended.as_mut().enable();
            let seen = self.set.failures.load(Ordering::Acquire);
            if let Some(pick) = self.set.pick(self.cached.as_ref().map(|c| &c.live)) {
                return Ok(pick);
            }
            // No lane is live. Fail at once if every lane is backing off, or
            // if the connect we waited for failed.
            if failures_before.is_some_and(|before| before != seen) || !self.set.any_connecting() {
                return Err(self.set.last_error());
            }
            failures_before.get_or_insert(seen);
            ended.await;
        }
    }
}

impl SharedConnection {
    fn may_retry(&self, error: &RedisError, read_only: impl FnOnce() -> bool) -> bool {
        connection_broke(error) && read_only() && self.set.retry.policy().enabled()
    }

    /// Sends a read again on another live connection, or a fresh one,
    /// until it succeeds or the policy's attempts or budget run out (the
    /// failed lane was already taken out by `note_failure`).
    async fn retry<R: Request>(
        &mut self,
        mut error: RedisError,
        request: &R,
    ) -> RedisResult<R::Output> {
        let retry = self.set.retry.clone();
        let policy = retry.policy();
        let deadline = policy.deadline();
        let mut sends = 1;
        let mut pauses = 0;
        while sends < policy.attempts && Instant::now() < deadline {
            let remaining = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(remaining, self.select()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => {
                    // No live connection yet: wait for the reconnect.
                    let wait =
                        pause(pauses).min(deadline.saturating_duration_since(Instant::now()));
                    pauses += 1;
                    tokio::time::sleep(wait).await;
                    continue;
                }
                Err(_) => break,
            }
            let Cached { live, conn } = self.cached.as_mut().expect("selected");
            sends += 1;
            retry.retried();
            let result = {
                let _counted = InFlight::new(live);
                request.send(conn).await
            };
            note_failure(&self.set, live, &result);
            match result {
                Ok(value) => {
                    retry.recovered();
                    return Ok(value);
                }
                Err(e) if connection_broke(&e) => error = e,
                Err(e) => {
                    retry.exhausted();
                    return Err(e);
                }
            }
        }
        tracing::debug!(%error, sends, "shared read retry gave up");
        retry.exhausted();
        Err(error)
    }
}

impl SharedConnection {
    /// The one send path of both request shapes: refuses what shared mode
    /// cannot carry, picks a lane, counts the request in it while in
    /// flight, retires a lane whose connection broke, and retries a read.
    fn send_request<'a, R: Request + Send + 'a>(
        &'a mut self,
        request: R,
    ) -> redis::RedisFuture<'a, R::Output> {
        Box::pin(async move {
            request.refuse_shared()?;
            if let Err(e) = self.select().await {
                // Not sent: no connection to send it on.
                return match e {
                    e if self.may_retry(&e, || request.is_read_only()) => {
                        self.retry(e, &request).await
                    }
                    e => Err(e),
                };
            }
            let Cached { live, conn } = self.cached.as_mut().expect("selected");
            let result = {
                let _counted = InFlight::new(live);
                request.send(conn).await
            };
            note_failure(&self.set, live, &result);
            match result {
                Err(e) if self.may_retry(&e, || request.is_read_only()) => {
                    self.retry(e, &request).await
                }
                other => other,
            }
        })
    }
}

impl ConnectionLike for SharedConnection {
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
        self.set.db
    }
}
