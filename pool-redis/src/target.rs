//! Where a manager's connections go when Redis says so rather than the
//! config: the nodes Sentinel names (the master, or the replicas). A
//! [`Target`] holds the current view and an epoch that moves whenever the
//! set of nodes changes; every connection made for a view carries a
//! [`Stamp`], so one made for an old view is recognised and closed.
//!
//! Invariants:
//! - `epoch` equals the epoch of the view in `view` once that view is
//!   stored (it is stored first, then the epoch; see `install`).
//! - One discovery runs at a time (`refreshing`); a caller that asked
//!   while another discovery ran takes that one's answer instead of asking
//!   the sentinels again (`refreshes`).
//! - The listeners (the pool's idle connections, the shared connections)
//!   run after every change, never for the first view.
//! - While a fence is raised (a sentinel announced a planned failover), no
//!   command leaves through a stamped connection or a shared lane: each
//!   waits in `pass_fence` until the fence lifts (the promoted node
//!   adopted, or the failover aborted) or its bound runs out. A fence
//!   lifts within `FENCE_LIMIT` whatever happens.
//!
//! Without the `sentinel` feature nothing makes a target, so connections
//! carry no stamp and only the checks remain (one `None` test each).

#![cfg_attr(not(feature = "sentinel"), allow(dead_code))]

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use arc_swap::ArcSwapOption;
use redis::{Client, RedisResult};
use tokio::sync::Notify;
use tokio::time::Instant;

/// The longest a fence stays raised: a planned failover promotes its
/// replica in well under a second; past this the fence lifts and the
/// nodes are discovered again.
pub(crate) const FENCE_LIMIT: Duration = Duration::from_secs(5);

/// A node connections may go to.
#[derive(Clone)]
pub(crate) struct Node {
    /// `host:port`, as Sentinel names it.
    pub(crate) addr: Arc<str>,
    pub(crate) client: Client,
}

/// What a [`Discover`] returns.
pub(crate) type Discovery<'a> = Pin<Box<dyn Future<Output = RedisResult<Vec<Node>>> + Send + 'a>>;

/// How the current nodes are found (and checked) for a [`Target`].
pub(crate) trait Discover: Send + Sync + 'static {
    /// The nodes to use now, each checked to have the role asked for.
    /// Never empty on success.
    fn discover(&self) -> Discovery<'_>;
}

impl<D: Discover> Discover for Arc<D> {
    fn discover(&self) -> Discovery<'_> {
        (**self).discover()
    }
}

/// What starts a target's change notifications (see `on_first_use`).
type Starter = Box<dyn Fn(&Arc<Target>) + Send + Sync>;

/// Something to run after the nodes changed.
type Listener = Box<dyn Fn() + Send + Sync>;

/// The current nodes of a followed deployment (see the module docs).
pub(crate) struct Target {
    discover: Box<dyn Discover>,
    view: ArcSwapOption<View>,
    epoch: AtomicU64,
    refreshes: AtomicU64,
    refreshing: tokio::sync::Mutex<()>,
    /// A background refresh is pending (one at a time).
    suspected: AtomicBool,
    listeners: Mutex<Vec<Listener>>,
    /// Changes of the view so far (the first view not counted).
    changes: AtomicU64,
    /// Run once, at the first connection (in a runtime): starts whatever
    /// tells the target about changes (Sentinel's event watcher).
    on_first_use: OnceLock<Starter>,
    used: AtomicBool,
    /// A planned failover is under way: commands wait (see `pass_fence`).
    fenced: AtomicBool,
    /// The raised fence's number (0: none); fences are numbered so that a
    /// late lift of an earlier one does nothing.
    fence: Mutex<u64>,
    fences: AtomicU64,
    /// Woken when a fence lifts.
    unfenced: Notify,
}

struct View {
    epoch: u64,
    nodes: Vec<Node>,
    /// Round-robin cursor: new connections spread over the nodes.
    next: AtomicUsize,
}

