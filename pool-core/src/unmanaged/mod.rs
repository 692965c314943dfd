//! deadpool's unmanaged pool (feature `unmanaged`): a pool of objects made
//! elsewhere and handed to it (`add`, `Pool::from(vec)`), for things that
//! are not connections: parsers, buffers, pre-built clients.
//!
//! Built on the managed pool's hand-off protocol (`handoff.rs`, the code the
//! loom models check), twice:
//! - `objects` holds the idle objects and the tasks waiting for one. It has
//!   no capacity to claim (its `free` is zero for good), so a getter is
//!   only ever handed an object: lock-free when one is idle and nobody
//!   waits, else first come, first served, with the returned object handed
//!   straight to the longest waiter, no lost wake-up, and a cancelled wait
//!   giving back whatever it was handed.
//! - `room` counts the free places (`max_size` minus the objects the pool
//!   holds) and queues the `add`s that wait for one, in the same way: it
//!   holds no values, only capacity.
//!
//! **Invariant:** `size` = objects added and not yet taken out; an `add`
//! holds a unit of `room` before it counts one, and a `take` (or `remove`)
//! counts one down before it gives its unit back, so `size <= max_size`.

mod config;
mod errors;

use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use crate::handle::Status;
use crate::handoff::{Claim, FastClaim, Grant, Handoff, WaitHandle};
use crate::store::Store;
use crate::sync::{AtomicUsize, HandleArc, Ordering};

pub use self::config::PoolConfig;
pub use self::errors::PoolError;

/// An object taken from a [`Pool`]; it goes back when dropped (or is
/// dropped, if the pool was closed meanwhile). It holds the pool's shared
/// part (not a weak reference, as deadpool's does: an upgrade and a weak
/// count are two more atomic operations per checkout), so a pool whose
/// handles were all dropped lives on until its last object is back, and
/// then drops every object.
#[must_use]
pub struct Object<T> {
    obj: Option<T>,
    pool: HandleArc<PoolInner<T>>,
}

impl<T> Object<T> {
    /// Takes the object out of the pool for good: the pool's size goes down
    /// by one and a waiting `add` may fill the place.
    #[must_use]
    pub fn take(mut this: Self) -> T {
        let obj = this
            .obj
            .take()
            .expect("the object is there until dropped or taken");
        this.pool.left();
        obj
    }
}

impl<T> Drop for Object<T> {
    fn drop(&mut self) {
        if let Some(obj) = self.obj.take() {
            self.pool.put_back(obj);
        }
    }
}

impl<T> Deref for Object<T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.obj
            .as_ref()
            .expect("the object is there until dropped or taken")
    }
}

impl<T> DerefMut for Object<T> {
    fn deref_mut(&mut self) -> &mut T {
        self.obj
            .as_mut()
            .expect("the object is there until dropped or taken")
    }
}

impl<T> AsRef<T> for Object<T> {
    fn as_ref(&self) -> &T {
        self
    }
}

impl<T> AsMut<T> for Object<T> {
    fn as_mut(&mut self) -> &mut T {
        self
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for Object<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Object").field("obj", &self.obj).finish()
    }
}

/// A pool of objects made elsewhere (deadpool's `unmanaged::Pool`). Cheap
/// to clone: clones share the pool.
pub struct Pool<T> {
    inner: HandleArc<PoolInner<T>>,
}

impl<T> Clone for Pool<T> {
    fn clone(&self) -> Self {
        Self {
            inner: HandleArc::clone(&self.inner),
        }
    }
}

impl<T> Default for Pool<T> {
    fn default() -> Self {
        Self::from_config(&PoolConfig::default())
    }
}

impl<T> std::fmt::Debug for Pool<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("config", &self.inner.config)
            .field("status", &self.status())
            .finish()
    }
}

struct PoolInner<T> {
    config: PoolConfig,
    objects: Handoff<T>,
    room: Handoff<()>,
    /// Objects the pool holds, idle or in use.
    size: AtomicUsize,
}

impl<T> PoolInner<T> {
    /// An object comes back: to the longest waiter, or idle; dropped if the
    /// pool is closed.
    fn put_back(&self, obj: T) {
        let unwanted = self.objects.put(obj);
        if !unwanted.is_empty() {
            self.size.fetch_sub(unwanted.len(), Ordering::Relaxed);
        }
    }

