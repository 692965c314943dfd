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

use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};

use arc_swap::ArcSwapOption;
use pool_core::{Backoff, DEFAULT_BACKOFF_BASE, DEFAULT_BACKOFF_CAP};
use redis::aio::{ConnectionLike, MultiplexedConnection};
use redis::{AsyncConnectionConfig, Client, ErrorKind, RedisError, RedisResult};
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::commands::read_only::{is_read_only, pipeline_is_read_only};
use crate::commands::shared_policy::{refuse_pipeline, refuse_single};
use crate::retry::{Batch, Request, Retry, Single, connection_broke, pause};
use crate::target::{Stamp, Target};

/// Requests in flight on a shared connection before the next one is used.
/// Large, because on 2 cores (client and server together) every extra lane cost
/// throughput (fewer requests per write and read): with 200 tasks, depth 64
/// (4 lanes) ran at 0.66x one multiplexed connection, 128 at 0.74x, 256
/// (one lane) at 0.98x. Machines with more cores may gain from a smaller
/// depth ([`Manager::shared_depth`](crate::Manager::shared_depth)); see
/// docs/benchmarks.md ("shared mode").
pub const DEFAULT_SHARED_DEPTH: usize = 256;

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

impl std::fmt::Debug for SharedConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedConnection")
            .field("lanes", &self.set.lanes.len())
            .field("live", &self.set.live_lanes())
            .finish_non_exhaustive()
    }
}

/// The shared connections of one pool.
pub(crate) struct SharedSet {
    client: Client,
    /// Sentinel's nodes, when they say where connections go.
    target: Option<Arc<Target>>,
    config: AsyncConnectionConfig,
    depth: usize,
    db: i64,
    lanes: Box<[Lane]>,
    /// Woken whenever a connect ends, either way.
    connect_ended: Notify,
    /// Failed connects so far: a waiter that sees it change knows its
    /// connect failed.
    failures: AtomicU64,
    /// The last connect error, cleared by a successful connect.
    last_error: Mutex<Option<RedisError>>,
    backoff: Mutex<Reconnect>,
    reconnects: AtomicU64,
    connect_attempts: AtomicU64,
    /// The pool's read retry policy and counters.
    retry: Arc<Retry>,
}

struct Lane {
    live: ArcSwapOption<Live>,
    state: Mutex<LaneState>,
}

/// The reconnect schedule: pool-core's `Backoff` (at most 10 connects a
/// second, a server back within 200 ms after a short outage and 800 ms
/// after a long one), timed from the first failure of the current run.
struct Reconnect {
    backoff: Backoff,
    failing_since: Option<Instant>,
}

#[derive(Default)]
struct LaneState {
    connecting: bool,
    /// No new connect before this (after a failure).
    retry_at: Option<Instant>,
}

struct Live {
    conn: MultiplexedConnection,
    lane: usize,
    in_flight: AtomicUsize,
    /// Taken out of its lane after a failure: handles caching it must pick
    /// again.
    retired: AtomicBool,
    /// The view of the target's nodes it was made for.
    stamp: Option<Stamp>,
}

impl Live {
    /// Whether its node is no longer one of the target's.
    fn is_stale(&self) -> bool {
        self.stamp.as_ref().is_some_and(Stamp::no_longer_served)
    }
}

/// How many shared connections a pool has, for stats.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct SharedStats {
    /// Lanes with a live connection.
    pub connections: usize,
    /// Requests in flight over all of them.
    pub in_flight: usize,
    /// Connections made to replace a dead one.
    pub reconnects: u64,
    /// Connection attempts so far, failed ones included.
    pub connect_attempts: u64,
}

impl SharedSet {
    pub(crate) fn new(
        client: Client,
        target: Option<Arc<Target>>,
        config: AsyncConnectionConfig,
        max_connections: usize,
        depth: usize,
        retry: Arc<Retry>,
    ) -> Self {
        let db = client.get_connection_info().redis_settings().db();
        Self {
            client,
            target,
            config,
            depth: depth.max(1),
            db,
            lanes: (0..max_connections.max(1))
                .map(|_| Lane {
                    live: ArcSwapOption::empty(),
                    state: Mutex::new(LaneState::default()),
                })
                .collect(),
            connect_ended: Notify::new(),
            failures: AtomicU64::new(0),
            last_error: Mutex::new(None),
            backoff: Mutex::new(Reconnect {
                backoff: Backoff::new(DEFAULT_BACKOFF_BASE, DEFAULT_BACKOFF_CAP),
                failing_since: None,
            }),
            reconnects: AtomicU64::new(0),
            connect_attempts: AtomicU64::new(0),
            retry,
        }
    }

    pub(crate) fn handle(self: &Arc<Self>) -> SharedConnection {
        SharedConnection {
            set: Arc::clone(self),
            cached: None,
        }
    }