impl View {
    fn serves(&self, addr: &str) -> bool {
        self.nodes.iter().any(|n| &*n.addr == addr)
    }
}

/// The view a connection was made for.
#[derive(Clone)]
pub(crate) struct Stamp {
    target: Arc<Target>,
    epoch: u64,
    addr: Arc<str>,
}

impl Stamp {
    /// Whether the connection's node is no longer one of the target's.
    /// One plain load while nothing changed.
    pub(crate) fn is_stale(&mut self) -> bool {
        // Relaxed: a caller that reads an old epoch uses the connection for
        // at most this one more command; the view itself is read through
        // the ArcSwap, which orders it.
        let now = self.target.epoch.load(Ordering::Relaxed);
        if now == self.epoch {
            return false;
        }
        match &*self.target.view.load() {
            Some(view) if view.serves(&self.addr) => {
                self.epoch = view.epoch;
                false
            }
            _ => true,
        }
    }

    /// [`Stamp::is_stale`] without remembering a newer view that still
    /// serves the node (for a stamp shared by many tasks).
    pub(crate) fn no_longer_served(&self) -> bool {
        // Relaxed: as in `is_stale`.
        self.target.epoch.load(Ordering::Relaxed) != self.epoch
            && !self
                .target
                .view
                .load()
                .as_ref()
                .is_some_and(|view| view.serves(&self.addr))
    }

    /// Tells the target its connection failed in a way that suggests the
    /// node moved (a `READONLY` answer, a dropped connection).
    pub(crate) fn suspect(&self) {
        self.target.suspect();
    }

    pub(crate) fn target(&self) -> &Arc<Target> {
        &self.target
    }

    pub(crate) fn addr(&self) -> &str {
        &self.addr
    }
}

impl Target {
    pub(crate) fn new(discover: impl Discover) -> Arc<Self> {
        Arc::new(Self {
            discover: Box::new(discover),
            view: ArcSwapOption::empty(),
            epoch: AtomicU64::new(0),
            refreshes: AtomicU64::new(0),
            refreshing: tokio::sync::Mutex::new(()),
            suspected: AtomicBool::new(false),
            listeners: Mutex::new(Vec::new()),
            changes: AtomicU64::new(0),
            on_first_use: OnceLock::new(),
            used: AtomicBool::new(false),
            fenced: AtomicBool::new(false),
            fence: Mutex::new(0),
            fences: AtomicU64::new(0),
            unfenced: Notify::new(),
        })
    }

    /// Stops commands from leaving (a sentinel announced that it selected
    /// a replica to promote). Returns the fence's number and whether it is
    /// new (`false`: one was already raised, and that one is returned).
    pub(crate) fn raise_fence(&self) -> (u64, bool) {
        let mut fence = self.fence.lock().expect("fence");
        if *fence != 0 {
            return (*fence, false);
        }
        *fence = self.fences.fetch_add(1, Ordering::Relaxed) + 1;
        // Relaxed: the flag only makes commands wait; nothing is published
        // with it. A command that misses it by a hair was in flight anyway.
        self.fenced.store(true, Ordering::Relaxed);
        tracing::info!(
            fence = *fence,
            "planned failover announced: commands wait for the new master"
        );
        (*fence, true)
    }

    /// Lifts fence `number` if it is still the raised one; waiting commands
    /// go on (to the adopted node, or the old one if the failover was
    /// aborted).
    pub(crate) fn lift_fence(&self, number: u64) {
        let mut fence = self.fence.lock().expect("fence");
        if *fence != number || number == 0 {
            return;
        }
        *fence = 0;
        // Release: pairs with the Acquire in `pass_fence`; a command that
        // sees the fence down also sees the view the lifter installed
        // before lifting it, so its stamp is found stale and it moves.
        self.fenced.store(false, Ordering::Release);
        drop(fence);
        self.unfenced.notify_waiters();
        tracing::info!(fence = number, "failover fence lifted");
    }

    /// The raised fence's number (0: none).
    pub(crate) fn current_fence(&self) -> u64 {
        *self.fence.lock().expect("fence")
    }

