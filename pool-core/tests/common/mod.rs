//! Mock managers for pool logic tests. They model a backend's behaviour
//! (slow, failing, broken objects), never what a real server does.
#![allow(dead_code)] // each test file uses a different subset

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use pool_core::{Manager, Metrics, Pool, RecycleError, RecycleResult};

pub mod model;

/// An object that tells its manager when it dies, so tests can count the
/// live ones.
#[derive(Debug)]
pub struct Conn {
    pub id: usize,
    pub broken: bool,
    live: Arc<Counters>,
    /// Still counted in `live`: false once the test took it out of the pool.
    counted: bool,
}

impl Conn {
    /// Stops counting this object as held by the pool. Call it *before*
    /// `Object::take`: take frees the slot at once, and on a multi-threaded
    /// runtime another task may create into it before this object drops, so
    /// counting it until its drop would show one more than the pool holds.
    pub fn leave_pool(&mut self) {
        if std::mem::take(&mut self.counted) {
            self.live.live_ids.lock().unwrap().remove(&self.id);
            self.live.live.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.leave_pool();
    }
}

#[derive(Debug, Default)]
pub struct Counters {
    pub live: AtomicUsize,
    /// Ids of the objects alive now.
    pub live_ids: std::sync::Mutex<std::collections::BTreeSet<usize>>,
    pub max_live: AtomicUsize,
    pub created: AtomicUsize,
    pub create_calls: AtomicUsize,
    pub recycled: AtomicUsize,
    pub detached: AtomicUsize,
}

/// A configurable mock backend.
#[derive(Debug, Default)]
pub struct Mock {
    pub counters: Arc<Counters>,
    /// Time `create` takes (on tokio's clock; tests run on paused time).
    pub create_delay: Duration,
    /// Time `recycle` takes.
    pub recycle_delay: Duration,
    pub fail_create: AtomicBool,
    pub fail_recycle: AtomicBool,
    /// `create` never finishes.
    pub hang_create: AtomicBool,
    /// `recycle` never finishes.
    pub hang_recycle: AtomicBool,
}

#[derive(Debug, PartialEq, Eq)]
pub struct MockError(pub &'static str);

impl std::fmt::Display for MockError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl Mock {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn created(&self) -> usize {
        self.counters.created.load(Ordering::SeqCst)
    }

    pub fn live(&self) -> usize {
        self.counters.live.load(Ordering::SeqCst)
    }

    pub fn max_live(&self) -> usize {
        self.counters.max_live.load(Ordering::SeqCst)
    }

    pub fn detached(&self) -> usize {
        self.counters.detached.load(Ordering::SeqCst)
    }
}

impl Manager for Mock {
    type Type = Conn;
    type Error = MockError;

    async fn create(&self) -> Result<Conn, MockError> {
        self.counters.create_calls.fetch_add(1, Ordering::SeqCst);
        if !self.create_delay.is_zero() {
            tokio::time::sleep(self.create_delay).await;
        }
        if self.hang_create.load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        if self.fail_create.load(Ordering::SeqCst) {
            return Err(MockError("create refused"));
        }
        let id = self.counters.created.fetch_add(1, Ordering::SeqCst);
        self.counters.live_ids.lock().unwrap().insert(id);
        let live = self.counters.live.fetch_add(1, Ordering::SeqCst) + 1;
        self.counters.max_live.fetch_max(live, Ordering::SeqCst);
        Ok(Conn {
            id,
            broken: false,
            live: self.counters.clone(),
            counted: true,
        })
    }

    async fn recycle(&self, _: &mut Conn, _: &Metrics) -> RecycleResult<MockError> {
        if !self.recycle_delay.is_zero() {
            tokio::time::sleep(self.recycle_delay).await;
        }
        if self.hang_recycle.load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        if self.fail_recycle.load(Ordering::SeqCst) {
            return Err(RecycleError::Backend(MockError("recycle refused")));
        }
        self.counters.recycled.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    fn detach(&self, _: &mut Conn) {
        self.counters.detached.fetch_add(1, Ordering::SeqCst);
    }

    fn is_broken(&self, conn: &mut Conn) -> bool {
        conn.broken
    }
}

pub type MockPool = Pool<Mock>;

pub fn pool(max_size: usize) -> MockPool {
    Pool::builder(Mock::new())
        .max_size(max_size)
        .build()
        .unwrap()
}

pub fn pool_with(mock: Mock, max_size: usize) -> MockPool {
    Pool::builder(mock).max_size(max_size).build().unwrap()
}

/// A pool with no background task (no idle timeout, no lifetime), so
/// only the test's own operations change it.
pub fn quiet_pool(mock: Mock, max_size: usize) -> MockPool {
    Pool::builder(mock)
        .max_size(max_size)
        .idle_timeout(None)
        .max_lifetime(None)
        .build()
        .unwrap()
}

/// Checks out `n` objects one after another.
pub async fn get_n(pool: &MockPool, n: usize) -> Vec<pool_core::Object<Mock>> {
    let mut objs = Vec::with_capacity(n);
    for _ in 0..n {
        objs.push(pool.get().await.unwrap());
    }
    objs
}

/// Lets every spawned task on the current-thread runtime run until it
/// blocks (a few scheduler rounds; no time passes).
pub async fn settle() {
    for _ in 0..8 {
        tokio::task::yield_now().await;
    }
}