    pub(crate) fn stats(&self) -> SharedStats {
        let mut stats = SharedStats {
            reconnects: self.reconnects.load(Ordering::Relaxed),
            connect_attempts: self.connect_attempts.load(Ordering::Relaxed),
            ..SharedStats::default()
        };
        for lane in &*self.lanes {
            if let Some(live) = &*lane.live.load() {
                stats.connections += 1;
                stats.in_flight += live.in_flight.load(Ordering::Relaxed);
            }
        }
        stats
    }

    fn live_lanes(&self) -> usize {
        self.lanes
            .iter()
            .filter(|l| l.live.load().is_some())
            .count()
    }

    /// The first live lane below `depth`, else the least loaded live lane
    /// (`None`: no lane is live). When no live lane is below `depth`, starts
    /// a background connect for the first empty lane.
    fn pick(self: &Arc<Self>, current: Option<&Arc<Live>>) -> Option<Pick> {
        let mut least: Option<(usize, usize)> = None; // (in flight, lane)
        let mut first_empty = None;
        for (i, lane) in self.lanes.iter().enumerate() {
            let guard = lane.live.load();
            let Some(live) = &*guard else {
                first_empty.get_or_insert(i);
                continue;
            };
            if live.is_stale() {
                // Connected for a former view (its connect finished after
                // the change was handled).
                self.retire_former_node(live);
                continue;
            }
            let n = live.in_flight.load(Ordering::Relaxed);
            if n < self.depth {
                return Some(Pick::of(live, current));
            }
            if least.is_none_or(|(m, _)| n < m) {
                least = Some((n, i));
            }
        }
        if let Some(i) = first_empty {
            self.connect_lane(i);
        }
        let (_, i) = least?;
        let guard = self.lanes[i].live.load();
        guard.as_ref().map(|live| Pick::of(live, current))
    }

    /// Starts connecting lane `i` in the background unless a connect is
    /// running or the lane is backing off.
    fn connect_lane(self: &Arc<Self>, i: usize) {
        {
            let mut state = self.lanes[i].state.lock().expect("lane state");
            if state.connecting || state.retry_at.is_some_and(|at| Instant::now() < at) {
                return;
            }
            state.connecting = true;
        }
        self.connect_attempts.fetch_add(1, Ordering::Relaxed);
        let set = Arc::downgrade(self);
        let client = self.client.clone();
        let target = self.target.clone();
        let config = self.config.clone();
        tokio::spawn(async move {
            let result = async {
                let (client, stamp) = match target {
                    None => (client, None),
                    Some(target) => {
                        let (node, stamp) = target.node().await?;
                        (node.client, Some(stamp))
                    }
                };
                let conn = client
                    .get_multiplexed_async_connection_with_config(&config)
                    .await;
                if let (Err(_), Some(stamp)) = (&conn, &stamp) {
                    stamp.suspect();
                }
                Ok((conn?, stamp))
            }
            .await;
            if let Some(set) = Weak::upgrade(&set) {
                set.connect_finished(i, result);
            }
        });
    }

    fn connect_finished(
        &self,
        i: usize,
        result: RedisResult<(MultiplexedConnection, Option<Stamp>)>,
    ) {
        let lane = &self.lanes[i];
        match result {
            Ok((conn, stamp)) => {
                tracing::debug!(lane = i, "shared connection up");
                lane.live.store(Some(Arc::new(Live {
                    conn,
                    lane: i,
                    in_flight: AtomicUsize::new(0),
                    retired: AtomicBool::new(false),
                    stamp,
                })));
                *self.last_error.lock().expect("last error") = None;
                self.backoff.lock().expect("backoff").failing_since = None;
                *lane.state.lock().expect("lane state") = LaneState::default();
            }
            Err(e) => {
                let delay = {
                    let mut reconnect = self.backoff.lock().expect("backoff");
                    let since = *reconnect.failing_since.get_or_insert_with(Instant::now);
                    reconnect.backoff.next_delay(since.elapsed())
                };
                tracing::warn!(lane = i, error = %e, retry_in = ?delay, "shared connection failed to connect");
                *self.last_error.lock().expect("last error") = Some(e);
                // Release pairs with the waiter's Acquire load: it sees the
                // error stored above once it sees the new count.
                self.failures.fetch_add(1, Ordering::Release);
                *lane.state.lock().expect("lane state") = LaneState {
                    connecting: false,
                    retry_at: Some(Instant::now() + delay),
                };
            }
        }
        self.connect_ended.notify_waiters();
    }

    /// A command on `live` failed so that its connection is unusable: take
    /// it out (once) and start a replacement.
    fn lane_failed(self: &Arc<Self>, live: &Arc<Live>, error: &RedisError) {
        live.retired.store(true, Ordering::Relaxed);
        let lane = &self.lanes[live.lane];
        let prev = lane.live.compare_and_swap(Arc::as_ptr(live), None);
        let was_current = prev.as_ref().is_some_and(|p| Arc::ptr_eq(p, live));
        if was_current {
            tracing::warn!(lane = live.lane, %error, "shared connection lost; reconnecting");
            self.reconnects.fetch_add(1, Ordering::Relaxed);
            self.connect_lane(live.lane);
        }
    }