    /// Whether a fence is raised. Acquire: as in `pass_fence`, a caller
    /// that sees it down after a lift sees the view installed before it.
    pub(crate) fn is_fenced(&self) -> bool {
        self.fenced.load(Ordering::Acquire)
    }

    /// Waits while a fence is raised, until `deadline` at most (then an
    /// error naming the failover: the command was not sent). One load when
    /// no fence is raised.
    pub(crate) async fn pass_fence(&self, deadline: Option<Instant>) -> RedisResult<()> {
        // Acquire: see `lift_fence`.
        if !self.fenced.load(Ordering::Acquire) {
            return Ok(());
        }
        let deadline = deadline.unwrap_or_else(|| Instant::now() + FENCE_LIMIT);
        loop {
            let mut lifted = std::pin::pin!(self.unfenced.notified());
            // Registered before looking, so a lift between the look and the
            // wait still wakes us.
            lifted.as_mut().enable();
            if !self.fenced.load(Ordering::Acquire) {
                return Ok(());
            }
            if tokio::time::timeout_at(deadline, lifted).await.is_err() {
                return Err(redis::RedisError::from((
                    redis::ErrorKind::Io,
                    "Sentinel failover in progress",
                    "the command waited for the new master past its timeout and was not sent"
                        .to_owned(),
                )));
            }
        }
    }

    /// Sets what runs at the first connection (see `on_first_use`).
    pub(crate) fn on_first_use(&self, start: impl Fn(&Arc<Target>) + Send + Sync + 'static) {
        let _ = self.on_first_use.set(Box::new(start));
    }

    /// A node for a new connection (discovering the nodes first if none
    /// are known), with the stamp the connection carries.
    pub(crate) async fn node(self: &Arc<Self>) -> RedisResult<(Node, Stamp)> {
        if !self.used.load(Ordering::Relaxed)
            && !self.used.swap(true, Ordering::Relaxed)
            && let Some(start) = self.on_first_use.get()
        {
            start(self);
        }
        let view = match self.view.load_full() {
            Some(view) => view,
            None => {
                self.refresh(self.refreshes()).await?;
                self.view.load_full().ok_or_else(|| {
                    redis::RedisError::from((
                        redis::ErrorKind::Io,
                        "no Redis node known",
                        "discovery found none".to_owned(),
                    ))
                })?
            }
        };
        let i = view.next.fetch_add(1, Ordering::Relaxed) % view.nodes.len();
        let node = view.nodes[i].clone();
        let stamp = Stamp {
            target: Arc::clone(self),
            epoch: view.epoch,
            addr: Arc::clone(&node.addr),
        };
        Ok((node, stamp))
    }

    /// Discoveries completed so far: pass it to [`Target::refresh`].
    pub(crate) fn refreshes(&self) -> u64 {
        // Acquire pairs with the Release in `refresh`: a caller that sees
        // the count of a discovery also sees the view it installed.
        self.refreshes.load(Ordering::Acquire)
    }

    /// Asks for the nodes again, unless a discovery completed since the
    /// caller read `seen` from [`Target::refreshes`] (then its answer is
    /// as fresh as ours would be).
    pub(crate) async fn refresh(&self, seen: u64) -> RedisResult<()> {
        let _one_at_a_time = self.refreshing.lock().await;
        if self.refreshes() != seen {
            return Ok(());
        }
        let result = self.discover.discover().await;
        if let Ok(nodes) = &result {
            self.install(nodes.clone());
        }
        // Release: see `refreshes`.
        self.refreshes.fetch_add(1, Ordering::Release);
        result.map(|_| ())
    }

    /// Uses `nodes` from now on, found by other means than a discovery (a
    /// promotion announced by a sentinel).
    pub(crate) async fn adopt(&self, nodes: Vec<Node>) {
        let _one_at_a_time = self.refreshing.lock().await;
        self.install(nodes);
        // Release: see `refreshes`.
        self.refreshes.fetch_add(1, Ordering::Release);
    }

