//! End-to-end Redis throughput: the same load through every way a tokio
//! program can talk to Redis, so the pools compare by design, not by size
//! (every pool's `max_size` equals the number of tasks).

use std::time::Duration;

use pool_redis::RedisPoolExt;
use redis::aio::{ConnectionLike, MultiplexedConnection};
use tokio::time::Instant;

/// A way of reaching Redis.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Contender {
    /// pool-redis, one exclusive checkout per operation.
    Exclusive,
    /// The same, commands sent as most deadpool-redis code does:
    /// `query_async(&mut *conn)`.
    ExclusiveDeref,
    /// pool-redis's shared mode (`pool.shared()`).
    Shared,
    /// deadpool-redis 0.23, one checkout per operation.
    DeadpoolRedis,
    /// bb8-redis 0.26, one checkout per operation.
    Bb8Redis,
    /// One redis-rs `MultiplexedConnection` cloned into every task.
    Multiplexed,
    /// A connection owned by each task: no pool at all (the floor).
    Dedicated,
}

impl Contender {
    /// Every contender, in the order they run within a round.
    pub const ALL: [Contender; 7] = [
        Contender::Exclusive,
        Contender::ExclusiveDeref,
        Contender::Shared,
        Contender::DeadpoolRedis,
        Contender::Bb8Redis,
        Contender::Multiplexed,
        Contender::Dedicated,
    ];

    /// A short name for tables.
    pub fn name(self) -> &'static str {
        match self {
            Contender::Exclusive => "pool-redis exclusive",
            Contender::ExclusiveDeref => "pool-redis &mut *conn",
            Contender::Shared => "pool-redis shared",
            Contender::DeadpoolRedis => "deadpool-redis 0.23",
            Contender::Bb8Redis => "bb8-redis 0.26",
            Contender::Multiplexed => "one multiplexed conn",
            Contender::Dedicated => "dedicated conn/task",
        }
    }
}

/// What each task does in a loop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    /// `GET` of a 16-byte value.
    Get,
    /// `SET` of a 16-byte value.
    Set,
    /// A pipeline of this many `GET`s.
    Pipeline(usize),
}

impl Operation {
    /// A short name for tables.
    pub fn name(self) -> String {
        match self {
            Operation::Get => "GET".into(),
            Operation::Set => "SET".into(),
            Operation::Pipeline(n) => format!("pipeline of {n} GETs"),
        }
    }

    /// Keys the load touches, written once before measuring.
    const KEYS: usize = 64;
    const VALUE: &'static str = "0123456789abcdef";

    async fn run_once<C: ConnectionLike + Send>(self, conn: &mut C, i: usize) -> bool {
        let key = i % Self::KEYS;
        match self {
            Operation::Get => redis::cmd("GET")
                .arg(key)
                .query_async::<Option<String>>(conn)
                .await
                .is_ok(),
            Operation::Set => redis::cmd("SET")
                .arg(key)
                .arg(Self::VALUE)
                .query_async::<()>(conn)
                .await
                .is_ok(),
            Operation::Pipeline(n) => {
                let mut pipe = redis::pipe();
                for k in 0..n {
                    pipe.cmd("GET").arg((key + k) % Self::KEYS);
                }
                pipe.query_async::<Vec<Option<String>>>(conn).await.is_ok()
            }
        }
    }
}

pub use crate::RunResult;

/// What a task holds to reach Redis (cheap to clone: pools and
/// connections are handles).
#[derive(Clone, Debug)]
pub enum Handle {
    Exclusive(pool_redis::Pool),
    ExclusiveDeref(pool_redis::Pool),
    Shared(pool_redis::SharedConnection),
    Deadpool(deadpool_redis::Pool),
    Bb8(bb8::Pool<bb8_redis::RedisConnectionManager>),
    Conn(MultiplexedConnection),
}

impl Handle {
    /// Runs `op` once (with a checkout, for the pools); `true` if it
    /// succeeded.
    pub async fn run_once(&mut self, op: Operation, i: usize) -> bool {
        match self {
            Handle::Exclusive(pool) => match pool.get().await {
                Ok(mut c) => op.run_once(&mut c, i).await,
                Err(_) => false,
            },
            Handle::ExclusiveDeref(pool) => match pool.get().await {
                Ok(mut c) => op.run_once(&mut *c, i).await,
                Err(_) => false,
            },
            Handle::Shared(c) => op.run_once(c, i).await,
            Handle::Deadpool(pool) => match pool.get().await {
                Ok(mut c) => op.run_once(&mut c, i).await,
                Err(_) => false,
            },
            Handle::Bb8(pool) => match pool.get().await {
                Ok(mut c) => op.run_once(&mut *c, i).await,
                Err(_) => false,
            },
            Handle::Conn(c) => op.run_once(c, i).await,
        }
    }
}