    /// The target's nodes changed: lanes connected to a node that is no
    /// longer one of them are taken out now and reconnected, and lanes
    /// backing off after failed connects (to the former node) connect now.
    pub(crate) fn target_changed(self: &Arc<Self>) {
        self.backoff.lock().expect("backoff").failing_since = None;
        for (i, lane) in self.lanes.iter().enumerate() {
            match lane.live.load_full() {
                Some(live) if live.is_stale() => self.retire_former_node(&live),
                Some(_) => {}
                None => {
                    let backing_off = {
                        let mut state = lane.state.lock().expect("lane state");
                        state.retry_at.take().is_some()
                    };
                    if backing_off {
                        self.connect_lane(i);
                    }
                }
            }
        }
    }

    /// Takes out `live`, whose node is no longer one of the target's, and
    /// tells its connection to close (`QUIT`), so the node stops receiving
    /// this pool's commands even from handles that cached it; then
    /// reconnects the lane.
    fn retire_former_node(self: &Arc<Self>, live: &Arc<Live>) {
        live.retired.store(true, Ordering::Relaxed);
        let lane = &self.lanes[live.lane];
        let prev = lane.live.compare_and_swap(Arc::as_ptr(live), None);
        if prev.as_ref().is_some_and(|p| Arc::ptr_eq(p, live)) {
            tracing::info!(
                lane = live.lane,
                "shared connection to a former node closed"
            );
            let mut conn = live.conn.clone();
            tokio::spawn(async move {
                let _: RedisResult<()> = redis::cmd("QUIT").query_async(&mut conn).await;
            });
            self.connect_lane(live.lane);
        }
    }

    fn last_error(&self) -> RedisError {
        self.last_error
            .lock()
            .expect("last error")
            .clone()
            .unwrap_or_else(|| {
                RedisError::from((
                    ErrorKind::Io,
                    "no shared Redis connection is up",
                    "a reconnect is pending".to_owned(),
                ))
            })
    }

    fn any_connecting(&self) -> bool {
        self.lanes
            .iter()
            .any(|l| l.state.lock().expect("lane state").connecting)
    }
}

enum Pick {
    /// The handle's cached lane.
    Same,
    Other(Arc<Live>),
}

impl Pick {
    fn of(live: &Arc<Live>, current: Option<&Arc<Live>>) -> Self {
        if current.is_some_and(|c| Arc::ptr_eq(c, live)) {
            Pick::Same
        } else {
            Pick::Other(Arc::clone(live))
        }
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

/// Counts a request in its lane while it is in flight (also when the
/// request future is dropped before the answer).
struct InFlight<'a>(&'a Live);

impl<'a> InFlight<'a> {
    fn new(live: &'a Live) -> Self {
        live.in_flight.fetch_add(1, Ordering::Relaxed);
        Self(live)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A request's failure that leaves its connection unusable retires it.
fn note_failure<T>(set: &Arc<SharedSet>, live: &Arc<Live>, result: &RedisResult<T>) {
    if let Err(e) = result
        && (e.is_connection_dropped() || e.is_unrecoverable_error())
    {
        set.lane_failed(live, e);
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

impl ConnectionLike for SharedConnection {
    fn req_packed_command<'a>(
        &'a mut self,
        cmd: &'a redis::Cmd,
    ) -> redis::RedisFuture<'a, redis::Value> {
        Box::pin(async move {
            refuse_single(cmd)?;
            if let Err(e) = self.select().await {
                // Not sent: no connection to send it on.
                return match e {
                    e if self.may_retry(&e, || is_read_only(cmd)) => {
                        self.retry(e, &Single(cmd)).await
                    }
                    e => Err(e),
                };
            }
            let Cached { live, conn } = self.cached.as_mut().expect("selected");
            let result = {
                let _counted = InFlight::new(live);
                conn.send_packed_command(cmd).await
            };
            note_failure(&self.set, live, &result);
            match result {
                Err(e) if self.may_retry(&e, || is_read_only(cmd)) => {
                    self.retry(e, &Single(cmd)).await
                }
                other => other,
            }
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> redis::RedisFuture<'a, Vec<redis::Value>> {
        Box::pin(async move {
            refuse_pipeline(pipeline)?;
            if let Err(e) = self.select().await {
                // Not sent: no connection to send it on.
                return match e {
                    e if self.may_retry(&e, || pipeline_is_read_only(pipeline)) => {
                        let batch = Batch {
                            pipeline,
                            offset,
                            count,
                        };
                        self.retry(e, &batch).await
                    }
                    e => Err(e),
                };
            }
            let Cached { live, conn } = self.cached.as_mut().expect("selected");
            let result = {
                let _counted = InFlight::new(live);
                conn.send_packed_commands(pipeline, offset, count).await
            };
            note_failure(&self.set, live, &result);
            match result {
                Err(e) if self.may_retry(&e, || pipeline_is_read_only(pipeline)) => {
                    let batch = Batch {
                        pipeline,
                        offset,
                        count,
                    };
                    self.retry(e, &batch).await
                }
                other => other,
            }
        })
    }

    fn get_db(&self) -> i64 {
        self.set.db
    }
}