    /// Starts a refresh in the background unless one is pending. Outside
    /// a tokio runtime it does nothing (the next connection asks).
    pub(crate) fn suspect(self: &Arc<Self>) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if self.suspected.swap(true, Ordering::AcqRel) {
            return;
        }
        let seen = self.refreshes();
        let target = Arc::downgrade(self);
        runtime.spawn(async move {
            if let Some(target) = target.upgrade() {
                if let Err(e) = target.refresh(seen).await {
                    tracing::warn!(error = %e, "Redis node discovery failed");
                }
                target.suspected.store(false, Ordering::Release);
            }
        });
    }

    /// Runs `listener` after every change of the nodes.
    pub(crate) fn on_change(&self, listener: impl Fn() + Send + Sync + 'static) {
        self.listeners
            .lock()
            .expect("listeners")
            .push(Box::new(listener));
    }

    /// How many times the nodes changed.
    pub(crate) fn changes(&self) -> u64 {
        self.changes.load(Ordering::Relaxed)
    }

    /// The current nodes' addresses (empty before the first discovery).
    pub(crate) fn addrs(&self) -> Vec<Arc<str>> {
        self.view
            .load()
            .as_ref()
            .map(|v| v.nodes.iter().map(|n| Arc::clone(&n.addr)).collect())
            .unwrap_or_default()
    }

    fn install(&self, nodes: Vec<Node>) {
        let old = self.view.load_full();
        let same = old.as_ref().is_some_and(|old| {
            old.nodes.len() == nodes.len() && nodes.iter().all(|n| old.serves(&n.addr))
        });
        if same {
            return;
        }
        let epoch = old.as_ref().map_or(1, |v| v.epoch + 1);
        let addrs: Vec<&str> = nodes.iter().map(|n| &*n.addr).collect();
        tracing::info!(?addrs, epoch, "Redis nodes in use");
        let new = Arc::new(View {
            epoch,
            nodes,
            next: AtomicUsize::new(0),
        });
        self.view.store(Some(new));
        // Release: a reader that sees this epoch and then loads the view
        // sees the view stored above (or a newer one).
        self.epoch.store(epoch, Ordering::Release);
        if old.is_some() {
            self.changes.fetch_add(1, Ordering::Relaxed);
            for listener in self.listeners.lock().expect("listeners").iter() {
                listener();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{Discover, Discovery, Target};

    struct NoNodes;

    impl Discover for NoNodes {
        fn discover(&self) -> Discovery<'_> {
            Box::pin(async { Ok(Vec::new()) })
        }
    }

    /// A raised fence holds commands until it is lifted (the failover
    /// done or aborted), and only its own number lifts it.
    #[tokio::test]
    async fn a_fence_holds_commands_until_its_own_lift() {
        let target = Target::new(NoNodes);
        assert!(target.pass_fence(None).await.is_ok(), "no fence: no wait");
        let (number, new) = target.raise_fence();
        assert!(new);
        assert_eq!(target.raise_fence(), (number, false), "one fence at a time");
        let waiting = tokio::spawn({
            let target = target.clone();
            async move { target.pass_fence(None).await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiting.is_finished(), "a command passed a raised fence");
        target.lift_fence(number + 1);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(
            !waiting.is_finished(),
            "another fence's lift let it through"
        );
        target.lift_fence(number);
        tokio::time::timeout(Duration::from_secs(1), waiting)
            .await
            .expect("the lift woke the waiting command")
            .unwrap()
            .unwrap();
        assert_eq!(target.current_fence(), 0);
    }

    /// A command that waits past its own deadline fails, naming the
    /// failover, and was not sent.
    #[tokio::test]
    async fn a_command_waits_no_longer_than_its_deadline() {
        let target = Target::new(NoNodes);
        target.raise_fence();
        let deadline = tokio::time::Instant::now() + Duration::from_millis(50);
        let err = target.pass_fence(Some(deadline)).await.unwrap_err();
        assert!(
            err.to_string().contains("Sentinel failover in progress"),
            "{err}"
        );
    }
}