    /// An object left the pool for good: its place is free again.
    fn left(&self) {
        self.size.fetch_sub(1, Ordering::Relaxed);
        // Nothing is ever stored in `room`: no value comes back.
        let _ = self.room.release_slot(false);
    }

    /// A place was claimed: the object goes in.
    fn enter(&self, obj: T) {
        let _ = self.room.slot_filled();
        self.size.fetch_add(1, Ordering::Relaxed);
        self.put_back(obj);
    }
}

impl<T> Pool<T> {
    /// An empty pool for at most `max_size` objects.
    #[must_use]
    pub fn new(max_size: usize) -> Self {
        Self::from_config(&PoolConfig::new(max_size))
    }

    /// An empty pool with `config`.
    #[must_use]
    pub fn from_config(config: &PoolConfig) -> Self {
        Self {
            inner: HandleArc::new(PoolInner {
                config: *config,
                objects: Handoff::values_only(config.max_size, Store::default()),
                room: Handoff::new(config.max_size, 0, 0, Store::Mutex, crate::QueueMode::Fifo),
                size: AtomicUsize::new(0),
            }),
        }
    }

    /// An object, waiting for one as long as the configured timeout lets.
    ///
    /// # Errors
    /// [`PoolError::Timeout`], [`PoolError::Closed`], or
    /// [`PoolError::NoRuntimeSpecified`] for a timeout without a runtime.
    pub async fn get(&self) -> Result<Object<T>, PoolError> {
        self.timeout_get(self.inner.config.timeout).await
    }

    /// An object if one is idle now (and nobody waits for one).
    ///
    /// # Errors
    /// [`PoolError::Timeout`] if none is, [`PoolError::Closed`].
    pub fn try_get(&self) -> Result<Object<T>, PoolError> {
        match self.inner.objects.try_claim() {
            FastClaim::Got(Claim::Object(obj)) => Ok(self.object(obj)),
            FastClaim::Got(Claim::Slot) => unreachable!("the objects' side has no capacity"),
            FastClaim::MustWait => Err(PoolError::Timeout),
            FastClaim::Closed => Err(PoolError::Closed),
        }
    }

    /// An object, waiting at most `timeout` (`None`: as long as it takes;
    /// zero: not at all).
    ///
    /// # Errors
    /// As [`Pool::get`].
    pub async fn timeout_get(&self, timeout: Option<Duration>) -> Result<Object<T>, PoolError> {
        let inner = &*self.inner;
        let undo = |claim: Claim<T>| {
            if let Claim::Object(obj) = claim {
                inner.put_back(obj);
            }
        };
        match wait_bounded(&inner.objects, timeout, inner.config.runtime, &undo).await? {
            Claim::Object(obj) => Ok(self.object(obj)),
            Claim::Slot => unreachable!("the objects' side has no capacity"),
        }
    }

    fn object(&self, obj: T) -> Object<T> {
        Object {
            obj: Some(obj),
            pool: HandleArc::clone(&self.inner),
        }
    }

    /// Adds `object`, waiting for a place while the pool is full.
    ///
    /// # Errors
    /// The object back, with [`PoolError::Closed`].
    pub async fn add(&self, object: T) -> Result<(), (T, PoolError)> {
        let room = &self.inner.room;
        let undo = |_: Claim<()>| drop(room.release_slot(true));
        match wait_bounded(room, None, None, &undo).await {
            Ok(_) => {
                self.inner.enter(object);
                Ok(())
            }
            Err(e) => Err((object, e)),
        }
    }

    /// Adds `object` if there is a place now.
    ///
    /// # Errors
    /// The object back, with [`PoolError::Timeout`] (full) or
    /// [`PoolError::Closed`].
    pub fn try_add(&self, object: T) -> Result<(), (T, PoolError)> {
        match self.inner.room.try_claim() {
            FastClaim::Got(_) => {
                self.inner.enter(object);
                Ok(())
            }
            FastClaim::MustWait => Err((object, PoolError::Timeout)),
            FastClaim::Closed => Err((object, PoolError::Closed)),
        }
    }

    /// Takes an object out of the pool for good (waiting as `get` does).
    ///
    /// # Errors
    /// As [`Pool::get`].
    pub async fn remove(&self) -> Result<T, PoolError> {
        self.get().await.map(Object::take)
    }

