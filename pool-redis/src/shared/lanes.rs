//! The shared connections of one pool: lanes filled in order up to the
//! depth, each reconnected in the background after a failure, on a
//! jittered backoff.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};

use arc_swap::ArcSwapOption;
use pool_core::{Backoff, DEFAULT_BACKOFF_BASE, DEFAULT_BACKOFF_CAP};
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client, ErrorKind, RedisError, RedisResult};
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::retry::Retry;
use crate::target::{Stamp, Target};

/// The shared connections of one pool.
pub(crate) struct SharedSet {
    pub(super) client: Client,
    /// Sentinel's nodes, when they say where connections go.
    pub(super) target: Option<Arc<Target>>,
    pub(super) config: AsyncConnectionConfig,
    pub(super) depth: usize,
    pub(super) db: i64,
    pub(super) lanes: Box<[Lane]>,
    /// Woken whenever a connect ends, either way.
    pub(super) connect_ended: Notify,
    /// Failed connects so far: a waiter that sees it change knows its
    /// connect failed.
    pub(super) failures: AtomicU64,
    /// The last connect error, cleared by a successful connect.
    pub(super) last_error: Mutex<Option<RedisError>>,
    pub(super) backoff: Mutex<Reconnect>,
    pub(super) reconnects: AtomicU64,
    pub(super) connect_attempts: AtomicU64,
    /// The pool's read retry policy and counters.
    pub(super) retry: Arc<Retry>,
}

pub(super) struct Lane {
    pub(super) live: ArcSwapOption<Live>,
    pub(super) state: Mutex<LaneState>,
}

/// The reconnect schedule: pool-core's `Backoff` (at most 10 connects a
/// second, a server back within 200 ms after a short outage and 800 ms
/// after a long one), timed from the first failure of the current run.
pub(super) struct Reconnect {
    backoff: Backoff,
    failing_since: Option<Instant>,
}

#[derive(Default)]
pub(super) struct LaneState {
    pub(super) connecting: bool,
    /// No new connect before this (after a failure).
    pub(super) retry_at: Option<Instant>,
}

pub(super) struct Live {
    pub(super) conn: MultiplexedConnection,
    pub(super) lane: usize,
    pub(super) in_flight: AtomicUsize,
    /// Taken out of its lane after a failure: handles caching it must pick
    /// again.
    pub(super) retired: AtomicBool,
    /// The view of the target's nodes it was made for.
    pub(super) stamp: Option<Stamp>,
}

impl Live {
    /// Whether its node is no longer one of the target's.
    pub(super) fn is_stale(&self) -> bool {
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

    pub(super) fn live_lanes(&self) -> usize {
        self.lanes
            .iter()
            .filter(|l| l.live.load().is_some())
            .count()
    }

    /// The first live lane below `depth`, else the least loaded live lane
    /// (`None`: no lane is live). When no live lane is below `depth`, starts
    /// a background connect for the first empty lane.
    pub(super) fn pick(self: &Arc<Self>, current: Option<&Arc<Live>>) -> Option<Pick> {
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
    pub(super) fn connect_lane(self: &Arc<Self>, i: usize) {
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

    pub(super) fn connect_finished(
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
    pub(super) fn lane_failed(self: &Arc<Self>, live: &Arc<Live>, error: &RedisError) {
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
    pub(super) fn retire_former_node(self: &Arc<Self>, live: &Arc<Live>) {
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

    pub(super) fn last_error(&self) -> RedisError {
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

    pub(super) fn any_connecting(&self) -> bool {
        self.lanes
            .iter()
            .any(|l| l.state.lock().expect("lane state").connecting)
    }
}

pub(super) enum Pick {
    /// The handle's cached lane.
    Same,
    Other(Arc<Live>),
}

impl Pick {
    pub(super) fn of(live: &Arc<Live>, current: Option<&Arc<Live>>) -> Self {
        if current.is_some_and(|c| Arc::ptr_eq(c, live)) {
            Pick::Same
        } else {
            Pick::Other(Arc::clone(live))
        }
    }
}

/// Counts a request in its lane while it is in flight (also when the
/// request future is dropped before the answer).
pub(super) struct InFlight<'a>(&'a Live);

impl<'a> InFlight<'a> {
    pub(super) fn new(live: &'a Live) -> Self {
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
pub(super) fn note_failure<T>(set: &Arc<SharedSet>, live: &Arc<Live>, result: &RedisResult<T>) {
    if let Err(e) = result
        && (e.is_connection_dropped() || e.is_unrecoverable_error())
    {
        set.lane_failed(live, e);
    }
}
