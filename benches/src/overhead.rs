//! The contenders and workloads of the `pool_overhead` bench: every pool
//! gets a no-op manager (objects are `u64`s, checks always pass), so what is
//! measured is the pool's own synchronisation.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use pool_core::{Metrics, RecycleResult, Store};

/// The workloads, named as in docs/benchmarks.md.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workload {
    /// One task, get + drop.
    A,
    /// 16 tasks over 16 objects, holding across one `yield_now`.
    B,
    /// 256 tasks over 16 objects, holding across one `yield_now`.
    C,
}

impl Workload {
    pub const ALL: [Workload; 3] = [Workload::A, Workload::B, Workload::C];

    pub fn name(self) -> &'static str {
        match self {
            Workload::A => "a_1_task",
            Workload::B => "b_16_over_16",
            Workload::C => "c_256_over_16",
        }
    }

    fn tasks(self) -> u64 {
        match self {
            Workload::A => 1,
            Workload::B => 16,
            Workload::C => 256,
        }
    }

    fn hold_across_yield(self) -> bool {
        self != Workload::A
    }
}

/// Which pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    PoolCoreLockFree,
    /// The lock-free store with `record_metrics(false)`: the on/off pair
    /// that prices recording.
    PoolCoreNoMetrics,
    PoolCoreMutex,
    Deadpool,
    Bb8,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::PoolCoreLockFree => "pool-core/lockfree",
            Kind::PoolCoreNoMetrics => "pool-core/lockfree-nometrics",
            Kind::PoolCoreMutex => "pool-core/mutex",
            Kind::Deadpool => "deadpool-0.13",
            Kind::Bb8 => "bb8-0.9",
        }
    }
}

#[derive(Debug)]
pub struct NoopManager;

impl pool_core::Manager for NoopManager {
    type Type = u64;
    type Error = Infallible;

    async fn create(&self) -> Result<u64, Infallible> {
        Ok(0)
    }

    async fn recycle(&self, _: &mut u64, _: &Metrics) -> RecycleResult<Infallible> {
        Ok(())
    }
}

#[derive(Debug)]
pub struct NoopDeadpool;

impl deadpool::managed::Manager for NoopDeadpool {
    type Type = u64;
    type Error = Infallible;

    async fn create(&self) -> Result<u64, Infallible> {
        Ok(0)
    }

    async fn recycle(
        &self,
        _: &mut u64,
        _: &deadpool::managed::Metrics,
    ) -> deadpool::managed::RecycleResult<Infallible> {
        Ok(())
    }
}

#[derive(Debug)]
pub struct NoopBb8;

impl bb8::ManageConnection for NoopBb8 {
    type Connection = u64;
    type Error = Infallible;

    async fn connect(&self) -> Result<u64, Infallible> {
        Ok(0)
    }

    async fn is_valid(&self, _: &mut u64) -> Result<(), Infallible> {
        Ok(())
    }

    fn has_broken(&self, _: &mut u64) -> bool {
        false
    }
}

/// A built pool of one kind.
#[derive(Clone, Debug)]
pub enum Contender {
    PoolCore(pool_core::Pool<NoopManager>),
    Deadpool(deadpool::managed::Pool<NoopDeadpool>),
    Bb8(bb8::Pool<NoopBb8>),
}

impl Contender {
    pub const KINDS: [Kind; 5] = [
        Kind::PoolCoreLockFree,
        Kind::PoolCoreNoMetrics,
        Kind::PoolCoreMutex,
        Kind::Deadpool,
        Kind::Bb8,
    ];

    pub async fn new(kind: Kind, max_size: usize) -> Self {
        match kind {
            Kind::PoolCoreLockFree | Kind::PoolCoreNoMetrics | Kind::PoolCoreMutex => {
                let store = if kind == Kind::PoolCoreMutex {
                    Store::Mutex
                } else {
                    Store::LockFree
                };
                Contender::PoolCore(
                    pool_core::Pool::builder(NoopManager)
                        .max_size(max_size)
                        .store(store)
                        .record_metrics(kind != Kind::PoolCoreNoMetrics)
                        .build()
                        .expect("pool-core pool"),
                )
            }
            Kind::Deadpool => Contender::Deadpool(
                deadpool::managed::Pool::builder(NoopDeadpool)
                    .max_size(max_size)
                    .build()
                    .expect("deadpool pool"),
            ),
            Kind::Bb8 => Contender::Bb8(
                bb8::Pool::builder()
                    .max_size(max_size as u32)
                    .connection_timeout(Duration::from_secs(600))
                    .build(NoopBb8)
                    .await
                    .expect("bb8 pool"),
            ),
        }
    }

    /// One get, optional hold across a `yield_now`, drop.
    async fn cycle(&self, hold: bool) {
        macro_rules! body {
            ($obj:expr) => {{
                let obj = $obj;
                if hold {
                    tokio::task::yield_now().await;
                }
                drop(obj);
            }};
        }
        match self {
            Contender::PoolCore(p) => body!(p.get().await.expect("get")),
            Contender::Deadpool(p) => body!(p.get().await.expect("get")),
            Contender::Bb8(p) => body!(p.get().await.expect("get")),
        }
    }

    /// Timed acquire only (for the latency pass): returns the acquire time.
    async fn timed_cycle(&self, hold: bool) -> u64 {
        macro_rules! body {
            ($get:expr) => {{
                let start = Instant::now();
                let obj = $get;
                let waited = start.elapsed().as_nanos() as u64;
                if hold {
                    tokio::task::yield_now().await;
                }
                drop(obj);
                waited
            }};
        }
        match self {
            Contender::PoolCore(p) => body!(p.get().await.expect("get")),
            Contender::Deadpool(p) => body!(p.get().await.expect("get")),
            Contender::Bb8(p) => body!(p.get().await.expect("get")),
        }
    }

    /// Runs `total` cycles of `workload`, spread over its tasks. With
    /// `samples`, records every acquire latency (ns) into it.
    pub async fn run(
        &self,
        workload: Workload,
        total: u64,
        samples: Option<&mut Vec<u64>>,
    ) -> Duration {
        let tasks = workload.tasks();
        let per_task = total.div_ceil(tasks);
        let hold = workload.hold_across_yield();
        let record = samples.is_some();
        let barrier = Arc::new(tokio::sync::Barrier::new(tasks as usize + 1));
        let handles: Vec<_> = (0..tasks)
            .map(|_| {
                let this = self.clone();
                let barrier = barrier.clone();
                tokio::spawn(async move {
                    barrier.wait().await;
                    let mut local = Vec::new();
                    if record {
                        local.reserve(per_task as usize);
                        for _ in 0..per_task {
                            local.push(this.timed_cycle(hold).await);
                        }
                    } else {
                        for _ in 0..per_task {
                            this.cycle(hold).await;
                        }
                    }
                    local
                })
            })
            .collect();
        barrier.wait().await;
        let start = Instant::now();
        let mut all = Vec::new();
        for h in handles {
            all.push(h.await.expect("bench task"));
        }
        let elapsed = start.elapsed();
        if let Some(samples) = samples {
            for v in all {
                samples.extend(v);
            }
        }
        elapsed
    }
}