    /// Takes an idle object out of the pool for good, without waiting.
    ///
    /// # Errors
    /// As [`Pool::try_get`].
    pub fn try_remove(&self) -> Result<T, PoolError> {
        self.try_get().map(Object::take)
    }

    /// Takes an object out of the pool for good, waiting at most `timeout`.
    ///
    /// # Errors
    /// As [`Pool::timeout_get`].
    pub async fn timeout_remove(&self, timeout: Option<Duration>) -> Result<T, PoolError> {
        self.timeout_get(timeout).await.map(Object::take)
    }

    /// Closes the pool: waiting `get`s and `add`s end with
    /// [`PoolError::Closed`] at once, later ones too; idle objects are
    /// dropped now, objects in use when they come back.
    pub fn close(&self) {
        let idle = self.inner.objects.close();
        self.inner.size.fetch_sub(idle.len(), Ordering::Relaxed);
        drop(idle);
        let _ = self.inner.room.close();
    }

    /// Whether [`Pool::close`] was called.
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.inner.objects.is_closed()
    }

    /// deadpool's four numbers. Eventually consistent: each is read on its
    /// own.
    #[must_use]
    pub fn status(&self) -> Status {
        let objects = self.inner.objects.counts();
        Status {
            max_size: self.inner.config.max_size,
            size: self.inner.size.load(Ordering::Relaxed),
            available: objects.idle,
            waiting: objects.waiting,
        }
    }
}

impl<T, I> From<I> for Pool<T>
where
    I: IntoIterator<Item = T>,
    <I as IntoIterator>::IntoIter: ExactSizeIterator,
{
    /// A full pool of exactly these objects (`max_size` is their number).
    fn from(iter: I) -> Self {
        let iter = iter.into_iter();
        let pool = Self::new(iter.len());
        for obj in iter {
            if pool.try_add(obj).is_err() {
                unreachable!("a pool sized for the objects has room for each");
            }
        }
        pool
    }
}

/// Waits for a grant of `handoff` within `timeout`, with deadpool's rules: a
/// zero timeout never waits; any other needs a runtime named.
async fn wait_bounded<V, U: Fn(Claim<V>)>(
    handoff: &Handoff<V>,
    timeout: Option<Duration>,
    runtime: Option<crate::Runtime>,
    undo: &U,
) -> Result<Claim<V>, PoolError> {
    match handoff.try_claim() {
        FastClaim::Got(claim) => return Ok(claim),
        FastClaim::Closed => return Err(PoolError::Closed),
        FastClaim::MustWait => {}
    }
    let waiting = Waiting {
        handoff,
        handle: handoff.waiter(),
        undo,
    };
    let grant = match timeout {
        None => waiting.await,
        Some(t) if t.is_zero() => return Err(PoolError::Timeout),
        Some(_) if runtime.is_none() => return Err(PoolError::NoRuntimeSpecified),
        Some(t) => tokio::time::timeout(t, waiting)
            .await
            .map_err(|_| PoolError::Timeout)?,
    };
    match grant {
        Grant::Claim(claim) => Ok(claim),
        Grant::Closed => Err(PoolError::Closed),
    }
}

/// A registered waiter. Dropped before its grant was taken (timeout,
/// cancellation): it leaves the queue, or gives back what it was handed.
struct Waiting<'a, V, U: Fn(Claim<V>)> {
    handoff: &'a Handoff<V>,
    handle: WaitHandle<V>,
    /// Gives back what was handed over after the wait was given up.
    undo: &'a U,
}

impl<V, U: Fn(Claim<V>)> Future for Waiting<'_, V, U> {
    type Output = Grant<V>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Grant<V>> {
        let this = self.get_mut();
        this.handoff.poll_wait(&mut this.handle, cx)
    }
}

impl<V, U: Fn(Claim<V>)> Drop for Waiting<'_, V, U> {
    fn drop(&mut self) {
        if !self.handle.is_pending() {
            return;
        }
        // Handed over after we gave up: it goes to the next in line.
        if let Some(Grant::Claim(claim)) = self.handoff.cancel_wait(&mut self.handle) {
            (self.undo)(claim);
        }
    }
}