/// Per-task handles for `tasks` tasks of `contender` against `url`.
///
/// # Panics
/// If the server cannot be reached (a bench has nothing to measure then).
pub async fn handles(contender: Contender, url: &str, tasks: usize) -> Vec<Handle> {
    let client = redis::Client::open(url).expect("a redis URL");
    match contender {
        Contender::Exclusive | Contender::ExclusiveDeref => {
            let pool = pool_redis::Config::from_url(url)
                .builder()
                .expect("pool-redis config")
                .max_size(tasks)
                .build()
                .expect("pool-redis pool");
            (0..tasks)
                .map(|_| match contender {
                    Contender::Exclusive => Handle::Exclusive(pool.clone()),
                    _ => Handle::ExclusiveDeref(pool.clone()),
                })
                .collect()
        }
        Contender::Shared => {
            // SHARED_DEPTH: the in-flight depth per shared connection, to
            // measure the default against others.
            let depth = std::env::var("SHARED_DEPTH")
                .ok()
                .and_then(|d| d.parse().ok())
                .unwrap_or(pool_redis::DEFAULT_SHARED_DEPTH);
            let manager = pool_redis::Manager::new(url)
                .expect("pool-redis manager")
                .shared_depth(depth);
            let pool = pool_redis::Pool::builder(manager)
                .max_size(tasks)
                .build()
                .expect("pool-redis pool");
            let shared = pool.shared();
            (0..tasks).map(|_| Handle::Shared(shared.clone())).collect()
        }
        Contender::DeadpoolRedis => {
            let mut cfg = deadpool_redis::Config::from_url(url);
            cfg.pool = Some(deadpool_redis::PoolConfig::new(tasks));
            let pool = cfg
                .create_pool(Some(deadpool_redis::Runtime::Tokio1))
                .expect("deadpool-redis pool");
            (0..tasks).map(|_| Handle::Deadpool(pool.clone())).collect()
        }
        Contender::Bb8Redis => {
            let manager = bb8_redis::RedisConnectionManager::new(url).expect("bb8-redis manager");
            let pool = bb8::Pool::builder()
                .max_size(u32::try_from(tasks).expect("tasks fit u32"))
                .build(manager)
                .await
                .expect("bb8-redis pool");
            (0..tasks).map(|_| Handle::Bb8(pool.clone())).collect()
        }
        Contender::Multiplexed => {
            let conn = client
                .get_multiplexed_async_connection()
                .await
                .expect("a connection");
            (0..tasks).map(|_| Handle::Conn(conn.clone())).collect()
        }
        Contender::Dedicated => {
            let mut out = Vec::with_capacity(tasks);
            for _ in 0..tasks {
                let conn = client
                    .get_multiplexed_async_connection()
                    .await
                    .expect("a connection");
                out.push(Handle::Conn(conn));
            }
            out
        }
    }
}

/// Writes the keys the load reads.
///
/// # Panics
/// If the server cannot be reached.
pub async fn prepare(url: &str) {
    let mut conn = redis::Client::open(url)
        .expect("a redis URL")
        .get_multiplexed_async_connection()
        .await
        .expect("a connection");
    for key in 0..Operation::KEYS {
        redis::cmd("SET")
            .arg(key)
            .arg(Operation::VALUE)
            .query_async::<()>(&mut conn)
            .await
            .expect("SET");
    }
}

/// Runs `op` in `tasks` tasks of `contender` for `duration` (after every
/// task has done one warm-up operation, so connections exist).
pub async fn run(
    contender: Contender,
    url: &str,
    tasks: usize,
    op: Operation,
    duration: Duration,
) -> RunResult {
    let handles = handles(contender, url, tasks).await;
    crate::timed_run(handles.into_iter().map(|h| Task(h, op)).collect(), duration).await
}

/// Runs `total` operations spread over one task per handle (as criterion's
/// `iter_custom` wants) and returns how long they took.
///
/// # Panics
/// If an operation fails (a bench run must not count failures as work).
pub async fn run_ops(handles: &[Handle], op: Operation, total: u64) -> Duration {
    let tasks = handles.len() as u64;
    let started = Instant::now();
    let workers: Vec<_> = handles
        .iter()
        .cloned()
        .enumerate()
        .map(|(t, mut h)| {
            let n = total / tasks + u64::from((t as u64) < total % tasks);
            tokio::spawn(async move {
                for i in 0..n {
                    assert!(h.run_once(op, t + i as usize).await, "operation failed");
                }
            })
        })
        .collect();
    for w in workers {
        w.await.expect("bench task");
    }
    started.elapsed()
}

/// A task's handle and the operation it repeats.
struct Task(Handle, Operation);

impl crate::Worker for Task {
    async fn once(&mut self, i: usize) -> bool {
        self.0.run_once(self.1, i).await
    }
}
